//! Which workspace files discovery may believe: none whose content a sandboxed command wrote.
//!
//! Discovery turns configuration into allow rules; some of that configuration lives in the
//! workspace (`.npmrc`, `.cargo/config.toml`, the repository's `.git/config`, and any file an
//! environment variable or `HOME` places there), which sandboxed commands may write. So a
//! sandboxed command could otherwise widen what later runs — or the rest of its own run — may
//! reach. The rule:
//!
//! - **Before** each sandboxed run, [`ConfigWatch::begin`] reads every discovery-relevant
//!   workspace file and keeps its content: that snapshot, less what is distrusted, is all the
//!   run's discovery sees ([`WorkspaceConfig`]), so writes during the run never count for it.
//! - **After** the run, [`ConfigWatch::end`] reads them again; every file created or changed
//!   meanwhile is recorded as *tainted* (its path and content digest) in
//!   `.warden/discovery/tainted.json`, which the sandbox cannot write (`.warden/` is read-only
//!   inside), and the run's outcome gets a `warning:` naming the hosts it would have opened.
//! - Discovery ignores a workspace file whose current content is tainted. A person who edits the
//!   file outside the sandbox changes its digest, and so trusts it again.
//! - While another sandboxed run is in progress (its marker in `.warden/discovery/runs/` is
//!   locked), a file that differs from what that run started with is not trusted either; the
//!   marker of a run that ended without recording (crashed) has its changes tainted by the next.
//!
//! State that cannot be read or written is never taken as trust: discovery then ignores every
//! workspace file and says so in a note.
//!
//! Limits: an edit a person makes while a sandboxed run is in progress counts as the run's
//! (edit again afterwards); content that reaches a file through the person's own git operations
//! outside the sandbox (checking out a commit a sandboxed command made with git plumbing,
//! without writing the file in the workspace) is the person's.

use crate::discover::{self, DiscoveredHost, DiscoveryEnv};
use rustix::fs::{FlockOperation, flock};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

/// Largest workspace configuration file read (bigger ones are ignored).
const MAX_FILE: u64 = 1 << 20;

/// Where the taint list and run markers live, relative to the workspace.
pub const STATE_DIR: &str = ".warden/discovery";

/// What one collection pass read: path relative to the workspace → content (`None`: absent).
pub(crate) type Collected = BTreeMap<PathBuf, Option<Vec<u8>>>;

/// The workspace's discovery-relevant files as discovery may use them: the content they had
/// when the snapshot was taken, less every file that is distrusted.
#[derive(Debug, Clone, Default)]
pub struct WorkspaceConfig {
    files: BTreeMap<PathBuf, Vec<u8>>,
    withheld: Vec<PathBuf>,
    notes: Vec<String>,
}

impl WorkspaceConfig {
    /// The workspace's files now, less the tainted ones and those changed by a sandboxed run
    /// still in progress (for discovery outside any run, e.g. a request `warden` sends itself).
    pub fn current(workspace: &Path, env: &DiscoveryEnv) -> WorkspaceConfig {
        let now = collect(workspace, env);
        if !workspace.join(STATE_DIR).is_dir() {
            // No sandboxed run has recorded anything here.
            return WorkspaceConfig::from_collected(now, &BTreeSet::new(), Vec::new());
        }
        match State::open(workspace).and_then(|s| s.distrusted(&now)) {
            Ok(distrusted) => WorkspaceConfig::from_collected(now, &distrusted, Vec::new()),
            Err(e) => WorkspaceConfig::nothing(now, e),
        }
    }

    /// Trusts every workspace file as it is now (tests; a caller with no sandbox).
    pub fn trust_all(workspace: &Path, env: &DiscoveryEnv) -> WorkspaceConfig {
        WorkspaceConfig::from_collected(collect(workspace, env), &BTreeSet::new(), Vec::new())
    }

    fn from_collected(
        now: Collected,
        distrusted: &BTreeSet<PathBuf>,
        mut notes: Vec<String>,
    ) -> WorkspaceConfig {
        let mut files = BTreeMap::new();
        let mut withheld = Vec::new();
        for (path, content) in now {
            let Some(content) = content else { continue };
            if distrusted.contains(&path) {
                withheld.push(path);
            } else {
                files.insert(path, content);
            }
        }
        if !withheld.is_empty() {
            notes.push(format!(
                "discovery ignores {} (written by a sandboxed command; edit outside the sandbox to trust again)",
                shown(&withheld)
            ));
        }
        WorkspaceConfig {
            files,
            withheld,
            notes,
        }
    }

