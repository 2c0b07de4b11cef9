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
//! 4. One block per listed syscall: its branches in order (the first whose rules all
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

use std::collections::HashSet;
use std::fmt::Write as _;

use super::arch::AUDIT_ARCH_X86_64;

/// The x32 ABI bit (`__X32_SYSCALL_BIT`), checked when the spec targets x86_64.
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// The largest program the kernel accepts (`BPF_MAXINSNS`).
pub const MAX_INSNS: usize = 4096;

/// The largest errno the kernel passes through (`MAX_ERRNO`).
pub const MAX_ERRNO: u16 = 4095;

/// Offsets into `struct seccomp_data`.
mod off {
    pub const NR: u32 = 0;
    pub const ARCH: u32 = 4;
    pub const IP_LO: u32 = 8;
    pub const IP_HI: u32 = 12;
    pub const fn arg_lo(i: u8) -> u32 {
        16 + 8 * i as u32
    }
    pub const fn arg_hi(i: u8) -> u32 {
        20 + 8 * i as u32
    }
    /// `sizeof(struct seccomp_data)`.
    pub const SIZE: u32 = 64;
}

/// Classic BPF opcodes used by the compiler and understood by the interpreter.
pub mod op {
    /// `BPF_LD | BPF_W | BPF_ABS`: `A = data[k]` (32-bit).
    pub const LD_W_ABS: u16 = 0x20;
    /// `BPF_LD | BPF_MEM`: `A = M[k]`.
    pub const LD_MEM: u16 = 0x60;
    /// `BPF_LDX | BPF_MEM`: `X = M[k]`.
    pub const LDX_MEM: u16 = 0x61;
    /// `BPF_ST`: `M[k] = A`.
    pub const ST: u16 = 0x02;
    /// `BPF_STX`: `M[k] = X`.
    pub const STX: u16 = 0x03;
    /// `BPF_ALU | BPF_AND | BPF_K`: `A &= k`.
    pub const AND_K: u16 = 0x54;
    /// `BPF_JMP | BPF_JA`: `pc += k`.
    pub const JA: u16 = 0x05;
    /// `BPF_JMP | BPF_JEQ | BPF_K`.
    pub const JEQ_K: u16 = 0x15;
    /// `BPF_JMP | BPF_JGT | BPF_K`.
    pub const JGT_K: u16 = 0x25;
    /// `BPF_JMP | BPF_JGE | BPF_K`.
    pub const JGE_K: u16 = 0x35;
    /// `BPF_JMP | BPF_JSET | BPF_K`.
    pub const JSET_K: u16 = 0x45;
    /// `BPF_RET | BPF_K`: return `k`.
    pub const RET_K: u16 = 0x06;
}

/// `SECCOMP_RET_*` values.
pub mod ret {
    /// `SECCOMP_RET_KILL_PROCESS`.
    pub const KILL_PROCESS: u32 = 0x8000_0000;
    /// `SECCOMP_RET_TRAP`.
    pub const TRAP: u32 = 0x0003_0000;
    /// `SECCOMP_RET_ERRNO` (the errno goes in the low 16 bits).
    pub const ERRNO: u32 = 0x0005_0000;
    /// `SECCOMP_RET_USER_NOTIF`.
    pub const USER_NOTIF: u32 = 0x7fc0_0000;
    /// `SECCOMP_RET_LOG`.
    pub const LOG: u32 = 0x7ffc_0000;
    /// `SECCOMP_RET_ALLOW`.
    pub const ALLOW: u32 = 0x7fff_0000;
    /// `SECCOMP_RET_ACTION_FULL`: the action part of a return value.
    pub const ACTION_FULL: u32 = 0xffff_0000;
    /// `SECCOMP_RET_DATA`: the data part of a return value.
    pub const DATA: u32 = 0x0000_ffff;
}

/// One classic BPF instruction, with the layout of `libc::sock_filter`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(C)]
pub struct Insn {
    /// Opcode (see [`op`]).
    pub code: u16,
    /// Offset added to the next pc when a conditional jump is taken.
    pub jt: u8,
    /// Offset added to the next pc when a conditional jump is not taken.
    pub jf: u8,
    /// Constant operand.
    pub k: u32,
}

impl Insn {
    const fn new(code: u16, jt: u8, jf: u8, k: u32) -> Self {
        Insn { code, jt, jf, k }
    }
}

/// What the kernel hands a seccomp filter (`struct seccomp_data`), for running a
/// [`Filter`] without installing it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeccompData {
    /// Syscall number.
    pub nr: i32,
    /// `AUDIT_ARCH_*` of the calling convention used.
    pub arch: u32,
    /// Address of the instruction after the syscall instruction.
    pub instruction_pointer: u64,
    /// The six syscall arguments.
    pub args: [u64; 6],
}

impl SeccompData {
    /// The 32-bit word at byte offset `k` of the native (little-endian) layout, or
    /// `None` if `k` is misaligned or out of range (the kernel rejects such loads when
    /// the filter is installed).
    pub fn word(&self, k: u32) -> Option<u32> {
        if !k.is_multiple_of(4) || k >= off::SIZE {
            return None;
        }
        let half = |v: u64, hi: bool| if hi { (v >> 32) as u32 } else { v as u32 };
        Some(match k {
            off::NR => self.nr as u32,
            off::ARCH => self.arch,
            off::IP_LO => half(self.instruction_pointer, false),
            off::IP_HI => half(self.instruction_pointer, true),
            _ => {
                let i = ((k - 16) / 8) as usize;
                half(self.args[i], (k - 16) % 8 == 4)
            }
        })
    }
}

/// What the filter does with a syscall.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// Let it run (`SECCOMP_RET_ALLOW`).
    Allow,
    /// Fail it with this errno without running it (`SECCOMP_RET_ERRNO`); at most
    /// [`MAX_ERRNO`].
    Errno(u16),
    /// Send SIGSYS to the calling thread (`SECCOMP_RET_TRAP`).
    Trap,
    /// Ask the user-space supervisor (`SECCOMP_RET_USER_NOTIF`).
    Notify,
    /// Kill the whole process (`SECCOMP_RET_KILL_PROCESS`).
    KillProcess,
    /// Let it run and log it (`SECCOMP_RET_LOG`).
    Log,
}

impl Action {
    /// The `SECCOMP_RET_*` value a filter returns for this action.
    pub const fn to_ret(self) -> u32 {
        match self {
            Action::Allow => ret::ALLOW,
            Action::Errno(e) => ret::ERRNO | e as u32,
            Action::Trap => ret::TRAP,
            Action::Notify => ret::USER_NOTIF,
            Action::KillProcess => ret::KILL_PROCESS,
            Action::Log => ret::LOG,
        }
    }

