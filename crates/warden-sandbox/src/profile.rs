//! The sandbox profile: the complete, CLI-free description of one sandboxed run.

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Secrets that are unreadable inside the sandbox whatever the governance file says. `~` is the
/// profile's `home`; a trailing `*` matches any suffix of the last path component.
pub const BUILTIN_SECRET_PATHS: &[&str] = &[
    "~/.ssh",
    "~/.aws",
    "~/.azure",
    "~/.config/gcloud",
    "~/.kube",
    "~/.docker/config.json",
    "~/.netrc",
    "~/.git-credentials",
    "~/.config/git/credentials",
    "~/.npmrc",
    "~/.yarnrc.yml",
    "~/.pypirc",
    "~/.gnupg",
    "~/.config/gh",
    "~/.config/hub",
    "~/.cargo/credentials",
    "~/.cargo/credentials.toml",
    "~/.terraform.d/credentials.tfrc.json",
    "~/.vault-token",
    "~/.password-store",
    "~/.local/share/keyrings",
    "~/.config/op",
    "~/.gem/credentials",
    "~/.m2/settings-security.xml",
    // What no build needs, masked even where the home is not hidden (it holds the workspace) or
    // the governance file shows a parent (`~/.config`): coding agents' sign-ins, database
    // passwords, cloud and platform tools' tokens, shell and REPL histories. (Package managers'
    // configuration that may hold an index password, `~/.m2/settings.xml` or
    // `~/.config/pip/pip.conf`, stays the governance file's choice: hidden unless listed.)
    "~/.claude/.credentials.json",
    "~/.codex/auth.json",
    "~/.gemini/oauth_creds.json",
    "~/.config/github-copilot",
    "~/.local/share/opencode/auth.json",
    "~/.pgpass",
    "~/.my.cnf",
    "~/.mylogin.cnf",
    "~/.dbt/profiles.yml",
    "~/.databrickscfg",
    "~/.config/containers/auth.json",
    "~/.config/glab-cli",
    "~/.config/rclone/rclone.conf",
    "~/.config/sops/age/keys.txt",
    "~/.s3cfg",
    "~/.boto",
    "~/.oci",
    "~/.config/hcloud/cli.toml",
    "~/.fly/config.yml",
    "~/.config/netlify/config.json",
    "~/.config/configstore/firebase-tools.json",
    "~/.local/share/com.vercel.cli/auth.json",
    "~/.terraformrc",
    "~/.config/helm/repositories.yaml",
    "~/.bash_history",
    "~/.zsh_history",
    "~/.zhistory",
    "~/.histfile",
    "~/.sh_history",
    "~/.local/share/fish/fish_history",
    "~/.python_history",
    "~/.node_repl_history",
    "~/.psql_history",
    "~/.mysql_history",
    "~/.sqlite_history",
    "~/.rediscli_history",
    "~/.irb_history",
    // Warden's own: the checkpoint signing key and discovery cache (never visible, even if a
    // list names a parent).
    "~/.config/warden",
    "~/.cache/warden",
    "~/.local/share/warden",
    "~/.local/state/warden",
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/ssh/ssh_host_*",
];

/// Paths inside the workspace that run code later and so stay read-only in the sandbox. Git
/// metadata is not listed: inside `.git` everything but git's data is read-only (see
/// [`crate::is_git_control_path`]).
pub const READONLY_WORKSPACE_PATHS: &[&str] = &[".warden/"];

/// Resource limits. `None` means no limit (except `core_dump_bytes`, where `None` means 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Processes/threads at once (RLIMIT_NPROC, counted per user namespace on Linux ≥ 5.14; and
    /// `pids.max` with cgroup v2).
    pub processes: Option<u64>,
    /// Open files per process (RLIMIT_NOFILE).
    pub open_files: Option<u64>,
    /// Address space per process in bytes (RLIMIT_AS; `memory.max` of the action with cgroup v2).
    pub memory_bytes: Option<u64>,
    /// CPU seconds per process (RLIMIT_CPU).
    pub cpu_seconds: Option<u64>,
    /// Largest core dump in bytes (RLIMIT_CORE).
    pub core_dump_bytes: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            processes: Some(4096),
            open_files: Some(8192),
            memory_bytes: Some(64 << 30),
            cpu_seconds: None,
            core_dump_bytes: None,
        }
    }
}

