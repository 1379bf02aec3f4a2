//! Run-time discovery of the hosts the sandbox legitimately needs: the package registries this
//! machine's package managers are configured to use, and the workspace's git remotes.
//!
//! No registry host name is written in this crate: everything comes from configuration files,
//! environment variables, the tools themselves (each probe bounded by a timeout) or the names
//! of cargo's registry cache directories. Each result says where it came from, so `warden` can
//! show the user why a host is allowed.

use crate::pattern::Host;
use crate::workspace_trust::{self, Collected, WorkspaceConfig, WorkspaceRoot};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// One discovered host.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct DiscoveredHost {
    /// Host name or IP literal (IPv6 without brackets), normalised.
    pub host: String,
    /// Port (explicit in the URL, or the scheme's default).
    pub port: u16,
    /// What kind of host: `registry:cargo`, `registry:pip`, `registry:npm`, `registry:apt`,
    /// `registry:go`, `registry:gem`, `registry:maven` or `git-remote`.
    pub kind: String,
    /// Where it came from: a file path and key, an environment variable or a tool invocation.
    pub source: String,
}

/// The environment discovery reads: variables (also handed, filtered, to every probed tool,
/// whose environment is otherwise cleared), a file-system root for system-wide files such as
/// `/etc/apt` (so tests can use a fake one) and the per-probe timeout.
#[derive(Debug, Clone)]
pub struct DiscoveryEnv {
    vars: HashMap<String, String>,
    root: PathBuf,
    /// Timeout of each external tool invocation.
    pub probe_timeout: Duration,
}

impl DiscoveryEnv {
    /// The current process environment and the real `/`.
    pub fn from_process() -> DiscoveryEnv {
        DiscoveryEnv {
            vars: std::env::vars().collect(),
            root: PathBuf::from("/"),
            probe_timeout: Duration::from_secs(2),
        }
    }

    /// No variables (so no `PATH`: no tool runs) and a root that does not exist: discovers
    /// nothing unless the caller adds variables.
    pub fn empty() -> DiscoveryEnv {
        DiscoveryEnv {
            vars: HashMap::new(),
            root: PathBuf::from("/nonexistent-warden-discovery-root"),
            probe_timeout: Duration::from_secs(2),
        }
    }

    /// Sets a variable.
    pub fn set_var(&mut self, key: &str, value: impl Into<String>) -> &mut Self {
        self.vars.insert(key.to_string(), value.into());
        self
    }

    /// Removes a variable.
    pub fn remove_var(&mut self, key: &str) -> &mut Self {
        self.vars.remove(key);
        self
    }

    /// Sets the root under which system-wide files (`etc/apt`, `etc/pip.conf`, ...) are read.
    pub fn set_root(&mut self, root: impl Into<PathBuf>) -> &mut Self {
        self.root = root.into();
        self
    }

    fn var(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn home(&self) -> Option<PathBuf> {
        self.var("HOME").map(PathBuf::from)
    }

    fn sys(&self, rel: &str) -> PathBuf {
        self.root.join(rel)
    }
}

/// Variables never handed to a probed tool: each makes an interpreter or tool load code or
/// configuration from wherever it names (a test checks that none of the variables the probes
/// need is caught). A trailing `*` matches any suffix; names compare case-insensitively.
pub const PROBE_ENV_DROPPED: &[&str] = &[
    "PYTHON*",
    "NODE_OPTIONS",
    "NODE_PATH",
    "NODE_EXTRA_CA_CERTS",
    "NPM_CONFIG_*",
    "RUBYOPT",
    "RUBYLIB",
    "RUBYGEMS_GEMDEPS",
    "BUNDLE_GEMFILE",
    "PERL5LIB",
    "PERL5OPT",
    "GOFLAGS",
    "GOENV",
    "GOWORK",
    "GOTOOLCHAIN",
    "GIT_*",
    "LD_*",
    "BASH_ENV",
    "ENV",
    "PYENV_VERSION",
    "MAVEN_OPTS",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
];

/// Variables every probed tool gets: no toolchain switching (a `go.mod` `toolchain` line would
/// otherwise make `go` fetch and run another Go), no Python user site or path from the working
/// directory.
const PROBE_ENV_SET: &[(&str, &str)] = &[
    ("GOTOOLCHAIN", "local"),
    ("GOWORK", "off"),
    ("PYTHONNOUSERSITE", "1"),
    ("PYTHONSAFEPATH", "1"),
    ("GIT_CONFIG_NOSYSTEM", "1"),
];

fn dropped_for_probes(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    PROBE_ENV_DROPPED.iter().any(|p| match p.strip_suffix('*') {
        Some(prefix) => upper.starts_with(prefix),
        None => upper == *p,
    })
}

/// What discovery reads and runs, from where. Discovery is split so that what comes from the
/// workspace (which sandboxed commands write) is never cached and never more than a trusted
/// snapshot ([`WorkspaceConfig`]), and so that nothing from the workspace runs on the host.
pub(crate) struct Reader<'a> {
    pub(crate) env: &'a DiscoveryEnv,
    ws: WorkspaceRoot,
    scope: Scope<'a>,
    /// A fresh, private, empty directory the probed tools run in (made on first use).
    probe_dir: std::sync::OnceLock<Option<tempfile::TempDir>>,
    /// [`Reader::host_path`], worked out once (each `which` asks for it).
    host_path: std::sync::OnceLock<Vec<PathBuf>>,
}

