//! The in-sandbox side: stage 1 (fresh namespaces, not yet PID 1) forks PID 1, which builds the
//! filesystem view, brings up `lo`, relays the proxy port, starts the confined command, forwards
//! signals to it, reaps every orphan and reports the command's status to the supervisor.
//! Also a tiny SOCKS5 connect helper used as ssh's `ProxyCommand` for git over SSH.

use crate::{Limits, exec_filter, mounts, rules, seccomp, sys};
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};

/// The hidden first argument that makes the `warden` binary run [`init_main`].
pub const INIT_ARG: &str = "__sandbox-init";
pub(crate) const SPEC_ENV: &str = "WARDEN_SANDBOX_SPEC";
/// `__sandbox-init --fallback EXE`: see [`init_main`].
pub(crate) const FALLBACK_ARG: &str = "--fallback";

/// Everything PID 1 needs, passed from the supervisor as JSON in [`SPEC_ENV`]. Unknown fields
/// are refused, so an init from another build cannot silently ignore part of the spec.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct InitSpec {
    /// The supervisor's [`seccomp::BUILD_FINGERPRINT`]; the init refuses a different one.
    pub(crate) build: String,
    pub(crate) argv: Vec<String>,
    pub(crate) cwd: PathBuf,
    pub(crate) env: Vec<(String, String)>,
    pub(crate) plan: mounts::Plan,
    pub(crate) landlock: bool,
    pub(crate) seccomp: bool,
    pub(crate) limits: Limits,
    pub(crate) proxy_port: Option<u16>,
    /// A status file to append to when `status_fd` is -1 (the supervisor passes a pipe).
    pub(crate) status_path: PathBuf,
    #[serde(default)]
    pub(crate) status_fd: i32,
    /// Stage 1 dies with the supervisor; this guards the race where it already died.
    pub(crate) supervisor_pid: i32,
    /// `cgroup.procs` of the action's cgroup, joined before the cgroup namespace is made.
    pub(crate) cgroup_procs: Option<PathBuf>,
    pub(crate) hostname: String,
    /// Read end of the start gate (or -1): PID 1 prepares everything, then waits for one byte
    /// `G` here before it starts the command; end of file means the action was withdrawn.
    pub(crate) gate_fd: i32,
    /// One end of the exec channel when the command's programs are governed: the command
    /// installs the exec-notification filter just before its exec and sends the listener here.
    #[serde(default)]
    pub(crate) exec_notify_fd: Option<i32>,
    /// Read end of a pipe carrying the rest of the spec: this one (in the environment) then
    /// holds only what stage 1 needs to enter the namespaces, so the init can start while the
    /// supervisor still resolves the profile; PID 1 reads the rest (until end of file) before
    /// it builds anything, and gives up if it never comes.
    #[serde(default)]
    pub(crate) spec_fd: Option<i32>,
}

impl InitSpec {
    /// This (early) spec completed by `late`: the command, its environment, the view and the
    /// confinement from `late`; descriptors, cgroup and build from this one.
    fn completed_by(self, late: InitSpec) -> InitSpec {
        InitSpec {
            argv: late.argv,
            cwd: late.cwd,
            env: late.env,
            plan: late.plan,
            landlock: late.landlock,
            seccomp: late.seccomp,
            limits: late.limits,
            proxy_port: late.proxy_port,
            hostname: late.hostname,
            spec_fd: None,
            ..self
        }
    }
}

/// PID 1: the full spec, reading its rest from `spec_fd` when the early one defers to it.
fn full_spec(spec: &InitSpec) -> Result<InitSpec, String> {
    let Some(fd) = spec.spec_fd else {
        return Ok(spec.clone());
    };
    // SAFETY: `fd` is the spec pipe's read end, inherited for this purpose and owned by this
    // process from here on (closed when the File drops).
    let mut pipe = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let mut bytes = Vec::new();
    pipe.read_to_end(&mut bytes)
        .map_err(|e| format!("read the sandbox spec: {e}"))?;
    if bytes.is_empty() {
        return Err("the action was withdrawn before it started".into());
    }
    let late: InitSpec =
        serde_json::from_slice(&bytes).map_err(|e| format!("the sandbox spec: {e}"))?;
    if late.build != spec.build {
        return Err("the sandbox spec is from another build".into());
    }
    Ok(spec.clone().completed_by(late))
}