    fn nothing(now: Collected, why: String) -> WorkspaceConfig {
        let withheld: Vec<PathBuf> = now.into_iter().filter_map(|(p, c)| c.map(|_| p)).collect();
        WorkspaceConfig {
            files: BTreeMap::new(),
            notes: vec![format!(
                "discovery ignores every workspace configuration file: {why}"
            )],
            withheld,
        }
    }

    /// The trusted content of `rel` (relative to the workspace).
    pub(crate) fn get(&self, rel: &Path) -> Option<&[u8]> {
        self.files.get(rel).map(Vec::as_slice)
    }

    /// Workspace files present but not believed, relative to the workspace.
    pub fn withheld(&self) -> &[PathBuf] {
        &self.withheld
    }

    /// Notes for the outcome record (why files are ignored).
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

fn shown(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The workspace, lexically and resolved, to tell whether a path lies inside it.
#[derive(Debug)]
pub(crate) struct WorkspaceRoot {
    lexical: PathBuf,
    canonical: PathBuf,
    /// Resolved directories (discovery asks about many files in the same few directories).
    dirs: std::sync::Mutex<std::collections::HashMap<PathBuf, PathBuf>>,
}

impl WorkspaceRoot {
    pub(crate) fn new(workspace: &Path) -> WorkspaceRoot {
        WorkspaceRoot {
            lexical: workspace.to_path_buf(),
            canonical: fs::canonicalize(workspace).unwrap_or_else(|_| workspace.to_path_buf()),
            dirs: std::sync::Mutex::default(),
        }
    }

    /// `p` relative to the workspace when it lies inside it, lexically or once symbolic links
    /// are resolved (a `HOME` file linked into a dotfiles workspace is a workspace file).
    pub(crate) fn relative(&self, p: &Path) -> Option<PathBuf> {
        if let Ok(r) = p.strip_prefix(&self.lexical) {
            return Some(r.to_path_buf());
        }
        self.resolve(p)?
            .strip_prefix(&self.canonical)
            .ok()
            .map(Path::to_path_buf)
    }

    pub(crate) fn contains(&self, p: &Path) -> bool {
        self.relative(p).is_some()
    }

    pub(crate) fn path(&self) -> &Path {
        &self.lexical
    }

    /// `p` with symbolic links resolved as far as it exists (a missing file below a linked
    /// directory resolves too).
    fn resolve(&self, p: &Path) -> Option<PathBuf> {
        let full = match (p.parent(), p.file_name()) {
            (Some(parent), Some(name)) => self.resolve_dir(parent).join(name),
            _ => return fs::canonicalize(p).ok(),
        };
        if fs::symlink_metadata(&full).is_ok_and(|m| m.file_type().is_symlink()) {
            return fs::canonicalize(&full).ok().or(Some(full));
        }
        Some(full)
    }

    fn resolve_dir(&self, d: &Path) -> PathBuf {
        if let Some(r) = self.dirs.lock().ok().and_then(|m| m.get(d).cloned()) {
            return r;
        }
        // Top down, from the resolved (cached) parent: only a component that is a symbolic
        // link needs resolving (`canonicalize` would read every component of the path again,
        // for each of the many directories discovery asks about). A path with `.` or `..`
        // components, or a relative one, is resolved by `canonicalize` as a whole.
        let plain = d.is_absolute()
            && d.components().all(|c| {
                matches!(
                    c,
                    std::path::Component::RootDir | std::path::Component::Normal(_)
                )
            });
        let r = match (d.parent(), d.file_name()) {
            (Some(parent), Some(name)) if plain => {
                let under = self.resolve_dir(parent).join(name);
                if fs::symlink_metadata(&under).is_ok_and(|m| m.file_type().is_symlink()) {
                    fs::canonicalize(&under).unwrap_or(under)
                } else {
                    under
                }
            }
            _ => match fs::canonicalize(d) {
                Ok(c) => c,
                Err(_) => match (d.parent(), d.file_name()) {
                    (Some(parent), Some(name)) => self.resolve_dir(parent).join(name),
                    _ => d.to_path_buf(),
                },
            },
        };
        if let Ok(mut m) = self.dirs.lock() {
            m.insert(d.to_path_buf(), r.clone());
        }
        r
    }
}

/// Reads at most [`MAX_FILE`] bytes of a regular file (following links).
pub(crate) fn read_small(p: &Path) -> Option<Vec<u8>> {
    let f = fs::File::open(p).ok()?;
    let meta = f.metadata().ok()?;
    if !meta.is_file() || meta.len() > MAX_FILE {
        return None;
    }
    let mut buf = Vec::new();
    f.take(MAX_FILE).read_to_end(&mut buf).ok()?;
    Some(buf)
}

/// Every discovery-relevant workspace file, read now.
pub(crate) fn collect(workspace: &Path, env: &DiscoveryEnv) -> Collected {
    let seen = std::sync::Mutex::new(Collected::new());
    let reader = discover::Reader::collecting(workspace, env, &seen);
    let _ = discover::registries_with(&reader);
    let _ = discover::git_remotes_with(&reader);
    seen.into_inner().unwrap_or_default()
}

fn digest(content: &[u8]) -> String {
    hex::encode(Sha256::digest(content))
}

fn digests(c: &Collected) -> BTreeMap<PathBuf, Option<String>> {
    c.iter()
        .map(|(p, v)| (p.clone(), v.as_deref().map(digest)))
        .collect()
}

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct TaintFile {
    version: u32,
    /// Path relative to the workspace → SHA-256 digests of content a sandboxed command wrote.
    tainted: BTreeMap<PathBuf, BTreeSet<String>>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct RunMarker {
    /// What the run started with: path → digest (`None`: absent).
    baseline: BTreeMap<PathBuf, Option<String>>,
}

/// The workspace's discovery state directory, locked while it is read or changed.
struct State {
    dir: PathBuf,
    _lock: fs::File,
}

fn io_err(what: &str, path: &Path, e: std::io::Error) -> String {
    format!("cannot {what} {}: {e}", path.display())
}

impl State {
    fn open(workspace: &Path) -> Result<State, String> {
        let dir = workspace.join(STATE_DIR);
        fs::create_dir_all(dir.join("runs")).map_err(|e| io_err("create", &dir, e))?;
        // Warden's own state: never shown as untracked by git.
        let ignore = dir.join(".gitignore");
        if fs::symlink_metadata(&ignore).is_err() {
            let _ = fs::write(&ignore, "*\n");
        }
        let lock_path = dir.join("lock");
        let lock = fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_err("open", &lock_path, e))?;
        flock(&lock, FlockOperation::LockExclusive)
            .map_err(|e| io_err("lock", &lock_path, e.into()))?;
        Ok(State { dir, _lock: lock })
    }

    fn taint_path(&self) -> PathBuf {
        self.dir.join("tainted.json")
    }

    fn load_taints(&self) -> Result<TaintFile, String> {
        let p = self.taint_path();
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| format!("{}: {e}", p.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(TaintFile {
                version: 1,
                ..TaintFile::default()
            }),
            Err(e) => Err(io_err("read", &p, e)),
        }
    }

    fn store_taints(&self, t: &TaintFile) -> Result<(), String> {
        let p = self.taint_path();
        let tmp = self
            .dir
            .join(format!(".tainted.{}.tmp", std::process::id()));
        let bytes = serde_json::to_vec_pretty(t).map_err(|e| e.to_string())?;
        fs::write(&tmp, bytes).map_err(|e| io_err("write", &tmp, e))?;
        fs::rename(&tmp, &p).map_err(|e| io_err("replace", &p, e))
    }

    /// Taints every file of `after` that exists and differs from `baseline`; returns them.
    fn taint_changes(
        &self,
        baseline: &BTreeMap<PathBuf, Option<String>>,
        after: &BTreeMap<PathBuf, Option<String>>,
    ) -> Result<Vec<PathBuf>, String> {
        let changed: Vec<(PathBuf, String)> = after
            .iter()
            .filter_map(|(p, d)| {
                let d = d.as_ref()?;
                (baseline.get(p) != Some(&Some(d.clone()))).then(|| (p.clone(), d.clone()))
            })
            .collect();
        if changed.is_empty() {
            return Ok(Vec::new());
        }
        let mut t = self.load_taints()?;
        t.version = 1;
        for (p, d) in &changed {
            t.tainted.entry(p.clone()).or_default().insert(d.clone());
        }
        self.store_taints(&t)?;
        Ok(changed.into_iter().map(|(p, _)| p).collect())
    }

    /// Paths of `now` not to be believed: tainted content, or content another sandboxed run
    /// in progress may have written. Markers of runs that ended without recording are settled
    /// first (their changes tainted).
    fn distrusted(&self, now: &Collected) -> Result<BTreeSet<PathBuf>, String> {
        let now_d = digests(now);
        let mut out = BTreeSet::new();
        let runs = self.dir.join("runs");
        let rd = fs::read_dir(&runs).map_err(|e| io_err("list", &runs, e))?;
        for e in rd.flatten() {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "json") {
                continue;
            }
            let Ok(file) = fs::OpenOptions::new().write(true).open(&path) else {
                continue;
            };
            let marker: Option<RunMarker> = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            // Locked by its run for as long as that lasts (the kernel drops the lock when the
            // process ends, however it ends).
            let live = matches!(
                flock(&file, FlockOperation::NonBlockingLockExclusive),
                Err(e) if e == rustix::io::Errno::WOULDBLOCK
            );
            let Some(marker) = marker else {
                if !live {
                    let _ = fs::remove_file(&path);
                }
                continue;
            };
            if live {
                for (p, d) in &now_d {
                    if d.is_some() && marker.baseline.get(p) != Some(d) {
                        out.insert(p.clone());
                    }
                }
            } else {
                // The run ended without recording what it changed: what differs now from what
                // it started with may be its writing.
                self.taint_changes(&marker.baseline, &now_d)?;
                let _ = fs::remove_file(&path);
            }
        }
        let taints = self.load_taints()?;
        for (p, d) in &now_d {
            if let Some(d) = d
                && taints.tainted.get(p).is_some_and(|set| set.contains(d))
            {
                out.insert(p.clone());
            }
        }
        Ok(out)
    }
}

/// One sandboxed run's watch over the workspace's discovery-relevant files.
#[derive(Debug)]
pub struct ConfigWatch {
    workspace: PathBuf,
    env: DiscoveryEnv,
    baseline: BTreeMap<PathBuf, Option<String>>,
    marker: PathBuf,
    /// Holds the marker's lock for as long as the run lasts.
    _marker_file: fs::File,
}

impl ConfigWatch {
    /// Before a sandboxed run: snapshots the workspace's discovery-relevant files, registers
    /// the run (so concurrent runs distrust what it may write) and returns what the run's
    /// discovery may believe. Without a watch (state not writable), nothing in the workspace is
    /// believed.
    pub fn begin(workspace: &Path, env: &DiscoveryEnv) -> (Option<ConfigWatch>, WorkspaceConfig) {
        let now = collect(workspace, env);
        let started = (|| -> Result<(ConfigWatch, BTreeSet<PathBuf>), String> {
            let state = State::open(workspace)?;
            let distrusted = state.distrusted(&now)?;
            let baseline = digests(&now);
            let marker = state.dir.join("runs").join(format!(
                "{}-{}.json",
                std::process::id(),
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_nanos()
            ));
            let file = fs::OpenOptions::new()
                .create_new(true)
                .write(true)
                .open(&marker)
                .map_err(|e| io_err("create", &marker, e))?;
            flock(&file, FlockOperation::LockExclusive)
                .map_err(|e| io_err("lock", &marker, e.into()))?;
            let bytes = serde_json::to_vec(&RunMarker {
                baseline: baseline.clone(),
            })
            .map_err(|e| e.to_string())?;
            fs::write(&marker, bytes).map_err(|e| io_err("write", &marker, e))?;
            Ok((
                ConfigWatch {
                    workspace: workspace.to_path_buf(),
                    env: env.clone(),
                    baseline,
                    marker,
                    _marker_file: file,
                },
                distrusted,
            ))
        })();
        match started {
            Ok((watch, distrusted)) => {
                let cfg = WorkspaceConfig::from_collected(now, &distrusted, Vec::new());
                (Some(watch), cfg)
            }
            Err(e) => (None, WorkspaceConfig::nothing(now, e)),
        }
    }

