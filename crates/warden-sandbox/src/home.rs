//! HOME is deny-by-default inside the sandbox: a denylist of credential files always misses the
//! next tool's (`~/.codex/auth.json`, `~/.pgpass`, ...), so the sandbox's home directory is an
//! empty, read-only tmpfs into which only the listed entries are bound, read-only: the versioned
//! list `data/home-visible.toml` (toolchains, package caches, git configuration) plus the
//! governance file's `home_visible`, the toolchain directories named by listed variables, and the
//! absolute `PATH` entries inside HOME. Writable paths and the workspace are bound on top later
//! as before; secret paths are masked on top of everything, also where a listed entry shows them
//! under another name (a symlinked `~/.cargo`).
//!
//! Both the profile's home (`$HOME`) and the password database's home of the caller are hidden,
//! so an unset or wrong `HOME` does not expose the real one. A home that is `/`, missing, or
//! contains the workspace (the workspace is the home, a dotfiles repository) is not hidden, and
//! a note says so.

use crate::SandboxProfile;
use crate::mounts::{bind, ensure_mountpoint, setattr, tmpfs, under};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// What of the home directory a sandboxed command sees by default (`data/home-visible.toml`).
pub const BUILTIN_HOME_VISIBLE: &[&str] = crate::env::HOME_VISIBLE;

/// One hidden home directory and what stays visible in it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct HomeView {
    /// The home directory (canonical), covered by an empty tmpfs.
    pub(crate) dir: PathBuf,
    /// Mode bits of the host's home directory, given to the tmpfs.
    pub(crate) mode: u32,
    /// `(location, source)`: the host's `source` (canonical) bound read-only at `location`
    /// (inside `dir`), parents before children.
    pub(crate) visible: Vec<(PathBuf, PathBuf)>,
    /// Directories (or files, when the host path is one) to create inside `dir` before it is
    /// sealed read-only: mount points of later binds (workspace, writable paths) and the working
    /// directory.
    pub(crate) mountpoints: Vec<PathBuf>,
}

/// What [`plan`] resolved.
#[derive(Debug, Default)]
pub(crate) struct HomePlan {
    pub(crate) views: Vec<HomeView>,
    /// Further places to mask secrets at: a secret under a listed entry seen through a symlink.
    pub(crate) secret_locations: Vec<PathBuf>,
    pub(crate) notes: Vec<String>,
}

fn canonical(p: &Path) -> Option<PathBuf> {
    std::fs::canonicalize(p).ok()
}

/// The relative part of a `~/…` entry (`None` for anything else or one leaving HOME).
fn home_relative(entry: &str) -> Option<&Path> {
    let rel = Path::new(entry.strip_prefix("~/")?);
    plain(rel).then_some(rel)
}

