//! The event type yielded by scans.

use bytes::Bytes;
use esdb_format::v1::data_block::EventSpan;

/// One event: a timestamp and its data.
///
/// Cheap to clone: the data is a [`Bytes`] slice of either the memory-mapped file (blocks stored
/// raw) or one decompressed block shared by all events of that block. No allocation is made per
/// event.
#[derive(Clone, PartialEq, Eq)]
pub struct Event {
    pub(crate) ts: i64,
    pub(crate) data: Bytes,
    pub(crate) ordinal: u64,
}

impl Event {
    /// The event's timestamp, in the unit its writer chose.
    #[inline]
    pub fn timestamp(&self) -> i64 {
        self.ts
    }

    /// The event's data.
    #[inline]
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// The event's data as shared bytes, without copying.
    #[inline]
    pub fn data_bytes(&self) -> &Bytes {
        &self.data
    }

    /// The event's position within its space in storage order: groupings by name, and within a
    /// grouping by (timestamp, insertion order). Unique within the space; see
    /// [`Space::records`](crate::Space::records) for what it is good for.
    #[inline]
    pub fn ordinal(&self) -> u64 {
        self.ordinal
    }

    /// Consumes the event and returns its data.
    #[inline]
    pub fn into_data(self) -> Bytes {
        self.data
    }
}

impl std::fmt::Debug for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Event").field("timestamp", &self.ts).field("data", &self.data).finish()
    }
}

/// One event borrowed from the [`Scan`](crate::Scan) that returned it, by
/// [`Scan::next_ref`](crate::Scan::next_ref): valid until the scan moves on.
#[derive(Clone, Copy)]
pub struct EventRef<'a> {
    pub(crate) payload: &'a Bytes,
    pub(crate) span: EventSpan,
    pub(crate) ordinal: u64,
}

impl<'a> EventRef<'a> {
    /// The event's timestamp, in the unit its writer chose.
    #[inline]
    pub fn timestamp(&self) -> i64 {
        self.span.ts
    }

    /// The event's data.
    #[inline]
    pub fn data(&self) -> &'a [u8] {
        &self.payload[self.span.start as usize..self.span.end as usize]
    }

    /// The event's position within its space in storage order; see [`Event::ordinal`].
    #[inline]
    pub fn ordinal(&self) -> u64 {
        self.ordinal
    }

    /// The owned event, sharing the block's buffer as the `Iterator` methods of a scan do.
    #[inline]
    pub fn to_event(&self) -> Event {
        Event {
            ts: self.span.ts,
            data: self.payload.slice(self.span.start as usize..self.span.end as usize),
            ordinal: self.ordinal,
        }
    }
}

impl std::fmt::Debug for EventRef<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventRef").field("timestamp", &self.span.ts).field("data", &self.data()).finish()
    }
}
