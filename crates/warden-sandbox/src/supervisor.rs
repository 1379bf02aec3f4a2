//! The supervisor side (host namespaces): check the kernel, resolve the profile into concrete
//! paths and environment, fork a child that enters fresh namespaces and re-executes the init,
//! forward signals to it, and collect the command's status from the init's status pipe.

use crate::init::{INIT_ARG, InitSpec, SPEC_ENV};
use crate::{SandboxError, SandboxProfile, cgroup, env, mounts, probe, sys};
use std::ffi::CString;
use std::io::Read;
use std::os::fd::FromRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, ChildStdout, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};

/// What happens to the command's stdout and stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Output {
    /// Shared with the caller (terminal programs keep working).
    #[default]
    Inherit,
    /// Pipes the caller reads from [`Running::stdout`] / [`Running::stderr`].
    Piped,
}

/// How to spawn.
#[derive(Debug, Clone, Default)]
pub struct SpawnOptions {
    /// Run even if the kernel cannot enforce everything the profile asks for (reported in notes).
    pub allow_degraded: bool,
    /// stdout/stderr handling.
    pub output: Output,
    /// The executable that dispatches [`INIT_ARG`] to [`crate::init_main`]; default: this program.
    pub init_exe: Option<PathBuf>,
}

/// A running sandbox.
#[derive(Debug)]
pub struct Running {
    child: Child,
    status: std::fs::File,
    /// The command's stdout, with [`Output::Piped`].
    pub stdout: Option<ChildStdout>,
    /// The command's stderr, with [`Output::Piped`].
    pub stderr: Option<ChildStderr>,
    /// What is not enforced (degraded mode) or was adjusted, for the outcome record.
    pub notes: Vec<String>,
    /// Names of the environment variables removed (values are never kept).
    pub removed_env: Vec<String>,
    _cgroup: Option<cgroup::ActionCgroup>,
}

/// How the command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    /// Exit code when it exited.
    pub code: Option<i32>,
    /// Signal number when it was killed.
    pub signal: Option<i32>,
    /// Notes from the init (e.g. optional parts that could not be set up).
    pub notes: Vec<String>,
}

impl ExitInfo {
    /// The shell convention: the exit code, or 128 + the signal number.
    pub fn shell_code(&self) -> i32 {
        match (self.code, self.signal) {
            (_, Some(s)) => 128 + s,
            (Some(c), None) => c,
            (None, None) => 1,
        }
    }
}

static SUPERVISED: AtomicI32 = AtomicI32::new(0);

extern "C" fn forward(sig: libc::c_int) {
    let pid = SUPERVISED.load(Ordering::Relaxed);
    if pid > 0 {
        sys::kill(pid, sig);
    }
}

fn canonical(p: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(p).ok()
}

fn plan(profile: &SandboxProfile) -> Result<mounts::Plan, SandboxError> {
    let ws = canonical(&profile.workspace).ok_or_else(|| {
        SandboxError::Profile(format!(
            "workspace {} does not exist",
            profile.workspace.display()
        ))
    })?;
    if ws == Path::new("/") {
        return Err(SandboxError::Profile("the workspace cannot be /".into()));
    }
    let writable = profile
        .writable
        .iter()
        .filter_map(|w| canonical(&profile.expand(w, &ws)))
        .filter(|w| w != Path::new("/"))
        .collect();
    let mut pins = Vec::new();
    let git = ws.join(".git");
    if std::fs::symlink_metadata(&git).is_ok_and(|m| m.is_dir()) {
        pins.push(git);
    }
    let readonly = profile
        .readonly_in_workspace
        .iter()
        .filter_map(|r| canonical(&ws.join(r)))
        .filter(|r| r.starts_with(&ws) && r != &ws)
        .collect();
    let secrets = profile
        .existing_secrets()
        .iter()
        .filter_map(|s| canonical(s))
        .collect();
    let proxy_dir = match &profile.proxy {
        Some(p) => {
            let dir = p.socket.parent().and_then(canonical).ok_or_else(|| {
                SandboxError::Profile(format!(
                    "the directory of the proxy socket {} does not exist",
                    p.socket.display()
                ))
            })?;
            if p.socket.file_name().is_none_or(|n| n != "proxy.sock") {
                return Err(SandboxError::Profile(
                    "the proxy socket must be named proxy.sock".into(),
                ));
            }
            Some(dir)
        }
        None => None,
    };
    Ok(mounts::Plan {
        workspace: ws,
        writable,
        pins,
        readonly,
        secrets,
        proxy_dir,
    })
}

