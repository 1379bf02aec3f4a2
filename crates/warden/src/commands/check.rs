//! `warden check`: classify one action without running it, for people and for programs.

use crate::exit::{CliError, CmdResult};
use crate::policy_load;
use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use warden_policy::{Action, Decision, Policy, Tier};

/// Arguments of `warden check`.
#[derive(clap::Args, Debug)]
#[command(
    after_help = "Exit status: 0 whenever classification succeeded (whatever the tier), 2 for bad input."
)]
pub struct CheckArgs {
    /// Governance file to use as the repository layer (default: <workspace>/.warden/policy.toml).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Directory the action starts in (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Workspace root (default: the nearest directory with `.git` or `.warden`).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Classify as if the action ran outside the sandbox.
    #[arg(long)]
    pub unsandboxed: bool,
    /// The agent's stated reason for the action (echoed in JSON output).
    #[arg(long, value_name = "TEXT")]
    pub rationale: Option<String>,
    /// Classify a shell string.
    #[arg(long, value_name = "S", conflicts_with_all = ["action", "argv"])]
    pub shell: Option<String>,
    /// Classify a JSON action from FILE, or `-` for standard input.
    #[arg(long, value_name = "FILE|-", conflicts_with_all = ["shell", "argv"])]
    pub action: Option<String>,
    /// The argv of an exec action, after `--`.
    #[arg(last = true, value_name = "ARGV")]
    pub argv: Vec<String>,
}

/// A JSON action with the optional metadata an agent may attach.
pub struct ParsedAction {
    pub action: Action,
    pub rationale: Option<String>,
}

/// Parse a JSON action document: `{"kind": "exec"|"shell"|"read"|"write"|"net"|"tool", …}` plus
/// optional `rationale`, `agent`, `session`, `tool_call_id`.
pub fn parse_action_json(name: &str, text: &str) -> Result<ParsedAction, CliError> {
    let bad = |msg: String| {
        CliError::bad_input(miette::miette!(
            help = "expected e.g. {\"kind\":\"exec\",\"argv\":[\"git\",\"push\"]} or {\"kind\":\"shell\",\"script\":\"ls\"}; kinds: exec, shell, read, write, net, tool",
            "{name}: {msg}"
        ))
    };
    let mut value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| bad(format!("line {} column {}: {e}", e.line(), e.column())))?;
    let obj = value
        .as_object_mut()
        .ok_or_else(|| bad("the action must be a JSON object".into()))?;
    let rationale = match obj.remove("rationale") {
        Some(serde_json::Value::String(s)) => Some(s),
        Some(serde_json::Value::Null) | None => None,
        Some(_) => return Err(bad("`rationale` must be a string".into())),
    };
    for meta in ["agent", "session", "tool_call_id"] {
        obj.remove(meta);
    }
    let action: Action = serde_json::from_value(value).map_err(|e| bad(e.to_string()))?;
    validate_action(&action).map_err(bad)?;
    Ok(ParsedAction { action, rationale })
}

/// Reject actions that cannot be classified meaningfully.
pub fn validate_action(action: &Action) -> Result<(), String> {
    match action {
        Action::Exec { argv, .. } if argv.is_empty() || argv[0].is_empty() => {
            Err("an exec action needs a non-empty argv".into())
        }
        Action::Shell { script, .. } if script.trim().is_empty() => {
            Err("a shell action needs a non-empty script".into())
        }
        Action::Net { host, .. } if host.is_empty() => Err("a net action needs a host".into()),
        Action::Tool { name, .. } if name.is_empty() => Err("a tool action needs a name".into()),
        _ => Ok(()),
    }
}

