//! [`Records`]: every event of a space with its grouping and index entries, for export and merge.

use bytes::Bytes;
use esdb_format::v1::catalog::{GroupingEntry, IndexValueEntry};
use esdb_format::v1::key::{self, CatalogKey};
use esdb_format::DecodeError;

use crate::catalog::PrefixIter;
use crate::error::Result;
use crate::event::Event;
use crate::scan::{for_each_posting, Scan};
use crate::space::Space;

/// One event with everything its writer gave for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The event: timestamp and data.
    pub event: Event,
    /// Its grouping; empty for the default grouping.
    pub grouping: Bytes,
    /// Its `(index name, value)` pairs, sorted, each once.
    pub indexes: Vec<(Bytes, Bytes)>,
}

/// What each event of a space carries besides its timestamp and data: its grouping and its
/// index values, looked up by the event's [ordinal](Event::ordinal). See [`Space::event_labels`].
///
/// Built from the catalog's grouping entries and, when asked for, every posting of the space;
/// memory: 16 bytes per grouping, and with indexes 4 bytes per posting plus 8 per event.
#[derive(Debug, Clone)]
pub struct EventLabels {
    /// `(first event ordinal, name)` of each grouping, ascending.
    groupings: Vec<(u64, Bytes)>,
    values: Vec<(Bytes, Bytes)>,
    /// Index pairs of event `o` are `value_ids[offsets[o]..offsets[o + 1]]`; empty without indexes.
    offsets: Vec<u64>,
    value_ids: Vec<u32>,
}

impl EventLabels {
    pub(crate) fn new(space: &Space, with_indexes: bool) -> Result<EventLabels> {
        let inner = space.inner();
        let n_events = space.len();

        let mut groupings = Vec::new();
        let mut iter = PrefixIter::new(inner.clone(), key::grouping_prefix(space.id()));
        while let Some(entry) = iter.next_entry()? {
            let decoded = GroupingEntry::decode(entry.value(), entry.at)?;
            groupings.push((decoded.first_event, entry.key_suffix(iter.prefix().len())));
        }
        if !with_indexes {
            return Ok(EventLabels { groupings, values: Vec::new(), offsets: Vec::new(), value_ids: Vec::new() });
        }

        let mut values = Vec::new();
        let mut pairs: Vec<(u64, u32)> = Vec::new();
        let mut iter = PrefixIter::new(inner.clone(), key::index_prefix(space.id()));
        while let Some(entry) = iter.next_entry()? {
            let CatalogKey::IndexValue { name, value, .. } = CatalogKey::decode(entry.key(), entry.at)? else {
                return Err(DecodeError::invalid("catalog key", entry.at, "expected an index value key").into());
            };
            let decoded = IndexValueEntry::decode(entry.value(), entry.at)?;
            let value_id = u32::try_from(values.len()).map_err(|_| {
                DecodeError::invalid("space index value count", entry.at, "more than 2^32 index values")
            })?;
            values.push((Bytes::from(name), Bytes::from(value)));
            for_each_posting(
                inner,
                decoded.stream,
                decoded.stats.n_events,
                decoded.stats.min_ts,
                n_events,
                entry.at,
                |event| pairs.push((event, value_id)),
            )?;
        }
        pairs.sort_unstable();
        pairs.dedup();
        let mut offsets = Vec::with_capacity(n_events as usize + 1);
        let mut pos = 0usize;
        for ordinal in 0..=n_events {
            offsets.push(pos as u64);
            while pos < pairs.len() && pairs[pos].0 == ordinal {
                pos += 1;
            }
        }
        let value_ids = pairs.into_iter().map(|(_, id)| id).collect();
        Ok(EventLabels { groupings, values, offsets, value_ids })
    }

    /// The grouping of the event with ordinal `ordinal` (empty for the default grouping).
    pub fn grouping(&self, ordinal: u64) -> &Bytes {
        static DEFAULT: Bytes = Bytes::new();
        let idx = self.groupings.partition_point(|(first, _)| *first <= ordinal).saturating_sub(1);
        self.groupings.get(idx).map_or(&DEFAULT, |(_, name)| name)
    }

    /// The `(index name, value)` pairs of the event with ordinal `ordinal`, sorted, each once;
    /// none when the labels were built without indexes.
    pub fn indexes(&self, ordinal: u64) -> impl Iterator<Item = (&Bytes, &Bytes)> + '_ {
        let ids = match (self.offsets.get(ordinal as usize), self.offsets.get(ordinal as usize + 1)) {
            (Some(&start), Some(&end)) => &self.value_ids[start as usize..end as usize],
            _ => &[],
        };
        ids.iter().map(|&id| {
            let (name, value) = &self.values[id as usize];
            (name, value)
        })
    }
}

/// Iterator over the [`Record`]s of a space in (timestamp, insertion) order. See
/// [`Space::records`].
#[derive(Debug)]
pub struct Records {
    events: Scan,
    labels: EventLabels,
}

impl Records {
    pub(crate) fn new(space: &Space) -> Result<Records> {
        Ok(Records { labels: EventLabels::new(space, true)?, events: space.events()? })
    }

    fn record(&self, event: Event) -> Record {
        let ordinal = event.ordinal();
        let grouping = self.labels.grouping(ordinal).clone();
        let indexes = self.labels.indexes(ordinal).map(|(name, value)| (name.clone(), value.clone())).collect();
        Record { event, grouping, indexes }
    }
}

impl Iterator for Records {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        let event = self.events.next()?;
        Some(event.map(|event| self.record(event)))
    }
}

impl std::iter::FusedIterator for Records {}
