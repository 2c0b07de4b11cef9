//! Kernel probes, run once at install (not in signal context).

use super::enforcement::KernelProbe;
use crate::sys::syscall;

const SECCOMP_GET_ACTION_AVAIL: u64 = 2;

fn action_avail(action: u32) -> bool {
    let a = action;
    syscall(
        libc::SYS_seccomp,
        [
            SECCOMP_GET_ACTION_AVAIL,
            0,
            &a as *const u32 as u64,
            0,
            0,
            0,
        ],
    ) == 0
}

/// Probe `/proc/self/status`, `SECCOMP_GET_ACTION_AVAIL` and the Landlock ABI.
pub(crate) fn probe() -> KernelProbe {
    let mut p = KernelProbe::default();
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        for line in status.lines() {
            let mut it = line.split(':');
            let (k, v) = (it.next().unwrap_or(""), it.next().unwrap_or("").trim());
            match k {
                "NoNewPrivs" => p.no_new_privs = v == "1",
                "Seccomp" => p.seccomp_mode = v.parse().unwrap_or(0),
                "Seccomp_filters" => p.seccomp_filters = v.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    p.trap_available = action_avail(0x0003_0000);
    p.notify_available = action_avail(0x7fc0_0000);
    // landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION)
    let abi = syscall(444, [0, 0, 1, 0, 0, 0]);
    p.landlock_abi = (abi > 0).then_some(abi as u32);
    p
}

/// Probe the kernel without installing anything: what [`Shield::install`](crate::Shield::install)
/// would find.
pub fn probe_kernel() -> KernelProbe {
    probe()
}
