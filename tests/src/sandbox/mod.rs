//! A sandbox launcher that imitates AWS Lambda's restrictions and older kernels on this machine
//! (see the `fnshield-sandbox` binary).
//!
//! The launcher runs as root (as CI does). It installs its own seccomp filter — allowed without
//! NoNewPrivs while it holds CAP_SYS_ADMIN — then drops privileges where the profile says so and
//! execs the command. Refusals are decided in the filter from the syscall number, the
//! `seccomp(2)` operation and flags arguments and the `ioctl(2)` request number. Two refusals
//! depend on memory the filter cannot read — the `SECCOMP_ADDFD_FLAG_SEND` bit inside
//! `struct seccomp_notif_addfd` (Linux 5.14) and the action `SECCOMP_GET_ACTION_AVAIL` is asked
//! about — so only those calls get `SECCOMP_RET_TRACE`: the launcher's first stage traces the
//! command (ptrace, seccomp stops only; signals are passed on unchanged), reads the argument,
//! and either skips the call with the errno the old kernel gives or lets it run. (A
//! user-notification supervisor cannot do this: a process may have only one seccomp listener
//! in its filter chain, and fnshield needs it.) The tracer is x86_64 only; on arm64 these two
//! refusals are not imitated.
//!
//! How each kernel refuses, from its `kernel/seccomp.c` and syscall table:
//! - unknown filter flags: `seccomp_set_mode_filter` returns EINVAL (`flags &
//!   ~SECCOMP_FILTER_FLAG_MASK`); before 5.7, `TSYNC | NEW_LISTENER` together is EINVAL too;
//! - unknown listener ioctls: `seccomp_notify_ioctl` returns EINVAL (`default:`); 5.9–5.13
//!   refuse any ADDFD flag but SETFD with EINVAL;
//! - unknown `seccomp(2)` operations: EINVAL; an action `SECCOMP_GET_ACTION_AVAIL` does not know
//!   (USER_NOTIF before 5.0): EOPNOTSUPP;
//! - syscalls past the kernel's table: ENOSYS.

mod sys;

pub use sys::{
    action_avail, ioctl_value, ioctl_with, openat2, seccomp_get_notif_sizes, set_mode_filter,
    value_syscall,
};
pub use sys::{adopt_inherited, vm_read, wait_any, Insn};

#[cfg(target_arch = "x86_64")]
pub use sys::int80_getpid;

use std::fmt;

/// The uid and gid the Lambda profiles run as (a container-image function's user).
pub const LAMBDA_UID: u32 = 993;

/// A sandbox profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    /// Lambda as public reports describe it: Linux 5.10, an unprivileged uid, `prctl` refused
    /// with EPERM (so NoNewPrivs cannot be set), NoNewPrivs unset, `ptrace` and user namespaces
    /// refused, the 32-bit `int 0x80` path killed.
    Lambda,
    /// [`Profile::Lambda`] with NoNewPrivs already set (reported for container-image
    /// functions): an unprivileged process may then install a seccomp filter.
    LambdaNnp,
    /// Linux 5.10 (Lambda's kernel): no WAIT_KILLABLE_RECV, no ADDFD_FLAG_SEND, no
    /// SECCOMP_IOCTL_NOTIF_SET_FLAGS, no syscall past `process_madvise` (Landlock, …).
    K5_10,
    /// Linux 5.4: as 5.10, and no TSYNC_ESRCH (so `TSYNC | NEW_LISTENER` is refused), no ADDFD,
    /// no syscall past `clone3` (no `pidfd_getfd`, no `openat2`).
    K5_4,
    /// Linux 4.14 (Lambda before 2024): no USER_NOTIF at all, no syscall past `statx`.
    K4_14,
    /// `process_vm_readv` refused with EPERM (as container profiles without CAP_SYS_PTRACE do).
    NoVmReadv,
    /// `pidfd_getfd` refused with EPERM (as container profiles without CAP_SYS_PTRACE do).
    NoPidfdGetfd,
}

impl Profile {
    /// Every profile.
    pub const ALL: [Profile; 7] = [
        Profile::Lambda,
        Profile::LambdaNnp,
        Profile::K5_10,
        Profile::K5_4,
        Profile::K4_14,
        Profile::NoVmReadv,
        Profile::NoPidfdGetfd,
    ];

