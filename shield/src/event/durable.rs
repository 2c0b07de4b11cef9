//! Durable first occurrences (issue 13, kind 9): the first occurrence of each violation is
//! written to stdout as its JSON event line *before the violating call returns*, from the
//! signal handler or the supervisor that decided it. A process that is then SIGKILLed, calls
//! `_exit`, or is ended by Lambda at its timeout has still reported what it tried.
//!
//! Everything here is async-signal-safe: no allocation, no lock. "First" is per violation and
//! invocation (the fold key of [`Event`](super::Event): policy, action, syscall, details,
//! request id), remembered as a 64-bit hash in a fixed lock-free table of [`SLOTS`] entries;
//! when a key's neighbourhood is full, the key replaces an older one (which may then be
//! written early once more), so a full table never silences a first occurrence.
//!
//! The early line has the fields of [`json_line`](super::sink::json_line), in the same order,
//! plus `"early": true`, with `"count": 1`. At the flush, an event whose first occurrence was written early is printed
//! again only if it occurred more than once, with its full count: that line supersedes the
//! early one. An early line too long for its buffer is written with its texts cut and
//! `"truncated": true`, and the whole event is printed at the flush as well.

use super::record::{Record, RecordKind};
use crate::policy::path::Access;
use crate::policy::PolicyKind;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::OnceLock;

/// Distinct violations remembered.
pub const SLOTS: usize = 4096;

static ENABLED: AtomicBool = AtomicBool::new(false);
static FUNCTION_NAME: OnceLock<Box<str>> = OnceLock::new();
static SEEN: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];

/// Where early lines go: stdout, or a non-blocking open file description of the same pipe.
static OUT_FD: AtomicI32 = AtomicI32::new(1);
/// Stdout is a socket: early lines are sent with `MSG_DONTWAIT`.
static OUT_SOCKET: AtomicBool = AtomicBool::new(false);

/// The shield's own duplicate of the stdout the function had at install (-1: none; the
/// reporter then writes to fd 1). See [`enable`].
static REPORT_FD: AtomicI32 = AtomicI32::new(-1);

/// Turn early lines on (the `json` sink is configured), naming the function in them.
///
/// Early lines and the reporter's lines go to the shield's own duplicates of the stdout the
/// function had at install, never to whatever fd 1 is when they are written: a function that
/// `dup2`s `/dev/null` (or a pipe nobody reads) over fd 1, or closes it, and then violates and
/// `_exit`s, hid its first occurrence (issue 13 kind 9). The duplicates live in the reserved
/// descriptor range (`sys::held::HELD_FROM`) where one is reserved: while a policy blocks, the
/// filter refuses every `dup2`/`dup3`/`fcntl(F_DUPFD*)` onto them and every `close` of them
/// from the function, so a scan of its file table cannot blind them either. Where no range is
/// reserved (alert-only policies, and the libc layer alone: it does not guard descriptors) the
/// duplicates are still private, so `dup2` over fd 1 or `close(1)` does not hide events, but a
/// function that finds them by number can replace them (the README's residuals).
pub(crate) fn enable(function_name: &str) {
    let _ = FUNCTION_NAME.set(function_name.into());
    if REPORT_FD.load(Ordering::Acquire) < 0 {
        pick_output();
    }
    ENABLED.store(true, Ordering::Release);
}

/// The shield's duplicates of stdout were closed (only where the filter does not guard them:
/// alert-only, the libc layer alone; e.g. by `closefrom(3)`): write to fd 1 from now on rather
/// than lose every line. True if there was a duplicate to give up (the write is worth retrying).
pub(crate) fn fall_back_to_stdout() -> bool {
    let had = REPORT_FD.swap(-1, Ordering::AcqRel) >= 0;
    had | (OUT_FD.swap(1, Ordering::AcqRel) != 1)
}

/// The fd the reporter writes its lines to: the shield's blocking duplicate of stdout, or 1.
pub(crate) fn report_fd() -> i32 {
    match REPORT_FD.load(Ordering::Acquire) {
        fd if fd >= 0 => fd,
        _ => 1,
    }
}

