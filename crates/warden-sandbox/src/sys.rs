//! Thin, checked wrappers over the Linux syscalls the sandbox needs: most of the crate's
//! `unsafe` blocks live here (the rest are in `init.rs`, around `fork`/`exec`, and `lib.rs`),
//! each with a `// SAFETY:` comment.

use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub(crate) fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn cstr(s: &str) -> io::Result<CString> {
    CString::new(s).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

pub(crate) fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn check_long(r: libc::c_long) -> io::Result<libc::c_long> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// `mount(2)`.
pub(crate) fn mount(
    src: Option<&str>,
    target: &Path,
    fstype: Option<&str>,
    flags: libc::c_ulong,
    data: Option<&str>,
) -> io::Result<()> {
    let src = src.map(cstr).transpose()?;
    let fstype = fstype.map(cstr).transpose()?;
    let data = data.map(cstr).transpose()?;
    let target = cpath(target)?;
    let p = |c: &Option<CString>| c.as_ref().map_or(std::ptr::null(), |c| c.as_ptr());
    // SAFETY: every pointer is either null or a NUL-terminated string that outlives the call.
    check(unsafe { libc::mount(p(&src), target.as_ptr(), p(&fstype), flags, p(&data).cast()) })?;
    Ok(())
}

/// Bind-mount `src` onto `target` (recursively).
pub(crate) fn bind(src: &Path, target: &Path) -> io::Result<()> {
    let s = src
        .to_str()
        .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
    mount(Some(s), target, None, libc::MS_BIND | libc::MS_REC, None)
}

pub(crate) const ATTR_RDONLY: u64 = 0x1;
pub(crate) const ATTR_NOSUID: u64 = 0x2;
pub(crate) const ATTR_NODEV: u64 = 0x4;

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

/// `mount_setattr(2)` on the mount at `target`, optionally on every mount below it too.
pub(crate) fn setattr(target: &Path, set: u64, recursive: bool) -> io::Result<()> {
    let t = cpath(target)?;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: 0,
        propagation: 0,
        userns_fd: 0,
    };
    let flags: libc::c_uint = if recursive { 0x8000 } else { 0 }; // AT_RECURSIVE
    // SAFETY: `t` is NUL-terminated and `attr` is a correctly sized, initialised struct that
    // outlives the call; the kernel only reads it.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            libc::AT_FDCWD,
            t.as_ptr(),
            flags,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    check_long(r)?;
    Ok(())
}

/// `open_tree(2)` with `OPEN_TREE_CLONE | AT_RECURSIVE`: a detached copy of the mount at
/// `path` and every mount below it, with their attributes, to be attached elsewhere with
/// [`move_mount_to`].
pub(crate) fn clone_tree(path: &Path) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    let c = cpath(path)?;
    const OPEN_TREE_CLONE: libc::c_uint = 1;
    const AT_RECURSIVE: libc::c_uint = 0x8000;
    let flags = OPEN_TREE_CLONE | AT_RECURSIVE | libc::O_CLOEXEC as libc::c_uint;
    // SAFETY: `c` is NUL-terminated and alive for the call; the flags are plain integers.
    let fd = check_long(unsafe {
        libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags)
    })?;
    // SAFETY: open_tree returned a new descriptor that nothing else owns.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `move_mount(2)`: attach the detached mount tree `tree` (from [`clone_tree`]) at `target`.
pub(crate) fn move_mount_to(tree: &std::os::fd::OwnedFd, target: &Path) -> io::Result<()> {
    let t = cpath(target)?;
    const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
    // SAFETY: `tree` is an open descriptor, the empty string and `t` are NUL-terminated and
    // alive for the call.
    check_long(unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH,
        )
    })?;
    Ok(())
}

/// Removes the `user.overlay.*` extended attributes an overlay left on `path` (not following a
/// link); best effort.
pub(crate) fn remove_overlay_xattrs(path: &Path) {
    let Ok(c) = cpath(path) else { return };
    let mut names = vec![0u8; 4096];
    // SAFETY: `c` is NUL-terminated; the buffer pointer and length describe `names`.
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n <= 0 {
        return;
    }
    names.truncate(n as usize);
    for name in names
        .split(|&b| b == 0)
        .filter(|n| n.starts_with(b"user.overlay."))
    {
        let Ok(name) = CString::new(name) else {
            continue;
        };
        // SAFETY: both strings are NUL-terminated and alive for the call.
        unsafe { libc::lremovexattr(c.as_ptr(), name.as_ptr()) };
    }
}

