//! What this kernel can enforce, probed once per run, so that a missing feature is reported
//! (and refused unless degraded mode is allowed) instead of silently weakening the sandbox.

use serde::{Deserialize, Serialize};

/// Test hook: a comma-separated list of features (`landlock`, `seccomp`, `cgroup2`, `cgroup1`,
/// `userns`, `exec_notify`) the
/// probe pretends are missing, to exercise the degraded-kernel refusal on any machine.
pub const PRETEND_MISSING_ENV: &str = "WARDEN_SANDBOX_PRETEND_MISSING";

/// An isolation feature the sandbox uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Unprivileged (or root) user namespaces, and with them every other namespace.
    UserNamespaces,
    /// Landlock filesystem rules.
    Landlock,
    /// seccomp-BPF filters.
    Seccomp,
    /// cgroup v2 with the `pids` and `memory` controllers.
    Cgroup2,
    /// seccomp user notification, for governing the programs a command runs.
    ExecNotify,
}

/// The probe report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Capabilities {
    /// User namespaces can be created.
    pub user_namespaces: bool,
    /// Landlock ABI version (0: none).
    pub landlock_abi: u32,
    /// seccomp filters are available.
    pub seccomp: bool,
    /// A cgroup v2 hierarchy with `pids` and `memory` is mounted at /sys/fs/cgroup.
    pub cgroup2: bool,
    /// A cgroup v1 `pids` hierarchy holds this process (bounds root's process count when there is
    /// no usable cgroup v2).
    #[serde(default)]
    pub cgroup1_pids: bool,
    /// seccomp user notification with `CONTINUE` (Linux 5.5) on a supported architecture: the
    /// programs a command runs can be governed.
    #[serde(default)]
    pub exec_notify: bool,
    /// Landlock rights the sandbox would like but this kernel's ABI cannot enforce.
    pub landlock_gaps: Vec<String>,
    /// Features masked by [`PRETEND_MISSING_ENV`].
    pub pretended_missing: Vec<String>,
}

impl Capabilities {
    /// What is missing for governing nested execs (empty when exec notification works).
    pub fn missing_for_exec_governance(&self) -> Vec<String> {
        self.missing_features(None, true)
            .into_iter()
            .map(|(_, m)| m)
            .collect()
    }

    /// Human-readable list of what `profile` asks for that this kernel cannot enforce.
    pub fn missing_for(&self, profile: &crate::SandboxProfile) -> Vec<String> {
        self.missing_features(Some(profile), false)
            .into_iter()
            .map(|(_, m)| m)
            .collect()
    }

    /// What a spawn would refuse (unless degraded mode is allowed), each with the feature it
    /// lacks: the isolation `profile` asks for when given, and exec notification when the
    /// command's programs are to be governed.
    pub fn missing_features(
        &self,
        profile: Option<&crate::SandboxProfile>,
        exec_governance: bool,
    ) -> Vec<(Feature, String)> {
        let mut out = Vec::new();
        if let Some(profile) = profile {
            if !self.user_namespaces {
                out.push((
                    Feature::UserNamespaces,
                    "user namespaces are unavailable (no namespace isolation possible)".to_owned(),
                ));
            }
            if profile.landlock_min_abi > 0 && self.landlock_abi < profile.landlock_min_abi {
                out.push((
                    Feature::Landlock,
                    if self.landlock_abi == 0 {
                        "Landlock is unavailable".to_owned()
                    } else {
                        format!(
                            "Landlock ABI {} is below the required {}",
                            self.landlock_abi, profile.landlock_min_abi
                        )
                    },
                ));
            }
            if !self.seccomp {
                out.push((
                    Feature::Seccomp,
                    "seccomp filters are unavailable".to_owned(),
                ));
            }
        }
        if exec_governance && !self.exec_notify {
            out.push((
                Feature::ExecNotify,
                "seccomp user notification is unavailable (Linux 5.5+ on x86_64, aarch64 or \
                 riscv64): the programs the command runs cannot be governed"
                    .to_owned(),
            ));
        }
        out
    }
}

/// Probe the running kernel.
pub fn probe() -> Capabilities {
    let pretend: Vec<String> = std::env::var(PRETEND_MISSING_ENV)
        .unwrap_or_default()
        .split(',')
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let masked = |f: &str| pretend.iter().any(|p| p == f);
    let user_namespaces = !masked("userns")
        && std::fs::read_to_string("/proc/sys/user/max_user_namespaces")
            .ok()
            .and_then(|s| s.trim().parse::<u64>().ok())
            .is_none_or(|n| n > 0);
    let landlock_abi = if masked("landlock") {
        0
    } else {
        crate::sys::landlock_abi()
    };
    let seccomp = !masked("seccomp") && crate::sys::seccomp_available();
    let cgroup2 = !masked("cgroup2") && crate::cgroup::v2_available();
    let cgroup1_pids = !masked("cgroup1") && crate::cgroup::v1_pids_available();
    let exec_notify = !masked("exec_notify") && crate::exec_filter::available();
    let mut landlock_gaps = Vec::new();
    for (abi, what) in [
        (2, "Refer (cross-directory links and renames)"),
        (3, "Truncate"),
        (5, "IoctlDev"),
        (6, "scoping of signals and abstract Unix sockets"),
    ] {
        if landlock_abi > 0 && landlock_abi < abi {
            landlock_gaps.push(format!("{what} needs Landlock ABI {abi}"));
        }
    }
    Capabilities {
        user_namespaces,
        landlock_abi,
        seccomp,
        cgroup2,
        cgroup1_pids,
        exec_notify,
        landlock_gaps,
        pretended_missing: pretend,
    }
}