    /// The profile's name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Profile::Lambda => "lambda",
            Profile::LambdaNnp => "lambda-nnp",
            Profile::K5_10 => "k5.10",
            Profile::K5_4 => "k5.4",
            Profile::K4_14 => "k4.14",
            Profile::NoVmReadv => "no-vm-readv",
            Profile::NoPidfdGetfd => "no-pidfd-getfd",
        }
    }

    /// The profile named `s`.
    ///
    /// # Errors
    /// An unknown name, with the list of valid ones.
    pub fn parse(s: &str) -> Result<Profile, String> {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Profile::ALL.iter().map(|p| p.name()).collect();
                format!(
                    "unknown profile `{s}`; expected one of {}",
                    names.join(", ")
                )
            })
    }

    /// The kernel version whose refusals the profile imitates, if any.
    pub fn kernel(self) -> Option<Kernel> {
        match self {
            Profile::Lambda | Profile::LambdaNnp | Profile::K5_10 => Some(Kernel::V5_10),
            Profile::K5_4 => Some(Kernel::V5_4),
            Profile::K4_14 => Some(Kernel::V4_14),
            Profile::NoVmReadv | Profile::NoPidfdGetfd => None,
        }
    }

    /// Lambda's sandbox: unprivileged, prctl refused, `int 0x80` killed.
    pub fn is_lambda(self) -> bool {
        matches!(self, Profile::Lambda | Profile::LambdaNnp)
    }

    /// NoNewPrivs is set before the command starts.
    pub fn no_new_privs(self) -> bool {
        self == Profile::LambdaNnp
    }

    /// The refusals, in the order the filter checks them.
    pub fn checks(self) -> Vec<Check> {
        let mut c = Vec::new();
        if self.is_lambda() {
            c.push(Check::always(libc::SYS_prctl, Then::Errno(libc::EPERM)));
            c.push(Check::always(libc::SYS_ptrace, Then::Errno(libc::EPERM)));
            let newuser = libc::CLONE_NEWUSER as u32;
            for nr in [libc::SYS_unshare, libc::SYS_clone] {
                c.push(Check {
                    nr: Nr::Eq(nr as u32),
                    conds: vec![Cond::masked_eq(0, newuser, newuser)],
                    then: Then::Errno(libc::EPERM),
                });
            }
        }
        match self {
            Profile::NoVmReadv => c.push(Check::always(
                libc::SYS_process_vm_readv,
                Then::Errno(libc::EPERM),
            )),
            Profile::NoPidfdGetfd => c.push(Check::always(
                libc::SYS_pidfd_getfd,
                Then::Errno(libc::EPERM),
            )),
            _ => {}
        }
        if let Some(k) = self.kernel() {
            c.extend(k.checks());
        }
        c
    }

    /// Some refusal needs the launcher's tracer.
    pub fn needs_tracer(self) -> bool {
        self.checks().iter().any(|c| c.then == Then::Trace)
    }

    /// The filter program.
    pub fn program(self) -> Vec<Insn> {
        compile(&self.checks(), self.is_lambda())
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A kernel version whose refusals a profile imitates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kernel {
    /// Linux 5.10.
    V5_10,
    /// Linux 5.4.
    V5_4,
    /// Linux 4.14.
    V4_14,
}

const TSYNC: u32 = libc::SECCOMP_FILTER_FLAG_TSYNC as u32;
const NEW_LISTENER: u32 = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER as u32;

impl Kernel {
    /// The first syscall number this kernel's table does not have.
    pub fn syscall_limit(self) -> u32 {
        match self {
            // process_madvise (440) is the last in 5.10, on both architectures.
            Kernel::V5_10 => 441,
            // clone3 (435) is the last in 5.4.
            Kernel::V5_4 => 436,
            // statx is the last in 4.14: 332 on x86_64, 291 on arm64.
            #[cfg(target_arch = "x86_64")]
            Kernel::V4_14 => 333,
            #[cfg(not(target_arch = "x86_64"))]
            Kernel::V4_14 => 292,
        }
    }

    /// The seccomp filter flags this kernel knows (`SECCOMP_FILTER_FLAG_MASK`).
    pub fn filter_flags(self) -> u32 {
        match self {
            // TSYNC, LOG, SPEC_ALLOW, NEW_LISTENER, TSYNC_ESRCH (5.7).
            Kernel::V5_10 => 0x1f,
            // TSYNC, LOG, SPEC_ALLOW, NEW_LISTENER (5.0).
            Kernel::V5_4 => 0x0f,
            // TSYNC, LOG (4.14), SPEC_ALLOW (4.17, in the 4.14 stable series).
            Kernel::V4_14 => 0x07,
        }
    }

    fn checks(self) -> Vec<Check> {
        let seccomp = libc::SYS_seccomp as u32;
        let set_filter = libc::SECCOMP_SET_MODE_FILTER;
        let mut c = vec![
            Check {
                nr: Nr::AtLeast(self.syscall_limit()),
                conds: vec![],
                then: Then::Errno(libc::ENOSYS),
            },
            Check {
                nr: Nr::Eq(seccomp),
                conds: vec![
                    Cond::masked_eq(0, u32::MAX, set_filter),
                    Cond::masked_ne(1, !self.filter_flags(), 0),
                ],
                then: Then::Errno(libc::EINVAL),
            },
        ];
        let req = |r: libc::Ioctl| r as u32;
        match self {
            Kernel::V5_10 => {
                c.push(Check::ioctl(
                    req(libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS),
                    Then::Errno(libc::EINVAL),
                ));
                // The SEND flag lives in the argument struct: the tracer decides.
                c.push(Check::ioctl(
                    req(libc::SECCOMP_IOCTL_NOTIF_ADDFD),
                    Then::Trace,
                ));
            }
            Kernel::V5_4 => {
                // Before 5.7 the TSYNC | NEW_LISTENER combination is refused outright.
                c.push(Check {
                    nr: Nr::Eq(seccomp),
                    conds: vec![
                        Cond::masked_eq(0, u32::MAX, set_filter),
                        Cond::masked_eq(1, TSYNC | NEW_LISTENER, TSYNC | NEW_LISTENER),
                    ],
                    then: Then::Errno(libc::EINVAL),
                });
                for r in [
                    libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
                    libc::SECCOMP_IOCTL_NOTIF_ADDFD,
                ] {
                    c.push(Check::ioctl(req(r), Then::Errno(libc::EINVAL)));
                }
            }
            Kernel::V4_14 => {
                // SECCOMP_GET_NOTIF_SIZES (5.0) is an unknown operation.
                c.push(Check {
                    nr: Nr::Eq(seccomp),
                    conds: vec![Cond::masked_eq(0, u32::MAX, libc::SECCOMP_GET_NOTIF_SIZES)],
                    then: Then::Errno(libc::EINVAL),
                });
                // Which action GET_ACTION_AVAIL is asked about is in memory.
                c.push(Check {
                    nr: Nr::Eq(seccomp),
                    conds: vec![Cond::masked_eq(0, u32::MAX, libc::SECCOMP_GET_ACTION_AVAIL)],
                    then: Then::Trace,
                });
            }
        }
        c
    }
}

/// Which syscall numbers a check applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nr {
    /// Exactly this one.
    Eq(u32),
    /// This one and every higher one.
    AtLeast(u32),
}

