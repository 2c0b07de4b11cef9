//! Memory of this process that is *proven readable*, so that a copy out of it needs no
//! `process_vm_readv` (≈0.6–1.2 µs with `getpid`, the largest cost of a libc-layer open).
//!
//! The copy of a pointer argument must never crash the function: a bad pointer gets EFAULT.
//! [`super::read_mem`] and [`super::read_cstr_of`] therefore ask the kernel to copy
//! (`process_vm_readv`), unless the whole range read lies in one of these regions, learnt from
//! the kernel (`/proc/self/maps`, the ELF auxiliary vector) and mapped readable for as long as
//! the process (or, for a thread's stack, the thread) lives:
//!
//! - **the executable's readable `PT_LOAD` segments** (string literals such as
//!   `c"localhost"`, `static` data, `.bss`), from `AT_PHDR`/`AT_PHNUM`, learnt at install;
//! - **the main thread's stack** (the `[stack]` mapping holding `__libc_stack_end`), learnt at
//!   install;
//! - **the calling thread's own stack**, for threads glibc created (Rust std, tokio, C
//!   `pthread_create`): the mapping that holds the thread's `struct pthread` and starts right
//!   above a `PROT_NONE` guard page, from its start up to the `struct pthread` (the stack
//!   proper; glibc allocates the block with the descriptor at its top). Learnt once per thread,
//!   on its first copy, by scanning `/proc/self/maps` with stack buffers and the trampoline (no
//!   allocation, no lock), and cached in a const-initialised thread-local.
//!
//! Rust std passes paths (and host names) shorter than 384 bytes in a stack buffer
//! (`run_path_with_cstr`), so ordinary opens take the fast path.
//!
//! A string that runs past the end of its region, and any other pointer (heap, other threads'
//! stacks, signal stacks, coroutine stacks, threads without a guard page), falls back to
//! `process_vm_readv`. A racing thread writing the bytes is harmless: they are copied once and
//! the decision and the call both use the copy.
//!
//! The one case where the fast path faults instead of returning EFAULT is a program that
//! itself unmaps or `mprotect`s to `PROT_NONE` part of its own executable image or of a live
//! thread's stack and then passes a pointer into it; glibc's own string functions would fault
//! on the same pointer.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};

use super::syscall;

/// The process-wide regions: the main stack and up to this many minus one segments.
const GLOBAL_MAX: usize = 8;

/// `[lo, hi)` of each process-wide region (valid up to [`GLOBAL_LEN`]).
static GLOBAL: [(AtomicU64, AtomicU64); GLOBAL_MAX] =
    [const { (AtomicU64::new(0), AtomicU64::new(0)) }; GLOBAL_MAX];
static GLOBAL_LEN: AtomicUsize = AtomicUsize::new(0);
/// 0: not learnt, 1: being learnt, 2: learnt.
static GLOBAL_STATE: AtomicU8 = AtomicU8::new(0);

const UNKNOWN: u8 = 0;
const LEARNING: u8 = 1;
const KNOWN: u8 = 2;
const NONE: u8 = 3;

thread_local! {
    /// `[lo, hi)` of this thread's own stack, once [`THREAD_STATE`] is `KNOWN`.
    static THREAD_STACK: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
    static THREAD_STATE: Cell<u8> = const { Cell::new(UNKNOWN) };
}

#[cfg(target_env = "gnu")]
extern "C" {
    /// Set by the dynamic loader (glibc): an address near the top of the main thread's stack.
    static __libc_stack_end: *const libc::c_void;
}

/// Learn the process-wide regions (the executable's segments, the main thread's stack). Called
/// at install, outside any hook; idempotent.
pub(crate) fn learn_process() {
    if GLOBAL_STATE
        .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
        .is_err()
    {
        return;
    }
    let mut n = 0usize;
    let mut add = |lo: u64, hi: u64| {
        if n < GLOBAL_MAX && lo < hi {
            GLOBAL[n].0.store(lo, Ordering::Relaxed);
            GLOBAL[n].1.store(hi, Ordering::Relaxed);
            n += 1;
        }
    };
    #[cfg(target_env = "gnu")]
    {
        // SAFETY: the loader sets this variable before any user code runs; we read its value.
        let top = unsafe { __libc_stack_end } as u64;
        if let Some(m) = scan_maps(top) {
            if m.readable && m.stack_name {
                add(m.lo, m.hi);
            }
        }
    }
    for (lo, hi) in exe_segments() {
        add(lo, hi);
    }
    GLOBAL_LEN.store(n, Ordering::Release);
    GLOBAL_STATE.store(2, Ordering::Release);
}

