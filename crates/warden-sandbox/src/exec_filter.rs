//! The exec-notification filter: a few hand-assembled BPF instructions (seccompiler has no
//! user-notification action) that hand every `execve`/`execveat` of the sandboxed command to the
//! supervisor (`SECCOMP_RET_USER_NOTIF`) and let every other syscall through untouched, so
//! nothing but program starts pays for exec governance. A test installs it in a real child and
//! checks what the kernel does with it.

use crate::sys;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

/// `struct seccomp_data` offsets.
const NR_OFFSET: u32 = 0;
const ARCH_OFFSET: u32 = 4;

/// This architecture's audit id and its exec syscall numbers; `None` where exec notification is
/// not supported.
#[cfg(target_arch = "x86_64")]
const ARCH: Option<Arch> = Some(Arch {
    audit: 0xC000_003E,
    notify: &[libc::SYS_execve as u32, libc::SYS_execveat as u32],
    // x32 `execve` and `execveat` (syscall bit 0x4000_0000 with the x86_64 audit id): their
    // arguments are 32-bit pointers the supervisor does not read, so they are refused outright.
    // No toolchain in use produces x32 programs, and most kernels do not enable the ABI.
    refuse: &[0x4000_0000 | 520, 0x4000_0000 | 545],
});
#[cfg(target_arch = "aarch64")]
const ARCH: Option<Arch> = Some(Arch {
    audit: 0xC000_00B7,
    notify: &[libc::SYS_execve as u32, libc::SYS_execveat as u32],
    refuse: &[],
});
#[cfg(target_arch = "riscv64")]
const ARCH: Option<Arch> = Some(Arch {
    audit: 0xC000_00F3,
    notify: &[libc::SYS_execve as u32, libc::SYS_execveat as u32],
    refuse: &[],
});
#[cfg(not(any(
    target_arch = "x86_64",
    target_arch = "aarch64",
    target_arch = "riscv64"
)))]
const ARCH: Option<Arch> = None;

struct Arch {
    audit: u32,
    notify: &'static [u32],
    refuse: &'static [u32],
}

pub(crate) const EXECVE: i32 = libc::SYS_execve as i32;
pub(crate) const EXECVEAT: i32 = libc::SYS_execveat as i32;

/// The audit architecture id the filter accepts (notifications carry it).
pub(crate) fn audit_arch() -> Option<u32> {
    ARCH.as_ref().map(|a| a.audit)
}

