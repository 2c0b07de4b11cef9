//! The open family, the stat/access/readlink family and the path-based writes.

#[allow(unused_imports)]
use super::*;

// ---------------------------------------------------------------------------------------------
// The open family.

#[no_mangle]
pub unsafe extern "C" fn open(path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    openat(libc::AT_FDCWD, path, flags, mode)
}

#[no_mangle]
pub unsafe extern "C" fn open64(path: *const c_char, flags: c_int, mode: mode_t) -> c_int {
    openat(libc::AT_FDCWD, path, flags, mode)
}

#[no_mangle]
pub unsafe extern "C" fn __open_2(path: *const c_char, flags: c_int) -> c_int {
    openat(libc::AT_FDCWD, path, flags, 0)
}

#[no_mangle]
pub unsafe extern "C" fn __open64_2(path: *const c_char, flags: c_int) -> c_int {
    openat(libc::AT_FDCWD, path, flags, 0)
}

#[no_mangle]
pub unsafe extern "C" fn openat(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: mode_t,
) -> c_int {
    // The mode is only passed (and only meaningful) with O_CREAT or O_TMPFILE.
    let mode = if flags & (libc::O_CREAT | libc::O_TMPFILE) != 0 {
        mode as u64
    } else {
        0
    };
    ret(sys(
        libc::SYS_openat,
        [dirfd as i64 as u64, p(path), flags as u64, mode, 0, 0],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn openat64(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: mode_t,
) -> c_int {
    openat(dirfd, path, flags, mode)
}

#[no_mangle]
pub unsafe extern "C" fn __openat_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    openat(dirfd, path, flags, 0)
}

#[no_mangle]
pub unsafe extern "C" fn __openat64_2(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    openat(dirfd, path, flags, 0)
}

#[no_mangle]
pub unsafe extern "C" fn creat(path: *const c_char, mode: mode_t) -> c_int {
    openat(
        libc::AT_FDCWD,
        path,
        libc::O_CREAT | libc::O_WRONLY | libc::O_TRUNC,
        mode,
    )
}

#[no_mangle]
pub unsafe extern "C" fn creat64(path: *const c_char, mode: mode_t) -> c_int {
    creat(path, mode)
}

/// The `open(2)` flags of an `fopen` mode string, or `None` for an invalid mode.
pub(super) fn fopen_flags(mode: *const c_char) -> Option<c_int> {
    let mut m = [0u8; 8];
    if crate::sys::read_mem(p(mode), &mut m) == 0 {
        return None;
    }
    let (mut acc, mut flags) = match m[0] {
        b'r' => (libc::O_RDONLY, 0),
        b'w' => (libc::O_WRONLY, libc::O_CREAT | libc::O_TRUNC),
        b'a' => (libc::O_WRONLY, libc::O_CREAT | libc::O_APPEND),
        _ => return None,
    };
    for &c in &m[1..] {
        match c {
            b'+' => acc = libc::O_RDWR,
            b'x' => flags |= libc::O_EXCL,
            b'e' => flags |= libc::O_CLOEXEC,
            0 | b',' => break,
            _ => {}
        }
    }
    Some(acc | flags)
}

#[no_mangle]
pub unsafe extern "C" fn fopen(path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    let Some(flags) = fopen_flags(mode) else {
        ret(-(libc::EINVAL as i64));
        return std::ptr::null_mut();
    };
    let fd = openat(libc::AT_FDCWD, path, flags, 0o666);
    if fd < 0 {
        return std::ptr::null_mut();
    }
    // SAFETY: `fd` is an fd we just opened; `mode` is the caller's valid mode string.
    let f = unsafe { libc::fdopen(fd, mode) };
    if f.is_null() {
        // SAFETY: errno is the calling thread's; `fd` is ours to close.
        unsafe {
            let e = *libc::__errno_location();
            libc::close(fd);
            *libc::__errno_location() = e;
        }
    }
    f
}

#[no_mangle]
pub unsafe extern "C" fn fopen64(path: *const c_char, mode: *const c_char) -> *mut libc::FILE {
    fopen(path, mode)
}

#[no_mangle]
pub unsafe extern "C" fn opendir(path: *const c_char) -> *mut libc::DIR {
    let fd = openat(
        libc::AT_FDCWD,
        path,
        libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC,
        0,
    );
    if fd < 0 {
        return std::ptr::null_mut();
    }
    // SAFETY: `fd` is a directory fd we just opened; fdopendir takes it over on success.
    let d = unsafe { libc::fdopendir(fd) };
    if d.is_null() {
        // SAFETY: errno is the calling thread's; `fd` is ours to close.
        unsafe {
            let e = *libc::__errno_location();
            libc::close(fd);
            *libc::__errno_location() = e;
        }
    }
    d
}

// ---------------------------------------------------------------------------------------------
// The stat / access / readlink family (decided where a tmp read policy needs it).

#[no_mangle]
pub unsafe extern "C" fn stat(path: *const c_char, buf: *mut libc::stat) -> c_int {
    fstatat(libc::AT_FDCWD, path, buf, 0)
}

#[no_mangle]
pub unsafe extern "C" fn stat64(path: *const c_char, buf: *mut libc::stat) -> c_int {
    fstatat(libc::AT_FDCWD, path, buf, 0)
}

#[no_mangle]
pub unsafe extern "C" fn lstat(path: *const c_char, buf: *mut libc::stat) -> c_int {
    fstatat(libc::AT_FDCWD, path, buf, libc::AT_SYMLINK_NOFOLLOW)
}

#[no_mangle]
pub unsafe extern "C" fn lstat64(path: *const c_char, buf: *mut libc::stat) -> c_int {
    fstatat(libc::AT_FDCWD, path, buf, libc::AT_SYMLINK_NOFOLLOW)
}

#[no_mangle]
pub unsafe extern "C" fn fstatat(
    dirfd: c_int,
    path: *const c_char,
    buf: *mut libc::stat,
    flags: c_int,
) -> c_int {
    // glibc's `struct stat` is the kernel's on x86_64 and aarch64.
    ret(sys(
        libc::SYS_newfstatat,
        [dirfd as i64 as u64, p(path), p(buf), flags as u64, 0, 0],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn fstatat64(
    dirfd: c_int,
    path: *const c_char,
    buf: *mut libc::stat,
    flags: c_int,
) -> c_int {
    fstatat(dirfd, path, buf, flags)
}

#[no_mangle]
pub unsafe extern "C" fn statx(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mask: libc::c_uint,
    buf: *mut libc::statx,
) -> c_int {
    ret(sys(
        libc::SYS_statx,
        [
            dirfd as i64 as u64,
            p(path),
            flags as u64,
            mask as u64,
            p(buf),
            0,
        ],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn access(path: *const c_char, mode: c_int) -> c_int {
    faccessat(libc::AT_FDCWD, path, mode, 0)
}

#[no_mangle]
pub unsafe extern "C" fn faccessat(
    dirfd: c_int,
    path: *const c_char,
    mode: c_int,
    flags: c_int,
) -> c_int {
    with_flags(
        libc::SYS_faccessat,
        libc::SYS_faccessat2,
        dirfd,
        path,
        mode as u64,
        flags,
    )
}

#[no_mangle]
pub unsafe extern "C" fn readlink(path: *const c_char, buf: *mut c_char, len: size_t) -> isize {
    readlinkat(libc::AT_FDCWD, path, buf, len)
}

#[no_mangle]
pub unsafe extern "C" fn readlinkat(
    dirfd: c_int,
    path: *const c_char,
    buf: *mut c_char,
    len: size_t,
) -> isize {
    ret(sys(
        libc::SYS_readlinkat,
        [dirfd as i64 as u64, p(path), p(buf), len as u64, 0, 0],
    )) as isize
}

// ---------------------------------------------------------------------------------------------
// Path-based writes (read_write_tmp's write side).

#[no_mangle]
pub unsafe extern "C" fn mkdir(path: *const c_char, mode: mode_t) -> c_int {
    mkdirat(libc::AT_FDCWD, path, mode)
}

#[no_mangle]
pub unsafe extern "C" fn mkdirat(dirfd: c_int, path: *const c_char, mode: mode_t) -> c_int {
    ret(sys(
        libc::SYS_mkdirat,
        [dirfd as i64 as u64, p(path), mode as u64, 0, 0, 0],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn unlink(path: *const c_char) -> c_int {
    unlinkat(libc::AT_FDCWD, path, 0)
}

#[no_mangle]
pub unsafe extern "C" fn rmdir(path: *const c_char) -> c_int {
    unlinkat(libc::AT_FDCWD, path, libc::AT_REMOVEDIR)
}

#[no_mangle]
pub unsafe extern "C" fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    ret(sys(
        libc::SYS_unlinkat,
        [dirfd as i64 as u64, p(path), flags as u64, 0, 0, 0],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn rename(old: *const c_char, new: *const c_char) -> c_int {
    renameat2(libc::AT_FDCWD, old, libc::AT_FDCWD, new, 0)
}

#[no_mangle]
pub unsafe extern "C" fn renameat(
    olddir: c_int,
    old: *const c_char,
    newdir: c_int,
    new: *const c_char,
) -> c_int {
    renameat2(olddir, old, newdir, new, 0)
}

#[no_mangle]
pub unsafe extern "C" fn renameat2(
    olddir: c_int,
    old: *const c_char,
    newdir: c_int,
    new: *const c_char,
    flags: libc::c_uint,
) -> c_int {
    ret(sys(
        libc::SYS_renameat2,
        [
            olddir as i64 as u64,
            p(old),
            newdir as i64 as u64,
            p(new),
            flags as u64,
            0,
        ],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn link(old: *const c_char, new: *const c_char) -> c_int {
    linkat(libc::AT_FDCWD, old, libc::AT_FDCWD, new, 0)
}

#[no_mangle]
pub unsafe extern "C" fn linkat(
    olddir: c_int,
    old: *const c_char,
    newdir: c_int,
    new: *const c_char,
    flags: c_int,
) -> c_int {
    ret(sys(
        libc::SYS_linkat,
        [
            olddir as i64 as u64,
            p(old),
            newdir as i64 as u64,
            p(new),
            flags as u64,
            0,
        ],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn symlink(target: *const c_char, path: *const c_char) -> c_int {
    symlinkat(target, libc::AT_FDCWD, path)
}

#[no_mangle]
pub unsafe extern "C" fn symlinkat(
    target: *const c_char,
    dirfd: c_int,
    path: *const c_char,
) -> c_int {
    ret(sys(
        libc::SYS_symlinkat,
        [p(target), dirfd as i64 as u64, p(path), 0, 0, 0],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn truncate(path: *const c_char, len: libc::off_t) -> c_int {
    ret(sys(libc::SYS_truncate, [p(path), len as u64, 0, 0, 0, 0])) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn truncate64(path: *const c_char, len: libc::off_t) -> c_int {
    truncate(path, len)
}

#[no_mangle]
pub unsafe extern "C" fn chmod(path: *const c_char, mode: mode_t) -> c_int {
    fchmodat(libc::AT_FDCWD, path, mode, 0)
}

#[no_mangle]
pub unsafe extern "C" fn fchmodat(
    dirfd: c_int,
    path: *const c_char,
    mode: mode_t,
    flags: c_int,
) -> c_int {
    with_flags(
        libc::SYS_fchmodat,
        libc::SYS_fchmodat2,
        dirfd,
        path,
        mode as u64,
        flags,
    )
}

#[no_mangle]
pub unsafe extern "C" fn chown(path: *const c_char, uid: libc::uid_t, gid: libc::gid_t) -> c_int {
    fchownat(libc::AT_FDCWD, path, uid, gid, 0)
}

#[no_mangle]
pub unsafe extern "C" fn lchown(path: *const c_char, uid: libc::uid_t, gid: libc::gid_t) -> c_int {
    fchownat(libc::AT_FDCWD, path, uid, gid, libc::AT_SYMLINK_NOFOLLOW)
}

#[no_mangle]
pub unsafe extern "C" fn fchownat(
    dirfd: c_int,
    path: *const c_char,
    uid: libc::uid_t,
    gid: libc::gid_t,
    flags: c_int,
) -> c_int {
    ret(sys(
        libc::SYS_fchownat,
        [
            dirfd as i64 as u64,
            p(path),
            uid as u64,
            gid as u64,
            flags as u64,
            0,
        ],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn utimensat(
    dirfd: c_int,
    path: *const c_char,
    times: *const libc::timespec,
    flags: c_int,
) -> c_int {
    ret(sys(
        libc::SYS_utimensat,
        [dirfd as i64 as u64, p(path), p(times), flags as u64, 0, 0],
    )) as c_int
}

#[no_mangle]
pub unsafe extern "C" fn inotify_add_watch(fd: c_int, path: *const c_char, mask: u32) -> c_int {
    ret(sys(
        libc::SYS_inotify_add_watch,
        [fd as u64, p(path), u64::from(mask), 0, 0, 0],
    )) as c_int
}

/// `faccessat`/`fchmodat`: the old system call has no flags argument, so a call with flags
/// goes to its `*2` successor (Linux 5.8 and 6.6), as glibc does.
fn with_flags(
    nr: c_long,
    nr_with_flags: c_long,
    dirfd: c_int,
    path: *const c_char,
    mode: u64,
    flags: c_int,
) -> c_int {
    let a = [dirfd as i64 as u64, p(path), mode, flags as u64, 0, 0];
    ret(if flags == 0 {
        sys(nr, a)
    } else {
        sys(nr_with_flags, a)
    }) as c_int
}
