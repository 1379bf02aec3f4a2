//! The supervisor side (host namespaces): check the kernel, resolve the profile into concrete
//! paths and environment, fork a child that enters fresh namespaces and re-executes the init,
//! forward signals to it, and collect the command's status from the init's status pipe.

use crate::init::{INIT_ARG, InitSpec, SPEC_ENV};
use crate::{
    ExecCounts, ExecGovernance, SandboxError, SandboxProfile, cgroup, env, exec_supervisor, mounts,
    probe, sys,
};
use std::io::Read;
use std::os::fd::AsRawFd;
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
    /// Give the command an empty stdin (`/dev/null`) instead of the caller's, e.g. when the
    /// caller's stdin is a protocol stream (an MCP server's) the command must not read.
    pub null_stdin: bool,
    /// The executable that dispatches [`INIT_ARG`] to [`crate::init_main`]; default: this program.
    /// See [`choose_init`] for the small stand-alone init.
    pub init_exe: Option<PathBuf>,
    /// Prepare the whole sandbox but start the command only on [`Running::release`] (e.g. once
    /// the action's intent is durable), so the preparation overlaps the caller's own work.
    /// Until then nothing of the command runs; [`Running::abort`] (or dropping the handle)
    /// withdraws it.
    pub gated: bool,
    /// Another executable dispatching [`INIT_ARG`] (normally `warden` itself) that `init_exe`
    /// hands over to when it turns out to be from another build (see [`choose_init`]).
    pub fallback_exe: Option<PathBuf>,
    /// Govern every program the command runs (each `execve`/`execveat` after the command's
    /// own waits for this decider). A kernel without seccomp user notification refuses the
    /// spawn unless [`SpawnOptions::allow_degraded`] (then noted as not enforced).
    pub exec: Option<ExecGovernance>,
}

/// A base directory for short-lived per-run files such as sockets: the per-user runtime
/// directory (`$XDG_RUNTIME_DIR`) or `/dev/shm` when it is a memory file system (tmpfs) that is
/// ours or sticky, else the temp directory. Callers create their own private (0700),
/// unpredictably named directory below it.
pub fn scratch_base() -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    let usable = |p: &Path| {
        p.is_absolute()
            && sys::fs_type(p) == Some(TMPFS_MAGIC)
            && std::fs::metadata(p)
                .is_ok_and(|m| m.is_dir() && (m.uid() == sys::euid() || m.mode() & 0o1000 != 0))
    };
    std::env::var_os("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/dev/shm")])
        .find(|p| usable(p))
        .unwrap_or_else(std::env::temp_dir)
}

/// File name of the stand-alone init binary installed next to `warden`.
pub const INIT_BINARY_NAME: &str = "warden-sandbox-init";

/// The init to start sandboxes with: the small stand-alone [`INIT_BINARY_NAME`] next to
/// `main_exe` when it is there and trustworthy (a regular file, not a symlink, owned by root or
/// by us, not writable by group or others, in a directory with the same properties), else
/// `main_exe` itself (which dispatches [`INIT_ARG`] too). The second value says why a present
/// companion was not used. A companion from another build notices (the supervisor passes its
/// build fingerprint) and hands over to [`SpawnOptions::fallback_exe`] when given, else refuses.
pub fn choose_init(main_exe: &Path) -> (PathBuf, Option<String>) {
    use std::os::unix::fs::MetadataExt;
    let Some(dir) = main_exe.parent() else {
        return (main_exe.to_path_buf(), None);
    };
    let candidate = dir.join(INIT_BINARY_NAME);
    let meta = match std::fs::symlink_metadata(&candidate) {
        Ok(m) => m,
        Err(_) => return (main_exe.to_path_buf(), None),
    };
    let me = sys::euid();
    let trusted = |m: &std::fs::Metadata| (m.uid() == 0 || m.uid() == me) && m.mode() & 0o022 == 0;
    let problem = if !meta.file_type().is_file() {
        Some("not a regular file")
    } else if !trusted(&meta) {
        Some("owned by another user or writable by group or others")
    } else if meta.mode() & 0o111 == 0 {
        Some("not executable")
    } else if !std::fs::metadata(dir).is_ok_and(|d| trusted(&d)) {
        Some("its directory is owned by another user or writable by group or others")
    } else {
        None
    };
    match problem {
        None => (candidate, None),
        Some(why) => (
            main_exe.to_path_buf(),
            Some(format!(
                "sandbox init {} not used ({why}); {} started the sandbox instead",
                candidate.display(),
                main_exe.display()
            )),
        ),
    }
}