enum Scope<'a> {
    /// Files outside the workspace; tools run (from outside the workspace). Cacheable.
    Host,
    /// Workspace files only, from the trusted snapshot; no tool runs.
    Workspace(&'a WorkspaceConfig),
    /// Both: host files directly, workspace files from the snapshot; no tool runs.
    Both(&'a WorkspaceConfig),
    /// Workspace files only, read now and remembered (how the snapshot is taken).
    Collect(&'a std::sync::Mutex<Collected>),
}

impl<'a> Reader<'a> {
    fn new(workspace: &Path, env: &'a DiscoveryEnv, scope: Scope<'a>) -> Reader<'a> {
        Reader {
            env,
            ws: WorkspaceRoot::new(workspace),
            scope,
            probe_dir: std::sync::OnceLock::new(),
            host_path: std::sync::OnceLock::new(),
        }
    }

    pub(crate) fn collecting(
        workspace: &Path,
        env: &'a DiscoveryEnv,
        seen: &'a std::sync::Mutex<Collected>,
    ) -> Reader<'a> {
        Reader::new(workspace, env, Scope::Collect(seen))
    }

    fn workspace(&self) -> &Path {
        self.ws.path()
    }

    /// Whether files outside the workspace are read and tools run in this pass.
    fn host(&self) -> bool {
        matches!(self.scope, Scope::Host | Scope::Both(_))
    }

    /// A configuration file's text, if this pass reads it: a workspace file only from the
    /// trusted snapshot (or, when collecting, read now), any other file directly.
    fn read(&self, path: &Path) -> Option<String> {
        let bytes = match (self.ws.relative(path), &self.scope) {
            (Some(rel), Scope::Workspace(cfg) | Scope::Both(cfg)) => cfg.get(&rel)?.to_vec(),
            (Some(rel), Scope::Collect(seen)) => {
                let content = workspace_trust::read_small(path);
                if let Ok(mut m) = seen.lock() {
                    m.insert(rel, content.clone());
                }
                content?
            }
            (None, Scope::Host | Scope::Both(_)) => workspace_trust::read_small(path)?,
            _ => return None,
        };
        String::from_utf8(bytes).ok()
    }

    /// A directory's entries, outside the workspace only (a listing has no content to trust).
    fn read_dir(&self, path: &Path) -> Vec<PathBuf> {
        if !self.host() || self.ws.contains(path) {
            return Vec::new();
        }
        let mut v: Vec<PathBuf> = fs::read_dir(path)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        v.sort();
        v
    }

    /// `PATH` without relative entries and entries inside the workspace.
    fn host_path(&self) -> &[PathBuf] {
        self.host_path.get_or_init(|| {
            self.env
                .var("PATH")
                .unwrap_or_default()
                .split(':')
                .map(PathBuf::from)
                .filter(|d| d.is_absolute() && !self.ws.contains(d))
                .collect()
        })
    }

    /// The program `name` on the host `PATH` (never from the workspace).
    fn which(&self, name: &str) -> Option<PathBuf> {
        use std::os::unix::fs::PermissionsExt;
        self.host_path().iter().map(|d| d.join(name)).find(|p| {
            fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
    }

    /// The environment a probed tool gets: discovery's variables less those that load code
    /// ([`PROBE_ENV_DROPPED`]) and those naming a place inside the workspace, with `PATH`
    /// filtered the same way and [`PROBE_ENV_SET`] added.
    fn probe_env(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = self
            .env
            .vars
            .iter()
            .filter(|(k, v)| {
                k.as_str() != "PATH"
                    && !dropped_for_probes(k)
                    && !v.split(':').any(|part| {
                        Path::new(part).is_absolute() && self.ws.contains(Path::new(part))
                    })
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let path: Vec<String> = self
            .host_path()
            .iter()
            .map(|d| d.display().to_string())
            .collect();
        out.push(("PATH".into(), path.join(":")));
        out.extend(
            PROBE_ENV_SET
                .iter()
                .map(|(k, v)| ((*k).to_string(), (*v).to_string())),
        );
        out
    }

    /// Runs a host tool — found on the host `PATH`, in a fresh private empty directory, with
    /// [`Reader::probe_env`] only, a null stdin and the probe timeout — and returns its stdout
    /// when it exits successfully in time. Only in the host pass (the cacheable one).
    fn probe(&self, program: &str, args: &[&str]) -> Option<String> {
        if !matches!(self.scope, Scope::Host) {
            return None;
        }
        self.env.var("PATH")?;
        let exe = self.which(program)?;
        let dir = self
            .probe_dir
            .get_or_init(|| {
                tempfile::Builder::new()
                    .prefix("warden-probe-")
                    .tempdir_in(probe_base(&self.ws))
                    .ok()
            })
            .as_ref()?;
        let mut cmd = Command::new(&exe);
        cmd.args(args)
            .env_clear()
            .envs(self.probe_env())
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().ok()?;
        let mut out = child.stdout.take()?;
        // Read in a thread so a chatty tool cannot fill the pipe and stall; if the tool times
        // out, the reader is left to finish on its own when the pipe closes.
        let reader = thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = out.by_ref().take(1 << 20).read_to_end(&mut buf);
            buf
        });
        let deadline = Instant::now() + self.env.probe_timeout;
        loop {
            match child.try_wait() {
                Ok(Some(status)) => {
                    let buf = reader.join().ok()?;
                    return status
                        .success()
                        .then(|| String::from_utf8_lossy(&buf).into_owned());
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return None;
                }
            }
        }
    }
}

/// Where probe directories are made: the temporary directory, unless it lies in the workspace.
fn probe_base(ws: &WorkspaceRoot) -> PathBuf {
    let tmp = std::env::temp_dir();
    if ws.contains(&tmp) {
        PathBuf::from("/tmp")
    } else {
        tmp
    }
}

/// How long a cached registry discovery stays valid when none of its inputs changed.
pub const REGISTRY_CACHE_TTL: Duration = Duration::from_secs(3600);

/// [`discover_registries`], with the host part (everything read or asked outside the
/// workspace) cached in `cache_dir`. Asking pip, npm and go costs about a second of interpreter
/// start-up, far too much for every `warden run`; the package managers' configuration rarely
/// changes. The cache key covers the variables discovery reads, the workspace, and the
/// modification times of every configuration file and directory the probes read outside the
/// workspace; an entry older than [`REGISTRY_CACHE_TTL`] is refreshed anyway. Workspace files are
/// never cached: they are read from `trusted` on every call. A cache that cannot be read or
/// written only costs the probe.
pub fn discover_registries_cached(
    workspace: &Path,
    env: &DiscoveryEnv,
    cache_dir: &Path,
    trusted: &WorkspaceConfig,
) -> Vec<DiscoveredHost> {
    let key = cache_key(workspace, env);
    // `host-` entries hold only what came from outside the workspace (older `registries-`
    // entries mixed in workspace files and are never read).
    let file = cache_dir.join(format!("host-registries-{key:016x}.json"));
    let mut host = None;
    if let Ok(meta) = fs::metadata(&file) {
        let fresh = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age < REGISTRY_CACHE_TTL);
        if fresh {
            host = fs::read(&file)
                .ok()
                .and_then(|b| serde_json::from_slice::<Vec<DiscoveredHost>>(&b).ok());
        }
    }
    let host = host.unwrap_or_else(|| {
        let hosts = registries_with(&Reader::new(workspace, env, Scope::Host));
        if fs::create_dir_all(cache_dir).is_ok() {
            let tmp = cache_dir.join(format!(
                ".host-registries-{key:016x}.{}.tmp",
                std::process::id()
            ));
            if let Ok(bytes) = serde_json::to_vec(&hosts)
                && fs::write(&tmp, bytes).is_ok()
            {
                let _ = fs::rename(&tmp, &file);
            }
        }
        hosts
    });
    let mut all = host;
    all.extend(registries_with(&Reader::new(
        workspace,
        env,
        Scope::Workspace(trusted),
    )));
    dedup(all)
}

/// Hash of everything registry discovery depends on (FNV-1a: stable across builds and runs).
fn cache_key(workspace: &Path, env: &DiscoveryEnv) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    };
    let mut vars: Vec<(&String, &String)> = env.vars.iter().collect();
    vars.sort();
    for (k, v) in vars {
        let upper = k.to_ascii_uppercase();
        let relevant = [
            "PATH",
            "HOME",
            "XDG_",
            "CARGO",
            "PIP_",
            "PYTHON",
            "VIRTUAL_ENV",
            "NPM_",
            "GO",
            "GEM",
            "BUNDLE",
            "MAVEN",
            "M2_",
            "APT",
        ]
        .iter()
        .any(|p| upper.starts_with(p));
        if relevant {
            feed(k.as_bytes());
            feed(v.as_bytes());
        }
    }
    feed(workspace.as_os_str().as_encoded_bytes());
    feed(env.root.as_os_str().as_encoded_bytes());
    let home = env.home().unwrap_or_default();
    let mut watched: Vec<PathBuf> = [
        ".cargo/config.toml",
        ".cargo/config",
        ".config/pip/pip.conf",
        ".pip/pip.conf",
        ".npmrc",
        ".gemrc",
        ".m2/settings.xml",
        ".config/go/env",
        ".cargo/registry/index",
    ]
    .iter()
    .map(|r| home.join(r))
    .collect();
    for var in [
        "CARGO_HOME",
        "PIP_CONFIG_FILE",
        "NPM_CONFIG_USERCONFIG",
        "VIRTUAL_ENV",
    ] {
        if let Some(v) = env.var(var) {
            watched.push(PathBuf::from(v));
            watched.push(Path::new(v).join("config.toml"));
            watched.push(Path::new(v).join("registry/index"));
            watched.push(Path::new(v).join("pip.conf"));
        }
    }
    for rel in [
        "etc/pip.conf",
        "etc/npmrc",
        "etc/apt/sources.list",
        "etc/apt/sources.list.d",
        "etc/gemrc",
    ] {
        watched.push(env.sys(rel));
    }
    // Cargo also reads the workspace's ancestors (outside it, so part of the host pass).
    for dir in workspace.ancestors().skip(1) {
        watched.push(dir.join(".cargo/config.toml"));
        watched.push(dir.join(".cargo/config"));
    }
    for p in watched {
        feed(p.as_os_str().as_encoded_bytes());
        match fs::metadata(&p).and_then(|m| m.modified()) {
            Ok(t) => {
                let since = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
                feed(&since.as_nanos().to_le_bytes());
            }
            Err(_) => feed(b"-"),
        }
    }
    h
}