    /// After the run: records every discovery-relevant file the run created or changed as
    /// tainted and returns notes for the outcome — a `warning:` for each such file that names
    /// hosts, which later runs will not be allowed to reach because of it.
    pub fn end(self) -> Vec<String> {
        let after = collect(&self.workspace, &self.env);
        let after_d = digests(&after);
        let recorded = State::open(&self.workspace).and_then(|s| {
            let changed = s.taint_changes(&self.baseline, &after_d)?;
            let _ = fs::remove_file(&self.marker);
            Ok(changed)
        });
        let changed = match recorded {
            Ok(c) => c,
            Err(e) => {
                // The marker stays: the next run settles it (its changes are tainted then).
                return vec![format!(
                    "warning: could not record which discovery files the command changed ({e}); the next run will"
                )];
            }
        };
        let mut notes = Vec::new();
        for rel in changed {
            // What the file alone would have allowed, to name it in the warning.
            let only: Collected = after
                .iter()
                .map(|(p, c)| (p.clone(), if *p == rel { c.clone() } else { None }))
                .collect();
            let cfg = WorkspaceConfig::from_collected(only, &BTreeSet::new(), Vec::new());
            let hosts = discover::workspace_hosts(&self.workspace, &self.env, &cfg);
            if hosts.is_empty() {
                continue;
            }
            notes.push(format!(
                "warning: the command wrote {}, which names {}; discovery ignores this content (no later run may reach a host because of it) until the file is changed outside the sandbox",
                rel.display(),
                hosts_shown(&hosts)
            ));
        }
        notes
    }
}

fn hosts_shown(hosts: &[DiscoveredHost]) -> String {
    let mut v: Vec<String> = hosts
        .iter()
        .map(|h| {
            if h.host.contains(':') {
                format!("[{}]:{}", h.host, h.port)
            } else {
                format!("{}:{}", h.host, h.port)
            }
        })
        .collect();
    v.sort();
    v.dedup();
    v.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Directories resolve as `canonicalize` resolves them (symbolic links anywhere in the
    /// path, nested links, links out of and into the workspace), and missing ones below a
    /// linked directory resolve through the link: so a workspace file reached through any
    /// link is still known as a workspace file.
    #[test]
    fn directories_resolve_like_canonicalize() {
        let root = tempfile::tempdir().expect("temp dir");
        let r = fs::canonicalize(root.path()).expect("canonical");
        let ws = r.join("ws");
        fs::create_dir_all(ws.join("dotfiles/.config/pip")).expect("mkdir");
        fs::create_dir_all(r.join("elsewhere/deep")).expect("mkdir");
        std::os::unix::fs::symlink(ws.join("dotfiles"), r.join("home")).expect("link");
        std::os::unix::fs::symlink(r.join("home"), r.join("home2")).expect("link to link");
        std::os::unix::fs::symlink("../elsewhere", ws.join("out")).expect("relative link");
        std::os::unix::fs::symlink(r.join("missing"), r.join("dangling")).expect("dangling");
        let root_of = WorkspaceRoot::new(&ws);
        for d in [
            r.join("home"),
            r.join("home/.config/pip"),
            r.join("home2/.config"),
            ws.join("out/deep"),
            r.join("elsewhere/deep"),
            ws.join("dotfiles/.config"),
        ] {
            assert_eq!(
                root_of.resolve_dir(&d),
                fs::canonicalize(&d).expect("exists"),
                "{}",
                d.display()
            );
        }
        // Missing: resolved through the links above it.
        assert_eq!(
            root_of.resolve_dir(&r.join("home2/.config/absent/x")),
            ws.join("dotfiles/.config/absent/x")
        );
        assert_eq!(
            root_of.resolve_dir(&r.join("dangling/x")),
            r.join("dangling/x")
        );
        // What that decides: a file under the linked home is a workspace file.
        assert_eq!(
            root_of.relative(&r.join("home2/.config/pip/pip.conf")),
            Some(PathBuf::from("dotfiles/.config/pip/pip.conf"))
        );
        // Lexically inside is inside, wherever a link leads.
        assert_eq!(
            root_of.relative(&ws.join("out/deep/f")),
            Some(PathBuf::from("out/deep/f"))
        );
        assert_eq!(root_of.relative(&r.join("elsewhere/f")), None);
    }
}
