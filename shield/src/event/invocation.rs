//! Which invocation an event belongs to.
//!
//! Attribution rules, in order:
//! 1. an event carries the request id of the invocation whose handler future the thread was
//!    polling when the syscall happened (a thread-local set around every poll);
//! 2. otherwise, when exactly one invocation is in flight, the event is attributed to it (this
//!    covers `spawn_blocking`, helper threads and child processes);
//! 3. otherwise the request id is `unknown`.
//!
//! The read side ([`current_request_id`]) is async-signal-safe: a const-initialised
//! thread-local and atomics, guarded by a per-slot generation counter so that a request id
//! being replaced while it is read is reported as `unknown`, never torn.
//!
//! The notify supervisor decides calls on behalf of other threads, so the thread-local says
//! nothing there: every thread that polls a bound future also publishes what it is polling
//! in a fixed table by thread id ([`THREADS`] entries), and [`request_id_of_thread`] applies
//! rule 1 for the thread the notification names. A thread that finds the table full is not
//! published (rules 2 and 3 apply to it under notify); an exiting thread frees its entry.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::task::{Context, Poll};

/// Invocations that can be attributed at once; more than this in flight are `unknown`.
pub const SLOTS: usize = 64;
/// Longest request id kept (Lambda's are 36 characters).
pub const ID_MAX: usize = 64;

struct Slot {
    /// Even: free or stable. Odd: being written.
    gen: AtomicU32,
    busy: AtomicU8,
    len: AtomicU8,
    id: [AtomicU64; ID_MAX / 8],
}

impl Slot {
    const fn new() -> Self {
        Slot {
            gen: AtomicU32::new(0),
            busy: AtomicU8::new(0),
            len: AtomicU8::new(0),
            id: [const { AtomicU64::new(0) }; ID_MAX / 8],
        }
    }
}

static TABLE: [Slot; SLOTS] = [const { Slot::new() }; SLOTS];
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Slot index + 1 of the invocation this thread is polling; 0 when none.
    static CURRENT: Cell<u16> = const { Cell::new(0) };
    /// This thread's entry in [`BY_THREAD`] (see [`Published`]).
    static PUBLISHED: Published = const { Published(Cell::new(UNCLAIMED)) };
}

/// Threads whose polled invocation is published for the notify supervisor.
pub const THREADS: usize = 256;

/// One published thread: its id (0: free) and the tag it is polling (0: none).
struct ThreadTag {
    tid: AtomicU32,
    tag: AtomicU32,
}

static BY_THREAD: [ThreadTag; THREADS] = [const {
    ThreadTag {
        tid: AtomicU32::new(0),
        tag: AtomicU32::new(0),
    }
}; THREADS];

const UNCLAIMED: usize = usize::MAX;
/// The table was full when this thread first polled: not published.
const NO_ENTRY: usize = usize::MAX - 1;

/// A thread's entry in [`BY_THREAD`]; freed when the thread exits.
struct Published(Cell<usize>);

impl Drop for Published {
    fn drop(&mut self) {
        if let Some(e) = BY_THREAD.get(self.0.get()) {
            e.tag.store(0, Ordering::Release);
            e.tid.store(0, Ordering::Release);
        }
    }
}

/// Publish that the calling thread now polls `tag` (0: nothing).
fn publish(tag: u16) {
    let _ = PUBLISHED.try_with(|p| {
        let mut i = p.0.get();
        if i == UNCLAIMED {
            let tid = crate::sys::syscall(libc::SYS_gettid, [0; 6]) as u32;
            // An entry left with this id by a thread that exited without freeing it (its id
            // reused) is this thread's now; otherwise the first free one.
            i = BY_THREAD
                .iter()
                .position(|e| e.tid.load(Ordering::Acquire) == tid)
                .or_else(|| {
                    BY_THREAD.iter().position(|e| {
                        e.tid
                            .compare_exchange(0, tid, Ordering::AcqRel, Ordering::Relaxed)
                            .is_ok()
                    })
                })
                .unwrap_or(NO_ENTRY);
            p.0.set(i);
        }
        if let Some(e) = BY_THREAD.get(i) {
            e.tag.store(u32::from(tag), Ordering::Release);
        }
    });
}

/// An invocation in flight. Dropping it ends the invocation.
#[derive(Debug)]
pub struct InvocationGuard {
    slot: Option<usize>,
}

/// Register an invocation. Attribution is best-effort past [`SLOTS`] concurrent invocations.
pub fn begin(request_id: &str) -> InvocationGuard {
    IN_FLIGHT.fetch_add(1, Ordering::AcqRel);
    for (i, s) in TABLE.iter().enumerate() {
        if s.busy
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            s.gen.fetch_add(1, Ordering::AcqRel); // odd: writing
            let b = request_id.as_bytes();
            let n = b.len().min(ID_MAX);
            let mut padded = [0u8; ID_MAX];
            padded[..n].copy_from_slice(&b[..n]);
            for (w, chunk) in s.id.iter().zip(padded.chunks_exact(8)) {
                let mut c = [0u8; 8];
                c.copy_from_slice(chunk);
                w.store(u64::from_le_bytes(c), Ordering::Relaxed);
            }
            s.len.store(n as u8, Ordering::Relaxed);
            s.gen.fetch_add(1, Ordering::AcqRel); // even: stable
            return InvocationGuard { slot: Some(i) };
        }
    }
    InvocationGuard { slot: None }
}

