//! External sort of `(group, order, value)` records, in bounded memory.
//!
//! Records sort by group (bytewise), then by a 128-bit order within the group. The writer's
//! groups are an escaped space and grouping, or an index name and value, and the order is the
//! timestamp and insertion sequence (see `record.rs`). Groups repeat across many records, so the
//! buffer interns them: a buffered record is a fixed-width entry (group id, order, and its value
//! or where in the arena its value lies), and sorting compares integers held in the entry instead
//! of byte strings scattered over the arena. Values of up to four bytes (postings: an event
//! number) live in the entry itself, so reading them back in sorted order touches no other memory.
//!
//! Past the memory limit the buffer is sorted and spilled as a run to a temporary file (see
//! `run.rs`), and [`Sorter::finish`] merges the runs. `(group, order)` pairs must be unique, which makes the
//! order, and so the output file, deterministic.

use std::cmp::Ordering;
use std::collections::binary_heap::PeekMut;
use std::collections::{BinaryHeap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use esdb_format::varint;

use crate::io::Hook;
pub(crate) use crate::run::Record;
use crate::run::{Run, RunReader};
use crate::WriteError;

/// Bookkeeping bytes per buffered record, counted against the memory limit.
const ENTRY_COST: usize = size_of::<Entry>();
const _: () = assert!(ENTRY_COST == 24);
/// Bookkeeping bytes per distinct group beyond its own bytes (map slot, shared header, id
/// table), counted against the memory limit.
const GROUP_COST: usize = 64;
/// Runs merged at once; more runs are first merged into larger runs.
const MAX_FAN_IN: usize = 64;

/// A buffered record: 24 bytes, so that small records (postings are a few bytes of value) cost
/// little more than their order.
#[derive(Debug, Clone, Copy)]
struct Entry {
    order_high: u64,
    order_low: u64,
    /// A value of up to [`MAX_INLINE_LEN`] bytes itself, so that reading it back in sorted order
    /// touches no other memory; otherwise where its length (a varint) and then its bytes lie in
    /// the arena (`u32`, little-endian).
    value: [u8; 4],
    /// The group's id while buffering, its rank in group order once sorted ([`GROUP_MASK`]
    /// bits); above them the inline value's length plus one, or 0 for a value in the arena.
    group: u32,
}

/// Longest value kept in its entry.
const MAX_INLINE_LEN: usize = 4;
/// Bits of [`Entry::group`] that hold the group; the three above hold the inline length.
const GROUP_BITS: u32 = 29;
const GROUP_MASK: u32 = (1 << GROUP_BITS) - 1;
/// Distinct groups one buffer may hold; the buffer spills before it would need more.
const MAX_GROUPS: usize = GROUP_MASK as usize + 1;

impl Entry {
    fn group(&self) -> u32 {
        self.group & GROUP_MASK
    }

    /// The length of an inline value, or `None` for a value in the arena.
    fn inline_len(&self) -> Option<usize> {
        match self.group >> GROUP_BITS {
            0 => None,
            code => Some(code as usize - 1),
        }
    }
}

/// The distinct groups of the buffered records.
#[derive(Debug, Default)]
struct Groups {
    ids: HashMap<Arc<[u8]>, u32, foldhash::fast::RandomState>,
    by_id: Vec<Arc<[u8]>>,
    /// Bytes counted against the memory limit.
    cost: usize,
    /// The group most recently interned: records often arrive in runs of one group.
    last: Option<u32>,
}

impl Groups {
    fn intern(&mut self, group: &[u8]) -> u32 {
        if let Some(last) = self.last.filter(|&last| *self.by_id[last as usize] == *group) {
            return last;
        }
        let id = match self.ids.get(group) {
            Some(&id) => id,
            None => {
                let id = u32::try_from(self.by_id.len()).expect("fewer groups than buffered records");
                let shared: Arc<[u8]> = Arc::from(group);
                self.ids.insert(shared.clone(), id);
                self.by_id.push(shared);
                self.cost += group.len() + GROUP_COST;
                id
            }
        };
        self.last = Some(id);
        id
    }

    /// Group ids in bytewise order of their groups, and the rank of each id in that order.
    fn ranks(&self) -> (Vec<u32>, Vec<u32>) {
        let mut by_rank: Vec<u32> = (0..self.by_id.len() as u32).collect();
        by_rank.sort_unstable_by(|&a, &b| self.by_id[a as usize].cmp(&self.by_id[b as usize]));
        let mut rank_of = vec![0u32; by_rank.len()];
        for (rank, &id) in by_rank.iter().enumerate() {
            rank_of[id as usize] = rank as u32;
        }
        (by_rank, rank_of)
    }

    fn clear(&mut self) {
        self.ids.clear();
        self.by_id.clear();
        self.cost = 0;
        self.last = None;
    }
}

/// Buffers records and hands them back sorted by `(group, order)`.
#[derive(Debug)]
pub(crate) struct Sorter {
    dir: PathBuf,
    hook: Hook,
    limit: usize,
    groups: Groups,
    /// Group ids by rank, once the buffer is sorted.
    ranked_groups: Vec<u32>,
    values: Vec<u8>,
    entries: Vec<Entry>,
    runs: Vec<Run>,
}

impl Sorter {
    /// A sorter that keeps at most about `limit` bytes in memory and spills runs into `dir`.
    pub(crate) fn new(dir: &Path, limit: usize, hook: Hook) -> Self {
        Sorter {
            dir: dir.to_path_buf(),
            hook,
            limit,
            groups: Groups::default(),
            ranked_groups: Vec::new(),
            values: Vec::new(),
            entries: Vec::new(),
            runs: Vec::new(),
        }
    }

    /// Bytes of buffered records and bookkeeping.
    pub(crate) fn buffered_len(&self) -> usize {
        self.values.len() + self.entries.len() * ENTRY_COST + self.groups.cost
    }

    /// Bytes [`finish`](Sorter::finish) keeps buffered while its records are read: all of them
    /// when nothing was spilled, otherwise none (the rest is spilled and the runs are merged).
    pub(crate) fn held_by_finish(&self) -> usize {
        if self.runs.is_empty() {
            self.buffered_len()
        } else {
            0
        }
    }

    /// Adds a record, spilling the buffer first if the record would push it past the limit.
    pub(crate) fn push(&mut self, group: &[u8], order: u128, value: &[u8]) -> Result<(), WriteError> {
        let inline = value.len() <= MAX_INLINE_LEN;
        let value_cost = if inline { 0 } else { varint::MAX_LEN + value.len() };
        // Counts the group as new: a spill a record early is harmless, one too late is not.
        let cost = value_cost + ENTRY_COST + group.len() + GROUP_COST;
        let arena_full = u32::try_from(self.values.len()).is_err();
        let groups_full = self.groups.by_id.len() >= MAX_GROUPS;
        if !self.entries.is_empty() && (arena_full || groups_full || self.buffered_len() + cost > self.limit) {
            self.spill()?;
        }
        if self.entries.capacity() == 0 {
            self.reserve_full_buffer();
        }
        let (stored, length_code) = if inline {
            let mut stored = [0u8; MAX_INLINE_LEN];
            stored[..value.len()].copy_from_slice(value);
            (stored, value.len() as u32 + 1)
        } else {
            (self.push_to_arena(value).to_le_bytes(), 0)
        };
        let group = self.groups.intern(group);
        self.entries.push(Entry {
            order_high: (order >> 64) as u64,
            order_low: order as u64,
            value: stored,
            group: group | length_code << GROUP_BITS,
        });
        Ok(())
    }

    /// Appends a value's length and bytes to the arena, returning where they start.
    fn push_to_arena(&mut self, value: &[u8]) -> u32 {
        let value_at = u32::try_from(self.values.len()).expect("spilled before the arena outgrows u32");
        let needed = self.values.len() + varint::MAX_LEN + value.len();
        if needed > self.values.capacity() {
            // Grow by doubling, but never past the limit, so that capacity tracks the budget.
            let target = (self.values.capacity() * 2).clamp(needed, needed.max(self.limit));
            self.values.reserve_exact(target - self.values.len());
        }
        varint::encode(value.len() as u64, &mut self.values);
        self.values.extend_from_slice(value);
        value_at
    }

    /// Reserves address space for a full buffer at once. Growing by doubling would copy the
    /// buffers and leave the old copies in the allocator's free lists, where they still count as
    /// resident memory; reserved pages count only once records are written to them. Where the
    /// address space cannot be had, the buffers grow as they fill.
    fn reserve_full_buffer(&mut self) {
        let values = self.limit.min(u32::MAX as usize);
        let _ = self.values.try_reserve_exact(values);
        let _ = self.entries.try_reserve_exact(self.limit / (ENTRY_COST + 1));
    }

    fn sort_buffer(&mut self) {
        let (by_rank, rank_of) = self.groups.ranks();
        for entry in &mut self.entries {
            entry.group = rank_of[entry.group() as usize] | entry.group & !GROUP_MASK;
        }
        self.entries.sort_unstable_by_key(|entry| (entry.group(), entry.order_high, entry.order_low));
        self.ranked_groups = by_rank;
    }

    /// The record of a sorted entry.
    fn record<'s>(&'s self, entry: &'s Entry) -> Record<'s> {
        let value = match entry.inline_len() {
            Some(len) => &entry.value[..len],
            None => {
                let at = u32::from_le_bytes(entry.value) as usize;
                let (len, len_len) = varint::decode(&self.values[at..]).expect("sorter-encoded length");
                let start = at + len_len;
                &self.values[start..start + len as usize]
            }
        };
        Record {
            group: &self.groups.by_id[self.ranked_groups[entry.group() as usize] as usize],
            order: u128::from(entry.order_high) << 64 | u128::from(entry.order_low),
            value,
        }
    }

    /// Spills the buffered records as a run, if there are any, freeing their memory.
    pub(crate) fn spill(&mut self) -> Result<(), WriteError> {
        if self.entries.is_empty() {
            return Ok(());
        }
        self.sort_buffer();
        let run = Run::create(&self.dir, &self.hook)?;
        let mut out = run.writer(&self.hook);
        for entry in &self.entries {
            out.write(&self.record(entry))?;
        }
        out.finish()?;
        self.runs.push(run);
        self.release_buffer();
        Ok(())
    }

    fn clear_buffer(&mut self) {
        self.values.clear();
        self.entries.clear();
        self.groups.clear();
        self.ranked_groups.clear();
    }

    /// Empties the buffer and gives its memory back: another sorter sharing the budget may
    /// need it before this one fills again.
    fn release_buffer(&mut self) {
        self.values = Vec::new();
        self.entries = Vec::new();
        self.groups = Groups::default();
        self.ranked_groups = Vec::new();
    }

    /// Drops every buffered record and spill file.
    pub(crate) fn clear(&mut self) {
        self.clear_buffer();
        self.runs.clear();
    }

    /// Sorts what is buffered and returns every record in order. The sorter is empty afterwards
    /// and can be reused.
    pub(crate) fn finish(&mut self) -> Result<Sorted<'_>, WriteError> {
        if self.runs.is_empty() {
            self.sort_buffer();
            return Ok(Sorted::Memory { sorter: self, next_idx: 0 });
        }
        self.spill()?;
        while self.runs.len() > MAX_FAN_IN {
            let group: Vec<Run> = self.runs.drain(..MAX_FAN_IN).collect();
            let merged = Run::create(&self.dir, &self.hook)?;
            let mut out = merged.writer(&self.hook);
            let mut merge = Merge::new(group, &self.hook)?;
            while let Some(record) = merge.next()? {
                out.write(&record)?;
            }
            out.finish()?;
            self.runs.push(merged);
        }
        let runs = std::mem::take(&mut self.runs);
        Ok(Sorted::Merge(Merge::new(runs, &self.hook)?))
    }
}