/// The status line PID 1 writes, just before the command's status, once no other task of the
/// sandbox is left (see `end_all`).
pub(crate) const EMPTY_LINE: &str = "D";

/// What the supervisor writes to the gate to let the command start.
pub(crate) const GATE_GO: u8 = b'G';

static CHILD: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = CHILD.load(Ordering::Relaxed);
    if pid > 0 {
        sys::kill(pid, sig);
    }
}

extern "C" fn forward_group(sig: libc::c_int) {
    let pid = CHILD.load(Ordering::Relaxed);
    if pid > 0 {
        sys::kill(-pid, sig);
    }
}

fn status_line(fd: i32, line: &str) {
    let bytes = format!("{line}\n");
    // SAFETY: writing a byte buffer we own to an fd inherited for this purpose.
    unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
}

/// Entry point of `warden __sandbox-init ...`; never returns.
pub fn init_main() -> ! {
    let args: Vec<String> = std::env::args().collect();
    if args.get(2).map(String::as_str) == Some("connect") {
        std::process::exit(connect_helper(&args[3..]));
    }
    // `__sandbox-init --fallback EXE`: the executable to hand over to (with the same spec) when
    // this init is from another build than the supervisor (e.g. a stale `warden-sandbox-init`).
    let fallback = match (args.get(2), args.get(3)) {
        (Some(flag), Some(exe)) if flag == FALLBACK_ARG => Some(exe.as_str()),
        _ => None,
    };
    let spec: InitSpec = match std::env::var(SPEC_ENV)
        .ok()
        .and_then(|s| serde_json::from_str(&s).ok())
    {
        Some(s) => s,
        None => {
            if let Some(exe) = fallback
                && std::env::var_os(SPEC_ENV).is_some()
            {
                // A spec this init cannot read comes from another build: hand over.
                let e = std::process::Command::new(exe).arg(INIT_ARG).exec();
                eprintln!("warden: cannot start the sandbox init {exe}: {e}");
                std::process::exit(1);
            }
            eprintln!("warden: {INIT_ARG} is internal to the sandbox and takes no direct use");
            std::process::exit(2);
        }
    };
    let mut spec = spec;
    if spec.status_fd < 0 {
        match std::fs::OpenOptions::new()
            .append(true)
            .open(&spec.status_path)
        {
            Ok(f) => spec.status_fd = std::os::fd::IntoRawFd::into_raw_fd(f),
            Err(e) => {
                eprintln!("warden: sandbox status file: {e}");
                std::process::exit(1);
            }
        }
    }
    if spec.build != seccomp::BUILD_FINGERPRINT {
        let exe = std::env::current_exe().unwrap_or_default();
        if let Some(main) = fallback {
            status_line(
                spec.status_fd,
                &format!(
                    "N sandbox init {} is from another build than this warden; {main} started \
                     the sandbox instead",
                    exe.display()
                ),
            );
            // The inherited status pipe and gate stay open across this exec (a status file
            // opened here is close-on-exec; the fallback opens it again).
            let e = std::process::Command::new(main).arg(INIT_ARG).exec();
            status_line(
                spec.status_fd,
                &format!("E cannot start the sandbox init {main}: {e}"),
            );
            std::process::exit(1);
        }
        status_line(
            spec.status_fd,
            &format!(
                "E the sandbox init {} is from a different build than the warden starting it \
                 (build {} here, {} there); install both from the same build",
                exe.display(),
                seccomp::BUILD_FINGERPRINT,
                spec.build
            ),
        );
        std::process::exit(1);
    }
    // Whatever this process inherited beyond stdio (its status pipe and gate included; PID 1
    // keeps them across fork) must not reach the command's exec.
    sys::cloexec_from_3();
    // Stage 1: single-threaded and freshly exec'd; enter the new namespaces here (not between
    // fork and exec in the caller), then fork: the child is PID 1 of the new PID namespace.
    if let Err(e) = enter_namespaces(&spec) {
        status_line(spec.status_fd, &format!("E {e}"));
        std::process::exit(1);
    }
    // Opened while the host's /dev is still this stage's (PID 1 pivots the root of both): the
    // stage's and PID 1's standard streams go here once the command has them, so the command's
    // output ends (end of file for the supervisor) when the command's processes end.
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .ok();
    let null_fd = null.as_ref().map(std::os::fd::AsRawFd::as_raw_fd);
    let pid = match sys::fork() {
        Ok(p) => p,
        Err(e) => {
            status_line(
                spec.status_fd,
                &format!("E fork of the sandbox init failed: {e}"),
            );
            std::process::exit(1);
        }
    };
    if pid == 0 {
        std::process::exit(pid1(&spec, null_fd));
    }
    if let Some(null) = null_fd {
        sys::redirect_stdio(null);
    }
    if spec.gate_fd >= 0 {
        // SAFETY: closing our copy of the inherited gate fd; PID 1 keeps its own.
        unsafe { libc::close(spec.gate_fd) };
    }
    if let Some(fd) = spec.spec_fd {
        // SAFETY: closing our copy of the inherited spec pipe; PID 1 keeps its own.
        unsafe { libc::close(fd) };
    }
    if let Some(fd) = spec.exec_notify_fd {
        // SAFETY: closing our copy of the inherited exec channel; PID 1 keeps its own.
        unsafe { libc::close(fd) };
    }
    CHILD.store(pid, Ordering::Relaxed);
    sys::forward_signals(forward);
    let code = match sys::waitpid(pid) {
        Ok((_, st)) if libc::WIFEXITED(st) => libc::WEXITSTATUS(st),
        Ok((_, st)) if libc::WIFSIGNALED(st) => 128 + libc::WTERMSIG(st),
        _ => 1,
    };
    std::process::exit(code)
}