/// Where the egress proxy listens on the host, and where the sandbox reaches it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyEndpoint {
    /// The proxy's Unix socket on the host, named `proxy.sock` in a directory private to this
    /// run; the directory is bind-mounted (read-only) into the sandbox, so the proxy may create
    /// the socket after the sandbox started (connections wait up to 30 s for it). If the socket
    /// is absent when the sandbox first connects, the relay first connects once to `wake.sock`
    /// in the same directory, so a supervisor can start the proxy only when it is needed.
    pub socket: PathBuf,
    /// TCP port on the sandbox's `127.0.0.1` relayed to that socket.
    pub port: u16,
}

/// Everything the sandbox needs to run one command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SandboxProfile {
    /// The command and its arguments (`argv[0]` is looked up in the sandbox's `PATH`).
    pub argv: Vec<String>,
    /// Working directory of the command (absolute; normally inside the workspace).
    pub cwd: PathBuf,
    /// The workspace: writable, apart from `readonly_in_workspace`.
    pub workspace: PathBuf,
    /// The user's home directory, used to expand `~` in path lists. Inside the sandbox it (and
    /// the password database's home of the caller) shows only `home_visible`.
    pub home: PathBuf,
    /// What of the home directory stays visible (read-only unless also `writable`): `~/…`
    /// entries, each one file or directory; other forms are ignored. Default:
    /// `data/home-visible.toml`. Toolchain directories named by its `from_env` variables and
    /// absolute `PATH` entries inside the home are visible too.
    pub home_visible: Vec<String>,
    /// Further writable paths (absolute or `~/…`).
    pub writable: Vec<String>,
    /// Unreadable paths (absolute or `~/…`, trailing `*` globs the last component).
    pub secret_paths: Vec<String>,
    /// Paths relative to the workspace that stay read-only. One that is missing while its
    /// parent directory exists is created first, empty, so that it can be protected: as a
    /// directory when the entry ends in `/`, else as a file.
    pub readonly_in_workspace: Vec<String>,
    /// Paths relative to the workspace of configuration that programs on the host run code
    /// from (a directory's ends in `/`): read-only when present; one the command creates is
    /// moved aside when it ends and named in a warning. Default:
    /// `policy/workspace-code-config.txt`; a governor removes those a granted decision writes.
    #[serde(default = "crate::builtin_code_config")]
    pub code_config: Vec<String>,
    /// The environment the command would have had (normally the caller's); it is filtered.
    pub env: Vec<(String, String)>,
    /// Name patterns (see [`crate::env_name_matches`]) of the variables passed from `env`;
    /// everything else is dropped. Default: [`crate::BUILTIN_ENV_PASS`].
    pub env_allow: Vec<String>,
    /// Name patterns removed from `env` even when `env_allow` lists them.
    pub env_scrub: Vec<String>,
    /// Name patterns passed whatever `env_allow` and the masks (`env_scrub`, a password in a URL
    /// value) say: the governance file's explicit, reviewed choice.
    pub env_pass: Vec<String>,
    /// The egress proxy, if the sandbox has network through it.
    pub proxy: Option<ProxyEndpoint>,
    /// A PEM bundle on the host that the sandbox trusts instead of the system's (the system
    /// roots plus the egress proxy's per-run interception CA): mounted read-only over the
    /// standard bundle files and named by the CA variables (`SSL_CERT_FILE`, …).
    #[serde(default)]
    pub ca_bundle: Option<PathBuf>,
    /// Resource limits.
    pub limits: Limits,
    /// Lowest acceptable Landlock ABI version (0: Landlock not required).
    pub landlock_min_abi: u32,
    /// Use a cgroup v2 for limits when the host has delegatable v2 controllers.
    pub use_cgroup: bool,
    /// Host name inside the sandbox.
    pub hostname: String,
    /// The workspace's own secret files, masked like `secret_paths` (empty: none masked; the
    /// governor passes [`crate::WorkspaceSecrets::builtin`] and the policy's additions).
    #[serde(default)]
    pub workspace_secrets: crate::WorkspaceSecrets,
    /// Workspace secret files left readable: those the granted decision read.
    #[serde(default)]
    pub readable_secrets: Vec<PathBuf>,
    /// Files outside the workspace this run may write, and no others of their directories: the
    /// paths an approved decision named. One that is an existing directory is writable as a
    /// whole (it is what was named); a missing one (file or directory, with missing parents) is
    /// created in an overlay of its directory and moved to the host after the run, while what
    /// else the command wrote there is discarded with a warning. Symbolic links are refused.
    #[serde(default)]
    pub writable_files: Vec<PathBuf>,
}