/// Records in order, either from memory or merged from spilled runs.
pub(crate) enum Sorted<'s> {
    Memory { sorter: &'s mut Sorter, next_idx: usize },
    Merge(Merge),
}

impl Sorted<'_> {
    /// The next record; the slices live until the next call.
    pub(crate) fn next(&mut self) -> Result<Option<Record<'_>>, WriteError> {
        match self {
            Sorted::Memory { sorter, next_idx } => {
                if *next_idx == sorter.entries.len() {
                    sorter.clear_buffer();
                    return Ok(None);
                }
                *next_idx += 1;
                let sorter: &Sorter = sorter;
                Ok(Some(sorter.record(&sorter.entries[*next_idx - 1])))
            }
            Sorted::Merge(merge) => merge.next(),
        }
    }
}

impl Drop for Sorted<'_> {
    fn drop(&mut self) {
        if let Sorted::Memory { sorter, .. } = self {
            sorter.clear_buffer();
        }
    }
}

/// A run's reader, ordered by its current record so that the max-heap yields the smallest
/// record first (ties go to the earlier run, though `(group, order)` pairs are unique).
struct Head {
    run: RunReader,
    run_idx: usize,
}

impl Head {
    fn key(&self) -> (&[u8], u128, usize) {
        let record = self.run.record();
        (record.group, record.order, self.run_idx)
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        other.key().cmp(&self.key())
    }
}

