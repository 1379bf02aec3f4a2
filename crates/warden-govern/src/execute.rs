//! Isolation of one action: the sandbox profile from the governance file, the egress proxy
//! (started only when the sandbox first connects), the sandbox itself, and the command's output
//! streamed or captured, counted and hashed; the proxy's decisions collected for the audit log.

use crate::error::{GovernError, Result};
use crate::record::NetworkRecord;
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use warden_policy::{Context, Decision, Policy, Tier};
use warden_sandbox::{
    ExecGovernance, Output, ProxyEndpoint, SandboxProfile, SpawnOptions, WorkspaceSecrets,
};

/// Where the command's output goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// The command writes to this process's stdout/stderr directly (not counted or hashed).
    Inherit,
    /// Streamed through to this process's stdout/stderr, counted and hashed.
    Stream,
    /// Kept in memory (at most `limit` bytes of each stream; the rest counted and hashed).
    Capture {
        /// Most bytes kept per stream.
        limit: usize,
    },
}

/// What an execution produced.
#[derive(Debug, Default, Clone)]
pub struct Execution {
    /// Exit status, when it exited.
    pub exit_code: Option<i32>,
    /// Terminating signal, when killed.
    pub signal: Option<i32>,
    /// Wall-clock time from the command's start to its end.
    pub duration: Duration,
    /// Bytes of stdout.
    pub stdout_bytes: u64,
    /// Hex SHA-256 of stdout.
    pub stdout_sha256: Option<String>,
    /// Bytes of stderr.
    pub stderr_bytes: u64,
    /// Hex SHA-256 of stderr.
    pub stderr_sha256: Option<String>,
    /// Captured stdout ([`OutputMode::Capture`]).
    pub stdout: Vec<u8>,
    /// Captured stderr ([`OutputMode::Capture`]).
    pub stderr: Vec<u8>,
    /// What the kernel did not enforce, warnings, scrubbed variables.
    pub notes: Vec<String>,
    /// The egress proxy's decisions.
    pub network: Vec<NetworkRecord>,
    /// Nested operations (execs) the runtime layers refused inside the command.
    pub nested: Vec<crate::NestedRefusal>,
    /// The reasons of the supervisor's refusal lines that reached this process's stderr through
    /// the streamed output ([`OutputMode::Stream`]).
    refusals_shown: Vec<String>,
}

impl Execution {
    /// Take the refused nested operations, noting which already had their reason shown on this
    /// process's stderr (the supervisor's line passed through the streamed output).
    pub(crate) fn set_nested(&mut self, mut nested: Vec<crate::NestedRefusal>) {
        for n in &mut nested {
            let why = n.why().replace(['\n', '\r'], " ");
            n.shown = self
                .refusals_shown
                .iter()
                .any(|seen| why.starts_with(seen.as_str()));
        }
        self.nested = nested;
    }

    /// The status a shell would report: the exit code, 128+N for signal N, else 1.
    pub fn shell_code(&self) -> u8 {
        match (self.exit_code, self.signal) {
            (_, Some(s)) => (128 + s).clamp(0, 255) as u8,
            (Some(c), None) => c.clamp(0, 255) as u8,
            (None, None) => 1,
        }
    }

    /// The notes a person at a terminal should see: what the kernel did not enforce, warnings.
    pub fn warnings(&self) -> impl Iterator<Item = &str> {
        self.notes
            .iter()
            .map(String::as_str)
            .filter(|n| n.starts_with("not enforced") || n.starts_with("warning: "))
    }