fn enter_namespaces(spec: &InitSpec) -> Result<(), String> {
    sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong)
        .map_err(|e| format!("PR_SET_PDEATHSIG: {e}"))?;
    // SAFETY: getppid cannot fail.
    if unsafe { libc::getppid() } != spec.supervisor_pid {
        return Err("the supervisor exited before the sandbox started".into());
    }
    if let Some(p) = &spec.cgroup_procs {
        std::fs::write(p, "0")
            .map_err(|e| format!("join the action's cgroup {}: {e}", p.display()))?;
    }
    let uid = sys::euid();
    // SAFETY: getegid cannot fail.
    let gid = unsafe { libc::getegid() };
    let flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWCGROUP;
    // SAFETY: unshare with integer flags only.
    sys::check(unsafe { libc::unshare(flags) }).map_err(|e| {
        format!("cannot enter new namespaces (user, mount, pid, ipc, uts, net, cgroup): {e}")
    })?;
    match std::fs::write("/proc/self/setgroups", "deny") {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(format!("setgroups: {e}"));
        }
        _ => {}
    }
    std::fs::write("/proc/self/uid_map", format!("0 {uid} 1"))
        .map_err(|e| format!("uid_map: {e}"))?;
    std::fs::write("/proc/self/gid_map", format!("0 {gid} 1"))
        .map_err(|e| format!("gid_map: {e}"))?;
    Ok(())
}

fn pid1(spec: &InitSpec, null_fd: Option<i32>) -> i32 {
    let _ = sys::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong);
    let fd = spec.status_fd;
    // What does not depend on the spec's rest is set up while the supervisor still resolves
    // it: the base of the view and the loopback interface.
    let ready = || -> Result<Vec<String>, String> {
        let notes = mounts::build_base()?;
        sys::loopback_up().map_err(|e| format!("bring up lo: {e}"))?;
        Ok(notes)
    };
    let run = ready().and_then(|base_notes| {
        let spec = full_spec(spec)?;
        run_pid1(&spec, null_fd, base_notes)
    });
    match run {
        Ok(code) => code,
        Err(msg) => {
            status_line(fd, &format!("E {}", msg.replace('\n', " ")));
            1
        }
    }
}