/// A k-way merge of sorted runs. The smallest record is read from the heap's top in place; the
/// next call advances that run and sifts it down once, instead of a pop and a push.
pub(crate) struct Merge {
    heap: BinaryHeap<Head>,
    /// Whether the top's record was handed out and must be advanced past.
    top_taken: bool,
}

impl Merge {
    fn new(runs: Vec<Run>, hook: &Hook) -> Result<Merge, WriteError> {
        let mut heap = BinaryHeap::with_capacity(runs.len());
        for (run_idx, run) in runs.into_iter().enumerate() {
            let mut run = run.into_reader(hook)?;
            if run.advance()? {
                heap.push(Head { run, run_idx });
            }
        }
        Ok(Merge { heap, top_taken: false })
    }

    fn next(&mut self) -> Result<Option<Record<'_>>, WriteError> {
        if std::mem::take(&mut self.top_taken) {
            let mut top = self.heap.peek_mut().expect("a record was handed out from it");
            if !top.run.advance()? {
                PeekMut::pop(top);
            }
        }
        self.top_taken = !self.heap.is_empty();
        Ok(self.heap.peek().map(|head| head.run.record()))
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    use super::*;

    type Model = BTreeMap<(Vec<u8>, u128), Vec<u8>>;
    type Item = ((Vec<u8>, u128), Vec<u8>);

