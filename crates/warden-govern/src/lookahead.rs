//! Lookahead's file reader for the governed path: every entry point (`warden run`, the agent
//! hooks, MCP, the worker, the approval server, `warden check`) classifies with the scripts and
//! named tasks of the workspace read ahead (`bash deploy.sh`, `npm test`, `make deploy`), so the
//! early decision and the approver's request already name `deploy.sh:3: git push …`.
//!
//! Reading is bounded: each file by [`warden_policy::LOOKAHEAD_MAX_FILE`], one classification
//! by the policy's total byte, file-count and nesting bounds. Only regular files inside the
//! workspace once symlinks are resolved are read, never secret files (`.env`, keys), so their
//! contents never reach a decision or the audit log. What is not read leaves the command at its
//! own tier with a note (the policy's doing).

use std::io::Read;
use std::path::{Path, PathBuf};
use warden_policy::{Action, Context, Decision, Policy, WorkspaceReader};

/// Files of one workspace, read (never run) for lookahead.
#[derive(Debug, Clone)]
pub struct WorkspaceFiles {
    /// The workspace; `None` reads nothing.
    workspace: Option<PathBuf>,
    /// The workspace with symlinks resolved, when a first file is read: most actions read
    /// nothing ahead, and resolving costs a system call per path component.
    root: std::sync::OnceLock<PathBuf>,
}

impl WorkspaceFiles {
    /// The files of `workspace`.
    pub fn new(workspace: &Path) -> Self {
        Self {
            workspace: Some(workspace.to_path_buf()),
            root: std::sync::OnceLock::new(),
        }
    }

    /// The files of a workspace someone else named (a request filed with the approval server):
    /// read only when it is a directory marked as a workspace (`.git` or `.warden`), so that a
    /// requester cannot have the server read ahead through any directory of its host.
    pub fn claimed(workspace: &Path) -> Self {
        let marked = [".git", ".warden"]
            .iter()
            .any(|m| std::fs::symlink_metadata(workspace.join(m)).is_ok());
        if marked {
            Self::new(workspace)
        } else {
            Self {
                workspace: None,
                root: std::sync::OnceLock::new(),
            }
        }
    }
}

/// Whether a file name is a secret's (its contents must not reach a decision): the same list
/// the sandbox masks (`warden_sandbox::WorkspaceSecrets`, a versioned data file), parsed once.
fn is_secret_name(name: &str) -> bool {
    static SECRETS: std::sync::LazyLock<warden_sandbox::WorkspaceSecrets> =
        std::sync::LazyLock::new(warden_sandbox::WorkspaceSecrets::builtin);
    SECRETS.is_secret(name)
}

impl WorkspaceFiles {
    /// `path` with symlinks resolved, when that is inside the workspace; `Err` says why not.
    fn inside(&self, path: &Path) -> Result<PathBuf, String> {
        let Some(workspace) = &self.workspace else {
            // Not an error worth a note: nothing of this workspace is read at all.
            return Err(String::new());
        };
        let root = self
            .root
            .get_or_init(|| std::fs::canonicalize(workspace).unwrap_or_else(|_| workspace.clone()));
        let real = std::fs::canonicalize(path).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            _ => e.to_string(),
        })?;
        if !real.starts_with(root) {
            return Err("resolves outside the workspace".into());
        }
        Ok(real)
    }
}

impl WorkspaceReader for WorkspaceFiles {
    fn read(&self, path: &Path, limit: usize) -> Result<String, String> {
        let real = self.inside(path)?;
        let name = real.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if is_secret_name(name) {
            return Err("a secret file".into());
        }
        // Checked before opening: a FIFO or device would block or never end.
        let meta = std::fs::metadata(&real).map_err(|e| e.to_string())?;
        if !meta.is_file() {
            return Err("not a regular file".into());
        }
        if meta.len() > limit as u64 {
            return Err(format!("larger than {limit} bytes"));
        }
        let mut text = String::new();
        std::fs::File::open(&real)
            .and_then(|f| f.take(limit as u64 + 1).read_to_string(&mut text))
            .map_err(|e| e.to_string())?;
        if text.len() > limit {
            return Err(format!("larger than {limit} bytes"));
        }
        Ok(text)
    }

    fn files(&self, dir: &Path) -> Result<Vec<String>, String> {
        let real = self.inside(dir)?;
        // Bounded: one directory; what is read of each is checked by `read`.
        Ok(std::fs::read_dir(&real)
            .map_err(|e| e.to_string())?
            .take(4096)
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| !t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect())
    }

    fn subdirectories(&self, dir: &Path) -> Result<Vec<String>, String> {
        let real = self.inside(dir)?;
        // Bounded: a directory of packages, not a tree walk.
        let mut names: Vec<String> = std::fs::read_dir(&real)
            .map_err(|e| e.to_string())?
            .take(4096)
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        Ok(names)
    }
}

/// Classify `action` in `ctx` with lookahead through `ctx`'s workspace: the one way every
/// entry point classifies an action it is about to govern.
pub fn classify(policy: &Policy, action: &Action, ctx: &Context) -> Decision {
    policy.classify_with(action, ctx, &WorkspaceFiles::new(&ctx.workspace))
}

