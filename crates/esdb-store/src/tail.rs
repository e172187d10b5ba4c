//! The unsealed tail of the log, held in memory as the log's own record payloads (no copies of
//! their fields) with a per-space index, so that queries answer from it without touching the
//! log files. Rebuilt from the log on open; its size is bounded by the store's memory budget.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;

use crate::event::LogEvent;
use crate::record::{self, RECORD_OVERHEAD};

/// Memory an event costs beyond its record: the payload's handle in the deque and its offset in
/// the per-space index.
pub const EVENT_OVERHEAD: u64 = 48;
/// Memory a space costs beyond its events: its key and the map entry.
pub const SPACE_OVERHEAD: u64 = 96;

/// Events with offsets `base..base + payloads.len()`, in offset order.
#[derive(Debug, Default)]
pub struct Tail {
    base: u64,
    /// Record payloads as the log holds them (decoded on demand, which only slices them).
    payloads: VecDeque<Bytes>,
    /// Offsets by space. foldhash, randomly seeded: fast on short keys, and producers choosing
    /// space ids cannot aim collisions at it.
    by_space: HashMap<Bytes, Vec<u64>, foldhash::fast::RandomState>,
    /// Log bytes of the events held.
    bytes: u64,
    /// Bytes of the space keys in `by_space`.
    key_bytes: u64,
}

impl Tail {
    /// An empty tail whose first event will have offset `base`.
    pub fn new(base: u64) -> Tail {
        Tail { base, ..Tail::default() }
    }

    /// One past the offset of the last event held.
    pub fn end(&self) -> u64 {
        self.base + self.payloads.len() as u64
    }

    /// Log bytes of the events held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Number of events held.
    pub fn len(&self) -> u64 {
        self.payloads.len() as u64
    }

    /// Memory the tail takes, by the estimate the memory budget is checked against: the records,
    /// plus [`EVENT_OVERHEAD`] per event and [`SPACE_OVERHEAD`] plus the key per space.
    pub fn memory(&self) -> u64 {
        self.bytes + self.len() * EVENT_OVERHEAD + self.by_space.len() as u64 * SPACE_OVERHEAD + self.key_bytes
    }

    /// Append time of the oldest event held.
    pub fn oldest_append_ms(&self) -> Option<u64> {
        self.payloads.front().map(|payload| record::payload_append_ms(payload))
    }

    /// Adds the next event, `payload` being its record's payload (checked: it decodes) and
    /// `space` its space.
    pub fn push(&mut self, payload: Bytes, space: &[u8]) {
        let offset = self.end();
        debug_assert_eq!(record::payload_offset(&payload), offset);
        match self.by_space.get_mut(space) {
            Some(offsets) => offsets.push(offset),
            // A copy, so that the key does not keep a whole batch or segment alive after sealing.
            None => {
                self.key_bytes += space.len() as u64;
                self.by_space.insert(Bytes::copy_from_slice(space), vec![offset]);
            }
        }
        self.bytes += (payload.len() + RECORD_OVERHEAD) as u64;
        self.payloads.push_back(payload);
    }

    /// The payload of the event at `offset`, if held.
    pub fn payload(&self, offset: u64) -> Option<&Bytes> {
        let idx = offset.checked_sub(self.base)?;
        self.payloads.get(usize::try_from(idx).ok()?)
    }

    /// The event at `offset`, if held.
    pub fn get(&self, offset: u64) -> Option<LogEvent> {
        self.payload(offset).map(|payload| decode(payload.clone()))
    }

    /// The payloads of the events in `from..to` (clamped to what is held), in offset order.
    pub fn payloads(&self, from: u64, to: u64) -> Vec<Bytes> {
        (from.max(self.base)..to.min(self.end())).filter_map(|offset| self.payload(offset).cloned()).collect()
    }

    /// The events of `space` below offset `visible`, in offset order.
    pub fn space(&self, space: &[u8], visible: u64) -> Vec<LogEvent> {
        let Some(offsets) = self.by_space.get(space) else { return Vec::new() };
        let end = offsets.partition_point(|&offset| offset < visible);
        offsets[..end].iter().filter_map(|&offset| self.get(offset)).collect()
    }

    /// The ids of the spaces with events below `visible`, in no particular order.
    pub fn spaces(&self, visible: u64) -> Vec<Bytes> {
        self.by_space.iter().filter(|(_, offsets)| offsets[0] < visible).map(|(id, _)| id.clone()).collect()
    }

    /// Drops every event below `through` (they are sealed now).
    pub fn trim(&mut self, through: u64) {
        while self.base < through {
            let Some(payload) = self.payloads.pop_front() else { break };
            self.bytes -= (payload.len() + RECORD_OVERHEAD) as u64;
            self.base += 1;
        }
        self.base = self.base.max(through);
        let key_bytes = &mut self.key_bytes;
        self.by_space.retain(|space, offsets| {
            let sealed = offsets.partition_point(|&offset| offset < through);
            offsets.drain(..sealed);
            if offsets.is_empty() {
                *key_bytes -= space.len() as u64;
                return false;
            }
            if offsets.capacity() > 2 * offsets.len() + 8 {
                offsets.shrink_to_fit();
            }
            true
        });
        if self.payloads.capacity() > 2 * self.payloads.len() + 1024 {
            self.payloads.shrink_to_fit();
        }
    }
}

/// Decodes a payload the tail holds. Every payload was decoded once before it was pushed (a
/// record of this process's appends, or one recovery checked), and decoding is a pure function
/// of the bytes.
pub fn decode(payload: Bytes) -> LogEvent {
    record::decode_payload(payload, 0).expect("tail payloads decoded before they were pushed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::NewEvent;

    fn payload(offset: u64, space: &str) -> Bytes {
        let event = record::log_event(&NewEvent::new(space.to_owned(), offset as i64, "data"), offset, 7);
        let mut out = Vec::new();
        record::encode_record(&event, &mut out);
        let end = out.len() - 8;
        Bytes::from(out).slice(4..end)
    }

    #[test]
    fn the_memory_estimate_follows_pushes_and_trims() {
        let mut tail = Tail::new(10);
        assert_eq!(tail.memory(), 0);
        for offset in 10..20 {
            let space = if offset % 2 == 0 { "even" } else { "odd" };
            tail.push(payload(offset, space), space.as_bytes());
        }
        assert_eq!(tail.len(), 10);
        assert_eq!(tail.memory(), tail.bytes() + 10 * EVENT_OVERHEAD + 2 * SPACE_OVERHEAD + 7);
        assert_eq!(tail.space(b"odd", 16).iter().map(|e| e.offset).collect::<Vec<_>>(), [11, 13, 15]);
        assert_eq!(tail.get(12).map(|e| e.space), Some(Bytes::from_static(b"even")));
        assert_eq!(tail.oldest_append_ms(), Some(7));
        tail.trim(19);
        assert_eq!((tail.len(), tail.end()), (1, 20));
        assert_eq!(tail.spaces(u64::MAX), [Bytes::from_static(b"odd")]);
        assert_eq!(tail.memory(), tail.bytes() + EVENT_OVERHEAD + SPACE_OVERHEAD + 3);
        tail.trim(20);
        assert_eq!(tail.memory(), 0);
    }
}
