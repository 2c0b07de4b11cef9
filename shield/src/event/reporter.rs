//! The [`Reporter`]: drains the ring outside signal context, turns records into [`Event`]s,
//! folds repeats within an invocation into one event with a `count`, and emits them to the
//! configured sinks when the invocation is flushed.

use super::sink::{self, emf_line, json_line, Callback, WipeFigures};
use super::{Action, Details, Event, Ring, RING};
use crate::policy::{PolicyKind, Sinks};
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::SystemTime;

/// Counts of what one flush emitted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FlushSummary {
    /// Distinct blocked events emitted.
    pub blocked: u64,
    /// Distinct alerted events emitted.
    pub alerted: u64,
}

#[derive(Default)]
struct Pending {
    order: Vec<String>,
    events: HashMap<String, Event>,
    /// Invocations already flushed (most recent last, bounded): an event of theirs that shows
    /// up late is emitted by the next flush instead of waiting forever.
    finished: std::collections::VecDeque<String>,
}

/// How many flushed request ids are remembered for late events.
const FINISHED_MAX: usize = 256;

/// Drains the ring, folds repeats and emits to sinks.
pub struct Reporter {
    sinks: Sinks,
    emf_namespace: String,
    function_name: String,
    callback: Option<Callback>,
    pending: Mutex<Pending>,
    /// Held while records move from the ring into `pending`, so that a flush never misses a
    /// record another thread has taken off the ring but not yet recorded.
    drain: Mutex<()>,
    /// The figures of the last wipe that removed something or failed, with the request id
    /// of the invocation after which it ran; they go into that invocation's EMF line.
    wipe: Mutex<Option<(String, WipeFigures)>>,
    lost_reported: AtomicU64,
    out: Mutex<Box<dyn std::io::Write + Send>>,
}

impl fmt::Debug for Reporter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reporter")
            .field("sinks", &self.sinks)
            .finish_non_exhaustive()
    }
}

impl Reporter {
    /// A reporter writing JSON and EMF lines to stdout: the stdout the function had when the
    /// shield was installed (a duplicate the shield keeps), not whatever fd 1 is later.
    pub fn new(
        sinks: Sinks,
        emf_namespace: &str,
        function_name: &str,
        callback: Option<Callback>,
    ) -> Self {
        Self::with_writer(
            sinks,
            emf_namespace,
            function_name,
            callback,
            // Plain writes of whole lines to the shield's own duplicate of stdout (see
            // durable::enable): a function that redirects or closes fd 1 does not hide them.
            Box::new(std::io::LineWriter::with_capacity(16 * 1024, RawStdout)),
        )
    }

    /// A reporter for a process forked from this one (the stand-by supervisor): the same JSON
    /// and EMF lines, written with plain `write` calls to fd 1, and nothing that runs the
    /// function's own code or takes a lock another thread of the parent could have held at the
    /// fork (`std::io::stdout()`'s lock, the `tracing` sink's subscriber, the `on_event`
    /// callback): in the child such a lock is never released, and the stand-by would hang.
    pub(crate) fn for_forked_child(&self) -> Reporter {
        let sinks = Sinks {
            tracing: false,
            ..self.sinks
        };
        Self::with_writer(
            sinks,
            &self.emf_namespace,
            &self.function_name,
            None,
            // Whole lines in one write each, as stdout's own line buffering does: a pipe keeps
            // a write of up to 4 KiB in one piece among other processes' writes.
            Box::new(std::io::LineWriter::with_capacity(16 * 1024, RawStdout)),
        )
    }

