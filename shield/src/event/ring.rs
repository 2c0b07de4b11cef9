//! A fixed-capacity, multi-producer, lock-free ring of [`Record`]s.
//!
//! This is Dmitry Vyukov's bounded MPMC queue over atomics only (no `unsafe`). `push` never
//! blocks, never allocates and never spins on another thread: if the ring is full it counts the
//! loss and returns. That makes it async-signal-safe: a SIGSYS handler that interrupts a push
//! on the same thread simply takes the next slot.
//!
//! Each slot's sequence number is stored as an offset from the slot index, so an all-zero ring
//! is a valid empty ring and the ring can live in a `static`.

use super::record::{Record, RECORD_WORDS};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// Default capacity of the process-wide ring.
pub const CAPACITY: usize = 1024;

struct Slot {
    seq: AtomicUsize,
    words: [AtomicU64; RECORD_WORDS],
}

impl Slot {
    const fn new() -> Self {
        Slot {
            seq: AtomicUsize::new(0),
            words: [const { AtomicU64::new(0) }; RECORD_WORDS],
        }
    }
}

/// The ring. `N` must be a power of two.
pub struct Ring<const N: usize = CAPACITY> {
    slots: [Slot; N],
    enqueue: AtomicUsize,
    dequeue: AtomicUsize,
    overflow: AtomicU64,
    pushed: AtomicU64,
}

impl<const N: usize> Default for Ring<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> Ring<N> {
    /// An empty ring.
    pub const fn new() -> Self {
        assert!(N.is_power_of_two());
        Ring {
            slots: [const { Slot::new() }; N],
            enqueue: AtomicUsize::new(0),
            dequeue: AtomicUsize::new(0),
            overflow: AtomicU64::new(0),
            pushed: AtomicU64::new(0),
        }
    }

    #[inline]
    fn seq(&self, idx: usize) -> usize {
        self.slots[idx]
            .seq
            .load(Ordering::Acquire)
            .wrapping_add(idx)
    }

    #[inline]
    fn set_seq(&self, idx: usize, v: usize) {
        self.slots[idx]
            .seq
            .store(v.wrapping_sub(idx), Ordering::Release);
    }

    /// Append a record. Returns `false` (and counts an overflow) when the ring is full.
    ///
    /// Async-signal-safe: no allocation, no lock, bounded work per attempt.
    pub fn push(&self, rec: &Record) -> bool {
        let pushed = self.try_push(rec);
        if !pushed {
            self.count_lost();
        }
        pushed
    }

    /// Count one record as lost (the caller gave up on pushing it).
    pub fn count_lost(&self) {
        self.overflow.fetch_add(1, Ordering::Relaxed);
    }

    /// How many records consumers have taken so far (wrapping): a change means progress.
    pub fn dequeued(&self) -> usize {
        self.dequeue.load(Ordering::Relaxed)
    }

