//! The compiler checked by running its output through the interpreter.

use super::*;
use crate::intercept::arch::{AUDIT_ARCH_AARCH64, AUDIT_ARCH_X86_64};
use proptest::prelude::*;
use std::collections::HashSet;

const X86: u32 = AUDIT_ARCH_X86_64;
const TRAMP: u64 = 0x0000_5555_1234_5678;
const ENOSYS: u32 = ret::ERRNO | libc::ENOSYS as u32;

fn plan(
    nr: i64,
    branches: Vec<(Vec<Condition>, ReturnAction)>,
    default: ReturnAction,
) -> SyscallPlan {
    SyscallPlan {
        nr,
        branches,
        default,
    }
}

fn spec(arch: u32, syscalls: Vec<SyscallPlan>) -> FilterSpec {
    FilterSpec {
        arch,
        foreign_arch: ReturnAction::KillProcess,
        syscalls,
        exempt_ip: Some(TRAMP),
        exempt_actions: vec![ReturnAction::Trap, ReturnAction::Notify],
        otherwise: ReturnAction::Allow,
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

fn rule(arg: u8, cmp: ArgCmp) -> Condition {
    Condition { arg, cmp }
}

/// A spec shaped like the shield's: errno decisions in the kernel, traps for the
/// pointer-based ones.
fn shield_like(arch: u32) -> FilterSpec {
    spec(
        arch,
        vec![
            plan(257, vec![], ReturnAction::Trap), // openat
            plan(42, vec![], ReturnAction::Trap),  // connect
            plan(435, vec![], ReturnAction::Errno(libc::ENOSYS as u16)), // clone3
            plan(
                13, // rt_sigaction
                vec![(
                    vec![
                        rule(0, ArgCmp::Eq(libc::SIGSYS as u64)),
                        rule(1, ArgCmp::NonZero),
                    ],
                    ReturnAction::Errno(libc::EPERM as u16),
                )],
                ReturnAction::Allow,
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
                    ReturnAction::Errno(libc::EPERM as u16),
                )],
                ReturnAction::Allow,
            ),
            plan(
                44, // sendto: trap only with an address
                vec![(vec![rule(4, ArgCmp::Zero)], ReturnAction::Allow)],
                ReturnAction::Trap,
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
fn foreign_arch_gets_its_own_action() {
    for (action, want) in [
        (ReturnAction::Notify, ret::USER_NOTIF),
        (ReturnAction::Allow, ret::ALLOW),
        (ReturnAction::Errno(libc::ENOSYS as u16), ENOSYS),
    ] {
        let s = FilterSpec {
            foreign_arch: action,
            ..shield_like(X86)
        };
        let f = compile(&s);
        let d = SeccompData {
            arch: 0x4000_0003, // i386
            ..data(5, [0; 6])
        };
        assert_eq!(f.run(&d), want);
        assert_eq!(s.evaluate(&d), want);
        // The native ABI is unaffected.
        assert_eq!(f.run(&data(257, [0; 6])), ret::TRAP);
    }
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
    s.otherwise = ReturnAction::Errno(1);
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
                    vec![(vec![rule(arg, cmp)], ReturnAction::Errno(7))],
                    ReturnAction::Allow,
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
            vec![(vec![rule(2, ArgCmp::Eq(v))], ReturnAction::Trap)],
            ReturnAction::Allow,
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
                    (vec![rule(0, ArgCmp::Eq(1))], ReturnAction::Errno(13)),
                    (vec![rule(0, ArgCmp::Eq(2))], ReturnAction::Notify),
                    (vec![rule(0, ArgCmp::Eq(3))], ReturnAction::KillProcess),
                ],
                ReturnAction::Trap,
            ),
            plan(2, vec![], ReturnAction::Trap),
            plan(435, vec![], ReturnAction::Errno(38)),
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
        "errno conditions bind the trampoline"
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
                    ReturnAction::Errno(1),
                ),
                (vec![rule(0, ArgCmp::Eq(5))], ReturnAction::Errno(2)),
                (vec![], ReturnAction::Errno(3)),
                (vec![rule(0, ArgCmp::Eq(5))], ReturnAction::Errno(4)),
            ],
            ReturnAction::Errno(5),
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
            plan(1, vec![], ReturnAction::Trap),
            plan(1, vec![], ReturnAction::Allow),
        ],
    );
    assert_eq!(
        Filter::try_from(&dup),
        Err(FilterError::DuplicateSyscall { nr: 1 })
    );
    for nr in [-1, 0x4000_0000] {
        let s = spec(X86, vec![plan(nr, vec![], ReturnAction::Trap)]);
        assert_eq!(
            Filter::try_from(&s),
            Err(FilterError::SyscallOutOfRange { nr })
        );
    }
    let s = spec(
        AUDIT_ARCH_AARCH64,
        vec![plan(0x4000_0000, vec![], ReturnAction::Trap)],
    );
    assert!(Filter::try_from(&s).is_ok());
    let s = spec(
        X86,
        vec![plan(
            1,
            vec![(vec![rule(6, ArgCmp::Zero)], ReturnAction::Trap)],
            ReturnAction::Allow,
        )],
    );
    assert_eq!(
        Filter::try_from(&s),
        Err(FilterError::ArgOutOfRange { nr: 1, arg: 6 })
    );
    let s = spec(X86, vec![plan(1, vec![], ReturnAction::Errno(4096))]);
    assert_eq!(
        Filter::try_from(&s),
        Err(FilterError::ErrnoOutOfRange { errno: 4096 })
    );
    // 300 syscalls with 3 eight-instruction branches each cannot fit in 4096.
    let big: Vec<_> = (0..300)
        .map(|nr| {
            let b = (
                vec![rule(0, ArgCmp::Eq(u64::MAX - 1)), rule(1, ArgCmp::Ne(3))],
                ReturnAction::Trap,
            );
            plan(nr, vec![b.clone(), b.clone(), b], ReturnAction::Allow)
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
                            ReturnAction::Trap
                        } else {
                            ReturnAction::Errno(b as u16)
                        },
                    )
                })
                .collect();
            plan(
                nr,
                branches,
                if i % 3 == 0 {
                    ReturnAction::Notify
                } else {
                    ReturnAction::Allow
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
                ReturnAction::Errno((b + 1) as u16),
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
    assert!(
        text.starts_with(
            "0000: ld   [4] ; arch\n0001: jeq  #0xc000003e, 0003, 0002\n0002: ret  KillProcess\n"
        ),
        "{text}"
    );
    assert!(text.contains("ret  ERRNO(38)"), "{text}");
    assert!(text.contains("ret  Trap"), "{text}");
    assert!(text.contains("; ip (high)"), "{text}");
}

#[test]
fn action_ret_round_trip() {
    for a in [
        ReturnAction::Allow,
        ReturnAction::Errno(0),
        ReturnAction::Errno(4095),
        ReturnAction::Trap,
        ReturnAction::Notify,
        ReturnAction::KillProcess,
        ReturnAction::Log,
    ] {
        assert_eq!(ReturnAction::from_ret(a.to_ret()), Some(a));
    }
    assert_eq!(ReturnAction::Allow.to_ret(), 0x7fff_0000);
    assert_eq!(ReturnAction::Errno(1).to_ret(), 0x0005_0001);
    assert_eq!(ReturnAction::Trap.to_ret(), 0x0003_0000);
    assert_eq!(ReturnAction::Notify.to_ret(), 0x7fc0_0000);
    assert_eq!(ReturnAction::KillProcess.to_ret(), 0x8000_0000);
    assert_eq!(
        ReturnAction::from_ret(0),
        None,
        "KILL_THREAD is never emitted"
    );
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
        arb_value().prop_map(|v| ArgCmp::Low32AtLeast(v as u32)),
    ]
}

fn arb_action() -> impl Strategy<Value = ReturnAction> {
    prop_oneof![
        Just(ReturnAction::Allow),
        (0u16..5).prop_map(ReturnAction::Errno),
        Just(ReturnAction::Trap),
        Just(ReturnAction::Notify),
        Just(ReturnAction::KillProcess),
        Just(ReturnAction::Log),
    ]
}

fn arb_branch() -> impl Strategy<Value = (Vec<Condition>, ReturnAction)> {
    (
        prop::collection::vec(
            (0u8..6, arb_cmp()).prop_map(|(arg, cmp)| Condition { arg, cmp }),
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
        .prop_map(
            |(nrs, bodies, exempt_ip, exempt_actions, otherwise, x86)| FilterSpec {
                arch: if x86 { X86 } else { AUDIT_ARCH_AARCH64 },
                foreign_arch: ReturnAction::KillProcess,
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
            },
        )
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
