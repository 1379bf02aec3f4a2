//! `warden sandbox`: run a command in the sandbox with no classification (e.g. to wrap a whole
//! agent), and the shared machinery `warden run` uses to execute an approved action: profile from
//! the governance file, egress proxy, sandbox, streamed and hashed output.

use crate::exit::{CliError, CmdResult};
use crate::policy_load;
use crate::record::NetworkRecord;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use warden_policy::{Context, Policy};
use warden_sandbox::{Output, ProxyEndpoint, SandboxError, SandboxProfile, SpawnOptions};

/// Arguments of `warden sandbox`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: the command's own (128+N when killed by signal N); 1 when the sandbox \
cannot be set up or the kernel cannot enforce the profile (see --allow-degraded); 2 for bad input."
)]
pub struct SandboxArgs {
    /// Governance file to use as the repository layer (default: <workspace>/.warden/policy.toml).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Workspace root, writable inside the sandbox (default: the nearest directory with `.git`
    /// or `.warden`).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Directory the command starts in (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Run even if this kernel cannot enforce everything the profile asks for.
    #[arg(long)]
    pub allow_degraded: bool,
    /// The command to run, after `--`.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        required = true,
        value_name = "ARGV"
    )]
    pub rest: Vec<String>,
}

/// The environment of this process, as UTF-8 pairs (others are dropped).
fn host_env() -> Vec<(String, String)> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// Warden's own files that no sandboxed command may read, whatever the lists say: the checkpoint
/// signing key (wherever `[audit] signing_key` puts it; with it a command could sign forged
/// checkpoints) and Warden's configuration and cache directories under the XDG variables (the
/// `~/` defaults are built into the sandbox's secret paths).
fn warden_private_paths(policy: &Policy) -> Vec<String> {
    let key = crate::record::key_path(&policy.config().audit);
    let xdg = [
        "XDG_CONFIG_HOME",
        "XDG_CACHE_HOME",
        "XDG_DATA_HOME",
        "XDG_STATE_HOME",
    ]
    .into_iter()
    .filter_map(std::env::var_os)
    .map(PathBuf::from)
    .filter(|d| d.is_absolute())
    .map(|d| d.join("warden"));
    std::iter::once(key)
        .chain(xdg)
        .map(|p| p.to_string_lossy().into_owned())
        .collect()
}

/// Build the sandbox profile for `argv` from the governance file's `[sandbox]` section.
pub(crate) fn profile_for(policy: &Policy, ctx: &Context, argv: Vec<String>) -> SandboxProfile {
    let cfg = &policy.config().sandbox;
    let mut p = SandboxProfile::new(argv, ctx.workspace.clone(), ctx.home.clone(), host_env());
    p.cwd = ctx.cwd.clone();
    p.secret_paths.extend(cfg.secret_paths.iter().cloned());
    p.secret_paths.extend(warden_private_paths(policy));
    p.home_visible.extend(cfg.home_visible.iter().cloned());
    p.writable.extend(cfg.writable_paths.iter().cloned());
    p.readonly_in_workspace
        .extend(cfg.readonly_workspace_paths.iter().cloned());
    if cfg.env_scrub_replace_builtin == Some(true) {
        p.env_scrub = cfg.env_scrub.clone();
    } else {
        p.env_scrub.extend(cfg.env_scrub.iter().cloned());
    }
    p.env_pass.extend(cfg.env_pass.iter().cloned());
    if let Some(abi) = cfg.landlock_min_abi {
        p.landlock_min_abi = abi;
    }
    let l = &cfg.limits;
    let nz = |v: Option<u64>, d: Option<u64>| match v {
        Some(0) => None,
        Some(x) => Some(x),
        None => d,
    };
    let defaults = warden_sandbox::Limits::default();
    p.limits.processes = nz(l.processes, defaults.processes);
    p.limits.open_files = nz(l.open_files, defaults.open_files);
    p.limits.memory_bytes = nz(
        l.memory_mb.map(|m| m.saturating_mul(1 << 20)),
        defaults.memory_bytes,
    );
    p.limits.cpu_seconds = nz(l.cpu_seconds, defaults.cpu_seconds);
    p.limits.core_dump_bytes = l.core_dump_mb.map(|m| m.saturating_mul(1 << 20));
    p
}

/// What an execution produced.
#[derive(Debug, Default)]
pub(crate) struct Execution {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub duration: Duration,
    pub stdout_bytes: u64,
    pub stdout_sha256: Option<String>,
    pub stderr_bytes: u64,
    pub stderr_sha256: Option<String>,
    pub notes: Vec<String>,
    pub network: Vec<NetworkRecord>,
}

