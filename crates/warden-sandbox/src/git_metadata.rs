//! Git metadata inside the sandbox is read-only by default and writable only where git stores
//! data, because git on the host later *runs* what some of its files say (`core.fsmonitor`,
//! hooks, a `commondir` that points git at another configuration), so a sandboxed command that
//! could write them would run code outside the sandbox at the user's next `git status`.
//!
//! # The mount plan
//!
//! Git writes its top-level files by creating `NAME.lock` next to them and renaming it over
//! `NAME`, so a repository directory (`.git`, and each submodule directory under
//! `.git/modules/`) stays writable — bound onto itself, so it cannot be renamed or replaced —
//! and every entry in it that is not listed below as data is bound read-only: `rename()` onto a
//! mount point fails with `EBUSY` and writing into it with `EROFS`. So `config`, `hooks/`,
//! `info/`, `worktrees/`, a `commondir`, legacy `branches/` and `remotes/`, anything a tool
//! added and anything git adds in a later version stay as they were. A control path that is
//! missing is first created empty where an empty one changes nothing for git (`config`,
//! `config.worktree`, `hooks/`, `info/`, `modules/`, `worktrees/`, the legacy remote
//! definitions `branches/` and `remotes/`, `objects/info/alternates`),
//! so it cannot be created either; `commondir` has no such neutral form (git dies on an empty
//! one), so a `commondir` that appears during the run is moved aside afterwards and named in a
//! warning, as is any other new entry that is not data.
//!
//! | writable in the sandbox | what git keeps there | why it is safe |
//! |---|---|---|
//! | `objects/` (but `objects/info/alternates`, `objects/info/http-alternates`) | objects, packs, commit-graph, multi-pack-index | content-addressed data; nothing in it is run |
//! | `refs/`, `packed-refs`, `reftable/`, `logs/` | branches, tags, remote refs, stash, notes, replace refs, reflogs | names pointing at objects |
//! | `HEAD`, `*_HEAD` (`ORIG_HEAD`, `FETCH_HEAD`, `MERGE_HEAD`, `CHERRY_PICK_HEAD`, `REVERT_HEAD`, `REBASE_HEAD`, `BISECT_HEAD` …), `AUTO_MERGE` | the current branch and pseudo-refs | a ref or an object name |
//! | `index`, `sharedindex.*`, `index.stash.*` | the staging area (also `git stash`'s temporary index) | paths, modes and object names (a gitlink entry is reported, see below) |
//! | `*.lock` | git's lock files, renamed over their target on commit | git never reads `X.lock` as `X`; renaming one over a protected path fails |
//! | `COMMIT_EDITMSG`, `MERGE_MSG`, `MERGE_MODE`, `MERGE_RR`, `MERGE_AUTOSTASH`, `SQUASH_MSG`, `TAG_EDITMSG`, `NOTES_EDITMSG`, `EDIT_DESCRIPTION`, `NOTES_MERGE_*`, `BISECT_*` | messages and state of a merge, commit, notes merge or bisect | text git shows or replays as refs, never as commands |
//! | `rebase-merge/`, `rebase-apply/`, `sequencer/` | rebase, `git am`, cherry-pick and revert state | a rebase todo may hold `exec` lines: one left behind by the command is reported |
//! | `rr-cache/` | recorded conflict resolutions (`git rerere`) | text patches |
//! | `shallow` | the boundary of a shallow clone (`git fetch --depth`) | object names, no more power than `refs/replace/` |
//! | `description` | the repository's one-line description for gitweb | text, never read by git itself |
//! | `gc.pid`, `gc.log`, `gitk.cache` | `git gc` and gitk state | text |
//! | `lfs/`, `fsmonitor--daemon/`, `fsmonitor--daemon.ipc` | git-lfs objects; the built-in fsmonitor's cookies and socket | data; the fsmonitor runs only when `config` (read-only) says so |
//!
//! Everything else is read-only, among it: `config`, `config.worktree`, `hooks/`, `info/`
//! (`exclude`, `attributes` — which can name filter drivers —, `sparse-checkout`, `grafts`),
//! `commondir`, `worktrees/` itself and in each linked worktree's directory its `commondir`,
//! `gitdir`, `config.worktree` (its `HEAD`, index and other data stay writable, so a linked
//! worktree inside the workspace can be worked in), `modules/` itself (so no new submodule directory)
//! with, inside each existing submodule directory, the same split, `branches/`, `remotes/`,
//! `objects/info/alternates` and `objects/info/http-alternates`. A linked worktree's or an
//! absorbed submodule's `.git` *file* (the workspace's own, and those of the submodules
//! `.gitmodules` lists) is read-only too; a repository directory it names inside the workspace
//! gets the same split.
//!
//! Git commands that still work in the sandbox: `add`, `commit`, `branch`, `checkout`/`switch`,
//! `merge`, `rebase` (also `-i`), `cherry-pick`, `revert`, `stash`, `reset`, `tag`, `notes`,
//! `fetch`/`pull`, `gc`, `repack`, `prune`, `commit-graph`, `bisect`, and all of these inside
//! an existing submodule. Refused, because they write control paths: `config` (also `remote
//! add`, `branch --set-upstream-to`, `lfs install`), `worktree add`/`prune`, `submodule
//! add`/`update`/`init` (they rewrite the submodule's `core.worktree`), `sparse-checkout`,
//! hook installers; `gc`/`repack` skip `info/refs` with an error message but succeed (only
//! dumb-HTTP serving reads it).
//!
//! # After the run
//!
//! [`Watch::report`] compares the repository directories with how they were at the start and
//! names, in a `warning:` note, what got through: a new entry that is not data (a `commondir`
//! is also moved aside to `commondir.warden-quarantined`), a replaced symbolic link among the
//! control entries (a link is not a mount point, so it cannot be pinned), a rebase left with
//! `exec` lines in its todo or a merge strategy (a program), and nested repositories the host's
//! `git status` will enter — a gitlink (`160000` entry) the index gained, or a repository that
//! appeared at a submodule path that had none — with their code-running parts: `git status`
//! enters them and runs what their configuration says (`core.fsmonitor`, for one), and the
//! command can create one anywhere in the workspace and `git add` it.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