/// [`classify`], and whether lookahead asked for any of the workspace's files. The policy reads
/// nothing else (`warden-policy` touches no file system), so a decision made without asking is
/// the same for the same action in the same context whatever the files hold: what a memo of
/// decisions may rely on ([`crate::nested_exec`]).
pub fn classify_noting_reads(policy: &Policy, action: &Action, ctx: &Context) -> (Decision, bool) {
    let files = Noting {
        files: WorkspaceFiles::new(&ctx.workspace),
        asked: std::cell::Cell::new(false),
    };
    let decision = policy.classify_with(action, ctx, &files);
    (decision, files.asked.get())
}

/// A reader that notes whether it was asked for anything.
struct Noting {
    files: WorkspaceFiles,
    asked: std::cell::Cell<bool>,
}

impl WorkspaceReader for Noting {
    fn read(&self, path: &Path, limit: usize) -> Result<String, String> {
        self.asked.set(true);
        self.files.read(path, limit)
    }

    fn files(&self, dir: &Path) -> Result<Vec<String>, String> {
        self.asked.set(true);
        self.files.files(dir)
    }

    fn subdirectories(&self, dir: &Path) -> Result<Vec<String>, String> {
        self.asked.set(true);
        self.files.subdirectories(dir)
    }
}

/// [`classify`] with the match trace a person reads (`warden policy explain`).
pub fn explain(policy: &Policy, action: &Action, ctx: &Context) -> (Decision, Vec<String>) {
    policy.explain_with(action, ctx, &WorkspaceFiles::new(&ctx.workspace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_regular_non_secret_files_inside() {
        let ws = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        std::fs::write(ws.path().join("a.sh"), "git push\n").expect("write");
        std::fs::write(ws.path().join(".env"), "TOKEN=x\n").expect("write");
        std::fs::write(outside.path().join("b.sh"), "git push\n").expect("write");
        std::os::unix::fs::symlink(outside.path().join("b.sh"), ws.path().join("b.sh"))
            .expect("symlink");
        std::fs::create_dir(ws.path().join("dir.sh")).expect("mkdir");
        let files = WorkspaceFiles::new(ws.path());
        assert_eq!(
            files.read(&ws.path().join("a.sh"), 100).as_deref(),
            Ok("git push\n")
        );
        assert_eq!(
            files.read(&ws.path().join("b.sh"), 100),
            Err("resolves outside the workspace".into())
        );
        assert_eq!(
            files.read(&ws.path().join(".env"), 100),
            Err("a secret file".into())
        );
        assert_eq!(
            files.read(&ws.path().join("dir.sh"), 100),
            Err("not a regular file".into())
        );
        assert_eq!(
            files.read(&ws.path().join("a.sh"), 4),
            Err("larger than 4 bytes".into())
        );
        assert_eq!(
            files.read(&ws.path().join("nope.sh"), 100),
            Err("no such file".into())
        );
        // A claimed workspace without a marker reads nothing; with one, it reads.
        assert!(
            WorkspaceFiles::claimed(ws.path())
                .read(&ws.path().join("a.sh"), 100)
                .is_err()
        );
        std::fs::create_dir(ws.path().join(".git")).expect("mkdir");
        assert!(
            WorkspaceFiles::claimed(ws.path())
                .read(&ws.path().join("a.sh"), 100)
                .is_ok()
        );
    }

    #[test]
    fn lists_subdirectories_inside_only() {
        let ws = tempfile::tempdir().expect("tempdir");
        let outside = tempfile::tempdir().expect("tempdir");
        for d in ["packages/web", "packages/api"] {
            std::fs::create_dir_all(ws.path().join(d)).expect("mkdir");
        }
        std::fs::write(ws.path().join("packages/README.md"), "x").expect("write");
        std::fs::create_dir(outside.path().join("secret-project")).expect("mkdir");
        std::os::unix::fs::symlink(outside.path(), ws.path().join("elsewhere")).expect("symlink");
        let files = WorkspaceFiles::new(ws.path());
        assert_eq!(
            files.subdirectories(&ws.path().join("packages")),
            Ok(vec!["api".to_string(), "web".to_string()])
        );
        assert_eq!(
            files.subdirectories(&ws.path().join("elsewhere")),
            Err("resolves outside the workspace".into())
        );
        assert!(files.subdirectories(outside.path()).is_err());
    }

    /// `npm run -w api deploy` on real files: the package is found by its name and its
    /// script judged.
    #[test]
    fn a_workspace_package_is_found_by_name_on_disk() {
        let ws = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir(ws.path().join(".git")).expect("mkdir");
        std::fs::create_dir_all(ws.path().join("packages/server")).expect("mkdir");
        std::fs::write(
            ws.path().join("package.json"),
            r#"{"private": true, "workspaces": ["packages/*"]}"#,
        )
        .expect("write");
        std::fs::write(
            ws.path().join("packages/server/package.json"),
            r#"{"name": "@acme/api", "scripts": {"deploy": "terraform apply -auto-approve"}}"#,
        )
        .expect("write");
        let policy = Policy::builtin();
        let ws = ws.path().canonicalize().expect("canonical");
        let ctx = Context {
            workspace: ws.clone(),
            cwd: ws.clone(),
            home: ws.join("home"),
            sandboxed: true,
        };
        let action = Action::Shell {
            script: "npm run -w @acme/api deploy".into(),
            cwd: None,
        };
        let d = classify(&policy, &action, &ctx);
        assert_eq!(d.tier, warden_policy::Tier::Sync, "{:?}", d.reasons);
    }
}
