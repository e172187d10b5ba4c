//! Which filters ESDB answers itself, and the selection they make: spaces, one grouping, a time
//! range, index values.

use std::collections::BTreeSet;
use std::fmt;

use datafusion::common::ScalarValue;
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator};

/// The rows a scan keeps, from the filters pushed into it; every filter it holds is exact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selection {
    /// Only these spaces; `None` for all.
    pub spaces: Option<BTreeSet<Vec<u8>>>,
    /// Only this grouping; `None` for all. Two different `grouping =` filters select nothing,
    /// which `empty` records.
    pub grouping: Option<Vec<u8>>,
    /// Timestamps in `lo..=hi`.
    pub lo: i64,
    pub hi: i64,
    /// Events carrying every one of these `(index column, value)` pairs.
    pub indexes: Vec<(String, Vec<u8>)>,
    /// Contradictory filters: nothing is selected.
    pub empty: bool,
}

impl Default for Selection {
    fn default() -> Selection {
        Selection { spaces: None, grouping: None, lo: i64::MIN, hi: i64::MAX, indexes: Vec::new(), empty: false }
    }
}

/// One filter ESDB can answer exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Condition {
    Spaces(BTreeSet<Vec<u8>>),
    Grouping(Vec<u8>),
    /// `lo..=hi`.
    Time(i64, i64),
    Index(String, Vec<u8>),
    /// A comparison that no row meets (`timestamp < i64::MIN`).
    Nothing,
}

/// True when ESDB answers `filter` exactly; `index_columns` are the table's index columns.
pub(crate) fn is_supported(filter: &Expr, index_columns: &[String]) -> bool {
    condition(filter, index_columns).is_some()
}

impl Selection {
    /// The selection the supported filters among `filters` make (the others are left to
    /// DataFusion).
    pub(crate) fn from_filters(filters: &[Expr], index_columns: &[String]) -> Selection {
        let mut selection = Selection::default();
        for condition in filters.iter().filter_map(|filter| condition(filter, index_columns)) {
            match condition {
                Condition::Spaces(spaces) => {
                    selection.spaces = Some(match selection.spaces.take() {
                        Some(known) => known.intersection(&spaces).cloned().collect(),
                        None => spaces,
                    })
                }
                Condition::Grouping(grouping) => match &selection.grouping {
                    Some(known) if *known != grouping => selection.empty = true,
                    _ => selection.grouping = Some(grouping),
                },
                Condition::Time(lo, hi) => {
                    selection.lo = selection.lo.max(lo);
                    selection.hi = selection.hi.min(hi);
                }
                Condition::Index(name, value) => {
                    if !selection.indexes.contains(&(name.clone(), value.clone())) {
                        selection.indexes.push((name, value));
                    }
                }
                Condition::Nothing => selection.empty = true,
            }
        }
        if selection.lo > selection.hi || selection.spaces.as_ref().is_some_and(BTreeSet::is_empty) {
            selection.empty = true;
        }
        selection
    }

    /// Whether the catalog's counts of the units read are exactly the rows selected: no time
    /// bound, and at most one index condition (the value's own count) and then no grouping
    /// condition (which a read through the index applies event by event).
    pub(crate) fn counts_are_exact(&self) -> bool {
        self.lo == i64::MIN
            && self.hi == i64::MAX
            && (self.indexes.is_empty() || (self.indexes.len() == 1 && self.grouping.is_none()))
    }
}

impl fmt::Display for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = |bytes: &[u8]| format!("{:?}", String::from_utf8_lossy(bytes));
        if self.empty {
            return write!(f, "nothing (contradictory filters)");
        }
        match &self.spaces {
            Some(spaces) => write!(f, "space IN ({})", spaces.iter().map(|s| text(s)).collect::<Vec<_>>().join(", "))?,
            None => write!(f, "every space")?,
        }
        if let Some(grouping) = &self.grouping {
            write!(f, ", grouping = {}", text(grouping))?;
        }
        if self.lo != i64::MIN || self.hi != i64::MAX {
            write!(f, ", timestamp in [{}, {}]", self.lo, self.hi)?;
        }
        for (name, value) in &self.indexes {
            write!(f, ", array_has({name}, {})", text(value))?;
        }
        Ok(())
    }
}

fn condition(filter: &Expr, index_columns: &[String]) -> Option<Condition> {
    match filter {
        // `space = 'a' OR space IN ('b', 'c')`: the optimizer writes short IN lists this way.
        Expr::BinaryExpr(BinaryExpr { left, op: Operator::Or, right }) => {
            match (condition(left, index_columns)?, condition(right, index_columns)?) {
                (Condition::Spaces(mut a), Condition::Spaces(b)) => {
                    a.extend(b);
                    Some(Condition::Spaces(a))
                }
                _ => None,
            }
        }
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
            let (column, op, value) = match (column_name(left), column_name(right)) {
                (Some(column), None) => (column, *op, literal(right)?),
                (None, Some(column)) => (column, op.swap()?, literal(left)?),
                _ => return None,
            };
            match (column, op) {
                ("space", Operator::Eq) => Some(Condition::Spaces(BTreeSet::from([string(&value)?]))),
                ("grouping", Operator::Eq) => Some(Condition::Grouping(string(&value)?)),
                ("timestamp", op) => time(op, integer(&value)?),
                _ => None,
            }
        }
        Expr::InList(list) if !list.negated && column_name(&list.expr) == Some("space") => {
            let spaces = list.list.iter().map(|item| string(&literal(item)?)).collect::<Option<BTreeSet<_>>>()?;
            Some(Condition::Spaces(spaces))
        }
        Expr::Between(Between { expr, negated: false, low, high }) if column_name(expr) == Some("timestamp") => {
            Some(time_range(integer(&literal(low)?)?, integer(&literal(high)?)?))
        }
        Expr::ScalarFunction(call) if call.func.name() == "array_has" && call.args.len() == 2 => {
            let column = column_name(&call.args[0])?;
            if !index_columns.iter().any(|name| name == column) {
                return None;
            }
            Some(Condition::Index(column.to_owned(), string(&literal(&call.args[1])?)?))
        }
        _ => None,
    }
}