/// Top-level directories of a repository directory where git stores data (see the module doc).
pub const GIT_DATA_DIRS: &[&str] = &[
    "objects",
    "refs",
    "logs",
    "reftable",
    "rebase-merge",
    "rebase-apply",
    "sequencer",
    "rr-cache",
    "lfs",
    "fsmonitor--daemon",
];

/// Top-level files of a repository directory where git stores data (see the module doc); also
/// every `*_HEAD` pseudo-ref, `BISECT_*`, `NOTES_MERGE_*`, `sharedindex.*`, `index.stash.*` and
/// `*.lock` (see [`is_data_name`]).
pub const GIT_DATA_FILES: &[&str] = &[
    "HEAD",
    "AUTO_MERGE",
    "index",
    "packed-refs",
    "shallow",
    "description",
    "COMMIT_EDITMSG",
    "MERGE_MSG",
    "MERGE_MODE",
    "MERGE_RR",
    "MERGE_AUTOSTASH",
    "SQUASH_MSG",
    "TAG_EDITMSG",
    "NOTES_EDITMSG",
    "EDIT_DESCRIPTION",
    "gc.pid",
    "gc.log",
    "gitk.cache",
    "fsmonitor--daemon.ipc",
];

/// Control paths created empty when missing, so they can be mounted read-only: for each, an
/// empty file or directory means the same to git as none (`/` marks a directory).
pub const GIT_PLACEHOLDERS: &[&str] = &[
    "config",
    "config.worktree",
    "hooks/",
    "info/",
    "modules/",
    "worktrees/",
    "branches/",
    "remotes/",
    "objects/info/alternates",
];

/// Read-only paths inside the (writable) `objects/` directory.
const OBJECTS_CONTROL: &[&str] = &["objects/info/alternates", "objects/info/http-alternates"];

/// A control file git reads that has no neutral empty form; moved aside when it appears.
const QUARANTINED: &str = "commondir";

/// How deep submodule directories under `.git/modules/` are followed (names may contain `/`,
/// and submodules nest).
const MAX_MODULE_DEPTH: usize = 6;

/// Whether `name`, a top-level entry of a repository directory, is where git stores data.
pub fn is_data_name(name: &str) -> bool {
    let pseudo_ref = |n: &str| {
        n.strip_suffix("_HEAD").is_some_and(|stem| {
            !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
        })
    };
    GIT_DATA_DIRS.contains(&name)
        || GIT_DATA_FILES.contains(&name)
        || pseudo_ref(name)
        || name.starts_with("BISECT_")
        || name.starts_with("NOTES_MERGE_")
        || name.starts_with("sharedindex.")
        || name.starts_with("index.stash.")
        || (name.ends_with(".lock") && name.len() > ".lock".len())
}

/// Whether `rel`, a path relative to the workspace, is git metadata the sandbox keeps
/// read-only: beneath the workspace's `.git` directory and not data (see the module doc). For
/// tools that write on the sandbox's behalf (e.g. an MCP file tool), so they refuse the same.
pub fn is_git_control_path(rel: &Path) -> bool {
    let parts: Vec<&str> = rel
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => s.to_str(),
            _ => None,
        })
        .collect();
    match parts.as_slice() {
        [".git"] => true,
        [".git", first, rest @ ..] => {
            let inside = || rest.join("/");
            !is_data_name(first)
                || (*first == "objects"
                    && OBJECTS_CONTROL.contains(&format!("objects/{}", inside()).as_str()))
        }
        _ => false,
    }
}

