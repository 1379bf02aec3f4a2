//! The `warden` binary: parses flags, turns them into ready objects from the library crates,
//! dispatches, and maps typed errors onto the exit codes of the command-line contract.

/// `eprintln!` that ignores a failed write: a closed or broken stderr (say, a reader that went
/// away) must not turn a deny (77) or the command's own status into a panic (101).
macro_rules! stderr_line {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!` counterpart of [`stderr_line!`] (no newline; flushed, for prompts).
macro_rules! stderr_text {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut e = std::io::stderr();
        let _ = write!(e, $($arg)*);
        let _ = e.flush();
    }};
}

mod agents;
mod approval;
mod approval_server;
mod commands;
mod exit;
mod policy_load;
mod record;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "warden",
    version,
    about = "Governed execution for coding agents"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Classify one action into a risk tier without running it.
    Check(commands::check::CheckArgs),
    /// Classify, record, approve, isolate and run one action.
    Run(commands::run::RunArgs),
    /// Run a command in the sandbox with no classification (e.g. to wrap a whole agent).
    Sandbox(commands::sandbox::SandboxArgs),
    /// Work with governance files: lint, test, explain, schema.
    #[command(subcommand)]
    Policy(commands::policy::PolicyCommand),
    /// Write a commented `.warden/policy.toml` for the current repository.
    Init(commands::init::InitArgs),
    /// The audit log: verify, tail, show, export, keygen, checkpoint.
    Audit(commands::audit::AuditArgs),
    /// The approval server: HTTP API and web UI for approvers.
    Serve(commands::serve::ServeArgs),
    /// The approver's side: list, show, approve, deny, status; tokens; the async worker.
    Approvals(commands::approvals::ApprovalsArgs),
    /// Agent hooks: `warden hook claude-code` answers Claude Code's PreToolUse/PostToolUse hooks.
    #[command(subcommand)]
    Hook(commands::hook::HookCommand),
    /// MCP server with governed tools (stdio or streamable HTTP), for any MCP-capable agent.
    Mcp(commands::mcp::McpArgs),
    /// Classify a recorded stream of actions against a governance file without running anything.
    Replay(commands::replay::ReplayArgs),
    /// Governance report from the audit log: tiers, approvals, rules, network, incidents.
    Report(commands::report::ReportArgs),
    /// What this machine enforces for this workspace, which agent hooks are live, and why not.
    Doctor(commands::doctor::DoctorArgs),
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish, powershell).
    Completions(commands::completions::CompletionsArgs),
    /// Print the manual page (or write every page into --dir).
    Man(commands::completions::ManArgs),
}

impl Command {
    /// Whether the command only reads, decides and prints, so a reader that closes its pipe
    /// early (`| head`) should end it quietly by SIGPIPE rather than make `println!` panic. The
    /// rest keep SIGPIPE ignored: they serve clients, talk to a server they must answer for, or
    /// run an action — whose egress proxy and supervisor write into connections and pipes a
    /// sandboxed program may close at any time, and which must still record its outcome (the
    /// async worker was once killed that way, by a `curl | head` it ran).
    fn only_prints(&self) -> bool {
        use commands::approvals::ApprovalsCommand;
        use commands::audit::AuditCommand;
        match self {
            Command::Check(_)
            | Command::Policy(_)
            | Command::Init(_)
            | Command::Replay(_)
            | Command::Report(_)
            | Command::Doctor(_)
            | Command::Completions(_)
            | Command::Man(_) => true,
            Command::Audit(a) => !matches!(a.command, AuditCommand::Export(_)),
            Command::Approvals(a) => !matches!(
                a.command,
                ApprovalsCommand::Worker { .. } | ApprovalsCommand::Request(_)
            ),
            Command::Run(_)
            | Command::Sandbox(_)
            | Command::Serve(_)
            | Command::Mcp(_)
            | Command::Hook(_) => false,
        }
    }
}

fn main() -> ExitCode {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == warden_sandbox::INIT_ARG)
    {
        warden_sandbox::init_main();
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let code = if err.use_stderr() { exit::BAD_INPUT } else { 0 };
            // clap renders its own help/usage text.
            let _ = err.print();
            return ExitCode::from(code);
        }
    };
    if cli.command.only_prints() {
        warden_sandbox::restore_default_sigpipe();
    }
    let result = match cli.command {
        Command::Check(args) => commands::check::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Sandbox(args) => commands::sandbox::run(args),
        Command::Policy(cmd) => commands::policy::run(cmd),
        Command::Init(args) => commands::init::run(args),
        Command::Audit(args) => commands::audit::run(args),
        Command::Serve(args) => commands::serve::run(args),
        Command::Approvals(args) => commands::approvals::run(args),
        Command::Hook(cmd) => commands::hook::run(cmd),
        Command::Mcp(args) => commands::mcp::run(args),
        Command::Replay(args) => commands::replay::run(args),
        Command::Report(args) => commands::report::run(args),
        Command::Doctor(args) => commands::doctor::run(args),
        Command::Completions(args) => commands::completions::completions(args),
        Command::Man(args) => commands::completions::man(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => err.report(),
    }
}
