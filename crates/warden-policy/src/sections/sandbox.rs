//! The `[sandbox]` section of the governance file: what an action run by `warden run` or
//! `warden sandbox` may touch. Plain serde data; the `warden` binary turns it into a
//! `warden_sandbox::SandboxProfile`.
//!
//! Arrays extend across layered governance files (organisation + repository); scalars override.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The `[sandbox]` section: the isolation profile of actions.
///
/// Every path list accepts absolute paths and `~/…` (the user's home directory); relative paths
/// are taken relative to the workspace.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// Extra paths that are unreadable inside the sandbox, added to the built-in list
    /// (`~/.ssh`, `~/.aws`, `~/.config/gcloud`, `~/.kube`, `~/.docker/config.json`, `~/.netrc`,
    /// `~/.git-credentials`, `~/.npmrc`, `~/.pypirc`, `~/.gnupg`, `~/.config/gh`, ...).
    pub secret_paths: Vec<String>,
    /// Extra paths (outside the workspace) the sandbox may write, e.g. a shared build cache.
    pub writable_paths: Vec<String>,
    /// Extra paths inside the workspace that stay read-only, added to the built-in list
    /// (`.warden/`; in `.git` everything but git's data is read-only anyway, see
    /// docs/git-metadata.md). One that is missing is created empty first
    /// (where its parent directory exists) so it can be protected: a directory when the entry
    /// ends in `/`, else a file — e.g. `.envrc` (direnv runs it) or `.vscode/`.
    pub readonly_workspace_paths: Vec<String>,
    /// Extra entries of the home directory the sandbox shows (read-only unless also in
    /// `writable_paths`), as `~/…` paths, added to the built-in list (toolchains such as
    /// `~/.cargo`, `~/.rustup`, `~/.nvm`; caches such as `~/.npm`, `~/.cache/pip`; shell start-up
    /// files and git configuration). Everything else in the home directory is invisible; secret
    /// paths and Warden's own files stay masked even when listed.
    pub home_visible: Vec<String>,
    /// Extra environment variable name patterns (`*` wildcards, case-insensitive) removed from
    /// the action's environment even when passed by the built-in list, added to the built-in
    /// secret-name patterns (`*TOKEN*`, `*SECRET*`, `AWS_*`, ...).
    pub env_scrub: Vec<String>,
    /// Environment variable names (or `*` patterns) passed to the action besides the built-in
    /// list (locale, terminal, PATH, HOME, toolchain and build variables); every other variable
    /// is dropped and named in the outcome record. A name listed here is passed even when it
    /// looks secret (a scrub pattern matches, or its value is a URL with a password): the
    /// governance file's explicit choice wins.
    pub env_pass: Vec<String>,
    /// Replace the built-in scrub list instead of extending it (not recommended). Default: false.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env_scrub_replace_builtin: Option<bool>,
    /// Port on the sandbox's loopback where the egress proxy is reachable. Default: 3128.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_port: Option<u16>,
    /// Lowest Landlock ABI version the sandbox requires; a kernel below it makes `warden run`
    /// refuse unless `--allow-degraded`. Default: 1 (any Landlock).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub landlock_min_abi: Option<u32>,
    /// Seconds an attended terminal prompt waits for an answer before denying. Default: 60.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prompt_timeout_secs: Option<u64>,
    /// Resource limits of the action.
    pub limits: SandboxLimits,
}

/// The `[sandbox.limits]` table: resource limits of an action (cgroup v2 where available,
/// rlimits otherwise). `0` means "no limit" for every field except `core_dump_mb`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxLimits {
    /// Largest number of processes/threads the action may have at once. Default: 4096.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub processes: Option<u64>,
    /// Largest number of open files per process. Default: 8192.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub open_files: Option<u64>,
    /// Address space (virtual memory) per process in MiB; with cgroup v2, the memory limit of the
    /// whole action. Default: 65536.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory_mb: Option<u64>,
    /// CPU seconds per process. Default: 0 (no limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_seconds: Option<u64>,
    /// Largest core dump in MiB. Default: 0 (no core dumps).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub core_dump_mb: Option<u64>,
}

#[cfg(test)]
mod tests {
    use crate::{Layer, Policy, PolicySource};

    fn src(layer: Layer, text: &str) -> PolicySource {
        PolicySource {
            name: format!("{layer:?}.toml"),
            text: text.to_owned(),
            layer,
        }
    }

    #[test]
    fn arrays_extend_and_scalars_override_across_layers() {
        let org = src(
            Layer::Organisation,
            "[sandbox]\nsecret_paths = [\"~/.org-secret\"]\nproxy_port = 4000\n[sandbox.limits]\nprocesses = 100\n",
        );
        let repo = src(
            Layer::Repository,
            "[sandbox]\nsecret_paths = [\"~/.repo-secret\"]\nproxy_port = 5000\nenv_pass = [\"CI_TOKEN\"]\nhome_visible = [\"~/.tool\"]\n",
        );
        let p = Policy::load(&[org, repo]).expect("loads");
        let s = &p.config().sandbox;
        assert_eq!(s.secret_paths, ["~/.org-secret", "~/.repo-secret"]);
        assert_eq!(s.proxy_port, Some(5000));
        assert_eq!(s.limits.processes, Some(100));
        assert_eq!(s.env_pass, ["CI_TOKEN"]);
        assert_eq!(s.home_visible, ["~/.tool"]);
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let bad = src(Layer::Repository, "[sandbox]\nsecret_path = [\"typo\"]\n");
        assert!(Policy::load(&[bad]).is_err());
        let bad = src(Layer::Repository, "[sandbox.limits]\nmemory = 1\n");
        assert!(Policy::load(&[bad]).is_err());
    }
}