/// Early lines must never wait for a stdout that does not drain (a full pipe nobody reads):
/// under notify the supervisor writes them for every thread, and a blocked write would stall
/// every notified call. A pipe or FIFO gets a private non-blocking open file description
/// (`/proc/self/fd/1` reopened with `O_NONBLOCK`, so the function's own description keeps its
/// flags); a socket is written with `MSG_DONTWAIT`. A line that cannot be written at once is
/// not early: it reaches stdout at the next flush, from the reporter thread.
fn pick_output() {
    // The reporter's duplicate: the same open file description as fd 1 (blocking as stdout
    // is), at a number the function does not choose.
    let dup = dup_high(1);
    if dup >= 0 {
        REPORT_FD.store(dup as i32, Ordering::Release);
        OUT_FD.store(dup as i32, Ordering::Release);
    }
    // A kernel `struct stat`: st_mode at byte 24 on x86_64, 16 on aarch64.
    #[cfg(target_arch = "x86_64")]
    const MODE_AT: usize = 24;
    #[cfg(target_arch = "aarch64")]
    const MODE_AT: usize = 16;
    let mut sb = [0u8; 256];
    if crate::sys::syscall(libc::SYS_fstat, [1, sb.as_mut_ptr() as u64, 0, 0, 0, 0]) < 0 {
        return;
    }
    let mode = u32::from_ne_bytes([
        sb[MODE_AT],
        sb[MODE_AT + 1],
        sb[MODE_AT + 2],
        sb[MODE_AT + 3],
    ]);
    match mode & libc::S_IFMT {
        libc::S_IFIFO => {
            let path = b"/proc/self/fd/1\0";
            let fd = crate::sys::syscall(
                libc::SYS_openat,
                [
                    libc::AT_FDCWD as i64 as u64,
                    path.as_ptr() as u64,
                    (libc::O_WRONLY | libc::O_NONBLOCK | libc::O_CLOEXEC) as u64,
                    0,
                    0,
                    0,
                ],
            );
            let fd = if fd >= 0 {
                let high = dup_high(fd);
                crate::sys::syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
                high
            } else {
                fd
            };
            if fd >= 0 {
                OUT_FD.store(fd as i32, Ordering::Release);
            }
        }
        libc::S_IFSOCK => OUT_SOCKET.store(true, Ordering::Release),
        _ => {}
    }
}

/// A close-on-exec duplicate of `fd` in the reserved descriptor range, or, where none is
/// reserved, at the first free number from 3/4 of the soft `RLIMIT_NOFILE` (out of the way of
/// the numbers the function's own opens get, as with no shield); `-errno` on failure.
fn dup_high(fd: i64) -> i64 {
    let mut base = i64::from(crate::sys::held::held_from());
    if base <= 0 {
        let mut lim = [0u64; 2];
        let r = crate::sys::syscall(
            libc::SYS_prlimit64,
            [
                0,
                libc::RLIMIT_NOFILE as u64,
                0,
                lim.as_mut_ptr() as u64,
                0,
                0,
            ],
        );
        base = if r == 0 {
            (lim[0].min(1 << 20) as i64) / 4 * 3
        } else {
            0
        };
    }
    crate::sys::syscall(
        libc::SYS_fcntl,
        [
            fd as u64,
            libc::F_DUPFD_CLOEXEC as u64,
            base.max(0) as u64,
            0,
            0,
            0,
        ],
    )
}

/// The fd early lines are written to (1, or a private description of stdout).
pub(crate) fn out_fd() -> i32 {
    OUT_FD.load(Ordering::Acquire)
}