/// Registries and git remotes together, believing the workspace's files as they are now less
/// what sandboxed commands wrote ([`WorkspaceConfig::current`]).
pub fn discover(workspace: &Path, env: &DiscoveryEnv) -> Vec<DiscoveredHost> {
    let trusted = WorkspaceConfig::current(workspace, env);
    let mut all = discover_registries_trusting(workspace, env, &trusted);
    all.extend(discover_git_remotes_trusting(workspace, env, &trusted));
    dedup(all)
}

/// The package registries configured on this machine (cargo, pip, npm, apt, go, gem, maven),
/// believing the workspace's files as [`WorkspaceConfig::current`] does. Tools that are absent
/// are skipped; external probes run in parallel, each bounded by
/// [`DiscoveryEnv::probe_timeout`], outside the workspace (see [`PROBE_ENV_DROPPED`]).
pub fn discover_registries(workspace: &Path, env: &DiscoveryEnv) -> Vec<DiscoveredHost> {
    let trusted = WorkspaceConfig::current(workspace, env);
    discover_registries_trusting(workspace, env, &trusted)
}

/// [`discover_registries`] with workspace files taken from `trusted` only.
pub fn discover_registries_trusting(
    workspace: &Path,
    env: &DiscoveryEnv,
    trusted: &WorkspaceConfig,
) -> Vec<DiscoveredHost> {
    let mut all = registries_with(&Reader::new(workspace, env, Scope::Host));
    all.extend(registries_with(&Reader::new(
        workspace,
        env,
        Scope::Workspace(trusted),
    )));
    dedup(all)
}

/// Hosts that the workspace files of `trusted` alone name (registries and git remotes).
pub(crate) fn workspace_hosts(
    workspace: &Path,
    env: &DiscoveryEnv,
    trusted: &WorkspaceConfig,
) -> Vec<DiscoveredHost> {
    let r = Reader::new(workspace, env, Scope::Workspace(trusted));
    let mut all = registries_with(&r);
    all.extend(git_remotes_with(&r));
    dedup(all)
}

