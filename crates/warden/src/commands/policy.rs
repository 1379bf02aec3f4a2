//! `warden policy`: lint, test, explain and describe governance files.

use crate::commands::check::{action_from_flags, render_text};
use crate::exit::{CliError, CmdResult};
use crate::policy_load;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use warden_policy::{Layer, Policy, PolicyFile, PolicySource};

/// Subcommands of `warden policy`.
#[derive(clap::Subcommand, Debug)]
pub enum PolicyCommand {
    /// Check governance files: unknown keys, bad globs, bad tiers, locks, contradictions.
    Lint(FilesArgs),
    /// Run the `[[test]]` cases (expected tiers) of the layered policy.
    Test(FilesArgs),
    /// Show how an action is classified, rule by rule.
    Explain(ExplainArgs),
    /// Print the JSON Schema of the governance file.
    Schema,
    /// Print the built-in default policy.
    Default,
}

/// Files to lint or test.
#[derive(clap::Args, Debug)]
pub struct FilesArgs {
    /// Governance files, layered in order over the built-in default (default: the workspace's).
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Workspace root (default: the nearest directory with `.git` or `.warden`).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `warden policy explain`.
#[derive(clap::Args, Debug)]
pub struct ExplainArgs {
    /// Governance file to use as the repository layer.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Directory the action starts in.
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
    /// Workspace root.
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Classify as if the action ran outside the sandbox.
    #[arg(long)]
    pub unsandboxed: bool,
    /// Print JSON (decision plus trace).
    #[arg(long)]
    pub json: bool,
    /// Explain a shell string.
    #[arg(long, value_name = "S")]
    pub shell: Option<String>,
    /// Explain a JSON action from FILE, or `-` for standard input.
    #[arg(long, value_name = "FILE|-")]
    pub action: Option<String>,
    /// The argv of an exec action, after `--`.
    #[arg(last = true, value_name = "ARGV")]
    pub argv: Vec<String>,
}

/// Run `warden policy`.
pub fn run(cmd: PolicyCommand) -> CmdResult {
    match cmd {
        PolicyCommand::Lint(a) => lint(a),
        PolicyCommand::Test(a) => test(a),
        PolicyCommand::Explain(a) => explain(a),
        PolicyCommand::Schema => {
            let schema = schemars::schema_for!(PolicyFile);
            let text = serde_json::to_string_pretty(&schema)
                .map_err(|e| CliError::failure(miette::miette!("cannot render the schema: {e}")))?;
            println!("{text}");
            Ok(ExitCode::SUCCESS)
        }
        PolicyCommand::Default => {
            print!("{}", warden_policy::DEFAULT_POLICY);
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn sources_for(a: &FilesArgs) -> Result<(Vec<PolicySource>, PathBuf), CliError> {
    let here = std::env::current_dir().map_err(|e| {
        CliError::failure(miette::miette!("cannot read the current directory: {e}"))
    })?;
    let workspace = match &a.workspace {
        Some(w) => policy_load::absolute(w)?,
        None => policy_load::find_workspace(&here),
    };
    if a.files.is_empty() {
        return Ok((policy_load::sources(None, &workspace)?, workspace));
    }
    let mut out = Vec::new();
    for f in &a.files {
        let text = std::fs::read_to_string(f).map_err(|e| {
            CliError::bad_input(miette::miette!(
                "cannot read governance file {}: {e}",
                f.display()
            ))
        })?;
        out.push(PolicySource {
            name: f.display().to_string(),
            text,
            layer: Layer::Repository,
        });
    }
    Ok((out, workspace))
}

fn load_or_report(sources: &[PolicySource], json: bool) -> Result<Policy, CliError> {
    Policy::load(sources).map_err(|e| {
        if json {
            let errors: Vec<serde_json::Value> = e
                .errors
                .iter()
                .map(|x| {
                    serde_json::json!({"file": x.file, "line": x.line, "column": x.column, "message": x.message})
                })
                .collect();
            println!("{}", serde_json::json!({"ok": false, "errors": errors}));
        }
        CliError::bad_input(miette::Report::new(e))
    })
}

fn lint(a: FilesArgs) -> CmdResult {
    let (sources, _) = sources_for(&a)?;
    let policy = load_or_report(&sources, a.json)?;
    let warnings = policy.lint_warnings();
    if a.json {
        println!(
            "{}",
            serde_json::json!({"ok": true, "files": policy.sources(), "digest": policy.digest(), "warnings": warnings})
        );
    } else {
        for w in &warnings {
            stderr_line!("warning: {w}");
        }
        println!(
            "ok: {} ({} rules, {} never-auto, {} tests; {})",
            policy.sources().join(" + "),
            policy.config().rules.len(),
            policy.config().never_auto.len(),
            policy.config().tests.len(),
            policy.digest()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Where `[[test]]` cases pretend the workspace and home are, so results never depend on the
/// machine running them.
pub const TEST_WORKSPACE: &str = "/warden-test/workspace";
/// See [`TEST_WORKSPACE`].
pub const TEST_HOME: &str = "/warden-test/home";

fn test(a: FilesArgs) -> CmdResult {
    let (sources, _) = sources_for(&a)?;
    let policy = load_or_report(&sources, a.json)?;
    let (count, failures) = policy.run_tests(Path::new(TEST_WORKSPACE), Path::new(TEST_HOME));
    if a.json {
        let f: Vec<serde_json::Value> = failures
            .iter()
            .map(|f| serde_json::json!({"file": f.source, "action": f.action, "expected": f.expected, "actual": f.actual}))
            .collect();
        println!(
            "{}",
            serde_json::json!({"passed": count - failures.len(), "failed": failures.len(), "failures": f})
        );
    } else {
        for f in &failures {
            println!(
                "FAIL {}: {}\n     expected {}\n     got      {}",
                f.source, f.action, f.expected, f.actual
            );
        }
        println!(
            "{} passed, {} failed",
            count - failures.len(),
            failures.len()
        );
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn explain(a: ExplainArgs) -> CmdResult {
    let parsed = action_from_flags(a.shell.as_deref(), a.action.as_deref(), &a.argv)?;
    let ctx = policy_load::context(a.workspace.as_deref(), a.cwd.as_deref(), !a.unsandboxed)?;
    let policy = policy_load::load(a.policy.as_deref(), &ctx.workspace)?;
    let (decision, trace) = warden_govern::explain(&policy, &parsed.action, &ctx);
    if a.json {
        let mut v = serde_json::to_value(&decision).unwrap_or_default();
        if let Some(o) = v.as_object_mut() {
            o.insert("trace".into(), trace.into());
            o.insert("policy_files".into(), policy.sources().to_vec().into());
        }
        println!("{v}");
    } else {
        println!("policy: {}", policy.sources().join(" + "));
        println!(
            "context: workspace {}, cwd {}, {}",
            ctx.workspace.display(),
            ctx.cwd.display(),
            if ctx.sandboxed {
                "sandboxed"
            } else {
                "unsandboxed"
            }
        );
        println!("trace:");
        for t in &trace {
            println!("  {t}");
        }
        print!("decision: {}", render_text(&decision));
    }
    Ok(ExitCode::SUCCESS)
}