/// If `rec` is the first occurrence of its violation, write its line to stdout now and mark
/// the record (`rec.early`). Async-signal-safe.
pub(crate) fn first_occurrence(rec: &mut Record) {
    if !ENABLED.load(Ordering::Acquire) {
        return;
    }
    let h = key(rec);
    let Some(slot) = insert(h) else {
        return;
    };
    if !write_line(rec) {
        // Not written (stdout full, closed or failing): the next occurrence tries again, so
        // a function that makes one write fail does not silence the violation for good.
        let _ = SEEN[slot].compare_exchange(h, 0, Ordering::AcqRel, Ordering::Acquire);
    }
}

/// Bytes of each attacker-influenced text field (path or host, argv, process) kept in an
/// early line that does not fit whole: at worst six bytes each once escaped, and the path
/// appears three times (details and twice in `how_to_allow`), so 32 keeps every line within
/// [`LINE_MAX`].
const CUT_TEXT: u16 = 32;

/// Write `rec`'s early line; true if all of it was written. `rec.early` is set when the line
/// written is the whole event. A line that does not fit [`LINE_MAX`] (long paths or
/// arguments full of bytes JSON escapes as six: `\u0001`) is written with each text field
/// cut to [`CUT_TEXT`] bytes and `"truncated": true`, and the whole event follows at the
/// flush: such a line used to be left for the flush alone, and a function that named its
/// violation so and then `_exit`ed hid it (issue 13 kind 9).
fn write_line(rec: &mut Record) -> bool {
    let mut line = Line {
        buf: [0; LINE_MAX],
        n: 0,
        full: false,
    };
    format(&mut line, rec);
    let whole = !line.full;
    if !whole {
        let mut cut = *rec;
        cut.text_len = cut.text_len.min(CUT_TEXT);
        cut.argv_len = cut.argv_len.min(CUT_TEXT);
        cut.exe_len = cut.exe_len.min(CUT_TEXT as _);
        cut.truncated = true;
        line = Line {
            buf: [0; LINE_MAX],
            n: 0,
            full: false,
        };
        format(&mut line, &cut);
        if line.full {
            return false;
        }
    }
    line.push(b"\n");
    let mut at = 0;
    let mut budget_ms = WAIT_BUDGET_MS;
    let mut tries = 0;
    while tries < 16 + WAIT_BUDGET_MS / 100 {
        tries += 1;
        if at >= line.n {
            break;
        }
        let (nr, flags) = if OUT_SOCKET.load(Ordering::Acquire) {
            (
                libc::SYS_sendto,
                (libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) as u64,
            )
        } else {
            (libc::SYS_write, 0)
        };
        let r = crate::sys::syscall(
            nr,
            [
                OUT_FD.load(Ordering::Acquire) as u64,
                line.buf[at..].as_ptr() as u64,
                (line.n - at) as u64,
                flags,
                0,
                0,
            ],
        );
        if r == -(libc::EINTR as i64) {
            continue;
        }
        if r == -(libc::EAGAIN as i64) && wait_writable(out_fd(), &mut budget_ms) {
            continue;
        }
        if r == -(libc::EBADF as i64) && fall_back_to_stdout() {
            continue;
        }
        if r <= 0 {
            return false;
        }
        at += r as usize;
    }
    rec.early = whole && at >= line.n;
    at >= line.n
}

/// How long one early line may wait, in all, for a full stdout to drain (milliseconds).
pub(crate) const WAIT_BUDGET_MS: i64 = 2000;

/// Wait (bounded by what is left of `budget_ms`) until `fd` can take a write;
/// false when the budget is spent. A function that fills stdout (a thread writing without
/// end) while it violates made every early write fail with EAGAIN, and the line waited for a
/// flush that an `_exit` never reached (issue 13 kind 9): the first occurrence now waits for
/// room, as a blocking write would, but never for more than [`WAIT_BUDGET_MS`] per line, so a
/// stdout nobody reads cannot stall the caller (or, under notify, the supervisor) for ever.
pub(crate) fn wait_writable(fd: i32, budget_ms: &mut i64) -> bool {
    if *budget_ms <= 0 {
        return false;
    }
    let step = (*budget_ms).min(100);
    *budget_ms -= step;
    let mut p = [libc::pollfd {
        fd,
        events: libc::POLLOUT,
        revents: 0,
    }];
    let r = crate::sys::poll(&mut p, step);
    // Ready, timed out (the write is tried again) or interrupted: go on while budget remains;
    // an error of the fd itself (EBADF, EFAULT, ...) ends the wait.
    r >= 0 || r == -(libc::EINTR as i64)
}

