//! Configuration in the workspace that programs on the host run code from (an agent's hooks and
//! MCP servers, an editor's tasks, a dev container's host command, a commit-hook manager's
//! hooks): read-only inside the sandbox when present, moved aside after the run when the command
//! created it, so that a sandboxed command cannot plant what runs later outside the sandbox.
//! The list is data (`policy/workspace-code-config.txt`); `.git` has its own rule
//! (`git_metadata.rs`).

use std::path::{Component, Path, PathBuf};

/// The built-in list (data file `policy/workspace-code-config.txt`).
pub const BUILTIN_CODE_CONFIG: &str = include_str!("../policy/workspace-code-config.txt");

/// The paths of the built-in list, relative to the workspace root (a directory's ends in `/`).
pub fn builtin_code_config() -> Vec<String> {
    BUILTIN_CODE_CONFIG
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

/// Is `entry` a plain path relative to the workspace, or to the home directory after `~/` (no
/// `.`, `..`, root or empty name)?
pub(crate) fn valid_entry(entry: &str) -> bool {
    let rel = entry
        .strip_prefix("~/")
        .unwrap_or(entry)
        .trim_end_matches('/');
    !rel.is_empty()
        && Path::new(rel)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// What the post-run inspection compares against.
#[derive(Debug, Default)]
pub(crate) struct Watch {
    workspace: PathBuf,
    /// Entries missing at the start.
    absent: Vec<PathBuf>,
    /// Entries that were symbolic links: where each pointed, and whether its target existed.
    links: Vec<(PathBuf, PathBuf, bool)>,
}

/// Where the code-config `entry` is: under the workspace `ws`, or for a `~/` entry under each
/// home directory inside the workspace (a home outside it is hidden but for listed entries,
/// read-only: see `home.rs`). The sandbox protects these paths; a governor that grants a write
/// of one opens the entry (`warden_govern::execute::grant`).
pub fn locate_code_config(entry: &str, ws: &Path, homes: &[PathBuf]) -> Vec<PathBuf> {
    match entry.strip_prefix("~/") {
        Some(rel) => homes
            .iter()
            .filter(|h| h.starts_with(ws))
            .map(|h| h.join(rel.trim_end_matches('/')))
            .collect(),
        None => vec![ws.join(entry.trim_end_matches('/'))],
    }
}

/// The paths to bind read-only (canonical, existing), and the watch for after the run. `homes`:
/// the canonical home directories.
pub(crate) fn plan(ws: &Path, homes: &[PathBuf], entries: &[String]) -> (Vec<PathBuf>, Watch) {
    let mut readonly = Vec::new();
    let mut watch = Watch {
        workspace: ws.to_path_buf(),
        ..Watch::default()
    };
    let paths = entries
        .iter()
        .filter(|e| valid_entry(e))
        .flat_map(|e| locate_code_config(e, ws, homes));
    for path in paths {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            watch.absent.push(path);
            continue;
        };
        // A link is no mount point (it can be replaced): it is watched, and its target, when
        // there is one, bound read-only like the entry itself.
        let target = std::fs::canonicalize(&path).ok();
        if meta.file_type().is_symlink() {
            let to = std::fs::read_link(&path).unwrap_or_default();
            watch.links.push((path.clone(), to, target.is_some()));
        }
        if let Some(t) = target.filter(|t| t != ws && t != Path::new("/")) {
            readonly.push(t);
        }
    }
    (readonly, watch)
}

impl Watch {
    /// Moves aside what the command created at a protected path (a new entry, a link that now
    /// points elsewhere or whose target appeared) and says so in one `warning: …` note (none
    /// when nothing changed).
    pub(crate) fn report(&self) -> Option<String> {
        let created = self
            .absent
            .iter()
            .filter(|p| std::fs::symlink_metadata(p).is_ok());
        let relinked = self.links.iter().filter_map(|(p, to, existed)| {
            let now = std::fs::read_link(p).ok();
            let changed =
                now.as_ref() != Some(to) || (!existed && std::fs::canonicalize(p).is_ok());
            (changed && std::fs::symlink_metadata(p).is_ok()).then_some(p)
        });
        let found: Vec<String> = created
            .chain(relinked)
            .map(|p| {
                let what = crate::git_metadata::describe(p);
                format!(
                    "{} ({what}; {})",
                    crate::git_metadata::shown(p, &self.workspace),
                    crate::git_metadata::move_aside(p, &self.workspace)
                )
            })
            .collect();
        (!found.is_empty()).then(|| {
            format!(
                "warning: the command wrote configuration that programs outside the sandbox run \
                 code from (an agent's hooks or MCP servers, an editor's tasks, commit hooks); \
                 to make such a change, approve a command that names the file, or make it \
                 outside the sandbox: {}",
                found.join("; ")
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_builtin_list_is_plain_relative_paths_each_with_a_reason() {
        let entries = builtin_code_config();
        assert!(entries.len() >= 10, "{entries:?}");
        for e in &entries {
            assert!(valid_entry(e), "{e:?}");
        }
        for line in BUILTIN_CODE_CONFIG
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        {
            let mut words = line.split_whitespace();
            let path = words.next().unwrap_or_default();
            assert!(words.next().is_some(), "{path}: say who runs what from it");
        }
        for needle in [
            ".claude/",
            ".mcp.json",
            ".vscode/",
            ".devcontainer/",
            ".husky/",
        ] {
            assert!(entries.iter().any(|e| e == needle), "{needle} missing");
        }
    }

    #[test]
    fn entries_that_leave_the_workspace_are_not_valid() {
        for bad in ["", "/", "/etc/", "../x", "a/../b", "./x", "/abs"] {
            assert!(!valid_entry(bad), "{bad:?}");
        }
        for good in [".claude/", "a/b.json", ".mcp.json"] {
            assert!(valid_entry(good), "{good:?}");
        }
    }

    #[test]
    fn present_entries_are_bound_and_created_ones_moved_aside() {
        let tmp = tempfile::tempdir().unwrap();
        let ws = tmp.path().canonicalize().unwrap();
        std::fs::create_dir(ws.join(".vscode")).unwrap();
        std::fs::create_dir(ws.join("real")).unwrap();
        std::os::unix::fs::symlink("real", ws.join(".idea")).unwrap();
        std::os::unix::fs::symlink("missing.json", ws.join(".mcp.json")).unwrap();
        let entries: Vec<String> = [".vscode/", ".idea/", ".mcp.json", ".claude/", "../x"]
            .map(String::from)
            .to_vec();
        let (ro, watch) = plan(&ws, &[], &entries);
        assert_eq!(ro, [ws.join(".vscode"), ws.join("real")]);
        assert!(watch.report().is_none(), "nothing changed yet");

        std::fs::create_dir(ws.join(".claude")).unwrap();
        std::fs::write(ws.join(".claude/settings.json"), "{\"hooks\":1}\n").unwrap();
        std::fs::write(ws.join("missing.json"), "{}\n").unwrap();
        let note = watch.report().expect("a warning");
        assert!(note.contains(".claude (a directory; moved aside to .claude.warden-quarantined)"));
        assert!(note.contains(".mcp.json (link to missing.json"), "{note}");
        assert!(!ws.join(".claude").exists() && !ws.join(".mcp.json").exists());
        assert!(
            ws.join(".claude.warden-quarantined/settings.json")
                .is_file()
        );
        assert!(ws.join(".vscode").is_dir() && ws.join(".idea").is_dir());
        // Reported once: what was moved aside is not found again.
        assert!(watch.report().is_none());
    }
}
