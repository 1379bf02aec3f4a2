//! The seccomp filter: a versioned data file (`policy/seccomp.json`) compiled at run time for the
//! running architecture with `seccompiler`.

use serde::Deserialize;
use std::collections::BTreeMap;

/// The policy file's text, as shipped in the crate.
pub const SECCOMP_POLICY: &str = include_str!("../policy/seccomp.json");

/// The parsed policy file.
#[derive(Debug, Clone, Deserialize)]
pub struct SeccompPolicy {
    /// Format/content version; bumped on every change.
    pub version: u32,
    /// Free text.
    #[serde(default)]
    pub comment: String,
    /// Filters in seccompiler's JSON format, installed in name order.
    pub filters: BTreeMap<String, serde_json::Value>,
}

impl SeccompPolicy {
    /// Parse the shipped policy.
    pub fn shipped() -> Result<Self, crate::SandboxError> {
        serde_json::from_str(SECCOMP_POLICY)
            .map_err(|e| crate::SandboxError::Seccomp(e.to_string()))
    }

    /// Names of the syscalls a filter matches (for checks and reports).
    pub fn syscalls(&self, filter: &str) -> Vec<String> {
        self.filters
            .get(filter)
            .and_then(|f| f.get("filter"))
            .and_then(|f| f.as_array())
            .map(|rules| {
                rules
                    .iter()
                    .filter_map(|r| r.get("syscall").and_then(|s| s.as_str()).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Compile the shipped policy for this architecture. Syscalls this architecture does not have
/// are dropped from the filter and returned as the second value.
pub fn compile_seccomp() -> Result<(Vec<seccompiler::BpfProgram>, Vec<String>), crate::SandboxError>
{
    let mut policy = SeccompPolicy::shipped()?;
    let arch = seccompiler::TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|e| crate::SandboxError::Seccomp(format!("unsupported architecture: {e:?}")))?;
    let mut dropped = Vec::new();
    loop {
        let json = serde_json::to_vec(&policy.filters)
            .map_err(|e| crate::SandboxError::Seccomp(e.to_string()))?;
        match seccompiler::compile_from_json(json.as_slice(), arch) {
            Ok(mut map) => {
                let mut progs = Vec::new();
                for name in policy.filters.keys() {
                    if let Some(p) = map.remove(name) {
                        progs.push(p);
                    }
                }
                return Ok((progs, dropped));
            }
            Err(e) => {
                let msg = e.to_string();
                let Some(name) = msg
                    .split("Invalid syscall name: ")
                    .nth(1)
                    .and_then(|rest| rest.split(' ').next())
                    .map(str::to_owned)
                else {
                    return Err(crate::SandboxError::Seccomp(msg));
                };
                if dropped.contains(&name) {
                    return Err(crate::SandboxError::Seccomp(msg));
                }
                for f in policy.filters.values_mut() {
                    if let Some(rules) = f.get_mut("filter").and_then(|r| r.as_array_mut()) {
                        rules.retain(|r| {
                            r.get("syscall").and_then(|s| s.as_str()) != Some(name.as_str())
                        });
                    }
                }
                dropped.push(name);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_policy_compiles_and_covers_the_required_syscalls() {
        let p = SeccompPolicy::shipped().expect("parses");
        assert!(p.version >= 1);
        let deny = p.syscalls("deny");
        for s in [
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "mount",
            "umount2",
            "pivot_root",
            "fsopen",
            "fsmount",
            "move_mount",
            "open_tree",
            "setns",
            "bpf",
            "perf_event_open",
            "kexec_load",
            "init_module",
            "finit_module",
            "delete_module",
            "keyctl",
            "add_key",
            "request_key",
            "userfaultfd",
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
            "unshare",
            "clone",
            "ioctl",
            "socket",
            "personality",
        ] {
            assert!(
                deny.iter().any(|d| d == s),
                "{s} missing from the deny filter"
            );
        }
        assert_eq!(p.syscalls("clone3"), ["clone3"]);
        let (progs, dropped) = compile_seccomp().expect("compiles");
        assert_eq!(progs.len(), 2);
        assert!(progs.iter().all(|p| !p.is_empty()));
        for must in ["ptrace", "mount", "bpf", "io_uring_setup", "unshare"] {
            assert!(!dropped.iter().any(|d| d == must), "{must} was dropped");
        }
    }
}
