//! The compiler: a [`FilterSpec`] to a classic-BPF program, laid out as the module
//! documentation of [`filter`](super) describes.

use super::assembler::{Asm, Label, Target};
use super::bpf::{off, op, ret};
use super::condition::validate;
use super::{ArgCmp, Condition, Filter, FilterError, FilterSpec, ReturnAction, SyscallPlan};
use super::{MAX_INSNS, X32_SYSCALL_BIT};
use crate::intercept::arch::AUDIT_ARCH_X86_64;

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
        asm.ret(spec.foreign_arch.to_ret());
        asm.bind(arch_ok);
        // (2) number, and the x32 ABI.
        asm.load(off::NR);
        if spec.arch == AUDIT_ARCH_X86_64 {
            let native = asm.label();
            asm.cond(op::JGE_K, X32_SYSCALL_BIT, Target::Next, Target::L(native));
            asm.ret(ReturnAction::Errno(libc::ENOSYS as u16).to_ret());
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
    let outcomes: Vec<ReturnAction> = plan
        .branches
        .iter()
        .map(|(_, a)| *a)
        .chain([plan.default])
        .collect();
    let exempt = |a: &ReturnAction| spec.exempt_ip.is_some() && spec.exempt_actions.contains(a);
    let ip = spec.exempt_ip.unwrap_or(0);

    // All outcomes exempt: one check up front, before any argument load.
    let all_exempt = outcomes.iter().all(exempt);
    if all_exempt {
        let not_trampoline = asm.label();
        ip_check(asm, ip, not_trampoline);
        asm.bind(not_trampoline);
    }
    // Otherwise one tail per distinct exempt outcome: check the ip, then return.
    let mut tails: Vec<(ReturnAction, Label)> = Vec::new();
    let mut target_of = |asm: &mut Asm, a: ReturnAction| -> Option<Label> {
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

    for (conditions, action) in &plan.branches {
        let next_branch = asm.label();
        for r in conditions {
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
fn rule(asm: &mut Asm, r: Condition, fail: Label) {
    let (lo, hi) = (off::arg_lo(r.arg), off::arg_hi(r.arg));
    if let ArgCmp::Low32AtLeast(v) = r.cmp {
        asm.load(lo);
        asm.cond(op::JGE_K, v, Target::Next, Target::L(fail));
        return;
    }
    let (mask, value, negate) = match r.cmp {
        ArgCmp::Low32AtLeast(_) => unreachable!("handled above"),
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
