//! Symbolized panic backtraces without a `read_handler` violation.
//!
//! With `RUST_BACKTRACE=1`, std's panic hook symbolizes the backtrace by reading the running
//! binary (through `/proc/self/exe`), which `read_handler` refuses: the panic printed an empty
//! backtrace and looked like an attack. The shield installs its own panic hook instead (it
//! wraps the one in place at install time):
//!
//! - the panicking thread captures the frames (addresses only; nothing is read);
//! - the shield's own symbolizer thread, started at install with every signal but the
//!   shield's SIGSYS (and the C library's setxid signal) blocked and
//!   running nothing but std's symbolizer, turns them into text, exempt from the policies;
//! - the panicking thread prints the message and the backtrace to stderr the way std does.
//!
//! User code never runs exempt and never gets a descriptor of the binary: the exemption
//! belongs to a thread that runs no user code and no signal handler, and the request it
//! takes is a captured `Backtrace` (frames of the panicking thread), nothing else. Handler
//! code that opens `/proc/self/exe`, or formats a `std::backtrace::Backtrace` itself, is user
//! code reading the binary and is decided by `read_handler` like any other read. A hook set
//! after the shield's replaces it and symbolizes on the panicking thread, which is refused.
//! Residual: code that panics on purpose gets its frames' symbol names (not the binary) in
//! the function's own log. A process forked without exec has no symbolizer thread: its
//! panics print their message at once with the backtrace marked not symbolized (they waited
//! 10 s for an answer before).

use std::backtrace::{Backtrace, BacktraceStatus};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

type Request = (Backtrace, Sender<String>);

static SYMBOLIZER: OnceLock<Mutex<Sender<Request>>> = OnceLock::new();

/// The process whose symbolizer thread [`SYMBOLIZER`] reaches. A process forked from it has
/// the channel but not the thread (threads do not survive `fork`): a panic there would wait
/// [`WAIT`] for an answer that never comes.
static OWNER: AtomicU32 = AtomicU32::new(0);

fn getpid() -> u32 {
    crate::sys::syscall(libc::SYS_getpid, [0; 6]) as u32
}

thread_local! {
    static IS_SYMBOLIZER: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// How long a panicking thread waits for its backtrace before printing it unresolved.
const WAIT: Duration = Duration::from_secs(10);

/// Start the symbolizer thread and install the panic hook. Once per process; later calls do
/// nothing.
pub(crate) fn install() {
    if SYMBOLIZER.get().is_some() {
        return;
    }
    let (tx, rx) = channel::<Request>();
    let started = std::thread::Builder::new()
        .name("fnshield-symbolize".into())
        .spawn(move || {
            // No user signal handler ever runs here. SIGSYS stays deliverable: the symbolizer
            // makes ordinary (trapped) syscalls, and a trap with SIGSYS blocked kills the
            // process; its only handler is the shield's (rt_sigaction(SIGSYS) is refused).
            let mask: u64 = !(1u64 << (libc::SIGSYS - 1) | crate::sys::sigsys::LIBC_SETXID_BIT);
            crate::sys::syscall(
                libc::SYS_rt_sigprocmask,
                [
                    libc::SIG_SETMASK as u64,
                    &mask as *const u64 as u64,
                    0,
                    8,
                    0,
                    0,
                ],
            );
            IS_SYMBOLIZER.with(|s| s.set(true));
            while let Ok((bt, reply)) = rx.recv() {
                let text = super::shared::exempt(|| bt.to_string());
                let _ = reply.send(text);
            }
        });
    if started.is_err() || SYMBOLIZER.set(Mutex::new(tx)).is_err() {
        return;
    }
    OWNER.store(getpid(), Ordering::Release);
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let wanted = std::env::var_os("RUST_BACKTRACE").is_some_and(|v| v != "0");
        if !wanted || IS_SYMBOLIZER.with(|s| s.get()) {
            return previous(info);
        }
        let bt = Backtrace::force_capture();
        if bt.status() != BacktraceStatus::Captured {
            return previous(info);
        }
        let text = symbolize(bt);
        let thread = std::thread::current();
        let name = thread.name().unwrap_or("<unnamed>");
        let payload = info.payload();
        let msg = payload
            .downcast_ref::<&str>()
            .copied()
            .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
            .unwrap_or("Box<dyn Any>");
        let at = info
            .location()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        eprintln!("\nthread '{name}' panicked{at}:\n{msg}\nstack backtrace:\n{text}");
    }));
}

/// The backtrace as text, symbolized by the symbolizer thread; unresolved (addresses) if that
/// thread does not answer in time. In a forked child, which has no symbolizer thread (and in
/// which reading the binary is refused as in its parent), at once: not symbolized.
fn symbolize(bt: Backtrace) -> String {
    if getpid() != OWNER.load(Ordering::Acquire) {
        return "      (a forked child: the shield's symbolizer runs in its parent process; \
                backtrace not symbolized)"
            .to_owned();
    }
    let (reply, answer) = channel();
    let sent = match SYMBOLIZER.get().map(|m| m.lock()) {
        Some(Ok(tx)) => tx.send((bt, reply)).is_ok(),
        _ => false,
    };
    match sent.then(|| answer.recv_timeout(WAIT)) {
        Some(Ok(text)) => text,
        _ => "      (the shield's symbolizer did not answer; backtrace not symbolized)".to_owned(),
    }
}
