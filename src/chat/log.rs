//! A bounded log that many readers read at their own pace: entries are
//! appended once, each reader has a cursor (the sequence number of the next
//! entry it looks at), and the log keeps only what the slowest cursor has not
//! passed. The caller bounds it by evicting the slowest reader while the
//! entries cost more than it allows.
//!
//! ```text
//! seq     7     8     9     10    end: 11
//! entry   e7    e8    e9    e10
//! cursor  C     B           A
//!         (the slowest: the log starts at its cursor)
//! ```
//! Generic over the entry type and what a reader carries besides its cursor;
//! chat's room (hub.rs) keeps its lines and outboxes in one.

use std::collections::{BTreeSet, HashMap, VecDeque};

/// Log slots an emptied log may keep allocated.
const SHRINK_ABOVE: usize = 1024;

/// What an entry costs against the log's bound.
pub trait Entry {
    /// Bytes counted for this entry (payload and bookkeeping).
    fn cost(&self) -> usize;
}

/// Who reads: a number the caller gives each reader.
pub type ReaderId = u64;

/// One reader's place in the log and what the caller keeps with it.
#[derive(Debug)]
pub struct Reader<R> {
    cursor: u64,
    /// Where this reader's entries end, once it is told to stop.
    pub until: Option<u64>,
    /// The caller's own per-reader state.
    pub state: R,
}

impl<R> Reader<R> {
    /// Sequence number of the next entry to look at.
    pub fn cursor(&self) -> u64 {
        self.cursor
    }
}

/// The entries between the slowest cursor and the end, read-only.
#[derive(Debug)]
pub struct View<'a, T> {
    entries: &'a VecDeque<T>,
    first: u64,
}

impl<T> View<'_, T> {
    /// Sequence number the next entry will get.
    pub fn end(&self) -> u64 {
        self.first + self.entries.len() as u64
    }

    /// The entry `seq`, which must lie between a reader's cursor and the end.
    pub fn get(&self, seq: u64) -> &T {
        // Cursors never point before `first` (the log is trimmed to the
        // slowest one) nor past `end` (they only advance over entries).
        &self.entries[(seq - self.first) as usize]
    }
}

/// The log: entries, their counted cost, and every reader's cursor.
#[derive(Debug)]
pub struct Log<T, R> {
    entries: VecDeque<T>,
    /// Sequence number of `entries[0]`.
    first: u64,
    /// What the entries cost, as [`Entry::cost`] says.
    bytes: usize,
    readers: HashMap<ReaderId, Reader<R>>,
    /// Every reader's cursor, slowest first: the log starts at the first.
    cursors: BTreeSet<(u64, ReaderId)>,
}

impl<T, R> Default for Log<T, R> {
    fn default() -> Self {
        Log {
            entries: VecDeque::new(),
            first: 0,
            bytes: 0,
            readers: HashMap::new(),
            cursors: BTreeSet::new(),
        }
    }
}

impl<T: Entry, R> Log<T, R> {
    /// Sequence number the next entry will get.
    pub fn end(&self) -> u64 {
        self.first + self.entries.len() as u64
    }

    /// What the kept entries cost.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The kept entries, oldest first.
    pub fn entries(&self) -> impl Iterator<Item = &T> {
        self.entries.iter()
    }

    /// Adds a reader whose cursor starts at the end.
    pub fn add_reader(&mut self, id: ReaderId, state: R) {
        let cursor = self.end();
        self.cursors.insert((cursor, id));
        let reader = Reader {
            cursor,
            until: None,
            state,
        };
        self.readers.insert(id, reader);
    }

    /// A reader, to change what the caller keeps with it.
    pub fn reader_mut(&mut self, id: ReaderId) -> Option<&mut Reader<R>> {
        self.readers.get_mut(&id)
    }

    /// A reader together with the entries it may read.
    pub fn reader_and_view(&mut self, id: ReaderId) -> Option<(&mut Reader<R>, View<'_, T>)> {
        let reader = self.readers.get_mut(&id)?;
        let view = View {
            entries: &self.entries,
            first: self.first,
        };
        Some((reader, view))
    }

    /// Removes a reader; the log forgets what only it had not passed.
    pub fn remove_reader(&mut self, id: ReaderId) -> Option<Reader<R>> {
        let reader = self.readers.remove(&id)?;
        self.cursors.remove(&(reader.cursor, id));
        self.trim();
        Some(reader)
    }