/// Is `rel` a non-empty relative path of plain names (no `.`, `..` or root)?
fn plain(rel: &Path) -> bool {
    !rel.as_os_str().is_empty()
        && rel
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// The home directories to hide: the profile's and the password database's, canonical,
/// existing, not `/`, without one inside another.
pub(crate) fn homes(profile: &SandboxProfile) -> (Vec<(PathBuf, PathBuf)>, Vec<String>) {
    let mut notes = Vec::new();
    let mut out: Vec<(PathBuf, PathBuf)> = Vec::new();
    let candidates =
        std::iter::once(profile.home.clone()).chain(crate::sys::passwd_home(crate::sys::euid()));
    for lexical in candidates {
        let Some(dir) = canonical(&lexical).filter(|d| d.is_dir()) else {
            continue;
        };
        if dir == Path::new("/") {
            notes.push(format!(
                "not enforced: hiding the home directory (the home {} is the root directory)",
                lexical.display()
            ));
            continue;
        }
        if !out.iter().any(|(l, _)| *l == lexical) {
            out.push((lexical, dir));
        }
    }
    (out, notes)
}

/// Resolve what of each home stays visible. `ws` is the canonical workspace, `writable` the
/// canonical writable paths, `cwd` the canonical working directory, `secrets` the canonical
/// secret paths.
pub(crate) fn plan(
    profile: &SandboxProfile,
    ws: &Path,
    writable: &[PathBuf],
    cwd: &Path,
    secrets: &[PathBuf],
) -> HomePlan {
    use std::os::unix::fs::MetadataExt;
    let (homes, mut notes) = homes(profile);
    // The directories covered: every home but one inside another, and none containing the
    // workspace (then the workspace, writable as a whole, is the user's choice to show).
    let mut dirs: Vec<PathBuf> = Vec::new();
    for (_, d) in &homes {
        if d.starts_with(ws) {
            notes.push(format!(
                "not enforced: hiding the home directory {} (the workspace {} contains it)",
                d.display(),
                ws.display()
            ));
            continue;
        }
        if !dirs.iter().any(|o| d.starts_with(o)) {
            dirs.retain(|o| !o.starts_with(d));
            dirs.push(d.clone());
        }
    }
    let view_of = |p: &Path| dirs.iter().position(|d| p.starts_with(d));
    let mut views: Vec<HomeView> = dirs
        .iter()
        .map(|d| HomeView {
            dir: d.clone(),
            mode: std::fs::metadata(d).map_or(0o755, |m| m.mode() & 0o7777),
            visible: Vec::new(),
            mountpoints: Vec::new(),
        })
        .collect();

    // Entries relative to HOME, from the data file, the governance file and the environment,
    // each with the index of its home in `homes`.
    let mut entries: Vec<(usize, PathBuf)> = Vec::new();
    for h in 0..homes.len() {
        for e in &profile.home_visible {
            if let Some(rel) = home_relative(e) {
                entries.push((h, rel.to_path_buf()));
            }
        }
    }
    let env_dirs = profile
        .env
        .iter()
        .filter(|(k, _)| crate::env::HOME_VISIBLE_FROM_ENV.contains(&k.as_str()))
        .map(|(_, v)| PathBuf::from(v))
        .chain(
            profile
                .env
                .iter()
                .filter(|(k, _)| k == "PATH")
                .flat_map(|(_, v)| std::env::split_paths(v).collect::<Vec<_>>()),
        )
        .filter(|p| p.is_absolute());
    for p in env_dirs {
        for (h, (lexical, canon)) in homes.iter().enumerate() {
            let rel = p
                .strip_prefix(lexical)
                .or_else(|_| p.strip_prefix(canon))
                .ok()
                .filter(|r| plain(r));
            if let Some(rel) = rel {
                entries.push((h, rel.to_path_buf()));
            }
        }
    }
    for (h, rel) in entries {
        let (lexical, home_canon) = &homes[h];
        let location = home_canon.join(&rel);
        let Some(v) = view_of(&location) else {
            continue;
        };
        // Most listed entries do not exist on a given machine: one lstat rules them out.
        if std::fs::symlink_metadata(&location).is_err() {
            continue;
        }
        let Some(source) = canonical(&lexical.join(&rel)) else {
            continue;
        };
        // A listed name that resolves to the home itself or above would show all of it; one
        // that is (inside) a secret stays hidden: secret paths mask on top of the list.
        if dirs.iter().any(|d| d.starts_with(&source))
            || secrets.iter().any(|c| source.starts_with(c))
        {
            continue;
        }
        if !views[v].visible.iter().any(|(l, _)| *l == location) {
            views[v].visible.push((location, source));
        }
    }
    for view in &mut views {
        // Parents first; an entry inside another one is shown by its parent's bind already
        // (binding it again would have to follow whatever symlinks the parent holds).
        view.visible.sort();
        let mut kept: Vec<(PathBuf, PathBuf)> = Vec::new();
        for (location, source) in view.visible.drain(..) {
            if !kept.iter().any(|(l, _)| location.starts_with(l)) {
                kept.push((location, source));
            }
        }
        view.visible = kept;
    }

    for p in std::iter::once(ws).chain(writable.iter().map(PathBuf::as_path)) {
        if let Some(v) = view_of(p) {
            views[v].mountpoints.push(p.to_path_buf());
        }
    }
    if let Some(v) = view_of(cwd) {
        let shown = cwd.starts_with(ws)
            || writable.iter().any(|w| cwd.starts_with(w))
            || views[v].visible.iter().any(|(l, _)| cwd.starts_with(l));
        if !shown {
            views[v].mountpoints.push(cwd.to_path_buf());
            if cwd != views[v].dir {
                notes.push(format!(
                    "the working directory {} is in the hidden part of the home directory: the command sees it empty",
                    cwd.display()
                ));
            }
        }
    }

    // A secret inside a listed entry is masked where the entry shows it too: the entry's bind
    // shows its source's contents under the listed name (a symlinked `~/.cargo` shows
    // `/data/cargo/credentials.toml` as `~/.cargo/credentials.toml`). Both paths are free of
    // symlinks (canonical below the bind, real directories of the tmpfs above it).
    let mut secret_locations = Vec::new();
    for view in &views {
        for (location, source) in &view.visible {
            for c in secrets {
                if let Ok(rel) = c.strip_prefix(source) {
                    let shown = location.join(rel);
                    if shown != *c && !secret_locations.contains(&shown) {
                        secret_locations.push(shown);
                    }
                }
            }
        }
    }
    HomePlan {
        views,
        secret_locations,
        notes,
    }
}

/// Build one view (PID 1, before the workspace is bound): an empty tmpfs over the home, the
/// visible entries bound read-only into it, mount points of later binds created, then sealed.
pub(crate) fn mount(view: &HomeView) -> Result<(), String> {
    let t = under("/newroot", &view.dir);
    // Missing when the home lies in a private temporary directory (a fresh tmpfs by now).
    std::fs::create_dir_all(&t).map_err(|e| format!("create {}: {e}", t.display()))?;
    tmpfs(
        &t,
        libc::MS_NOSUID | libc::MS_NODEV,
        &format!("mode={:o},size=1m", view.mode),
    )?;
    for (location, source) in &view.visible {
        let src = under("/oldroot", source);
        let target = under("/newroot", location);
        ensure_mountpoint(&src, &target)?;
        bind(&src, &target)?;
    }
    for p in &view.mountpoints {
        ensure_mountpoint(&under("/oldroot", p), &under("/newroot", p))?;
    }
    // One recursive call seals the tmpfs and every entry bound into it (the workspace and
    // writable paths are bound later, on top, with their own attributes).
    setattr(
        &t,
        crate::sys::ATTR_RDONLY | crate::sys::ATTR_NOSUID | crate::sys::ATTR_NODEV,
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::HOME_VISIBLE;

    /// The data file's rules (see its header): `~/` entries naming one path inside HOME, none a
    /// built-in secret or inside one, none of Warden's own directories, no duplicates.
    #[test]
    fn the_visible_list_follows_its_rules() {
        let mut seen = std::collections::BTreeSet::new();
        for e in HOME_VISIBLE {
            assert!(seen.insert(*e), "{e} listed twice");
            assert!(home_relative(e).is_some(), "{e}: must be ~/ and plain");
            assert!(!e.contains('*'), "{e}: no wildcards");
            for s in crate::profile::BUILTIN_SECRET_PATHS {
                let s = s.trim_end_matches('*');
                assert!(
                    !(e == &s || e.starts_with(&format!("{s}/"))),
                    "{e} is (inside) the secret path {s}"
                );
            }
            assert!(
                !e.contains("warden"),
                "{e}: Warden's own files are never listed"
            );
        }
        for never in [
            "~/.codex",
            "~/.claude",
            "~/.pgpass",
            "~/.my.cnf",
            "~/.config/containers",
            "~/.config",
            "~/.cache",
            "~/.local/share",
            "~/.npmrc",
            "~/.m2/settings.xml",
            "~/.gradle/gradle.properties",
            "~/.bundle",
            "~/.docker",
            // Shell start-up files: tokens are often exported there.
            "~/.profile",
            "~/.bash_profile",
            "~/.bash_login",
            "~/.bashrc",
            "~/.zshenv",
            "~/.zprofile",
            "~/.zshrc",
            "~/.zlogin",
            "~/.kshrc",
            "~/.config/fish",
        ] {
            assert!(!HOME_VISIBLE.contains(&never), "{never} must not be listed");
        }
        for tool in [
            "~/.cargo",
            "~/.rustup",
            "~/.npm",
            "~/.cache/pip",
            "~/.gitconfig",
        ] {
            assert!(HOME_VISIBLE.contains(&tool), "{tool} missing");
        }
        for var in crate::env::HOME_VISIBLE_FROM_ENV {
            assert!(
                crate::env::BUILTIN_ENV_PASS
                    .iter()
                    .any(|p| crate::env_name_matches(p, var)),
                "{var} makes a directory visible but is not passed to the command"
            );
        }
    }

    #[test]
    fn only_plain_home_relative_entries_count() {
        assert_eq!(home_relative("~/.cargo"), Some(Path::new(".cargo")));
        assert_eq!(home_relative("~/a/b"), Some(Path::new("a/b")));
        for bad in [
            "~",
            "~/",
            "~/../etc",
            "/etc",
            ".cargo",
            "~/a/../../x",
            "~/./a",
        ] {
            assert_eq!(home_relative(bad), None, "{bad}");
        }
    }
}
