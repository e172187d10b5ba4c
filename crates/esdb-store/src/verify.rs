//! [`verify`]: checks a store directory without opening it for writing (and without changing
//! it): every claim of the MANIFEST against the files, every record of every segment, every
//! byte of every partition, and every file the MANIFEST does not name.

use std::path::Path;

use crate::error::{Error, Result};
use crate::maintenance::window_bounds;
use crate::manifest::{parse_segment_name, store_id_bytes, Manifest, LOG_DIR, MANIFEST, PARTITION_DIR, QUARANTINE_DIR};
use crate::open::{self, own_watermark};
use crate::partition;
use crate::segment::{self, Expect};
use crate::store::{lock, Store};

/// What [`verify`] checked and found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
#[must_use = "a report says whether the store is intact only if it is looked at"]
pub struct VerifyReport {
    /// Segments read.
    pub segments: u64,
    /// Records read, every checksum checked.
    pub records: u64,
    /// Partitions verified.
    pub partitions: u64,
    /// Events in them.
    pub partition_events: u64,
    /// Files in `quarantine/` (kept for an operator; not problems).
    pub quarantined: Vec<String>,
    /// Everything wrong, each naming the file and, where it applies, the field or position.
    pub problems: Vec<String>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Checks the store in `dir` and reports every problem found. Writes nothing and takes no lock,
/// so it runs beside a writer and on read-only media.
///
/// # Errors
/// [`Error::NotAStore`] when `dir` holds neither a MANIFEST nor a log: there is nothing to check.
/// A MANIFEST that cannot be read is a problem in the report, not an error.
///
/// ```
/// use esdb_store::{NewEvent, Store, StoreOptions};
/// let dir = tempfile::tempdir()?;
/// let store = Store::open(dir.path(), StoreOptions::default())?;
/// store.append(NewEvent::new("s", 1, "x"))?;
/// store.close()?;
/// assert!(esdb_store::verify(dir.path())?.is_ok());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify(dir: impl AsRef<Path>) -> Result<VerifyReport> {
    let dir = dir.as_ref();
    let mut report = VerifyReport::default();
    for (name, _) in open::list(&dir.join(QUARANTINE_DIR))? {
        report.quarantined.push(format!("{QUARANTINE_DIR}/{name}"));
    }
    let manifest = match Manifest::load(dir) {
        Ok(Some(manifest)) => manifest,
        Ok(None) if !dir.join(LOG_DIR).is_dir() => return Err(Error::NotAStore { path: dir.to_path_buf() }),
        Ok(None) => {
            report.problems.push(format!("{MANIFEST} is missing; `esdb store repair` rebuilds it from the files"));
            return Ok(report);
        }
        Err(err) => {
            report.problems.push(format!("{err}; `esdb store repair` rebuilds it from the files"));
            return Ok(report);
        }
    };
    check_log(dir, &manifest, &mut report)?;
    check_partitions(dir, &manifest, &mut report);
    check_unnamed(dir, &manifest, &mut report)?;
    Ok(report)
}

fn check_log(dir: &Path, manifest: &Manifest, report: &mut VerifyReport) -> Result<()> {
    let store_id = store_id_bytes(&manifest.store_id);
    let mark = own_watermark(dir, manifest).unwrap_or(None);
    let active_idx = manifest.segments.len() - 1;
    let mut log_end = manifest.log_start;
    for (idx, meta) in manifest.segments.iter().enumerate() {
        report.segments += 1;
        let path = dir.join(meta.file());
        if !path.exists() {
            report.problems.push(format!("{}: named by the MANIFEST but missing", meta.file()));
            return Ok(());
        }
        let durable_len = mark.filter(|mark| mark.segment_base == meta.base).map_or(0, |mark| mark.segment_len);
        let expect = Expect { base: meta.base, store_id, active: idx == active_idx, durable_len };
        let mut records = 0u64;
        match segment::scan(&path, expect, |_, _| records += 1) {
            Err(err) => {
                report.problems.push(err.to_string());
                return Ok(());
            }
            Ok(scanned) => {
                report.records += records;
                log_end = scanned.end_offset;
                if let Some(damage) = scanned.damage {
                    report.problems.push(damage.to_string());
                    return Ok(());
                }
                if let Some(end) = meta.end.filter(|end| *end != scanned.end_offset) {
                    report.problems.push(format!(
                        "{}: the records end at offset {}, the MANIFEST says the segment ends at {end}",
                        meta.file(),
                        scanned.end_offset
                    ));
                    return Ok(());
                }
            }
        }
    }
    if log_end < manifest.sealed_through {
        report.problems.push(format!(
            "{MANIFEST}: sealed_through is {}, past the end of the log at offset {log_end}",
            manifest.sealed_through
        ));
    }
    if let Some(mark) = mark.filter(|mark| mark.offset > log_end) {
        report.problems.push(format!(
            "{}: the log ends at offset {log_end}, but offsets below {} were acknowledged durable (DURABLE)",
            manifest.segments[active_idx].file(),
            mark.offset
        ));
    }
    Ok(())
}