/// A running sandbox.
#[derive(Debug)]
pub struct Running {
    child: Child,
    /// Read end of the status pipe the init writes its `E`/`N`/`X`/`S` lines to.
    status: std::fs::File,
    /// The command's stdout, with [`Output::Piped`].
    pub stdout: Option<ChildStdout>,
    /// The command's stderr, with [`Output::Piped`].
    pub stderr: Option<ChildStderr>,
    /// What is not enforced (degraded mode) or was adjusted, for the outcome record, including
    /// one naming the environment variables dropped (see [`crate::EnvReport::note`]).
    pub notes: Vec<String>,
    /// Names of the environment variables dropped (values are never kept).
    pub removed_env: Vec<String>,
    /// Write end of the start gate while the command waits for [`Running::release`].
    gate: Option<std::fs::File>,
    _cgroup: Option<cgroup::ActionCgroup>,
    /// The workspace's `.git` when it was missing at the start (inspected at the end).
    absent_git: Option<PathBuf>,
    /// The exec supervisor, when the command's programs are governed.
    exec: Option<exec_supervisor::ExecSupervisor>,
    /// The git metadata and the code-running configuration as they were at the start
    /// (compared at the end).
    watches: Watches,
    /// Overlays for granted new paths outside the workspace, moved to the host at the end.
    layers: Vec<crate::staging::Layer>,
}

/// What the post-run inspection compares against.
#[derive(Debug)]
struct Watches {
    git: crate::git_metadata::Watch,
    code_config: crate::code_config::Watch,
}

/// How the command ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExitInfo {
    /// Exit code when it exited.
    pub code: Option<i32>,
    /// Signal number when it was killed.
    pub signal: Option<i32>,
    /// Notes from the init (e.g. optional parts that could not be set up), and a note starting
    /// `warning: ` when the command created a repository holding hooks or code-running
    /// configuration (see `new_repository.rs`).
    pub notes: Vec<String>,
    /// What the exec supervisor did, when the command's programs were governed.
    pub execs: Option<ExecCounts>,
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

/// Smallest `kernel.pid_max` the kernel accepts, minus one (PIDs 1..=pid_max-1 are usable).
const PID_MAX_MIN: u64 = 300;

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

fn plan(profile: &SandboxProfile) -> Result<(mounts::Plan, Vec<String>, Watches), SandboxError> {
    let ws = canonical(&profile.workspace).ok_or_else(|| {
        SandboxError::Profile(format!(
            "workspace {} does not exist",
            profile.workspace.display()
        ))
    })?;
    if ws == Path::new("/") {
        return Err(SandboxError::Profile("the workspace cannot be /".into()));
    }
    let writable: Vec<PathBuf> = profile
        .writable
        .iter()
        .filter_map(|w| canonical(&profile.expand(w, &ws)))
        .filter(|w| w != Path::new("/"))
        .collect();
    for r in &profile.readonly_in_workspace {
        create_placeholder(&ws, r)?;
    }
    let (git, git_watch) =
        crate::git_metadata::plan(&ws, &|rel: &str| create_placeholder(&ws, rel))?;
    let mut readonly: Vec<PathBuf> = profile
        .readonly_in_workspace
        .iter()
        .filter_map(|r| canonical(&ws.join(r)))
        .filter(|r| r.starts_with(&ws) && r != &ws)
        .collect();
    let homes: Vec<PathBuf> = crate::home::homes(profile)
        .0
        .into_iter()
        .map(|(_, dir)| dir)
        .collect();
    let (code_config, code_config_watch) =
        crate::code_config::plan(&ws, &homes, &profile.code_config);
    readonly.extend(code_config);
    let mut secrets: Vec<PathBuf> = profile
        .existing_secrets()
        .iter()
        .filter_map(|s| canonical(s))
        .collect();
    // What the run is granted: the workspace's secret files stay masked unless read by the
    // granted decision; the outside files it named become writable, alone.
    let (workspace_secrets, search_note) =
        crate::workspace_secrets::find(&ws, &profile.workspace_secrets, &profile.readable_secrets);
    secrets.extend(workspace_secrets);
    // The host's named Unix sockets, wherever they are; those in the directories the sandbox
    // replaces (/run, /tmp, …: most of them) are not there to mask.
    let private: Vec<PathBuf> = mounts::PRIVATE_DIRS
        .iter()
        .map(|(d, _)| Path::new("/").join(d))
        .filter(|d| mounts::replaced(d))
        .collect();
    let (sockets, socket_note) =
        crate::unix_sockets::on_host(|s| private.iter().any(|d| s.starts_with(d)));
    secrets.extend(sockets.iter().filter_map(|s| canonical(s)));
    let mut writable = writable;
    for f in profile
        .writable_files
        .iter()
        .filter(|f| std::fs::symlink_metadata(f).is_ok())
    {
        writable.push(
            crate::workspace_secrets::prepare_writable_file(f).map_err(SandboxError::Profile)?,
        );
    }
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
    Ok((
        mounts::Plan {
            workspace: ws,
            writable,
            git,
            readonly,
            secrets,
            proxy_dir,
            ca_bundle: match &profile.ca_bundle {
                Some(b) => Some(canonical(b).ok_or_else(|| {
                    SandboxError::Profile(format!("the CA bundle {} does not exist", b.display()))
                })?),
                None => None,
            },
            homes: Vec::new(),
            pid_max: None,
            layers: Vec::new(),
        },
        search_note.into_iter().chain(socket_note).collect(),
        Watches {
            git: git_watch,
            code_config: code_config_watch,
        },
    ))
}