/// One discovery pass over every package manager, reading and running what `r` allows.
pub(crate) fn registries_with(r: &Reader<'_>) -> Vec<DiscoveredHost> {
    if !r.host() {
        // Only file reads: not worth a thread each.
        let all = [cargo, pip, npm, apt, go, gem, maven]
            .iter()
            .flat_map(|f| f(r))
            .collect();
        return dedup(all);
    }
    let parts: Vec<Vec<DiscoveredHost>> = thread::scope(|s| {
        let handles = [
            s.spawn(|| cargo(r)),
            s.spawn(|| pip(r)),
            s.spawn(|| npm(r)),
            s.spawn(|| apt(r)),
            s.spawn(|| go(r)),
            s.spawn(|| gem(r)),
            s.spawn(|| maven(r)),
        ];
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    dedup(parts.into_iter().flatten().collect())
}

/// Hosts of the workspace's git remotes, believing `.git/config` as
/// [`WorkspaceConfig::current`] does; see [`discover_git_remotes_trusting`].
pub fn discover_git_remotes(workspace: &Path, env: &DiscoveryEnv) -> Vec<DiscoveredHost> {
    let trusted = WorkspaceConfig::current(workspace, env);
    discover_git_remotes_trusting(workspace, env, &trusted)
}

/// Hosts of the workspace's git remotes (`url` and `pushurl` of every `[remote]`, after the
/// `url.<base>.insteadOf`/`pushInsteadOf` rewrites of the repository's and the user's
/// configuration), with the port of each URL's scheme (HTTPS 443, SSH and scp-like
/// `git@host:path` 22, `git://` 9418). The configuration is parsed here, not asked of git: git
/// would run on the host with the workspace's configuration (`core.fsmonitor`, includes, …).
/// `include` and `includeIf` are not followed.
pub fn discover_git_remotes_trusting(
    workspace: &Path,
    env: &DiscoveryEnv,
    trusted: &WorkspaceConfig,
) -> Vec<DiscoveredHost> {
    git_remotes_with(&Reader::new(workspace, env, Scope::Both(trusted)))
}

pub(crate) fn git_remotes_with(r: &Reader<'_>) -> Vec<DiscoveredHost> {
    let ws = r.workspace();
    let dot_git = ws.join(".git");
    let git_dir = if fs::symlink_metadata(&dot_git).is_ok_and(|m| m.is_dir()) {
        dot_git
    } else {
        // A linked worktree or submodule: `.git` is a file naming the repository directory.
        let Some(text) = r.read(&dot_git) else {
            return Vec::new();
        };
        let Some(target) = text.lines().next().and_then(|l| l.strip_prefix("gitdir:")) else {
            return Vec::new();
        };
        ws.join(target.trim())
    };
    let mut configs = vec![git_dir.join("config"), git_dir.join("config.worktree")];
    if let Some(common) = r.read(&git_dir.join("commondir")) {
        let common = git_dir.join(common.trim());
        configs.insert(0, common.join("config"));
    }
    let mut entries = Vec::new();
    for c in &configs {
        if let Some(text) = r.read(c) {
            entries.extend(
                git_config_entries(&text)
                    .into_iter()
                    .map(|e| (c.display().to_string(), e)),
            );
        }
    }
    // The user's and the system's rewrites apply too (files outside the workspace).
    let mut rewrites = Vec::new();
    let mut global = vec![r.env.sys("etc/gitconfig")];
    match r.env.var("XDG_CONFIG_HOME") {
        Some(x) => global.push(Path::new(x).join("git/config")),
        None => global.extend(r.env.home().map(|h| h.join(".config/git/config"))),
    }
    global.extend(r.env.home().map(|h| h.join(".gitconfig")));
    for g in global {
        if let Some(text) = r.read(&g) {
            rewrites.extend(git_config_entries(&text));
        }
    }
    rewrites.extend(entries.iter().map(|(_, e)| e.clone()));
    let rewrite = |url: &str, push: bool| -> String {
        let mut best: Option<(&str, &str)> = None;
        let wanted = if push { "pushinsteadof" } else { "insteadof" };
        for e in &rewrites {
            if e.section == "url"
                && e.key == wanted
                && let Some(base) = &e.subsection
                && url.starts_with(e.value.as_str())
                && best.is_none_or(|(prefix, _)| e.value.len() > prefix.len())
            {
                best = Some((e.value.as_str(), base.as_str()));
            }
        }
        match best {
            Some((prefix, base)) => format!("{base}{}", &url[prefix.len()..]),
            None => url.to_string(),
        }
    };
    let mut found = Vec::new();
    for (file, e) in &entries {
        let Some(name) = e.subsection.as_deref().filter(|_| e.section == "remote") else {
            continue;
        };
        let urls = match e.key.as_str() {
            "url" => vec![rewrite(&e.value, false), rewrite(&e.value, true)],
            "pushurl" => vec![rewrite(&e.value, false)],
            _ => continue,
        };
        for url in urls {
            if let Some((host, port)) = git_url_host_port(&url) {
                found.push(DiscoveredHost {
                    host,
                    port,
                    kind: "git-remote".into(),
                    source: format!("git remote `{name}` ({}) in {file}", e.key),
                });
            }
        }
    }
    dedup(found)
}

/// One `section[.subsection].key = value` of a git configuration file; section and key
/// lower-cased, subsection as written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GitEntry {
    section: String,
    subsection: Option<String>,
    key: String,
    value: String,
}

/// The entries of a git configuration text: `[section]`, `[section "sub"]` and the old
/// `[section.sub]` headers (also followed by an entry on the same line), `#`/`;` comments,
/// quoted values with `\"`, `\\`, `\n`, `\t` escapes, and lines continued by a final `\`.
fn git_config_entries(text: &str) -> Vec<GitEntry> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut subsection: Option<String> = None;
    let mut lines = text.lines();
    while let Some(raw) = lines.next() {
        let mut line = raw.trim_start();
        if let Some(head) = line.strip_prefix('[') {
            let Some(close) = find_header_end(head) else {
                continue;
            };
            let inner = &head[..close];
            line = head[close + 1..].trim_start();
            match inner.split_once(|c: char| c.is_whitespace()) {
                Some((name, sub)) => {
                    section = name.to_ascii_lowercase();
                    let sub = sub.trim();
                    let sub = sub.strip_prefix('"').and_then(|s| s.strip_suffix('"'));
                    subsection = sub.map(|s| s.replace("\\\"", "\"").replace("\\\\", "\\"));
                }
                None => match inner.split_once('.') {
                    Some((name, sub)) => {
                        section = name.to_ascii_lowercase();
                        subsection = Some(sub.to_ascii_lowercase());
                    }
                    None => {
                        section = inner.to_ascii_lowercase();
                        subsection = None;
                    }
                },
            }
        }
        if line.is_empty() || line.starts_with(['#', ';']) || section.is_empty() {
            continue;
        }
        let (key, rest) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), v.to_string()),
            None => (line.trim(), String::new()),
        };
        if key.is_empty() || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            continue;
        }
        // Continuation lines: a value ending in an unescaped backslash goes on.
        let mut value = rest;
        while value.ends_with('\\') && !value.ends_with("\\\\") {
            value.pop();
            match lines.next() {
                Some(next) => value.push_str(next),
                None => break,
            }
        }
        out.push(GitEntry {
            section: section.clone(),
            subsection: subsection.clone(),
            key: key.to_ascii_lowercase(),
            value: git_value(&value),
        });
    }
    out
}

/// Where a `[...]` header ends (the `]` not inside a quoted subsection).
fn find_header_end(head: &str) -> Option<usize> {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in head.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => quoted = !quoted,
            ']' if !quoted => return Some(i),
            _ => {}
        }
    }
    None
}

/// A git configuration value: surrounding blanks dropped, quotes removed, escapes applied,
/// a comment outside quotes cut.
fn git_value(raw: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    let mut chars = raw.trim().chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => quoted = !quoted,
            '\\' => match chars.next() {
                Some('n') => out.push('\n'),
                Some('t') => out.push('\t'),
                Some('b') => {
                    out.pop();
                }
                Some(other) => out.push(other),
                None => {}
            },
            '#' | ';' if !quoted => break,
            _ => out.push(c),
        }
    }
    out.trim_end().to_string()
}

/// Removes duplicate (host, port, kind) entries, keeping the first and appending the sources
/// of the others to it (`a; b`), so every reason a host is allowed stays visible.
fn dedup(v: Vec<DiscoveredHost>) -> Vec<DiscoveredHost> {
    let mut out: Vec<DiscoveredHost> = Vec::with_capacity(v.len());
    let mut index: HashMap<(String, u16, String), usize> = HashMap::new();
    for d in v {
        let key = (d.host.clone(), d.port, d.kind.clone());
        match index.get(&key) {
            Some(&i) => {
                let existing = &mut out[i];
                if !existing.source.split("; ").any(|s| s == d.source) {
                    existing.source.push_str("; ");
                    existing.source.push_str(&d.source);
                }
            }
            None => {
                index.insert(key, out.len());
                out.push(d);
            }
        }
    }
    out
}

