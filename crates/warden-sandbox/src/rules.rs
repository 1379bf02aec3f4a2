//! Landlock rules for the command: read and execute everywhere, write only in the workspace,
//! the private temporary directories, the extra writable paths and a few device nodes; signals
//! and abstract Unix sockets scoped to the sandbox. Best effort down to the kernel's ABI (gaps
//! are reported by the probe).

use landlock::{
    ABI, Access, AccessFs, CompatLevel, Compatible, PathBeneath, PathFd, Ruleset, RulesetAttr,
    RulesetCreated, RulesetCreatedAttr, Scope,
};
use std::path::PathBuf;

/// Build (but do not enforce) the ruleset; `writable` are directories/files with full access.
pub(crate) fn build(writable: &[PathBuf]) -> Result<RulesetCreated, String> {
    let abi = ABI::V6;
    let e = |e: landlock::RulesetError| format!("Landlock: {e}");
    let rs = Ruleset::default()
        .set_compatibility(CompatLevel::BestEffort)
        .handle_access(AccessFs::from_all(abi))
        .map_err(e)?
        .scope(Scope::AbstractUnixSocket | Scope::Signal)
        .map_err(e)?
        .create()
        .map_err(e)?;
    let mut rules: Vec<Result<PathBeneath<PathFd>, landlock::RulesetError>> = Vec::new();
    let mut add = |path: &str, access: landlock::BitFlags<AccessFs>| {
        // Absent paths need no rule.
        if let Ok(fd) = PathFd::new(path) {
            rules.push(Ok(PathBeneath::new(fd, access)));
        }
    };
    add("/", AccessFs::from_read(abi));
    let dev_rw = AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate | AccessFs::IoctlDev;
    for dev in [
        "/dev/null",
        "/dev/zero",
        "/dev/full",
        "/dev/tty",
        "/dev/ptmx",
        "/dev/pts",
    ] {
        add(dev, dev_rw);
    }
    for w in writable {
        let s = w
            .to_str()
            .ok_or_else(|| format!("non-UTF-8 path {}", w.display()))?;
        add(s, AccessFs::from_all(abi));
    }
    rs.add_rules(rules).map_err(e)
}