/// One mount of the plan, applied in order (a later one may sit inside an earlier one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) enum Mount {
    /// Bound from the host, writable (a repository directory: pinned against rename).
    Writable(PathBuf),
    /// Bound onto itself, read-only.
    ReadOnly(PathBuf),
}

/// The state the post-run inspection compares against.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    /// Workspace root (for names in reports).
    workspace: PathBuf,
    /// Per repository directory: its top-level entry names at the start.
    dirs: BTreeMap<PathBuf, BTreeSet<String>>,
    /// Symbolic links among control entries, and where they pointed.
    links: BTreeMap<PathBuf, PathBuf>,
    /// Rebase todo files and their state at the start (`None`: absent).
    todos: BTreeMap<PathBuf, Option<Fingerprint>>,
    /// The workspace repository's index at the start, and the submodule paths `.gitmodules`
    /// listed then whose repository existed (and so was protected).
    index: Option<(PathBuf, Option<Fingerprint>, BTreeSet<String>)>,
    /// Submodule paths `.gitmodules` listed at the start with no repository yet: one that
    /// appears there is entered by `git status` like any gitlink's.
    unpopulated: Vec<String>,
    /// The workspace's top-level directories that held a repository (`DIR/.git`) at the start:
    /// one that appears elsewhere with code-running parts is moved aside (see
    /// [`nested_repositories`]).
    nested: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Fingerprint {
    ino: u64,
    size: u64,
    mtime_ns: i128,
}

fn fingerprint(p: &Path) -> Option<Fingerprint> {
    let m = std::fs::symlink_metadata(p).ok()?;
    Some(Fingerprint {
        ino: m.ino(),
        size: m.size(),
        mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
    })
}

/// The mounts for the workspace's git metadata, and the watch for after the run.
/// `placeholder(rel)` creates a missing path relative to the workspace (see
/// `supervisor::create_placeholder`).
pub(crate) fn plan(
    ws: &Path,
    placeholder: &dyn Fn(&str) -> Result<(), crate::SandboxError>,
) -> Result<(Vec<Mount>, Watch), crate::SandboxError> {
    let mut p = Planner {
        ws,
        placeholder,
        mounts: Vec::new(),
        watch: Watch {
            workspace: ws.to_path_buf(),
            ..Watch::default()
        },
    };
    let git = ws.join(".git");
    let submodules = submodule_paths(ws);
    match std::fs::symlink_metadata(&git) {
        Ok(m) if m.is_dir() => {
            let (known, unpopulated): (Vec<String>, Vec<String>) = submodules
                .iter()
                .filter_map(|s| s.to_str().map(str::to_owned))
                .partition(|s| std::fs::symlink_metadata(ws.join(s).join(".git")).is_ok());
            let known = known.into_iter().collect();
            p.watch.unpopulated = unpopulated;
            let index = git.join("index");
            p.watch.index = Some((index.clone(), fingerprint(&index), known));
            p.gitdir(&git, 0, true)?;
        }
        // A linked worktree's (or an absorbed submodule's) `.git` names the repository
        // directory; rewritten, it would point git at hooks and config the command wrote.
        Ok(m) if m.is_file() => p.git_file(&git, ws)?,
        // A link is no mount point: it is watched, and the repository directory it names gets
        // the split when it lies inside the workspace.
        Ok(m) if m.file_type().is_symlink() => {
            p.watch
                .links
                .insert(git.clone(), std::fs::read_link(&git).unwrap_or_default());
            if let Ok(target) = std::fs::canonicalize(&git)
                && target.starts_with(ws)
                && target != ws
                && target.is_dir()
            {
                p.gitdir(&target, 0, true)?;
            }
        }
        _ => {}
    }
    // Repositories at the workspace's top level that are not submodules (a clone inside the
    // workspace): editors look for repositories there and run git in them on the host.
    let nested = nested_repositories(ws);
    p.watch.nested = nested.iter().cloned().collect();
    let subs: BTreeSet<PathBuf> = submodules.iter().cloned().collect();
    let submodules = submodules.into_iter().chain(
        nested
            .into_iter()
            .map(PathBuf::from)
            .filter(|n| !subs.contains(n)),
    );
    for sub in submodules {
        let dot_git = ws.join(&sub).join(".git");
        match std::fs::symlink_metadata(&dot_git) {
            Ok(m) if m.is_dir() => p.gitdir(&dot_git, 1, true)?,
            Ok(m) if m.is_file() => p.git_file(&dot_git, &ws.join(&sub))?,
            _ => {}
        }
    }
    Ok((p.mounts, p.watch))
}