/// Sets the extended attribute `name` of `path` to `value` (not following a link).
pub(crate) fn set_xattr(path: &Path, name: &std::ffi::CStr, value: &[u8]) -> io::Result<()> {
    let c = cpath(path)?;
    // SAFETY: both strings are NUL-terminated and alive for the call; the pointer and length
    // describe `value`.
    let r = unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            name.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if r == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

pub(crate) fn pivot_root(new: &Path, old: &Path) -> io::Result<()> {
    let n = cpath(new)?;
    let o = cpath(old)?;
    // SAFETY: both pointers are NUL-terminated strings alive for the call.
    check_long(unsafe { libc::syscall(libc::SYS_pivot_root, n.as_ptr(), o.as_ptr()) })?;
    Ok(())
}

pub(crate) fn umount_detach(p: &Path) -> io::Result<()> {
    let c = cpath(p)?;
    // SAFETY: NUL-terminated path alive for the call.
    check(unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) })?;
    Ok(())
}

pub(crate) fn sethostname(name: &str) -> io::Result<()> {
    // SAFETY: pointer and length describe `name`'s bytes.
    check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) })?;
    Ok(())
}

#[repr(C)]
struct IfReq {
    name: [u8; 16],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// Bring up the loopback interface of the current network namespace.
pub(crate) fn loopback_up() -> io::Result<()> {
    // SAFETY: plain socket(2) call.
    let fd =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) })?;
    let mut req = IfReq {
        name: [0; 16],
        flags: 0,
        _pad: [0; 22],
    };
    req.name[..2].copy_from_slice(b"lo");
    // SAFETY: `req` has the layout of `struct ifreq` (name + short flags, 40 bytes) and lives
    // across both ioctls; `fd` is a socket we own.
    let r = unsafe {
        let r = libc::ioctl(fd, 0x8913 /* SIOCGIFFLAGS */, &mut req as *mut IfReq);
        if r == 0 {
            req.flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            libc::ioctl(fd, 0x8914 /* SIOCSIFFLAGS */, &req as *const IfReq)
        } else {
            r
        }
    };
    let err = io::Error::last_os_error();
    // SAFETY: closing the socket we opened above.
    unsafe { libc::close(fd) };
    if r < 0 { Err(err) } else { Ok(()) }
}

pub(crate) fn prctl(op: libc::c_int, a: libc::c_ulong) -> io::Result<libc::c_int> {
    // SAFETY: prctl with integer arguments only.
    check(unsafe {
        libc::prctl(
            op,
            a,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })
}

/// Last capability number the kernel knows.
pub(crate) fn cap_last_cap() -> u64 {
    std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40)
}

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Drop every capability: bounding set, ambient set, then effective/permitted/inheritable.
/// Async-signal-safe (raw syscalls only), for use between fork and exec.
pub(crate) fn drop_all_caps(last_cap: u64) -> io::Result<()> {
    // Lock root out of capability regain: SECBIT_NOROOT | NO_SETUID_FIXUP | KEEP_CAPS_LOCKED |
    // NOROOT_LOCKED | NO_SETUID_FIXUP_LOCKED | NO_CAP_AMBIENT_RAISE(+LOCKED).
    let _ = prctl(
        libc::PR_SET_SECUREBITS,
        0x1 | 0x2 | 0x4 | 0x8 | 0x20 | 0x40 | 0x80,
    );
    for cap in 0..=last_cap {
        prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong)?;
    }
    // SAFETY: prctl with integer arguments only.
    check(unsafe {
        libc::prctl(
            libc::PR_CAP_AMBIENT,
            libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
            0 as libc::c_ulong,
        )
    })?;
    let mut header = CapHeader {
        version: 0x2008_0522,
        pid: 0,
    };
    let data = [CapData {
        effective: 0,
        permitted: 0,
        inheritable: 0,
    }; 2];
    // SAFETY: header and data have the kernel's v3 layout (one header, two data words) and
    // live across the call.
    check_long(unsafe {
        libc::syscall(
            libc::SYS_capset,
            &mut header as *mut CapHeader,
            data.as_ptr(),
        )
    })?;
    Ok(())
}

pub(crate) fn set_rlimit(resource: libc::__rlimit_resource_t, value: u64) -> io::Result<()> {
    let mut cur = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `cur` is a valid out-pointer.
    check(unsafe { libc::getrlimit(resource, &mut cur) })?;
    let v = value.min(cur.rlim_max);
    let new = libc::rlimit {
        rlim_cur: v,
        rlim_max: v,
    };
    // SAFETY: `new` is a valid in-pointer.
    check(unsafe { libc::setrlimit(resource, &new) })?;
    Ok(())
}

pub(crate) fn setsid() -> io::Result<()> {
    // SAFETY: no arguments.
    check(unsafe { libc::setsid() })?;
    Ok(())
}

pub(crate) fn euid() -> u32 {
    // SAFETY: geteuid cannot fail.
    unsafe { libc::geteuid() }
}