/// FNV-1a over the fields of the fold key. Never 0 (0 marks a free slot).
fn key(r: &Record) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    eat(&[r.policy, r.blocked as u8, r.kind as u8, r.access, r.family]);
    eat(&r.syscall.to_le_bytes());
    eat(&r.ip);
    eat(&r.port.to_le_bytes());
    eat(&r.text[..r.text_len as usize]);
    eat(&r.argv[..r.argv_len as usize]);
    eat(&r.request_id[..r.request_id_len as usize]);
    h.max(1)
}

/// Insert `h`; its slot if it was not there. Bounded linear probing, lock-free.
///
/// When the probed slots are all taken, `h` replaces the first of them (a cache, not a set):
/// the table keys include the request id, so a warm container filled it after 4096 distinct
/// violations over its invocations, and a function could fill it on purpose with 4096 junk
/// violations; past that no first occurrence was written early, and the violation that
/// mattered died with the process (issue 13 kind 9). A forgotten key only means a line may be
/// written early again, never that one is not.
fn insert(h: u64) -> Option<usize> {
    let start = (h as usize) % SLOTS;
    for i in 0..PROBES {
        let at = (start + i) % SLOTS;
        match SEEN[at].compare_exchange(0, h, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Some(at),
            Err(cur) if cur == h => return None,
            Err(_) => {}
        }
    }
    SEEN[start].store(h, Ordering::Release);
    Some(start)
}

/// Slots probed from a key's home slot.
const PROBES: usize = 64;

const LINE_MAX: usize = 2048;

/// A line being built in a fixed buffer.
struct Line {
    buf: [u8; LINE_MAX],
    n: usize,
    full: bool,
}

impl Line {
    fn push(&mut self, b: &[u8]) {
        if self.n + b.len() > LINE_MAX {
            self.full = true;
            return;
        }
        self.buf[self.n..self.n + b.len()].copy_from_slice(b);
        self.n += b.len();
    }

    /// A JSON string (quoted, escaped; invalid UTF-8 becomes U+FFFD, as `from_utf8_lossy`).
    fn string(&mut self, bytes: &[u8]) {
        self.push(b"\"");
        for chunk in bytes.utf8_chunks() {
            for c in chunk.valid().chars() {
                match c {
                    '"' => self.push(b"\\\""),
                    '\\' => self.push(b"\\\\"),
                    '\n' => self.push(b"\\n"),
                    '\r' => self.push(b"\\r"),
                    '\t' => self.push(b"\\t"),
                    c if (c as u32) < 0x20 => {
                        let _ = write!(self, "\\u{:04x}", c as u32);
                    }
                    c => {
                        let mut b = [0u8; 4];
                        self.push(c.encode_utf8(&mut b).as_bytes());
                    }
                }
            }
            if !chunk.invalid().is_empty() {
                self.push("\u{fffd}".as_bytes());
            }
        }
        self.push(b"\"");
    }
}

impl std::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