/// The executable's readable `PT_LOAD` segments, page-exact as the kernel mapped them (at most
/// `GLOBAL_MAX - 1`; `[0, 0)` entries are skipped).
fn exe_segments() -> [(u64, u64); GLOBAL_MAX - 1] {
    let mut out = [(0u64, 0u64); GLOBAL_MAX - 1];
    // SAFETY: getauxval reads the auxiliary vector the kernel passed; no side effects.
    let (phdr, phnum) = unsafe {
        (
            libc::getauxval(libc::AT_PHDR),
            libc::getauxval(libc::AT_PHNUM),
        )
    };
    if phdr == 0 || phnum == 0 || phnum > 64 {
        return out;
    }
    // SAFETY: AT_PHDR is the address of the executable's program headers, mapped by the kernel
    // as part of its first segment; AT_PHNUM of them, each an Elf64_Phdr.
    let headers =
        unsafe { std::slice::from_raw_parts(phdr as *const libc::Elf64_Phdr, phnum as usize) };
    // The load bias: where PT_PHDR says the headers are, against where they are.
    let Some(bias) = headers
        .iter()
        .find(|h| h.p_type == libc::PT_PHDR)
        .map(|h| phdr.wrapping_sub(h.p_vaddr))
    else {
        return out;
    };
    let mut i = 0;
    for h in headers {
        if h.p_type != libc::PT_LOAD || h.p_flags & libc::PF_R == 0 || i == out.len() {
            continue;
        }
        // The segment's bytes, `.bss` included (the kernel maps zero pages for it).
        let lo = bias.wrapping_add(h.p_vaddr);
        let hi = lo.wrapping_add(h.p_memsz);
        if hi > lo {
            out[i] = (lo, hi);
            i += 1;
        }
    }
    out
}

/// Learn this thread's stack (see the module documentation). Async-signal-safe.
fn learn_thread() -> Option<(u64, u64)> {
    // SAFETY: pthread_self reads the thread pointer; no side effects.
    let pd = unsafe { libc::pthread_self() } as u64;
    let m = scan_maps(pd)?;
    (m.readable && m.after_guard && m.lo < pd).then_some((m.lo, pd))
}

/// The `[lo, hi)` region proven readable that holds `addr`, if any.
#[inline]
fn region_of(addr: u64) -> Option<(u64, u64)> {
    let own = THREAD_STATE
        .try_with(|state| match state.get() {
            KNOWN => THREAD_STACK.try_with(Cell::get).ok(),
            UNKNOWN => {
                state.set(LEARNING);
                let learnt = learn_thread();
                if let Some(r) = learnt {
                    let _ = THREAD_STACK.try_with(|s| s.set(r));
                }
                state.set(if learnt.is_some() { KNOWN } else { NONE });
                learnt
            }
            // LEARNING (a signal handler interrupted the scan on this thread) or NONE.
            _ => None,
        })
        .ok()
        .flatten();
    if let Some((lo, hi)) = own {
        if lo <= addr && addr < hi {
            return Some((lo, hi));
        }
    }
    let n = GLOBAL_LEN.load(Ordering::Acquire);
    GLOBAL[..n.min(GLOBAL_MAX)].iter().find_map(|(lo, hi)| {
        let (lo, hi) = (lo.load(Ordering::Relaxed), hi.load(Ordering::Relaxed));
        (lo <= addr && addr < hi).then_some((lo, hi))
    })
}

/// Copy `buf.len()` bytes at `addr` if they all lie in one proven region; false otherwise
/// (nothing copied that the caller may use).
#[inline]
pub(crate) fn copy(addr: u64, buf: &mut [u8]) -> bool {
    let Some((_, hi)) = region_of(addr) else {
        return false;
    };
    if addr
        .checked_add(buf.len() as u64)
        .is_none_or(|end| end > hi)
    {
        return false;
    }
    for (i, b) in buf.iter_mut().enumerate() {
        *b = load(addr + i as u64);
    }
    true
}

/// Copy the NUL-terminated string at `addr` into `buf` if it lies in one proven region:
/// `Some(len)` (without the NUL), or `None` when it does not start in a region, runs past its
/// end, or does not fit `buf` (the caller falls back to the kernel's copy).
#[inline]
pub(crate) fn cstr(addr: u64, buf: &mut [u8]) -> Option<usize> {
    let (_, hi) = region_of(addr)?;
    let room = (hi - addr).min(buf.len() as u64) as usize;
    for (i, b) in buf[..room].iter_mut().enumerate() {
        let c = load(addr + i as u64);
        *b = c;
        if c == 0 {
            return Some(i);
        }
    }
    None
}