struct Planner<'a> {
    ws: &'a Path,
    placeholder: &'a dyn Fn(&str) -> Result<(), crate::SandboxError>,
    mounts: Vec<Mount>,
    watch: Watch,
}

impl Planner<'_> {
    fn rel(&self, p: &Path) -> Option<String> {
        p.strip_prefix(self.ws)
            .ok()
            .and_then(|r| r.to_str())
            .map(str::to_owned)
    }

    /// A `.git` file: itself read-only; the repository directory it names, when inside the
    /// workspace (and not already planned), gets the repository split.
    fn git_file(&mut self, file: &Path, base: &Path) -> Result<(), crate::SandboxError> {
        self.mounts.push(Mount::ReadOnly(file.to_path_buf()));
        let Some(target) = std::fs::read_to_string(file).ok().and_then(|t| {
            t.lines()
                .next()
                .and_then(|l| l.strip_prefix("gitdir:"))
                .map(|l| base.join(l.trim()))
        }) else {
            return Ok(());
        };
        let Ok(target) = std::fs::canonicalize(target) else {
            return Ok(());
        };
        if target.starts_with(self.ws)
            && target.is_dir()
            && !self.watch.dirs.contains_key(&target)
            && !self
                .mounts
                .iter()
                .any(|m| matches!(m, Mount::Writable(d) if target.starts_with(d)))
        {
            self.gitdir(&target, 1, true)?;
        }
        Ok(())
    }

    /// A repository directory: writable and pinned; each entry that is not data read-only;
    /// submodule directories under `modules/` split the same way.
    /// A linked worktree's directory under `worktrees/` is split the same way, without
    /// placeholders (git reads its configuration and hooks from the common directory).
    fn gitdir(
        &mut self,
        dir: &Path,
        depth: usize,
        placeholders: bool,
    ) -> Result<(), crate::SandboxError> {
        if placeholders && let Some(rel) = self.rel(dir) {
            for ph in GIT_PLACEHOLDERS {
                (self.placeholder)(&format!("{rel}/{ph}"))?;
            }
        }
        self.mounts.push(Mount::Writable(dir.to_path_buf()));
        let mut names = BTreeSet::new();
        let mut entries: Vec<(String, PathBuf, std::fs::Metadata)> = std::fs::read_dir(dir)
            .map_err(crate::SandboxError::io(format!("read {}", dir.display())))?
            .flatten()
            .filter_map(|e| {
                // A name that is not UTF-8 is never data (so read-only) and shown lossily.
                let name = e.file_name().to_string_lossy().into_owned();
                Some((name, e.path(), e.metadata().ok()?))
            })
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        for (name, path, meta) in entries {
            names.insert(name.clone());
            if meta.file_type().is_symlink() {
                // A link is no mount point: its target can be protected, the link itself only
                // watched.
                let target = std::fs::read_link(&path).unwrap_or_default();
                self.watch.links.insert(path.clone(), target);
                if !is_data_name(&name)
                    && let Ok(t) = std::fs::canonicalize(&path)
                    && t.starts_with(self.ws)
                    && t != self.ws
                {
                    self.mounts.push(Mount::ReadOnly(t));
                }
                continue;
            }
            if name == "objects" {
                for c in OBJECTS_CONTROL {
                    let p = dir.join(c);
                    if std::fs::symlink_metadata(&p).is_ok_and(|m| !m.file_type().is_symlink()) {
                        self.mounts.push(Mount::ReadOnly(p));
                    }
                }
                continue;
            }
            if name == "rebase-merge" {
                let todo = path.join("git-rebase-todo");
                self.watch.todos.insert(todo.clone(), fingerprint(&todo));
            }
            if is_data_name(&name) {
                continue;
            }
            self.mounts.push(Mount::ReadOnly(path.clone()));
            if name == "modules" && meta.is_dir() && depth < MAX_MODULE_DEPTH {
                self.modules(&path, depth + 1)?;
            }
            if name == "worktrees" && meta.is_dir() && placeholders {
                // Each linked worktree's own directory (its HEAD, index, reflog …), so one
                // inside the workspace can be worked in.
                let mut wts: Vec<PathBuf> = std::fs::read_dir(&path)
                    .into_iter()
                    .flatten()
                    .flatten()
                    .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                    .map(|e| e.path())
                    .filter(|w| w.join("HEAD").is_file())
                    .collect();
                wts.sort();
                for wt in wts {
                    self.gitdir(&wt, depth + 1, false)?;
                }
            }
        }
        // A rebase the command starts is watched too.
        let todo = dir.join("rebase-merge/git-rebase-todo");
        self.watch.todos.entry(todo).or_insert(None);
        self.watch.dirs.insert(dir.to_path_buf(), names);
        Ok(())
    }

    /// Submodule repository directories below `modules/` (a directory holding `HEAD`; submodule
    /// names may contain `/`, so others are walked into).
    fn modules(&mut self, dir: &Path, depth: usize) -> Result<(), crate::SandboxError> {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        let mut subs: Vec<PathBuf> = rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.path())
            .collect();
        subs.sort();
        for sub in subs {
            if sub.join("HEAD").is_file() {
                self.gitdir(&sub, depth, true)?;
            } else if depth < MAX_MODULE_DEPTH {
                self.modules(&sub, depth + 1)?;
            }
        }
        Ok(())
    }
}