/// The action named by `--shell`, `--action` or the trailing argv.
pub fn action_from_flags(
    shell: Option<&str>,
    action: Option<&str>,
    argv: &[String],
) -> Result<ParsedAction, CliError> {
    match (shell, action, argv.is_empty()) {
        (Some(s), None, true) => {
            let a = Action::Shell {
                script: s.to_owned(),
                cwd: None,
            };
            validate_action(&a).map_err(|m| CliError::bad_input(miette::miette!("{m}")))?;
            Ok(ParsedAction {
                action: a,
                rationale: None,
            })
        }
        (None, Some(src), true) => {
            let (name, text) = if src == "-" {
                let mut t = String::new();
                std::io::stdin().read_to_string(&mut t).map_err(|e| {
                    CliError::bad_input(miette::miette!(
                        "cannot read the action from standard input: {e}"
                    ))
                })?;
                ("<stdin>".to_owned(), t)
            } else {
                let t = std::fs::read_to_string(src).map_err(|e| {
                    CliError::bad_input(miette::miette!("cannot read action file {src}: {e}"))
                })?;
                (src.to_owned(), t)
            };
            parse_action_json(&name, &text)
        }
        (None, None, false) => {
            let a = Action::Exec {
                argv: argv.to_vec(),
                cwd: None,
            };
            validate_action(&a).map_err(|m| CliError::bad_input(miette::miette!("{m}")))?;
            Ok(ParsedAction {
                action: a,
                rationale: None,
            })
        }
        (None, None, true) => Err(CliError::bad_input(miette::miette!(
            help = "warden check -- git push   |   warden check --shell 'git push'   |   warden check --action action.json",
            "nothing to classify: give an argv after `--`, `--shell S` or `--action FILE`"
        ))),
        _ => Err(CliError::bad_input(miette::miette!(
            "give exactly one of: an argv after `--`, `--shell S`, `--action FILE`"
        ))),
    }
}

/// Run `warden check`.
pub fn run(args: CheckArgs) -> CmdResult {
    let parsed = action_from_flags(args.shell.as_deref(), args.action.as_deref(), &args.argv)?;
    let ctx = policy_load::context(
        args.workspace.as_deref(),
        args.cwd.as_deref(),
        !args.unsandboxed,
    )?;
    // Never freed: the process ends with this command, and freeing the compiled policy piece
    // by piece costs a measurable share of a short run.
    let policy =
        std::mem::ManuallyDrop::new(policy_load::load(args.policy.as_deref(), &ctx.workspace)?);
    // With lookahead, as the governed path classifies (warden_govern::classify).
    let decision = warden_govern::classify(&policy, &parsed.action, &ctx);
    let rationale = args.rationale.or(parsed.rationale);
    if args.json {
        println!(
            "{}",
            render_json(&decision, &policy, ctx.sandboxed, rationale.as_deref())
        );
    } else {
        print!("{}", render_text(&decision));
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON object of the command-line contract.
pub fn render_json(
    d: &Decision,
    policy: &Policy,
    sandboxed: bool,
    rationale: Option<&str>,
) -> String {
    let mut v = serde_json::to_value(d).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("sandboxed".into(), sandboxed.into());
        obj.insert("policy_digest".into(), policy.digest().into());
        if let Some(r) = rationale {
            obj.insert("rationale".into(), r.into());
        }
    }
    v.to_string()
}

/// The text a person reads.
pub fn render_text(d: &Decision) -> String {
    let mut out = format!(
        "{}  {}  (rule {})\n",
        tier_label(d.tier),
        d.category,
        d.rule
    );
    for r in &d.reasons {
        out.push_str(&format!("  - {r}\n"));
    }
    if d.commands.len() > 1 {
        out.push_str("commands:\n");
        for c in &d.commands {
            let via = if c.wrappers.is_empty() {
                String::new()
            } else {
                format!("  via {}", c.wrappers.join(" → "))
            };
            out.push_str(&format!(
                "  {:<5}  {}  [{}]{via}\n",
                c.tier.as_str(),
                c.argv.join(" "),
                c.rule
            ));
        }
    }
    out
}

fn tier_label(t: Tier) -> &'static str {
    match t {
        Tier::Auto => "AUTO ",
        Tier::Async => "ASYNC",
        Tier::Sync => "SYNC ",
        Tier::Deny => "DENY ",
    }
}