fn entry(kind: &str, url: &str, source: String) -> Option<DiscoveredHost> {
    let (host, port) = url_host_port(url)?;
    // An address the private-address guard would refuse anyway (e.g. Maven's `0.0.0.0`
    // HTTP-blocker mirror) is not a registry.
    if non_public_host(&host).is_some() {
        return None;
    }
    Some(DiscoveredHost {
        host,
        port,
        kind: format!("registry:{kind}"),
        source,
    })
}

/// Host and port of a URL such as `sparse+https://user@host:8443/path`; `None` for paths,
/// `file:` URLs and unknown schemes.
pub fn url_host_port(url: &str) -> Option<(String, u16)> {
    let mut u = url.trim().trim_matches(|c| c == '"' || c == '\'');
    for prefix in ["sparse+", "registry+", "git+", "mirror+", "tor+"] {
        if let Some(rest) = u.strip_prefix(prefix) {
            u = rest;
        }
    }
    let (scheme, rest) = u.split_once("://")?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "https" => 443,
        "http" => 80,
        "ssh" | "git+ssh" => 22,
        "git" => 9418,
        _ => return None,
    };
    let authority = rest.split(['/', '?', '#']).next()?;
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    let (host, port) = split_host_port(authority)?;
    let port = match port {
        Some(p) => p.parse::<u16>().ok().filter(|p| *p > 0)?,
        None => default_port,
    };
    let host = Host::parse(host).ok()?;
    Some((host.as_text(), port))
}

fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if let Some(rest) = authority.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = after.strip_prefix(':').filter(|p| !p.is_empty());
        return Some((h, port));
    }
    match authority.rsplit_once(':') {
        Some((h, p)) if !p.is_empty() => Some((h, Some(p))),
        Some((h, _)) => Some((h, None)),
        None => Some((authority, None)),
    }
}

/// Host and port of a git remote URL, including the scp-like `user@host:path` form.
pub fn git_url_host_port(url: &str) -> Option<(String, u16)> {
    if url.contains("://") {
        return url_host_port(url);
    }
    // scp-like syntax: [user@]host:path, recognised by git only when no slash precedes the colon.
    let (before, _) = url.split_once(':')?;
    if before.contains('/') || before.is_empty() {
        return None;
    }
    let host = before.rsplit_once('@').map_or(before, |(_, h)| h);
    let host = Host::parse(host).ok()?;
    Some((host.as_text(), 22))
}

// ---------------------------------------------------------------- cargo

fn cargo(r: &Reader<'_>) -> Vec<DiscoveredHost> {
    let (workspace, env) = (r.workspace(), r.env);
    let cargo_home = env
        .var("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| env.home().map(|h| h.join(".cargo")));
    let mut files: Vec<PathBuf> = Vec::new();
    for dir in workspace.ancestors() {
        files.push(dir.join(".cargo/config.toml"));
        files.push(dir.join(".cargo/config"));
    }
    if let Some(ch) = &cargo_home {
        files.push(ch.join("config.toml"));
        files.push(ch.join("config"));
    }
    if let Some(h) = env.home() {
        files.push(h.join(".cargo/config.toml"));
        files.push(h.join(".cargo/config"));
    }
    let mut seen = HashSet::new();
    files.retain(|f| seen.insert(f.clone()));

    let mut found = Vec::new();
    let mut crates_io_replaced = false;
    for f in files {
        let Some(text) = r.read(&f) else { continue };
        let Ok(doc) = text.parse::<toml::Table>() else {
            continue;
        };
        let shown = f.display();
        if let Some(sources) = doc.get("source").and_then(|v| v.as_table()) {
            for (name, src) in sources {
                if name == "crates-io" && src.get("replace-with").is_some() {
                    crates_io_replaced = true;
                }
                if let Some(url) = src.get("registry").and_then(|v| v.as_str()) {
                    found.extend(entry(
                        "cargo",
                        url,
                        format!("{shown} [source.{name}] registry"),
                    ));
                }
            }
        }
        if let Some(regs) = doc.get("registries").and_then(|v| v.as_table()) {
            for (name, reg) in regs {
                if let Some(url) = reg.get("index").and_then(|v| v.as_str()) {
                    found.extend(entry(
                        "cargo",
                        url,
                        format!("{shown} [registries.{name}] index"),
                    ));
                }
            }
        }
        if let Some(url) = doc
            .get("registry")
            .and_then(|r| r.get("index"))
            .and_then(|v| v.as_str())
        {
            found.extend(entry("cargo", url, format!("{shown} [registry] index")));
        }
    }
    for (k, v) in env.vars.iter().filter(|_| r.host()) {
        if k.starts_with("CARGO_REGISTRIES_") && k.ends_with("_INDEX") {
            found.extend(entry("cargo", v, format!("environment variable {k}")));
        }
    }
    // Registries cargo has actually used leave `registry/index/<host>-<hash>` directories; when
    // crates-io is not replaced by a mirror, these name cargo's own default index. Sparse
    // indexes also cache `config.json`, whose `dl` and `api` URLs name the download hosts.
    // Only outside the workspace: a listing inside it is nothing a snapshot can vouch for.
    if let Some(ch) = &cargo_home {
        let known: HashSet<String> = found.iter().map(|d| d.host.clone()).collect();
        let index_dir = ch.join("registry/index");
        {
            for entry_path in r.read_dir(&index_dir) {
                let name = entry_path
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let Some((host, hash)) = name.rsplit_once('-') else {
                    continue;
                };
                if hash.len() != 16 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                    continue;
                }
                let Ok(Host::Name(host)) = Host::parse(host) else {
                    continue;
                };
                if crates_io_replaced && !known.contains(&host) {
                    continue;
                }
                let dir_shown = entry_path.display().to_string();
                found.push(DiscoveredHost {
                    host,
                    port: 443,
                    kind: "registry:cargo".into(),
                    source: format!("cargo registry cache {dir_shown}"),
                });
                let cfg_path = entry_path.join("config.json");
                if let Some(json) = r
                    .read(&cfg_path)
                    .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                {
                    for key in ["dl", "api"] {
                        if let Some(url) = json.get(key).and_then(|v| v.as_str()) {
                            found.extend(entry(
                                "cargo",
                                url,
                                format!("{} `{key}`", cfg_path.display()),
                            ));
                        }
                    }
                }
            }
        }
    }
    found
}

// ---------------------------------------------------------------- pip

const PIP_URL_KEYS: [&str; 3] = ["index-url", "extra-index-url", "find-links"];

