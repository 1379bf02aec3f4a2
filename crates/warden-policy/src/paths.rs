//! Lexical path handling: `~` expansion, joining onto a working directory, `..` folding, and
//! whether a path stays inside the workspace. No file system access: policy must be pure.

use std::path::{Component, Path, PathBuf};

/// Resolve `raw` (as written by the agent) to an absolute, lexically normalised path.
pub fn resolve(raw: &str, cwd: &Path, home: &Path) -> PathBuf {
    let expanded = if raw == "~" {
        home.to_path_buf()
    } else if let Some(rest) = raw.strip_prefix("~/") {
        home.join(rest)
    } else if let Some(rest) = raw.strip_prefix('~') {
        // `~+` is the working directory, `~user` that user's home (tilde expansion); anything
        // else after `~` is a literal name.
        let (user, tail) = rest.split_once('/').unwrap_or((rest, ""));
        if user == "+" {
            cwd.join(tail)
        } else if is_user_name(user) {
            other_home(user, home).join(tail)
        } else {
            PathBuf::from(raw)
        }
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

/// A name `~name` expands for (POSIX portable user names).
fn is_user_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with('-')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// Another user's home, without asking the system (policy is pure): `/root` for root, this
/// user's home for their own name, otherwise a sibling of this home (`/home/alice`,
/// `/Users/alice`).
fn other_home(user: &str, home: &Path) -> PathBuf {
    if user == "root" {
        return PathBuf::from("/root");
    }
    if home.file_name().is_some_and(|n| n == user) {
        return home.to_path_buf();
    }
    match home.parent() {
        Some(p) if p != Path::new("/") && !p.as_os_str().is_empty() => p.join(user),
        _ => Path::new("/home").join(user),
    }
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

    /// The forms of an already resolved path. Compared as text (the path is normalised):
    /// this runs for every word of every command, and component-wise comparison cost a
    /// sixth of a classification.
    pub fn forms_of(&self, abs: &Path) -> Vec<String> {
        let text = abs.to_string_lossy();
        let workspace = self.workspace.to_string_lossy();
        let home = self.home.to_string_lossy();
        let mut out = Vec::with_capacity(3);
        out.push(text.clone().into_owned());
        let in_workspace = below(&text, &workspace);
        if let Some(rel) = in_workspace {
            out.push(if rel.is_empty() {
                "@workspace".to_owned()
            } else {
                format!("@workspace/{rel}")
            });
        }
        let rel = below(&text, &home).or_else(|| {
            if in_workspace.is_some() {
                None
            } else {
                within_other_home_text(&text, self.home)
            }
        });
        if let Some(rel) = rel {
            out.push(if rel.is_empty() {
                "~".to_owned()
            } else {
                format!("~/{rel}")
            });
        }
        out
    }
}

/// The part of normalised `path` below normalised `root` (`""` for `root` itself), as
/// [`Path::strip_prefix`] would give it.
fn below<'p>(path: &'p str, root: &str) -> Option<&'p str> {
    let rest = path.strip_prefix(root.trim_end_matches('/'))?;
    if rest.is_empty() {
        Some(rest)
    } else {
        rest.strip_prefix('/')
    }
}

/// The part of `abs` below some user's home other than `home` (`/home/alice/.ssh` →
/// `.ssh`), so that rules about `~/…` apply to every user's home.
fn within_other_home_text<'p>(abs: &'p str, home: &Path) -> Option<&'p str> {
    if let Some(rel) = below(abs, "/root") {
        return Some(rel);
    }
    // Only the conventional places of homes: a sibling of this home elsewhere (a workspace
    // next to a test home) is no home.
    let homes = home
        .parent()
        .filter(|p| *p == Path::new("/home") || *p == Path::new("/Users"))
        .unwrap_or(Path::new("/home"));
    let rel = below(abs, &homes.to_string_lossy())?;
    if rel.is_empty() {
        return None;
    }
    Some(rel.split_once('/').map_or("", |(_, rest)| rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The component-wise forms, as computed before they were compared as text.
    fn forms_by_components(f: &PathForms<'_>, abs: &Path) -> Vec<String> {
        fn other<'p>(abs: &'p Path, home: &Path) -> Option<&'p Path> {
            if let Ok(rel) = abs.strip_prefix("/root") {
                return Some(rel);
            }
            let homes = home
                .parent()
                .filter(|p| *p == Path::new("/home") || *p == Path::new("/Users"))
                .unwrap_or(Path::new("/home"));
            let rel = abs.strip_prefix(homes).ok()?;
            let mut parts = rel.components();
            parts.next()?;
            Some(parts.as_path())
        }
        let mut out = vec![abs.to_string_lossy().into_owned()];
        if let Ok(rel) = abs.strip_prefix(f.workspace) {
            out.push(if rel.as_os_str().is_empty() {
                "@workspace".to_owned()
            } else {
                format!("@workspace/{}", rel.display())
            });
        }
        let rel = abs.strip_prefix(f.home).ok().or_else(|| {
            if abs.starts_with(f.workspace) {
                None
            } else {
                other(abs, f.home)
            }
        });
        if let Some(rel) = rel {
            out.push(if rel.as_os_str().is_empty() {
                "~".to_owned()
            } else {
                format!("~/{}", rel.display())
            });
        }
        out
    }

    #[test]
    fn text_forms_agree_with_component_forms() {
        let paths = [
            "/",
            "/w",
            "/w/a",
            "/wx",
            "/wx/a",
            "/home",
            "/home/u",
            "/home/u/.ssh/id",
            "/home/alice",
            "/home/alice/.aws/c",
            "/root",
            "/root/.ssh",
            "/rootx/a",
            "/Users/bob/x",
            "/home/u/w/a",
            "/etc/passwd",
        ];
        for (ws, home) in [
            ("/w", "/home/u"),
            ("/home/u/w", "/home/u"),
            ("/", "/root"),
            ("/w", "/Users/me"),
            ("/w", "/opt/h"),
        ] {
            let f = PathForms {
                cwd: Path::new(ws),
                home: Path::new(home),
                workspace: Path::new(ws),
            };
            for p in paths {
                let p = Path::new(p);
                assert_eq!(
                    f.forms_of(p),
                    forms_by_components(&f, p),
                    "{p:?} ws {ws} home {home}"
                );
            }
        }
    }

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

    #[test]
    fn other_users_homes() {
        let cwd = Path::new("/ws");
        let home = Path::new("/home/u");
        assert_eq!(resolve("~bob/x", cwd, home), Path::new("/home/bob/x"));
        assert_eq!(resolve("~bob", cwd, home), Path::new("/home/bob"));
        assert_eq!(resolve("~root/.ssh", cwd, home), Path::new("/root/.ssh"));
        assert_eq!(resolve("~u/a", cwd, home), Path::new("/home/u/a"));
        assert_eq!(resolve("~+/a", cwd, home), Path::new("/ws/a"));
        assert_eq!(resolve("~$x", cwd, home), Path::new("/ws/~$x"));
        let forms = PathForms {
            cwd,
            home,
            workspace: cwd,
        };
        assert!(
            forms
                .forms("~bob/.ssh/id_rsa")
                .contains(&"~/.ssh/id_rsa".to_owned())
        );
        assert!(
            forms
                .forms("/root/.aws/credentials")
                .contains(&"~/.aws/credentials".to_owned())
        );
    }
}