/// The home directory the password database (through NSS) gives `uid`, if any.
pub(crate) fn passwd_home(uid: u32) -> Option<std::path::PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: `passwd` is plain old data that getpwuid_r fills in; all-zero is a valid value.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer refers to memory we own for the duration of the call, and `buf`'s
    // length is passed; the strings in `pw` point into `buf`, which outlives their use below.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || pw.pw_dir.is_null() {
        return None;
    }
    // SAFETY: getpwuid_r succeeded, so `pw_dir` is a NUL-terminated string inside `buf`.
    let dir = unsafe { std::ffi::CStr::from_ptr(pw.pw_dir) };
    let dir = std::path::Path::new(std::ffi::OsStr::from_bytes(dir.to_bytes()));
    (!dir.as_os_str().is_empty()).then(|| dir.to_path_buf())
}

pub(crate) fn fork() -> io::Result<i32> {
    // SAFETY: called only from single-threaded stages of the sandbox (the freshly exec'd init),
    // where the child may use any function.
    check(unsafe { libc::fork() })
}

/// `waitpid`, retrying on EINTR. Returns (pid, raw status).
pub(crate) fn waitpid(pid: i32) -> io::Result<(i32, i32)> {
    loop {
        let mut status = 0;
        // SAFETY: `status` is a valid out-pointer.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        if r >= 0 {
            return Ok((r, status));
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

pub(crate) fn kill(pid: i32, sig: i32) {
    // SAFETY: kill(2) with integer arguments; failure is ignored on purpose.
    unsafe { libc::kill(pid, sig) };
}

pub(crate) fn set_cloexec(fd: i32, on: bool) -> io::Result<()> {
    // SAFETY: fcntl on an integer fd.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    let flags = if on {
        flags | libc::FD_CLOEXEC
    } else {
        flags & !libc::FD_CLOEXEC
    };
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFD, flags) })?;
    Ok(())
}

/// Install `handler` for the usual termination signals, so they are forwarded to a child.
pub(crate) fn forward_signals(handler: extern "C" fn(libc::c_int)) {
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
    ] {
        // SAFETY: a zeroed sigaction is valid; the handler only calls async-signal-safe kill(2).
        unsafe {
            let mut sa: libc::sigaction = std::mem::zeroed();
            sa.sa_sigaction = handler as *const () as usize;
            sa.sa_flags = libc::SA_RESTART;
            libc::sigemptyset(&mut sa.sa_mask);
            libc::sigaction(sig, &sa, std::ptr::null_mut());
        }
    }
}

/// Restore default dispositions for the forwarded signals.
pub(crate) fn default_signals() {
    for sig in [
        libc::SIGINT,
        libc::SIGTERM,
        libc::SIGHUP,
        libc::SIGQUIT,
        libc::SIGUSR1,
        libc::SIGUSR2,
        libc::SIGWINCH,
    ] {
        // SAFETY: resetting a disposition to SIG_DFL.
        unsafe { libc::signal(sig, libc::SIG_DFL) };
    }
}

/// Landlock ABI version of the running kernel (0 when unavailable).
pub(crate) fn landlock_abi() -> u32 {
    // SAFETY: landlock_create_ruleset(NULL, 0, LANDLOCK_CREATE_RULESET_VERSION) only returns a number.
    let r = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<u8>(),
            0usize,
            1u32,
        )
    };
    if r < 0 { 0 } else { r as u32 }
}

/// Is seccomp filtering available?
pub(crate) fn seccomp_available() -> bool {
    // SAFETY: PR_GET_SECCOMP takes no pointers.
    let r = unsafe { libc::prctl(libc::PR_GET_SECCOMP) };
    r >= 0
}

/// `statfs(2)` f_type of `p`.
pub(crate) fn fs_type(p: &Path) -> Option<i64> {
    let c = cpath(p).ok()?;
    // SAFETY: zeroed statfs is a valid out-buffer; `c` is NUL-terminated.
    unsafe {
        let mut st: libc::statfs = std::mem::zeroed();
        if libc::statfs(c.as_ptr(), &mut st) == 0 {
            Some(st.f_type)
        } else {
            None
        }
    }
}

/// Read one byte from `fd`, retrying on EINTR; `None` at end of file or on error.
pub(crate) fn read_byte(fd: i32) -> Option<u8> {
    let mut b = 0u8;
    loop {
        // SAFETY: reading at most one byte into a local we own.
        let r = unsafe { libc::read(fd, (&mut b as *mut u8).cast(), 1) };
        if r == 1 {
            return Some(b);
        }
        if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        }
        return None;
    }
}

/// A pipe (read end, write end), both close-on-exec.
pub(crate) fn pipe() -> io::Result<(std::fs::File, std::fs::File)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid out-array of two ints.
    check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })?;
    // SAFETY: pipe2 just returned these two fresh fds, owned by nobody else.
    let (r, w) = unsafe {
        (
            std::fs::File::from_raw_fd(fds[0]),
            std::fs::File::from_raw_fd(fds[1]),
        )
    };
    Ok((r, w))
}

