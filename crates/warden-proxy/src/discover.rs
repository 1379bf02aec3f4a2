//! Run-time discovery of the hosts the sandbox legitimately needs: the package registries this
//! machine's package managers are configured to use, and the workspace's git remotes.
//!
//! No registry host name is written in this crate: everything comes from configuration files,
//! environment variables, the tools themselves (each probe bounded by a timeout) or the names
//! of cargo's registry cache directories. Each result says where it came from, so `warden` can
//! show the user why a host is allowed.

use crate::pattern::Host;
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

/// The environment discovery reads: variables (also handed to every probed tool, whose
/// environment is otherwise cleared), a file-system root for system-wide files such as
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

    /// Runs a tool with this environment (only), a null stdin and the probe timeout; returns its
    /// stdout when it exits successfully in time.
    fn probe(&self, program: &str, args: &[&str], cwd: Option<&Path>) -> Option<String> {
        self.var("PATH")?;
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(&self.vars)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        if let Some(d) = cwd.filter(|d| d.is_dir()) {
            cmd.current_dir(d);
        }
        let mut child = cmd.spawn().ok()?;
        let mut out = child.stdout.take()?;
        // Read in a thread so a chatty tool cannot fill the pipe and stall; if the tool times
        // out, the reader is left to finish on its own when the pipe closes.
        let reader = thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = out.by_ref().take(1 << 20).read_to_end(&mut buf);
            buf
        });
        let deadline = Instant::now() + self.probe_timeout;
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

/// How long a cached registry discovery stays valid when none of its inputs changed.
pub const REGISTRY_CACHE_TTL: Duration = Duration::from_secs(3600);

/// [`discover_registries`], cached in `cache_dir`. Asking pip, npm and go costs about a second of
/// interpreter start-up, far too much for every `warden run`; the package managers'
/// configuration rarely changes. The cache key covers the variables discovery reads, the
/// workspace, and the modification times of every configuration file and directory the probes
/// read; an entry older than [`REGISTRY_CACHE_TTL`] is refreshed anyway. A cache that cannot be
/// read or written only costs the probe.
pub fn discover_registries_cached(
    workspace: &Path,
    env: &DiscoveryEnv,
    cache_dir: &Path,
) -> Vec<DiscoveredHost> {
    let key = cache_key(workspace, env);
    let file = cache_dir.join(format!("registries-{key:016x}.json"));
    if let Ok(meta) = fs::metadata(&file) {
        let fresh = meta
            .modified()
            .ok()
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age < REGISTRY_CACHE_TTL);
        if fresh
            && let Some(hosts) = fs::read(&file)
                .ok()
                .and_then(|b| serde_json::from_slice::<Vec<DiscoveredHost>>(&b).ok())
        {
            return hosts;
        }
    }
    let hosts = discover_registries(workspace, env);
    if fs::create_dir_all(cache_dir).is_ok() {
        let tmp = cache_dir.join(format!(".registries-{key:016x}.{}.tmp", std::process::id()));
        if let Ok(bytes) = serde_json::to_vec(&hosts)
            && fs::write(&tmp, bytes).is_ok()
        {
            let _ = fs::rename(&tmp, &file);
        }
    }
    hosts
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
    for rel in [".cargo/config.toml", ".cargo/config", ".npmrc", "pip.conf"] {
        watched.push(workspace.join(rel));
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

/// Registries and git remotes together.
pub fn discover(workspace: &Path, env: &DiscoveryEnv) -> Vec<DiscoveredHost> {
    let mut all = discover_registries(workspace, env);
    all.extend(discover_git_remotes(workspace, env));
    dedup(all)
}

/// The package registries configured on this machine (cargo, pip, npm, apt, go, gem, maven).
/// Tools that are absent are skipped; external probes run in parallel, each bounded by
/// [`DiscoveryEnv::probe_timeout`].
pub fn discover_registries(workspace: &Path, env: &DiscoveryEnv) -> Vec<DiscoveredHost> {
    let parts: Vec<Vec<DiscoveredHost>> = thread::scope(|s| {
        let handles = [
            s.spawn(|| cargo(workspace, env)),
            s.spawn(|| pip(env)),
            s.spawn(|| npm(workspace, env)),
            s.spawn(|| apt(env)),
            s.spawn(|| go(env)),
            s.spawn(|| gem(env)),
            s.spawn(|| maven(env)),
        ];
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_default())
            .collect()
    });
    dedup(parts.into_iter().flatten().collect())
}