    /// Append a record; `false` when the ring is full (nothing is counted: the caller
    /// decides whether to wait or to count the record as lost).
    ///
    /// Async-signal-safe: no allocation, no lock, bounded work per attempt.
    pub fn try_push(&self, rec: &Record) -> bool {
        let mut words = [0u64; RECORD_WORDS];
        rec.encode(&mut words);
        let mut pos = self.enqueue.load(Ordering::Relaxed);
        loop {
            let idx = pos & (N - 1);
            let seq = self.seq(idx);
            let diff = seq.wrapping_sub(pos) as isize;
            if diff == 0 {
                match self.enqueue.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        for (dst, w) in self.slots[idx].words.iter().zip(words) {
                            dst.store(w, Ordering::Relaxed);
                        }
                        self.set_seq(idx, pos.wrapping_add(1));
                        self.pushed.fetch_add(1, Ordering::Relaxed);
                        return true;
                    }
                    Err(cur) => pos = cur,
                }
            } else if diff < 0 {
                return false;
            } else {
                pos = self.enqueue.load(Ordering::Relaxed);
            }
        }
    }

    /// Take the oldest record, if one is ready.
    pub fn pop(&self) -> Option<Record> {
        let mut pos = self.dequeue.load(Ordering::Relaxed);
        loop {
            let idx = pos & (N - 1);
            let seq = self.seq(idx);
            let diff = seq.wrapping_sub(pos.wrapping_add(1)) as isize;
            if diff == 0 {
                match self.dequeue.compare_exchange_weak(
                    pos,
                    pos.wrapping_add(1),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        let mut words = [0u64; RECORD_WORDS];
                        for (w, src) in words.iter_mut().zip(&self.slots[idx].words) {
                            *w = src.load(Ordering::Relaxed);
                        }
                        self.set_seq(idx, pos.wrapping_add(N));
                        return Some(Record::decode(&words));
                    }
                    Err(cur) => pos = cur,
                }
            } else if diff < 0 {
                return None;
            } else {
                pos = self.dequeue.load(Ordering::Relaxed);
            }
        }
    }

    /// Records waiting to be drained (approximate under concurrency).
    pub fn len(&self) -> usize {
        self.enqueue
            .load(Ordering::Relaxed)
            .wrapping_sub(self.dequeue.load(Ordering::Relaxed))
            .min(N)
    }

    /// Whether no record is waiting (approximate under concurrency).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empty the ring, whatever state its slots are in, keeping the counters. Only for a
    /// process just forked from this one, while it has a single thread (the stand-by
    /// supervisor): a slot another thread of the parent had claimed but not finished writing
    /// at the fork is never finished there, and every record behind it would stay stuck.
    pub(crate) fn reset_in_forked_child(&self) {
        for idx in 0..N {
            self.set_seq(idx, idx);
        }
        self.enqueue.store(0, Ordering::Release);
        self.dequeue.store(0, Ordering::Release);
    }

    /// Records lost because the ring was full, since the ring was created.
    pub fn overflowed(&self) -> u64 {
        self.overflow.load(Ordering::Relaxed)
    }

    /// Records pushed successfully, since the ring was created.
    pub fn pushed(&self) -> u64 {
        self.pushed.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::record::RecordKind;
    use crate::policy::PolicyKind;
    use std::sync::Arc;

    fn rec(thread: u32, i: u32) -> Record {
        let mut r = Record::new(PolicyKind::ReadWriteTmp, true, RecordKind::Path, 257);
        r.pid = thread;
        r.port = i as u16;
        r.set_text(format!("/tmp/{thread}/{i}").as_bytes());
        r
    }

    #[test]
    fn a_slot_claimed_before_a_fork_does_not_stall_the_child_after_a_reset() {
        let ring: Ring<8> = Ring::new();
        assert!(ring.push(&rec(1, 1)));
        // Another thread claimed a slot and was forked away before it wrote it.
        ring.enqueue.fetch_add(1, Ordering::Relaxed);
        assert!(ring.push(&rec(1, 2)));
        assert!(ring.pop().is_some());
        assert!(ring.pop().is_none(), "stuck behind the unfinished slot");
        ring.reset_in_forked_child();
        assert!(ring.is_empty());
        for i in 0..20 {
            assert!(ring.push(&rec(2, i)));
            let r = ring.pop().unwrap();
            assert_eq!(
                &r.text[..r.text_len as usize],
                format!("/tmp/2/{i}").as_bytes()
            );
        }
    }

    #[test]
    fn fifo_and_round_trip() {
        let ring: Ring<8> = Ring::new();
        assert!(ring.pop().is_none());
        for i in 0..20 {
            assert!(ring.push(&rec(1, i)));
            let r = ring.pop().unwrap();
            assert_eq!(
                &r.text[..r.text_len as usize],
                format!("/tmp/1/{i}").as_bytes()
            );
        }
    }

    #[test]
    fn concurrent_producers_lose_nothing_below_capacity() {
        let ring: Arc<Ring<1024>> = Arc::new(Ring::new());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    for i in 0..250 {
                        assert!(ring.push(&rec(t, i)));
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        let mut seen = std::collections::HashSet::new();
        while let Some(r) = ring.pop() {
            assert_eq!(
                &r.text[..r.text_len as usize],
                format!("/tmp/{}/{}", r.pid, r.port).as_bytes()
            );
            assert!(seen.insert((r.pid, r.port)));
        }
        assert_eq!(seen.len(), 1000);
        assert_eq!(ring.overflowed(), 0);
    }

    #[test]
    fn overflow_is_counted_exactly() {
        let ring: Arc<Ring<256>> = Arc::new(Ring::new());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let ring = ring.clone();
                std::thread::spawn(move || (0..100).filter(|&i| ring.push(&rec(t, i))).count())
            })
            .collect();
        let ok: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(ok, 256);
        assert_eq!(ring.overflowed(), 400 - 256);
        let mut n = 0;
        while ring.pop().is_some() {
            n += 1;
        }
        assert_eq!(n, 256);
    }

    #[test]
    fn try_push_leaves_the_decision_to_the_caller() {
        let ring: Ring<4> = Ring::new();
        for i in 0..4 {
            assert!(ring.try_push(&rec(1, i)));
        }
        assert!(!ring.try_push(&rec(1, 4)));
        assert_eq!(ring.overflowed(), 0, "a refused try_push is not a loss yet");
        let before = ring.dequeued();
        assert!(ring.pop().is_some());
        assert_ne!(ring.dequeued(), before, "a pop is progress");
        assert!(ring.try_push(&rec(1, 4)));
        ring.count_lost();
        assert_eq!(ring.overflowed(), 1);
    }

    #[test]
    fn concurrent_producers_and_consumer() {
        let ring: Arc<Ring<64>> = Arc::new(Ring::new());
        let producers: Vec<_> = (0..3)
            .map(|t| {
                let ring = ring.clone();
                std::thread::spawn(move || {
                    (0..5000).filter(|&i| ring.push(&rec(t, i))).count() as u64
                })
            })
            .collect();
        let mut got = 0u64;
        let mut done = false;
        while !done {
            done = producers.iter().all(|p| p.is_finished());
            while let Some(r) = ring.pop() {
                assert_eq!(
                    &r.text[..r.text_len as usize],
                    format!("/tmp/{}/{}", r.pid, r.port).as_bytes()
                );
                got += 1;
            }
        }
        let ok: u64 = producers.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(got, ok);
        assert_eq!(ok + ring.overflowed(), 15000);
    }
}