    /// The outcome record of this execution.
    pub fn outcome(&self) -> crate::Outcome {
        crate::Outcome {
            disposition: None,
            ticket: None,
            exit_code: self.exit_code,
            signal: self.signal,
            duration: self.duration,
            stdout_bytes: self.stdout_bytes,
            stdout_sha256: self.stdout_sha256.clone(),
            stderr_bytes: self.stderr_bytes,
            stderr_sha256: self.stderr_sha256.clone(),
            notes: self.notes.clone(),
        }
    }
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
pub fn profile_for(policy: &Policy, ctx: &Context, argv: Vec<String>) -> SandboxProfile {
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
    p.workspace_secrets = workspace_secrets(policy);
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

/// Quote `s` for a POSIX shell (and bash/zsh): single quotes, each `'` written as `'\''`.
pub fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Shells whose `-c` script can say where it ended (an `EXIT` trap).
const REPORTING_SHELLS: &[&str] = &["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash"];

/// Makes the command of `profile`, when it is a shell's `-c` script (`bash -c SCRIPT …`), write
/// the directory it ends in to `file` (an existing host file, writable for this run and nothing
/// else beside it), by an `EXIT` trap set before the script: an agent's shell that keeps its
/// working directory between commands (Claude Code's Bash tool) runs each command in the
/// sandbox, where a `cd` would otherwise not carry over. A script that sets its own `EXIT` trap
/// or `exec`s reports nothing. Returns whether the command is such a script.
pub fn report_cwd(profile: &mut SandboxProfile, file: &Path) -> bool {
    let argv = &mut profile.argv;
    let shell = argv.first().map(|a| a.rsplit('/').next().unwrap_or(a));
    let dash_c = argv.get(1).is_some_and(|a| {
        a.len() > 1
            && a.starts_with('-')
            && a.ends_with('c')
            && a[1..].bytes().all(|b| b.is_ascii_alphabetic())
    });
    let Some(canonical) = std::fs::canonicalize(file).ok().filter(|f| f.is_file()) else {
        return false;
    };
    if !shell.is_some_and(|s| REPORTING_SHELLS.contains(&s)) || !dash_c || argv.len() < 3 {
        return false;
    }
    let trap = format!(
        "pwd -P >| {} 2>/dev/null",
        sh_quote(&canonical.to_string_lossy())
    );
    // On the script's first line, so the shell's messages keep their line numbers.
    argv[2] = format!("trap {} EXIT; {}", sh_quote(&trap), argv[2]);
    profile.writable_files.push(canonical);
    true
}

/// The directory a command wrote to `file` by [`report_cwd`], when it is an existing directory
/// inside the workspace (the command wrote the file: nothing else of it is trusted).
pub fn reported_cwd(file: &Path, workspace: &Path) -> Option<PathBuf> {
    let text = std::fs::read(file).ok()?;
    let text = String::from_utf8(text).ok()?;
    let line = text.strip_suffix('\n').unwrap_or(&text);
    if line.is_empty() || line.contains(['\n', '\0']) || !line.starts_with('/') {
        return None;
    }
    let dir = std::fs::canonicalize(line).ok().filter(|d| d.is_dir())?;
    let ws = std::fs::canonicalize(workspace).ok()?;
    dir.starts_with(&ws).then_some(dir)
}

/// The workspace's secret files (DESIGN.md, "An approval grants what it names"): the sandbox's
/// shipped list plus the file-name globs of the governance file's credential rules (a
/// `credential-access` rule's `**/NAME` paths and exceptions), so a team's own credential file
/// names are masked as `cat` of them would be asked about.
pub fn workspace_secrets(policy: &Policy) -> WorkspaceSecrets {
    let mut out = WorkspaceSecrets::builtin();
    let name_glob = |g: &String| -> Option<String> {
        let name = g.strip_prefix("**/")?;
        // Only plain names with `*` wildcards: the sandbox matches file names, not paths.
        (!name.is_empty() && !name.contains(['/', '?', '[', ']', '{', '}', '!']) && name != "*")
            .then(|| name.to_owned())
    };
    for rule in policy.config().rules.iter() {
        let credential = rule.category.as_deref() == Some("credential-access")
            && rule.tier.is_some_and(|t| t > Tier::Auto);
        if !credential || !rule.program.is_empty() {
            continue;
        }
        for (from, to) in [
            (&rule.paths, &mut out.mask),
            (&rule.except, &mut out.except),
        ] {
            for g in from.iter().filter_map(name_glob) {
                if !to.contains(&g) {
                    to.push(g);
                }
            }
        }
    }
    out
}

/// Widen `profile` by exactly what clearing `decision` at tier `granted` granted: the
/// workspace's secret files (masked by [`profile_for`]) stay masked unless the decision reads
/// them, the paths outside the workspace it writes become writable for this run, no others
/// (DESIGN.md, "An approval grants what it names"), and so does each entry of the workspace's
/// code-running configuration (`.claude/`, `.vscode/`, …; read-only in the sandbox) that a path
/// it writes is in. An action cleared at `auto` names no
/// outside write unless the governance file made such a write `auto`; either way the sandbox
/// allows what the cleared decision said. A decision above the granted tier (a whole agent run
/// at `auto` whatever its command line says) grants nothing.
pub fn grant(profile: &mut SandboxProfile, decision: &Decision, granted: Tier) {
    if decision.tier > granted {
        return;
    }
    let ws = std::fs::canonicalize(&profile.workspace).unwrap_or(profile.workspace.clone());
    let written = &decision.named.writes_inside;
    let home = std::fs::canonicalize(&profile.home).unwrap_or(profile.home.clone());
    let workspaces = [profile.workspace.clone(), ws.clone()];
    let homes = [profile.home.clone(), home];
    // Where the sandbox protects each entry, as written and canonical (decisions name paths as
    // the command wrote them).
    profile.code_config.retain(|entry| {
        !workspaces
            .iter()
            .flat_map(|ws| warden_sandbox::locate_code_config(entry, ws, &homes))
            .any(|at| written.iter().any(|w| w.starts_with(&at)))
    });
    profile.readable_secrets = decision
        .named
        .reads
        .iter()
        .filter_map(|r| std::fs::canonicalize(r).ok())
        .filter(|r| r.starts_with(&ws))
        .collect();
    profile.writable_files = decision
        .named
        .writes_outside
        .iter()
        // What can be opened up: an existing file or directory, or a new path (with its
        // missing parents) in an existing directory, created through an overlay of it. Anything
        // else fails inside the run with the error it would have anyway.
        .filter(|w| {
            // Kernel interfaces are never opened up: the sandbox has its own `/proc` and `/dev`.
            let kernel = ["/proc", "/sys", "/dev"].iter().any(|k| w.starts_with(k));
            let plain = w
                .components()
                .all(|c| matches!(c, Component::RootDir | Component::Normal(_)));
            w.is_absolute()
                && plain
                && !kernel
                && match std::fs::symlink_metadata(w) {
                    Ok(m) => m.is_file() || m.is_dir(),
                    Err(_) => warden_sandbox::can_create(w),
                }
        })
        .cloned()
        .collect();
}

/// The reasons of the supervisor's `warden: PROGRAM refused: REASON` lines that passed through
/// a stream to this process's own stderr, so the list after the command ends need not repeat
/// them (it names the refusal and points above). Lines are looked at up to a bounded length.
#[derive(Default)]
struct RefusalLines {
    partial: Vec<u8>,
    overlong: bool,
    seen: Vec<String>,
}

impl RefusalLines {
    const MAX_LINE: usize = 4096;
    const MAX_SEEN: usize = 1024;

    fn feed(&mut self, mut bytes: &[u8]) {
        while let Some(i) = bytes.iter().position(|&b| b == b'\n') {
            self.extend(&bytes[..i]);
            if !self.overlong {
                self.line();
            }
            self.partial.clear();
            self.overlong = false;
            bytes = &bytes[i + 1..];
        }
        self.extend(bytes);
    }

    fn extend(&mut self, bytes: &[u8]) {
        if self.partial.len() + bytes.len() > Self::MAX_LINE {
            self.overlong = true;
            self.partial.clear();
        } else if !self.overlong {
            self.partial.extend_from_slice(bytes);
        }
    }

    fn line(&mut self) {
        let Ok(line) = std::str::from_utf8(&self.partial) else {
            return;
        };
        let Some(rest) = line.strip_prefix("warden: ") else {
            return;
        };
        if let Some((_, reason)) = rest.split_once(" refused: ")
            && !reason.is_empty()
            && self.seen.len() < Self::MAX_SEEN
        {
            self.seen.push(reason.to_owned());
        }
    }
}

/// Copy `from` to `to` (or keep up to `keep` bytes when `to` is `None`), counting and hashing;
/// with `refusals`, noting the supervisor's refusal lines passed through.
fn pump(
    mut from: impl Read,
    mut to: Option<Box<dyn Write + Send>>,
    keep: usize,
    mut refusals: Option<&mut RefusalLines>,
) -> Pumped {
    let mut hasher = Sha256::new();
    let mut n = 0u64;
    let mut kept = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => {
                hasher.update(&buf[..k]);
                n += k as u64;
                match &mut to {
                    Some(to) => {
                        let _ = to.write_all(&buf[..k]);
                        let _ = to.flush();
                        if let Some(r) = refusals.as_deref_mut() {
                            r.feed(&buf[..k]);
                        }
                    }
                    None => {
                        let room = keep.saturating_sub(kept.len());
                        kept.extend_from_slice(&buf[..k.min(room)]);
                    }
                }
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
    (n, hex, kept)
}

type Pumped = (u64, String, Vec<u8>);

/// A private directory for the proxy's socket, removed on drop.
struct SocketDir(PathBuf);

impl SocketDir {
    fn new() -> Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        // On a memory file system when there is one: creating and removing this directory and
        // its sockets on every run costs a journalled disk file system noticeably more.
        let base = warden_sandbox::scratch_base();
        let what = "cannot create a directory for the proxy socket";
        for i in 0..100u32 {
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0);
            let dir = base.join(format!("warden-{}-{nanos:x}-{i}", std::process::id()));
            match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
                Ok(()) => return Ok(Self(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(source) => return Err(GovernError::Io { what, source }),
            }
        }
        Err(GovernError::Io {
            what,
            source: std::io::Error::from(std::io::ErrorKind::AlreadyExists),
        })
    }
}

impl Drop for SocketDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        if let Some(base) = self.0.parent() {
            sweep_stale_socket_dirs(base, std::time::Duration::from_secs(3600));
        }
    }
}

