//! The seccomp filter: a versioned data file (`policy/seccomp.json`) compiled with `seccompiler`
//! by `build.rs` for the target architecture and baked into the crate; [`compile_seccomp`]
//! compiles the data file at run time, for the check that the baked programs match it.

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

/// Compile the shipped policy for this architecture now, from the data file. Syscalls this
/// architecture does not have are dropped from the filter and returned as the second value.
/// (The sandbox itself installs the same programs baked at build time, see [`baked_seccomp`].)
pub fn compile_seccomp() -> Result<(Vec<seccompiler::BpfProgram>, Vec<String>), crate::SandboxError>
{
    let policy = SeccompPolicy::shipped()?;
    let (progs, dropped) =
        crate::seccomp_compile::compile_policy(&policy.filters, std::env::consts::ARCH)
            .map_err(crate::SandboxError::Seccomp)?;
    Ok((progs.into_iter().map(|(_, p)| p).collect(), dropped))
}

mod baked {
    include!(concat!(env!("OUT_DIR"), "/baked.rs"));
}

/// Fingerprint of this crate's sources (computed by `build.rs`): the supervisor passes it to the
/// init, which refuses to run when it was built from different sources.
pub(crate) const BUILD_FINGERPRINT: &str = baked::BUILD_FINGERPRINT;

/// This build's fingerprint (see `build.rs`), for diagnostics and tests.
pub fn build_fingerprint() -> &'static str {
    BUILD_FINGERPRINT
}

/// Named BPF programs, in install order.
pub type BakedPrograms = &'static [(&'static str, &'static [seccompiler::sock_filter])];

/// The shipped policy as compiled by `build.rs` for the target architecture, in install order,
/// and the syscalls dropped because the architecture lacks them. Identical to
/// [`compile_seccomp`]'s result (a test checks it), without parsing or compiling anything.
pub fn baked_seccomp() -> Result<(BakedPrograms, &'static [&'static str]), crate::SandboxError> {
    baked::BAKED
        .map(|p| (p, baked::BAKED_DROPPED))
        .map_err(|e| crate::SandboxError::Seccomp(e.to_owned()))
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

    #[test]
    fn the_baked_filter_is_exactly_the_data_file_compiled_now() {
        let (progs, dropped) = compile_seccomp().expect("compiles");
        let (baked, baked_dropped) = baked_seccomp().expect("baked");
        let names: Vec<&str> = baked.iter().map(|(n, _)| *n).collect();
        let expected: Vec<String> = SeccompPolicy::shipped()
            .expect("parses")
            .filters
            .keys()
            .cloned()
            .collect();
        assert_eq!(names, expected, "filters in install (name) order");
        assert_eq!(baked.len(), progs.len());
        for ((name, b), p) in baked.iter().zip(&progs) {
            assert_eq!(
                b.to_vec(),
                *p,
                "baked program {name} differs from the data file"
            );
        }
        assert_eq!(baked_dropped, dropped.as_slice());
    }
}
