//! Claude Code: its hook protocol (the PreToolUse/PostToolUse payload, the tool call → action
//! mapping, the answer JSON and the quoting of the rewritten Bash command), used by both
//! `warden hook claude-code` and `warden replay --format claude-code`; and `warden init --agent
//! claude-code`, which installs the hook.

mod init;

pub use init::init;

use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};
use warden_policy::Action;

/// The agent name written into every record the hook makes.
pub const AGENT: &str = "claude-code";

/// The fields of a hook payload Warden reads (others are ignored: the protocol grows).
#[derive(Debug, Deserialize)]
pub struct HookInput {
    pub session_id: String,
    pub cwd: PathBuf,
    pub hook_event_name: String,
    pub tool_name: String,
    pub tool_input: Map<String, Value>,
    #[serde(default)]
    pub tool_use_id: Option<String>,
    #[serde(default)]
    pub tool_response: Option<Value>,
    /// PostToolUseFailure: what went wrong.
    #[serde(default)]
    pub error: Option<Value>,
    #[serde(default)]
    pub is_interrupt: Option<bool>,
    #[serde(default)]
    pub duration_ms: Option<u64>,
}

/// What is wrong with a tool call's input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputError {
    /// A string field is missing.
    Missing { tool: String, field: &'static str },
    /// A string field is empty.
    Empty { tool: String, field: &'static str },
    /// A field is not a string.
    NotString { tool: String, field: &'static str },
    /// The Bash command holds a NUL byte.
    Nul { tool: String },
    /// The URL is not an absolute http(s) URL.
    Url { tool: String, url: String },
}

impl InputError {
    /// The message in the words of the live hook's payload (`tool_input.FIELD`).
    pub fn hook_message(&self) -> String {
        match self {
            Self::Missing { tool, field } => format!("{tool}: `tool_input.{field}` is missing"),
            Self::Empty { tool, field } => format!("{tool}: `tool_input.{field}` is empty"),
            Self::NotString { tool, field } => {
                format!("{tool}: `tool_input.{field}` must be a string")
            }
            Self::Nul { tool } => format!("{tool}: the command contains a NUL byte"),
            Self::Url { tool, .. } => {
                format!("{tool}: `tool_input.url` is not an absolute http(s) URL")
            }
        }
    }

    /// The message in the words of a transcript (`tool_use` blocks with `input.FIELD`).
    pub fn transcript_message(&self) -> String {
        match self {
            Self::Missing { tool, field }
            | Self::Empty { tool, field }
            | Self::NotString { tool, field } => {
                format!("{tool} tool_use without a string `input.{field}`")
            }
            Self::Nul { tool } => format!("{tool} tool_use whose command contains a NUL byte"),
            Self::Url { tool, url } => {
                format!("{tool} url {url:?} is not an absolute http(s) URL")
            }
        }
    }
}

/// A string field of a tool's input.
fn field<'a>(tool: &str, input: &'a Value, name: &'static str) -> Result<&'a str, InputError> {
    match input.get(name) {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::String(_)) => Err(InputError::Empty {
            tool: tool.into(),
            field: name,
        }),
        Some(_) => Err(InputError::NotString {
            tool: tool.into(),
            field: name,
        }),
        None => Err(InputError::Missing {
            tool: tool.into(),
            field: name,
        }),
    }
}

/// The action a Claude Code tool call asks for: shell for `Bash`, read and write for the file
/// tools, a GET for `WebFetch`, and a tool call (decided by the governance file's tool rules)
/// for MCP tools (`mcp__server__tool`), WebSearch (run by the model provider) and every other
/// tool. With `cwd` (the live hook), file paths are made absolute against it and the command
/// carries it; without (a transcript), paths are kept as written.
pub fn tool_action(tool: &str, input: &Value, cwd: Option<&Path>) -> Result<Action, InputError> {
    let path = |name| -> Result<PathBuf, InputError> {
        let p = Path::new(field(tool, input, name)?);
        Ok(match cwd {
            Some(c) => warden_policy::normalise_path(&c.join(p)),
            None => p.to_path_buf(),
        })
    };
    Ok(match tool {
        "Bash" => {
            let script = field(tool, input, "command")?;
            if script.contains('\0') {
                return Err(InputError::Nul { tool: tool.into() });
            }
            Action::Shell {
                script: script.to_owned(),
                cwd: cwd.map(Path::to_path_buf),
            }
        }
        "Read" => Action::Read {
            path: path("file_path")?,
            recursive: false,
        },
        "NotebookRead" => Action::Read {
            path: path("notebook_path")?,
            recursive: false,
        },
        // The searchers read what they search: `Grep` over `~/.aws` prints the credentials'
        // lines (Claude Code runs it itself, outside the sandbox), as `grep -r x ~/.aws` would,
        // and `Grep` over `~` reads every file below it (`recursive`); `Glob` and `LS` list
        // names. Without a `path` they search the working directory.
        "Grep" | "Glob" | "LS" => {
            let named = input.get("path").and_then(Value::as_str);
            let recursive = tool == "Grep";
            match (named.filter(|p| !p.is_empty()), cwd) {
                (Some(_), _) => Action::Read {
                    path: path("path")?,
                    recursive,
                },
                (None, Some(c)) => Action::Read {
                    path: c.to_path_buf(),
                    recursive,
                },
                (None, None) => Action::Tool {
                    name: tool.to_owned(),
                    arguments: input.clone(),
                },
            }
        }
        "Edit" | "Write" | "MultiEdit" => Action::Write {
            path: path("file_path")?,
        },
        "NotebookEdit" => Action::Write {
            path: path("notebook_path")?,
        },
        "WebFetch" => {
            let url = field(tool, input, "url")?;
            let (host, port, path) = split_url(url).ok_or_else(|| InputError::Url {
                tool: tool.into(),
                url: url.into(),
            })?;
            Action::Net {
                host,
                port: Some(port),
                method: Some("GET".into()),
                path,
                service: None,
            }
        }
        _ => Action::Tool {
            name: tool.to_owned(),
            arguments: input.clone(),
        },
    })
}

/// Whether a tool call runs inside Warden's sandbox: only shell commands do (Claude Code
/// performs its file and web tools itself).
pub fn runs_sandboxed(action: &Action) -> bool {
    matches!(action, Action::Shell { .. })
}

/// Host, port and path (without query or fragment; `/` when empty) of an absolute http(s) URL.
pub fn split_url(url: &str) -> Option<(String, u16, Option<String>)> {
    let (scheme, rest) = url.split_once("://")?;
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "http" => 80,
        "https" => 443,
        _ => return None,
    };
    let (authority, path) = match rest.find(['/', '?', '#']) {
        Some(i) => (&rest[..i], rest[i..].split(['?', '#']).next()),
        None => (rest, None),
    };
    let path = path.filter(|p| !p.is_empty()).map(str::to_owned);
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(v6) = hostport.strip_prefix('[') {
        let (h, after) = v6.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().ok()?),
            None if after.is_empty() => None,
            None => return None,
        };
        (h, port)
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) => (h, Some(p.parse().ok()?)),
            None => (hostport, None),
        }
    };
    if host.is_empty() || host.contains(['/', ' ']) {
        return None;
    }
    Some((
        host.to_ascii_lowercase(),
        port.unwrap_or(default_port),
        path.or_else(|| Some("/".into())),
    ))
}