fn format(w: &mut Line, r: &Record) {
    let blocked = r.blocked;
    w.push(b"{\"function_shield\":true,\"level\":");
    w.push(if blocked { b"\"ERROR\"" } else { b"\"WARN\"" });
    w.push(b",\"policy\":");
    w.string(PolicyKind::from_u8(r.policy).as_str().as_bytes());
    w.push(if blocked {
        b",\"mode\":\"block\",\"action\":\"blocked\",\"details\":{"
    } else {
        b",\"mode\":\"alert\",\"action\":\"alerted\",\"details\":{"
    });
    let text = &r.text[..r.text_len as usize];
    match r.kind {
        RecordKind::Path => {
            w.push(b"\"path\":");
            w.string(text);
            w.push(b",\"access\":\"");
            w.push(Access::from_code(r.access).name().as_bytes());
            w.push(b"\"");
        }
        RecordKind::Net => {
            if !text.is_empty() {
                w.push(b"\"host\":");
                w.string(text);
                w.push(b",");
            }
            let ip: std::net::IpAddr = if r.family == 6 {
                std::net::Ipv6Addr::from(r.ip).into()
            } else {
                std::net::Ipv4Addr::new(r.ip[0], r.ip[1], r.ip[2], r.ip[3]).into()
            };
            let _ = write!(w, "\"ip\":\"{ip}\",\"port\":{}", r.port);
        }
        RecordKind::Exec => {
            w.push(b"\"path\":");
            w.string(text);
            w.push(b",\"argv\":[");
            if r.argv_len > 0 {
                for (i, a) in r.argv[..r.argv_len as usize].split(|&b| b == 0).enumerate() {
                    if i > 0 {
                        w.push(b",");
                    }
                    w.string(a);
                }
            }
            w.push(b"]");
        }
        RecordKind::Fork => {}
        RecordKind::Bypass => {
            w.push(b"\"what\":");
            w.string(text);
        }
    }
    w.push(b"},\"timestamp\":\"");
    timestamp(w, r.timestamp_ns);
    w.push(b"\",\"request_id\":");
    if r.request_id_len == 0 {
        w.push(b"\"unknown\"");
    } else {
        w.string(&r.request_id[..r.request_id_len as usize]);
    }
    w.push(b",\"function_name\":");
    w.string(FUNCTION_NAME.get().map_or(&b""[..], |n| n.as_bytes()));
    if r.syscall >= 0 {
        w.push(b",\"syscall\":\"");
        w.push(crate::syscall_name(i64::from(r.syscall)).as_bytes());
        w.push(b"\"");
    }
    let _ = write!(w, ",\"pid\":{}", r.pid);
    if r.exe_len > 0 {
        w.push(b",\"process\":");
        w.string(&r.exe[..r.exe_len as usize]);
    }
    w.push(b",\"count\":1");
    if r.truncated {
        w.push(b",\"truncated\":true");
    }
    let mut h = Line {
        buf: [0; LINE_MAX],
        n: 0,
        full: false,
    };
    how_to_allow(&mut h, r);
    w.push(b",\"how_to_allow\":");
    w.string(&h.buf[..h.n]);
    w.full |= h.full;
    w.push(b",\"early\":true}");
}

