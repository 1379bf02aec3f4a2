//! Codex's TOML configuration files (`$CODEX_HOME/config.toml`, a project's
//! `.codex/config.toml`), read and merged with `toml_edit` so comments, ordering and unrelated
//! keys survive and a second run of `warden init` changes nothing. Used by both routes (hooks
//! and MCP).

use crate::exit::CliError;
use std::path::{Path, PathBuf};
use toml_edit::{Array, DocumentMut, Item, Table, Value};

pub(super) fn bad(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::bad_input(miette::miette!(
        help = "fix or remove the file, then run `warden init --agent codex` again; it was not changed",
        "{}: {e}",
        path.display()
    ))
}

pub(super) fn fail(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::failure(miette::miette!("{}: {e}", path.display()))
}

/// Read a TOML document (empty when the file does not exist).
pub(super) fn load(path: &Path) -> Result<(String, DocumentMut), CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(fail(path, e)),
    };
    let doc = text.parse::<DocumentMut>().map_err(|e| bad(path, e))?;
    Ok((text, doc))
}

/// Write `doc` to `path` atomically when it differs from `before`; say what happened.
pub(super) fn store(path: &Path, before: &str, doc: &DocumentMut) -> Result<(), CliError> {
    let after = doc.to_string();
    if after == before {
        println!("unchanged {}", path.display());
        return Ok(());
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e))?;
    let tmp = dir.join(".config.toml.warden-tmp");
    std::fs::write(&tmp, &after)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| fail(path, e))?;
    println!("wrote {}", path.display());
    Ok(())
}

/// The table at `key` in `parent`, created (as a header-less parent when `implicit`) if missing.
pub(super) fn table<'a>(
    parent: &'a mut Table,
    key: &str,
    implicit: bool,
    path: &Path,
) -> Result<&'a mut Table, CliError> {
    let item = parent.entry(key).or_insert_with(|| {
        let mut t = Table::new();
        t.set_implicit(implicit);
        Item::Table(t)
    });
    item.as_table_mut()
        .ok_or_else(|| bad(path, format!("`{key}` must be a table")))
}

/// Set `key` to `value`, keeping the comments around an existing value; note real changes.
pub(super) fn set(table: &mut Table, key: &str, value: impl Into<Value>, notes: &mut Vec<String>) {
    let value = value.into();
    match table.get_mut(key) {
        Some(Item::Value(old)) => {
            let (was, now) = (old.to_string(), value.to_string());
            if was.trim() != now.trim() {
                notes.push(format!("{key}: {} → {}", was.trim(), now.trim()));
                let decor = old.decor().clone();
                *old = value;
                *old.decor_mut() = decor;
            }
        }
        _ => {
            notes.push(format!("{key} = {}", value.to_string().trim()));
            table.insert(key, Item::Value(value));
        }
    }
}

pub(super) fn strings(items: &[&str]) -> Array {
    items.iter().copied().collect()
}

/// `$CODEX_HOME`, else `~/.codex`.
pub fn codex_home() -> PathBuf {
    std::env::var_os("CODEX_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::policy_load::home().join(".codex"))
}

/// Mark the project at `root_text` trusted in the user configuration `doc` (Codex reads a
/// project's `.codex/` only for trusted projects). A project the user marked untrusted stays so
/// without `force`: returns false after saying why.
pub(super) fn trust_project(
    doc: &mut DocumentMut,
    user: &Path,
    root_text: &str,
    force: bool,
    notes: &mut Vec<String>,
) -> Result<bool, CliError> {
    let projects = table(doc.as_table_mut(), "projects", true, user)?;
    let entry = table(projects, root_text, false, user)?;
    let current = entry.get("trust_level").and_then(Item::as_str);
    if current == Some("untrusted") && !force {
        stderr_line!(
            "warden: Codex marks {root_text} untrusted, so it ignores .codex/ there; \
             trust it in Codex or rerun with --force"
        );
        return Ok(false);
    }
    set(entry, "trust_level", "trusted", notes);
    Ok(true)
}
