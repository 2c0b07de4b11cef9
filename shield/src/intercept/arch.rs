//! Architecture tables: the audit architecture and the syscall numbers the shield handles.
//!
//! Rust Lambdas ship for x86_64 and arm64 (Graviton). Everything that differs between
//! the two — the `AUDIT_ARCH_*` value the kernel reports in `seccomp_data.arch`, the
//! x32 ABI bit, and the syscall numbers — lives here, so that the rest of the shield
//! never writes a raw number.
//!
//! aarch64 uses the "generic" syscall table, which lacks the legacy path calls
//! (`open`, `stat`, `fork`, `rename`, …): those constants exist only on x86_64
//! (`#[cfg(target_arch = "x86_64")]`). Code that covers a whole family should use the
//! per-architecture lists in [`groups`], which contain exactly the calls that exist on
//! the target.
//!
//! Everything here is a constant or an allocation-free function, and so is
//! async-signal-safe.

/// `AUDIT_ARCH_X86_64` (`EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`).
pub const AUDIT_ARCH_X86_64: u32 = 0xC000_003E;

/// `AUDIT_ARCH_AARCH64` (`EM_AARCH64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE`).
pub const AUDIT_ARCH_AARCH64: u32 = 0xC000_00B7;

/// The audit architecture of the target this crate is compiled for: the only value of
/// `seccomp_data.arch` the shield's filter lets through.
#[cfg(target_arch = "x86_64")]
pub const AUDIT_ARCH: u32 = AUDIT_ARCH_X86_64;

/// The audit architecture of the target this crate is compiled for: the only value of
/// `seccomp_data.arch` the shield's filter lets through.
#[cfg(target_arch = "aarch64")]
pub const AUDIT_ARCH: u32 = AUDIT_ARCH_AARCH64;

#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
compile_error!("fnshield supports only x86_64 and aarch64 Linux (the two Lambda architectures)");

/// `__X32_SYSCALL_BIT`: on x86_64, syscall numbers with this bit set enter the kernel
/// through the x32 ABI, with a different numbering. The filter refuses them.
#[cfg(target_arch = "x86_64")]
pub const X32_SYSCALL_BIT: u32 = 0x4000_0000;