impl Execution {
    /// Tells the person at the terminal what the outcome record also keeps: what this kernel
    /// did not enforce, and warnings (e.g. a repository the command created with hooks).
    pub(crate) fn print_warnings(&self) {
        for n in &self.notes {
            if n.starts_with("not enforced") {
                stderr_line!("warden: degraded sandbox: {n}");
            } else if n.starts_with("warning: ") {
                stderr_line!("warden: {n}");
            }
        }
    }

    pub(crate) fn shell_code(&self) -> u8 {
        match (self.exit_code, self.signal) {
            (_, Some(s)) => (128 + s).clamp(0, 255) as u8,
            (Some(c), None) => c.clamp(0, 255) as u8,
            (None, None) => 1,
        }
    }
}

fn pump(mut from: impl Read, mut to: impl Write) -> (u64, String) {
    let mut hasher = Sha256::new();
    let mut n = 0u64;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                hasher.update(&buf[..k]);
                n += k as u64;
                let _ = to.write_all(&buf[..k]);
                let _ = to.flush();
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let hex: String = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    (n, hex)
}

/// A private directory for the proxy's socket, removed on drop.
struct SocketDir(PathBuf);

impl SocketDir {
    fn new() -> Result<Self, CliError> {
        use std::os::unix::fs::DirBuilderExt;
        // On a memory file system when there is one: creating and removing this directory and
        // its sockets on every run costs a journalled disk file system noticeably more.
        let base = warden_sandbox::scratch_base();
        for i in 0..100u32 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let dir = base.join(format!("warden-{}-{nanos:x}-{i}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(Self(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => {
                    return Err(CliError::failure(miette::miette!(
                        "cannot create a directory for the proxy socket: {e}"
                    )));
                }
            }
        }
        Err(CliError::failure(miette::miette!(
            "cannot create a directory for the proxy socket"
        )))
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A sandbox started by [`start`]: its command runs (or, gated, waits for [`Started::release`]).
pub(crate) struct Started {
    running: warden_sandbox::Running,
    exec: Execution,
    proxy_thread: std::thread::JoinHandle<Result<warden_proxy::ProxyHandle, String>>,
    events: Arc<Mutex<Vec<NetworkRecord>>>,
    dir: SocketDir,
    started: Instant,
}

/// Start the egress proxy's wake-up socket and `profile` in the sandbox. With `gated`, the
/// sandbox is fully prepared but its command starts only on [`Started::release`], so the set-up
/// can overlap the caller's own work (e.g. making the intent durable).
pub(crate) fn start(
    policy: &Policy,
    mut profile: SandboxProfile,
    allow_degraded: bool,
    piped: bool,
    gated: bool,
) -> Result<Started, CliError> {
    let cfg = &policy.config().sandbox;
    // A missing `.warden/` (governance file, audit log) is created by the sandbox itself, as a
    // read-only placeholder (see `SandboxProfile::readonly_in_workspace`).
    let dir = SocketDir::new()?;
    let socket = dir.0.join("proxy.sock");
    let (events, sink) = crate::record::network_collector();
    // The proxy's configuration discovers registries and git remotes (it may run package
    // managers), so it starts only when the sandbox first connects: the sandbox's relay wakes
    // this thread through `wake.sock`, then waits for `proxy.sock`.
    let network = policy.config().network.clone();
    let workspace = profile.workspace.clone();
    let listen = warden_proxy::Listen::Unix(socket.clone());
    let wake = std::os::unix::net::UnixListener::bind(dir.0.join("wake.sock")).map_err(|e| {
        CliError::failure(miette::miette!(
            "cannot create the proxy wake-up socket: {e}"
        ))
    })?;
    profile.proxy = Some(ProxyEndpoint {
        socket,
        port: cfg.proxy_port.unwrap_or(3128),
    });

    // The small stand-alone init installed next to `warden` when it is trustworthy (a much
    // smaller executable to load inside every sandbox), else this binary.
    let main_exe = std::env::current_exe().map_err(|e| {
        CliError::failure(miette::miette!("cannot locate the warden executable: {e}"))
    })?;
    let (init_exe, init_note) = warden_sandbox::choose_init(&main_exe);
    let opts = SpawnOptions {
        allow_degraded,
        output: if piped {
            Output::Piped
        } else {
            Output::Inherit
        },
        init_exe: Some(init_exe),
        gated,
        fallback_exe: Some(main_exe),
    };
    let running = warden_sandbox::spawn(&profile, &opts).map_err(sandbox_error)?;
    // Started after the sandbox, off its start-up path: a connection to `wake.sock` waits in
    // the listen queue until this thread accepts it.
    let proxy_thread = std::thread::spawn(move || -> Result<warden_proxy::ProxyHandle, String> {
        wake.accept().map_err(|e| format!("proxy wake-up: {e}"))?;
        drop(wake);
        let proxy_cfg = warden_proxy::ProxyConfig::from_network_config(&network, &workspace)
            .map_err(|e| format!("the [network] section cannot be used: {e}"))?;
        warden_proxy::spawn(listen, proxy_cfg, sink)
            .map_err(|e| format!("cannot start the egress proxy: {e}"))
    });
    let mut exec = Execution {
        notes: running.notes.clone(),
        ..Default::default()
    };
    exec.notes.extend(init_note);
    Ok(Started {
        running,
        exec,
        proxy_thread,
        events,
        dir,
        started: Instant::now(),
    })
}

impl Started {
    /// Let a gated command start.
    pub(crate) fn release(&mut self) -> Result<(), CliError> {
        self.running.release().map_err(sandbox_error)?;
        self.started = Instant::now();
        Ok(())
    }