fn clamp(value: i128) -> i64 {
    value.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

/// `timestamp OP value` as a range of timestamps.
fn time(op: Operator, value: i128) -> Option<Condition> {
    let (min, max) = (i128::from(i64::MIN), i128::from(i64::MAX));
    Some(match op {
        Operator::Eq => time_range(value, value),
        Operator::Lt => time_range(min, value - 1),
        Operator::LtEq => time_range(min, value),
        Operator::Gt => time_range(value + 1, max),
        Operator::GtEq => time_range(value, max),
        _ => return None,
    })
}

/// Timestamps in `lo..=hi`, which may reach past what an `i64` holds.
fn time_range(lo: i128, hi: i128) -> Condition {
    if lo > hi || hi < i128::from(i64::MIN) || lo > i128::from(i64::MAX) {
        return Condition::Nothing;
    }
    Condition::Time(clamp(lo), clamp(hi))
}

fn column_name(expr: &Expr) -> Option<&str> {
    match expr {
        Expr::Column(column) => Some(column.name.as_str()),
        _ => None,
    }
}

fn literal(expr: &Expr) -> Option<ScalarValue> {
    match expr {
        Expr::Literal(value, _) => Some(value.clone()),
        _ => None,
    }
}

fn string(value: &ScalarValue) -> Option<Vec<u8>> {
    match value {
        ScalarValue::Utf8(Some(text)) | ScalarValue::LargeUtf8(Some(text)) | ScalarValue::Utf8View(Some(text)) => {
            Some(text.as_bytes().to_vec())
        }
        _ => None,
    }
}

fn integer(value: &ScalarValue) -> Option<i128> {
    Some(match value {
        ScalarValue::Int64(Some(v)) => i128::from(*v),
        ScalarValue::Int32(Some(v)) => i128::from(*v),
        ScalarValue::Int16(Some(v)) => i128::from(*v),
        ScalarValue::Int8(Some(v)) => i128::from(*v),
        ScalarValue::UInt64(Some(v)) => i128::from(*v),
        ScalarValue::UInt32(Some(v)) => i128::from(*v),
        ScalarValue::UInt16(Some(v)) => i128::from(*v),
        ScalarValue::UInt8(Some(v)) => i128::from(*v),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::{col, lit};

    use super::*;

    fn select(filters: &[Expr]) -> Selection {
        Selection::from_filters(filters, &["type".to_owned()])
    }

    #[test]
    fn comparisons_on_timestamp_make_one_inclusive_range() {
        let s = select(&[col("timestamp").gt(lit(10i64)), lit(20i64).gt_eq(col("timestamp"))]);
        assert_eq!((s.lo, s.hi, s.empty), (11, 20, false));
        let s = select(&[col("timestamp").between(lit(5i64), lit(7i64)), col("timestamp").lt(lit(7i64))]);
        assert_eq!((s.lo, s.hi), (5, 6));
        assert!(select(&[col("timestamp").lt(lit(i64::MIN))]).empty);
        assert!(select(&[col("timestamp").gt(lit(3i64)), col("timestamp").lt(lit(4i64))]).empty);
        assert!(select(&[col("timestamp").gt_eq(lit(u64::MAX))]).empty);
    }

    #[test]
    fn spaces_intersect_and_groupings_must_agree() {
        let s = select(&[col("space").in_list(vec![lit("a"), lit("b")], false), col("space").eq(lit("b"))]);
        assert_eq!(s.spaces, Some(BTreeSet::from([b"b".to_vec()])));
        assert!(select(&[col("space").eq(lit("a")), col("space").eq(lit("b"))]).empty);
        assert!(select(&[col("grouping").eq(lit("x")), col("grouping").eq(lit("y"))]).empty);
        assert!(!select(&[col("grouping").eq(lit("x")), col("grouping").eq(lit("x"))]).empty);
    }

    #[test]
    fn only_exact_forms_are_supported() {
        let columns = ["type".to_owned()];
        let supported = [
            col("space").eq(lit("a")),
            lit("a").eq(col("space")),
            col("grouping").eq(lit("g")),
            col("timestamp").lt_eq(lit(3i64)),
            col("space").in_list(vec![lit("a")], false),
            col("space").eq(lit("a")).or(col("space").eq(lit("b")).or(col("space").in_list(vec![lit("c")], false))),
        ];
        for filter in &supported {
            assert!(is_supported(filter, &columns), "{filter}");
        }
        let unsupported = [
            col("space").not_eq(lit("a")),
            col("space").in_list(vec![lit("a")], true),
            col("data").eq(lit("x")),
            col("space").eq(col("grouping")),
            col("timestamp").not_eq(lit(3i64)),
            col("space").like(lit("a%")),
            col("timestamp").between(lit(1i64), col("timestamp")),
            col("space").eq(lit(3i64)),
            col("space").eq(lit("a")).or(col("grouping").eq(lit("b"))),
            col("timestamp").lt(lit(3i64)).or(col("timestamp").gt(lit(5i64))),
        ];
        for filter in &unsupported {
            assert!(!is_supported(filter, &columns), "{filter}");
        }
    }
}