fn pip(r: &Reader<'_>) -> Vec<DiscoveredHost> {
    let env = r.env;
    let mut found = Vec::new();
    let mut has_index = false;
    let mut add = |key: &str, value: &str, source: String, found: &mut Vec<DiscoveredHost>| {
        for url in value.split_whitespace() {
            if let Some(d) = entry("pip", url, source.clone()) {
                if key == "index-url" {
                    has_index = true;
                }
                found.push(d);
            }
        }
    };
    for (var, key) in [
        ("PIP_INDEX_URL", "index-url"),
        ("PIP_EXTRA_INDEX_URL", "extra-index-url"),
        ("PIP_FIND_LINKS", "find-links"),
    ] {
        if let Some(v) = env.var(var).filter(|_| r.host()) {
            add(key, v, format!("environment variable {var}"), &mut found);
        }
    }
    let mut files = vec![env.sys("etc/pip.conf")];
    for d in env.var("XDG_CONFIG_DIRS").unwrap_or("/etc/xdg").split(':') {
        if d.starts_with('/') {
            files.push(env.sys(d.trim_start_matches('/')).join("pip/pip.conf"));
        }
    }
    if let Some(x) = env.var("XDG_CONFIG_HOME") {
        files.push(Path::new(x).join("pip/pip.conf"));
    }
    if let Some(h) = env.home() {
        files.push(h.join(".config/pip/pip.conf"));
        files.push(h.join(".pip/pip.conf"));
    }
    if let Some(v) = env.var("VIRTUAL_ENV") {
        files.push(Path::new(v).join("pip.conf"));
    }
    if let Some(f) = env.var("PIP_CONFIG_FILE") {
        files.push(PathBuf::from(f));
    }
    for f in files {
        let Some(text) = r.read(&f) else { continue };
        for (section, key, value) in ini_entries(&text) {
            if PIP_URL_KEYS.contains(&key.as_str()) {
                add(
                    &key,
                    &value,
                    format!("{} [{section}] {key}", f.display()),
                    &mut found,
                );
            }
        }
    }
    // What pip itself reports (covers files and variables we do not know about), and pip's
    // built-in default, asked concurrently (each is an interpreter start-up). Python runs
    // isolated (`-I`: no working directory or script directory on `sys.path`, no `PYTHON*`
    // variables, no user site), so no module of the workspace can be imported.
    let script = "from pip._internal.models.index import PyPI\nprint(PyPI.url)\nprint('https://' + PyPI.file_storage_domain + '/')";
    let (listed, default) = if !r.host() {
        (None, None)
    } else {
        thread::scope(|s| {
            let listed = s.spawn(|| r.probe("pip", &["config", "list"]));
            let default = s.spawn(|| {
                ["python3", "python"]
                    .into_iter()
                    .find_map(|py| r.probe(py, &["-I", "-c", script]).map(|out| (py, out)))
            });
            (listed.join().ok().flatten(), default.join().ok().flatten())
        })
    };
    if let Some(out) = listed {
        for line in out.lines() {
            let Some((lhs, rhs)) = line.split_once('=') else {
                continue;
            };
            let key = lhs.rsplit('.').next().unwrap_or(lhs);
            if PIP_URL_KEYS.contains(&key) {
                let value = rhs.trim().trim_matches('\'');
                add(key, value, format!("`pip config list` {lhs}"), &mut found);
            }
        }
    }
    // Only when no index is configured does pip use its built-in default.
    if !has_index && let Some((py, out)) = default {
        for line in out.lines() {
            found.extend(entry(
                "pip",
                line,
                format!("pip's built-in default index (via {py})"),
            ));
        }
    }
    found
}

/// `(section, key, value)` triples of an INI file; indented lines continue the previous value.
fn ini_entries(text: &str) -> Vec<(String, String, String)> {
    let mut out: Vec<(String, String, String)> = Vec::new();
    let mut section = String::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if raw.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                last.2.push(' ');
                last.2.push_str(line);
            }
            continue;
        }
        if let Some(s) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = s.trim().to_string();
            continue;
        }
        if let Some((k, v)) = line.split_once(['=', ':']) {
            out.push((
                section.clone(),
                k.trim().to_ascii_lowercase().replace('_', "-"),
                v.trim().to_string(),
            ));
        }
    }
    out
}

// ---------------------------------------------------------------- npm

fn npm(r: &Reader<'_>) -> Vec<DiscoveredHost> {
    let (workspace, env) = (r.workspace(), r.env);
    let mut found = Vec::new();
    let mut files = vec![workspace.join(".npmrc"), env.sys("etc/npmrc")];
    if let Some(h) = env.home() {
        files.push(h.join(".npmrc"));
    }
    for var in [
        "NPM_CONFIG_USERCONFIG",
        "npm_config_userconfig",
        "NPM_CONFIG_GLOBALCONFIG",
    ] {
        if let Some(f) = env.var(var) {
            files.push(PathBuf::from(f));
        }
    }
    for f in files {
        let Some(text) = r.read(&f) else { continue };
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with(['#', ';']) {
                continue;
            }
            if let Some((k, v)) = line.split_once('=') {
                let k = k.trim();
                if k == "registry" || k.ends_with(":registry") {
                    found.extend(entry("npm", v, format!("{} {k}", f.display())));
                }
            }
        }
    }
    for var in ["NPM_CONFIG_REGISTRY", "npm_config_registry"] {
        if let Some(v) = env.var(var).filter(|_| r.host()) {
            found.extend(entry("npm", v, format!("environment variable {var}")));
        }
    }
    // Asked from a private empty directory: the workspace's `.npmrc` is read above, from the
    // trusted snapshot, and npm's `node-options` or a project there must not reach the host.
    if let Some(out) = r.probe("npm", &["config", "get", "registry"]) {
        for line in out.lines() {
            found.extend(entry("npm", line, "`npm config get registry`".into()));
        }
    }
    found
}

// ---------------------------------------------------------------- apt

fn apt(r: &Reader<'_>) -> Vec<DiscoveredHost> {
    let env = r.env;
    let mut found = Vec::new();
    let mut files = vec![env.sys("etc/apt/sources.list")];
    files.extend(r.read_dir(&env.sys("etc/apt/sources.list.d")));
    for f in files {
        let name = f.to_string_lossy();
        let Some(text) = r.read(&f) else { continue };
        let shown = f.display();
        if name.ends_with(".sources") {
            // deb822: stanzas separated by blank lines; `URIs:` lists URLs; `Enabled: no` skips.
            for stanza in text.split("\n\n") {
                let mut uris = Vec::new();
                let mut enabled = true;
                for line in stanza.lines() {
                    if line.trim_start().starts_with('#') {
                        continue;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        match k.trim().to_ascii_lowercase().as_str() {
                            "uris" => uris.extend(v.split_whitespace().map(str::to_string)),
                            "enabled" => enabled = !v.trim().eq_ignore_ascii_case("no"),
                            _ => {}
                        }
                    }
                }
                if enabled {
                    for u in uris {
                        found.extend(entry("apt", &u, format!("{shown} URIs")));
                    }
                }
            }
        } else if name.ends_with(".list") {
            for line in text.lines() {
                let line = line.split('#').next().unwrap_or("").trim();
                let mut rest = if let Some(r) = line.strip_prefix("deb-src ") {
                    r
                } else if let Some(r) = line.strip_prefix("deb ") {
                    r
                } else {
                    continue;
                };
                rest = rest.trim_start();
                if rest.starts_with('[') {
                    rest = rest.split_once(']').map_or("", |(_, r)| r).trim_start();
                }
                if let Some(u) = rest.split_whitespace().next() {
                    found.extend(entry("apt", u, shown.to_string()));
                }
            }
        }
    }
    found
}

