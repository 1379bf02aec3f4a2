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

/// An agent and one configuration file that puts it under Warden.
#[derive(Debug)]
pub struct AgentConfig {
    /// The name `warden init --agent` takes.
    pub agent: &'static str,
    /// The arguments of `warden init` that write this file (e.g. `--agent codex --mode mcp`).
    pub init: &'static str,
    /// Whether this is the agent's usual route: a file of a secondary route (Codex's MCP server)
    /// that holds no Warden command says nothing, while the usual route's file does (the agent
    /// then works ungoverned).
    pub primary: bool,
    /// The configuration file, given the workspace (user-wide files ignore it).
    pub path: fn(&Path) -> PathBuf,
    /// The Warden command lines in the file's text (an error says why it cannot be read).
    pub invocations: fn(&str) -> Result<Vec<Invocation>, String>,
    /// Places that must hold a Warden invocation for the agent to be governed at all (e.g. the
    /// hook that runs before every tool call).
    pub required: &'static [&'static str],
}

/// Every agent `warden doctor` looks for: the files `warden init --agent` writes.
pub const AGENTS: &[AgentConfig] = &[
    AgentConfig {
        agent: "claude-code",
        init: "--agent claude-code",
        primary: true,
        path: |ws| ws.join(".claude").join("settings.json"),
        invocations: |t| hook_commands(t, "command", true),
        required: &["hooks.PreToolUse"],
    },
    // Codex 0.169 runs hooks only from the user's `$CODEX_HOME/hooks.json`.
    AgentConfig {
        agent: "codex",
        init: "--agent codex",
        primary: true,
        path: |_| super::codex::codex_home().join("hooks.json"),
        invocations: |t| hook_commands(t, "command", true),
        required: &["hooks.PreToolUse"],
    },
    AgentConfig {
        agent: "codex",
        init: "--agent codex --mode mcp",
        primary: false,
        path: |ws| ws.join(".codex").join("config.toml"),
        invocations: codex_mcp_server,
        required: &["mcp_servers.warden"],
    },
    AgentConfig {
        agent: "gemini",
        init: "--agent gemini",
        primary: true,
        path: |ws| ws.join(".gemini").join("settings.json"),
        invocations: |t| hook_commands(t, "command", true),
        required: &["hooks.BeforeTool"],
    },
    // Copilot's repository hooks need a folder trust it keeps to itself: the user's file.
    AgentConfig {
        agent: "copilot",
        init: "--agent copilot",
        primary: true,
        path: |_| super::copilot::copilot_dir().join("settings.json"),
        invocations: |t| hook_commands(t, "bash", false),
        required: &["hooks.preToolUse"],
    },
    AgentConfig {
        agent: "opencode",
        init: "--agent opencode",
        primary: true,
        path: |ws| ws.join("opencode.json"),
        invocations: opencode_mcp_server,
        required: &["mcp.warden"],
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

/// A JSON settings file's `hooks` object, keyed by event: every hook command that runs Warden.
/// Claude Code, Codex (`hooks.json`) and Gemini CLI nest the commands in matcher groups
/// (`hooks.EVENT[].hooks[].command`); Copilot lists them directly (`hooks.EVENT[].bash`).
fn hook_commands(text: &str, key: &str, grouped: bool) -> Result<Vec<Invocation>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let mut out = Vec::new();
    let Some(hooks) = doc.get("hooks").and_then(Value::as_object) else {
        return Ok(out);
    };
    for (event, entries) in hooks {
        let entries = entries.as_array().into_iter().flatten();
        let handlers: Vec<&Value> = if grouped {
            entries
                .filter_map(|g| g.get("hooks").and_then(Value::as_array))
                .flatten()
                .collect()
        } else {
            entries.collect()
        };
        for h in handlers {
            let Some(command) = h.get(key).and_then(Value::as_str) else {
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
    Ok(out)
}

/// OpenCode's `opencode.json`: the `mcp.*` local servers whose command runs Warden.
fn opencode_mcp_server(text: &str) -> Result<Vec<Invocation>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let doc: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let mut out = Vec::new();
    let Some(servers) = doc.get("mcp").and_then(Value::as_object) else {
        return Ok(out);
    };
    for (name, server) in servers {
        let argv: Vec<String> = server
            .get("command")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
        if is_warden(&argv) {
            out.push(Invocation {
                place: format!("mcp.{name}"),
                argv,
            });
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
        let found = hook_commands(text, "command", true).expect("parses");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].place, "hooks.PreToolUse");
        assert_eq!(found[0].argv[0], "/opt/my dir/warden");
        assert_eq!(flag_value(&found[0].argv, "--policy"), Some("p.toml"));
        assert!(hook_commands("{", "command", true).is_err());
    }

    #[test]
    fn codex_servers_running_warden_are_found() {
        let text = "[mcp_servers.warden]\ncommand = \"/usr/bin/warden\"\nargs = [\"mcp\", \"--workspace=/w\"]\n\n[mcp_servers.other]\ncommand = \"node\"\n";
        let found = codex_mcp_server(text).expect("parses");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].place, "mcp_servers.warden");
        assert_eq!(flag_value(&found[0].argv, "--workspace"), Some("/w"));
    }

    #[test]
    fn copilot_hooks_and_opencode_servers_running_warden_are_found() {
        let copilot = r#"{"hooks": {"preToolUse": [{"type": "command", "bash": "/usr/bin/warden hook copilot --event preToolUse"},
            {"type": "command", "bash": "echo hi"}]}}"#;
        let found = hook_commands(copilot, "bash", false).expect("parses");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].place, "hooks.preToolUse");
        let opencode = r#"{"mcp": {"warden": {"type": "local", "command": ["/usr/bin/warden", "mcp", "--workspace", "/w"]},
            "docs": {"type": "remote", "url": "http://h.invalid"}}}"#;
        let found = opencode_mcp_server(opencode).expect("parses");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].place, "mcp.warden");
        assert_eq!(flag_value(&found[0].argv, "--workspace"), Some("/w"));
    }

    #[test]
    fn every_agent_init_knows_has_a_row() {
        for agent in ["claude-code", "codex", "gemini", "copilot", "opencode"] {
            assert!(
                AGENTS.iter().any(|a| a.agent == agent && a.primary),
                "{agent} has no primary row"
            );
        }
    }
}
