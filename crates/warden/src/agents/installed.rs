//! Which agents have Warden installed for a workspace: the table of agents, where each keeps the
//! configuration `warden init --agent` writes, and the Warden command lines that configuration
//! runs — so `warden doctor` can tell whether the hooks are live and point at this binary and
//! this workspace's policy. Another agent is one more row of [`AGENTS`].

use serde_json::Value;
use std::path::{Path, PathBuf};

/// One Warden command line found in an agent's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    /// Where in the file (e.g. `hooks.PreToolUse`, `mcp_servers.warden`).
    pub place: String,
    /// The program and its arguments (a shell command is split into words).
    pub argv: Vec<String>,
}

/// An agent and the configuration file that puts it under Warden.
#[derive(Debug)]
pub struct AgentConfig {
    /// The name `warden init --agent` takes.
    pub agent: &'static str,
    /// The configuration file, given the workspace.
    pub path: fn(&Path) -> PathBuf,
    /// The Warden command lines in the file's text (an error says why it cannot be read).
    pub invocations: fn(&str) -> Result<Vec<Invocation>, String>,
    /// Places that must hold a Warden invocation for the agent to be governed at all (e.g. the
    /// hook that runs before every tool call).
    pub required: &'static [&'static str],
}

/// Every agent `warden doctor` looks for.
pub const AGENTS: &[AgentConfig] = &[
    AgentConfig {
        agent: "claude-code",
        path: |ws| ws.join(".claude").join("settings.json"),
        invocations: claude_code_hooks,
        required: &["hooks.PreToolUse"],
    },
    AgentConfig {
        agent: "codex",
        path: |ws| ws.join(".codex").join("config.toml"),
        invocations: codex_mcp_server,
        required: &["mcp_servers.warden"],
    },
];

/// Split a shell command line into words (single and double quotes, backslashes).
fn words(command: &str) -> Result<Vec<String>, String> {
    shlex::split(command).ok_or_else(|| format!("cannot split the command `{command}` into words"))
}

/// Whether `argv` runs Warden: its program's file name is `warden` or it calls a Warden
/// subcommand Warden's configuration writers use (`hook`, `mcp`, `run`, `sandbox`).
fn is_warden(argv: &[String]) -> bool {
    let program_is_warden = argv.first().is_some_and(|p| {
        Path::new(p)
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("warden"))
    });
    let calls_a_hook = argv
        .get(1)
        .is_some_and(|s| matches!(s.as_str(), "hook" | "mcp"));
    program_is_warden || calls_a_hook
}

/// Claude Code's `.claude/settings.json`: every hook command of every event that runs Warden.
fn claude_code_hooks(text: &str) -> Result<Vec<Invocation>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let mut out = Vec::new();
    let Some(hooks) = doc.get("hooks").and_then(Value::as_object) else {
        return Ok(out);
    };
    for (event, groups) in hooks {
        for group in groups.as_array().into_iter().flatten() {
            let list = group.get("hooks").and_then(Value::as_array);
            for h in list.into_iter().flatten() {
                let Some(command) = h.get("command").and_then(Value::as_str) else {
                    continue;
                };
                let argv = words(command)?;
                if is_warden(&argv) {
                    out.push(Invocation {
                        place: format!("hooks.{event}"),
                        argv,
                    });
                }
            }
        }
    }
    Ok(out)
}

/// Codex's project `.codex/config.toml`: the `[mcp_servers.*]` entries that run Warden.
fn codex_mcp_server(text: &str) -> Result<Vec<Invocation>, String> {
    let doc = text
        .parse::<toml_edit::DocumentMut>()
        .map_err(|e| format!("not valid TOML: {e}"))?;
    let mut out = Vec::new();
    let Some(servers) = doc.get("mcp_servers").and_then(|i| i.as_table_like()) else {
        return Ok(out);
    };
    for (name, server) in servers.iter() {
        let Some(command) = server.get("command").and_then(|c| c.as_str()) else {
            continue;
        };
        let mut argv = vec![command.to_owned()];
        if let Some(args) = server.get("args").and_then(|a| a.as_array()) {
            argv.extend(args.iter().filter_map(|a| a.as_str()).map(str::to_owned));
        }
        if is_warden(&argv) {
            out.push(Invocation {
                place: format!("mcp_servers.{name}"),
                argv,
            });
        }
    }
    Ok(out)
}

/// The value of `--flag VALUE` or `--flag=VALUE` in `argv`.
pub fn flag_value<'a>(argv: &'a [String], flag: &str) -> Option<&'a str> {
    argv.iter().enumerate().find_map(|(i, a)| {
        if a == flag {
            argv.get(i + 1).map(String::as_str)
        } else {
            a.strip_prefix(flag)?.strip_prefix('=')
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claude_code_hooks_are_found_with_their_event() {
        let text = r#"{"hooks": {"PreToolUse": [{"matcher": "*", "hooks": [
            {"type": "command", "command": "'/opt/my dir/warden' hook claude-code --policy p.toml"},
            {"type": "command", "command": "lint.sh"}]}]}}"#;
        let found = claude_code_hooks(text).expect("parses");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].place, "hooks.PreToolUse");
        assert_eq!(found[0].argv[0], "/opt/my dir/warden");
        assert_eq!(flag_value(&found[0].argv, "--policy"), Some("p.toml"));
        assert!(claude_code_hooks("{").is_err());
    }

    #[test]
    fn codex_servers_running_warden_are_found() {
        let text = "[mcp_servers.warden]\ncommand = \"/usr/bin/warden\"\nargs = [\"mcp\", \"--workspace=/w\"]\n\n[mcp_servers.other]\ncommand = \"node\"\n";
        let found = codex_mcp_server(text).expect("parses");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].place, "mcp_servers.warden");
        assert_eq!(flag_value(&found[0].argv, "--workspace"), Some("/w"));
    }
}
