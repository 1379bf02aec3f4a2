//! `warden init --agent claude-code`: puts Claude Code under Warden by adding Warden's hook to
//! the project's `.claude/settings.json` for PreToolUse, PostToolUse and PostToolUseFailure,
//! merged into whatever the file already holds (other hooks and settings are kept; running it
//! twice adds nothing; a file that is not valid JSON is reported and left untouched).

use crate::exit::{CliError, CmdResult};
use serde_json::{Value, json};
use std::path::Path;
use std::process::ExitCode;

/// The hook events Warden answers, with the timeout (seconds) Claude Code should give the hook:
/// a `sync` PreToolUse waits for a person, so it gets as long as an approval route may take.
const EVENTS: [(&str, u64); 3] = [
    ("PreToolUse", 3600),
    ("PostToolUse", 60),
    ("PostToolUseFailure", 60),
];

/// What marks a hook command as Warden's (whatever path the binary had when it was written).
const MARK: &str = " hook claude-code";

/// Merge Warden's hooks into `doc`; returns whether anything changed. With `force` an existing
/// Warden hook is pointed at `command` (e.g. after moving the binary).
fn merge(doc: &mut Value, command: &str, force: bool) -> Result<bool, String> {
    crate::agents::settings_file::merge_grouped_hooks(
        doc,
        &EVENTS,
        command,
        force,
        MARK,
        |command, timeout| {
            json!({
                "matcher": "*",
                "hooks": [{ "type": "command", "command": command, "timeout": timeout }],
            })
        },
    )
}

/// Write this agent's configuration for the repository at `root`.
pub fn init(root: &Path, force: bool) -> CmdResult {
    let path = root.join(".claude").join("settings.json");
    let mut doc = super::super::settings_file::read(
        &path,
        &super::super::settings_file::fix_and_rerun("claude-code"),
        || json!({}),
    )?;
    let command = crate::agents::hook_command(MARK)?;
    let changed = merge(&mut doc, &command, force).map_err(|msg| {
        CliError::bad_input(miette::miette!(
            help = "Claude Code's settings put hooks under {{\"hooks\": {{\"PreToolUse\": [{{\"matcher\": …, \"hooks\": [...]}}]}}}}; the file was not changed",
            "{}: {msg}",
            path.display()
        ))
    })?;
    if !changed {
        println!("kept {} (Warden's hooks are already there)", path.display());
        return Ok(ExitCode::SUCCESS);
    }
    super::super::settings_file::write(&path, &doc)?;
    println!(
        "wrote {}: Claude Code now asks `warden hook claude-code` before and after every tool call",
        path.display()
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_keeps_other_hooks_and_is_idempotent() {
        let mut doc = json!({
            "model": "x",
            "hooks": {"PreToolUse": [{"matcher": "Bash", "hooks": [{"type": "command", "command": "lint.sh"}]}]}
        });
        assert_eq!(
            merge(&mut doc, "'/w/warden' hook claude-code", false),
            Ok(true)
        );
        let once = doc.clone();
        assert_eq!(
            merge(&mut doc, "'/w/warden' hook claude-code", false),
            Ok(false)
        );
        assert_eq!(doc, once);
        assert_eq!(doc["hooks"]["PreToolUse"].as_array().map(Vec::len), Some(2));
        assert_eq!(doc["model"], "x");
        assert_eq!(
            merge(&mut doc, "'/v/warden' hook claude-code", true),
            Ok(true)
        );
        assert_eq!(
            doc["hooks"]["PostToolUse"][0]["hooks"][0]["command"],
            "'/v/warden' hook claude-code"
        );
    }

    #[test]
    fn merge_refuses_wrong_shapes() {
        assert!(merge(&mut json!([]), "c", false).is_err());
        assert!(merge(&mut json!({"hooks": []}), "c", false).is_err());
        assert!(merge(&mut json!({"hooks": {"PreToolUse": {}}}), "c", false).is_err());
    }
}