/// A condition on the low 32 bits of an argument: `(arg & mask) == value`, or `!=`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cond {
    arg: u8,
    mask: u32,
    value: u32,
    equal: bool,
}

impl Cond {
    /// `(arg & mask) == value`.
    pub fn masked_eq(arg: u8, mask: u32, value: u32) -> Cond {
        Cond {
            arg,
            mask,
            value,
            equal: true,
        }
    }
    /// `(arg & mask) != value`.
    pub fn masked_ne(arg: u8, mask: u32, value: u32) -> Cond {
        Cond {
            arg,
            mask,
            value,
            equal: false,
        }
    }
}

/// What a matching call gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// `SECCOMP_RET_ERRNO` with this errno.
    Errno(i32),
    /// `SECCOMP_RET_TRACE`: the launcher's tracer decides (see [`decide`]).
    Trace,
}

/// One refusal: the syscall, conditions that must all hold, and the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The syscall number(s).
    pub nr: Nr,
    /// Conditions on arguments, all of which must hold.
    pub conds: Vec<Cond>,
    /// The answer.
    pub then: Then,
}

impl Check {
    fn always(nr: libc::c_long, then: Then) -> Check {
        Check {
            nr: Nr::Eq(nr as u32),
            conds: vec![],
            then,
        }
    }
    fn ioctl(request: u32, then: Then) -> Check {
        Check {
            nr: Nr::Eq(libc::SYS_ioctl as u32),
            conds: vec![Cond::masked_eq(1, u32::MAX, request)],
            then,
        }
    }
}

#[cfg(target_arch = "x86_64")]
const AUDIT_ARCH: u32 = 0xc000_003e;
#[cfg(target_arch = "aarch64")]
const AUDIT_ARCH: u32 = 0xc000_00b7;