impl SandboxProfile {
    /// A profile with the built-in secrets, visible home entries, read-only paths, pass list and
    /// scrub list, for `argv` in
    /// `workspace` (also the working directory), with the given environment.
    pub fn new(
        argv: Vec<String>,
        workspace: PathBuf,
        home: PathBuf,
        env: Vec<(String, String)>,
    ) -> Self {
        Self {
            argv,
            cwd: workspace.clone(),
            workspace,
            home,
            home_visible: crate::home::BUILTIN_HOME_VISIBLE
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            writable: Vec::new(),
            secret_paths: BUILTIN_SECRET_PATHS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            readonly_in_workspace: READONLY_WORKSPACE_PATHS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            code_config: crate::builtin_code_config(),
            env,
            env_allow: crate::env::BUILTIN_ENV_PASS
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            env_scrub: crate::env::BUILTIN_ENV_SCRUB
                .iter()
                .map(|s| (*s).to_owned())
                .collect(),
            env_pass: Vec::new(),
            proxy: None,
            ca_bundle: None,
            limits: Limits::default(),
            landlock_min_abi: 1,
            use_cgroup: true,
            hostname: "warden".to_owned(),
            workspace_secrets: crate::WorkspaceSecrets::default(),
            readable_secrets: Vec::new(),
            writable_files: Vec::new(),
        }
    }

    /// Expand `~/` against `home`; relative paths are taken against `base`.
    pub(crate) fn expand(&self, p: &str, base: &std::path::Path) -> PathBuf {
        if p == "~" {
            self.home.clone()
        } else if let Some(rest) = p.strip_prefix("~/") {
            self.home.join(rest)
        } else {
            base.join(p)
        }
    }

    /// The secret paths, expanded and globbed, that exist on this machine.
    pub(crate) fn existing_secrets(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        for s in &self.secret_paths {
            let p = self.expand(s, &self.workspace);
            let name = p
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or_default()
                .to_owned();
            if let Some(prefix) = name.strip_suffix('*') {
                let Some(dir) = p.parent() else { continue };
                if let Ok(rd) = std::fs::read_dir(dir) {
                    for e in rd.flatten() {
                        if e.file_name().to_string_lossy().starts_with(prefix) {
                            out.push(e.path());
                        }
                    }
                }
            } else if std::fs::symlink_metadata(&p).is_ok() {
                out.push(p);
            }
        }
        out
    }

    pub(crate) fn validate(&self) -> Result<(), crate::SandboxError> {
        let bad = |m: String| Err(crate::SandboxError::Profile(m));
        if self.argv.is_empty() {
            return bad("no command given".into());
        }
        for (what, p) in [
            ("workspace", &self.workspace),
            ("cwd", &self.cwd),
            ("home", &self.home),
        ] {
            if !p.is_absolute() {
                return bad(format!("{what} {} is not absolute", p.display()));
            }
        }
        if !self.workspace.is_dir() {
            return bad(format!(
                "workspace {} is not a directory",
                self.workspace.display()
            ));
        }
        for r in &self.readonly_in_workspace {
            let rel = std::path::Path::new(r);
            let plain = rel
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
            if r.is_empty() || !plain {
                return bad(format!(
                    "read-only workspace path {r:?} must be relative to the workspace, without `.` or `..`"
                ));
            }
        }
        if let Some(e) = self
            .code_config
            .iter()
            .find(|e| !crate::code_config::valid_entry(e))
        {
            return bad(format!(
                "code configuration path {e:?} must be relative to the workspace, without `.` or `..`"
            ));
        }
        Ok(())
    }
}
