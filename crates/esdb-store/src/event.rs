//! The events going in ([`NewEvent`]), coming back from the log ([`LogEvent`]) and from queries
//! ([`Event`]).

use bytes::Bytes;

/// An event to append: what [`esdb_write::Writer::add`] takes plus an optional id.
///
/// ```
/// use esdb_store::NewEvent;
/// let event = NewEvent::new("customer-1", 1_700_000_000, r#"{"total":42}"#)
///     .grouping("web")
///     .index("type", "purchase")
///     .id("order-981");
/// assert_eq!(event.indexes.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewEvent {
    /// The space: 1..=65535 bytes.
    pub space: Bytes,
    /// The timestamp, in the caller's unit.
    pub timestamp: i64,
    /// The grouping: 0..=65535 bytes, `""` being the default grouping.
    pub grouping: Bytes,
    /// `(name, value)` index pairs: name 1..=65535 bytes, value 0..=65535 bytes.
    pub indexes: Vec<(Bytes, Bytes)>,
    /// The data: 0..=[`StoreOptions::max_data_len`](crate::StoreOptions::max_data_len) bytes.
    pub data: Bytes,
    /// The producer's id for this event (1..=65535 bytes), for idempotent retries.
    pub id: Option<Bytes>,
}

impl NewEvent {
    /// An event in the default grouping, without indexes or id.
    pub fn new(space: impl Into<Bytes>, timestamp: i64, data: impl Into<Bytes>) -> NewEvent {
        NewEvent {
            space: space.into(),
            timestamp,
            grouping: Bytes::new(),
            indexes: Vec::new(),
            data: data.into(),
            id: None,
        }
    }

    /// Sets the grouping.
    pub fn grouping(mut self, grouping: impl Into<Bytes>) -> NewEvent {
        self.grouping = grouping.into();
        self
    }

    /// Adds an index pair.
    pub fn index(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> NewEvent {
        self.indexes.push((name.into(), value.into()));
        self
    }

    /// Sets the event id.
    pub fn id(mut self, id: impl Into<Bytes>) -> NewEvent {
        self.id = Some(id.into());
        self
    }
}

/// An event as the log holds it, with its offset. Yielded by
/// [`Store::read_from`](crate::Store::read_from) and [`Store::follow`](crate::Store::follow).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LogEvent {
    /// Its position in the log.
    pub offset: u64,
    /// Its timestamp.
    pub timestamp: i64,
    /// Wall-clock time of the append, in milliseconds since the Unix epoch.
    pub append_time_ms: u64,
    /// Its id, when the producer gave one.
    pub id: Option<Bytes>,
    /// Its space.
    pub space: Bytes,
    /// Its grouping.
    pub grouping: Bytes,
    /// Its index pairs, sorted, each once.
    pub indexes: Vec<(Bytes, Bytes)>,
    /// Its data.
    pub data: Bytes,
}

/// An event with its grouping and index pairs, from [`Space::records`](crate::Space::records):
/// what [`esdb_read::Record`] is for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record {
    /// Its timestamp.
    pub timestamp: i64,
    /// Its grouping; empty for the default grouping.
    pub grouping: Bytes,
    /// Its `(index name, value)` pairs, sorted, each once.
    pub indexes: Vec<(Bytes, Bytes)>,
    /// Its data.
    pub data: Bytes,
}

/// An event returned by a query: timestamp and data, as [`esdb_read::Event`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub(crate) timestamp: i64,
    pub(crate) data: Bytes,
}

impl Event {
    /// The event's timestamp.
    pub fn timestamp(&self) -> i64 {
        self.timestamp
    }

    /// The event's data.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Consumes the event and returns its data.
    pub fn into_data(self) -> Bytes {
        self.data
    }
}