    /// The action a `SECCOMP_RET_*` value stands for, or `None` for values this crate
    /// never emits (e.g. `KILL_THREAD`, `TRACE`, or TRAP with data).
    pub const fn from_ret(v: u32) -> Option<Action> {
        let data = v & ret::DATA;
        match v & ret::ACTION_FULL {
            ret::ALLOW if data == 0 => Some(Action::Allow),
            ret::ERRNO => Some(Action::Errno(data as u16)),
            ret::TRAP if data == 0 => Some(Action::Trap),
            ret::USER_NOTIF if data == 0 => Some(Action::Notify),
            ret::KILL_PROCESS if data == 0 => Some(Action::KillProcess),
            ret::LOG if data == 0 => Some(Action::Log),
            _ => None,
        }
    }
}

/// A test on one 64-bit syscall argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ArgCmp {
    /// `arg == v`.
    Eq(u64),
    /// `arg != v`.
    Ne(u64),
    /// `arg & mask == value` (never holds when `value` has bits outside `mask`).
    MaskedEq {
        /// Bits to keep.
        mask: u64,
        /// Expected value of the kept bits.
        value: u64,
    },
    /// `arg & mask != value`.
    MaskedNe {
        /// Bits to keep.
        mask: u64,
        /// Value the kept bits must differ from.
        value: u64,
    },
    /// `arg != 0` (e.g. a non-NULL pointer).
    NonZero,
    /// `arg == 0` (e.g. a NULL pointer).
    Zero,
}

impl ArgCmp {
    /// Whether `arg` passes this test (the reference semantics the compiled code has).
    pub const fn holds(self, arg: u64) -> bool {
        match self {
            ArgCmp::Eq(v) => arg == v,
            ArgCmp::Ne(v) => arg != v,
            ArgCmp::MaskedEq { mask, value } => arg & mask == value,
            ArgCmp::MaskedNe { mask, value } => arg & mask != value,
            ArgCmp::NonZero => arg != 0,
            ArgCmp::Zero => arg == 0,
        }
    }
}

/// One condition of a branch: argument number `arg` (0–5) passes `cmp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Rule {
    /// Argument index, 0 to 5.
    pub arg: u8,
    /// The test.
    pub cmp: ArgCmp,
}

/// What the filter does for one syscall number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyscallPlan {
    /// Syscall number (see [`super::arch::nr`]).
    pub nr: i64,
    /// Branches in order: the first whose rules all hold (AND; an empty list always
    /// holds) decides.
    pub branches: Vec<(Vec<Rule>, Action)>,
    /// The action when no branch matches.
    pub default: Action,
}

/// Everything the filter decides, as data. Compile it with `Filter::try_from(&spec)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterSpec {
    /// The only `AUDIT_ARCH_*` allowed (normally [`super::arch::AUDIT_ARCH`]); calls
    /// through any other ABI kill the process.
    pub arch: u32,
    /// The handled syscalls; each number at most once.
    pub syscalls: Vec<SyscallPlan>,
    /// Calls whose instruction pointer equals this address (the shield's trampoline)
    /// are allowed when their outcome would be one of [`exempt_actions`](Self::exempt_actions).
    pub exempt_ip: Option<u64>,
    /// The outcomes the trampoline is exempt from, typically `[Trap, Notify]`: the
    /// trampoline is never exempt from an `Errno` rule.
    pub exempt_actions: Vec<Action>,
    /// The action for syscalls not listed, normally `Allow`.
    pub otherwise: Action,
}

impl FilterSpec {
    /// Reference semantics: what the compiled filter returns for `d`, computed directly
    /// from the spec. Tests compare [`Filter::run`] against it.
    pub fn evaluate(&self, d: &SeccompData) -> u32 {
        if d.arch != self.arch {
            return ret::KILL_PROCESS;
        }
        let nr = d.nr as u32;
        if self.arch == AUDIT_ARCH_X86_64 && nr >= X32_SYSCALL_BIT {
            return Action::Errno(libc::ENOSYS as u16).to_ret();
        }
        let Some(plan) = self.syscalls.iter().find(|p| p.nr == i64::from(nr)) else {
            return self.otherwise.to_ret();
        };
        let outcome = plan
            .branches
            .iter()
            .find(|(rules, _)| {
                rules
                    .iter()
                    .all(|r| r.cmp.holds(d.args[usize::from(r.arg).min(5)]))
            })
            .map_or(plan.default, |(_, a)| *a);
        if self.exempt_ip == Some(d.instruction_pointer) && self.exempt_actions.contains(&outcome) {
            return ret::ALLOW;
        }
        outcome.to_ret()
    }
}

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
    #[error("the compiled filter has {len} instructions, more than the kernel's 4096; list fewer syscalls or rules")]
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

    /// Runs the program on `data` as the kernel would and returns the
    /// `SECCOMP_RET_*` value. An invalid program (bad opcode, load out of range, jump
    /// past the end, falling off the end) yields `KILL_PROCESS`.
    pub fn run(&self, data: &SeccompData) -> u32 {
        self.run_with(|k| data.word(k))
    }

    /// The interpreter, with data loads going through `load` (tests use it to observe
    /// which offsets a path reads).
    fn run_with(&self, mut load: impl FnMut(u32) -> Option<u32>) -> u32 {
        let insns = &self.insns;
        let (mut a, mut x) = (0u32, 0u32);
        let mut mem = [0u32; 16];
        let mut pc = 0usize;
        // Every jump is forward, so at most `len` steps are taken; the bound is a belt.
        for _ in 0..=insns.len() {
            let Some(&i) = insns.get(pc) else {
                return ret::KILL_PROCESS;
            };
            pc += 1;
            let cond = |c: bool| if c { i.jt } else { i.jf } as usize;
            match i.code {
                op::LD_W_ABS => match load(i.k) {
                    Some(v) => a = v,
                    None => return ret::KILL_PROCESS,
                },
                op::LD_MEM | op::LDX_MEM | op::ST | op::STX => {
                    let Some(slot) = mem.get_mut(i.k as usize) else {
                        return ret::KILL_PROCESS;
                    };
                    match i.code {
                        op::LD_MEM => a = *slot,
                        op::LDX_MEM => x = *slot,
                        op::ST => *slot = a,
                        _ => *slot = x,
                    }
                }
                op::AND_K => a &= i.k,
                op::JA => pc = pc.saturating_add(i.k as usize),
                op::JEQ_K => pc += cond(a == i.k),
                op::JGT_K => pc += cond(a > i.k),
                op::JGE_K => pc += cond(a >= i.k),
                op::JSET_K => pc += cond(a & i.k != 0),
                op::RET_K => return i.k,
                _ => return ret::KILL_PROCESS,
            }
        }
        ret::KILL_PROCESS
    }

    /// A human-readable listing, one instruction per line, with absolute jump targets
    /// and decoded return values.
    pub fn disassemble(&self) -> String {
        let mut s = String::new();
        for (pc, i) in self.insns.iter().enumerate() {
            let next = pc + 1;
            let _ = write!(s, "{pc:04}: ");
            let _ = match i.code {
                op::LD_W_ABS => writeln!(s, "ld   [{}]{}", i.k, field_name(i.k)),
                op::LD_MEM => writeln!(s, "ld   M[{}]", i.k),
                op::LDX_MEM => writeln!(s, "ldx  M[{}]", i.k),
                op::ST => writeln!(s, "st   M[{}]", i.k),
                op::STX => writeln!(s, "stx  M[{}]", i.k),
                op::AND_K => writeln!(s, "and  #{:#x}", i.k),
                op::JA => writeln!(s, "ja   {:04}", next + i.k as usize),
                op::JEQ_K | op::JGT_K | op::JGE_K | op::JSET_K => {
                    let name = match i.code {
                        op::JEQ_K => "jeq ",
                        op::JGT_K => "jgt ",
                        op::JGE_K => "jge ",
                        _ => "jset",
                    };
                    writeln!(
                        s,
                        "{name} #{:#x}, {:04}, {:04}",
                        i.k,
                        next + i.jt as usize,
                        next + i.jf as usize
                    )
                }
                op::RET_K => match Action::from_ret(i.k) {
                    Some(Action::Errno(e)) => writeln!(s, "ret  ERRNO({e})"),
                    Some(a) => writeln!(s, "ret  {a:?}"),
                    None => writeln!(s, "ret  #{:#x}", i.k),
                },
                _ => writeln!(
                    s,
                    "???  code={:#x} jt={} jf={} k={:#x}",
                    i.code, i.jt, i.jf, i.k
                ),
            };
        }
        s
    }
}

