//! Classic BPF and the seccomp ABI as the compiler and the interpreter see them: opcodes,
//! `SECCOMP_RET_*` values, the instruction and `struct seccomp_data`.

/// Offsets into `struct seccomp_data`.
pub(super) mod off {
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
    pub(super) const fn new(code: u16, jt: u8, jf: u8, k: u32) -> Self {
        Insn { code, jt, jf, k }
    }
}

/// What the kernel hands a seccomp filter (`struct seccomp_data`), for running a
/// [`Filter`](super::Filter) without installing it.
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