/// [`Event::how_to_allow`](super::Event::how_to_allow), written without allocating.
fn how_to_allow(h: &mut Line, r: &Record) {
    let text = &r.text[..r.text_len as usize];
    match r.kind {
        RecordKind::Net => {
            let mut d = Line {
                buf: [0; LINE_MAX],
                n: 0,
                full: false,
            };
            if !text.is_empty() {
                d.push(text);
                let _ = write!(d, ":{}", r.port);
            } else if r.family == 6 {
                let _ = write!(d, "[{}]:{}", std::net::Ipv6Addr::from(r.ip), r.port);
            } else {
                let _ = write!(
                    d,
                    "{}:{}",
                    std::net::Ipv4Addr::new(r.ip[0], r.ip[1], r.ip[2], r.ip[3]),
                    r.port
                );
            }
            let dest = &d.buf[..d.n];
            h.push(b"add \"");
            h.push(dest);
            h.push(b"\" to outbound_connectivity.allow (builder: .allow_destination(\"");
            h.push(dest);
            h.push(b"\"))");
        }
        RecordKind::Path
            if PolicyKind::from_u8(r.policy) == PolicyKind::ReadWriteTmp
                && !Access::from_code(r.access).writes()
                && super::is_tmp_root(text) =>
        {
            h.push(super::TMP_ROOT_READ_HINT.as_bytes());
        }
        RecordKind::Path if PolicyKind::from_u8(r.policy) == PolicyKind::ReadWriteTmp => {
            let (key, call): (&[u8], &[u8]) = if Access::from_code(r.access).writes() {
                (b"read_write_tmp.allow_write", b"allow_tmp_write")
            } else {
                (b"read_write_tmp.allow_read", b"allow_tmp_read")
            };
            h.push(b"add \"");
            h.push(text);
            h.push(b"\" or a parent directory to ");
            h.push(key);
            h.push(b" (builder: .");
            h.push(call);
            h.push(b"(\"");
            h.push(text);
            h.push(b"\"))");
        }
        RecordKind::Path => h.push(b"set read_handler.mode = \"allow\" (builder: .read_handler(Mode::Allow); env: SHIELD_POLICY_READ_HANDLER=allow); protected paths cannot be allowed one by one"),
        RecordKind::Exec => {
            h.push(b"add \"");
            h.push(text);
            h.push(b"\" to create_child_process.allow (builder: .allow_exec(\"");
            h.push(text);
            h.push(b"\"))");
        }
        RecordKind::Bypass if text.starts_with(b"DNS query for ") => {
            h.push(b"add \"");
            h.push(&text[b"DNS query for ".len()..]);
            h.push(b"\" to outbound_connectivity.allow (builder: .allow_destination(...)); under block, DNS queries are sent only for allowed names");
        }
        RecordKind::Bypass if text.starts_with(b"io_uring") || text.starts_with(b"a syscall through the 32-bit ABI") => h.push(b"io_uring and the 32-bit ABI are refused whenever a policy blocks (io_uring with ENOSYS, the 32-bit ABI killed); only alert-only mode lets them run, reported"),
        RecordKind::Bypass => h.push(b"raw and packet sockets, routing headers, source routes and unknown address families are refused under outbound_connectivity block; set outbound_connectivity.mode = \"alert\" or \"allow\" if the function needs them"),
        RecordKind::Fork => h.push(b"list the programs the function runs in create_child_process.allow (builder: .allow_exec(...)), or set create_child_process.mode = \"allow\""),
    }
}