fn field_name(k: u32) -> &'static str {
    match k {
        off::NR => " ; nr",
        off::ARCH => " ; arch",
        off::IP_LO => " ; ip (low)",
        off::IP_HI => " ; ip (high)",
        16 => " ; args[0] (low)",
        20 => " ; args[0] (high)",
        24 => " ; args[1] (low)",
        28 => " ; args[1] (high)",
        32 => " ; args[2] (low)",
        36 => " ; args[2] (high)",
        40 => " ; args[3] (low)",
        44 => " ; args[3] (high)",
        48 => " ; args[4] (low)",
        52 => " ; args[4] (high)",
        56 => " ; args[5] (low)",
        60 => " ; args[5] (high)",
        _ => "",
    }
}

impl TryFrom<&FilterSpec> for Filter {
    type Error = FilterError;

    fn try_from(spec: &FilterSpec) -> Result<Self, FilterError> {
        validate(spec)?;
        let mut plans: Vec<&SyscallPlan> = spec.syscalls.iter().collect();
        plans.sort_by_key(|p| p.nr);

        let mut asm = Asm::default();
        // (1) architecture.
        asm.load(off::ARCH);
        let arch_ok = asm.label();
        asm.cond(op::JEQ_K, spec.arch, Target::L(arch_ok), Target::Next);
        asm.ret(ret::KILL_PROCESS);
        asm.bind(arch_ok);
        // (2) number, and the x32 ABI.
        asm.load(off::NR);
        if spec.arch == AUDIT_ARCH_X86_64 {
            let native = asm.label();
            asm.cond(op::JGE_K, X32_SYSCALL_BIT, Target::Next, Target::L(native));
            asm.ret(Action::Errno(libc::ENOSYS as u16).to_ret());
            asm.bind(native);
        }
        // (3) dispatch, with (4) the blocks inline in the leaves.
        dispatch(&mut asm, spec, &plans);

        let insns = asm.resolve();
        if insns.len() > MAX_INSNS {
            return Err(FilterError::TooLong { len: insns.len() });
        }
        Ok(Filter { insns })
    }
}

fn validate(spec: &FilterSpec) -> Result<(), FilterError> {
    let max_nr = if spec.arch == AUDIT_ARCH_X86_64 {
        i64::from(X32_SYSCALL_BIT)
    } else {
        1 << 32
    };
    let mut seen = HashSet::new();
    let check_action = |a: Action| match a {
        Action::Errno(errno) if errno > MAX_ERRNO => Err(FilterError::ErrnoOutOfRange { errno }),
        _ => Ok(()),
    };
    check_action(spec.otherwise)?;
    for p in &spec.syscalls {
        if !(0..max_nr).contains(&p.nr) {
            return Err(FilterError::SyscallOutOfRange { nr: p.nr });
        }
        if !seen.insert(p.nr) {
            return Err(FilterError::DuplicateSyscall { nr: p.nr });
        }
        check_action(p.default)?;
        for (rules, a) in &p.branches {
            check_action(*a)?;
            if let Some(r) = rules.iter().find(|r| r.arg > 5) {
                return Err(FilterError::ArgOutOfRange {
                    nr: p.nr,
                    arg: r.arg,
                });
            }
        }
    }
    Ok(())
}

/// Syscalls in a leaf of the dispatch tree are compared one by one.
const LEAF: usize = 3;

/// Emits the dispatch tree over `plans` (sorted by number). The accumulator holds `nr`
/// on entry to every node.
fn dispatch(asm: &mut Asm, spec: &FilterSpec, plans: &[&SyscallPlan]) {
    if plans.len() <= LEAF {
        for p in plans {
            let other = asm.label();
            asm.cond(op::JEQ_K, p.nr as u32, Target::Next, Target::L(other));
            block(asm, spec, p);
            asm.bind(other);
        }
        asm.ret(spec.otherwise.to_ret());
        return;
    }
    let mid = plans.len() / 2;
    let right = asm.label();
    asm.cond(
        op::JGE_K,
        plans[mid].nr as u32,
        Target::L(right),
        Target::Next,
    );
    dispatch(asm, spec, &plans[..mid]);
    asm.bind(right);
    dispatch(asm, spec, &plans[mid..]);
}

/// Emits the block of one syscall. Every path through it ends in a return.
fn block(asm: &mut Asm, spec: &FilterSpec, plan: &SyscallPlan) {
    let outcomes: Vec<Action> = plan
        .branches
        .iter()
        .map(|(_, a)| *a)
        .chain([plan.default])
        .collect();
    let exempt = |a: &Action| spec.exempt_ip.is_some() && spec.exempt_actions.contains(a);
    let ip = spec.exempt_ip.unwrap_or(0);

    // All outcomes exempt: one check up front, before any argument load.
    let all_exempt = outcomes.iter().all(exempt);
    if all_exempt {
        let not_trampoline = asm.label();
        ip_check(asm, ip, not_trampoline);
        asm.bind(not_trampoline);
    }
    // Otherwise one tail per distinct exempt outcome: check the ip, then return.
    let mut tails: Vec<(Action, Label)> = Vec::new();
    let mut target_of = |asm: &mut Asm, a: Action| -> Option<Label> {
        if all_exempt || !exempt(&a) {
            return None;
        }
        if let Some((_, l)) = tails.iter().find(|(t, _)| *t == a) {
            return Some(*l);
        }
        let l = asm.label();
        tails.push((a, l));
        Some(l)
    };

    for (rules, action) in &plan.branches {
        let next_branch = asm.label();
        for r in rules {
            rule(asm, *r, next_branch);
        }
        match target_of(asm, *action) {
            Some(l) => asm.ja(l),
            None => asm.ret(action.to_ret()),
        }
        asm.bind(next_branch);
    }
    match target_of(asm, plan.default) {
        Some(l) => asm.ja(l),
        None => asm.ret(plan.default.to_ret()),
    }
    for (a, l) in tails {
        asm.bind(l);
        let not_trampoline = asm.label();
        ip_check(asm, ip, not_trampoline);
        asm.bind(not_trampoline);
        asm.ret(a.to_ret());
    }
}