    /// A reporter writing JSON and EMF lines to `out` (for tests).
    pub fn with_writer(
        sinks: Sinks,
        emf_namespace: &str,
        function_name: &str,
        callback: Option<Callback>,
        out: Box<dyn std::io::Write + Send>,
    ) -> Self {
        Reporter {
            sinks,
            emf_namespace: emf_namespace.to_owned(),
            function_name: function_name.to_owned(),
            callback,
            pending: Mutex::new(Pending::default()),
            drain: Mutex::new(()),
            wipe: Mutex::new(None),
            lost_reported: AtomicU64::new(0),
            out: Mutex::new(out),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Add an event (from outside signal context), folding it with identical ones.
    pub fn record(&self, mut ev: Event) {
        if ev.function_name.is_empty() {
            ev.function_name = self.function_name.clone();
        }
        let key = ev.fold_key();
        let mut p = self.lock();
        match p.events.get_mut(&key) {
            Some(e) => {
                e.count += ev.count;
                e.early |= ev.early;
            }
            None => {
                p.order.push(key.clone());
                p.events.insert(key, ev);
            }
        }
    }

    /// Move everything in `ring` into the pending set.
    pub fn collect_from<const N: usize>(&self, ring: &Ring<N>) {
        let _draining = self.drain.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(r) = ring.pop() {
            self.record(Event::from_record(&r, &self.function_name));
        }
        let lost = ring.overflowed();
        let before = self.lost_reported.swap(lost, Ordering::AcqRel);
        if lost > before {
            self.record(Event::new(
                PolicyKind::Shield,
                Action::Alerted,
                Details::EventsLost {
                    lost: lost - before,
                },
                "unknown",
            ));
        }
    }

    /// Forget every pending event and everything in the process ring, unreported: the
    /// stand-by supervisor does this once, right after it is forked and while it has a single
    /// thread, because what it inherited is the parent's to report (and a ring slot another
    /// thread was writing at the fork would never be finished).
    pub(crate) fn forget_pending(&self) {
        RING.reset_in_forked_child();
        self.lost_reported
            .store(RING.overflowed(), Ordering::Release);
        let mut p = self.lock();
        p.order.clear();
        p.events.clear();
        drop(p);
        *self.wipe.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// Move everything in the process ring into the pending set.
    pub fn collect(&self) {
        self.collect_from(&RING);
    }

    /// [`Reporter::collect`], then wait (briefly, bounded) for records other threads have
    /// claimed but not yet finished writing: a record stuck behind one could otherwise miss
    /// its invocation's flush.
    fn collect_settled(&self) {
        // Not a timing assumption: a producer that has claimed a slot finishes writing it in
        // a few instructions once it runs; the bound only keeps a flush from waiting forever
        // on a thread that can never run again (its progress is the ring's dequeue count).
        let mut seen = RING.dequeued();
        let mut since = std::time::Instant::now();
        loop {
            self.collect();
            if RING.is_empty() {
                return;
            }
            let progress = RING.dequeued();
            if progress != seen {
                seen = progress;
                since = std::time::Instant::now();
            } else if since.elapsed() >= std::time::Duration::from_secs(2) {
                return;
            }
            std::thread::yield_now();
        }
    }

    /// Blocks recorded so far for `request_id` (after [`Reporter::collect`]).
    pub fn blocks_for(&self, request_id: &str) -> u64 {
        let p = self.lock();
        p.events
            .values()
            .filter(|e| {
                e.request_id == request_id
                    && e.action == Action::Blocked
                    && e.policy != PolicyKind::Shield
            })
            .map(|e| e.count)
            .sum()
    }

    /// Note a wipe's figures for the EMF line of `request_id`'s flush. Only a wipe that
    /// removed something or left something behind is worth a metric; others are ignored.
    pub fn note_wipe(&self, request_id: &str, figures: WipeFigures) {
        if figures.files_removed == 0 && figures.dirs_removed == 0 && figures.failures == 0 {
            return;
        }
        *self.wipe.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((request_id.to_owned(), figures));
    }

    /// Emit the pending events of `request_id` plus those attributed to `unknown` or to
    /// invocations already flushed (or all pending events when `request_id` is `None`), then
    /// their EMF line: one per attribution, so that an event's `request_id` is the same in
    /// every sink (normally exactly one line, the invocation's). The last noted wipe's figures
    /// go into the line of the invocation it followed. Nothing at all happened: no line.
    pub fn flush(&self, request_id: Option<&str>) -> FlushSummary {
        // Held from the take to the last write: a flush that finds nothing pending because
        // another one (the reporter thread's) has just taken it returns only after that one
        // has written it. The invocation's flush then really is done before `/next`, and a
        // process that exits right after its last flush (the stand-by supervisor) loses
        // nothing.
        let mut out = self.out.lock().unwrap_or_else(|p| p.into_inner());
        self.collect_settled();
        let take: Vec<Event> = {
            let mut p = self.lock();
            let Pending {
                order,
                events,
                finished,
            } = &mut *p;
            let mut out = Vec::new();
            order.retain(|k| {
                let e = &events[k];
                let mine = match request_id {
                    None => true,
                    Some(id) => {
                        e.request_id == id
                            || e.request_id == "unknown"
                            || finished.iter().any(|f| *f == e.request_id)
                    }
                };
                if mine {
                    out.push(events.remove(k).expect("key in order is in map"));
                }
                !mine
            });
            if let Some(id) = request_id {
                finished.push_back(id.to_owned());
                if finished.len() > FINISHED_MAX {
                    finished.pop_front();
                }
            }
            out
        };
        let wipe = self.wipe.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut summary = FlushSummary::default();
        if take.is_empty() && wipe.is_none() {
            return summary;
        }
        for e in &take {
            match e.action {
                Action::Blocked => summary.blocked += 1,
                Action::Alerted => summary.alerted += 1,
            }
            // A first occurrence already written early is not repeated unless the count adds
            // something (see `durable`).
            if self.sinks.json && !(e.early && e.count == 1) {
                let _ = writeln!(out, "{}", json_line(e));
            }
            if self.sinks.tracing {
                sink::trace(e);
            }
            if let Some(cb) = &self.callback {
                // A panicking user callback must not take the function down.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| cb(e)));
            }
        }
        if self.sinks.emf {
            // One line per attribution, in order of first appearance.
            let mut ids: Vec<&str> = Vec::new();
            for e in &take {
                if !ids.contains(&e.request_id.as_str()) {
                    ids.push(&e.request_id);
                }
            }
            if let Some((id, _)) = &wipe {
                if !ids.contains(&id.as_str()) {
                    ids.push(id);
                }
            }
            let now = SystemTime::now();
            for id in ids {
                let events: Vec<Event> = take
                    .iter()
                    .filter(|e| e.request_id == id)
                    .cloned()
                    .collect();
                let figures = wipe.as_ref().filter(|(w, _)| w == id).map(|(_, f)| f);
                let line = emf_line(
                    &self.emf_namespace,
                    &self.function_name,
                    id,
                    &events,
                    figures,
                    now,
                );
                let _ = writeln!(out, "{line}");
            }
        }
        let _ = out.flush();
        summary
    }
}

use std::io::Write as _;

/// Stdout written with plain `write` system calls (no lock: see [`Reporter::for_forked_child`]):
/// the shield's duplicate of it once installed ([`durable::report_fd`](super::durable::report_fd)), fd 1 before.
struct RawStdout;

impl std::io::Write for RawStdout {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        // A function that sets O_NONBLOCK on its stdout sets it on the shield's duplicate too
        // (one open file description): wait for room, bounded, rather than drop the line.
        let mut budget_ms = super::durable::WAIT_BUDGET_MS;
        loop {
            let fd = super::durable::report_fd();
            let r = crate::sys::syscall(
                libc::SYS_write,
                [fd as u64, b.as_ptr() as u64, b.len() as u64, 0, 0, 0],
            );
            if r == -(libc::EINTR as i64)
                || (r == -(libc::EAGAIN as i64)
                    && super::durable::wait_writable(fd, &mut budget_ms))
                || (r == -(libc::EBADF as i64) && super::durable::fall_back_to_stdout())
            {
                continue;
            }
            return if r < 0 {
                Err(std::io::Error::from_raw_os_error(-r as i32))
            } else {
                Ok(r as usize)
            };
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