/// [`cstr`] into `cap + 1` bytes at `dst` (which need not be initialised): `Some(len)` when
/// the string and its NUL were written to `dst[..=len]`.
#[inline]
pub(crate) fn cstr_into(addr: u64, dst: *mut u8, cap: usize) -> Option<usize> {
    let (_, hi) = region_of(addr)?;
    let room = (hi - addr).min(cap as u64 + 1) as usize;
    for i in 0..room {
        let c = load(addr + i as u64);
        // SAFETY: the caller gives `cap + 1` writable bytes at `dst`; `i <= cap`.
        unsafe { dst.add(i).write(c) };
        if c == 0 {
            return Some(i);
        }
    }
    None
}

/// One byte of proven-readable memory, read as an atomic: another thread may be writing it.
#[inline(always)]
fn load(addr: u64) -> u8 {
    // SAFETY: callers only pass addresses inside a region proven mapped and readable (see the
    // module documentation); a byte needs no alignment; the relaxed atomic load makes a
    // concurrent write by another thread a race on values, not undefined behaviour.
    unsafe { AtomicU8::from_ptr(addr as *mut u8) }.load(Ordering::Relaxed)
}

/// One mapping of `/proc/self/maps`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Mapping {
    lo: u64,
    hi: u64,
    readable: bool,
    /// The mapping right below it ends where it starts and is `---p` (a guard page).
    after_guard: bool,
    /// Named `[stack]` (the main thread's stack).
    stack_name: bool,
}