/// The names of the workspace's top-level directories (not links) that hold a `.git`: the
/// repositories an editor finds by scanning the folder it opened (VS Code looks one level down)
/// and runs git in, on the host.
fn nested_repositories(ws: &Path) -> Vec<String> {
    let Ok(rd) = std::fs::read_dir(ws) else {
        return Vec::new();
    };
    let mut out: Vec<String> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()) && e.file_name() != ".git")
        .filter(|e| std::fs::symlink_metadata(e.path().join(".git")).is_ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .collect();
    out.sort();
    out
}

/// The `path = …` values of the workspace's `.gitmodules` that are plain relative paths.
fn submodule_paths(ws: &Path) -> Vec<PathBuf> {
    let Ok(text) = std::fs::read_to_string(ws.join(".gitmodules")) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once('=')?;
            (k.trim().eq_ignore_ascii_case("path"))
                .then(|| PathBuf::from(v.trim().trim_matches('"')))
        })
        .filter(|p| {
            !p.as_os_str().is_empty() && p.components().all(|c| matches!(c, Component::Normal(_)))
        })
        .collect()
}

/// `p` as a report names it: relative to the workspace `ws` when inside it.
pub(crate) fn shown(p: &Path, ws: &Path) -> String {
    p.strip_prefix(ws).unwrap_or(p).display().to_string()
}

/// Move `p` aside (see [`quarantine`]) and say so for a report: `moved aside to NAME`, or why
/// it could not be.
pub(crate) fn move_aside(p: &Path, ws: &Path) -> String {
    quarantine(p).map_or_else(
        |e| format!("could not be moved aside: {e}"),
        |a| format!("moved aside to {}", shown(&a, ws)),
    )
}

impl Watch {
    fn show(&self, p: &Path) -> String {
        shown(p, &self.workspace)
    }

    /// What got through, as one `warning: …` note (none when nothing did). Moves a new
    /// `commondir` aside.
    pub(crate) fn report(&self) -> Option<String> {
        let mut found = Vec::new();
        for (dir, before) in &self.dirs {
            let Ok(rd) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut now: Vec<(String, PathBuf)> = rd
                .flatten()
                .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
                .filter(|(n, _)| !before.contains(n) && !is_data_name(n))
                .collect();
            now.sort();
            for (name, path) in now {
                let what = describe(&path);
                if name == QUARANTINED {
                    found.push(format!(
                        "{} ({what}; {})",
                        self.show(&path),
                        move_aside(&path, &self.workspace)
                    ));
                } else {
                    found.push(format!("{} ({what})", self.show(&path)));
                }
            }
        }
        for (link, target) in &self.links {
            if std::fs::read_link(link).ok().as_ref() != Some(target) {
                found.push(format!(
                    "{} (a symbolic link, replaced: {})",
                    self.show(link),
                    describe(link)
                ));
            }
        }
        for (todo, before) in &self.todos {
            let now = fingerprint(todo);
            if now.is_some() && &now != before {
                let text = std::fs::read_to_string(todo).unwrap_or_default();
                let exec: Vec<&str> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| {
                        let w = l.split_whitespace().next().unwrap_or_default();
                        w == "x" || w == "exec"
                    })
                    .collect();
                // A merge strategy names a program (`git merge-<strategy>`) too.
                let strategy = todo.with_file_name("strategy");
                if let Ok(st) = std::fs::read_to_string(&strategy) {
                    found.push(format!(
                        "{} (a rebase left in progress with the merge strategy {:?})",
                        self.show(&strategy),
                        clip(st.trim())
                    ));
                }
                if !exec.is_empty() {
                    found.push(format!(
                        "{} (a rebase left in progress that runs commands on `git rebase --continue`: {})",
                        self.show(todo),
                        exec.iter().map(|l| clip(l)).collect::<Vec<_>>().join("; ")
                    ));
                }
            }
        }
        if let Some((index, before, known)) = &self.index {
            let now = fingerprint(index);
            // Gitlinks the index gained, and submodule paths whose repository appeared: each
            // a nested repository the host's `git status` enters (one that is not there is
            // not entered).
            let mut links: BTreeSet<String> = if now.is_some() && &now != before {
                gitlinks(index).into_iter().collect()
            } else {
                BTreeSet::new()
            };
            links.extend(self.unpopulated.iter().cloned());
            let ws = &self.workspace;
            links.retain(|l| {
                !known.contains(l) && std::fs::symlink_metadata(ws.join(l).join(".git")).is_ok()
            });
            let links: Vec<String> = links
                .into_iter()
                .map(|l| {
                    let parts =
                        crate::new_repository::code_running_parts(&ws.join(&l).join(".git"));
                    if parts.is_empty() {
                        l
                    } else {
                        format!("{l}: {}", parts.join(", "))
                    }
                })
                .collect();
            if !links.is_empty() {
                found.push(format!(
                    "new nested repositories linked in {} ({}): `git status` enters them and \
                     runs what their configuration says",
                    self.show(index),
                    links.join(", ")
                ));
            }
        }
        // Repositories created at the top level with what runs code: moved aside whole (a
        // clone or `git init` made in the sandbox has only sample hooks and plain configuration).
        for name in nested_repositories(&self.workspace) {
            let dot_git = self.workspace.join(&name).join(".git");
            if self.nested.contains(&name) {
                continue;
            }
            let parts = crate::new_repository::code_running_parts(&dot_git);
            if parts.is_empty() {
                continue;
            }
            found.push(format!(
                "{} (a new repository with {}; {})",
                self.show(&dot_git),
                parts.join(", "),
                move_aside(&dot_git, &self.workspace)
            ));
        }
        (!found.is_empty()).then(|| {
            format!(
                "warning: the command changed git metadata that git reads outside the sandbox \
                 (it can run code or redirect git there): {}",
                found.join("; ")
            )
        })
    }
}