/// Creates read-only workspace path `rel` as an empty placeholder when it is missing but its
/// parent directory exists, so that it can be mounted read-only: otherwise the command could
/// create it (a `.git/hooks/pre-commit`, a `.git/config` with `core.fsmonitor`, a
/// `.warden/policy.toml`), and it would run or take effect later, outside the sandbox. An entry
/// ending in `/` becomes an empty directory, any other an empty file (default modes, less the
/// umask). Placeholders stay afterwards: removing one while another sandbox has it mounted
/// would lift that sandbox's protection. A missing parent (e.g. no `.git` at all) is not
/// invented — an empty `.git` would change how git and other tools see the workspace.
pub(crate) fn create_placeholder(ws: &Path, rel: &str) -> Result<(), SandboxError> {
    let path = ws.join(rel.trim_end_matches('/'));
    if std::fs::symlink_metadata(&path).is_ok() {
        return Ok(());
    }
    let Some(parent) = path.parent() else {
        return Ok(());
    };
    // Only beneath the workspace, through real directories (no symlinked parent).
    let parent_ok = parent.strip_prefix(ws).is_ok_and(|r| {
        r.ancestors().all(|a| {
            a.as_os_str().is_empty()
                || std::fs::symlink_metadata(ws.join(a)).is_ok_and(|m| m.is_dir())
        })
    });
    if !parent_ok {
        return Ok(());
    }
    let made = if rel.ends_with('/') {
        std::fs::create_dir(&path)
    } else {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .map(drop)
    };
    match made {
        Ok(()) => Ok(()),
        // Created meanwhile by someone else: it exists, which is all that is needed.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        // A parent the caller cannot write (or a read-only file system): the command, which
        // can write no more than the caller, cannot create it either.
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            Ok(())
        }
        Err(e) => Err(SandboxError::Profile(format!(
            "cannot create the read-only placeholder {}: {e}",
            path.display()
        ))),
    }
}

/// Check the kernel, then start `profile` in a new sandbox ([`launch`], then
/// [`Launch::spawn`]).
pub fn spawn(profile: &SandboxProfile, opts: &SpawnOptions) -> Result<Running, SandboxError> {
    launch(profile, opts)?.spawn(profile)
}

/// A sandbox whose init is already starting: it enters its namespaces while the caller
/// finishes the profile (its proxy, CA bundle, environment) and [`Launch::spawn`] resolves
/// it; PID 1 waits for that spec before it builds anything. Dropped without `spawn`, the init
/// is withdrawn (it never builds a view or runs anything) and reaped.
#[derive(Debug)]
pub struct Launch {
    /// `None` once handed to the [`Running`] (or withdrawn).
    child: Option<Child>,
    status: Option<std::fs::File>,
    /// Write end of the pipe PID 1 reads the full spec from.
    spec: Option<std::fs::File>,
    gate: Option<std::fs::File>,
    cgroup: Option<cgroup::ActionCgroup>,
    /// Our end of the exec channel, when the command's programs are governed.
    exec_channel: Option<std::os::fd::OwnedFd>,
    exec: Option<ExecGovernance>,
    notes: Vec<String>,
    caps: probe::Capabilities,
    exe: PathBuf,
    pid_max: Option<u64>,
    /// What the launch was decided on, which the profile given to `spawn` must still say.
    decided: (crate::Limits, bool, u32),
}