/// Find the mapping that holds `addr` in `/proc/self/maps`, read with the trampoline into a
/// stack buffer (no allocation, no lock). Async-signal-safe.
fn scan_maps(addr: u64) -> Option<Mapping> {
    let fd = syscall(
        libc::SYS_openat,
        [
            libc::AT_FDCWD as i64 as u64,
            c"/proc/self/maps".as_ptr() as u64,
            (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
            0,
            0,
            0,
        ],
    );
    if fd < 0 {
        return None;
    }
    let mut scan = MapsScan::new(addr);
    let mut buf = [0u8; 1024];
    let found = loop {
        let n = syscall(
            libc::SYS_read,
            [
                fd as u64,
                buf.as_mut_ptr() as u64,
                buf.len() as u64,
                0,
                0,
                0,
            ],
        );
        if n == -(libc::EINTR as i64) {
            continue;
        }
        if n <= 0 {
            break None;
        }
        if let Some(m) = scan.feed(&buf[..n as usize]) {
            break Some(m);
        }
    };
    syscall(libc::SYS_close, [fd as u64, 0, 0, 0, 0, 0]);
    found
}

/// A streaming parser of `/proc/<pid>/maps` lines (`lo-hi perms offset dev inode [name]`)
/// that stops at the mapping holding `want`.
struct MapsScan {
    want: u64,
    field: u8,
    col: usize,
    cur: Mapping,
    perms: [u8; 4],
    name: [u8; 7],
    name_len: usize,
    prev_hi: u64,
    prev_none: bool,
    bad: bool,
}

impl MapsScan {
    fn new(want: u64) -> MapsScan {
        MapsScan {
            want,
            field: 0,
            col: 0,
            cur: Mapping::default(),
            perms: [0; 4],
            name: [0; 7],
            name_len: 0,
            prev_hi: 0,
            prev_none: false,
            bad: false,
        }
    }

    fn feed(&mut self, bytes: &[u8]) -> Option<Mapping> {
        for &c in bytes {
            if c == b'\n' {
                if let Some(m) = self.end_line() {
                    return Some(m);
                }
                continue;
            }
            match self.field {
                0 | 1 => {
                    let sep = if self.field == 0 { b'-' } else { b' ' };
                    if c == sep {
                        self.field += 1;
                        self.col = 0;
                        continue;
                    }
                    let Some(d) = (c as char).to_digit(16) else {
                        self.bad = true;
                        continue;
                    };
                    let v = if self.field == 0 {
                        &mut self.cur.lo
                    } else {
                        &mut self.cur.hi
                    };
                    if *v >> 60 != 0 {
                        self.bad = true;
                    }
                    *v = (*v << 4) | d as u64;
                    self.col += 1;
                }
                2 => {
                    if c == b' ' {
                        self.field = 3;
                    } else if self.col < 4 {
                        self.perms[self.col] = c;
                        self.col += 1;
                    }
                }
                // offset, dev, inode: skip three space-separated fields (and the padding
                // before the name).
                3..=5 => {
                    if c == b' ' {
                        self.field += 1;
                    }
                }
                _ => {
                    if c == b' ' && self.name_len == 0 {
                        continue;
                    }
                    if self.name_len < self.name.len() {
                        self.name[self.name_len] = c;
                    }
                    self.name_len += 1;
                }
            }
        }
        None
    }

    fn end_line(&mut self) -> Option<Mapping> {
        let mut m = self.cur;
        let ok = !self.bad && self.field >= 3 && m.lo < m.hi;
        let none = &self.perms[..3] == b"---";
        if ok && m.lo <= self.want && self.want < m.hi {
            m.readable = self.perms[0] == b'r';
            m.after_guard = self.prev_hi == m.lo && self.prev_none;
            m.stack_name = self.name_len == 7 && &self.name == b"[stack]";
            return Some(m);
        }
        if ok {
            self.prev_hi = m.hi;
            self.prev_none = none;
        } else {
            self.prev_hi = 0;
            self.prev_none = false;
        }
        self.field = 0;
        self.col = 0;
        self.cur = Mapping::default();
        self.perms = [0; 4];
        self.name_len = 0;
        self.bad = false;
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPS: &[u8] = b"55d0c0000000-55d0c0010000 r--p 00000000 fd:00 123 /usr/bin/x\n\
7f0000000000-7f0000001000 ---p 00000000 00:00 0 \n\
7f0000001000-7f0000801000 rw-p 00000000 00:00 0 \n\
7f0000801000-7f0000802000 rw-p 00000000 00:00 0 \n\
7ffd00000000-7ffd00021000 rw-p 00000000 00:00 0                          [stack]\n";

    fn scan_in(want: u64, chunk: usize) -> Option<Mapping> {
        let mut s = MapsScan::new(want);
        MAPS.chunks(chunk).find_map(|c| s.feed(c))
    }

    #[test]
    fn maps_scan_finds_the_mapping_and_its_guard_in_any_chunking() {
        for chunk in [1, 3, 7, 64, 4096] {
            let m = scan_in(0x7f0000400000, chunk).expect("found");
            assert_eq!(
                (m.lo, m.hi),
                (0x7f0000001000, 0x7f0000801000),
                "chunk {chunk}"
            );
            assert!(
                m.readable && m.after_guard && !m.stack_name,
                "chunk {chunk}"
            );
            // The next mapping is adjacent but not after a guard.
            let m = scan_in(0x7f0000801800, chunk).expect("found");
            assert!(!m.after_guard, "chunk {chunk}");
            let m = scan_in(0x7ffd00000010, chunk).expect("found");
            assert!(m.stack_name && m.readable, "chunk {chunk}");
            let m = scan_in(0x7f0000000010, chunk).expect("found");
            assert!(!m.readable, "chunk {chunk}");
            assert_eq!(scan_in(0x1000, chunk), None);
            assert_eq!(scan_in(0x7ffd00021000, chunk), None);
        }
    }

    #[test]
    fn this_threads_stack_and_the_executable_are_proven_readable() {
        learn_process();
        // A spawned thread: glibc allocated its stack with a guard page.
        std::thread::spawn(|| {
            let local = *b"/tmp/a-path\0";
            let mut buf = [0u8; 64];
            let addr = local.as_ptr() as u64;
            assert_eq!(cstr(addr, &mut buf), Some(11));
            assert_eq!(&buf[..11], b"/tmp/a-path");
            assert!(THREAD_STATE.with(Cell::get) == KNOWN);
            // A heap pointer is not proven: the caller falls back to the kernel's copy.
            let heap = Box::new(*b"heap\0");
            assert_eq!(cstr(heap.as_ptr() as u64, &mut buf), None);
            // Nor is an unmapped one.
            assert_eq!(cstr(8, &mut buf), None);
            assert!(!copy(8, &mut buf[..4]));
        })
        .join()
        .expect("the thread ran");
        // A string literal in the executable.
        static LIT: &[u8] = b"localhost\0";
        let mut buf = [0u8; 16];
        assert_eq!(cstr(LIT.as_ptr() as u64, &mut buf), Some(9));
        // A string that does not fit the buffer is not claimed.
        assert_eq!(cstr(LIT.as_ptr() as u64, &mut buf[..4]), None);
    }
}