/// The text a person reads for a tool call (the Bash command, the tool and path, the URL).
pub fn action_text(tool: &str, input: &Map<String, Value>, action: &Action) -> String {
    match action {
        Action::Shell { script, .. } => script.clone(),
        Action::Read { path, .. } | Action::Write { path } => {
            format!("{tool} {}", path.display())
        }
        Action::Net { .. } | Action::Exec { .. } => {
            let url = input.get("url").and_then(Value::as_str).unwrap_or_default();
            format!("{tool} {url}")
        }
        Action::Tool { name, .. } => name.clone(),
    }
}

/// The decision sent back to Claude Code.
#[derive(Debug)]
pub enum Answer {
    /// Let it run (with the tool input replaced, e.g. the Bash command wrapped by Warden).
    Allow {
        reason: String,
        updated: Option<Map<String, Value>>,
    },
    /// Leave it to Claude Code's own prompt.
    Ask {
        reason: String,
        updated: Option<Map<String, Value>>,
    },
    /// Refuse it; the reason is shown to the model.
    Deny { reason: String },
}

impl Answer {
    /// The hook's JSON answer (secrets in the reason masked).
    pub fn to_json(&self) -> Value {
        let (decision, reason, updated) = match self {
            Answer::Allow { reason, updated } => ("allow", reason, updated.as_ref()),
            Answer::Ask { reason, updated } => ("ask", reason, updated.as_ref()),
            Answer::Deny { reason } => ("deny", reason, None),
        };
        let mut out = json!({
            "hookEventName": "PreToolUse",
            "permissionDecision": decision,
            "permissionDecisionReason": redact(reason),
        });
        if let Some(u) = updated {
            out["updatedInput"] = Value::Object(u.clone());
        }
        json!({ "hookSpecificOutput": out })
    }
}