fn write_file_raw(path: &CString, data: &[u8]) -> std::io::Result<()> {
    // SAFETY: raw open/write/close only (async-signal-safe), on a NUL-terminated path and a
    // buffer that outlive the calls.
    unsafe {
        let fd = sys::check(libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC))?;
        let r = libc::write(fd, data.as_ptr().cast(), data.len());
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if r < 0 {
            return Err(err);
        }
    }
    Ok(())
}

/// Check the kernel, then start `profile` in a new sandbox.
pub fn spawn(profile: &SandboxProfile, opts: &SpawnOptions) -> Result<Running, SandboxError> {
    profile.validate()?;
    let caps = probe();
    let missing = caps.missing_for(profile);
    let mut notes = Vec::new();
    if !missing.is_empty() {
        if !opts.allow_degraded || !caps.user_namespaces {
            return Err(SandboxError::Degraded(missing));
        }
        notes.extend(missing.iter().map(|m| format!("not enforced: {m}")));
    }
    notes.extend(
        caps.landlock_gaps
            .iter()
            .map(|g| format!("not enforced: Landlock {g}")),
    );
    let plan = plan(profile)?;
    let cwd = canonical(&profile.cwd).ok_or_else(|| {
        SandboxError::Profile(format!("cwd {} does not exist", profile.cwd.display()))
    })?;

    let exe = match &opts.init_exe {
        Some(e) => e.clone(),
        None => {
            std::env::current_exe().map_err(SandboxError::io("locate the warden executable"))?
        }
    };
    let scrubbed = env::scrub_env(&profile.env, &profile.env_scrub, &profile.env_pass);
    let mut cmd_env = scrubbed.kept;
    cmd_env.push(("WARDEN_SANDBOXED".into(), "1".into()));
    if let Some(p) = &profile.proxy {
        let helper = exe.to_str().filter(|_| !exe.starts_with("/tmp"));
        cmd_env.extend(env::proxy_vars(p.port, helper));
    }

    let action_cgroup = if profile.use_cgroup && caps.cgroup2 {
        match cgroup::ActionCgroup::create(&profile.limits) {
            Ok(c) => Some(c),
            Err(e) => {
                notes.push(format!("cgroup v2 limits not applied ({e}); rlimits only"));
                None
            }
        }
    } else if let Some(n) = profile.limits.processes.filter(|_| sys::euid() == 0) {
        // Root is exempt from RLIMIT_NPROC: bound the process count with the v1 pids controller.
        match cgroup::ActionCgroup::create_v1_pids(n) {
            Ok(c) => Some(c),
            Err(e) => {
                notes.push(format!(
                    "not enforced: the process limit (root is exempt from RLIMIT_NPROC and no pids cgroup is usable: {e})"
                ));
                None
            }
        }
    } else {
        None
    };
    let cg_procs = action_cgroup
        .as_ref()
        .and_then(|c| sys::cpath(&c.procs_file()).ok());

    let mut fds = [0i32; 2];
    // SAFETY: `fds` is a valid two-element out-array.
    sys::check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) })
        .map_err(SandboxError::io("create the status pipe"))?;
    let [status_r, status_w] = fds;
    // SAFETY: `status_r` is a fresh fd we own exclusively.
    let status = unsafe { std::fs::File::from_raw_fd(status_r) };

    let spec = InitSpec {
        argv: profile.argv.clone(),
        cwd,
        env: cmd_env,
        plan,
        landlock: caps.landlock_abi > 0,
        seccomp: caps.seccomp,
        limits: profile.limits.clone(),
        proxy_port: profile.proxy.as_ref().map(|p| p.port),
        status_fd: status_w,
        hostname: profile.hostname.clone(),
    };
    let spec_json = serde_json::to_string(&spec).map_err(|e| SandboxError::Setup(e.to_string()))?;

    // SAFETY: geteuid/getegid cannot fail.
    let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
    let uid_map = format!("0 {uid} 1");
    let gid_map = format!("0 {gid} 1");
    let c = |s: &str| CString::new(s).map_err(|_| SandboxError::Setup("bad path".into()));
    let (p_setgroups, p_uid, p_gid) = (
        c("/proc/self/setgroups")?,
        c("/proc/self/uid_map")?,
        c("/proc/self/gid_map")?,
    );

    let mut cmd = std::process::Command::new(&exe);
    cmd.arg(INIT_ARG)
        .env(SPEC_ENV, spec_json)
        .stdin(Stdio::inherit());
    match opts.output {
        Output::Inherit => cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit()),
        Output::Piped => cmd.stdout(Stdio::piped()).stderr(Stdio::piped()),
    };
    let flags = libc::CLONE_NEWUSER
        | libc::CLONE_NEWNS
        | libc::CLONE_NEWPID
        | libc::CLONE_NEWIPC
        | libc::CLONE_NEWUTS
        | libc::CLONE_NEWNET
        | libc::CLONE_NEWCGROUP;
    // SAFETY: the closure runs between fork and exec in a possibly multi-threaded process, so it
    // only makes raw, async-signal-safe syscalls on data prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            sys::check(libc::prctl(
                libc::PR_SET_PDEATHSIG,
                libc::SIGKILL as libc::c_ulong,
                0,
                0,
                0,
            ))?;
            if let Some(p) = &cg_procs {
                write_file_raw(p, b"0")?;
            }
            sys::check(libc::unshare(flags))?;
            match write_file_raw(&p_setgroups, b"deny") {
                Err(e) if e.raw_os_error() != Some(libc::ENOENT) => return Err(e),
                _ => {}
            }
            write_file_raw(&p_uid, uid_map.as_bytes())?;
            write_file_raw(&p_gid, gid_map.as_bytes())?;
            let fl = sys::check(libc::fcntl(status_w, libc::F_GETFD))?;
            sys::check(libc::fcntl(status_w, libc::F_SETFD, fl & !libc::FD_CLOEXEC))?;
            Ok(())
        });
    }
    let spawned = cmd.spawn();
    // SAFETY: closing our copy of the write end; the child holds its own.
    unsafe { libc::close(status_w) };
    let mut child = spawned.map_err(|e| {
        SandboxError::Setup(format!(
            "cannot enter new namespaces (user, mount, pid, ipc, uts, net, cgroup): {e}"
        ))
    })?;
    SUPERVISED.store(child.id() as i32, Ordering::Relaxed);
    sys::forward_signals(forward);
    Ok(Running {
        stdout: child.stdout.take(),
        stderr: child.stderr.take(),
        child,
        status,
        notes,
        removed_env: scrubbed.removed,
        _cgroup: action_cgroup,
    })
}