fn run_pid1(spec: &InitSpec, null_fd: Option<i32>, base_notes: Vec<String>) -> Result<i32, String> {
    let fd = spec.status_fd;
    sys::sethostname(&spec.hostname).map_err(|e| format!("sethostname: {e}"))?;
    let notes = mounts::build_on_base(&spec.plan)?;
    for n in base_notes.into_iter().chain(notes) {
        status_line(fd, &format!("N {n}"));
    }
    // Keep the command (same uid) out of PID 1's /proc entries (environ, mem, fds).
    sys::prctl(libc::PR_SET_DUMPABLE, 0).map_err(|e| format!("make the init undumpable: {e}"))?;
    let listener = match spec.proxy_port {
        Some(port) => {
            let l = std::net::TcpListener::bind(("127.0.0.1", port))
                .map_err(|e| format!("bind the proxy relay on port {port}: {e}"))?;
            // Accepted connections inherit it.
            sys::host_local_congestion_control(&l);
            Some(l)
        }
        None => None,
    };
    let mut writable = vec![spec.plan.workspace.clone()];
    writable.extend(spec.plan.writable.iter().cloned());
    // Writes there land in the overlay's upper layer; only the named paths reach the host.
    writable.extend(spec.plan.layers.iter().map(|l| l.dir.clone()));
    writable.extend(["/tmp", "/var/tmp", "/dev/shm"].map(PathBuf::from));
    let mut ruleset = if spec.landlock {
        Some(rules::build(&writable)?)
    } else {
        None
    };
    let filters: &[(&str, &[seccompiler::sock_filter])] = if spec.seccomp {
        seccomp::baked_seccomp().map_err(|e| e.to_string())?.0
    } else {
        &[]
    };
    let last_cap = sys::cap_last_cap();
    let limits = spec.limits.clone();
    let want_landlock = spec.landlock;
    sys::set_cloexec(fd, true).map_err(|e| format!("status fd: {e}"))?;
    if spec.gate_fd >= 0 {
        // Everything is prepared; the command starts only once the supervisor says so (e.g.
        // after the action's intent is durable), and never if it withdraws.
        let go = sys::read_byte(spec.gate_fd);
        // SAFETY: closing the gate fd we own; the command never sees it.
        unsafe { libc::close(spec.gate_fd) };
        if go != Some(GATE_GO) {
            return Err("the action was withdrawn before it started".into());
        }
    }

    // With exec governance the command's own exec must be a single execve (the supervisor lets
    // the first one through unasked): find the program on PATH here instead of in execvp.
    let exec_notify = match spec.exec_notify_fd {
        Some(fd) => Some((
            fd,
            exec_filter::program().ok_or("exec notification is not supported here")?,
        )),
        None => None,
    };
    let program = match exec_notify {
        Some(_) => find_program(&spec.argv[0], &spec.env, &spec.cwd),
        None => PathBuf::from(&spec.argv[0]),
    };
    let mut cmd = std::process::Command::new(&program);
    cmd.arg0(&spec.argv[0])
        .args(&spec.argv[1..])
        .env_clear()
        .envs(spec.env.iter().map(|(k, v)| (k, v)))
        .current_dir(&spec.cwd);
    // SAFETY: PID 1 is single-threaded at this point (the relay thread starts after spawn), so
    // the closure may allocate; it only confines the child before exec.
    unsafe {
        cmd.pre_exec(move || {
            sys::setsid()?;
            apply_limits(&limits)?;
            if let Some(rs) = ruleset.take() {
                let st = rs.restrict_self().map_err(std::io::Error::other)?;
                if want_landlock && st.ruleset == landlock::RulesetStatus::NotEnforced {
                    return Err(std::io::Error::other("Landlock ruleset not enforced"));
                }
            }
            sys::drop_all_caps(last_cap)?;
            sys::prctl(libc::PR_SET_NO_NEW_PRIVS, 1)?;
            for (_, f) in filters {
                seccompiler::apply_filter(f).map_err(std::io::Error::other)?;
            }
            if let Some((channel, program)) = &exec_notify {
                // Installed last, right before the exec: everything this task runs from here
                // on, its own program first, waits for the supervisor's answer.
                let listener = exec_filter::install(program)?;
                sys::send_fd(*channel, std::os::fd::AsRawFd::as_raw_fd(&listener))?;
            }
            Ok(())
        });
    }
    let spawned = cmd.spawn();
    if let Some(fd) = spec.exec_notify_fd {
        // SAFETY: closing PID 1's copy of the exec channel: the command has sent its listener
        // (or failed), and the supervisor must see the end of the channel if it never will.
        unsafe { libc::close(fd) };
    }
    let child = match spawned {
        Ok(c) => c,
        Err(e) => {
            let code = if e.kind() == std::io::ErrorKind::NotFound {
                127
            } else {
                126
            };
            eprintln!("warden: cannot run {}: {e}", spec.argv[0]);
            status_line(fd, &format!("X {code}"));
            return Ok(code);
        }
    };
    let pid = child.id() as i32;
    CHILD.store(pid, Ordering::Relaxed);
    sys::forward_signals(forward_group);
    if let Some(l) = listener {
        std::thread::spawn(move || relay(l));
    }
    if let Some(null) = null_fd {
        sys::redirect_stdio(null);
    }
    // Reap everything; the command's status decides ours. It is reported only once every
    // other task of the sandbox is gone too (see `end_all`): the supervisor may then go on
    // without waiting for the namespaces to be torn down.
    loop {
        let mut st = 0;
        // SAFETY: `st` is a valid out-pointer.
        let r = unsafe { libc::waitpid(-1, &mut st, 0) };
        if r < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            status_line(fd, "E lost track of the command");
            return Ok(1);
        }
        if r == pid {
            if end_all() {
                status_line(fd, EMPTY_LINE);
            }
            if libc::WIFSIGNALED(st) {
                let sig = libc::WTERMSIG(st);
                status_line(fd, &format!("S {sig}"));
                return Ok(128 + sig);
            }
            let code = libc::WEXITSTATUS(st);
            status_line(fd, &format!("X {code}"));
            return Ok(code);
        }
    }
}