/// Mask secrets in text shown to Claude or the user.
pub fn redact(s: &str) -> String {
    let mut found = warden_audit::redact::Redactions::new();
    warden_audit::redact::redact_str(s, &mut found)
}

pub use warden_govern::execute::sh_quote;

/// How a Bash command is wrapped so that it runs sandboxed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrap {
    /// `warden run`: classified again, recorded, sandboxed (for `auto`: nothing to approve).
    Run,
    /// `warden sandbox`: already approved by a person, so only isolated (running it through
    /// `warden run` would ask for the same approval a second time).
    Sandbox,
}

/// What the rewritten Bash command needs to know.
#[derive(Debug)]
pub struct Rewrite<'a> {
    /// Warden's own executable (UTF-8).
    pub warden: &'a str,
    /// The workspace root (UTF-8).
    pub workspace: &'a str,
    /// The governance file given to the hook, absolute (UTF-8).
    pub policy: Option<&'a str>,
    /// The shell Claude Code's Bash tool would have used (bash where there is one).
    pub bash: Option<&'a str>,
    /// The agent named in `warden run --agent` (Codex's hook uses this rewrite too).
    pub agent: &'a str,
    /// Carry the directory the command ends in to the agent's shell (`--cwd-report`, then a
    /// `cd` there): for a shell that keeps its working directory between calls.
    pub report_cwd: bool,
}

/// The variables the rewrite uses in the agent's shell (each call starts a fresh one).
const REPORT_FILE: &str = "__warden_cwd";

