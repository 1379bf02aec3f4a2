//! Confines the MCP file tools to the workspace: a requested path is resolved once (symlinks
//! followed) to a canonical path that the policy classifies, and every later open goes through
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS)` from the workspace directory, so the kernel
//! refuses any `..` or symlink that would lead elsewhere — even one planted after the check.

use rustix::fs::{Mode, OFlags, ResolveFlags};
use std::fs::File;
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

/// A path inside the workspace, free of symlinks and `..`.
#[derive(Debug, Clone)]
pub struct Confined {
    /// Absolute canonical path (what the policy classifies and the audit log records).
    pub abs: PathBuf,
    /// The same path relative to the workspace (`.` for the workspace itself).
    pub rel: PathBuf,
}

/// Why a path was refused.
#[derive(Debug, thiserror::Error)]
pub enum PathError {
    #[error("{0} is outside the workspace")]
    Escape(String),
    #[error("{0} is read-only for agents (protected inside the workspace)")]
    ReadOnly(String),
    #[error("{path}: {msg}")]
    Io { path: String, msg: String },
}

/// Lexically absolute form of `requested` (relative to `workspace`), `..` folded; `None` when
/// `..` climbs above the root.
pub fn lexical(workspace: &Path, requested: &str) -> Option<PathBuf> {
    let joined = workspace.join(requested);
    let mut out = PathBuf::from("/");
    for c in joined.components() {
        match c {
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                if !out.pop() {
                    return None;
                }
            }
            Component::Normal(n) => out.push(n),
        }
    }
    Some(out)
}

/// Resolve `requested` against the canonical `workspace`: symlinks in the existing part are
/// followed, the rest appended; the result must lie inside the workspace.
pub fn confine(workspace: &Path, requested: &str) -> Result<Confined, PathError> {
    let shown = || requested.to_owned();
    if requested.is_empty() || requested.contains('\0') {
        return Err(PathError::Io {
            path: shown(),
            msg: "not a usable path".into(),
        });
    }
    let lex = lexical(workspace, requested).ok_or_else(|| PathError::Escape(shown()))?;
    // Longest existing prefix, canonicalised; the missing tail has no symlinks by definition.
    let mut existing = lex.clone();
    let mut tail = Vec::new();
    let canon = loop {
        match std::fs::canonicalize(&existing) {
            Ok(c) => break c,
            Err(_) => {
                let Some(name) = existing.file_name().map(ToOwned::to_owned) else {
                    return Err(PathError::Escape(shown()));
                };
                tail.push(name);
                existing.pop();
            }
        }
    };
    let mut abs = canon;
    for n in tail.iter().rev() {
        abs.push(n);
    }
    let rel = abs
        .strip_prefix(workspace)
        .map_err(|_| PathError::Escape(shown()))?
        .to_path_buf();
    let rel = if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    };
    Ok(Confined { abs, rel })
}

/// Refuse `c` if it lies under one of `readonly` (paths relative to the workspace).
pub fn check_writable(c: &Confined, readonly: &[String]) -> Result<(), PathError> {
    for r in readonly {
        let r = Path::new(r.trim_end_matches('/'));
        if c.rel.starts_with(r) {
            return Err(PathError::ReadOnly(c.rel.display().to_string()));
        }
    }
    if c.rel == Path::new(".") {
        return Err(PathError::Io {
            path: ".".into(),
            msg: "is the workspace directory, not a file".into(),
        });
    }
    Ok(())
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> PathError {
    PathError::Io {
        path: path.display().to_string(),
        msg: e.to_string(),
    }
}

/// The kernel-enforced open: beneath `workspace`, no symlink anywhere on the way.
fn open_beneath(
    workspace: &Path,
    rel: &Path,
    flags: OFlags,
    mode: Mode,
) -> Result<OwnedFd, PathError> {
    let root = rustix::fs::open(
        workspace,
        OFlags::DIRECTORY | OFlags::RDONLY | OFlags::CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| io_err(workspace, e))?;
    rustix::fs::openat2(
        &root,
        rel,
        flags | OFlags::CLOEXEC,
        mode,
        ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS,
    )
    .map_err(|e| match e {
        rustix::io::Errno::XDEV | rustix::io::Errno::LOOP => {
            PathError::Escape(rel.display().to_string())
        }
        _ => io_err(rel, e),
    })
}

/// Refuse regular files with other hard links: one could be a link to a file outside the
/// workspace, which no path check can see.
fn single_link(f: &File, rel: &Path) -> Result<(), PathError> {
    let st = rustix::fs::fstat(f).map_err(|e| io_err(rel, e))?;
    if rustix::fs::FileType::from_raw_mode(st.st_mode) == rustix::fs::FileType::RegularFile
        && st.st_nlink > 1
    {
        return Err(PathError::Io {
            path: rel.display().to_string(),
            msg: format!(
                "has {} hard links; a file with other names may live outside the workspace",
                st.st_nlink
            ),
        });
    }
    Ok(())
}

/// Open a confined file for reading.
pub fn open_read(workspace: &Path, c: &Confined) -> Result<File, PathError> {
    let fd = open_beneath(workspace, &c.rel, OFlags::RDONLY, Mode::empty())?;
    let f = File::from(fd);
    single_link(&f, &c.rel)?;
    Ok(f)
}

/// Open (create or truncate) a confined file for writing, creating missing parent directories
/// one by one beneath the workspace when `create_dirs`.
pub fn open_write(workspace: &Path, c: &Confined, create_dirs: bool) -> Result<File, PathError> {
    if create_dirs && let Some(parent) = c.rel.parent() {
        let mut sofar = PathBuf::new();
        for comp in parent.components() {
            sofar.push(comp);
            match open_beneath(
                workspace,
                &sofar,
                OFlags::DIRECTORY | OFlags::PATH,
                Mode::empty(),
            ) {
                Ok(_) => {}
                Err(PathError::Io { .. }) => {
                    let dir_parent = sofar.parent().filter(|p| !p.as_os_str().is_empty());
                    let base = match dir_parent {
                        Some(p) => open_beneath(
                            workspace,
                            p,
                            OFlags::DIRECTORY | OFlags::PATH,
                            Mode::empty(),
                        )?,
                        None => open_beneath(
                            workspace,
                            Path::new("."),
                            OFlags::DIRECTORY | OFlags::PATH,
                            Mode::empty(),
                        )?,
                    };
                    let name = sofar.file_name().unwrap_or_default();
                    match rustix::fs::mkdirat(&base, name, Mode::from_raw_mode(0o755)) {
                        Ok(()) | Err(rustix::io::Errno::EXIST) => {}
                        Err(e) => return Err(io_err(&sofar, e)),
                    }
                }
                Err(e) => return Err(e),
            }
        }
    }
    let fd = open_beneath(
        workspace,
        &c.rel,
        OFlags::WRONLY | OFlags::CREATE,
        Mode::from_raw_mode(0o644),
    )?;
    let f = File::from(fd);
    single_link(&f, &c.rel)?;
    // Truncate only after the link check, so a refused file is left untouched.
    f.set_len(0).map_err(|e| io_err(&c.rel, e))?;
    Ok(f)
}

/// One entry of a directory listing.
#[derive(Debug, serde::Serialize)]
pub struct Entry {
    pub name: String,
    /// `file`, `dir`, `symlink` or `other`.
    pub kind: &'static str,
    pub size: u64,
}

/// List a confined directory (sorted by name; symlinks reported, not followed).
pub fn list(workspace: &Path, c: &Confined) -> Result<Vec<Entry>, PathError> {
    let fd = open_beneath(
        workspace,
        &c.rel,
        OFlags::RDONLY | OFlags::DIRECTORY,
        Mode::empty(),
    )?;
    let mut dir = rustix::fs::Dir::read_from(&fd).map_err(|e| io_err(&c.rel, e))?;
    let mut out = Vec::new();
    while let Some(entry) = dir.read() {
        let entry = entry.map_err(|e| io_err(&c.rel, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == "." || name == ".." {
            continue;
        }
        let st = rustix::fs::statat(
            &fd,
            entry.file_name(),
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW,
        );
        let (kind, size) = match st {
            Ok(st) => {
                let kind = match rustix::fs::FileType::from_raw_mode(st.st_mode) {
                    rustix::fs::FileType::RegularFile => "file",
                    rustix::fs::FileType::Directory => "dir",
                    rustix::fs::FileType::Symlink => "symlink",
                    _ => "other",
                };
                (kind, u64::try_from(st.st_size).unwrap_or(0))
            }
            Err(_) => ("other", 0),
        };
        out.push(Entry { name, kind, size });
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lexical_folds_dots_and_refuses_climbing_above_root() {
        let ws = Path::new("/w/s");
        assert_eq!(lexical(ws, "a/../b").unwrap(), PathBuf::from("/w/s/b"));
        assert_eq!(lexical(ws, "../../etc").unwrap(), PathBuf::from("/etc"));
        assert!(lexical(ws, "../../../../..").is_none());
        assert_eq!(
            lexical(ws, "/etc/passwd").unwrap(),
            PathBuf::from("/etc/passwd")
        );
    }

    #[test]
    fn confine_refuses_dotdot_absolute_and_symlink_escapes() {
        let dir = tempfile::tempdir().unwrap();
        let ws = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::create_dir(ws.join("sub")).unwrap();
        std::os::unix::fs::symlink("/etc", ws.join("sub/etc")).unwrap();
        std::os::unix::fs::symlink("../..", ws.join("up")).unwrap();
        for bad in [
            "../x",
            "/etc/passwd",
            "sub/etc/passwd",
            "up/x",
            "sub/../../x",
        ] {
            assert!(
                matches!(confine(&ws, bad), Err(PathError::Escape(_))),
                "{bad} should escape"
            );
        }
        let ok = confine(&ws, "sub/new/file.txt").unwrap();
        assert_eq!(ok.rel, PathBuf::from("sub/new/file.txt"));
        assert_eq!(ok.abs, ws.join("sub/new/file.txt"));
    }

    #[test]
    fn open_beneath_refuses_a_symlink_planted_after_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let ws = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(ws.join("a.txt"), "x").unwrap();
        let c = confine(&ws, "a.txt").unwrap();
        // Swap the checked file for a symlink to a file outside (the race the kernel closes).
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::fs::remove_file(ws.join("a.txt")).unwrap();
        std::os::unix::fs::symlink(outside.path(), ws.join("a.txt")).unwrap();
        assert!(open_read(&ws, &c).is_err());
        assert!(open_write(&ws, &c, false).is_err());
    }

    #[test]
    fn hard_links_and_readonly_paths_are_refused_for_writes() {
        let dir = tempfile::tempdir().unwrap();
        let ws = std::fs::canonicalize(dir.path()).unwrap();
        std::fs::write(ws.join("orig"), "secret").unwrap();
        std::fs::hard_link(ws.join("orig"), ws.join("link")).unwrap();
        let c = confine(&ws, "link").unwrap();
        assert!(open_write(&ws, &c, false).is_err());
        assert_eq!(std::fs::read_to_string(ws.join("orig")).unwrap(), "secret");
        let p = confine(&ws, ".warden/policy.toml").unwrap();
        assert!(matches!(
            check_writable(&p, &[".warden".into()]),
            Err(PathError::ReadOnly(_))
        ));
    }
}