    /// Withdraw a gated command before it starts and tear the sandbox down.
    pub(crate) fn abort(self) {
        self.running.abort();
    }

    /// Stream (and, when piped, count and hash) the command's output until it ends, then stop
    /// the proxy.
    pub(crate) fn finish(self) -> Result<Execution, CliError> {
        let Self {
            mut running,
            mut exec,
            proxy_thread,
            events,
            dir,
            started,
        } = self;
        let out_t = running
            .stdout
            .take()
            .map(|o| std::thread::spawn(move || pump(o, std::io::stdout())));
        let err_t = running
            .stderr
            .take()
            .map(|e| std::thread::spawn(move || pump(e, std::io::stderr())));
        let info = running.wait();
        if let Some(t) = out_t
            && let Ok((n, h)) = t.join()
        {
            exec.stdout_bytes = n;
            exec.stdout_sha256 = Some(h);
        }
        if let Some(t) = err_t
            && let Ok((n, h)) = t.join()
        {
            exec.stderr_bytes = n;
            exec.stderr_sha256 = Some(h);
        }
        exec.duration = started.elapsed();
        // A proxy never woken (or still starting) served nobody; leave its thread to die with
        // the process.
        if proxy_thread.is_finished() {
            match proxy_thread.join() {
                Ok(Ok(proxy)) => proxy.shutdown(),
                Ok(Err(e)) => exec.notes.push(format!("network unavailable: {e}")),
                Err(_) => exec
                    .notes
                    .push("network unavailable: the proxy thread panicked".into()),
            }
        }
        drop(dir);
        exec.network = events.lock().map(|v| v.clone()).unwrap_or_default();
        let info = info.map_err(sandbox_error)?;
        exec.exit_code = info.code;
        exec.signal = info.signal;
        exec.notes.extend(info.notes);
        Ok(exec)
    }
}

/// Start the egress proxy, run `profile` in the sandbox, stream (and, with `piped`, count and
/// hash) its output, and stop the proxy.
pub(crate) fn execute(
    policy: &Policy,
    profile: SandboxProfile,
    allow_degraded: bool,
    piped: bool,
) -> Result<Execution, CliError> {
    start(policy, profile, allow_degraded, piped, false)?.finish()
}

fn sandbox_error(e: SandboxError) -> CliError {
    match e {
        SandboxError::Profile(_) => CliError::bad_input(miette::miette!("{e}")),
        _ => CliError::failure(miette::miette!("{e}")),
    }
}

/// Run `warden sandbox`.
pub fn run(args: SandboxArgs) -> CmdResult {
    let ctx = policy_load::context(args.workspace.as_deref(), args.cwd.as_deref(), true)?;
    // Never freed: the process ends with this command, and freeing the compiled policy piece
    // by piece costs a measurable share of a short run.
    let policy =
        std::mem::ManuallyDrop::new(policy_load::load(args.policy.as_deref(), &ctx.workspace)?);
    let profile = profile_for(&policy, &ctx, args.rest);
    let exec = execute(&policy, profile, args.allow_degraded, false)?;
    exec.print_warnings();
    Ok(ExitCode::from(exec.shell_code()))
}