/// Check the kernel and start the sandbox's init for `profile`: it enters its namespaces
/// while the caller finishes the profile; [`Launch::spawn`] hands it the rest. The profile's
/// `limits`, `use_cgroup` and `landlock_min_abi` are decided here and must stay the same.
pub fn launch(profile: &SandboxProfile, opts: &SpawnOptions) -> Result<Launch, SandboxError> {
    profile.validate()?;
    let caps = probe();
    let mut missing = caps.missing_for(profile);
    if opts.exec.is_some() {
        missing.extend(caps.missing_for_exec_governance());
    }
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
    let exe = match &opts.init_exe {
        Some(e) => e.clone(),
        None => {
            std::env::current_exe().map_err(SandboxError::io("locate the warden executable"))?
        }
    };
    let action_cgroup = if profile.use_cgroup && caps.cgroup2 {
        match cgroup::ActionCgroup::create(&profile.limits) {
            Ok(c) => Some(c),
            Err(e) => {
                notes.push(format!("cgroup v2 limits not applied ({e}); rlimits only"));
                None
            }
        }
    } else if let Some(n) = profile
        .limits
        .processes
        .filter(|&n| sys::euid() == 0 && n < PID_MAX_MIN)
    {
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
    // Root is exempt from RLIMIT_NPROC; the PID namespace's own pid_max bounds the task count
    // cheaply (a cgroup migration costs an RCU grace period), for limits it can express.
    let pid_max = if action_cgroup.is_none() && sys::euid() == 0 {
        profile
            .limits
            .processes
            .filter(|&n| n >= PID_MAX_MIN)
            .map(|n| n + 1)
    } else {
        None
    };
    let cgroup_procs = action_cgroup.as_ref().map(|c| c.procs_file());
    // The status pipe's write end, the gate's and the spec's read ends go to the init
    // (inherited: cleared of close-on-exec just before the spawn; the init marks every
    // inherited fd close-on-exec again, so the command never gets them). The status is read
    // without waiting on the write end's end of file alone (see `status_until_empty`), so a
    // copy leaked into a concurrently spawned process cannot hold this one up.
    let (status, status_w) = sys::pipe().map_err(SandboxError::io("create the status pipe"))?;
    let (spec_r, spec_w) = sys::pipe().map_err(SandboxError::io("create the spec pipe"))?;
    let gate = if opts.gated {
        Some(sys::pipe().map_err(SandboxError::io("create the start gate"))?)
    } else {
        None
    };
    // Exec governance: the command sends its seccomp listener over this socket pair (the init
    // gets the one end like the status pipe; the supervisor keeps the other).
    let exec_channel = match &opts.exec {
        Some(_) if caps.exec_notify => {
            Some(sys::seqpacket_pair().map_err(SandboxError::io("create the exec channel"))?)
        }
        _ => None,
    };
    // What stage 1 needs to enter the namespaces; PID 1 reads the full spec from `spec_fd`.
    let early = InitSpec {
        build: crate::seccomp::BUILD_FINGERPRINT.to_owned(),
        gate_fd: gate.as_ref().map_or(-1, |(r, _)| r.as_raw_fd()),
        status_fd: status_w.as_raw_fd(),
        supervisor_pid: std::process::id() as i32,
        cgroup_procs,
        exec_notify_fd: exec_channel.as_ref().map(|(_, fd)| fd.as_raw_fd()),
        spec_fd: Some(spec_r.as_raw_fd()),
        ..InitSpec::default()
    };
    let early_json =
        serde_json::to_string(&early).map_err(|e| SandboxError::Setup(e.to_string()))?;

    // No pre_exec: the init enters the namespaces itself, so this spawn can use the cheap
    // posix_spawn path instead of forking the (possibly large, multi-threaded) caller. The init
    // gets no environment but its spec (which carries only the scrubbed environment), so secrets
    // in the caller's environment never sit in any process inside the namespaces.
    let mut cmd = std::process::Command::new(&exe);
    cmd.arg(INIT_ARG);
    if let Some(f) = opts.fallback_exe.as_ref().filter(|f| **f != exe) {
        cmd.arg(crate::init::FALLBACK_ARG).arg(f);
    }
    cmd.env_clear()
        .env(SPEC_ENV, early_json)
        .stdin(if opts.null_stdin {
            Stdio::null()
        } else {
            Stdio::inherit()
        });
    match opts.output {
        Output::Inherit => cmd.stdout(Stdio::inherit()).stderr(Stdio::inherit()),
        Output::Piped => cmd.stdout(Stdio::piped()).stderr(Stdio::piped()),
    };
    for (fd, what) in [
        (Some(status_w.as_raw_fd()), "pass the status pipe"),
        (Some(spec_r.as_raw_fd()), "pass the spec pipe"),
        (
            gate.as_ref().map(|(r, _)| r.as_raw_fd()),
            "pass the start gate",
        ),
        (
            exec_channel.as_ref().map(|(_, fd)| fd.as_raw_fd()),
            "pass the exec channel",
        ),
    ] {
        if let Some(fd) = fd {
            sys::set_cloexec(fd, false).map_err(SandboxError::io(what))?;
        }
    }
    let mut spawned = cmd.spawn();
    // A copy of the init just written by another thread of this process (an installer, a test)
    // is still open for writing in any child forked meanwhile, until that child's own exec: the
    // exec fails with ETXTBSY for that moment. Retried briefly (at most ~100 ms).
    for _ in 0..50 {
        match &spawned {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                std::thread::sleep(std::time::Duration::from_millis(2));
                spawned = cmd.spawn();
            }
            _ => break,
        }
    }
    // The init has its own copies of the status pipe's write end and the gate's and spec's
    // read ends now (or never will).
    drop(status_w);
    drop(spec_r);
    let gate = gate.map(|(_, w)| w);
    let exec_channel = exec_channel.map(|(ours, _theirs)| ours);
    let child = spawned.map_err(|e| {
        SandboxError::Setup(format!(
            "cannot start the sandbox init {}: {e}",
            exe.display()
        ))
    })?;
    SUPERVISED.store(child.id() as i32, Ordering::Relaxed);
    sys::forward_signals(forward);
    Ok(Launch {
        child: Some(child),
        status: Some(status),
        spec: Some(spec_w),
        gate,
        cgroup: action_cgroup,
        exec_channel,
        exec: opts.exec.clone(),
        notes,
        caps,
        exe,
        pid_max,
        decided: (
            profile.limits.clone(),
            profile.use_cgroup,
            profile.landlock_min_abi,
        ),
    })
}

