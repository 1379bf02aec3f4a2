//! Compiles the seccomp policy file with `seccompiler`; shared by `build.rs` (which bakes the
//! result into the crate, so no sandbox start pays for JSON parsing and compilation) and by the
//! run-time check that the baked filter still matches the data file.

use std::collections::BTreeMap;

/// Named programs in install order, and the syscalls dropped for the architecture.
pub(crate) type Compiled = (Vec<(String, seccompiler::BpfProgram)>, Vec<String>);

/// Compile the filters of `policy_json` (the `filters` map of `policy/seccomp.json`) for `arch`
/// (`x86_64`, `aarch64`, `riscv64`). Returns the programs in filter-name order (the order they
/// are installed in) and the syscalls this architecture does not have, which were dropped.
pub(crate) fn compile_policy(
    filters: &BTreeMap<String, serde_json::Value>,
    arch: &str,
) -> Result<Compiled, String> {
    let arch = seccompiler::TargetArch::try_from(arch)
        .map_err(|e| format!("unsupported architecture: {e:?}"))?;
    let mut filters = filters.clone();
    let mut dropped = Vec::new();
    loop {
        let json = serde_json::to_vec(&filters).map_err(|e| e.to_string())?;
        match seccompiler::compile_from_json(json.as_slice(), arch) {
            Ok(mut map) => {
                let progs = filters
                    .keys()
                    .filter_map(|name| map.remove(name).map(|p| (name.clone(), p)))
                    .collect();
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
                    return Err(msg);
                };
                if dropped.contains(&name) {
                    return Err(msg);
                }
                for f in filters.values_mut() {
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