fn clip(s: &str) -> String {
    let mut out: String = s.chars().take(80).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// A short description of a path for the report: a file's first line, a link's target.
pub(crate) fn describe(p: &Path) -> String {
    match std::fs::symlink_metadata(p) {
        Ok(m) if m.file_type().is_symlink() => format!(
            "link to {}",
            std::fs::read_link(p).unwrap_or_default().display()
        ),
        Ok(m) if m.is_dir() => "a directory".into(),
        Ok(_) => {
            let text = std::fs::read(p).unwrap_or_default();
            let first = String::from_utf8_lossy(&text);
            format!("{:?}", clip(first.lines().next().unwrap_or_default()))
        }
        Err(_) => "gone".into(),
    }
}

/// Move `p` aside to `p.warden-quarantined` (or `…-N`), where git does not read it.
fn quarantine(p: &Path) -> std::io::Result<PathBuf> {
    let base = format!("{}.warden-quarantined", p.display());
    for n in 0..100 {
        let to = PathBuf::from(if n == 0 {
            base.clone()
        } else {
            format!("{base}-{n}")
        });
        if std::fs::symlink_metadata(&to).is_err() {
            std::fs::rename(p, &to)?;
            return Ok(to);
        }
    }
    Err(std::io::Error::other("too many quarantined copies"))
}

/// The paths of the gitlink (`160000`, a nested repository) entries of a git index (versions
/// 2 to 4); empty when it cannot be read.
fn gitlinks(index: &Path) -> Vec<String> {
    let Ok(data) = std::fs::read(index) else {
        return Vec::new();
    };
    parse_gitlinks(&data).unwrap_or_default()
}

fn parse_gitlinks(data: &[u8]) -> Option<Vec<String>> {
    let be32 = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(data.get(at..at + 4)?.try_into().ok()?))
    };
    if data.get(0..4)? != b"DIRC" {
        return None;
    }
    let version = be32(4)?;
    let count = be32(8)?;
    if !(2..=4).contains(&version) {
        return None;
    }
    // The object name is 20 bytes (SHA-1) or 32 (SHA-256); the index does not say which, so
    // take the size whose entries parse.
    for hash in [20usize, 32] {
        if let Some(found) = parse_entries(data, version, count, hash) {
            return Some(found);
        }
    }
    None
}