impl Launch {
    /// Process id of the sandbox's outer stage (in the caller's PID namespace).
    pub fn id(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Resolve `profile` (the one given to [`launch`], finished) and hand it to the init.
    pub fn spawn(mut self, profile: &SandboxProfile) -> Result<Running, SandboxError> {
        profile.validate()?;
        let decided = (
            profile.limits.clone(),
            profile.use_cgroup,
            profile.landlock_min_abi,
        );
        if decided != self.decided {
            return Err(SandboxError::Profile(
                "the limits, cgroup use and Landlock minimum cannot change after the launch".into(),
            ));
        }
        let caps = self.caps.clone();
        let mut notes = std::mem::take(&mut self.notes);
        let (mut plan, plan_notes, watches) = plan(profile)?;
        notes.extend(plan_notes);
        plan.pid_max = self.pid_max;
        let absent_git =
            Some(plan.workspace.join(".git")).filter(|g| std::fs::symlink_metadata(g).is_err());
        let cwd = canonical(&profile.cwd).ok_or_else(|| {
            SandboxError::Profile(format!("cwd {} does not exist", profile.cwd.display()))
        })?;
        let home = crate::home::plan(
            profile,
            &plan.workspace,
            &plan.writable,
            &cwd,
            &plan.secrets,
        );
        plan.homes = home.views;
        plan.secrets.extend(home.secret_locations);
        notes.extend(home.notes);
        let filtered = env::filter_env(
            &profile.env,
            &profile.env_allow,
            &profile.env_scrub,
            &profile.env_pass,
        );
        notes.extend(filtered.note());
        let removed_env = filtered.removed.iter().map(|(k, _)| k.clone()).collect();
        let mut cmd_env = filtered.kept;
        cmd_env.push(("WARDEN_SANDBOXED".into(), "1".into()));
        if let Some(p) = &profile.proxy {
            let helper = self.exe.to_str().filter(|_| !self.exe.starts_with("/tmp"));
            cmd_env.extend(env::proxy_vars(p.port, helper));
        }
        if profile.ca_bundle.is_some() {
            cmd_env.retain(|(k, _)| !env::CA_BUNDLE_VARS.contains(&k.as_str()));
            cmd_env.extend(env::ca_vars(mounts::CA_BUNDLE_INSIDE));
        }
        // Granted paths that do not exist yet are created through an overlay (`staging.rs`):
        // its directories are made last; should the exec supervisor not start, they go again.
        let missing: Vec<PathBuf> = profile
            .writable_files
            .iter()
            .filter(|f| std::fs::symlink_metadata(f).is_err())
            .cloned()
            .collect();
        let open: Vec<&Path> = std::iter::once(&plan.workspace)
            .chain(&plan.writable)
            .map(PathBuf::as_path)
            .collect();
        plan.layers =
            crate::staging::plan(&missing, &open, &plan.homes).map_err(SandboxError::Profile)?;
        let layers = plan.layers.clone();
        let exec = match (self.exec_channel.take(), self.exec.take()) {
            (Some(ours), Some(governance)) => Some(
                exec_supervisor::start(ours, governance)
                    .inspect_err(|_| crate::staging::discard(&layers))
                    .map_err(SandboxError::io("start the exec supervisor"))?,
            ),
            _ => None,
        };
        // The rest of the spec (the descriptors and the cgroup went with the early one).
        let spec = InitSpec {
            build: crate::seccomp::BUILD_FINGERPRINT.to_owned(),
            gate_fd: -1,
            argv: profile.argv.clone(),
            cwd,
            env: cmd_env,
            plan,
            landlock: caps.landlock_abi > 0,
            seccomp: caps.seccomp,
            limits: profile.limits.clone(),
            proxy_port: profile.proxy.as_ref().map(|p| p.port),
            status_path: PathBuf::new(),
            status_fd: -1,
            supervisor_pid: std::process::id() as i32,
            cgroup_procs: None,
            hostname: profile.hostname.clone(),
            exec_notify_fd: None,
            spec_fd: None,
        };
        let spec_json =
            serde_json::to_vec(&spec).map_err(|e| SandboxError::Setup(e.to_string()))?;
        {
            use std::io::Write;
            let mut w = self.spec.take().ok_or_else(|| {
                SandboxError::Setup("the sandbox spec was already handed over".into())
            })?;
            // A failed write (the init died) surfaces in `wait` as the init's own report.
            let _ = w.write_all(&spec_json);
        }
        let mut child = self
            .child
            .take()
            .ok_or_else(|| SandboxError::Setup("the sandbox init is gone".into()))?;
        let status = self
            .status
            .take()
            .ok_or_else(|| SandboxError::Setup("the sandbox init is gone".into()))?;
        Ok(Running {
            stdout: child.stdout.take(),
            stderr: child.stderr.take(),
            child,
            status,
            notes,
            removed_env,
            gate: self.gate.take(),
            _cgroup: self.cgroup.take(),
            absent_git,
            exec,
            watches,
            layers,
        })
    }
}

impl Drop for Launch {
    fn drop(&mut self) {
        // Never handed over: the init reads the end of its spec pipe and gives up before it
        // builds anything; reap it.
        drop(self.spec.take());
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
            SUPERVISED.store(0, Ordering::Relaxed);
            sys::default_signals();
        }
    }
}