/// Checks every partition, reading those that are only remote in place from the tier (whole, as
/// local ones are).
fn check_partitions(dir: &Path, manifest: &Manifest, report: &mut VerifyReport) {
    let tier = match crate::store::tier_of(manifest) {
        Ok(tier) => tier,
        Err(err) => {
            report.problems.push(err.to_string());
            None
        }
    };
    for meta in &manifest.partitions {
        report.partitions += 1;
        let db = match partition::open(dir, meta, tier.as_ref()) {
            Ok(db) => db,
            Err(err) => {
                report.problems.push(format!("{}: {err}", meta.file));
                continue;
            }
        };
        report.partition_events += db.len();
        let verified = db.verify();
        if !verified.is_ok() {
            report.problems.push(format!("{}: {verified:?}", meta.file));
        }
        let lo = window_bounds(meta.window, manifest.partition_window).0;
        let hi = window_bounds(meta.last_window(), manifest.partition_window).1;
        if let Some((min, max)) = db.time_range() {
            if i128::from(min) < lo || i128::from(max) >= hi {
                report.problems.push(format!("{}: timestamps {min}..={max} leave its windows", meta.file));
            }
            if (min, max) != (meta.min_ts, meta.max_ts) {
                report.problems.push(format!(
                    "{}: timestamps {min}..={max}, the MANIFEST says {}..={}",
                    meta.file, meta.min_ts, meta.max_ts
                ));
            }
        }
    }
}

fn check_unnamed(dir: &Path, manifest: &Manifest, report: &mut VerifyReport) -> Result<()> {
    let active_base = manifest.segments.last().expect("an active segment").base;
    // One look at the headers says whether segments past the active one hold this store's records.
    let stale = matches!(open::check_files(dir, manifest), Err(Error::StaleManifest { .. }));
    for (file, obsolete) in open::unnamed_files(dir, manifest)? {
        if obsolete {
            continue;
        }
        let later_segment = file
            .strip_prefix(&format!("{LOG_DIR}/"))
            .and_then(parse_segment_name)
            .is_some_and(|base| base > active_base);
        if later_segment && stale {
            report
                .problems
                .push(format!("{file}: holds records past the active segment: the MANIFEST is older than its files"));
        } else if file.starts_with(PARTITION_DIR) || file.starts_with(LOG_DIR) {
            report
                .problems
                .push(format!("{file}: not named by the MANIFEST (the next writer moves it to {QUARANTINE_DIR}/)"));
        }
    }
    Ok(())
}

impl Store {
    /// Writes out buffered appends and runs [`verify`] on the store's directory, between
    /// maintenance steps.
    pub fn verify(&self) -> VerifyReport {
        let _maintenance = lock(&self.shared.maintenance);
        if !self.shared.read_only {
            if let Err(err) = lock(&self.shared.log).flush() {
                return VerifyReport { problems: vec![err.to_string()], ..VerifyReport::default() };
            }
        }
        verify(&self.shared.dir)
            .unwrap_or_else(|err| VerifyReport { problems: vec![err.to_string()], ..VerifyReport::default() })
    }
}