impl Running {
    /// Process id of the sandbox's outer stage (in the caller's PID namespace).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Wait for the command to end. Take and drain `stdout`/`stderr` first when piped.
    pub fn wait(mut self) -> Result<ExitInfo, SandboxError> {
        let waited = self.child.wait();
        SUPERVISED.store(0, Ordering::Relaxed);
        sys::default_signals();
        let st = waited.map_err(SandboxError::io("wait for the sandbox"))?;
        let mut text = String::new();
        let _ = self.status.read_to_string(&mut text);
        let mut info = ExitInfo {
            code: None,
            signal: None,
            notes: Vec::new(),
        };
        let mut error = None;
        for line in text.lines() {
            let (tag, rest) = line.split_at(line.len().min(2));
            match tag.trim() {
                "E" => error = Some(rest.to_owned()),
                "N" => info.notes.push(rest.to_owned()),
                "X" => info.code = rest.trim().parse().ok(),
                "S" => info.signal = rest.trim().parse().ok(),
                _ => {}
            }
        }
        if let Some(e) = error {
            return Err(SandboxError::Setup(e));
        }
        if info.code.is_none() && info.signal.is_none() {
            use std::os::unix::process::ExitStatusExt;
            return Err(SandboxError::Setup(match (st.code(), st.signal()) {
                (_, Some(s)) => {
                    format!("the sandbox was killed by signal {s} before the command ended")
                }
                (c, _) => format!(
                    "the sandbox ended (status {c:?}) without reporting the command's status"
                ),
            }));
        }
        Ok(info)
    }
}
