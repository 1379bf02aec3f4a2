//! The agents' JSON settings files (Claude Code, Gemini CLI, Copilot CLI, OpenCode), read and
//! replaced one way: a file that does not parse is reported with its line and column and left
//! untouched, and a new version replaces the old by rename, so a crash never leaves half a file.

use crate::exit::CliError;
use serde_json::Value;
use std::path::Path;

/// The document in `path`: `missing()` when the file does not exist, `{}` when it is empty. A
/// file that is not JSON is refused with `help` (what to do; the file was not changed).
pub fn read(path: &Path, help: &str, missing: impl FnOnce() -> Value) -> Result<Value, CliError> {
    match std::fs::read_to_string(path) {
        Ok(text) if text.trim().is_empty() => Ok(Value::Object(serde_json::Map::new())),
        Ok(text) => serde_json::from_str::<Value>(&text).map_err(|e| {
            CliError::bad_input(miette::miette!(
                help = help.to_owned(),
                "{} is not valid JSON (line {} column {}): {e}",
                path.display(),
                e.line(),
                e.column()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(missing()),
        Err(e) => Err(CliError::failure(miette::miette!(
            "cannot read {}: {e}",
            path.display()
        ))),
    }
}

/// The usual `help` of [`read`] for `warden init --agent AGENT`.
pub fn fix_and_rerun(agent: &str) -> String {
    format!(
        "fix the file (or move it away) and run `warden init --agent {agent}` again; it was not \
         changed"
    )
}

/// Replace `path` with `doc`, pretty-printed: its directory created, a temporary file beside it
/// renamed over it. Returns false, writing nothing, when the file already holds exactly that.
pub fn write(path: &Path, doc: &Value) -> Result<bool, CliError> {
    let mut text = serde_json::to_string_pretty(doc).unwrap_or_default();
    text.push('\n');
    if std::fs::read_to_string(path).is_ok_and(|t| t == text) {
        return Ok(false);
    }
    let fail = |e: std::io::Error| {
        CliError::failure(miette::miette!("cannot write {}: {e}", path.display()))
    };
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(fail)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.warden-tmp"));
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(fail)?;
    Ok(true)
}

/// Merge Warden's hook into a settings document whose `hooks` object lists, per event, matcher
/// groups of handlers (`hooks.EVENT[].hooks[].command`: Claude Code, Codex's hooks.json, Gemini
/// CLI). For each `(event, timeout)` a handler already there whose command ends with `mark`
/// (Warden's, see [`super::hook_command`]) is kept (with `force`, pointed at `command`), else
/// `new_group(command, timeout)` is appended. Returns whether
/// anything changed; an error names the part of the document that has the wrong shape.
pub fn merge_grouped_hooks(
    doc: &mut Value,
    events: &[(&str, u64)],
    command: &str,
    force: bool,
    mark: &str,
    new_group: impl Fn(&str, u64) -> Value,
) -> Result<bool, String> {
    let root = doc
        .as_object_mut()
        .ok_or("the top level is not a JSON object")?;
    let hooks = root
        .entry("hooks")
        .or_insert_with(|| Value::Object(serde_json::Map::new()))
        .as_object_mut()
        .ok_or("`hooks` is not a JSON object")?;
    let mut changed = false;
    for &(event, timeout) in events {
        let groups = hooks
            .entry(event)
            .or_insert_with(|| Value::Array(vec![]))
            .as_array_mut()
            .ok_or_else(|| format!("`hooks.{event}` is not a JSON array"))?;
        let mut found = false;
        for group in groups.iter_mut() {
            let Some(list) = group.get_mut("hooks").and_then(Value::as_array_mut) else {
                continue;
            };
            let is_ours = |h: &Value| {
                h.get("command")
                    .and_then(Value::as_str)
                    .is_some_and(|c| c.trim_end().ends_with(mark))
            };
            for h in list.iter_mut().filter(|h| is_ours(h)) {
                found = true;
                if force && h.get("command").and_then(Value::as_str) != Some(command) {
                    h["command"] = command.into();
                    changed = true;
                }
            }
        }
        if !found {
            groups.push(new_group(command, timeout));
            changed = true;
        }
    }
    Ok(changed)
}
