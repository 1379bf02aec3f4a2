//! `warden init --agent codex`: puts Codex CLI under Warden by merging into the project's
//! `.codex/config.toml` Warden's MCP server (`[mcp_servers.warden]`, whose tools take the governed
//! path), Codex's own shell tool switched off (`[features] shell_tool = false`) and Codex's
//! sandbox read-only with no escalation prompts, so work goes through Warden's tools. Codex reads
//! a project's `.codex/config.toml` only for trusted projects, so the project is also marked
//! trusted in `$CODEX_HOME/config.toml` (default `~/.codex`). Both files are edited with
//! `toml_edit`: comments, ordering and unrelated keys survive, and a second run changes nothing.

use crate::exit::{CliError, CmdResult};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use toml_edit::{Array, DocumentMut, Item, Table, Value};

/// Environment variables Codex passes through to `warden mcp` (approval server and org policy).
const PASSED_ENV: &[&str] = &["WARDEN_SERVER", "WARDEN_TOKEN", "WARDEN_ORG_POLICY"];

fn bad(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::bad_input(miette::miette!(
        help = "fix or remove the file, then run `warden init --agent codex` again",
        "{}: {e}",
        path.display()
    ))
}

fn fail(path: &Path, e: impl std::fmt::Display) -> CliError {
    CliError::failure(miette::miette!("{}: {e}", path.display()))
}

/// Read a TOML document (empty when the file does not exist).
fn load(path: &Path) -> Result<(String, DocumentMut), CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(fail(path, e)),
    };
    let doc = text.parse::<DocumentMut>().map_err(|e| bad(path, e))?;
    Ok((text, doc))
}

/// Write `doc` to `path` atomically when it differs from `before`; say what happened.
fn store(path: &Path, before: &str, doc: &DocumentMut) -> Result<(), CliError> {
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
fn table<'a>(
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
fn set(table: &mut Table, key: &str, value: impl Into<Value>, notes: &mut Vec<String>) {
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

fn strings(items: &[&str]) -> Array {
    items.iter().copied().collect()
}

/// `$CODEX_HOME`, else `~/.codex`.
pub fn codex_home() -> PathBuf {
    std::env::var_os("CODEX_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| crate::policy_load::home().join(".codex"))
}

/// Write Codex's configuration for the repository at `root`.
pub fn init(root: &Path, force: bool) -> CmdResult {
    let root = std::fs::canonicalize(root).map_err(|e| fail(root, e))?;
    let exe = std::env::current_exe()
        .and_then(std::fs::canonicalize)
        .map_err(|e| {
            CliError::failure(miette::miette!("cannot find the warden executable: {e}"))
        })?;
    let root_text = root.to_string_lossy().into_owned();

    // 1. The project layer: Warden's MCP server in, Codex's shell tool out.
    let project = root.join(".codex").join("config.toml");
    let (before, mut doc) = load(&project)?;
    let mut notes = Vec::new();
    let top = doc.as_table_mut();
    // Codex's own sandbox stays read-only and never asks to escalate: writes and commands go
    // through Warden's tools, which classify, record, approve and sandbox them.
    set(top, "sandbox_mode", "read-only", &mut notes);
    set(top, "approval_policy", "never", &mut notes);
    let features = table(top, "features", false, &project)?;
    set(features, "shell_tool", false, &mut notes);
    set(features, "unified_exec", false, &mut notes);
    let servers = table(doc.as_table_mut(), "mcp_servers", true, &project)?;
    let fresh = !servers.contains_key("warden");
    let warden = table(servers, "warden", false, &project)?;
    if fresh {
        warden.decor_mut().set_prefix(
            "\n# Warden's governed tools (exec, read_file, write_file, edit_file, list_dir,\n\
             # http_request, approval_status); written by `warden init --agent codex`.\n",
        );
    }
    set(
        warden,
        "command",
        exe.to_string_lossy().into_owned(),
        &mut notes,
    );
    set(
        warden,
        "args",
        strings(&["mcp", "--workspace", &root_text]),
        &mut notes,
    );
    set(warden, "env_vars", strings(PASSED_ENV), &mut notes);
    set(warden, "startup_timeout_sec", 30, &mut notes);
    // A `sync` action waits for a person; give the call as long as Warden's approval routes.
    set(warden, "tool_timeout_sec", 3600, &mut notes);
    // Warden decides; Codex should not ask a second time.
    set(warden, "default_tools_approval_mode", "approve", &mut notes);
    store(&project, &before, &doc)?;
    for n in &notes {
        println!("  {n}");
    }

    // 2. Trust, so Codex loads the project layer at all.
    let user = codex_home().join("config.toml");
    let (before, mut doc) = load(&user)?;
    let projects = table(doc.as_table_mut(), "projects", true, &user)?;
    let entry = table(projects, &root_text, false, &user)?;
    let current = entry
        .get("trust_level")
        .and_then(Item::as_str)
        .map(str::to_owned);
    if current.as_deref() == Some("untrusted") && !force {
        println!("unchanged {}", user.display());
        stderr_line!(
            "warden: Codex marks {root_text} untrusted, so it ignores .codex/config.toml there; \
             trust it in Codex or rerun with --force"
        );
        return Ok(ExitCode::SUCCESS);
    }
    let mut notes = Vec::new();
    set(entry, "trust_level", "trusted", &mut notes);
    store(&user, &before, &doc)?;
    for n in &notes {
        println!("  {n}");
    }
    Ok(ExitCode::SUCCESS)
}