impl InvocationGuard {
    /// Run `fut` with this invocation bound to every thread that polls it.
    pub fn bind<F: Future>(&self, fut: F) -> Bound<F> {
        Bound {
            inner: Box::pin(fut),
            tag: self.slot.map_or(0, |s| s as u16 + 1),
        }
    }
}

impl Drop for InvocationGuard {
    fn drop(&mut self) {
        if let Some(i) = self.slot {
            let s = &TABLE[i];
            s.gen.fetch_add(1, Ordering::AcqRel);
            s.len.store(0, Ordering::Relaxed);
            s.gen.fetch_add(1, Ordering::AcqRel);
            s.busy.store(0, Ordering::Release);
        }
        IN_FLIGHT.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A future that marks its thread as working for one invocation while it is polled.
pub struct Bound<F> {
    inner: Pin<Box<F>>,
    tag: u16,
}

impl<F: Future> Future for Bound<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let tag = self.tag;
        let prev = CURRENT.with(|c| c.replace(tag));
        publish(tag);
        struct Restore(u16);
        impl Drop for Restore {
            fn drop(&mut self) {
                let p = self.0;
                CURRENT.with(|c| c.set(p));
                publish(p);
            }
        }
        let _restore = Restore(prev);
        self.inner.as_mut().poll(cx)
    }
}

fn read_slot(i: usize, out: &mut [u8; ID_MAX]) -> usize {
    // `i` comes from a thread-local, which user code can point anywhere (its thread pointer).
    let Some(s) = TABLE.get(i) else {
        return 0;
    };
    let g1 = s.gen.load(Ordering::Acquire);
    if g1 & 1 == 1 || s.busy.load(Ordering::Acquire) == 0 {
        return 0;
    }
    let n = s.len.load(Ordering::Relaxed) as usize;
    for (k, w) in s.id.iter().enumerate() {
        out[k * 8..k * 8 + 8].copy_from_slice(&w.load(Ordering::Relaxed).to_le_bytes());
    }
    if s.gen.load(Ordering::Acquire) != g1 {
        return 0;
    }
    n.min(ID_MAX)
}

/// Copy the request id the calling thread's events belong to into `out`; returns its length,
/// 0 meaning `unknown`.
///
/// Async-signal-safe.
pub fn current_request_id(out: &mut [u8; ID_MAX]) -> usize {
    let tag = CURRENT.try_with(|c| c.get()).unwrap_or(0);
    if tag != 0 {
        return read_slot(tag as usize - 1, out);
    }
    if IN_FLIGHT.load(Ordering::Acquire) == 1 {
        return only_one(out);
    }
    0
}

/// [`current_request_id`] for thread `tid` of this process, asked from another thread (the
/// notify supervisor): the invocation `tid` is polling if it published one, else rules 2
/// and 3. Async-signal-safe.
pub fn request_id_of_thread(tid: u32, out: &mut [u8; ID_MAX]) -> usize {
    if tid != 0 {
        if let Some(e) = BY_THREAD
            .iter()
            .find(|e| e.tid.load(Ordering::Acquire) == tid)
        {
            let tag = e.tag.load(Ordering::Acquire);
            if tag != 0 {
                return read_slot(tag as usize - 1, out);
            }
        }
    }
    if IN_FLIGHT.load(Ordering::Acquire) == 1 {
        return only_one(out);
    }
    0
}

/// Rule 2: the request id of the one invocation in flight (0 if there is not exactly one).
fn only_one(out: &mut [u8; ID_MAX]) -> usize {
    let mut found = None;
    for (i, s) in TABLE.iter().enumerate() {
        if s.busy.load(Ordering::Acquire) == 1 {
            if found.is_some() {
                return 0;
            }
            found = Some(i);
        }
    }
    match found {
        Some(i) => read_slot(i, out),
        None => 0,
    }
}

/// Invocations currently in flight.
pub fn in_flight() -> usize {
    IN_FLIGHT.load(Ordering::Acquire)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn current() -> String {
        let mut b = [0u8; ID_MAX];
        let n = current_request_id(&mut b);
        String::from_utf8_lossy(&b[..n]).into_owned()
    }

    // One test: the table is process-global.
    #[test]
    fn attribution_rules() {
        assert_eq!(current(), "");
        let a = begin("req-a");
        // Exactly one in flight: any thread gets it.
        assert_eq!(std::thread::spawn(current).join().unwrap(), "req-a");
        let b = begin("req-b");
        assert_eq!(std::thread::spawn(current).join().unwrap(), "");
        // Polled futures see their own invocation.
        let fa = a.bind(async { current() });
        let fb = b.bind(async { current() });
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        assert_eq!(rt.block_on(fa), "req-a");
        assert_eq!(rt.block_on(fb), "req-b");
        // Asked from another thread (the notify supervisor) for the polling thread.
        let of = |tid: u32| {
            let mut b = [0u8; ID_MAX];
            let n = request_id_of_thread(tid, &mut b);
            String::from_utf8_lossy(&b[..n]).into_owned()
        };
        let fb = b.bind(async {
            let tid = crate::sys::syscall(libc::SYS_gettid, [0; 6]) as u32;
            std::thread::spawn(move || of(tid)).join().unwrap()
        });
        assert_eq!(rt.block_on(fb), "req-b");
        let me = crate::sys::syscall(libc::SYS_gettid, [0; 6]) as u32;
        assert_eq!(of(me), "", "not polling any more");
        assert_eq!(current(), "");
        drop(a);
        assert_eq!(std::thread::spawn(current).join().unwrap(), "req-b");
        drop(b);
        assert_eq!(current(), "");
        assert_eq!(in_flight(), 0);
    }
}