/// `if ip == exempt { return ALLOW }`, falling through to `otherwise` (bound right after
/// by the caller) when it is not.
fn ip_check(asm: &mut Asm, ip: u64, otherwise: Label) {
    asm.load(off::IP_LO);
    asm.cond(op::JEQ_K, ip as u32, Target::Next, Target::L(otherwise));
    asm.load(off::IP_HI);
    asm.cond(
        op::JEQ_K,
        (ip >> 32) as u32,
        Target::Next,
        Target::L(otherwise),
    );
    asm.ret(ret::ALLOW);
}

/// Falls through when `r` holds, jumps to `fail` when it does not.
fn rule(asm: &mut Asm, r: Rule, fail: Label) {
    let (lo, hi) = (off::arg_lo(r.arg), off::arg_hi(r.arg));
    let (mask, value, negate) = match r.cmp {
        ArgCmp::Eq(v) => (u64::MAX, v, false),
        ArgCmp::Zero => (u64::MAX, 0, false),
        ArgCmp::Ne(v) => (u64::MAX, v, true),
        ArgCmp::NonZero => (u64::MAX, 0, true),
        ArgCmp::MaskedEq { mask, value } => (mask, value, false),
        ArgCmp::MaskedNe { mask, value } => (mask, value, true),
    };
    let halves = [
        (hi, (mask >> 32) as u32, (value >> 32) as u32),
        (lo, mask as u32, value as u32),
    ];
    // A half with mask 0 and value 0 always compares equal: skip it.
    let halves: Vec<_> = halves
        .into_iter()
        .filter(|&(_, m, v)| m != 0 || v != 0)
        .collect();
    if halves.is_empty() {
        // `x & 0 == 0` always holds.
        if negate {
            asm.ja(fail);
        }
        return;
    }
    // Equal iff every half is equal. For `negate`, the rule passes as soon as one half
    // differs, and fails when the last half is equal too.
    let pass = asm.label();
    let n = halves.len();
    for (idx, (offset, m, v)) in halves.into_iter().enumerate() {
        asm.load(offset);
        if m != u32::MAX {
            asm.and(m);
        }
        let last = idx + 1 == n;
        match (negate, last) {
            (false, _) => asm.cond(op::JEQ_K, v, Target::Next, Target::L(fail)),
            (true, false) => asm.cond(op::JEQ_K, v, Target::Next, Target::L(pass)),
            (true, true) => asm.cond(op::JEQ_K, v, Target::L(fail), Target::Next),
        }
    }
    asm.bind(pass);
}

/// A symbolic jump target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Label(usize);

/// Where a conditional jump goes.
#[derive(Clone, Copy, Debug)]
enum Target {
    /// The next instruction of the program as written.
    Next,
    /// A label.
    L(Label),
}

#[derive(Clone, Copy, Debug)]
enum Item {
    /// A non-jump instruction.
    Plain(Insn),
    /// A conditional jump.
    Cond {
        code: u16,
        k: u32,
        t: Target,
        f: Target,
    },
    /// An unconditional jump.
    Ja(Label),
    /// Binds a label to the position of the next instruction.
    Bind(Label),
}

/// A tiny assembler with symbolic labels and automatic long jumps.
#[derive(Default)]
struct Asm {
    items: Vec<Item>,
    labels: usize,
}

impl Asm {
    fn label(&mut self) -> Label {
        self.labels += 1;
        Label(self.labels - 1)
    }
    fn bind(&mut self, l: Label) {
        self.items.push(Item::Bind(l));
    }
    fn load(&mut self, k: u32) {
        self.items
            .push(Item::Plain(Insn::new(op::LD_W_ABS, 0, 0, k)));
    }
    fn and(&mut self, k: u32) {
        self.items.push(Item::Plain(Insn::new(op::AND_K, 0, 0, k)));
    }
    fn ret(&mut self, k: u32) {
        self.items.push(Item::Plain(Insn::new(op::RET_K, 0, 0, k)));
    }
    fn ja(&mut self, l: Label) {
        self.items.push(Item::Ja(l));
    }
    fn cond(&mut self, code: u16, k: u32, t: Target, f: Target) {
        self.items.push(Item::Cond { code, k, t, f });
    }

    /// Lays the program out. A conditional edge whose offset exceeds 255 gets a `JA`
    /// trampoline right after its jump; adding one only lengthens other edges, so the
    /// loop reaches a fixed point (each edge is converted at most once).
    fn resolve(&self) -> Vec<Insn> {
        let n = self.items.len();
        // (true edge, false edge) use a trampoline.
        let mut tramp = vec![(false, false); n];
        let size = |i: usize, tramp: &[(bool, bool)]| match self.items[i] {
            Item::Bind(_) => 0,
            Item::Cond { .. } => 1 + usize::from(tramp[i].0) + usize::from(tramp[i].1),
            _ => 1,
        };
        loop {
            let (pos, labels) = self.layout(&tramp, size);
            let mut changed = false;
            for (i, item) in self.items.iter().enumerate() {
                if let Item::Cond { t, f, .. } = *item {
                    let end = pos[i] + size(i, &tramp);
                    let dest = |tg: Target| match tg {
                        Target::Next => end,
                        Target::L(l) => labels[l.0],
                    };
                    for (side, tg) in [(0, t), (1, f)] {
                        let uses = if side == 0 { tramp[i].0 } else { tramp[i].1 };
                        if !uses && dest(tg) - (pos[i] + 1) > 255 {
                            if side == 0 {
                                tramp[i].0 = true;
                            } else {
                                tramp[i].1 = true;
                            }
                            changed = true;
                        }
                    }
                }
            }
            if !changed {
                return self.emit(&tramp, &pos, &labels, size);
            }
        }
    }

    fn layout(
        &self,
        tramp: &[(bool, bool)],
        size: impl Fn(usize, &[(bool, bool)]) -> usize,
    ) -> (Vec<usize>, Vec<usize>) {
        let mut pos = Vec::with_capacity(self.items.len());
        let mut labels = vec![usize::MAX; self.labels];
        let mut p = 0;
        for (i, item) in self.items.iter().enumerate() {
            pos.push(p);
            if let Item::Bind(l) = item {
                labels[l.0] = p;
            }
            p += size(i, tramp);
        }
        debug_assert!(labels.iter().all(|&l| l != usize::MAX), "unbound label");
        (pos, labels)
    }

