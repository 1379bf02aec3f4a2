//! Inspects a repository the command created where the workspace had none (and, for
//! `git_metadata.rs`, a nested repository it linked into the index). Its `.git` could
//! not be protected in advance (an empty `.git` placeholder would change how git and other
//! tools see the workspace, and would stop `git init`), so after the command ends whatever in
//! it runs code when git is later used outside the sandbox is named in a warning: hooks, and
//! configuration keys that run commands.

use std::path::Path;

/// Configuration keys (lower-case `section.key`, or `section.*.key` for subsections) whose
/// value is a command git runs, or a file that can add more configuration.
const CODE_RUNNING_KEYS: &[&str] = &[
    "core.fsmonitor",
    "core.hookspath",
    "core.sshcommand",
    "core.pager",
    "core.editor",
    "core.askpass",
    "core.gitproxy",
    "sequence.editor",
    "diff.external",
    "gpg.program",
    "gpg.*.program",
    "credential.helper",
    "credential.*.helper",
    "include.path",
    "includeif.*.path",
    "filter.*.clean",
    "filter.*.smudge",
    "filter.*.process",
    "diff.*.textconv",
    "diff.*.command",
    "merge.*.driver",
    "uploadpack.packobjectshook",
];

/// The warning for `git_dir` (the workspace's `.git`, created during the run), or `None` when
/// it holds nothing that runs code.
pub(crate) fn warning(git_dir: &Path) -> Option<String> {
    let meta = std::fs::symlink_metadata(git_dir).ok()?;
    if !meta.is_dir() {
        // A `.git` file (or link) names the repository directory git will use — one the
        // command may have filled with hooks anywhere it could write.
        let target = std::fs::read_to_string(git_dir)
            .ok()
            .and_then(|t| t.lines().next().map(|l| l.trim().to_owned()))
            .or_else(|| {
                std::fs::read_link(git_dir)
                    .ok()
                    .map(|l| l.display().to_string())
            })
            .unwrap_or_default();
        return Some(format!(
            "warning: the command created a .git file or link in the workspace, which points \
             git at a repository it chose ({target}); its hooks and configuration would run \
             when git is used there outside the sandbox"
        ));
    }
    let found = code_running_parts(git_dir);
    (!found.is_empty()).then(|| {
        format!(
            "warning: the command created a git repository (.git) in the workspace, with what \
             runs code when git is used there outside the sandbox: {}",
            found.join(", ")
        )
    })
}

/// What in the repository directory `git_dir` runs code when git is used there: hooks (other
/// than the samples) and code-running configuration keys. A `.git` file or link is followed to
/// the directory it names.
pub(crate) fn code_running_parts(git_dir: &Path) -> Vec<String> {
    let resolved;
    let git_dir = match std::fs::symlink_metadata(git_dir) {
        Ok(m) if m.is_file() => {
            let Some(target) = std::fs::read_to_string(git_dir).ok().and_then(|t| {
                t.lines()
                    .next()
                    .and_then(|l| l.strip_prefix("gitdir:"))
                    .map(|l| l.trim().to_owned())
            }) else {
                return vec![".git file without gitdir".into()];
            };
            resolved = git_dir.parent().unwrap_or(git_dir).join(target);
            resolved.as_path()
        }
        _ => git_dir,
    };
    let mut found = Vec::new();
    if let Ok(hooks) = std::fs::read_dir(git_dir.join("hooks")) {
        let mut names: Vec<String> = hooks
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| !n.ends_with(".sample"))
            .collect();
        names.sort();
        found.extend(names.into_iter().map(|n| format!("hooks/{n}")));
    }
    if let Ok(text) = std::fs::read_to_string(git_dir.join("config")) {
        found.extend(
            code_running_keys(&text)
                .into_iter()
                .map(|k| format!("config {k}")),
        );
    }
    found
}

/// The code-running keys set in a git configuration text (also every `pager.*`, a pager
/// command per git command, and `alias.*` values that start with `!`, a shell command).
fn code_running_keys(text: &str) -> Vec<String> {
    let mut section = String::new();
    let mut subsection = false;
    let mut out = Vec::new();
    for raw in text.lines() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(head) = line.strip_prefix('[') {
            let head = head.split(']').next().unwrap_or_default();
            // `[section "sub"]`, or the old `[section.sub]` form.
            let (name, sub) = match head.split_once(|c: char| c.is_whitespace() || c == '.') {
                Some((n, s)) => (n, !s.trim().is_empty()),
                None => (head, false),
            };
            section = name.trim().to_ascii_lowercase();
            subsection = sub;
            continue;
        }
        let (key, value) = match line.split_once('=') {
            Some((k, v)) => (k.trim(), v.trim()),
            None => (line, ""),
        };
        let key = key.to_ascii_lowercase();
        let pattern = if subsection {
            format!("{section}.*.{key}")
        } else {
            format!("{section}.{key}")
        };
        let pager = section == "pager";
        let alias = section == "alias" && value.trim_start_matches('"').starts_with('!');
        if CODE_RUNNING_KEYS.contains(&pattern.as_str()) || pager || alias {
            out.push(if subsection {
                format!("{section}.<…>.{key}")
            } else {
                format!("{section}.{key}")
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_git_init_is_not_flagged() {
        let cfg = "[core]\n\trepositoryformatversion = 0\n\tfilemode = true\n\tbare = false\n\
                   \tlogallrefupdates = true\n";
        assert!(code_running_keys(cfg).is_empty());
    }

    #[test]
    fn code_running_keys_are_found_in_every_spelling() {
        let cfg = "[core]\n  FSMonitor = touch /tmp/x\n[filter \"lfs\"]\n\tsmudge = evil\n\
                   [alias]\n\tst = status\n\tx = \"!sh -c evil\"\n[include]\n\tpath = ../other\n\
                   [diff.pdf]\n\ttextconv = evil\n# core.pager = commented out\n";
        assert_eq!(
            code_running_keys(cfg),
            [
                "core.fsmonitor",
                "filter.<…>.smudge",
                "alias.x",
                "include.path",
                "diff.<…>.textconv"
            ]
        );
    }

    #[test]
    fn a_git_file_is_always_reported() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path().join(".git");
        std::fs::write(&git, "gitdir: sub/repo\n").unwrap();
        let w = warning(&git).unwrap();
        assert!(w.contains("gitdir: sub/repo"), "{w}");
        std::fs::remove_file(&git).unwrap();
        assert_eq!(warning(&git), None, "nothing there, nothing to say");
    }

    #[test]
    fn hooks_other_than_samples_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let git = dir.path();
        std::fs::create_dir_all(git.join("hooks")).unwrap();
        std::fs::write(git.join("hooks/pre-commit.sample"), "").unwrap();
        std::fs::write(git.join("config"), "[core]\n\tbare = false\n").unwrap();
        assert_eq!(warning(git), None);
        std::fs::write(git.join("hooks/post-checkout"), "#!/bin/sh\n").unwrap();
        let w = warning(git).unwrap();
        assert!(
            w.contains("hooks/post-checkout") && !w.contains("sample"),
            "{w}"
        );
    }
}