/// Hosts of the workspace's git remotes (`git -C WORKSPACE remote -v`), with the port of each
/// URL's scheme (HTTPS 443, SSH and scp-like `git@host:path` 22, `git://` 9418).
pub fn discover_git_remotes(workspace: &Path, env: &DiscoveryEnv) -> Vec<DiscoveredHost> {
    let ws = workspace.to_string_lossy();
    let Some(out) = env.probe("git", &["-C", &ws, "remote", "-v"], None) else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for line in out.lines() {
        let mut f = line.split_whitespace();
        let (Some(name), Some(url)) = (f.next(), f.next()) else {
            continue;
        };
        if let Some((host, port)) = git_url_host_port(url) {
            found.push(DiscoveredHost {
                host,
                port,
                kind: "git-remote".into(),
                source: format!("git remote `{name}` of {ws}"),
            });
        }
    }
    dedup(found)
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

fn read(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok()
}

// ---------------------------------------------------------------- cargo

fn cargo(workspace: &Path, env: &DiscoveryEnv) -> Vec<DiscoveredHost> {
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
        let Some(text) = read(&f) else { continue };
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
    for (k, v) in &env.vars {
        if k.starts_with("CARGO_REGISTRIES_") && k.ends_with("_INDEX") {
            found.extend(entry("cargo", v, format!("environment variable {k}")));
        }
    }
    // Registries cargo has actually used leave `registry/index/<host>-<hash>` directories; when
    // crates-io is not replaced by a mirror, these name cargo's own default index. Sparse
    // indexes also cache `config.json`, whose `dl` and `api` URLs name the download hosts.
    if let Some(ch) = &cargo_home {
        let known: HashSet<String> = found.iter().map(|d| d.host.clone()).collect();
        let index_dir = ch.join("registry/index");
        if let Ok(rd) = fs::read_dir(&index_dir) {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
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
                let dir_shown = e.path().display().to_string();
                found.push(DiscoveredHost {
                    host,
                    port: 443,
                    kind: "registry:cargo".into(),
                    source: format!("cargo registry cache {dir_shown}"),
                });
                let cfg_path = e.path().join("config.json");
                if let Some(json) =
                    read(&cfg_path).and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
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

fn pip(env: &DiscoveryEnv) -> Vec<DiscoveredHost> {
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
        if let Some(v) = env.var(var) {
            add(key, v, format!("environment variable {var}"), &mut found);
        }
    }
    let mut files = vec![env.sys("etc/pip.conf")];
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
        let Some(text) = read(&f) else { continue };
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
    // built-in default, asked concurrently (each is an interpreter start-up).
    let script = "from pip._internal.models.index import PyPI\nprint(PyPI.url)\nprint('https://' + PyPI.file_storage_domain + '/')";
    let (listed, default) = thread::scope(|s| {
        let listed = s.spawn(|| env.probe("pip", &["config", "list"], None));
        let default = s.spawn(|| {
            ["python3", "python"]
                .into_iter()
                .find_map(|py| env.probe(py, &["-c", script], None).map(|out| (py, out)))
        });
        (listed.join().ok().flatten(), default.join().ok().flatten())
    });
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

fn npm(workspace: &Path, env: &DiscoveryEnv) -> Vec<DiscoveredHost> {
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
        let Some(text) = read(&f) else { continue };
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
        if let Some(v) = env.var(var) {
            found.extend(entry("npm", v, format!("environment variable {var}")));
        }
    }
    if let Some(out) = env.probe("npm", &["config", "get", "registry"], Some(workspace)) {
        for line in out.lines() {
            found.extend(entry("npm", line, "`npm config get registry`".into()));
        }
    }
    found
}

// ---------------------------------------------------------------- apt

fn apt(env: &DiscoveryEnv) -> Vec<DiscoveredHost> {
    let mut found = Vec::new();
    let mut files = vec![env.sys("etc/apt/sources.list")];
    if let Ok(rd) = fs::read_dir(env.sys("etc/apt/sources.list.d")) {
        let mut names: Vec<PathBuf> = rd.flatten().map(|e| e.path()).collect();
        names.sort();
        files.extend(names);
    }
    for f in files {
        let name = f.to_string_lossy();
        let Some(text) = read(&f) else { continue };
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

fn go(env: &DiscoveryEnv) -> Vec<DiscoveredHost> {
    let mut found = Vec::new();
    let mut lists: Vec<(String, String)> = Vec::new();
    if let Some(v) = env.var("GOPROXY") {
        lists.push((v.to_string(), "environment variable GOPROXY".into()));
    }
    if let Some(out) = env.probe("go", &["env", "GOPROXY", "GOSUMDB"], None) {
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

fn gem(env: &DiscoveryEnv) -> Vec<DiscoveredHost> {
    let mut found = Vec::new();
    if let Some(h) = env.home()
        && let Some(text) = read(&h.join(".gemrc"))
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
    if let Some(out) = env.probe("gem", &["sources", "--list"], None) {
        for line in out.lines() {
            found.extend(entry("gem", line, "`gem sources --list`".into()));
        }
    }
    found
}

fn maven(env: &DiscoveryEnv) -> Vec<DiscoveredHost> {
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
        let Some(text) = read(&f) else { continue };
        found.extend(
            xml_urls(&text)
                .into_iter()
                .filter_map(|u| entry("maven", &u, format!("{} <url>", f.display()))),
        );
        central_mirrored |= xml_values(&text, "mirrorOf")
            .iter()
            .any(|v| v.split(',').any(|t| matches!(t.trim(), "*" | "central")));
    }
    if !central_mirrored && let Some(home) = maven_home(env) {
        // Maven's built-in default repository is declared in the super POM inside its
        // model-builder jar; ask `unzip` to read it rather than naming the host here.
        let jar = fs::read_dir(home.join("lib")).ok().and_then(|rd| {
            rd.flatten().map(|e| e.path()).find(|p| {
                p.file_name().is_some_and(|n| {
                    let n = n.to_string_lossy();
                    n.starts_with("maven-model-builder") && n.ends_with(".jar")
                })
            })
        });
        if let Some(jar) = jar {
            let jar_s = jar.display().to_string();
            if let Some(pom) = env.probe(
                "unzip",
                &["-p", &jar_s, "org/apache/maven/model/pom-4.0.0.xml"],
                None,
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

/// Maven's installation directory: `MAVEN_HOME`/`M2_HOME`, or the resolved `mvn` on `PATH`.
fn maven_home(env: &DiscoveryEnv) -> Option<PathBuf> {
    for var in ["MAVEN_HOME", "M2_HOME"] {
        if let Some(v) = env.var(var) {
            return Some(PathBuf::from(v));
        }
    }
    let path = env.var("PATH")?;
    let mvn = path
        .split(':')
        .map(|d| Path::new(d).join("mvn"))
        .find(|p| p.is_file())?;
    let real = fs::canonicalize(mvn).ok()?;
    Some(real.parent()?.parent()?.to_path_buf())
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
    fn xml_comments_are_ignored() {
        assert_eq!(strip_xml_comments("a<!-- <url>x</url> -->b"), "ab");
    }
}