/// Mark every fd from 3 up close-on-exec (`close_range`, Linux 5.11+; else one by one from
/// `/proc/self/fd`), so nothing a process inherited by accident reaches what it executes.
pub(crate) fn cloexec_from_3() {
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 1 << 2;
    // SAFETY: close_range with integer arguments only.
    let r = unsafe { libc::syscall(libc::SYS_close_range, 3u32, u32::MAX, CLOSE_RANGE_CLOEXEC) };
    if r == 0 {
        return;
    }
    let fds: Vec<i32> = std::fs::read_dir("/proc/self/fd")
        .map(|d| {
            d.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse().ok())
                .filter(|&fd| fd >= 3)
                .collect()
        })
        .unwrap_or_default();
    for fd in fds {
        let _ = set_cloexec(fd, true);
    }
}

/// Make `fd` this process's stdin, stdout and stderr (failures ignored: best effort).
pub(crate) fn redirect_stdio(fd: RawFd) {
    for target in 0..=2 {
        // SAFETY: dup2 with integer fds; `fd` is open and owned by the caller.
        unsafe { libc::dup2(fd, target) };
    }
}

/// Put `fd` in non-blocking mode.
pub(crate) fn set_nonblocking(fd: i32) -> io::Result<()> {
    // SAFETY: fcntl on an integer fd.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    // SAFETY: as above.
    check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    Ok(())
}

/// Moves bytes from `from` to `to` until `from` ends (returns the count), through a pipe
/// with `splice(2)`: the data stays in the kernel, with no copy and no per-chunk work in
/// here. Falls back to a read/write loop through one buffer where a socket cannot be
/// spliced. Used by the sandbox's proxy relay, one call per direction.
pub(crate) fn splice_until_eof(from: &impl AsRawFd, to: &impl AsRawFd) -> io::Result<u64> {
    /// Bytes per call, and the pipe size asked for (the default size is used if refused).
    const CHUNK: usize = 256 * 1024;
    let (from, to) = (from.as_raw_fd(), to.as_raw_fd());
    let (pipe_r, pipe_w) = pipe()?;
    let (pipe_r, pipe_w) = (pipe_r.as_raw_fd(), pipe_w.as_raw_fd());
    // SAFETY: fcntl on a pipe fd we own, integer argument.
    let _ = unsafe { libc::fcntl(pipe_w, libc::F_SETPIPE_SZ, CHUNK as libc::c_int) };
    let mut total = 0u64;
    loop {
        let n = splice(from, pipe_w, CHUNK);
        let n = match n {
            Ok(0) => return Ok(total),
            Ok(n) => n as usize,
            Err(e) if total == 0 && e.raw_os_error() == Some(libc::EINVAL) => {
                return copy_until_eof(from, to);
            }
            Err(e) => return Err(e),
        };
        let mut left = n;
        while left > 0 {
            let m = splice(pipe_r, to, left)?;
            if m == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            left -= m as usize;
        }
        total += n as u64;
    }
}

/// One `splice(2)` of up to `len` bytes between two fds without offsets (sockets, pipes).
fn splice(from: RawFd, to: RawFd, len: usize) -> io::Result<libc::ssize_t> {
    // SAFETY: splice between fds the caller holds open; null offsets, as sockets and pipes
    // have none.
    retry_eintr(|| unsafe {
        libc::splice(
            from,
            std::ptr::null_mut(),
            to,
            std::ptr::null_mut(),
            len,
            libc::SPLICE_F_MOVE,
        )
    })
}

/// The read/write fallback of [`splice_until_eof`].
fn copy_until_eof(from: RawFd, to: RawFd) -> io::Result<u64> {
    let mut buf = vec![0u8; 256 * 1024];
    let mut total = 0u64;
    loop {
        // SAFETY: `buf` is valid for writes of its length.
        let n = retry_eintr(|| unsafe { libc::read(from, buf.as_mut_ptr().cast(), buf.len()) })?;
        if n == 0 {
            return Ok(total);
        }
        let n = n as usize;
        let mut sent = 0;
        while sent < n {
            // SAFETY: `buf[sent..n]` is initialised and valid for reads.
            let m =
                retry_eintr(|| unsafe { libc::write(to, buf[sent..n].as_ptr().cast(), n - sent) })?;
            if m == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            sent += m as usize;
        }
        total += n as u64;
    }
}