/// Remove the socket directories of runs that were killed before they could clean up (a
/// SIGKILLed `warden run` leaves `warden-PID-…` behind on the memory file system): ours, named
/// for a process that no longer exists, and untouched for `min_age` (a process of another PID
/// namespace sharing the directory must not lose a live run's sockets).
fn sweep_stale_socket_dirs(base: &Path, min_age: std::time::Duration) {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    let me = std::fs::metadata("/proc/self").map(|m| m.uid()).ok();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix("warden-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(meta) = entry.path().symlink_metadata() else {
            continue;
        };
        let old = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age >= min_age);
        if meta.is_dir()
            && Some(meta.uid()) == me
            && old
            && !Path::new("/proc").join(pid.to_string()).exists()
        {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// A sandbox started by [`start`]: its command runs (or, gated, waits for [`Started::release`]).
pub struct Started {
    running: warden_sandbox::Running,
    exec: Execution,
    output: OutputMode,
    proxy_thread: std::thread::JoinHandle<Result<warden_proxy::ProxyHandle, String>>,
    events: Arc<Mutex<Vec<NetworkRecord>>>,
    dir: SocketDir,
    started: Instant,
    /// Records which discovery-relevant workspace files the command writes (see
    /// `warden_proxy::ConfigWatch`); `None` when that state could not be set up.
    watch: Option<warden_proxy::ConfigWatch>,
    /// A gated sandbox's watch, still being set up alongside the sandbox; settled before the
    /// command may start.
    watch_setup: Option<WatchSetup>,
}

type WatchBegun = (
    Option<warden_proxy::ConfigWatch>,
    warden_proxy::WorkspaceConfig,
);

/// The watch being set up, and where the proxy waits for what it may believe.
struct WatchSetup {
    thread: std::thread::JoinHandle<WatchBegun>,
    to_proxy: std::sync::mpsc::Sender<warden_proxy::WorkspaceConfig>,
}

impl WatchSetup {
    /// Waits for the watch, hands its snapshot to the proxy, returns the watch and its notes.
    /// A failed set-up trusts no workspace file.
    fn settle(self) -> (Option<warden_proxy::ConfigWatch>, Vec<String>) {
        let (watch, trusted) = self.thread.join().unwrap_or_else(|_| {
            let none = warden_proxy::WorkspaceConfig::default();
            (None, none)
        });
        let notes = trusted.notes().to_vec();
        let _ = self.to_proxy.send(trusted);
        (watch, notes)
    }
}

/// Start the egress proxy's wake-up socket and `profile` in the sandbox. With `gated`, the
/// sandbox is fully prepared but its command starts only on [`Started::release`], so the set-up
/// can overlap the caller's own work (e.g. making the intent durable). With `exec`, every
/// program the command runs after its own is put to that governance; with `judge`, every
/// request through the egress proxy is put to that judge.
pub fn start(
    policy: &Policy,
    mut profile: SandboxProfile,
    allow_degraded: bool,
    output: OutputMode,
    gated: bool,
    exec: Option<ExecGovernance>,
    judge: Option<Arc<dyn warden_proxy::Judge>>,
) -> Result<Started> {
    let cfg = &policy.config().sandbox;
    // The small stand-alone init installed next to `warden` when it is trustworthy (a much
    // smaller executable to load inside every sandbox), else this binary.
    let main_exe = std::env::current_exe().map_err(|source| GovernError::Io {
        what: "cannot locate the warden executable",
        source,
    })?;
    let (init_exe, init_note) = warden_sandbox::choose_init(&main_exe);
    let opts = SpawnOptions {
        allow_degraded,
        output: if output == OutputMode::Inherit {
            Output::Inherit
        } else {
            Output::Piped
        },
        // Output kept in memory means a caller that is not a terminal (an MCP server, whose
        // stdin is its protocol stream).
        null_stdin: matches!(output, OutputMode::Capture { .. }),
        init_exe: Some(init_exe),
        gated,
        exec,
        fallback_exe: Some(main_exe),
    };
    // The init starts first and enters its namespaces while this thread prepares the rest
    // (proxy socket, CA, credentials); `spawn` below hands it the finished profile.
    let launch = warden_sandbox::launch(&profile, &opts)?;
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
    // What discovery may believe of the workspace's own files (`.npmrc`, `.cargo/config.toml`,
    // `.git/config`, …) is fixed before the command can write any of them (alongside the
    // sandbox's set-up when gated, settled before the command starts); what it writes is
    // recorded as tainted when it ends, so no later run believes it either.
    let (to_proxy, trusted_rx) = std::sync::mpsc::channel();
    let watch_setup = WatchSetup {
        thread: {
            let workspace = workspace.clone();
            std::thread::spawn(move || {
                warden_proxy::ConfigWatch::begin(
                    &workspace,
                    &warden_proxy::DiscoveryEnv::from_process(),
                )
            })
        },
        to_proxy,
    };
    let (watch_setup, watch, watch_notes) = if gated {
        (Some(watch_setup), None, Vec::new())
    } else {
        let (w, notes) = watch_setup.settle();
        (None, w, notes)
    };
    let listen = warden_proxy::Listen::Unix(socket.clone());
    let wake =
        std::os::unix::net::UnixListener::bind(dir.0.join("wake.sock")).map_err(|source| {
            GovernError::Io {
                what: "cannot create the proxy wake-up socket",
                source,
            }
        })?;
    profile.proxy = Some(ProxyEndpoint {
        socket,
        port: cfg.proxy_port.unwrap_or(3128),
    });
    // Brokered credentials: the sandbox's variable holds a placeholder, the secret stays here
    // (in the proxy, which swaps it into requests to the credential's hosts).
    let credentials = warden_proxy::load_credentials(&network.credential, &profile.home, |k| {
        profile
            .env
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
    })
    .map_err(|e| GovernError::Network(format!("[network] credential: {e}")))?;
    for c in &credentials {
        profile.env.retain(|(k, _)| k != &c.env_name);
        profile
            .env
            .push((c.env_name.clone(), c.placeholder.clone()));
        profile.env_pass.push(c.env_name.clone());
    }
    // HTTPS interception: a CA for this run only, its key in this process's memory; the
    // sandbox trusts it through a bundle (system roots + its certificate) in the run's private
    // directory.
    let ca = if network.intercept.unwrap_or(true) {
        let ca = warden_proxy::CertificateAuthority::generate()
            .map_err(|e| GovernError::Network(e.to_string()))?;
        let bundle = dir.0.join("ca-bundle.pem");
        ca.write_trust_bundle(&bundle)
            .map_err(|source| GovernError::Io {
                what: "cannot write the sandbox's CA bundle",
                source,
            })?;
        profile.ca_bundle = Some(bundle);
        Some(Arc::new(ca))
    } else {
        None
    };

    let running = launch.spawn(&profile)?;
    // Started after the sandbox, off its start-up path: a connection to `wake.sock` waits in
    // the listen queue until this thread accepts it.
    let proxy_thread = std::thread::spawn(move || -> Result<warden_proxy::ProxyHandle, String> {
        wake.accept().map_err(|e| format!("proxy wake-up: {e}"))?;
        drop(wake);
        // No snapshot (the run was withdrawn): believe no workspace file.
        let trusted = trusted_rx.recv().unwrap_or_default();
        let mut proxy_cfg =
            warden_proxy::ProxyConfig::from_network_config_trusting(&network, &workspace, &trusted)
                .map_err(|e| format!("the [network] section cannot be used: {e}"))?;
        proxy_cfg.ca = ca;
        proxy_cfg.credentials = credentials;
        let judge = judge.unwrap_or_else(|| Arc::new(warden_proxy::ProceedAll));
        warden_proxy::spawn_judged(listen, proxy_cfg, sink, judge)
            .map_err(|e| format!("cannot start the egress proxy: {e}"))
    });
    let mut exec = Execution {
        notes: running.notes.clone(),
        ..Default::default()
    };
    exec.notes.extend(init_note);
    exec.notes.extend(watch_notes);
    Ok(Started {
        running,
        exec,
        output,
        proxy_thread,
        events,
        dir,
        started: Instant::now(),
        watch,
        watch_setup,
    })
}

impl Started {
    /// Let a gated command start.
    pub fn release(&mut self) -> Result<()> {
        if let Some(setup) = self.watch_setup.take() {
            let (watch, notes) = setup.settle();
            self.watch = watch;
            self.exec.notes.extend(notes);
        }
        self.running.release()?;
        self.started = Instant::now();
        Ok(())
    }

    /// Withdraw a gated command before it starts and tear the sandbox down.
    pub fn abort(self) {
        self.running.abort();
        let watch = match self.watch_setup {
            Some(setup) => setup.settle().0,
            None => self.watch,
        };
        if let Some(w) = watch {
            let _ = w.end();
        }
    }

    /// Stream or capture (counting and hashing) the command's output until it ends, then stop
    /// the proxy.
    pub fn finish(self) -> Result<Execution> {
        let Self {
            mut running,
            mut exec,
            output,
            proxy_thread,
            events,
            dir,
            started,
            mut watch,
            watch_setup,
        } = self;
        // Never released (nothing ran), but settle the watch all the same.
        if let Some(setup) = watch_setup {
            let (w, notes) = setup.settle();
            watch = w;
            exec.notes.extend(notes);
        }
        let keep = match output {
            OutputMode::Capture { limit } => limit,
            _ => 0,
        };
        let capture = matches!(output, OutputMode::Capture { .. });
        let out_t = running.stdout.take().map(|o| {
            let to: Option<Box<dyn Write + Send>> =
                (!capture).then(|| Box::new(std::io::stdout()) as _);
            std::thread::spawn(move || pump(o, to, keep, None))
        });
        let err_t = running.stderr.take().map(|e| {
            let to: Option<Box<dyn Write + Send>> =
                (!capture).then(|| Box::new(std::io::stderr()) as _);
            std::thread::spawn(move || {
                let mut refusals = RefusalLines::default();
                let pumped = pump(e, to, keep, Some(&mut refusals));
                (pumped, refusals.seen)
            })
        });
        let info = running.wait();
        if let Some(t) = out_t
            && let Ok((n, h, kept)) = t.join()
        {
            exec.stdout_bytes = n;
            exec.stdout_sha256 = Some(h);
            exec.stdout = kept;
        }
        if let Some(t) = err_t
            && let Ok(((n, h, kept), seen)) = t.join()
        {
            exec.stderr_bytes = n;
            exec.stderr_sha256 = Some(h);
            exec.stderr = kept;
            exec.refusals_shown = seen;
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
        if let Some(w) = watch {
            exec.notes.extend(w.end());
        }
        let info = info?;
        exec.exit_code = info.code;
        exec.signal = info.signal;
        exec.notes.extend(info.notes);
        Ok(exec)
    }
}

/// Start the egress proxy, run `profile` in the sandbox, pass on its output as `output` says,
/// and stop the proxy. With `exec`, every program the command runs after its own is put to that
/// governance; with `judge`, every request through the proxy to that judge.
pub fn execute(
    policy: &Policy,
    profile: SandboxProfile,
    allow_degraded: bool,
    output: OutputMode,
    exec: Option<ExecGovernance>,
    judge: Option<Arc<dyn warden_proxy::Judge>>,
) -> Result<Execution> {
    start(policy, profile, allow_degraded, output, false, exec, judge)?.finish()
}

#[cfg(test)]
mod sweep_tests {
    use super::sweep_stale_socket_dirs;
    use std::time::{Duration, SystemTime};

    #[test]
    fn only_old_directories_of_dead_runs_are_swept() {
        let base = tempfile::tempdir().expect("temp dir");
        let mut child = std::process::Command::new("true")
            .spawn()
            .expect("spawn true");
        let dead = child.id();
        child.wait().expect("wait");
        let live = std::process::id();
        let make = |name: &str, old: bool| {
            let dir = base.path().join(name);
            std::fs::create_dir(&dir).expect("mkdir");
            std::fs::write(dir.join("wake.sock"), b"").expect("file");
            if old {
                let then = SystemTime::now() - Duration::from_secs(7200);
                std::fs::File::open(&dir)
                    .and_then(|f| f.set_modified(then))
                    .expect("age the directory");
            }
            dir
        };
        let dead_old = make(&format!("warden-{dead}-1a-0"), true);
        let dead_new = make(&format!("warden-{dead}-1b-0"), false);
        let live_old = make(&format!("warden-{live}-1c-0"), true);
        let other = make("someone-else-1-0", true);
        sweep_stale_socket_dirs(base.path(), Duration::from_secs(3600));
        assert!(!dead_old.exists(), "a killed run's old directory is swept");
        assert!(
            dead_new.exists(),
            "a recent one is left (another PID namespace?)"
        );
        assert!(live_old.exists(), "a live process's directory is left");
        assert!(other.exists(), "what is not ours by name is left");
    }
}