    fn emit(
        &self,
        tramp: &[(bool, bool)],
        pos: &[usize],
        labels: &[usize],
        size: impl Fn(usize, &[(bool, bool)]) -> usize,
    ) -> Vec<Insn> {
        let mut out = Vec::new();
        // Forward distance from the instruction after `from` to `to`.
        let fwd = |from: usize, to: usize| -> usize {
            assert!(to > from, "backward jump in filter assembly (bug)");
            to - from - 1
        };
        for (i, item) in self.items.iter().enumerate() {
            debug_assert_eq!(out.len(), pos[i]);
            match *item {
                Item::Bind(_) => {}
                Item::Plain(insn) => out.push(insn),
                Item::Ja(l) => out.push(Insn::new(op::JA, 0, 0, fwd(pos[i], labels[l.0]) as u32)),
                Item::Cond { code, k, t, f } => {
                    let end = pos[i] + size(i, tramp);
                    let dest = |tg: Target| match tg {
                        Target::Next => end,
                        Target::L(l) => labels[l.0],
                    };
                    let (tt, tf) = tramp[i];
                    let t_slot = pos[i] + 1;
                    let f_slot = pos[i] + 1 + usize::from(tt);
                    let jt = if tt { t_slot } else { dest(t) };
                    let jf = if tf { f_slot } else { dest(f) };
                    out.push(Insn::new(
                        code,
                        fwd(pos[i], jt) as u8,
                        fwd(pos[i], jf) as u8,
                        k,
                    ));
                    if tt {
                        out.push(Insn::new(op::JA, 0, 0, fwd(t_slot, dest(t)) as u32));
                    }
                    if tf {
                        out.push(Insn::new(op::JA, 0, 0, fwd(f_slot, dest(f)) as u32));
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::intercept::arch::AUDIT_ARCH_AARCH64;
    use proptest::prelude::*;

    const X86: u32 = AUDIT_ARCH_X86_64;
    const TRAMP: u64 = 0x0000_5555_1234_5678;
    const ENOSYS: u32 = ret::ERRNO | libc::ENOSYS as u32;

    fn plan(nr: i64, branches: Vec<(Vec<Rule>, Action)>, default: Action) -> SyscallPlan {
        SyscallPlan {
            nr,
            branches,
            default,
        }
    }

    fn spec(arch: u32, syscalls: Vec<SyscallPlan>) -> FilterSpec {
        FilterSpec {
            arch,
            syscalls,
            exempt_ip: Some(TRAMP),
            exempt_actions: vec![Action::Trap, Action::Notify],
            otherwise: Action::Allow,
        }
    }

    fn data(nr: i32, args: [u64; 6]) -> SeccompData {
        SeccompData {
            nr,
            arch: X86,
            instruction_pointer: 0x7f00_0000_1000,
            args,
        }
    }

    fn compile(s: &FilterSpec) -> Filter {
        Filter::try_from(s).expect("spec compiles")
    }

    fn rule(arg: u8, cmp: ArgCmp) -> Rule {
        Rule { arg, cmp }
    }

    /// A spec shaped like the shield's: errno decisions in the kernel, traps for the
    /// pointer-based ones.
    fn shield_like(arch: u32) -> FilterSpec {
        spec(
            arch,
            vec![
                plan(257, vec![], Action::Trap),                       // openat
                plan(42, vec![], Action::Trap),                        // connect
                plan(435, vec![], Action::Errno(libc::ENOSYS as u16)), // clone3
                plan(
                    13, // rt_sigaction
                    vec![(
                        vec![
                            rule(0, ArgCmp::Eq(libc::SIGSYS as u64)),
                            rule(1, ArgCmp::NonZero),
                        ],
                        Action::Errno(libc::EPERM as u16),
                    )],
                    Action::Allow,
                ),
                plan(
                    56, // clone
                    vec![(
                        vec![rule(
                            0,
                            ArgCmp::MaskedEq {
                                mask: libc::CLONE_THREAD as u64,
                                value: 0,
                            },
                        )],
                        Action::Errno(libc::EPERM as u16),
                    )],
                    Action::Allow,
                ),
                plan(
                    44, // sendto: trap only with an address
                    vec![(vec![rule(4, ArgCmp::Zero)], Action::Allow)],
                    Action::Trap,
                ),
            ],
        )
    }

    #[test]
    fn wrong_arch_is_killed_before_anything_else() {
        let f = compile(&shield_like(X86));
        for arch in [AUDIT_ARCH_AARCH64, 0x4000_0003 /* i386 */, 0, u32::MAX] {
            let d = SeccompData {
                arch,
                ..data(39, [0; 6])
            };
            assert_eq!(f.run(&d), ret::KILL_PROCESS, "arch {arch:#x}");
        }
        assert_eq!(f.insns()[0], Insn::new(op::LD_W_ABS, 0, 0, off::ARCH));
    }

    #[test]
    fn x32_numbers_get_enosys_on_x86_64_only() {
        let f = compile(&shield_like(X86));
        for nr in [0x4000_0000u32, 0x4000_0000 + 257, 0x7fff_ffff, u32::MAX] {
            assert_eq!(f.run(&data(nr as i32, [0; 6])), ENOSYS, "nr {nr:#x}");
        }
        // aarch64 has no x32 ABI: a large number is simply unlisted.
        let f = compile(&shield_like(AUDIT_ARCH_AARCH64));
        let d = SeccompData {
            arch: AUDIT_ARCH_AARCH64,
            ..data(0x4000_0000 + 257, [0; 6])
        };
        assert_eq!(f.run(&d), ret::ALLOW);
    }

    #[test]
    fn unlisted_syscalls_get_otherwise() {
        let mut s = shield_like(X86);
        let f = compile(&s);
        for nr in [0, 1, 39, 41, 43, 258, 434, 436, 1000] {
            assert_eq!(f.run(&data(nr, [1; 6])), ret::ALLOW, "nr {nr}");
        }
        s.otherwise = Action::Errno(1);
        let f = compile(&s);
        assert_eq!(f.run(&data(39, [0; 6])), ret::ERRNO | 1);
        assert_eq!(f.run(&data(257, [0; 6])), ret::TRAP);
    }

    #[test]
    fn shield_like_decisions() {
        let f = compile(&shield_like(X86));
        let eperm = ret::ERRNO | libc::EPERM as u32;
        assert_eq!(f.run(&data(257, [0; 6])), ret::TRAP);
        assert_eq!(f.run(&data(435, [0; 6])), ENOSYS);
        let sigsys = libc::SIGSYS as u64;
        assert_eq!(f.run(&data(13, [sigsys, 0x1000, 0, 0, 0, 0])), eperm);
        assert_eq!(f.run(&data(13, [sigsys, 0, 0x1000, 0, 0, 0])), ret::ALLOW);
        assert_eq!(
            f.run(&data(13, [sigsys + 1, 0x1000, 0, 0, 0, 0])),
            ret::ALLOW
        );
        // A NULL pointer in the high half only is still non-NULL.
        assert_eq!(f.run(&data(13, [sigsys, 1 << 32, 0, 0, 0, 0])), eperm);
        // The signal number's high half set: not SIGSYS.
        assert_eq!(
            f.run(&data(13, [sigsys | 1 << 32, 1, 0, 0, 0, 0])),
            ret::ALLOW
        );
        let thread = libc::CLONE_THREAD as u64 | libc::CLONE_VM as u64;
        assert_eq!(f.run(&data(56, [thread, 0, 0, 0, 0, 0])), ret::ALLOW);
        assert_eq!(
            f.run(&data(56, [libc::SIGCHLD as u64, 0, 0, 0, 0, 0])),
            eperm
        );
        assert_eq!(f.run(&data(44, [3, 0, 0, 0, 0, 0])), ret::ALLOW);
        assert_eq!(f.run(&data(44, [3, 0, 0, 0, 0x7ffd_0000, 0])), ret::TRAP);
    }

    #[test]
    fn every_arg_cmp_on_64_bit_values() {
        let values = [
            0u64,
            1,
            0xffff_ffff,
            1 << 32,
            (1 << 32) | 1,
            0xdead_beef_0000_0000,
            0xdead_beef_cafe_f00d,
            0x0000_0000_cafe_f00d,
            u64::MAX,
        ];
        let masks = [
            0u64,
            1,
            0xffff_ffff,
            0xffff_ffff_0000_0000,
            0xff00_00ff_0f0f_f0f0,
            u64::MAX,
        ];
        let mut cmps = vec![ArgCmp::NonZero, ArgCmp::Zero];
        for &v in &values {
            cmps.push(ArgCmp::Eq(v));
            cmps.push(ArgCmp::Ne(v));
            for &mask in &masks {
                for value in [v, v & mask] {
                    cmps.push(ArgCmp::MaskedEq { mask, value });
                    cmps.push(ArgCmp::MaskedNe { mask, value });
                }
            }
        }
        for arg in 0..6u8 {
            for &cmp in &cmps {
                let s = spec(
                    X86,
                    vec![plan(
                        257,
                        vec![(vec![rule(arg, cmp)], Action::Errno(7))],
                        Action::Allow,
                    )],
                );
                let f = compile(&s);
                for &v in &values {
                    let mut args = [0x5a5a_5a5a_5a5a_5a5a; 6];
                    args[arg as usize] = v;
                    let want = if cmp.holds(v) {
                        ret::ERRNO | 7
                    } else {
                        ret::ALLOW
                    };
                    assert_eq!(f.run(&data(257, args)), want, "arg{arg} {cmp:?} on {v:#x}");
                }
            }
        }
    }

    #[test]
    fn high_half_differences_matter() {
        let v = 0x0000_0001_0000_0002u64;
        let s = spec(
            X86,
            vec![plan(
                1,
                vec![(vec![rule(2, ArgCmp::Eq(v))], Action::Trap)],
                Action::Allow,
            )],
        );
        let f = compile(&s);
        assert_eq!(f.run(&data(1, [0, 0, v, 0, 0, 0])), ret::TRAP);
        assert_eq!(f.run(&data(1, [0, 0, 2, 0, 0, 0])), ret::ALLOW);
        assert_eq!(f.run(&data(1, [0, 0, (2 << 32) | 2, 0, 0, 0])), ret::ALLOW);
        assert_eq!(f.run(&data(1, [0, 0, 1 << 32, 0, 0, 0])), ret::ALLOW);
    }

    #[test]
    fn exempt_ip_exempts_only_trap_and_notify_outcomes() {
        let s = spec(
            X86,
            vec![
                plan(
                    257,
                    vec![
                        (vec![rule(0, ArgCmp::Eq(1))], Action::Errno(13)),
                        (vec![rule(0, ArgCmp::Eq(2))], Action::Notify),
                        (vec![rule(0, ArgCmp::Eq(3))], Action::KillProcess),
                    ],
                    Action::Trap,
                ),
                plan(2, vec![], Action::Trap),
                plan(435, vec![], Action::Errno(38)),
            ],
        );
        let f = compile(&s);
        let at = |nr, a0, ip| {
            f.run(&SeccompData {
                instruction_pointer: ip,
                ..data(nr, [a0, 0, 0, 0, 0, 0])
            })
        };
        // From the trampoline.
        assert_eq!(
            at(257, 1, TRAMP),
            ret::ERRNO | 13,
            "errno rules bind the trampoline"
        );
        assert_eq!(at(257, 2, TRAMP), ret::ALLOW);
        assert_eq!(at(257, 3, TRAMP), ret::KILL_PROCESS);
        assert_eq!(at(257, 9, TRAMP), ret::ALLOW);
        assert_eq!(at(2, 0, TRAMP), ret::ALLOW);
        assert_eq!(at(435, 0, TRAMP), ret::ERRNO | 38);
        // Not from the trampoline, including addresses equal in one half only.
        for ip in [
            0,
            TRAMP + 1,
            TRAMP & 0xffff_ffff,
            TRAMP & !0xffff_ffff,
            TRAMP ^ (1 << 40),
        ] {
            assert_eq!(at(257, 2, ip), ret::USER_NOTIF, "ip {ip:#x}");
            assert_eq!(at(257, 9, ip), ret::TRAP, "ip {ip:#x}");
            assert_eq!(at(2, 0, ip), ret::TRAP, "ip {ip:#x}");
        }
        // Without an exempt ip nothing is exempt.
        let f2 = compile(&FilterSpec {
            exempt_ip: None,
            ..s.clone()
        });
        let d = SeccompData {
            instruction_pointer: 0,
            ..data(2, [0; 6])
        };
        assert_eq!(f2.run(&d), ret::TRAP);
    }

    #[test]
    fn first_matching_branch_wins() {
        let s = spec(
            X86,
            vec![plan(
                59,
                vec![
                    (
                        vec![rule(0, ArgCmp::Eq(5)), rule(1, ArgCmp::Eq(6))],
                        Action::Errno(1),
                    ),
                    (vec![rule(0, ArgCmp::Eq(5))], Action::Errno(2)),
                    (vec![], Action::Errno(3)),
                    (vec![rule(0, ArgCmp::Eq(5))], Action::Errno(4)),
                ],
                Action::Errno(5),
            )],
        );
        let f = compile(&s);
        assert_eq!(f.run(&data(59, [5, 6, 0, 0, 0, 0])), ret::ERRNO | 1);
        assert_eq!(f.run(&data(59, [5, 7, 0, 0, 0, 0])), ret::ERRNO | 2);
        assert_eq!(f.run(&data(59, [4, 6, 0, 0, 0, 0])), ret::ERRNO | 3);
    }

    #[test]
    fn spec_errors_are_reported() {
        let dup = spec(
            X86,
            vec![
                plan(1, vec![], Action::Trap),
                plan(1, vec![], Action::Allow),
            ],
        );
        assert_eq!(
            Filter::try_from(&dup),
            Err(FilterError::DuplicateSyscall { nr: 1 })
        );
        for nr in [-1, 0x4000_0000] {
            let s = spec(X86, vec![plan(nr, vec![], Action::Trap)]);
            assert_eq!(
                Filter::try_from(&s),
                Err(FilterError::SyscallOutOfRange { nr })
            );
        }
        let s = spec(
            AUDIT_ARCH_AARCH64,
            vec![plan(0x4000_0000, vec![], Action::Trap)],
        );
        assert!(Filter::try_from(&s).is_ok());
        let s = spec(
            X86,
            vec![plan(
                1,
                vec![(vec![rule(6, ArgCmp::Zero)], Action::Trap)],
                Action::Allow,
            )],
        );
        assert_eq!(
            Filter::try_from(&s),
            Err(FilterError::ArgOutOfRange { nr: 1, arg: 6 })
        );
        let s = spec(X86, vec![plan(1, vec![], Action::Errno(4096))]);
        assert_eq!(
            Filter::try_from(&s),
            Err(FilterError::ErrnoOutOfRange { errno: 4096 })
        );
        // 300 syscalls with 3 eight-instruction branches each cannot fit in 4096.
        let big: Vec<_> = (0..300)
            .map(|nr| {
                let b = (
                    vec![rule(0, ArgCmp::Eq(u64::MAX - 1)), rule(1, ArgCmp::Ne(3))],
                    Action::Trap,
                );
                plan(nr, vec![b.clone(), b.clone(), b], Action::Allow)
            })
            .collect();
        match Filter::try_from(&spec(X86, big)) {
            Err(FilterError::TooLong { len }) => assert!(len > MAX_INSNS),
            other => panic!("expected TooLong, got {other:?}"),
        }
    }

    /// Walks every path from the start, tracking whether the accumulator has been
    /// compared while holding `nr` by an instruction that leads into a listed block.
    /// No load of the instruction pointer or an argument (offset >= 8) may happen
    /// before the number was matched by a `JEQ` on a listed syscall.
    fn assert_number_first(f: &Filter) {
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        enum A {
            Other,
            Nr,
        }
        let insns = f.insns();
        let mut stack = vec![(0usize, A::Other, false)];
        let mut seen = HashSet::new();
        while let Some((pc, acc, matched)) = stack.pop() {
            if !seen.insert((pc, acc, matched)) {
                continue;
            }
            let i = insns[pc];
            match i.code {
                op::LD_W_ABS => {
                    assert!(
                        i.k < 8 || matched,
                        "load of offset {} at {pc} before the syscall number is matched:\n{}",
                        i.k,
                        f.disassemble()
                    );
                    let acc = if i.k == off::NR { A::Nr } else { A::Other };
                    stack.push((pc + 1, acc, matched));
                }
                op::JA => stack.push((pc + 1 + i.k as usize, acc, matched)),
                op::RET_K => {}
                op::JEQ_K | op::JGE_K | op::JGT_K | op::JSET_K => {
                    let hit = matched || (acc == A::Nr && i.code == op::JEQ_K);
                    stack.push((pc + 1 + i.jt as usize, acc, hit));
                    stack.push((pc + 1 + i.jf as usize, acc, matched));
                }
                _ => stack.push((pc + 1, A::Other, matched)),
            }
        }
    }

    /// Runs the filter for `nr` with everything but `nr` and `arch` unknown: returns
    /// `Some(ret)` when the path reads nothing else (what the kernel's action cache
    /// needs to mark the syscall constant), `None` when it reads more.
    fn const_result(f: &Filter, arch: u32, nr: u32) -> Option<u32> {
        let mut other = false;
        let r = f.run_with(|k| match k {
            off::NR => Some(nr),
            off::ARCH => Some(arch),
            _ => {
                other = true;
                Some(0)
            }
        });
        (!other).then_some(r)
    }

    #[test]
    fn number_dispatch_comes_first() {
        for s in [
            shield_like(X86),
            shield_like(AUDIT_ARCH_AARCH64),
            wide_spec(60),
        ] {
            let f = compile(&s);
            assert_number_first(&f);
            let listed: HashSet<u32> = s.syscalls.iter().map(|p| p.nr as u32).collect();
            for nr in 0..1024u32 {
                if !listed.contains(&nr) {
                    assert_eq!(
                        const_result(&f, s.arch, nr),
                        Some(s.otherwise.to_ret()),
                        "nr {nr}"
                    );
                }
            }
        }
    }

    /// `n` syscalls with many branches each: the dispatch tree's jumps span far more
    /// than 255 instructions.
    fn wide_spec(n: i64) -> FilterSpec {
        let syscalls = (0..n)
            .map(|i| {
                let nr = i * 7 + 3;
                let branches = (0..6)
                    .map(|b| {
                        (
                            vec![
                                rule((b % 6) as u8, ArgCmp::Eq(b as u64 | (b as u64) << 33)),
                                rule(
                                    5,
                                    ArgCmp::MaskedNe {
                                        mask: 0xff,
                                        value: b as u64,
                                    },
                                ),
                            ],
                            if b % 2 == 0 {
                                Action::Trap
                            } else {
                                Action::Errno(b as u16)
                            },
                        )
                    })
                    .collect();
                plan(
                    nr,
                    branches,
                    if i % 3 == 0 {
                        Action::Notify
                    } else {
                        Action::Allow
                    },
                )
            })
            .collect();
        spec(X86, syscalls)
    }

    #[test]
    fn long_jumps_stay_correct() {
        let s = wide_spec(60);
        let f = compile(&s);
        assert!(
            f.len() > 2 * 255,
            "test should need long jumps ({} insns)",
            f.len()
        );
        assert!(
            f.insns().iter().any(|i| i.code == op::JA && i.k > 255),
            "{}",
            f.disassemble()
        );
        for p in &s.syscalls {
            for b in 0..7u64 {
                for ip in [0, TRAMP] {
                    let mut args = [b | b << 33; 6];
                    args[5] = 0x100 + b + 1;
                    let d = SeccompData {
                        instruction_pointer: ip,
                        ..data(p.nr as i32, args)
                    };
                    assert_eq!(f.run(&d), s.evaluate(&d), "nr {} b {b} ip {ip:#x}", p.nr);
                }
            }
        }
    }

    #[test]
    fn one_huge_block_needs_trampolines_in_the_tree() {
        let mut s = wide_spec(10);
        let branches: Vec<_> = (0..200u64)
            .map(|b| {
                (
                    vec![rule(0, ArgCmp::Eq(b << 32 | b))],
                    Action::Errno((b + 1) as u16),
                )
            })
            .collect();
        s.syscalls[0].branches = branches;
        let f = compile(&s);
        for b in [0u64, 1, 100, 199, 200] {
            let d = data(s.syscalls[0].nr as i32, [b << 32 | b, 0, 0, 0, 0, 0]);
            assert_eq!(f.run(&d), s.evaluate(&d));
        }
        for p in &s.syscalls[1..] {
            let d = data(p.nr as i32, [0; 6]);
            assert_eq!(f.run(&d), s.evaluate(&d));
        }
        assert_number_first(&f);
    }

    #[test]
    fn interpreter_rejects_bad_programs() {
        let run = |insns: Vec<Insn>| Filter { insns }.run(&data(1, [0; 6]));
        assert_eq!(run(vec![]), ret::KILL_PROCESS);
        assert_eq!(
            run(vec![Insn::new(op::LD_W_ABS, 0, 0, 0)]),
            ret::KILL_PROCESS,
            "falls off"
        );
        assert_eq!(
            run(vec![
                Insn::new(op::LD_W_ABS, 0, 0, 64),
                Insn::new(op::RET_K, 0, 0, 0)
            ]),
            ret::KILL_PROCESS
        );
        assert_eq!(
            run(vec![
                Insn::new(op::LD_W_ABS, 0, 0, 2),
                Insn::new(op::RET_K, 0, 0, 0)
            ]),
            ret::KILL_PROCESS
        );
        assert_eq!(
            run(vec![Insn::new(op::JA, 0, 0, u32::MAX)]),
            ret::KILL_PROCESS
        );
        assert_eq!(
            run(vec![Insn::new(op::JEQ_K, 200, 200, 0)]),
            ret::KILL_PROCESS
        );
        assert_eq!(run(vec![Insn::new(0xff, 0, 0, 0)]), ret::KILL_PROCESS);
        assert_eq!(run(vec![Insn::new(op::ST, 0, 0, 16)]), ret::KILL_PROCESS);
        // Scratch memory and AND work.
        let prog = vec![
            Insn::new(op::LD_W_ABS, 0, 0, off::NR),
            Insn::new(op::AND_K, 0, 0, 0xfe),
            Insn::new(op::ST, 0, 0, 3),
            Insn::new(op::LD_W_ABS, 0, 0, off::ARCH),
            Insn::new(op::LD_MEM, 0, 0, 3),
            Insn::new(op::JEQ_K, 0, 1, 0),
            Insn::new(op::RET_K, 0, 0, 11),
            Insn::new(op::RET_K, 0, 0, 22),
        ];
        assert_eq!(run(prog), 11);
    }

    #[test]
    fn disassembly_is_readable() {
        let f = compile(&shield_like(X86));
        let text = f.disassemble();
        assert_eq!(text.lines().count(), f.len());
        assert!(text.starts_with("0000: ld   [4] ; arch\n0001: jeq  #0xc000003e, 0003, 0002\n0002: ret  KillProcess\n"), "{text}");
        assert!(text.contains("ret  ERRNO(38)"), "{text}");
        assert!(text.contains("ret  Trap"), "{text}");
        assert!(text.contains("; ip (high)"), "{text}");
    }

    #[test]
    fn action_ret_round_trip() {
        for a in [
            Action::Allow,
            Action::Errno(0),
            Action::Errno(4095),
            Action::Trap,
            Action::Notify,
            Action::KillProcess,
            Action::Log,
        ] {
            assert_eq!(Action::from_ret(a.to_ret()), Some(a));
        }
        assert_eq!(Action::Allow.to_ret(), 0x7fff_0000);
        assert_eq!(Action::Errno(1).to_ret(), 0x0005_0001);
        assert_eq!(Action::Trap.to_ret(), 0x0003_0000);
        assert_eq!(Action::Notify.to_ret(), 0x7fc0_0000);
        assert_eq!(Action::KillProcess.to_ret(), 0x8000_0000);
        assert_eq!(Action::from_ret(0), None, "KILL_THREAD is never emitted");
    }

    fn arb_value() -> impl Strategy<Value = u64> {
        prop_oneof![
            Just(0u64),
            Just(1),
            Just(u64::MAX),
            Just(1 << 32),
            Just(0xffff_ffff),
            (0u64..4).prop_map(|v| v << 32 | v),
            any::<u64>(),
        ]
    }

    fn arb_cmp() -> impl Strategy<Value = ArgCmp> {
        prop_oneof![
            arb_value().prop_map(ArgCmp::Eq),
            arb_value().prop_map(ArgCmp::Ne),
            (arb_value(), arb_value()).prop_map(|(mask, value)| ArgCmp::MaskedEq { mask, value }),
            (arb_value(), arb_value()).prop_map(|(mask, value)| ArgCmp::MaskedNe { mask, value }),
            Just(ArgCmp::NonZero),
            Just(ArgCmp::Zero),
        ]
    }

    fn arb_action() -> impl Strategy<Value = Action> {
        prop_oneof![
            Just(Action::Allow),
            (0u16..5).prop_map(Action::Errno),
            Just(Action::Trap),
            Just(Action::Notify),
            Just(Action::KillProcess),
            Just(Action::Log),
        ]
    }

    fn arb_branch() -> impl Strategy<Value = (Vec<Rule>, Action)> {
        (
            prop::collection::vec(
                (0u8..6, arb_cmp()).prop_map(|(arg, cmp)| Rule { arg, cmp }),
                0..4,
            ),
            arb_action(),
        )
    }

    fn arb_spec() -> impl Strategy<Value = FilterSpec> {
        (
            prop::collection::btree_set(0i64..500, 0..60),
            prop::collection::vec(
                (prop::collection::vec(arb_branch(), 0..5), arb_action()),
                60,
            ),
            prop::option::of(any::<u64>()),
            prop::collection::vec(arb_action(), 0..3),
            arb_action(),
            prop::bool::ANY,
        )
            .prop_map(|(nrs, bodies, exempt_ip, exempt_actions, otherwise, x86)| {
                FilterSpec {
                    arch: if x86 { X86 } else { AUDIT_ARCH_AARCH64 },
                    syscalls: nrs
                        .into_iter()
                        .zip(bodies)
                        .map(|(nr, (branches, default))| SyscallPlan {
                            nr,
                            branches,
                            default,
                        })
                        .collect(),
                    exempt_ip,
                    exempt_actions,
                    otherwise,
                }
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        #[test]
        fn compiled_filter_matches_the_spec(
            s in arb_spec(),
            probes in prop::collection::vec(
                (any::<prop::sample::Index>(), 0u32..600, prop::array::uniform6(arb_value()), 0u8..10, any::<u64>()),
                64,
            ),
        ) {
            let f = Filter::try_from(&s).expect("random specs are valid");
            assert_number_first(&f);
            for (idx, other_nr, args, pick, ip) in probes {
                // Mostly listed syscalls, the right arch, and the trampoline half the time.
                let nr = if pick < 6 && !s.syscalls.is_empty() {
                    s.syscalls[idx.index(s.syscalls.len())].nr as u32
                } else if pick == 9 {
                    other_nr | X32_SYSCALL_BIT
                } else {
                    other_nr
                };
                let arch = if pick == 8 { AUDIT_ARCH_X86_64 ^ AUDIT_ARCH_AARCH64 ^ s.arch } else { s.arch };
                let instruction_pointer = match (s.exempt_ip, pick % 2) {
                    (Some(e), 0) => e,
                    _ => ip,
                };
                let d = SeccompData { nr: nr as i32, arch, instruction_pointer, args };
                prop_assert_eq!(f.run(&d), s.evaluate(&d), "{:?}\n{}", d, f.disassemble());
            }
        }
    }
}