impl Running {
    /// Process id of the sandbox's outer stage (in the caller's PID namespace).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Let a [`SpawnOptions::gated`] command start. Does nothing for an ungated one.
    pub fn release(&mut self) -> Result<(), SandboxError> {
        use std::io::Write;
        if let Some(mut gate) = self.gate.take() {
            // A failed write (the init died) surfaces in `wait` as the init's own report.
            let _ = gate.write_all(&[crate::init::GATE_GO]);
        }
        Ok(())
    }

    /// Withdraw a [`SpawnOptions::gated`] command before it started and tear the sandbox down.
    /// Returns whether the command never ran (always so for a gated, unreleased one).
    pub fn abort(mut self) -> bool {
        let gated = self.gate.take().is_some();
        let _ = self.wait();
        gated
    }

    /// Wait for the command to end. Take and drain `stdout`/`stderr` first when piped. An
    /// unreleased gated command is withdrawn (it never starts).
    pub fn wait(mut self) -> Result<ExitInfo, SandboxError> {
        drop(self.gate.take());
        // PID 1 reports the command's status once nothing else of the sandbox is left (see
        // `init::EMPTY_LINE`). Then the init's own exit, which tears the namespaces down
        // (mounts, network), is not waited for: it goes on while this process inspects the
        // workspace and records the outcome, and the init is reaped later. With a cgroup the
        // init is waited for as before: the cgroup can be removed only once it is empty.
        let mut text = String::new();
        // Overlays are waited for too: their upper layers are emptied once nothing uses them.
        let emptied =
            self._cgroup.is_none() && self.layers.is_empty() && self.status_until_empty(&mut text);
        let st = if emptied {
            SUPERVISED.store(0, Ordering::Relaxed);
            sys::default_signals();
            reap_later(self.child);
            None
        } else {
            let waited = self.child.wait();
            SUPERVISED.store(0, Ordering::Relaxed);
            sys::default_signals();
            let st = waited.map_err(SandboxError::io("wait for the sandbox"))?;
            // The init and PID 1 have exited: everything they wrote is in the pipe.
            let _ = sys::set_nonblocking(self.status.as_raw_fd());
            let mut rest = Vec::new();
            let _ = self.status.read_to_end(&mut rest);
            text.push_str(&String::from_utf8_lossy(&rest));
            Some(st)
        };
        let mut info = ExitInfo {
            code: None,
            signal: None,
            notes: Vec::new(),
            execs: None,
        };
        // Every task of the sandbox has gone with its init: the exec supervisor ends at once
        // (decisions still held for killed tasks finish on their own).
        if let Some(exec) = self.exec.take() {
            info.execs = exec.finish(std::time::Duration::from_secs(10));
            if info.execs.is_none() {
                info.notes
                    .push("the exec supervisor did not end with the sandbox".into());
            }
        }
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
        info.notes.extend(crate::staging::finish(&self.layers));
        if let Some(e) = error {
            return Err(SandboxError::Setup(e));
        }
        if let Some(git) = &self.absent_git
            && let Some(w) = crate::new_repository::warning(git)
        {
            info.notes.push(w);
        }
        info.notes.extend(self.watches.git.report());
        info.notes.extend(self.watches.code_config.report());
        if info.code.is_none() && info.signal.is_none() {
            use std::os::unix::process::ExitStatusExt;
            let (code, signal) = st.map_or((None, None), |st| (st.code(), st.signal()));
            return Err(SandboxError::Setup(match (code, signal) {
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

impl Running {
    /// Reads the status pipe until PID 1 has reported the sandbox empty and the command's
    /// status (true), or the init has exited or the pipe ended first (false); what was read is
    /// in `text` either way. Watching the init through a pidfd as well means a copy of the
    /// pipe's write end leaked into a process spawned meanwhile cannot hold this up.
    fn status_until_empty(&mut self, text: &mut String) -> bool {
        let Ok(pidfd) = sys::pidfd_open(self.child.id() as i32) else {
            return false;
        };
        let fds = [
            (self.status.as_raw_fd(), libc::POLLIN),
            (std::os::fd::AsRawFd::as_raw_fd(&pidfd), libc::POLLIN),
        ];
        let mut read = Vec::new();
        let mut emptied = false;
        while let Ok(ready) = sys::poll(&fds, -1) {
            if ready[0] != 0 {
                let mut chunk = [0u8; 4096];
                match self.status.read(&mut chunk) {
                    Ok(0) => break,
                    Ok(n) => read.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
                if reports_empty(&read) {
                    emptied = true;
                    break;
                }
            } else if ready[1] != 0 {
                break;
            }
        }
        text.push_str(&String::from_utf8_lossy(&read));
        emptied
    }
}

/// Do the complete lines of `status` hold PID 1's report that the sandbox is empty followed
/// by the command's status?
fn reports_empty(status: &[u8]) -> bool {
    let complete = match status.iter().rposition(|&b| b == b'\n') {
        Some(end) => &status[..end],
        None => return false,
    };
    let mut empty = false;
    for line in complete.split(|&b| b == b'\n') {
        if line == crate::init::EMPTY_LINE.as_bytes() {
            empty = true;
        } else if empty && (line.starts_with(b"X ") || line.starts_with(b"S ")) {
            return true;
        }
    }
    false
}

/// Sandbox inits whose command has been reported but whose own exit (the namespaces'
/// teardown) was not waited for; reaped when they are done, at the next [`reap_later`].
static UNREAPED: std::sync::Mutex<Vec<Child>> = std::sync::Mutex::new(Vec::new());

/// Keep `child` until it has exited and is reaped (without blocking), with any earlier ones.
fn reap_later(child: Child) {
    if let Ok(mut unreaped) = UNREAPED.lock() {
        unreaped.retain_mut(|c| matches!(c.try_wait(), Ok(None)));
        unreaped.push(child);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The early status needs PID 1's "empty" line before the command's status, both complete.
    #[test]
    fn only_a_complete_status_after_the_empty_line_counts() {
        assert!(reports_empty(b"N note\nD\nX 0\n"));
        assert!(reports_empty(b"D\nS 9\n"));
        assert!(
            !reports_empty(b"X 0\n"),
            "no empty line: other tasks may live"
        );
        assert!(!reports_empty(b"D\nX 0"), "an incomplete line");
        assert!(
            !reports_empty(b"X 0\nD\n"),
            "the status before the empty line"
        );
        assert!(!reports_empty(b"D\nE failed\n"));
    }

    /// Missing read-only paths become empty placeholders of the kind the entry names, only
    /// beneath real directories of the workspace; existing ones are left untouched.
    #[test]
    fn placeholders_are_made_only_where_they_can_be_protected() {
        let root = tempfile::tempdir().unwrap();
        let ws = root.path().join("ws");
        std::fs::create_dir_all(ws.join(".git")).unwrap();
        create_placeholder(&ws, ".git/hooks/").unwrap();
        create_placeholder(&ws, ".git/config").unwrap();
        create_placeholder(&ws, ".warden/").unwrap();
        assert!(ws.join(".git/hooks").is_dir());
        assert!(ws.join(".git/config").is_file());
        assert_eq!(std::fs::read(ws.join(".git/config")).unwrap(), b"");
        assert!(ws.join(".warden").is_dir());

        // An existing file keeps its content.
        std::fs::write(ws.join(".envrc"), "use nix\n").unwrap();
        create_placeholder(&ws, ".envrc").unwrap();
        assert_eq!(
            std::fs::read_to_string(ws.join(".envrc")).unwrap(),
            "use nix\n"
        );

        // No parent: nothing is invented (no `.git` → no `.git/hooks`).
        let bare = root.path().join("bare");
        std::fs::create_dir_all(&bare).unwrap();
        create_placeholder(&bare, ".git/hooks/").unwrap();
        assert!(!bare.join(".git").exists());

        // A symlinked parent could lead anywhere: nothing is created through it.
        let outside = root.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, ws.join("link")).unwrap();
        create_placeholder(&ws, "link/hooks/").unwrap();
        assert!(!outside.join("hooks").exists());
    }

    /// Where even the caller cannot create the placeholder (sysfs refuses new entries to root
    /// too), the sandbox still starts: the command cannot create the path either.
    #[test]
    fn a_placeholder_nobody_may_create_is_not_an_error() {
        create_placeholder(Path::new("/sys"), "warden-placeholder/").unwrap();
        create_placeholder(Path::new("/sys/kernel"), "warden-placeholder").unwrap();
        assert!(!Path::new("/sys/warden-placeholder").exists());
    }

    #[test]
    fn read_only_entries_must_stay_inside_the_workspace() {
        let root = tempfile::tempdir().unwrap();
        for bad in ["../escape/", "/etc/x", "./a/../../b", ""] {
            let mut p = SandboxProfile::new(
                vec!["true".into()],
                root.path().to_path_buf(),
                root.path().to_path_buf(),
                Vec::new(),
            );
            p.readonly_in_workspace.push(bad.into());
            let err = p.validate().unwrap_err().to_string();
            assert!(err.contains("read-only workspace path"), "{bad}: {err}");
        }
        assert!(!root.path().parent().unwrap().join("escape").exists());
    }
}
