//! Lexical path handling: `~` expansion, joining onto a working directory, `..` folding, and
//! whether a path stays inside the workspace. No file system access: policy must be pure.

use std::path::{Component, Path, PathBuf};

/// Resolve `raw` (as written by the agent) to an absolute, lexically normalised path.
pub fn resolve(raw: &str, cwd: &Path, home: &Path) -> PathBuf {
    let expanded = if raw == "~" {
        home.to_path_buf()
    } else if let Some(rest) = raw.strip_prefix("~/") {
        home.join(rest)
    } else {
        PathBuf::from(raw)
    };
    let joined = if expanded.is_absolute() {
        expanded
    } else {
        cwd.join(expanded)
    };
    normalise(&joined)
}

/// Fold `.` and `..` components without touching the file system.
pub fn normalise(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                // Never climb above the root.
                if out.parent().is_some() {
                    out.pop();
                }
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push("/");
    }
    out
}

/// Whether `path` is `root` or below it (both already normalised).
pub fn is_within(path: &Path, root: &Path) -> bool {
    path.starts_with(root)
}

/// Resolves raw path text into the forms that path globs are matched against.
#[derive(Debug)]
pub struct PathForms<'a> {
    pub cwd: &'a Path,
    pub home: &'a Path,
    pub workspace: &'a Path,
}

impl PathForms<'_> {
    /// Absolute form, `~/…` form under the home directory, `@workspace/…` form under the workspace.
    pub fn forms(&self, raw: &str) -> Vec<String> {
        self.forms_of(&resolve(raw, self.cwd, self.home))
    }

    /// The forms of an already resolved path.
    pub fn forms_of(&self, abs: &Path) -> Vec<String> {
        let mut out = vec![abs.to_string_lossy().into_owned()];
        if let Ok(rel) = abs.strip_prefix(self.workspace) {
            out.push(if rel.as_os_str().is_empty() {
                "@workspace".to_owned()
            } else {
                format!("@workspace/{}", rel.display())
            });
        }
        if let Ok(rel) = abs.strip_prefix(self.home) {
            out.push(if rel.as_os_str().is_empty() {
                "~".to_owned()
            } else {
                format!("~/{}", rel.display())
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_tilde_relative_and_dotdot() {
        let cwd = Path::new("/ws/sub");
        let home = Path::new("/home/u");
        assert_eq!(
            resolve("~/.ssh/id_rsa", cwd, home),
            Path::new("/home/u/.ssh/id_rsa")
        );
        assert_eq!(resolve("../x", cwd, home), Path::new("/ws/x"));
        assert_eq!(resolve("../../../../etc", cwd, home), Path::new("/etc"));
        assert_eq!(resolve("/a/./b/../c", cwd, home), Path::new("/a/c"));
        assert!(is_within(&resolve("a/b", cwd, home), Path::new("/ws")));
        assert!(!is_within(&resolve("../../x", cwd, home), Path::new("/ws")));
        assert!(!is_within(Path::new("/wsx"), Path::new("/ws")));
    }
}
