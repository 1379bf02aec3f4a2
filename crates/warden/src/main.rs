//! The `warden` binary: parses flags, turns them into ready objects from the library crates,
//! dispatches, and maps typed errors onto the exit codes of the command-line contract.
// The C `main` below is the entry point: see it for what that saves and what it keeps.
#![cfg_attr(not(test), no_main)]

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

/// The command line, parsed. `check` and `hook` run before every action an agent takes, and
/// building clap's whole tree of subcommands is a measurable part of their start-up; so their
/// parser is built alone first. Anything that parser does not accept outright — an error, help,
/// version — is parsed again by the whole tree, so every message is exactly the full parser's.
fn parse_command_line() -> Result<Cli, clap::Error> {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    hot_path_parse(&args).map_or_else(|| Cli::try_parse_from(&args), Ok)
}

/// `args` parsed by a tree holding only the subcommand `args[1]` names, when that is a hot
/// path and the parse succeeds; `None` otherwise. The tree's settings only shape errors and
/// help, which the full parser renders; a successful parse is the same either way
/// (`tests::the_hot_path_parses_like_the_whole_tree`).
fn hot_path_parse(args: &[std::ffi::OsString]) -> Option<Cli> {
    use clap::{Args as _, FromArgMatches as _, Subcommand as _};
    let sub = match args.get(1)?.to_str()? {
        "check" => commands::check::CheckArgs::augment_args(clap::Command::new("check")),
        "hook" => commands::hook::HookCommand::augment_subcommands(clap::Command::new("hook"))
            .subcommand_required(true),
        _ => return None,
    };
    let matches = clap::Command::new("warden")
        .subcommand_required(true)
        .subcommand(sub)
        .try_get_matches_from(args)
        .ok()?;
    Cli::from_arg_matches(&matches).ok()
}

/// The process's entry point, called by the C runtime. Rust's own start-up (`fn main`) would
/// also read `/proc/self/maps` and install stack-overflow handlers, a measurable share of the
/// start-up of `warden check` and `warden hook`, which run before every action an agent takes.
/// What Warden relies on from it is done by [`warden_sandbox::runtime_start`]; a panic still
/// ends the process with status 101 after the panic message, and `process::exit` flushes
/// standard output as a return from `fn main` would. (Arguments come from
/// `std::env::args_os`, which the standard library captures for any binary on glibc.) The
/// differences: a stack overflow ends the process by SIGSEGV without Rust's one-line message,
/// and a panic message names the main thread `<unnamed>`.
#[cfg(not(test))]
#[allow(
    unsafe_code,
    reason = "the C entry point must have the unmangled name `main`"
)]
#[unsafe(no_mangle)]
extern "C" fn main(
    _argc: std::ffi::c_int,
    _argv: *const *const std::ffi::c_char,
) -> std::ffi::c_int {
    warden_sandbox::runtime_start();
    let code = std::panic::catch_unwind(warden_main).unwrap_or(ExitCode::from(101));
    // `ExitCode` does not expose its number on stable Rust; it has equality.
    let status = (0..=u8::MAX).find(|&c| ExitCode::from(c) == code);
    std::process::exit(status.map_or(1, i32::from))
}

#[cfg_attr(
    test,
    allow(dead_code, reason = "the test harness has its own entry point")
)]
fn warden_main() -> ExitCode {
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == warden_sandbox::INIT_ARG)
    {
        warden_sandbox::init_main();
    }
    let cli = match parse_command_line() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    /// Every argument vector the hot path accepts parses to the same `Cli` as the whole tree,
    /// and whatever the whole tree refuses (or answers with help) the hot path leaves to it.
    #[test]
    fn the_hot_path_parses_like_the_whole_tree() {
        let lines: &[&str] = &[
            "check -- git push origin main",
            "check --json -- rm -rf /",
            "check --shell 'git status && ls'",
            "check --json --shell ls --rationale why",
            "check --action - --cwd /srv --workspace /srv/ws --unsandboxed",
            "check --policy p.toml --json --action a.json",
            "check --json",
            "check git push",
            "check -- --json",
            "check --shell=ls",
            "check --shell ls --action a.json",
            "check --shell ls -- git push",
            "check --nope",
            "check --help",
            "check -h",
            "check --version",
            "check --json --json -- ls",
            "check --cwd",
            "hook claude-code",
            "hook codex --policy p.toml --workspace /w",
            "hook copilot --event preToolUse",
            "hook gemini --event",
            "hook",
            "hook nope",
            "hook claude-code --help",
            "hook claude-code extra",
            "hook --help",
            "run -- ls",
        ];
        let mut took_hot_path = 0;
        for line in lines {
            let mut args: Vec<OsString> = vec!["warden".into()];
            args.extend(shell_words(line).into_iter().map(OsString::from));
            let full = Cli::try_parse_from(&args);
            match hot_path_parse(&args) {
                Some(hot) => {
                    took_hot_path += 1;
                    let full = full.unwrap_or_else(|e| {
                        panic!("{line}: the hot path accepted what the whole tree refuses: {e}")
                    });
                    assert_eq!(format!("{hot:?}"), format!("{full:?}"), "{line}");
                }
                None => {
                    // Left to the whole tree: fine whatever it answers, but a line the whole
                    // tree accepts for a hot subcommand should not have been left.
                    if let Ok(cli) = full {
                        assert!(
                            !matches!(cli.command, Command::Check(_) | Command::Hook(_)),
                            "{line}: the hot path refused what the whole tree accepts"
                        );
                    }
                }
            }
        }
        assert!(
            took_hot_path >= 12,
            "only {took_hot_path} lines took the hot path"
        );
    }

    /// Whitespace-separated words; single quotes group (enough for the lines above).
    fn shell_words(line: &str) -> Vec<String> {
        let mut words = Vec::new();
        let (mut word, mut quoted, mut started) = (String::new(), false, false);
        for c in line.chars() {
            match c {
                '\'' => {
                    quoted = !quoted;
                    started = true;
                }
                ' ' if !quoted => {
                    if started {
                        words.push(std::mem::take(&mut word));
                    }
                    started = false;
                }
                _ => {
                    word.push(c);
                    started = true;
                }
            }
        }
        if started {
            words.push(word);
        }
        words
    }
}