fn parse_entries(data: &[u8], version: u32, count: u32, hash: usize) -> Option<Vec<String>> {
    let mut at = 12usize;
    let mut previous: Vec<u8> = Vec::new();
    let mut out = Vec::new();
    // The index ends with extensions and a checksum of `hash` bytes.
    let end = data.len().checked_sub(hash)?;
    for _ in 0..count {
        let fixed = 40 + hash + 2;
        let entry = data.get(at..at + fixed)?;
        let mode = u32::from_be_bytes(entry.get(24..28)?.try_into().ok()?);
        let flags = u16::from_be_bytes(entry.get(40 + hash..fixed)?.try_into().ok()?);
        let mut p = at + fixed;
        if version >= 3 && flags & 0x4000 != 0 {
            p += 2;
        }
        let path: Vec<u8> = if version == 4 {
            // A varint: how many bytes to drop from the previous path, then a NUL-ended suffix.
            let mut b = *data.get(p)?;
            p += 1;
            let mut drop = usize::from(b & 0x7f);
            while b & 0x80 != 0 {
                b = *data.get(p)?;
                p += 1;
                drop = (drop + 1)
                    .checked_shl(7)?
                    .checked_add(usize::from(b & 0x7f))?;
            }
            let keep = previous.len().checked_sub(drop)?;
            let nul = data.get(p..end)?.iter().position(|&c| c == 0)?;
            let mut path = previous[..keep].to_vec();
            path.extend_from_slice(&data[p..p + nul]);
            p += nul + 1;
            path
        } else {
            let nul = data.get(p..end)?.iter().position(|&c| c == 0)?;
            let path = data[p..p + nul].to_vec();
            // Entries are padded with 1–8 NULs to a multiple of 8 bytes.
            let len = p + nul - at;
            p = at + (len + 8) / 8 * 8;
            path
        };
        if p > end {
            return None;
        }
        if mode == 0o160_000 {
            out.push(String::from_utf8_lossy(&path).into_owned());
        }
        previous = path;
        at = p;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_names_are_recognised_and_control_names_are_not() {
        for d in [
            "HEAD",
            "ORIG_HEAD",
            "FETCH_HEAD",
            "CHERRY_PICK_HEAD",
            "REVERT_HEAD",
            "AUTO_MERGE",
            "index",
            "index.lock",
            "HEAD.lock",
            "packed-refs.lock",
            "objects",
            "refs",
            "logs",
            "rebase-merge",
            "BISECT_LOG",
            "sharedindex.0123",
            "index.stash.42",
        ] {
            assert!(is_data_name(d), "{d}");
        }
        for c in [
            "config",
            "config.worktree",
            "commondir",
            "hooks",
            "info",
            "modules",
            "worktrees",
            "remotes",
            "branches",
            "gitdir",
            "_HEAD",
            "evil_head",
            ".lock",
            "something-new",
        ] {
            assert!(!is_data_name(c), "{c}");
        }
    }

    #[test]
    fn control_paths_for_write_tools() {
        for c in [
            ".git",
            ".git/config",
            ".git/commondir",
            ".git/hooks/pre-commit",
            ".git/modules/x/config",
            ".git/worktrees/w/gitdir",
            ".git/objects/info/alternates",
            ".git/info/attributes",
        ] {
            assert!(is_git_control_path(Path::new(c)), "{c}");
        }
        for d in [
            ".git/HEAD",
            ".git/index",
            ".git/refs/heads/main",
            ".git/objects/ab/cdef",
            ".git/COMMIT_EDITMSG",
            "src/.git/config",
            "README",
        ] {
            assert!(!is_git_control_path(Path::new(d)), "{d}");
        }
    }

    /// A repository directory is writable; each entry but data read-only, missing control
    /// paths created empty first; a submodule directory under `modules/` gets the same split;
    /// a symbolic link is watched and its target (inside the workspace) protected.
    #[test]
    fn the_plan_binds_every_entry_but_data_read_only() {
        let root = tempfile::tempdir().unwrap();
        let ws = root.path().canonicalize().unwrap();
        let g = ws.join(".git");
        for d in [
            "hooks",
            "objects/info",
            "refs/heads",
            "logs",
            "modules/lib/a/objects",
            "worktrees/w/logs",
            "githooks",
        ] {
            std::fs::create_dir_all(g.join(d)).unwrap();
        }
        for f in [
            "HEAD",
            "config",
            "description",
            "index",
            "ORIG_HEAD",
            "packed-refs",
            "index.lock",
            "tool-state",
            "modules/lib/a/HEAD",
            "worktrees/w/HEAD",
            "worktrees/w/index",
            "worktrees/w/commondir",
            "worktrees/w/gitdir",
        ] {
            std::fs::write(g.join(f), "x").unwrap();
        }
        std::fs::create_dir_all(ws.join("shared-hooks")).unwrap();
        std::os::unix::fs::symlink("../shared-hooks", g.join("info")).unwrap();
        let (mounts, watch) = plan(&ws, &|rel: &str| {
            crate::supervisor::create_placeholder(&ws, rel)
        })
        .unwrap();
        let ro = |p: &str| Mount::ReadOnly(g.join(p));
        let expected = vec![
            Mount::Writable(g.clone()),
            ro("branches"),
            ro("config"),
            ro("config.worktree"),
            ro("githooks"),
            ro("hooks"),
            Mount::ReadOnly(ws.join("shared-hooks")),
            ro("modules"),
            Mount::Writable(g.join("modules/lib/a")),
            ro("modules/lib/a/branches"),
            ro("modules/lib/a/config"),
            ro("modules/lib/a/config.worktree"),
            ro("modules/lib/a/hooks"),
            ro("modules/lib/a/info"),
            ro("modules/lib/a/modules"),
            ro("modules/lib/a/remotes"),
            ro("modules/lib/a/worktrees"),
            ro("objects/info/alternates"),
            ro("remotes"),
            ro("tool-state"),
            ro("worktrees"),
            Mount::Writable(g.join("worktrees/w")),
            ro("worktrees/w/commondir"),
            ro("worktrees/w/gitdir"),
        ];
        assert_eq!(mounts, expected);
        // The placeholders exist, empty; no `info/` was made through the link.
        assert_eq!(std::fs::read(g.join("config.worktree")).unwrap(), b"");
        assert!(g.join("modules/lib/a/hooks").is_dir());
        assert!(!g.join("worktrees/w/config").exists());
        assert_eq!(watch.links.len(), 1);
        assert_eq!(watch.report(), None, "nothing changed");

        // A new commondir is moved aside and named; a new tool file is named.
        std::fs::write(g.join("commondir"), "refs/x\n").unwrap();
        std::fs::write(g.join("newthing"), "y").unwrap();
        std::fs::write(g.join("FETCH_HEAD"), "data").unwrap();
        let w = watch.report().unwrap();
        assert!(
            w.contains(
                ".git/commondir (\"refs/x\"; moved aside to .git/commondir.warden-quarantined)"
            ) && w.contains(".git/newthing")
                && !w.contains("FETCH_HEAD"),
            "{w}"
        );
        assert!(!g.join("commondir").exists());
        // A replaced link is named.
        std::fs::remove_file(g.join("info")).unwrap();
        std::fs::create_dir(g.join("info")).unwrap();
        assert!(
            watch
                .report()
                .unwrap()
                .contains(".git/info (a symbolic link, replaced")
        );
    }

    /// The module doc's table names every data entry.
    #[test]
    fn the_doc_table_lists_every_data_name() {
        let doc = include_str!("git_metadata.rs");
        let table: String = doc
            .lines()
            .take_while(|l| l.starts_with("//!"))
            .filter(|l| l.starts_with("//! | "))
            .collect();
        for n in GIT_DATA_DIRS {
            assert!(
                table.contains(&format!("`{n}/`")),
                "{n}/ missing from the table"
            );
        }
        for n in GIT_DATA_FILES {
            assert!(
                table.contains(&format!("`{n}`")),
                "{n} missing from the table"
            );
        }
    }

    /// Real indexes written by git, in every version, with a gitlink among ordinary files.
    #[test]
    fn gitlinks_are_found_in_real_indexes() {
        let git = |dir: &Path, args: &[&str]| {
            let o = std::process::Command::new("git")
                .args(args)
                .current_dir(dir)
                .env("GIT_CONFIG_NOSYSTEM", "1")
                .env("GIT_CONFIG_GLOBAL", "/dev/null")
                .env("GIT_AUTHOR_NAME", "t")
                .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
                .env("GIT_COMMITTER_NAME", "t")
                .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
                .output()
                .expect("git");
            assert!(o.status.success(), "{args:?}: {o:?}");
        };
        let root = tempfile::tempdir().unwrap();
        let ws = root.path();
        git(ws, &["init", "-q"]);
        std::fs::create_dir_all(ws.join("a/deeper/dir")).unwrap();
        std::fs::write(ws.join("a/deeper/dir/file"), "x").unwrap();
        std::fs::write(ws.join("a/file2"), "y").unwrap();
        std::fs::create_dir_all(ws.join("nested")).unwrap();
        git(&ws.join("nested"), &["init", "-q"]);
        git(
            &ws.join("nested"),
            &["commit", "-q", "--allow-empty", "-m", "n"],
        );
        git(ws, &["add", "a", "nested"]);
        for v in ["2", "3", "4"] {
            git(ws, &["update-index", "--index-version", v]);
            if v == "3" {
                // An intent-to-add entry carries the extended flags of version 3.
                std::fs::write(ws.join("a/new"), "z").unwrap();
                git(ws, &["add", "-N", "a/new"]);
            }
            assert_eq!(
                gitlinks(&ws.join(".git/index")),
                ["nested"],
                "index version {v}"
            );
        }
        assert!(gitlinks(&ws.join("a/file2")).is_empty());
    }
}