/// RFC 3339 UTC with milliseconds, as the other sinks write it (civil-from-days, Howard
/// Hinnant's algorithm).
fn timestamp(w: &mut Line, ns: u64) {
    let secs = (ns / 1_000_000_000) as i64;
    let ms = (ns / 1_000_000) % 1000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if month <= 2 { y + 1 } else { y };
    let _ = write!(
        w,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{ms:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::{Action, Details, Event};

    fn line_of(rec: &Record) -> String {
        let mut l = Line {
            buf: [0; LINE_MAX],
            n: 0,
            full: false,
        };
        format(&mut l, rec);
        String::from_utf8(l.buf[..l.n].to_vec()).unwrap()
    }

    /// The same line as the json sink's, plus `"early": true`.
    fn same_as_sink(r: &Record) {
        let early = line_of(r);
        let full = super::super::sink::json_line(&Event::from_record(r, "fn"));
        let early_v: serde_json::Value = serde_json::from_str(&early).unwrap();
        let mut e = early_v.as_object().unwrap().clone();
        assert_eq!(e.remove("early"), Some(serde_json::json!(true)));
        let f: serde_json::Value = serde_json::from_str(&full).unwrap();
        assert_eq!(serde_json::Value::Object(e), f, "{early}\n{full}");
    }

    /// The early line carries what the flush line carries, for every kind of record.
    #[test]
    fn early_line_matches_the_json_sink() {
        let _ = FUNCTION_NAME.set("fn".into());
        let mut r = Record::new(PolicyKind::ReadHandler, true, RecordKind::Path, 257);
        r.set_text(b"/proc/self/environ \"\x01\xff");
        r.pid = 7;
        r.timestamp_ns = 1_795_000_000_123_000_000;
        same_as_sink(&r);
        let mut t = Record::new(PolicyKind::ReadWriteTmp, false, RecordKind::Path, 257);
        t.set_text(b"/tmp/a\\b");
        t.access = 2;
        t.request_id[..3].copy_from_slice(b"r-1");
        t.request_id_len = 3;
        same_as_sink(&t);
        let mut x = Record::new(PolicyKind::CreateChildProcess, true, RecordKind::Exec, 59);
        x.set_text(b"/bin/sh");
        x.push_arg(b"sh");
        x.push_arg(b"-c");
        x.exe[..8].copy_from_slice(b"/usr/bin");
        x.exe_len = 8;
        same_as_sink(&x);
        same_as_sink(&Record::new(
            PolicyKind::CreateChildProcess,
            true,
            RecordKind::Fork,
            56,
        ));
        let mut b = Record::new(
            PolicyKind::OutboundConnectivity,
            true,
            RecordKind::Bypass,
            44,
        );
        b.set_text(b"DNS query for evil.example");
        same_as_sink(&b);
        let mut v4 = Record::new(PolicyKind::OutboundConnectivity, true, RecordKind::Net, 42);
        v4.set_ip("127.0.0.2".parse().unwrap(), 80);
        same_as_sink(&v4);
        let mut v6 = Record::new(PolicyKind::OutboundConnectivity, true, RecordKind::Net, 42);
        v6.set_ip("2001:db8::1".parse().unwrap(), 443);
        same_as_sink(&v6);
        let mut n = Record::new(PolicyKind::OutboundConnectivity, false, RecordKind::Net, 42);
        n.set_ip("::ffff:1.2.3.4".parse().unwrap(), 443);
        n.set_text(b"api.example.com");
        let early: serde_json::Value = serde_json::from_str(&line_of(&n)).unwrap();
        let ev = Event::from_record(&n, "fn");
        assert!(matches!(ev.details, Details::Connect { .. }));
        assert_eq!(ev.action, Action::Alerted);
        assert_eq!(early["details"]["ip"], serde_json::json!("::ffff:1.2.3.4"));
        assert_eq!(
            early["details"]["host"],
            serde_json::json!("api.example.com")
        );
    }

    /// A full neighbourhood forgets its oldest key rather than refusing new ones: the 65th
    /// key with the same home slot is still a first occurrence (keys here live in slots
    /// 0x100..0x140, away from the other test's).
    #[test]
    fn a_full_table_still_takes_new_violations() {
        let keys: Vec<u64> = (1..=PROBES as u64 + 1)
            .map(|k| 0x100 + k * SLOTS as u64)
            .collect();
        for &k in &keys[..PROBES] {
            assert!(insert(k).is_some());
        }
        assert!(insert(keys[PROBES]).is_some());
        assert!(insert(keys[PROBES]).is_none());
    }

    /// A stdout pipe that is full when the early line is written: the line waits for room
    /// (here: until a reader sees the writer waiting in ppoll and drains the pipe) instead of
    /// failing with EAGAIN and dying with the process.
    #[test]
    fn an_early_line_waits_for_a_full_stdout() {
        let mut p = [0i32; 2];
        assert_eq!(
            crate::sys::syscall(
                libc::SYS_pipe2,
                [p.as_mut_ptr() as u64, libc::O_NONBLOCK as u64, 0, 0, 0, 0]
            ),
            0
        );
        let [rd, wr] = p;
        let chunk = [b'x'; 4096];
        while crate::sys::syscall(
            libc::SYS_write,
            [wr as u64, chunk.as_ptr() as u64, 4096, 0, 0, 0],
        ) > 0
        {}
        let before = OUT_FD.swap(wr, Ordering::AcqRel);
        let done = std::sync::Arc::new(AtomicBool::new(false));
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let writer = {
            let done = done.clone();
            std::thread::spawn(move || {
                tid_tx
                    .send(crate::sys::syscall(libc::SYS_gettid, [0; 6]))
                    .unwrap();
                let mut r = Record::new(PolicyKind::ReadHandler, true, RecordKind::Path, 257);
                r.set_text(b"/proc/self/environ");
                write_line(&mut r);
                done.store(true, Ordering::Release);
                r.early
            })
        };
        let tid = tid_rx.recv().unwrap();
        let ppoll = format!("{} ", libc::SYS_ppoll);
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        while !done.load(Ordering::Acquire) {
            let now = std::fs::read_to_string(format!("/proc/self/task/{tid}/syscall"))
                .unwrap_or_default();
            if now.starts_with(&ppoll) || !got.is_empty() {
                let n = crate::sys::syscall(
                    libc::SYS_read,
                    [
                        rd as u64,
                        buf.as_mut_ptr() as u64,
                        buf.len() as u64,
                        0,
                        0,
                        0,
                    ],
                );
                if n > 0 {
                    got.extend_from_slice(&buf[..n as usize]);
                }
            }
            std::thread::yield_now();
        }
        let early = writer.join().unwrap();
        OUT_FD.store(before, Ordering::Release);
        loop {
            let n = crate::sys::syscall(
                libc::SYS_read,
                [
                    rd as u64,
                    buf.as_mut_ptr() as u64,
                    buf.len() as u64,
                    0,
                    0,
                    0,
                ],
            );
            if n <= 0 {
                break;
            }
            got.extend_from_slice(&buf[..n as usize]);
        }
        crate::sys::syscall(libc::SYS_close, [rd as u64, 0, 0, 0, 0, 0]);
        crate::sys::syscall(libc::SYS_close, [wr as u64, 0, 0, 0, 0, 0]);
        assert!(early, "the early line was not written");
        let text = String::from_utf8_lossy(&got);
        assert!(
            text.contains("\"early\":true"),
            "{}",
            &text[text.len().saturating_sub(300)..]
        );
    }

    /// Every kind of record, with every text field full of bytes escaped as six, fits once
    /// cut to [`CUT_TEXT`] (a longer request id is not the function's to choose).
    #[test]
    fn a_cut_line_always_fits() {
        let kinds = [
            (PolicyKind::ReadWriteTmp, RecordKind::Path),
            (PolicyKind::ReadHandler, RecordKind::Path),
            (PolicyKind::CreateChildProcess, RecordKind::Exec),
            (PolicyKind::OutboundConnectivity, RecordKind::Net),
            (PolicyKind::OutboundConnectivity, RecordKind::Bypass),
        ];
        for (p, k) in kinds {
            let mut r = Record::new(p, true, k, 59);
            r.set_text(&[1u8; 1024]);
            for _ in 0..8 {
                r.push_arg(&[1u8; 64]);
            }
            r.exe = [1u8; crate::event::record::EXE_MAX];
            r.exe_len = crate::event::record::EXE_MAX as u8;
            let id = b"8f5e2c1a-0b7d-4c3e-9a6f-1d2e3f4a5b6c";
            r.request_id[..id.len()].copy_from_slice(id);
            r.request_id_len = id.len() as u8;
            let mut whole = Line {
                buf: [0; LINE_MAX],
                n: 0,
                full: false,
            };
            format(&mut whole, &r);
            assert!(whole.full, "{k:?}: this record was meant not to fit whole");
            let mut cut = r;
            cut.text_len = cut.text_len.min(CUT_TEXT);
            cut.argv_len = cut.argv_len.min(CUT_TEXT);
            cut.exe_len = cut.exe_len.min(CUT_TEXT as _);
            cut.truncated = true;
            let mut l = Line {
                buf: [0; LINE_MAX],
                n: 0,
                full: false,
            };
            format(&mut l, &cut);
            assert!(!l.full, "{k:?}");
            let v: serde_json::Value = serde_json::from_slice(&l.buf[..l.n]).unwrap();
            assert_eq!(v["truncated"], serde_json::json!(true));
        }
    }

    #[test]
    fn first_occurrences_are_remembered() {
        let h = 0x1234_5678_9abc_def1;
        assert!(insert(h).is_some());
        assert!(insert(h).is_none());
        assert!(insert(h + 1).is_some());
    }
}
