//! The disassembler: a readable listing of a compiled [`Filter`].

use super::bpf::{off, op};
use super::{Filter, ReturnAction};
use std::fmt::Write as _;

impl Filter {
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
                op::RET_K => match ReturnAction::from_ret(i.k) {
                    Some(ReturnAction::Errno(e)) => writeln!(s, "ret  ERRNO({e})"),
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