fn stmt(code: u32, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump_if_equal(k: u32, jt: u8) -> libc::sock_filter {
    libc::sock_filter {
        code: (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16,
        jt,
        jf: 0,
        k,
    }
}

/// The filter program: another architecture's syscall ABI kills the process (as the baked
/// filters do); the exec syscalls notify; the x32 exec syscalls fail with `EACCES`; everything
/// else is allowed. `None` on architectures without support.
pub(crate) fn program() -> Option<Vec<libc::sock_filter>> {
    let arch = ARCH.as_ref()?;
    let load = libc::BPF_LD | libc::BPF_W | libc::BPF_ABS;
    let ret = libc::BPF_RET | libc::BPF_K;
    let mut p = vec![
        stmt(load, ARCH_OFFSET),
        jump_if_equal(arch.audit, 1),
        stmt(ret, libc::SECCOMP_RET_KILL_PROCESS),
        stmt(load, NR_OFFSET),
    ];
    // After the checks: [allow, refuse, notify].
    let checks = arch.notify.len() + arch.refuse.len();
    for (i, nr) in arch.notify.iter().enumerate() {
        let to_notify = checks - i - 1 + 2;
        p.push(jump_if_equal(*nr, to_notify as u8));
    }
    for (i, nr) in arch.refuse.iter().enumerate() {
        let to_refuse = checks - (arch.notify.len() + i) - 1 + 1;
        p.push(jump_if_equal(*nr, to_refuse as u8));
    }
    p.push(stmt(ret, libc::SECCOMP_RET_ALLOW));
    p.push(stmt(
        ret,
        libc::SECCOMP_RET_ERRNO | (libc::EACCES as u32 & libc::SECCOMP_RET_DATA),
    ));
    p.push(stmt(ret, libc::SECCOMP_RET_USER_NOTIF));
    Some(p)
}

/// Can this kernel and architecture notify execs? Needs the user-notification action (Linux 5.0)
/// and letting a notified syscall continue (`SECCOMP_USER_NOTIF_FLAG_CONTINUE`, Linux 5.5).
pub(crate) fn available() -> bool {
    ARCH.is_some()
        && sys::seccomp_available()
        && sys::seccomp_action_available(libc::SECCOMP_RET_USER_NOTIF)
        && sys::kernel_version() >= (5, 5)
}

/// Install `program` on the calling thread (no-new-privileges must be set) and return its
/// listener. Asks the kernel to let a task whose notification was received wait through
/// non-fatal signals (`SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV`, Linux 5.19), so a held exec is
/// not restarted, and re-decided, on every SIGCHLD; older kernels install it without. Performs
/// no allocation (it runs between fork and exec).
pub(crate) fn install(program: &[libc::sock_filter]) -> std::io::Result<OwnedFd> {
    let flags = libc::SECCOMP_FILTER_FLAG_NEW_LISTENER;
    let fd = match sys::seccomp_set_filter(
        program,
        flags | libc::SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
    ) {
        Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {
            sys::seccomp_set_filter(program, flags)?
        }
        other => other?,
    };
    // SAFETY: seccomp just returned this fresh listener fd; nobody else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;

    /// Runs `argv` in a child that installs the filter just before its exec and sends the
    /// listener here; `answer` sees each notification (at most `max` of them).
    fn supervise(
        argv: &[&str],
        mut answer: impl FnMut(&libc::seccomp_notif, RawFd) -> Option<i32> + Send,
        max: usize,
    ) -> (std::io::Result<std::process::ExitStatus>, usize) {
        let (mine, theirs) = sys::seqpacket_pair().unwrap();
        let prog = program().expect("supported architecture");
        let theirs_fd = theirs.as_raw_fd();
        let mut cmd = std::process::Command::new(argv[0]);
        cmd.args(&argv[1..]);
        // SAFETY: the closure only makes syscalls (prctl, seccomp, sendmsg, close).
        unsafe {
            cmd.pre_exec(move || {
                sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1)?;
                let l = install(&prog)?;
                sys::send_fd(theirs_fd, l.as_raw_fd())?;
                drop(l);
                Ok(())
            });
        }
        std::thread::scope(|scope| {
            let listener_thread = scope.spawn(move || {
                let listener = sys::recv_fd(mine.as_raw_fd(), false).unwrap().expect("fd");
                let mut seen = 0;
                loop {
                    let ev = sys::poll(&[(listener.as_raw_fd(), libc::POLLIN)], 10_000).unwrap();
                    if ev[0] & libc::POLLIN == 0 {
                        assert!(ev[0] & libc::POLLHUP != 0, "no notification within 10 s");
                        return seen;
                    }
                    let Ok(n) = sys::notif_recv(listener.as_raw_fd()) else {
                        continue;
                    };
                    seen += 1;
                    assert!(seen <= max, "more notifications than expected");
                    let errno = answer(&n, listener.as_raw_fd());
                    let _ = sys::notif_send(listener.as_raw_fd(), n.id, errno);
                }
            });
            let status = cmd.spawn().and_then(|mut c| c.wait());
            drop(theirs);
            (status, listener_thread.join().unwrap())
        })
    }

    fn read_path(n: &libc::seccomp_notif) -> String {
        let mut buf = [0u8; 256];
        let addr = n.data.args[0];
        let len = 256.min(4096 - (addr % 4096) as usize);
        let got = sys::process_vm_read(n.pid as i32, &mut buf, &[(addr, len)]).unwrap_or(0);
        let s = &buf[..got];
        String::from_utf8_lossy(&s[..s.iter().position(|&b| b == 0).unwrap_or(s.len())])
            .into_owned()
    }

    /// The kernel accepts the program; the exec of the child itself and the execs of the shell
    /// it becomes are notified (with this architecture's id and the exec syscall), nothing else
    /// is (the shell's many other syscalls would show up as extra notifications), and
    /// `CONTINUE` lets them run.
    #[test]
    fn execs_and_only_execs_are_notified_and_continue_runs_them() {
        if !available() {
            eprintln!("skipped: no seccomp user notification here");
            return;
        }
        let mut paths = Vec::new();
        let (status, seen) = supervise(
            &["/bin/sh", "-c", "/bin/true; /bin/true; echo; exit 3"],
            |n, _| {
                assert_eq!(n.data.arch, audit_arch().unwrap());
                assert_eq!(n.data.nr, EXECVE);
                paths.push(read_path(n));
                None
            },
            3,
        );
        assert_eq!(status.unwrap().code(), Some(3));
        assert_eq!(seen, 3);
        assert_eq!(paths, ["/bin/sh", "/bin/true", "/bin/true"]);
    }

    /// An answered error fails the exec with it: the child never runs.
    #[test]
    fn an_error_answer_fails_the_exec() {
        if !available() {
            eprintln!("skipped: no seccomp user notification here");
            return;
        }
        let (status, seen) = supervise(&["/bin/true"], |_, _| Some(libc::EACCES), 1);
        let e = status.expect_err("the exec must fail");
        assert_eq!(e.raw_os_error(), Some(libc::EACCES));
        assert_eq!(seen, 1);
    }

    /// `execveat` is notified too (here through a directory fd and a relative name).
    #[test]
    fn execveat_is_notified() {
        if !available() {
            eprintln!("skipped: no seccomp user notification here");
            return;
        }
        // The child calls execveat itself, between fork and the exec Command would make.
        let (mine, theirs) = sys::seqpacket_pair().unwrap();
        let prog = program().unwrap();
        let theirs_fd = theirs.as_raw_fd();
        let mut cmd = std::process::Command::new("/bin/false");
        // SAFETY: syscalls only; the pointers refer to static strings and to arrays on the
        // child's stack that live until the call.
        unsafe {
            cmd.pre_exec(move || {
                sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1)?;
                let l = install(&prog)?;
                sys::send_fd(theirs_fd, l.as_raw_fd())?;
                drop(l);
                let (dir, name) = (c"/bin", c"true");
                let argv = [name.as_ptr(), std::ptr::null()];
                let envp = [std::ptr::null::<libc::c_char>()];
                let d = libc::open(dir.as_ptr(), libc::O_PATH | libc::O_DIRECTORY);
                libc::syscall(
                    libc::SYS_execveat,
                    d,
                    name.as_ptr(),
                    argv.as_ptr(),
                    envp.as_ptr(),
                    0,
                );
                Err(std::io::Error::last_os_error())
            });
        }
        let t = std::thread::spawn(move || {
            let listener = sys::recv_fd(mine.as_raw_fd(), false).unwrap().expect("fd");
            let mut nrs = Vec::new();
            loop {
                let ev = sys::poll(&[(listener.as_raw_fd(), libc::POLLIN)], 10_000).unwrap();
                if ev[0] & libc::POLLIN == 0 {
                    return nrs;
                }
                if let Ok(n) = sys::notif_recv(listener.as_raw_fd()) {
                    nrs.push(n.data.nr);
                    let _ = sys::notif_send(listener.as_raw_fd(), n.id, None);
                }
            }
        });
        let status = cmd.spawn().and_then(|mut c| c.wait());
        drop(theirs);
        let nrs = t.join().unwrap();
        // execveat of /bin/true succeeded: the child is `true`, exit 0 (not /bin/false's 1).
        assert_eq!(status.unwrap().code(), Some(0));
        assert_eq!(nrs, [EXECVEAT]);
    }

    #[test]
    fn the_program_has_the_expected_shape() {
        let Some(p) = program() else { return };
        let arch = ARCH.as_ref().unwrap();
        assert_eq!(p.len(), 4 + arch.notify.len() + arch.refuse.len() + 3);
        assert_eq!(p[p.len() - 1].k, libc::SECCOMP_RET_USER_NOTIF);
        assert_eq!(p[p.len() - 3].k, libc::SECCOMP_RET_ALLOW);
        // Every notify jump lands on the notify return, every refuse jump on the refuse one.
        for (i, ins) in p.iter().enumerate().skip(4).take(arch.notify.len()) {
            assert_eq!(i + 1 + ins.jt as usize, p.len() - 1);
        }
        for (i, ins) in p
            .iter()
            .enumerate()
            .skip(4 + arch.notify.len())
            .take(arch.refuse.len())
        {
            assert_eq!(i + 1 + ins.jt as usize, p.len() - 2);
        }
    }
}
