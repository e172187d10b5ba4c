//! The unsealed tail of the log, held in memory with a per-space index so that queries answer
//! from it without touching the log files. Rebuilt from the log on open.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use bytes::Bytes;

use crate::event::LogEvent;

/// Events with offsets `base..base + events.len()`, in offset order.
#[derive(Debug, Default)]
pub struct Tail {
    base: u64,
    events: VecDeque<(Arc<LogEvent>, u32)>,
    by_space: HashMap<Bytes, Vec<u64>>,
    bytes: u64,
}

impl Tail {
    /// An empty tail whose first event will have offset `base`.
    pub fn new(base: u64) -> Tail {
        Tail { base, ..Tail::default() }
    }

    /// One past the offset of the last event held.
    pub fn end(&self) -> u64 {
        self.base + self.events.len() as u64
    }

    /// Log bytes of the events held.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Number of events held.
    pub fn len(&self) -> u64 {
        self.events.len() as u64
    }

    /// Append time of the oldest event held.
    pub fn oldest_append_ms(&self) -> Option<u64> {
        self.events.front().map(|(event, _)| event.append_time_ms)
    }

    /// Adds the next event; `record_len` is its size in the log.
    pub fn push(&mut self, event: Arc<LogEvent>, record_len: u32) {
        debug_assert_eq!(event.offset, self.end());
        match self.by_space.get_mut(&event.space) {
            Some(offsets) => offsets.push(event.offset),
            // A copy, so that the key does not keep the whole record alive after sealing.
            None => {
                self.by_space.insert(Bytes::copy_from_slice(&event.space), vec![event.offset]);
            }
        }
        self.bytes += u64::from(record_len);
        self.events.push_back((event, record_len));
    }

    /// The event at `offset`, if held.
    pub fn get(&self, offset: u64) -> Option<&Arc<LogEvent>> {
        let idx = offset.checked_sub(self.base)?;
        self.events.get(usize::try_from(idx).ok()?).map(|(event, _)| event)
    }

    /// The events in `from..to` (clamped to what is held).
    pub fn range(&self, from: u64, to: u64) -> Vec<Arc<LogEvent>> {
        (from.max(self.base)..to.min(self.end())).filter_map(|offset| self.get(offset).cloned()).collect()
    }

    /// The events of `space` below offset `visible`, in offset order.
    pub fn space(&self, space: &[u8], visible: u64) -> Vec<Arc<LogEvent>> {
        let Some(offsets) = self.by_space.get(space) else { return Vec::new() };
        let end = offsets.partition_point(|&offset| offset < visible);
        offsets[..end].iter().filter_map(|&offset| self.get(offset).cloned()).collect()
    }

    /// Drops every event below `through` (they are sealed now).
    pub fn trim(&mut self, through: u64) {
        while self.base < through {
            let Some((_, len)) = self.events.pop_front() else { break };
            self.bytes -= u64::from(len);
            self.base += 1;
        }
        self.base = self.base.max(through);
        self.by_space.retain(|_, offsets| {
            let sealed = offsets.partition_point(|&offset| offset < through);
            offsets.drain(..sealed);
            !offsets.is_empty()
        });
    }
}