    fn drain(sorted: &mut Sorted<'_>) -> Vec<Item> {
        let mut out = Vec::new();
        while let Some(record) = sorted.next().unwrap() {
            out.push(((record.group.to_vec(), record.order), record.value.to_vec()));
        }
        out
    }

    fn sorter(dir: &Path, limit: usize) -> Sorter {
        Sorter::new(dir, limit, Arc::new(crate::io::NoHook))
    }

    /// A fixed permutation of 0..n over a few groups, so the input is far from sorted.
    fn records(n: u32) -> Model {
        (0..n)
            .map(|i| {
                let group = format!("g{}", i % 7).into_bytes();
                ((group, u128::from(i * 7919 % n) << 64 | u128::from(i)), vec![i as u8; (i % 5) as usize])
            })
            .collect()
    }

    fn push_all(sorter: &mut Sorter, input: &[Item]) {
        for ((group, order), value) in input {
            sorter.push(group, *order, value).unwrap();
        }
    }

    #[test]
    fn sorts_in_memory() {
        let dir = tempfile::tempdir().unwrap();
        let mut sorter = sorter(dir.path(), 1 << 20);
        let expected: Vec<_> = records(1000).into_iter().collect();
        let mut input = expected.clone();
        input.sort_by_key(|((_, order), _)| (*order as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        push_all(&mut sorter, &input);
        assert!(sorter.runs.is_empty());
        assert_eq!(drain(&mut sorter.finish().unwrap()), expected);
    }

    #[test]
    fn spills_and_merges_more_runs_than_the_fan_in() {
        let dir = tempfile::tempdir().unwrap();
        let mut sorter = sorter(dir.path(), 512);
        let expected: Vec<_> = records(3000).into_iter().collect();
        let mut input = expected.clone();
        input.reverse();
        push_all(&mut sorter, &input);
        assert!(sorter.runs.len() > MAX_FAN_IN, "only {} runs", sorter.runs.len());
        assert_eq!(drain(&mut sorter.finish().unwrap()), expected);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "spill files must be removed");
    }

    /// Groups that are prefixes of one another and orders that share high halves, so both
    /// comparisons decide.
    fn record() -> impl Strategy<Value = Item> {
        let group = prop::sample::select(vec![&b""[..], b"a", b"a\0", b"ab", b"b", b"\xff"]).prop_map(<[u8]>::to_vec);
        let order = (0u128..4, 0u128..1000).prop_map(|(high, low)| high << 64 | low);
        ((group, order), prop::collection::vec(any::<u8>(), 0..12))
    }

    proptest! {
        /// Whatever the memory limit (all in memory, a few runs, more runs than the fan-in),
        /// a sorter hands back exactly the model's records in `(group, order)` order, also when
        /// it is reused.
        #[test]
        fn sorts_like_a_btree_map(
            rounds in prop::collection::vec(prop::collection::vec(record(), 0..300), 1..3),
            limit in prop::sample::select(vec![64usize, 300, 2000, 1 << 20]),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut sorter = sorter(dir.path(), limit);
            for input in rounds {
                // Keys must be unique: keep the first record of each key.
                let mut seen = std::collections::BTreeSet::new();
                let unique: Vec<Item> = input.into_iter().filter(|(key, _)| seen.insert(key.clone())).collect();
                let model: Model = unique.iter().cloned().collect();
                push_all(&mut sorter, &unique);
                let expected: Vec<_> = model.into_iter().collect();
                prop_assert_eq!(drain(&mut sorter.finish().unwrap()), expected);
                prop_assert_eq!(sorter.buffered_len(), 0);
            }
            prop_assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "spill files must be removed");
        }
    }
}