/// The Bash tool input with `command` replaced by the same command under Warden.
pub fn rewrite_bash(input: &HookInput, r: &Rewrite<'_>, wrap: Wrap) -> Map<String, Value> {
    let command = input
        .tool_input
        .get("command")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let q = |s: &str| sh_quote(s);
    let mut parts = vec![q(r.warden)];
    match wrap {
        Wrap::Run => {
            parts.extend(["run".into(), "--agent".into(), r.agent.into()]);
            parts.extend(["--session".into(), q(&input.session_id)]);
            if let Some(id) = &input.tool_use_id {
                parts.extend(["--tool-call-id".into(), q(id)]);
            }
            if let Some(Value::String(d)) = input.tool_input.get("description") {
                parts.extend(["--rationale".into(), q(d)]);
            }
        }
        Wrap::Sandbox => parts.push("sandbox".into()),
    }
    if r.report_cwd {
        // Always the option and one quoted word (zsh does not split `${X:+a "$X"}` into two);
        // empty when no file could be made.
        parts.push(format!("--cwd-report \"${REPORT_FILE}\""));
    }
    parts.extend(["--workspace".into(), q(r.workspace)]);
    if let Some(p) = r.policy {
        parts.extend(["--policy".into(), q(p)]);
    }
    match r.bash {
        Some(bash) => parts.extend(["--".into(), bash.into(), "-c".into(), q(command)]),
        None if wrap == Wrap::Run => parts.extend(["--shell".into(), q(command)]),
        None => parts.extend(["--".into(), "/bin/sh".into(), "-c".into(), q(command)]),
    }
    let mut command = parts.join(" ");
    if r.report_cwd {
        // A report file of its own (none when it cannot be made: then no `cd`), the command's
        // status kept through the `cd` to where it ended (inside the workspace: Warden checked).
        command = format!(
            "{REPORT_FILE}=$(mktemp 2>/dev/null) || {REPORT_FILE}=; {command}; \
             __warden_status=$?; if [ -n \"${REPORT_FILE}\" ]; then \
             __warden_dir=$(cat -- \"${REPORT_FILE}\" 2>/dev/null); rm -f -- \"${REPORT_FILE}\"; \
             [ -n \"$__warden_dir\" ] && cd -- \"$__warden_dir\"; fi; (exit $__warden_status)"
        );
    }
    let mut updated = input.tool_input.clone();
    updated.insert("command".into(), Value::String(command));
    updated
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_the_shell() {
        for s in [
            "plain",
            "it's",
            "''",
            "a'b'c",
            "$HOME `id` $(id) \\n \" ! *",
            "line1\nline2",
            "",
        ] {
            let o = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("printf %s {}", sh_quote(s)))
                .output()
                .expect("sh");
            assert_eq!(String::from_utf8_lossy(&o.stdout), s);
        }
    }

    #[test]
    fn urls_split_into_host_port_and_path() {
        assert_eq!(
            split_url("https://User@Docs.Example.invalid:8443/a?b"),
            Some(("docs.example.invalid".into(), 8443, Some("/a".into())))
        );
        assert_eq!(
            split_url("http://[::1]/x#f"),
            Some(("::1".into(), 80, Some("/x".into())))
        );
        assert_eq!(
            split_url("https://example.invalid"),
            Some(("example.invalid".into(), 443, Some("/".into())))
        );
        assert_eq!(split_url("nohost"), None);
        assert_eq!(split_url("https:///path"), None);
        assert_eq!(split_url("ftp://example.invalid/x"), None);
        assert_eq!(split_url("https://example.invalid:99999/"), None);
    }

    #[test]
    fn more_urls_split_into_host_port_and_path() {
        let s = |u: &str| split_url(u);
        assert_eq!(
            s("https://Example.invalid/a/b?q=1#f"),
            Some(("example.invalid".into(), 443, Some("/a/b".into())))
        );
        assert_eq!(
            s("http://u:p@h.invalid:8080"),
            Some(("h.invalid".into(), 8080, Some("/".into())))
        );
        assert_eq!(
            s("https://[::1]:8443/x"),
            Some(("::1".into(), 8443, Some("/x".into())))
        );
        for bad in [
            "ftp://h/",
            "https://",
            "https://:80/",
            "h.invalid/x",
            "https://h:x/",
        ] {
            assert_eq!(s(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_hook_and_a_transcript_map_a_tool_call_the_same_way() {
        let input = json!({"file_path": "src/a.rs"});
        assert_eq!(
            tool_action("Edit", &input, Some(Path::new("/w"))).unwrap(),
            Action::Write {
                path: "/w/src/a.rs".into()
            }
        );
        assert_eq!(
            tool_action("Edit", &input, None).unwrap(),
            Action::Write {
                path: "src/a.rs".into()
            }
        );
        let e = tool_action("Bash", &json!({}), None).unwrap_err();
        assert_eq!(e.hook_message(), "Bash: `tool_input.command` is missing");
        assert_eq!(
            e.transcript_message(),
            "Bash tool_use without a string `input.command`"
        );
    }
}