// ---------------------------------------------------------------- go, gem, maven

fn go(r: &Reader<'_>) -> Vec<DiscoveredHost> {
    let env = r.env;
    let mut found = Vec::new();
    let mut lists: Vec<(String, String)> = Vec::new();
    if let Some(v) = env.var("GOPROXY").filter(|_| r.host()) {
        lists.push((v.to_string(), "environment variable GOPROXY".into()));
    }
    // `GOTOOLCHAIN=local` and a private directory with no `go.mod`/`go.work`: `go` never
    // switches to (fetches and runs) another toolchain.
    if let Some(out) = r.probe("go", &["env", "GOPROXY", "GOSUMDB"]) {
        let mut lines = out.lines();
        if let Some(p) = lines.next() {
            lists.push((p.to_string(), "`go env GOPROXY`".into()));
        }
        if let Some(sumdb) = lines.next() {
            // GOSUMDB is `name[+key] [url]`; without a URL, the name is the host.
            let mut parts = sumdb.split_whitespace();
            let name = parts.next().unwrap_or("");
            let url = match parts.next() {
                Some(u) => u.to_string(),
                None if name != "off" && !name.is_empty() => {
                    format!("https://{}/", name.split('+').next().unwrap_or(name))
                }
                None => String::new(),
            };
            found.extend(entry("go", &url, "`go env GOSUMDB`".into()));
        }
    }
    for (list, source) in lists {
        for u in list.split([',', '|']) {
            found.extend(entry("go", u, source.clone()));
        }
    }
    found
}

fn gem(r: &Reader<'_>) -> Vec<DiscoveredHost> {
    let env = r.env;
    let mut found = Vec::new();
    if let Some(h) = env.home()
        && let Some(text) = r.read(&h.join(".gemrc"))
    {
        for line in text.lines() {
            if let Some(u) = line.trim().strip_prefix("- ") {
                found.extend(entry(
                    "gem",
                    u,
                    format!("{} :sources:", h.join(".gemrc").display()),
                ));
            }
        }
    }
    if let Some(out) = r.probe("gem", &["sources", "--list"]) {
        for line in out.lines() {
            found.extend(entry("gem", line, "`gem sources --list`".into()));
        }
    }
    found
}

fn maven(r: &Reader<'_>) -> Vec<DiscoveredHost> {
    let env = r.env;
    let mut files = vec![env.sys("etc/maven/settings.xml")];
    for var in ["MAVEN_HOME", "M2_HOME"] {
        if let Some(v) = env.var(var) {
            files.push(Path::new(v).join("conf/settings.xml"));
        }
    }
    if let Some(h) = env.home() {
        files.push(h.join(".m2/settings.xml"));
    }
    let mut found = Vec::new();
    let mut central_mirrored = false;
    for f in files {
        let Some(text) = r.read(&f) else { continue };
        found.extend(
            xml_urls(&text)
                .into_iter()
                .filter_map(|u| entry("maven", &u, format!("{} <url>", f.display()))),
        );
        central_mirrored |= xml_values(&text, "mirrorOf")
            .iter()
            .any(|v| v.split(',').any(|t| matches!(t.trim(), "*" | "central")));
    }
    if !central_mirrored && let Some(home) = maven_home(r) {
        // Maven's built-in default repository is declared in the super POM inside its
        // model-builder jar; ask `unzip` to read it rather than naming the host here.
        let jar = r.read_dir(&home.join("lib")).into_iter().find(|p| {
            p.file_name().is_some_and(|n| {
                let n = n.to_string_lossy();
                n.starts_with("maven-model-builder") && n.ends_with(".jar")
            })
        });
        if let Some(jar) = jar {
            let jar_s = jar.display().to_string();
            if let Some(pom) = r.probe(
                "unzip",
                &["-p", &jar_s, "org/apache/maven/model/pom-4.0.0.xml"],
            ) {
                found.extend(
                    xml_urls(&pom)
                        .into_iter()
                        .filter_map(|u| entry("maven", &u, format!("Maven super POM in {jar_s}"))),
                );
            }
        }
    }
    found
}

/// Maven's installation directory outside the workspace: `MAVEN_HOME`/`M2_HOME`, or the
/// resolved `mvn` on the host `PATH`.
fn maven_home(r: &Reader<'_>) -> Option<PathBuf> {
    for var in ["MAVEN_HOME", "M2_HOME"] {
        if let Some(v) = r.env.var(var) {
            return Some(PathBuf::from(v)).filter(|h| !r.ws.contains(h));
        }
    }
    let real = fs::canonicalize(r.which("mvn")?).ok()?;
    Some(real.parent()?.parent()?.to_path_buf()).filter(|h| !r.ws.contains(h))
}

fn non_public_host(host: &str) -> Option<&'static str> {
    host.parse::<std::net::IpAddr>()
        .ok()
        .and_then(crate::addr::non_public_reason)
}

/// The `<url>` values of an XML document, ignoring comments.
fn xml_urls(text: &str) -> Vec<String> {
    xml_values(text, "url")
}

/// The text of every `<tag>…</tag>` element of an XML document, ignoring comments.
fn xml_values(text: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    {
        let text = strip_xml_comments(text);
        let mut rest = text.as_str();
        while let Some(start) = rest.find(&open) {
            let after = &rest[start + open.len()..];
            let Some(end) = after.find(&close) else {
                break;
            };
            out.push(after[..end].trim().to_string());
            rest = &after[end..];
        }
    }
    out
}

