//! The interpreter: runs a compiled [`Filter`] on a [`SeccompData`] as the kernel would, so
//! that tests check the very instructions that get installed.

use super::bpf::{op, ret};
use super::{Filter, SeccompData};

impl Filter {
    /// Runs the program on `data` as the kernel would and returns the
    /// `SECCOMP_RET_*` value. An invalid program (bad opcode, load out of range, jump
    /// past the end, falling off the end) yields `KILL_PROCESS`.
    pub fn run(&self, data: &SeccompData) -> u32 {
        self.run_with(|k| data.word(k))
    }

    /// The interpreter, with data loads going through `load` (tests use it to observe
    /// which offsets a path reads).
    pub(super) fn run_with(&self, mut load: impl FnMut(u32) -> Option<u32>) -> u32 {
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
}