/// Defines `nr::*` and `syscall_name` from one table so they cannot drift apart.
macro_rules! syscall_table {
    ($( $(#[$m:meta])* $name:ident = $val:expr, $s:literal; )*) => {
        /// Syscall numbers of the target architecture, as `i64` (the type of
        /// `libc::syscall`'s number and of `seccomp_data.nr` widened).
        ///
        /// Only the calls the shield handles, traps, denies or names in events are
        /// listed. Legacy calls missing from aarch64's table are `cfg`-gated to x86_64.
        pub mod nr {
            $(
                $(#[$m])*
                #[doc = concat!("Number of `", $s, "`.")]
                pub const $name: i64 = $val as i64;
            )*
        }

        /// The name of syscall `nr` on the target architecture, for events.
        ///
        /// Returns `"unknown"` for numbers not in [`nr`]. Allocation-free and
        /// async-signal-safe.
        pub fn syscall_name(n: i64) -> &'static str {
            $(
                $(#[$m])*
                if n == nr::$name {
                    return $s;
                }
            )*
            "unknown"
        }

        #[cfg(test)]
        const ALL: &[(i64, &str)] = &[ $( $(#[$m])* (nr::$name, $s), )* ];
    };
}

syscall_table! {
    // Process identity (benchmarks, probes).
    GETPID = libc::SYS_getpid, "getpid";
    GETPPID = libc::SYS_getppid, "getppid";
    GETTID = libc::SYS_gettid, "gettid";
    // Basic I/O (the trampoline's own calls, events).
    READ = libc::SYS_read, "read";
    WRITE = libc::SYS_write, "write";
    CLOSE = libc::SYS_close, "close";
    #[cfg(target_arch = "x86_64")]
    DUP2 = libc::SYS_dup2, "dup2";
    DUP3 = libc::SYS_dup3, "dup3";
    FCNTL = libc::SYS_fcntl, "fcntl";
    CLOSE_RANGE = libc::SYS_close_range, "close_range";
    FSTAT = libc::SYS_fstat, "fstat";
    GETDENTS64 = libc::SYS_getdents64, "getdents64";
    #[cfg(target_arch = "x86_64")]
    GETDENTS = libc::SYS_getdents, "getdents";
    // Network.
    SOCKET = libc::SYS_socket, "socket";
    CONNECT = libc::SYS_connect, "connect";
    BIND = libc::SYS_bind, "bind";
    SETSOCKOPT = libc::SYS_setsockopt, "setsockopt";
    SENDTO = libc::SYS_sendto, "sendto";
    SENDMSG = libc::SYS_sendmsg, "sendmsg";
    SENDMMSG = libc::SYS_sendmmsg, "sendmmsg";
    RECVFROM = libc::SYS_recvfrom, "recvfrom";
    RECVMSG = libc::SYS_recvmsg, "recvmsg";
    RECVMMSG = libc::SYS_recvmmsg, "recvmmsg";
    // Opens.
    #[cfg(target_arch = "x86_64")]
    OPEN = libc::SYS_open, "open";
    #[cfg(target_arch = "x86_64")]
    CREAT = libc::SYS_creat, "creat";
    OPENAT = libc::SYS_openat, "openat";
    OPENAT2 = libc::SYS_openat2, "openat2";
    OPEN_BY_HANDLE_AT = libc::SYS_open_by_handle_at, "open_by_handle_at";
    NAME_TO_HANDLE_AT = libc::SYS_name_to_handle_at, "name_to_handle_at";
    // The stat / access / readlink family.
    #[cfg(target_arch = "x86_64")]
    STAT = libc::SYS_stat, "stat";
    #[cfg(target_arch = "x86_64")]
    LSTAT = libc::SYS_lstat, "lstat";
    NEWFSTATAT = libc::SYS_newfstatat, "newfstatat";
    STATX = libc::SYS_statx, "statx";
    STATFS = libc::SYS_statfs, "statfs";
    #[cfg(target_arch = "x86_64")]
    ACCESS = libc::SYS_access, "access";
    FACCESSAT = libc::SYS_faccessat, "faccessat";
    FACCESSAT2 = libc::SYS_faccessat2, "faccessat2";
    #[cfg(target_arch = "x86_64")]
    READLINK = libc::SYS_readlink, "readlink";
    READLINKAT = libc::SYS_readlinkat, "readlinkat";
    CHDIR = libc::SYS_chdir, "chdir";
    // Writes to the file system.
    TRUNCATE = libc::SYS_truncate, "truncate";
    #[cfg(target_arch = "x86_64")]
    MKDIR = libc::SYS_mkdir, "mkdir";
    MKDIRAT = libc::SYS_mkdirat, "mkdirat";
    #[cfg(target_arch = "x86_64")]
    MKNOD = libc::SYS_mknod, "mknod";
    MKNODAT = libc::SYS_mknodat, "mknodat";
    #[cfg(target_arch = "x86_64")]
    UNLINK = libc::SYS_unlink, "unlink";
    UNLINKAT = libc::SYS_unlinkat, "unlinkat";
    #[cfg(target_arch = "x86_64")]
    RMDIR = libc::SYS_rmdir, "rmdir";
    #[cfg(target_arch = "x86_64")]
    RENAME = libc::SYS_rename, "rename";
    RENAMEAT = libc::SYS_renameat, "renameat";
    RENAMEAT2 = libc::SYS_renameat2, "renameat2";
    #[cfg(target_arch = "x86_64")]
    LINK = libc::SYS_link, "link";
    LINKAT = libc::SYS_linkat, "linkat";
    #[cfg(target_arch = "x86_64")]
    SYMLINK = libc::SYS_symlink, "symlink";
    SYMLINKAT = libc::SYS_symlinkat, "symlinkat";
    #[cfg(target_arch = "x86_64")]
    CHMOD = libc::SYS_chmod, "chmod";
    FCHMODAT = libc::SYS_fchmodat, "fchmodat";
    // Same number on every architecture (unified table since 424); not in libc for
    // every target yet.
    FCHMODAT2 = 452, "fchmodat2";
    #[cfg(target_arch = "x86_64")]
    CHOWN = libc::SYS_chown, "chown";
    #[cfg(target_arch = "x86_64")]
    LCHOWN = libc::SYS_lchown, "lchown";
    FCHOWNAT = libc::SYS_fchownat, "fchownat";
    #[cfg(target_arch = "x86_64")]
    UTIME = libc::SYS_utime, "utime";
    #[cfg(target_arch = "x86_64")]
    UTIMES = libc::SYS_utimes, "utimes";
    #[cfg(target_arch = "x86_64")]
    FUTIMESAT = libc::SYS_futimesat, "futimesat";
    UTIMENSAT = libc::SYS_utimensat, "utimensat";
    SETXATTR = libc::SYS_setxattr, "setxattr";
    LSETXATTR = libc::SYS_lsetxattr, "lsetxattr";
    GETXATTR = libc::SYS_getxattr, "getxattr";
    LGETXATTR = libc::SYS_lgetxattr, "lgetxattr";
    LISTXATTR = libc::SYS_listxattr, "listxattr";
    LLISTXATTR = libc::SYS_llistxattr, "llistxattr";
    REMOVEXATTR = libc::SYS_removexattr, "removexattr";
    LREMOVEXATTR = libc::SYS_lremovexattr, "lremovexattr";
    // Child processes.
    EXECVE = libc::SYS_execve, "execve";
    EXECVEAT = libc::SYS_execveat, "execveat";
    #[cfg(target_arch = "x86_64")]
    FORK = libc::SYS_fork, "fork";
    #[cfg(target_arch = "x86_64")]
    VFORK = libc::SYS_vfork, "vfork";
    CLONE = libc::SYS_clone, "clone";
    CLONE3 = libc::SYS_clone3, "clone3";
    MEMFD_CREATE = libc::SYS_memfd_create, "memfd_create";
    // Calls that would bypass or unhook the shield.
    IO_URING_SETUP = libc::SYS_io_uring_setup, "io_uring_setup";
    IO_URING_ENTER = libc::SYS_io_uring_enter, "io_uring_enter";
    IO_URING_REGISTER = libc::SYS_io_uring_register, "io_uring_register";
    RT_SIGACTION = libc::SYS_rt_sigaction, "rt_sigaction";
    RT_SIGPROCMASK = libc::SYS_rt_sigprocmask, "rt_sigprocmask";
    RT_SIGRETURN = libc::SYS_rt_sigreturn, "rt_sigreturn";
    RT_SIGQUEUEINFO = libc::SYS_rt_sigqueueinfo, "rt_sigqueueinfo";
    RT_TGSIGQUEUEINFO = libc::SYS_rt_tgsigqueueinfo, "rt_tgsigqueueinfo";
    PIDFD_SEND_SIGNAL = libc::SYS_pidfd_send_signal, "pidfd_send_signal";
    PTRACE = libc::SYS_ptrace, "ptrace";
    PROCESS_VM_READV = libc::SYS_process_vm_readv, "process_vm_readv";
    PROCESS_VM_WRITEV = libc::SYS_process_vm_writev, "process_vm_writev";
    PIDFD_GETFD = libc::SYS_pidfd_getfd, "pidfd_getfd";
    SECCOMP = libc::SYS_seccomp, "seccomp";
    PRCTL = libc::SYS_prctl, "prctl";
    IOCTL = libc::SYS_ioctl, "ioctl";
    UNSHARE = libc::SYS_unshare, "unshare";
    SETNS = libc::SYS_setns, "setns";
    USERFAULTFD = libc::SYS_userfaultfd, "userfaultfd";
    MPROTECT = libc::SYS_mprotect, "mprotect";
    // Path-taking calls the shield does not decide: refused (ENOSYS) in block mode, with an
    // event (see `pathcalls`). Numbers from 451 on are the same on every architecture.
    INOTIFY_ADD_WATCH = libc::SYS_inotify_add_watch, "inotify_add_watch";
    FANOTIFY_MARK = libc::SYS_fanotify_mark, "fanotify_mark";
    #[cfg(target_arch = "x86_64")]
    USELIB = libc::SYS_uselib, "uselib";
    PIVOT_ROOT = libc::SYS_pivot_root, "pivot_root";
    CHROOT = libc::SYS_chroot, "chroot";
    ACCT = libc::SYS_acct, "acct";
    MOUNT = libc::SYS_mount, "mount";
    UMOUNT2 = libc::SYS_umount2, "umount2";
    SWAPON = libc::SYS_swapon, "swapon";
    SWAPOFF = libc::SYS_swapoff, "swapoff";
    QUOTACTL = libc::SYS_quotactl, "quotactl";
    OPEN_TREE = libc::SYS_open_tree, "open_tree";
    MOVE_MOUNT = libc::SYS_move_mount, "move_mount";
    FSCONFIG = libc::SYS_fsconfig, "fsconfig";
    FSPICK = libc::SYS_fspick, "fspick";
    MOUNT_SETATTR = libc::SYS_mount_setattr, "mount_setattr";
    SETXATTRAT = 463, "setxattrat";
    GETXATTRAT = 464, "getxattrat";
    LISTXATTRAT = 465, "listxattrat";
    REMOVEXATTRAT = 466, "removexattrat";
    OPEN_TREE_ATTR = 467, "open_tree_attr";
    FILE_GETATTR = 468, "file_getattr";
    FILE_SETATTR = 469, "file_setattr";
}

/// Syscall families as per-architecture lists: each list holds exactly the calls that
/// exist on the target (aarch64 has no `open`, `stat`, `fork`, …).
pub mod groups {
    use super::nr::*;

    /// Calls that open a file by path (or by handle).
    #[cfg(target_arch = "x86_64")]
    pub const OPEN: &[i64] = &[super::nr::OPEN, CREAT, OPENAT, OPENAT2, OPEN_BY_HANDLE_AT];
    /// Calls that open a file by path (or by handle).
    #[cfg(target_arch = "aarch64")]
    pub const OPEN: &[i64] = &[OPENAT, OPENAT2, OPEN_BY_HANDLE_AT];

    /// Path-based reads of metadata: the stat / access / readlink family and xattr reads.
    #[cfg(target_arch = "x86_64")]
    pub const PATH_READ: &[i64] = &[
        STAT, LSTAT, NEWFSTATAT, STATX, STATFS, ACCESS, FACCESSAT, FACCESSAT2, READLINK,
        READLINKAT, GETXATTR, LGETXATTR, LISTXATTR, LLISTXATTR, CHDIR,
    ];
    /// Path-based reads of metadata: the stat / access / readlink family and xattr reads.
    #[cfg(target_arch = "aarch64")]
    pub const PATH_READ: &[i64] = &[
        NEWFSTATAT, STATX, STATFS, FACCESSAT, FACCESSAT2, READLINKAT, GETXATTR, LGETXATTR,
        LISTXATTR, LLISTXATTR, CHDIR,
    ];

    /// Path-based writes: create, remove, rename, link, and the chmod / chown / utimes /
    /// xattr families.
    #[cfg(target_arch = "x86_64")]
    pub const PATH_WRITE: &[i64] = &[
        TRUNCATE,
        MKDIR,
        MKDIRAT,
        MKNOD,
        MKNODAT,
        UNLINK,
        UNLINKAT,
        RMDIR,
        RENAME,
        RENAMEAT,
        RENAMEAT2,
        LINK,
        LINKAT,
        SYMLINK,
        SYMLINKAT,
        CHMOD,
        FCHMODAT,
        FCHMODAT2,
        CHOWN,
        LCHOWN,
        FCHOWNAT,
        UTIME,
        UTIMES,
        FUTIMESAT,
        UTIMENSAT,
        SETXATTR,
        LSETXATTR,
        REMOVEXATTR,
        LREMOVEXATTR,
    ];
    /// Path-based writes: create, remove, rename, link, and the chmod / chown / utimes /
    /// xattr families.
    #[cfg(target_arch = "aarch64")]
    pub const PATH_WRITE: &[i64] = &[
        TRUNCATE,
        MKDIRAT,
        MKNODAT,
        UNLINKAT,
        RENAMEAT,
        RENAMEAT2,
        LINKAT,
        SYMLINKAT,
        FCHMODAT,
        FCHMODAT2,
        FCHOWNAT,
        UTIMENSAT,
        SETXATTR,
        LSETXATTR,
        REMOVEXATTR,
        LREMOVEXATTR,
    ];

    /// Program execution.
    pub const EXEC: &[i64] = &[EXECVE, EXECVEAT];

    /// Process creation that the filter can judge from registers (`clone3` is separate:
    /// it always gets ENOSYS, see [`ENOSYS`]).
    #[cfg(target_arch = "x86_64")]
    pub const FORK: &[i64] = &[super::nr::FORK, VFORK, CLONE];
    /// Process creation that the filter can judge from registers (`clone3` is separate:
    /// it always gets ENOSYS, see [`ENOSYS`]).
    #[cfg(target_arch = "aarch64")]
    pub const FORK: &[i64] = &[CLONE];

    /// Outbound network calls that carry (or may carry) a destination address.
    pub const NET_SEND: &[i64] = &[CONNECT, SENDTO, SENDMSG, SENDMMSG];

    /// Receives that may carry a source address (DNS learning).
    pub const NET_RECV: &[i64] = &[RECVFROM, RECVMSG];

    /// Calls answered with ENOSYS in the kernel: `clone3` (glibc falls back to `clone`)
    /// and io_uring (it would bypass seccomp).
    pub const ENOSYS: &[i64] = &[CLONE3, IO_URING_SETUP, IO_URING_ENTER, IO_URING_REGISTER];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_numbers_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for &(n, name) in ALL {
            assert!(seen.insert(n), "duplicate syscall number {n} ({name})");
            assert_eq!(syscall_name(n), name);
            assert!((0..X32_OR_MAX).contains(&n), "{name} = {n} out of range");
        }
        assert_eq!(syscall_name(-1), "unknown");
        assert_eq!(syscall_name(100_000), "unknown");
    }

    #[cfg(target_arch = "x86_64")]
    const X32_OR_MAX: i64 = X32_SYSCALL_BIT as i64;
    #[cfg(not(target_arch = "x86_64"))]
    const X32_OR_MAX: i64 = 1 << 30;

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn x86_64_numbers_match_the_kernel_abi() {
        assert_eq!(AUDIT_ARCH, 0xC000_003E);
        assert_eq!(nr::OPENAT, 257);
        assert_eq!(nr::CONNECT, 42);
        assert_eq!(nr::OPEN, 2);
        assert_eq!(nr::CLONE3, 435);
        assert_eq!(nr::FCHMODAT2, 452);
        assert_eq!(syscall_name(59), "execve");
    }

    #[cfg(target_arch = "aarch64")]
    #[test]
    fn aarch64_numbers_match_the_kernel_abi() {
        assert_eq!(AUDIT_ARCH, 0xC000_00B7);
        assert_eq!(nr::OPENAT, 56);
        assert_eq!(nr::CONNECT, 203);
        assert_eq!(syscall_name(221), "execve");
    }

    #[test]
    fn groups_are_named_and_disjoint() {
        let all: Vec<i64> = [
            groups::OPEN,
            groups::PATH_READ,
            groups::PATH_WRITE,
            groups::EXEC,
            groups::FORK,
            groups::NET_SEND,
            groups::NET_RECV,
            groups::ENOSYS,
        ]
        .concat();
        let set: std::collections::HashSet<_> = all.iter().collect();
        assert_eq!(set.len(), all.len(), "a syscall is in two groups");
        for n in all {
            assert_ne!(syscall_name(n), "unknown", "{n}");
        }
    }
}