/// PID 1, once the command has ended: kill every other task of the PID namespace (what the
/// command left running) and reap them all, until none is left. Leaving PID 1 would do the
/// same, but only after the status line; done first, the status line means the sandbox is
/// empty: nothing of it can still write to the workspace while the supervisor inspects it.
/// Returns whether that succeeded (else the kernel does it when PID 1 exits).
fn end_all() -> bool {
    loop {
        // SAFETY: kill(2) with integer arguments. -1: every process of this PID namespace but
        // PID 1 itself; ESRCH once there is none (zombies count until reaped).
        if unsafe { libc::kill(-1, libc::SIGKILL) } != 0 {
            return std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        }
        loop {
            let mut st = 0;
            // SAFETY: `st` is a valid out-pointer.
            let r = unsafe { libc::waitpid(-1, &mut st, 0) };
            if r < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        }
    }
}

/// Where `execvp` would find `name`: itself when it contains a `/`, else the first executable
/// regular file of that name in the command's `PATH` (relative entries against `cwd`), else
/// `name` unchanged (the spawn then fails as execvp would).
fn find_program(name: &str, env: &[(String, String)], cwd: &std::path::Path) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    if name.contains('/') {
        return PathBuf::from(name);
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map_or("/usr/local/bin:/usr/bin:/bin", |(_, v)| v.as_str());
    path.split(':')
        .map(|dir| cwd.join(if dir.is_empty() { "." } else { dir }).join(name))
        .find(|p| {
            std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
        .unwrap_or_else(|| PathBuf::from(name))
}

fn apply_limits(l: &Limits) -> std::io::Result<()> {
    let inf = libc::RLIM_INFINITY;
    sys::set_rlimit(libc::RLIMIT_NPROC, l.processes.unwrap_or(inf))?;
    sys::set_rlimit(libc::RLIMIT_NOFILE, l.open_files.unwrap_or(inf))?;
    sys::set_rlimit(libc::RLIMIT_AS, l.memory_bytes.unwrap_or(inf))?;
    sys::set_rlimit(libc::RLIMIT_CPU, l.cpu_seconds.unwrap_or(inf))?;
    sys::set_rlimit(libc::RLIMIT_CORE, l.core_dump_bytes.unwrap_or(0))?;
    Ok(())
}

fn relay(listener: std::net::TcpListener) {
    for conn in listener.incoming() {
        let Ok(tcp) = conn else { continue };
        std::thread::spawn(move || {
            // The proxy may be started on first use (wake it) or still be starting: wait for it.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            let mut woken = false;
            let unix = loop {
                match std::os::unix::net::UnixStream::connect(mounts::PROXY_SOCKET_INSIDE) {
                    Ok(u) => break u,
                    Err(_) if std::time::Instant::now() < deadline => {
                        if !woken {
                            woken = true;
                            let _ =
                                std::os::unix::net::UnixStream::connect(mounts::WAKE_SOCKET_INSIDE);
                        }
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                    Err(_) => return,
                }
            };
            let (tcp, unix) = (std::sync::Arc::new(tcp), std::sync::Arc::new(unix));
            let (tcp2, unix2) = (tcp.clone(), unix.clone());
            let up = std::thread::spawn(move || {
                relay_one_way(&*tcp2, &*unix2);
                let _ = unix2.shutdown(std::net::Shutdown::Write);
            });
            relay_one_way(&*unix, &*tcp);
            let _ = tcp.shutdown(std::net::Shutdown::Write);
            let _ = up.join();
        });
    }
}

/// One direction of a relayed connection; on an error both ends are shut down so the other
/// direction, perhaps waiting for bytes that will never come, ends too.
fn relay_one_way(from: &impl std::os::fd::AsRawFd, to: &impl std::os::fd::AsRawFd) {
    if sys::splice_until_eof(from, to).is_err() {
        sys::shutdown_both(from);
        sys::shutdown_both(to);
    }
}

/// `connect PROXY_HOST PROXY_PORT HOST PORT`: open a SOCKS5 tunnel and splice it to stdin/stdout.
fn connect_helper(args: &[String]) -> i32 {
    let [phost, pport, host, port] = args else {
        eprintln!("usage: {INIT_ARG} connect PROXY_HOST PROXY_PORT HOST PORT");
        return 2;
    };
    let run = || -> std::io::Result<()> {
        let bad = |m: &str| std::io::Error::other(m.to_owned());
        let port: u16 = port.parse().map_err(|_| bad("bad port"))?;
        let pport: u16 = pport.parse().map_err(|_| bad("bad proxy port"))?;
        let mut s = std::net::TcpStream::connect((phost.as_str(), pport))?;
        s.write_all(&[5, 1, 0])?;
        let mut hello = [0u8; 2];
        s.read_exact(&mut hello)?;
        if hello != [5, 0] {
            return Err(bad("proxy refused SOCKS5 without authentication"));
        }
        let h = host.as_bytes();
        if h.len() > 255 {
            return Err(bad("host name too long"));
        }
        let mut req = vec![5, 1, 0, 3, h.len() as u8];
        req.extend_from_slice(h);
        req.extend_from_slice(&port.to_be_bytes());
        s.write_all(&req)?;
        let mut head = [0u8; 4];
        s.read_exact(&mut head)?;
        if head[1] != 0 {
            return Err(bad(&format!(
                "proxy refused the connection to {host}:{port} (SOCKS code {})",
                head[1]
            )));
        }
        let skip = match head[3] {
            1 => 4 + 2,
            4 => 16 + 2,
            3 => {
                let mut l = [0u8; 1];
                s.read_exact(&mut l)?;
                l[0] as usize + 2
            }
            _ => return Err(bad("bad SOCKS reply")),
        };
        let mut rest = vec![0u8; skip];
        s.read_exact(&mut rest)?;
        let mut s_w = s.try_clone()?;
        let up = std::thread::spawn(move || {
            let _ = std::io::copy(&mut std::io::stdin(), &mut s_w);
            let _ = s_w.shutdown(std::net::Shutdown::Write);
        });
        std::io::copy(&mut s, &mut std::io::stdout())?;
        drop(up);
        Ok(())
    };
    match run() {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("warden connect: {e}");
            1
        }
    }
}
