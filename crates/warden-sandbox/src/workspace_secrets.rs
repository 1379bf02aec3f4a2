//! The workspace's own secret files (`.env`, private keys, …) found for masking, and the files
//! outside the workspace an approved run may write: what a run is granted widens its sandbox by
//! exactly that (DESIGN.md, "An approval grants what it names"). Kept apart from the mount plan
//! itself: these only add entries to its `secrets` and `writable` lists.

use std::path::{Path, PathBuf};

/// The built-in list (data file `policy/workspace-secrets.txt`).
pub const BUILTIN_WORKSPACE_SECRETS: &str = include_str!("../policy/workspace-secrets.txt");

/// Directory entries looked at before the search gives up (noted as not enforced beyond).
const SEARCH_BUDGET: usize = 50_000;

/// Which workspace files are secrets: file-name globs masked, exceptions, directories skipped.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WorkspaceSecrets {
    /// File-name globs (`*`, case-insensitive) of files masked.
    pub mask: Vec<String>,
    /// File-name globs never masked (e.g. `.env.example`).
    pub except: Vec<String>,
    /// Directory names not searched.
    pub skip: Vec<String>,
}

impl WorkspaceSecrets {
    /// The built-in list.
    pub fn builtin() -> Self {
        let mut out = Self::default();
        for line in BUILTIN_WORKSPACE_SECRETS.lines().map(str::trim) {
            let Some((kind, name)) = line.split_once(' ') else {
                continue;
            };
            let list = match kind {
                "mask" => &mut out.mask,
                "except" => &mut out.except,
                "skip" => &mut out.skip,
                _ => continue,
            };
            list.push(name.trim().to_owned());
        }
        out
    }

    /// Is a file named `name` a secret?
    pub fn is_secret(&self, name: &str) -> bool {
        let m = |globs: &[String]| globs.iter().any(|g| crate::env_name_matches(g, name));
        m(&self.mask) && !m(&self.except)
    }
}

/// The secret files under `workspace` (not following symlinks, skipping the skip list), less
/// those in `readable`. A note when the search stopped at its budget.
pub(crate) fn find(
    workspace: &Path,
    secrets: &WorkspaceSecrets,
    readable: &[PathBuf],
) -> (Vec<PathBuf>, Option<String>) {
    let mut found = Vec::new();
    if secrets.mask.is_empty() {
        return (found, None);
    }
    let mut budget = SEARCH_BUDGET;
    let mut dirs = vec![workspace.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for e in entries.flatten() {
            if budget == 0 {
                return (
                    found,
                    Some(format!(
                        "not enforced: workspace secret files beyond the first {SEARCH_BUDGET} \
                         entries of {} were not looked for",
                        workspace.display()
                    )),
                );
            }
            budget -= 1;
            let Ok(kind) = e.file_type() else { continue };
            let name = e.file_name();
            let name = name.to_string_lossy();
            if kind.is_dir() {
                if !secrets.skip.iter().any(|s| s == name.as_ref()) {
                    dirs.push(e.path());
                }
            } else if kind.is_file() && secrets.is_secret(&name) {
                let path = e.path();
                if !readable.iter().any(|r| r == &path) {
                    found.push(path);
                }
            }
        }
    }
    (found, None)
}

/// Make the existing `file` (outside the workspace, named by an approved decision) writable for
/// one run: only that file is opened up, not its directory. A named path that is an existing
/// directory (`cp a.txt /srv/drop/`) is opened up as that directory, as named; a missing one is
/// created through an overlay (`staging.rs`). Returns it canonical.
pub(crate) fn prepare_writable_file(file: &Path) -> Result<PathBuf, String> {
    if !file.is_absolute() {
        return Err(format!("writable file {} is not absolute", file.display()));
    }
    if file.parent().is_none() {
        return Err("the root directory cannot be made writable".into());
    }
    match std::fs::symlink_metadata(file) {
        Ok(m) if m.is_file() || m.is_dir() => {}
        Ok(_) => {
            return Err(format!(
                "writable file {} is not a regular file",
                file.display()
            ));
        }
        Err(e) => return Err(format!("writable file {}: {e}", file.display())),
    }
    std::fs::canonicalize(file).map_err(|e| format!("{}: {e}", file.display()))
}