    /// Appends an entry.
    pub fn push(&mut self, entry: T) {
        self.bytes += entry.cost();
        self.entries.push_back(entry);
    }

    /// While the entries cost more than `max`, removes and returns the
    /// slowest reader (which is behind by all of them); `None` once the log
    /// fits or has no reader left.
    pub fn evict_over(&mut self, max: usize) -> Option<(ReaderId, Reader<R>)> {
        if self.bytes <= max {
            self.trim();
            return None;
        }
        let Some(&(_, id)) = self.cursors.first() else {
            self.trim();
            return None;
        };
        self.remove_reader(id).map(|reader| (id, reader))
    }

    /// Moves a reader's cursor to `seq` (never backwards) and forgets what
    /// every reader has passed.
    pub fn advance(&mut self, id: ReaderId, seq: u64) {
        let Some(reader) = self.readers.get_mut(&id) else {
            return;
        };
        if seq == reader.cursor {
            return;
        }
        self.cursors.remove(&(reader.cursor, id));
        self.cursors.insert((seq, id));
        reader.cursor = seq;
        self.trim();
    }

    /// Forgets the entries before the slowest cursor.
    fn trim(&mut self) {
        let slowest = self.cursors.first().map_or(self.end(), |&(seq, _)| seq);
        while self.first < slowest {
            let Some(entry) = self.entries.pop_front() else {
                break;
            };
            self.bytes -= entry.cost();
            self.first += 1;
        }
        // A burst (thousands of join notices) grows the ring; give it back
        // once the readers have caught up.
        if self.entries.capacity() > SHRINK_ABOVE && self.entries.len() < SHRINK_ABOVE / 4 {
            self.entries.shrink_to(SHRINK_ABOVE / 2);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    impl Entry for usize {
        fn cost(&self) -> usize {
            *self
        }
    }

    fn counted(log: &Log<usize, ()>) -> usize {
        log.entries().sum()
    }

    #[test]
    fn the_log_starts_at_the_slowest_cursor() {
        let mut log = Log::<usize, ()>::default();
        log.add_reader(1, ());
        log.push(10);
        log.add_reader(2, ());
        log.push(20);
        assert_eq!((log.end(), log.bytes()), (2, 30));
        log.advance(1, 2);
        assert_eq!(log.bytes(), 20, "reader 2 never saw the first entry");
        log.advance(2, 2);
        assert_eq!(log.bytes(), 0);
    }

    #[test]
    fn eviction_removes_the_slowest_until_the_log_fits() {
        let mut log = Log::<usize, &str>::default();
        log.add_reader(1, "slow");
        log.push(50);
        log.add_reader(2, "fast");
        log.push(60);
        let (id, reader) = log.evict_over(100).expect("over the bound");
        assert_eq!((id, reader.state), (1, "slow"));
        assert!(log.evict_over(100).is_none(), "60 bytes fit");
        assert_eq!(log.bytes(), 60);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Push(usize),
        Join(u64),
        Leave(u64),
        Read(u64),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            (1usize..50).prop_map(Op::Push),
            (0u64..6).prop_map(Op::Join),
            (0u64..6).prop_map(Op::Leave),
            (0u64..6).prop_map(Op::Read),
        ]
    }

    proptest! {
        #[test]
        fn counted_cost_and_bound_hold(ops in proptest::collection::vec(op(), 0..200)) {
            const MAX: usize = 200;
            let mut log = Log::<usize, ()>::default();
            for op in ops {
                match op {
                    Op::Push(cost) => {
                        log.push(cost);
                        while log.evict_over(MAX).is_some() {}
                    }
                    Op::Join(id) => {
                        if log.reader_mut(id).is_none() {
                            log.add_reader(id, ());
                        }
                    }
                    Op::Leave(id) => drop(log.remove_reader(id)),
                    Op::Read(id) => {
                        let end = log.end();
                        log.advance(id, end);
                    }
                }
                prop_assert_eq!(log.bytes(), counted(&log));
                prop_assert!(log.bytes() <= MAX, "{} bytes kept", log.bytes());
                let slowest = log.cursors.first().map_or(log.end(), |&(seq, _)| seq);
                prop_assert_eq!(log.first, slowest, "the log starts at the slowest cursor");
            }
        }
    }
}
