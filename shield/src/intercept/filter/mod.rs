//! The seccomp filter as data: a compiler from a [`FilterSpec`] to classic BPF, an
//! interpreter that runs the result on a sample [`SeccompData`], and a disassembler.
//!
//! Nothing here touches the kernel. The `sys` module converts [`Filter::insns`] to
//! `libc::sock_filter` (same layout: `code: u16, jt: u8, jf: u8, k: u32`) and installs
//! it; tests run the very same instructions through [`Filter::run`].
//!
//! # Layout of the compiled program
//!
//! 1. Load `arch`; anything but [`FilterSpec::arch`] returns `KILL_PROCESS`.
//! 2. Load `nr`. When the spec's arch is x86_64, numbers `>= 0x4000_0000` (the x32 ABI
//!    bit, and every "negative" number) return `ERRNO(ENOSYS)`: the x32 ABI has its own
//!    numbering, and a 64-bit process may use it to reach calls under other numbers.
//!    ENOSYS rather than a kill, because it is what a kernel without x32 support answers,
//!    so well-behaved code (and `syscall(-1)` probes) keep working.
//! 3. Dispatch on the syscall number with a balanced tree of `JGE` comparisons over the
//!    sorted numbers of the listed syscalls, ending in small runs of `JEQ`. Nothing but
//!    `arch` and `nr` is loaded before the number is known to be a listed one, and a
//!    syscall that is not listed returns [`FilterSpec::otherwise`] straight away. The
//!    kernel's seccomp action cache (5.11+) emulates exactly this prefix and marks such
//!    syscalls "always allowed", so they cost nothing after their first call.
//! 4. One block per listed syscall: its branches in order (the first whose conditions all
//!    hold wins), then its default. When the outcome is one of
//!    [`FilterSpec::exempt_actions`] and the instruction pointer equals
//!    [`FilterSpec::exempt_ip`] (the shield's trampoline), the block returns `ALLOW`
//!    instead. If *every* possible outcome of a block is exempt, the instruction-pointer
//!    check is done first, before any argument load; otherwise it sits just before each
//!    exempt return, so an `Errno` rule applies to the trampoline too.
//!
//! 64-bit argument comparisons are made as two 32-bit halves (`seccomp_data` is native
//! endian; both supported architectures are little-endian, so the low half of
//! `args[i]` is at offset `16 + 8*i` and the high half at `20 + 8*i`).
//!
//! Classic BPF jumps forward only, and a conditional jump reaches at most 255
//! instructions. The assembler lays the program out with symbolic labels and, wherever
//! a conditional target is too far, routes that edge through a `JA` (32-bit offset)
//! placed right after the jump; it repeats until every offset fits.

mod assembler;
mod bpf;
mod compile;
mod condition;
mod disassembler;
mod interpreter;
#[cfg(test)]
mod tests;

#[cfg(test)]
use bpf::off;
pub use bpf::{op, ret, Insn, SeccompData};
pub use condition::{ArgCmp, Condition, FilterSpec, ReturnAction, SyscallPlan};

use crate::intercept::arch::X32_SYSCALL_BIT;

/// The largest program the kernel accepts (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// The largest errno the kernel passes through (`MAX_ERRNO`).
pub const MAX_ERRNO: u16 = 4095;

/// Why a [`FilterSpec`] cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FilterError {
    /// A syscall number appears in two plans.
    #[error(
        "syscall {nr} is listed twice in the filter spec; merge its branches into one SyscallPlan"
    )]
    DuplicateSyscall {
        /// The number.
        nr: i64,
    },
    /// A syscall number the filter could never see.
    #[error("syscall number {nr} is out of range; numbers are 0..2^32 (below 0x40000000 on x86_64, where the x32 range is refused)")]
    SyscallOutOfRange {
        /// The number.
        nr: i64,
    },
    /// A rule names an argument that does not exist.
    #[error("rule for syscall {nr} tests argument {arg}; syscalls have arguments 0 to 5")]
    ArgOutOfRange {
        /// The syscall.
        nr: i64,
        /// The argument index.
        arg: u8,
    },
    /// An errno the kernel would not pass through.
    #[error("errno {errno} is above MAX_ERRNO (4095); use a real errno value")]
    ErrnoOutOfRange {
        /// The errno.
        errno: u16,
    },
    /// The program would exceed the kernel's limit.
    #[error("the compiled filter has {len} instructions, more than the kernel's 4096; list fewer syscalls or conditions")]
    TooLong {
        /// Its length.
        len: usize,
    },
}

/// A compiled classic-BPF seccomp program. Build it with `Filter::try_from(&spec)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    insns: Vec<Insn>,
}

impl Filter {
    /// The instructions, ready to be converted to `libc::sock_filter`.
    pub fn insns(&self) -> &[Insn] {
        &self.insns
    }

    /// Number of instructions.
    pub fn len(&self) -> usize {
        self.insns.len()
    }

    /// Whether the program is empty (never true for a compiled filter).
    pub fn is_empty(&self) -> bool {
        self.insns.is_empty()
    }
}