const LD_ABS: u16 = (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16;
const JEQ: u16 = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
const JGE: u16 = (libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16;
const AND: u16 = (libc::BPF_ALU | libc::BPF_AND | libc::BPF_K) as u16;
const RET: u16 = (libc::BPF_RET | libc::BPF_K) as u16;

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> Insn {
    Insn { code, jt, jf, k }
}

/// Compile `checks` into a filter: foreign architectures are killed (`kill_foreign`, Lambda's
/// `int 0x80`) or allowed; each check is one block that falls through to the next when it does
/// not match; everything else is allowed.
pub fn compile(checks: &[Check], kill_foreign: bool) -> Vec<Insn> {
    const SKIP: u8 = u8::MAX;
    let mut p = vec![
        insn(LD_ABS, 0, 0, 4), // seccomp_data.arch
        insn(JEQ, 1, 0, AUDIT_ARCH),
        insn(
            RET,
            0,
            0,
            if kill_foreign {
                libc::SECCOMP_RET_KILL_PROCESS
            } else {
                libc::SECCOMP_RET_ALLOW
            },
        ),
    ];
    for c in checks {
        let mut b = vec![insn(LD_ABS, 0, 0, 0)]; // seccomp_data.nr
        b.push(match c.nr {
            Nr::Eq(n) => insn(JEQ, 0, SKIP, n),
            Nr::AtLeast(n) => insn(JGE, 0, SKIP, n),
        });
        for cond in &c.conds {
            // The low word of args[i] (little-endian).
            b.push(insn(LD_ABS, 0, 0, 16 + 8 * cond.arg as u32));
            if cond.mask != u32::MAX {
                b.push(insn(AND, 0, 0, cond.mask));
            }
            b.push(if cond.equal {
                insn(JEQ, 0, SKIP, cond.value)
            } else {
                insn(JEQ, SKIP, 0, cond.value)
            });
        }
        b.push(insn(
            RET,
            0,
            0,
            match c.then {
                Then::Errno(e) => libc::SECCOMP_RET_ERRNO | (e as u32 & 0xffff),
                Then::Trace => libc::SECCOMP_RET_TRACE,
            },
        ));
        let len = b.len();
        for (i, ins) in b.iter_mut().enumerate() {
            // Jump past this block's return.
            let past = (len - i - 1) as u8;
            if ins.jt == SKIP {
                ins.jt = past;
            }
            if ins.jf == SKIP {
                ins.jf = past;
            }
        }
        p.extend(b);
    }
    p.push(insn(RET, 0, 0, libc::SECCOMP_RET_ALLOW));
    p
}

/// The tracer's answer to one traced call `nr(args)` of `pid`: read the argument the filter
/// could not, and refuse with the errno the imitated kernel gives (`Some`), or let the call run
/// (`None`). Anything it cannot read runs (the real call then fails as the kernel fails it).
pub fn decide(kernel: Kernel, pid: i32, nr: i64, args: [u64; 6]) -> Option<i32> {
    if nr == libc::SYS_ioctl
        && args[1] as u32 == libc::SECCOMP_IOCTL_NOTIF_ADDFD as u32
        && kernel == Kernel::V5_10
    {
        // struct seccomp_notif_addfd { u64 id; u32 flags; u32 srcfd; u32 newfd; u32 newfd_flags }
        let mut buf = [0u8; 24];
        if vm_read(pid, args[2], &mut buf) == 24 {
            let flags = u32::from_ne_bytes([buf[8], buf[9], buf[10], buf[11]]);
            if flags & !(libc::SECCOMP_ADDFD_FLAG_SETFD as u32) != 0 {
                return Some(libc::EINVAL);
            }
        }
    } else if nr == libc::SYS_seccomp
        && args[0] as u32 == libc::SECCOMP_GET_ACTION_AVAIL
        && kernel == Kernel::V4_14
    {
        let mut buf = [0u8; 4];
        if vm_read(pid, args[2], &mut buf) == 4
            && u32::from_ne_bytes(buf) == libc::SECCOMP_RET_USER_NOTIF
        {
            return Some(libc::EOPNOTSUPP);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_profile_compiles_to_a_program_the_kernel_accepts_in_size() {
        for p in Profile::ALL {
            let prog = p.program();
            assert!(prog.len() < 256, "{p}: {} instructions", prog.len());
            assert_eq!(prog.last().unwrap().k, libc::SECCOMP_RET_ALLOW);
        }
    }

    #[test]
    fn profile_names_round_trip_and_unknown_names_list_the_valid_ones() {
        for p in Profile::ALL {
            assert_eq!(Profile::parse(p.name()), Ok(p));
        }
        let e = Profile::parse("k6.1").unwrap_err();
        assert!(e.contains("k5.10") && e.contains("no-pidfd-getfd"), "{e}");
    }

    #[test]
    fn only_the_memory_borne_refusals_need_the_tracer() {
        let need: Vec<_> = Profile::ALL
            .into_iter()
            .filter(|p| p.needs_tracer())
            .collect();
        assert_eq!(
            need,
            [
                Profile::Lambda,
                Profile::LambdaNnp,
                Profile::K5_10,
                Profile::K4_14
            ]
        );
    }
}