fn retry_eintr(mut f: impl FnMut() -> libc::ssize_t) -> io::Result<libc::ssize_t> {
    loop {
        let r = f();
        if r >= 0 {
            return Ok(r);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// Gives a TCP socket Reno congestion control. The relay's connections stay inside the
/// sandbox's own loopback, where a pacing algorithm (BBR, a common default, inherited by new
/// network namespaces) only costs timers; see warden-proxy's `host_local`. Best effort.
pub(crate) fn host_local_congestion_control(socket: &impl AsRawFd) {
    const RENO: &[u8] = b"reno";
    // SAFETY: setsockopt with a valid pointer to RENO and its length.
    let _ = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            RENO.as_ptr().cast(),
            RENO.len() as libc::socklen_t,
        )
    };
}

/// Shuts a socket down in both directions (waking whoever is blocked on it); errors ignored.
pub(crate) fn shutdown_both(socket: &impl AsRawFd) {
    // SAFETY: shutdown on an fd the caller keeps open; integer arguments only.
    let _ = unsafe { libc::shutdown(socket.as_raw_fd(), libc::SHUT_RDWR) };
}

// ---- Exec supervision: seccomp user notification, reading a task's memory, passing fds ----

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`; returns the new listener fd when `flags`
/// holds `SECCOMP_FILTER_FLAG_NEW_LISTENER`.
pub(crate) fn seccomp_set_filter(
    prog: &[libc::sock_filter],
    flags: libc::c_ulong,
) -> io::Result<libc::c_long> {
    let fprog = libc::sock_fprog {
        len: u16::try_from(prog.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?,
        filter: prog.as_ptr().cast_mut(),
    };
    // SAFETY: `fprog` points at `prog`, which outlives the call; the kernel copies the program.
    check_long(unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            &fprog as *const libc::sock_fprog,
        )
    })
}

/// Does this kernel know the seccomp return action `action` (`SECCOMP_GET_ACTION_AVAIL`)?
pub(crate) fn seccomp_action_available(action: u32) -> bool {
    // SAFETY: the kernel reads one u32 from the pointer, which lives for the call.
    let r = unsafe {
        libc::syscall(
            libc::SYS_seccomp,
            libc::SECCOMP_GET_ACTION_AVAIL,
            0u32,
            &action as *const u32,
        )
    };
    r == 0
}

/// The running kernel's (major, minor) version, from `uname(2)`.
pub(crate) fn kernel_version() -> (u32, u32) {
    // SAFETY: a zeroed utsname is a valid out-buffer.
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `u` is a valid out-pointer.
    if unsafe { libc::uname(&mut u) } != 0 {
        return (0, 0);
    }
    let release: Vec<u8> = u
        .release
        .iter()
        .take_while(|&&c| c != 0)
        .map(|&c| c as u8)
        .collect();
    let text = String::from_utf8_lossy(&release);
    let mut parts = text
        .split(|c: char| !c.is_ascii_digit())
        .map(|n| n.parse().unwrap_or(0));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// `SECCOMP_IOCTL_NOTIF_RECV`: the next notification (fails with ENOENT when the task it was
/// for has gone meanwhile).
pub(crate) fn notif_recv(listener: RawFd) -> io::Result<libc::seccomp_notif> {
    // SAFETY: the kernel requires a zeroed buffer of this (uapi) type, which it fills.
    let mut n: libc::seccomp_notif = unsafe { std::mem::zeroed() };
    // SAFETY: ioctl with a valid pointer to a seccomp_notif we own.
    check(unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_RECV, &mut n) })?;
    Ok(n)
}

/// `SECCOMP_IOCTL_NOTIF_ID_VALID`: is the task of notification `id` still waiting for its answer?
pub(crate) fn notif_id_valid(listener: RawFd, id: u64) -> bool {
    // SAFETY: ioctl reading one u64 from a pointer that lives for the call.
    unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0 }
}

/// `SECCOMP_IOCTL_NOTIF_SEND`: answer notification `id`: let the syscall continue (`errno`
/// `None`) or fail it with `errno`. ENOENT means the task has gone (or was interrupted).
pub(crate) fn notif_send(listener: RawFd, id: u64, errno: Option<i32>) -> io::Result<()> {
    let resp = libc::seccomp_notif_resp {
        id,
        val: 0,
        error: errno.map_or(0, |e| -e),
        flags: if errno.is_none() {
            libc::SECCOMP_USER_NOTIF_FLAG_CONTINUE as u32
        } else {
            0
        },
    };
    // SAFETY: ioctl with a valid pointer to a seccomp_notif_resp that lives for the call.
    check(unsafe { libc::ioctl(listener, libc::SECCOMP_IOCTL_NOTIF_SEND, &resp) })?;
    Ok(())
}

/// `poll(2)` of `fds` (retrying on EINTR), `timeout_ms` -1 for none; returns the fds' `revents`.
pub(crate) fn poll(
    fds: &[(RawFd, libc::c_short)],
    timeout_ms: i32,
) -> io::Result<Vec<libc::c_short>> {
    let mut pfds: Vec<libc::pollfd> = fds
        .iter()
        .map(|&(fd, events)| libc::pollfd {
            fd,
            events,
            revents: 0,
        })
        .collect();
    loop {
        // SAFETY: `pfds` is a valid array of `pfds.len()` pollfds.
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, timeout_ms) };
        if r >= 0 {
            return Ok(pfds.iter().map(|p| p.revents).collect());
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}

/// `process_vm_readv(2)`: read the remote ranges `remote` (address, length) of task `pid` into
/// `local`, back to back. Returns how many bytes were read (the ranges in order; a short count
/// means the range at that point could not be read).
pub(crate) fn process_vm_read(
    pid: i32,
    local: &mut [u8],
    remote: &[(u64, usize)],
) -> io::Result<usize> {
    let total: usize = remote.iter().map(|r| r.1).sum();
    if total > local.len() {
        return Err(io::Error::from(io::ErrorKind::InvalidInput));
    }
    let liov = libc::iovec {
        iov_base: local.as_mut_ptr().cast(),
        iov_len: total,
    };
    let riov: Vec<libc::iovec> = remote
        .iter()
        .map(|&(addr, len)| libc::iovec {
            iov_base: addr as usize as *mut libc::c_void,
            iov_len: len,
        })
        .collect();
    // SAFETY: the local iovec covers `total` bytes of `local`, which we own mutably; the remote
    // iovecs are addresses in the other task, which the kernel checks (never dereferenced here).
    let r = unsafe {
        libc::process_vm_readv(pid, &liov, 1, riov.as_ptr(), riov.len() as libc::c_ulong, 0)
    };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r as usize)
    }
}

/// `pidfd_open(2)`.
pub(crate) fn pidfd_open(pid: i32) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: integer arguments only.
    let fd = check_long(unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0u32) })?;
    // SAFETY: pidfd_open just returned this fresh fd (close-on-exec by default).
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as RawFd) })
}

/// `pidfd_getfd(2)`: a duplicate of the task's fd `target` (same open file description).
pub(crate) fn pidfd_getfd(pidfd: RawFd, target: RawFd) -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: integer arguments only.
    let fd = check_long(unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd, target, 0u32) })?;
    // SAFETY: pidfd_getfd just returned this fresh fd (close-on-exec by default).
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd as RawFd) })
}

/// A connected pair of Unix `SOCK_SEQPACKET` sockets, both close-on-exec.
pub(crate) fn seqpacket_pair() -> io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    use std::os::fd::FromRawFd;
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid out-array of two ints.
    check(unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    })?;
    // SAFETY: socketpair just returned these two fresh fds, owned by nobody else.
    Ok(unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(fds[0]),
            std::os::fd::OwnedFd::from_raw_fd(fds[1]),
        )
    })
}

/// Send `fd` over the Unix socket `sock` (one byte of data, the fd as `SCM_RIGHTS`). Performs no
/// allocation, so it may run between fork and exec.
pub(crate) fn send_fd(sock: RawFd, fd: RawFd) -> io::Result<()> {
    #[repr(C)]
    union ControlBuffer {
        header: libc::cmsghdr,
        bytes: [u8; 64],
    }
    let mut byte = [b'L'];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = ControlBuffer { bytes: [0; 64] };
    // SAFETY: CMSG_SPACE is a pure size computation.
    let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
    // SAFETY: a zeroed msghdr is valid; every pointer set below points at locals that outlive
    // the sendmsg call, and the control buffer (64 bytes, aligned for cmsghdr) holds `space`.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = (&raw mut control).cast();
        msg.msg_controllen = space as _;
        let cmsg = libc::CMSG_FIRSTHDR(&msg);
        (*cmsg).cmsg_level = libc::SOL_SOCKET;
        (*cmsg).cmsg_type = libc::SCM_RIGHTS;
        (*cmsg).cmsg_len = libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) as _;
        std::ptr::write_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>(), fd);
        loop {
            let r = libc::sendmsg(sock, &msg, libc::MSG_NOSIGNAL);
            if r >= 0 {
                return Ok(());
            }
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e);
            }
        }
    }
}

/// Receive one fd sent with [`send_fd`] on `sock` (made close-on-exec); `None` at end of file
/// or when the message carried no fd. Does not block when `nonblocking`.
pub(crate) fn recv_fd(sock: RawFd, nonblocking: bool) -> io::Result<Option<std::os::fd::OwnedFd>> {
    use std::os::fd::FromRawFd;
    #[repr(C)]
    union ControlBuffer {
        header: libc::cmsghdr,
        bytes: [u8; 64],
    }
    let mut byte = [0u8];
    let mut iov = libc::iovec {
        iov_base: byte.as_mut_ptr().cast(),
        iov_len: 1,
    };
    let mut control = ControlBuffer { bytes: [0; 64] };
    let flags = libc::MSG_CMSG_CLOEXEC | if nonblocking { libc::MSG_DONTWAIT } else { 0 };
    // SAFETY: as in `send_fd`: every pointer in `msg` points at locals that outlive the call.
    unsafe {
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = (&raw mut control).cast();
        msg.msg_controllen = std::mem::size_of::<ControlBuffer>() as _;
        let r = loop {
            let r = libc::recvmsg(sock, &mut msg, flags);
            if r >= 0 {
                break r;
            }
            let e = io::Error::last_os_error();
            match e.raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => return Ok(None),
                _ => return Err(e),
            }
        };
        if r == 0 {
            return Ok(None);
        }
        let mut cmsg = libc::CMSG_FIRSTHDR(&msg);
        let mut got = None;
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_RIGHTS {
                let fd = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<RawFd>());
                // SAFETY: SCM_RIGHTS just installed this fd in our table; we own it now.
                got = Some(std::os::fd::OwnedFd::from_raw_fd(fd));
            }
            cmsg = libc::CMSG_NXTHDR(&msg, cmsg);
        }
        Ok(got)
    }
}

/// Write all of `bytes` to `fd` (retrying on EINTR and short writes); errors end it silently.
pub(crate) fn write_all_fd(fd: RawFd, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writing from a slice we borrow for the call.
        let r = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if r > 0 {
            bytes = &bytes[r as usize..];
        } else if r < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
            continue;
        } else {
            return;
        }
    }
}

/// Block `SIGPIPE` for the calling thread: a write to a pipe whose reader has gone then fails
/// with EPIPE instead of ending the process (the signal stays pending on this thread only).
pub(crate) fn block_sigpipe_in_this_thread() {
    // SAFETY: a zeroed sigset_t is valid input to sigemptyset; the calls only change this
    // thread's signal mask.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGPIPE);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
}

/// Ask for synchronous wake-ups on a seccomp listener (`SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP`,
/// Linux 6.6): the notifying task and the supervisor thread hand the CPU to each other directly,
/// which shortens every round trip. Best effort (older kernels refuse it).
pub(crate) fn notif_sync_wakeups(listener: RawFd) -> bool {
    const SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP: u64 = 1;
    // SAFETY: ioctl with an integer argument (the flags) only.
    unsafe {
        libc::ioctl(
            listener,
            libc::SECCOMP_IOCTL_NOTIF_SET_FLAGS,
            SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP,
        ) == 0
    }
}

/// `openat2(dir, path, O_PATH | O_CLOEXEC, RESOLVE_IN_ROOT)`, then `fstat`: what `path`
/// (absolute) is inside the root that `dir` names (symlinks, absolute ones too, resolved within
/// it, as the task whose root it is would see them). `Err` carries the errno.
pub(crate) fn stat_in_root(dir: RawFd, path: &Path) -> io::Result<libc::stat> {
    let c = cpath(path)?;
    // SAFETY: open_how is plain integers; all-zero is valid and the fields are set below.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT;
    // SAFETY: `c` is NUL-terminated and `how` is a valid open_how of the size passed; both live
    // for the call.
    let fd = check_long(unsafe {
        libc::syscall(
            libc::SYS_openat2,
            dir,
            c.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    })?;
    // SAFETY: openat2 just returned this fresh fd; we own it.
    let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as RawFd) };
    // SAFETY: a zeroed stat is a valid out-buffer; fstat on the fd we own.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    check(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

/// `struct sched_attr` (uapi, first version with utilisation clamps: 56 bytes).
#[repr(C)]
#[derive(Default)]
struct SchedAttr {
    size: u32,
    sched_policy: u32,
    sched_flags: u64,
    sched_nice: i32,
    sched_priority: u32,
    sched_runtime: u64,
    sched_deadline: u64,
    sched_period: u64,
    sched_util_min: u32,
    sched_util_max: u32,
}

/// Give the calling thread a short custom slice (`sched_setattr` with `sched_runtime` under
/// `SCHED_OTHER`/`SCHED_BATCH`, Linux 6.12+ EEVDF; no privilege needed): its virtual deadline
/// comes early, so when woken it runs before tasks with the default slice rather than after
/// their slice ends. Policy and nice value are kept. Returns whether the kernel took it (older
/// kernels ignore the field or refuse it; nothing is changed then).
pub(crate) fn set_short_slice(slice_ns: u64) -> bool {
    let mut attr = SchedAttr::default();
    let size = std::mem::size_of::<SchedAttr>() as u32;
    // SAFETY: `attr` is a valid, writable sched_attr of `size` bytes for the call.
    let got = unsafe {
        libc::syscall(
            libc::SYS_sched_getattr,
            0,
            &mut attr as *mut SchedAttr,
            size,
            0,
        )
    };
    if got != 0
        || !matches!(
            attr.sched_policy as i32,
            libc::SCHED_OTHER | libc::SCHED_BATCH
        )
    {
        return false;
    }
    attr.size = size;
    attr.sched_runtime = slice_ns;
    attr.sched_flags = 0;
    // SAFETY: `attr` is a valid sched_attr (filled by the kernel, one field changed).
    unsafe { libc::syscall(libc::SYS_sched_setattr, 0, &attr as *const SchedAttr, 0) == 0 }
}

/// A `CLOCK_MONOTONIC` timerfd, close-on-exec and non-blocking.
pub(crate) fn timerfd() -> io::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    // SAFETY: integer arguments only.
    let fd = check(unsafe {
        libc::timerfd_create(
            libc::CLOCK_MONOTONIC,
            libc::TFD_CLOEXEC | libc::TFD_NONBLOCK,
        )
    })?;
    // SAFETY: timerfd_create just returned this fresh fd; we own it.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
}

/// Arm the timerfd `fd` to expire once, `after` from now; a zero `after` disarms it.
pub(crate) fn timerfd_set(fd: RawFd, after: std::time::Duration) -> io::Result<()> {
    let spec = libc::itimerspec {
        it_interval: libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        },
        it_value: libc::timespec {
            tv_sec: after.as_secs() as libc::time_t,
            tv_nsec: after.subsec_nanos() as libc::c_long,
        },
    };
    // SAFETY: `spec` is a valid itimerspec for the call; no old value is asked for.
    check(unsafe { libc::timerfd_settime(fd, 0, &spec, std::ptr::null_mut()) })?;
    Ok(())
}

/// Consume the expirations of the timerfd `fd` (non-blocking; none is fine).
pub(crate) fn timerfd_drain(fd: RawFd) {
    let mut n = [0u8; 8];
    // SAFETY: reads at most 8 bytes into `n`, which we own.
    let _ = unsafe { libc::read(fd, n.as_mut_ptr().cast(), n.len()) };
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::os::unix::net::UnixStream;

    fn pattern(len: usize) -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_mul(31) ^ (i >> 9)) as u8)
            .collect()
    }

    /// The relay's two directions, TCP → Unix and Unix → TCP, move bytes exactly and stop at
    /// the source's end, leaving the sink open.
    #[test]
    fn splice_relays_bytes_exactly_between_tcp_and_unix_sockets() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut app = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (relay_tcp, _) = l.accept().unwrap();
        host_local_congestion_control(&relay_tcp);
        let (relay_unix, mut proxy) = UnixStream::pair().unwrap();

        let up = pattern(9 * 1024 * 1024 + 17);
        let down = pattern(5 * 1024 * 1024 + 3);
        let (up2, down2) = (up.clone(), down.clone());
        let relay = std::thread::spawn(move || {
            let (t, u) = (&relay_tcp, &relay_unix);
            std::thread::scope(|s| {
                let a = s.spawn(|| {
                    let n = splice_until_eof(t, u).unwrap();
                    u.shutdown(std::net::Shutdown::Write).unwrap();
                    n
                });
                let b = splice_until_eof(u, t).unwrap();
                t.shutdown(std::net::Shutdown::Write).unwrap();
                (a.join().unwrap(), b)
            })
        });
        // Every end is written and read on its own thread: no buffer has to hold a whole
        // direction.
        let mut proxy_r = proxy.try_clone().unwrap();
        let proxy_reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            proxy_r.read_to_end(&mut got).unwrap();
            got
        });
        let mut app_r = app.try_clone().unwrap();
        let app_reader = std::thread::spawn(move || {
            let mut got = Vec::new();
            app_r.read_to_end(&mut got).unwrap();
            got
        });
        let proxy_writer = std::thread::spawn(move || {
            proxy.write_all(&down2).unwrap();
            proxy.shutdown(std::net::Shutdown::Write).unwrap();
        });
        app.write_all(&up2).unwrap();
        app.shutdown(std::net::Shutdown::Write).unwrap();
        proxy_writer.join().unwrap();
        assert!(
            app_reader.join().unwrap() == down,
            "Unix → TCP bytes differ"
        );
        assert!(
            proxy_reader.join().unwrap() == up,
            "TCP → Unix bytes differ"
        );
        assert_eq!(relay.join().unwrap(), (up.len() as u64, down.len() as u64));
    }

    #[test]
    fn relay_listener_sockets_use_reno() {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        host_local_congestion_control(&l);
        let _c = TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (accepted, _) = l.accept().unwrap();
        let mut name = [0u8; 16];
        let mut len = name.len() as libc::socklen_t;
        // SAFETY: getsockopt into a 16-byte buffer whose length is passed.
        let r = unsafe {
            libc::getsockopt(
                accepted.as_raw_fd(),
                libc::IPPROTO_TCP,
                libc::TCP_CONGESTION,
                name.as_mut_ptr().cast(),
                &mut len,
            )
        };
        assert_eq!(r, 0);
        let name = std::ffi::CStr::from_bytes_until_nul(&name).unwrap();
        assert_eq!(name.to_str().unwrap(), "reno");
    }
}