fn strip_xml_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("<!--") {
        out.push_str(&rest[..start]);
        match rest[start..].find("-->") {
            Some(end) => rest = &rest[start + end + 3..],
            None => return out,
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parsing() {
        assert_eq!(
            url_host_port("sparse+https://u:p@Mirror.Example.invalid:8443/x/"),
            Some(("mirror.example.invalid".into(), 8443))
        );
        assert_eq!(
            url_host_port("http://[2001:db8::1]/a"),
            Some(("2001:db8::1".into(), 80))
        );
        assert_eq!(
            url_host_port("mirror+http://m.invalid/debian"),
            Some(("m.invalid".into(), 80))
        );
        assert_eq!(url_host_port("file:///srv/repo"), None);
        assert_eq!(url_host_port("/opt/wheels"), None);
        assert_eq!(url_host_port("direct"), None);
        assert_eq!(url_host_port("https://bad host/"), None);
    }

    #[test]
    fn git_url_forms() {
        assert_eq!(
            git_url_host_port("git@forge.invalid:org/repo.git"),
            Some(("forge.invalid".into(), 22))
        );
        assert_eq!(
            git_url_host_port("ssh://git@forge.invalid:2222/org/repo"),
            Some(("forge.invalid".into(), 2222))
        );
        assert_eq!(
            git_url_host_port("https://forge.invalid/org/repo"),
            Some(("forge.invalid".into(), 443))
        );
        assert_eq!(
            git_url_host_port("git://forge.invalid/repo"),
            Some(("forge.invalid".into(), 9418))
        );
        assert_eq!(git_url_host_port("./local/path"), None);
        assert_eq!(git_url_host_port("/abs/path:with-colon"), None);
    }

    #[test]
    fn ini_continuations() {
        let e = ini_entries(
            "[global]\nextra-index-url = https://a.invalid/\n    https://b.invalid/\n# c\nindex_url: https://c.invalid/\n",
        );
        assert_eq!(e[0].2, "https://a.invalid/ https://b.invalid/");
        assert_eq!(e[1].1, "index-url");
    }

    #[test]
    fn probes_keep_what_they_need_and_lose_what_loads_code() {
        for needed in [
            "PATH",
            "HOME",
            "XDG_CONFIG_HOME",
            "GOPROXY",
            "GOSUMDB",
            "GOPATH",
            "PIP_INDEX_URL",
            "PIP_CONFIG_FILE",
            "CARGO_HOME",
            "GEM_HOME",
            "GEMRC",
            "LANG",
        ] {
            assert!(!dropped_for_probes(needed), "{needed}");
        }
        for loads_code in [
            "PYTHONPATH",
            "PYTHONSTARTUP",
            "NODE_OPTIONS",
            "npm_config_node_options",
            "NPM_CONFIG_GLOBALCONFIG",
            "GIT_CONFIG_PARAMETERS",
            "GIT_EXEC_PATH",
            "LD_PRELOAD",
            "RUBYOPT",
            "GOFLAGS",
            "GOTOOLCHAIN",
            "BASH_ENV",
            "JAVA_TOOL_OPTIONS",
        ] {
            assert!(dropped_for_probes(loads_code), "{loads_code}");
        }
        for p in PROBE_ENV_DROPPED {
            let stem = p.strip_suffix('*').unwrap_or(p);
            assert!(
                !stem.contains('*') && stem == stem.to_ascii_uppercase(),
                "{p}"
            );
        }
    }

    #[test]
    fn git_configuration_is_parsed_like_git() {
        let text = "# comment\n[core]\n\tbare = false\n\
                    [remote \"origin\"]\n\turl = \"https://a.invalid/x\" ; trailing comment\n\
                    \tpushurl = git@b.invalid:x.git # another\n\
                    [Remote \"Up \\\"q\\\"\"] URL = ssh://c.invalid:2222/x\n\
                    [remote.legacy]\n\turl = https://d.invalid/\\\n\tcontinued\n\
                    [url \"https://mirror.invalid/\"]\n\tinsteadOf = https://a.invalid/\n";
        let e = git_config_entries(text);
        let get = |sub: &str, key: &str| {
            e.iter()
                .find(|x| x.subsection.as_deref() == Some(sub) && x.key == key)
                .map(|x| x.value.clone())
        };
        assert_eq!(get("origin", "url").as_deref(), Some("https://a.invalid/x"));
        assert_eq!(
            get("origin", "pushurl").as_deref(),
            Some("git@b.invalid:x.git")
        );
        assert_eq!(
            get("Up \"q\"", "url").as_deref(),
            Some("ssh://c.invalid:2222/x")
        );
        assert_eq!(
            get("legacy", "url").as_deref(),
            Some("https://d.invalid/\tcontinued")
        );
        assert_eq!(
            get("https://mirror.invalid/", "insteadof").as_deref(),
            Some("https://a.invalid/")
        );
        assert!(e.iter().all(|x| x.section != "remote" || x.key != "bare"));
    }

    #[test]
    fn remotes_are_rewritten_by_instead_of() {
        let dir = tempfile::tempdir().unwrap();
        let ws = dir.path().join("ws");
        fs::create_dir_all(ws.join(".git")).unwrap();
        fs::write(
            ws.join(".git/config"),
            "[remote \"origin\"]\n\turl = gh:org/x\n",
        )
        .unwrap();
        let home = dir.path().join("home");
        fs::create_dir_all(&home).unwrap();
        fs::write(
            home.join(".gitconfig"),
            "[url \"https://forge.invalid/\"]\n\tinsteadOf = gh:\n\
             [url \"ssh://git@push.invalid/\"]\n\tpushInsteadOf = gh:\n",
        )
        .unwrap();
        let mut env = DiscoveryEnv::empty();
        env.set_var("HOME", home.display().to_string());
        let found = discover_git_remotes(&ws, &env);
        let hosts: Vec<(String, u16)> = found.iter().map(|d| (d.host.clone(), d.port)).collect();
        assert!(hosts.contains(&("forge.invalid".into(), 443)), "{hosts:?}");
        assert!(hosts.contains(&("push.invalid".into(), 22)), "{hosts:?}");
        assert!(hosts.iter().all(|(h, _)| h != "gh"), "{hosts:?}");
    }

    #[test]
    fn a_linked_worktree_reads_the_common_configuration() {
        let dir = tempfile::tempdir().unwrap();
        let main = dir.path().join("main/.git");
        fs::create_dir_all(main.join("worktrees/wt")).unwrap();
        fs::write(
            main.join("config"),
            "[remote \"origin\"]\n\turl = https://common.invalid/x\n",
        )
        .unwrap();
        fs::write(main.join("worktrees/wt/commondir"), "../..\n").unwrap();
        let ws = dir.path().join("wt");
        fs::create_dir_all(&ws).unwrap();
        fs::write(
            ws.join(".git"),
            format!("gitdir: {}\n", main.join("worktrees/wt").display()),
        )
        .unwrap();
        let found = discover_git_remotes(&ws, &DiscoveryEnv::empty());
        assert!(
            found.iter().any(|d| d.host == "common.invalid"),
            "{found:?}"
        );
    }

    #[test]
    fn xml_comments_are_ignored() {
        assert_eq!(strip_xml_comments("a<!-- <url>x</url> -->b"), "ab");
    }
}
