//! `warden init`: write a commented `.warden/policy.toml` fitted to the repository's ecosystems.

use crate::exit::{CliError, CmdResult};
use crate::policy_load;
use clap::ValueEnum as _;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Arguments of `warden init`.
#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// Repository root (default: the nearest directory with `.git`, else the current directory).
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Overwrite an existing `.warden/policy.toml`.
    #[arg(long)]
    pub force: bool,
    /// Print the file instead of writing it.
    #[arg(long)]
    pub stdout: bool,
    /// Also put an agent under Warden: write its hook / MCP configuration into the repository.
    #[arg(long, value_enum, value_name = "AGENT")]
    pub agent: Option<Agent>,
    /// How the agent is put under Warden: its own hooks (the default where it has them) or
    /// Warden's MCP server in place of its shell tool (Codex; OpenCode, which has no hooks).
    #[arg(long, value_enum, value_name = "MODE", requires = "agent")]
    pub mode: Option<AgentMode>,
}

/// How `warden init --agent` governs the agent.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum AgentMode {
    /// The agent's own pre-tool hooks call `warden hook AGENT`.
    Hook,
    /// The agent uses Warden's MCP tools (`warden mcp`) instead of its own shell tool.
    Mcp,
}

/// Agents `warden init --agent` can configure.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agent {
    /// Claude Code: PreToolUse/PostToolUse hooks in `.claude/settings.json`.
    ClaudeCode,
    /// Codex CLI: PreToolUse/PermissionRequest/PostToolUse hooks in `$CODEX_HOME/hooks.json`
    /// (with `--mode mcp`: Warden's MCP server in `.codex/config.toml`, Codex's shell tool off).
    Codex,
    /// Gemini CLI: BeforeTool/AfterTool hooks in `.gemini/settings.json`, the folder trusted.
    Gemini,
    /// GitHub Copilot CLI: preToolUse/postToolUse hooks in the user's `~/.copilot/settings.json`.
    Copilot,
    /// OpenCode: Warden's MCP server in `opencode.json`, OpenCode's shell and write tools off.
    Opencode,
}

/// An ecosystem found in the repository, with the commands its tests should show as `auto`.
struct Ecosystem {
    name: &'static str,
    evidence: String,
    commands: &'static [&'static str],
}

fn detect(root: &Path) -> Vec<Ecosystem> {
    let has = |f: &str| root.join(f).exists();
    let mut out = Vec::new();
    let mut add = |name, evidence: &str, commands| {
        out.push(Ecosystem {
            name,
            evidence: evidence.to_owned(),
            commands,
        });
    };
    if has("Cargo.toml") {
        add(
            "Rust",
            "Cargo.toml",
            &["cargo build", "cargo test", "cargo clippy --all-targets"],
        );
    }
    if has("package.json") {
        let (ev, cmds): (&str, &'static [&'static str]) = if has("pnpm-lock.yaml") {
            (
                "pnpm-lock.yaml",
                &["pnpm install", "pnpm test", "pnpm run build"],
            )
        } else if has("yarn.lock") {
            ("yarn.lock", &["yarn install", "yarn test", "yarn build"])
        } else {
            ("package.json", &["npm ci", "npm test", "npm run build"])
        };
        add("Node.js", ev, cmds);
    }
    for f in ["pyproject.toml", "requirements.txt", "setup.py", "Pipfile"] {
        if has(f) {
            add(
                "Python",
                f,
                &["pip install -r requirements.txt", "python -m pytest"],
            );
            break;
        }
    }
    if has("go.mod") {
        add("Go", "go.mod", &["go build ./...", "go test ./..."]);
    }
    if has("Gemfile") {
        add("Ruby", "Gemfile", &["bundle install", "bundle exec rspec"]);
    }
    if has("pom.xml") {
        add("Maven", "pom.xml", &["mvn -q test"]);
    }
    if has("build.gradle") || has("build.gradle.kts") {
        add("Gradle", "build.gradle", &["./gradlew test"]);
    }
    if has("CMakeLists.txt") {
        add(
            "CMake",
            "CMakeLists.txt",
            &["cmake -B build", "cmake --build build"],
        );
    }
    if has("Makefile") {
        add("Make", "Makefile", &["make", "make test"]);
    }
    out
}

/// Directories in the repository that look like schemas, migrations or deployment config.
fn risky_dirs(root: &Path) -> Vec<String> {
    let candidates = [
        "migrations",
        "db/migrate",
        "db/migrations",
        "prisma",
        "alembic",
        "schema",
        "deploy",
        "k8s",
        "helm",
        "terraform",
        "infra",
        "config/production",
    ];
    candidates
        .iter()
        .filter(|c| root.join(c).is_dir())
        .map(|c| format!("{c}/**"))
        .collect()
}

/// The file text for `root`.
pub fn render(root: &Path) -> String {
    let ecosystems = detect(root);
    let risky = risky_dirs(root);
    let mut t = String::new();
    t.push_str("# Warden governance policy for this repository.\n");
    t.push_str("# Layered over the built-in default (`warden policy default` prints it) and any\n");
    t.push_str("# organisation file. Check with `warden policy lint` and `warden policy test`.\n");
    t.push_str("# Arrays extend the layers below; a rule with an existing `id` replaces it.\n\n");
    t.push_str("version = 1\n\n");
    t.push_str(
        "# What no rule decides. Unknown commands are `auto` inside the sandbox by default.\n",
    );
    t.push_str("[defaults]\n# opaque = \"sync\"\n# unknown_unsandboxed = \"sync\"\n\n");
    if ecosystems.is_empty() {
        t.push_str("# No build ecosystem detected.\n\n");
    } else {
        let names: Vec<String> = ecosystems
            .iter()
            .map(|e| format!("{} ({})", e.name, e.evidence))
            .collect();
        let _ = writeln!(t, "# Detected: {}.", names.join(", "));
        t.push_str("# The default policy already runs their builds and tests as `auto`; these tests pin it.\n");
        for e in &ecosystems {
            for c in e.commands {
                let _ = writeln!(t, "[[test]]\nshell = \"{c}\"\ntier = \"auto\"\n");
            }
        }
    }
    t.push_str("# Writes here need a human: schemas, auth modules, production configuration.\n");
    if risky.is_empty() {
        t.push_str("# [[high_risk]]\n# id = \"repo.schema\"\n# tier = \"sync\"\n# category = \"schema-change\"\n# paths = [\"db/migrations/**\"]\n\n");
    } else {
        let list: Vec<String> = risky.iter().map(|r| format!("\"{r}\"")).collect();
        let _ = writeln!(
            t,
            "[[high_risk]]\nid = \"repo.high-risk\"\ntier = \"sync\"\ncategory = \"high-risk-path\"\nreason = \"schema, deployment or infrastructure files of this repository\"\npaths = [{}]\n",
            list.join(", ")
        );
        let _ = writeln!(
            t,
            "[[test]]\nwrite = \"{}\"\ntier = \"sync\"\n",
            risky[0].replace("**", "x.txt")
        );
    }
    t.push_str(
        "# Relax or tighten single commands. `override = true` lets a rule decide over the\n",
    );
    t.push_str("# default rules (never below never-auto floors or deny).\n");
    t.push_str("# [[rule]]\n# id = \"repo.deploy-staging\"\n# tier = \"async\"\n# category = \"infrastructure-change\"\n# program = [\"make\"]\n# subcommand = [\"deploy-staging\"]\n\n");
    t.push_str(
        "# Hosts the sandbox may reach besides package registries and this repository's remotes.\n",
    );
    t.push_str("# [network]\n\n");
    t.push_str("# Who approves what; members are user names or emails.\n");
    t.push_str("# [approvals.groups.maintainers]\n# members = [\"alice@example.com\"]\n");
    t
}

/// Run `warden init`.
pub fn run(args: InitArgs) -> CmdResult {
    let here = std::env::current_dir().map_err(|e| {
        CliError::failure(miette::miette!("cannot read the current directory: {e}"))
    })?;
    let root = match &args.dir {
        Some(d) => policy_load::absolute(d)?,
        None => policy_load::find_workspace(&here),
    };
    if !root.is_dir() {
        return Err(CliError::bad_input(miette::miette!(
            "{} is not a directory",
            root.display()
        )));
    }
    let text = render(&root);
    // Never write a file that does not load.
    let source = warden_policy::PolicySource {
        name: "<generated>".into(),
        text: text.clone(),
        layer: warden_policy::Layer::Repository,
    };
    warden_policy::Policy::load(&[source]).map_err(|e| {
        CliError::failure(miette::miette!(
            "internal error: generated policy is invalid: {e}"
        ))
    })?;
    if args.stdout {
        print!("{text}");
        return Ok(ExitCode::SUCCESS);
    }
    let path = policy_load::repo_policy_path(&root);
    if let Some(agent) = args.agent {
        // Which route, decided before anything is written.
        let install: fn(&Path, bool) -> CmdResult = match (agent, args.mode) {
            (Agent::ClaudeCode, None | Some(AgentMode::Hook)) => crate::agents::claude_code::init,
            (Agent::Codex, None | Some(AgentMode::Hook)) => crate::agents::codex::init,
            (Agent::Codex, Some(AgentMode::Mcp)) => crate::agents::codex::mcp::init,
            (Agent::Gemini, None | Some(AgentMode::Hook)) => crate::agents::gemini::init,
            (Agent::Copilot, None | Some(AgentMode::Hook)) => crate::agents::copilot::init,
            (Agent::Opencode, None | Some(AgentMode::Mcp)) => crate::agents::opencode::init,
            (agent, Some(mode)) => {
                return Err(CliError::bad_input(miette::miette!(
                    help = "leave out --mode to use the agent's strongest route",
                    "`--mode {}` is not available for `--agent {}`",
                    mode.to_possible_value()
                        .map(|v| v.get_name().to_owned())
                        .unwrap_or_default(),
                    agent
                        .to_possible_value()
                        .map(|v| v.get_name().to_owned())
                        .unwrap_or_default()
                )));
            }
        };
        // With --agent an existing policy is kept: the agent's configuration is the point.
        if !path.exists() || args.force {
            write_policy(&root, &path, &text)?;
        } else {
            println!("kept {}", path.display());
        }
        return install(&root, args.force);
    }
    if path.exists() && !args.force {
        return Err(CliError::bad_input(miette::miette!(
            help = "pass --force to overwrite it, or --stdout to print the proposal",
            "{} already exists",
            path.display()
        )));
    }
    write_policy(&root, &path, &text)?;
    Ok(ExitCode::SUCCESS)
}

/// Write `text` to `path` atomically (temporary file, then rename).
fn write_policy(root: &Path, path: &Path, text: &str) -> Result<(), CliError> {
    let dir = path.parent().unwrap_or(root);
    std::fs::create_dir_all(dir)
        .map_err(|e| CliError::failure(miette::miette!("cannot create {}: {e}", dir.display())))?;
    let tmp = dir.join(".policy.toml.tmp");
    std::fs::write(&tmp, text)
        .and_then(|()| std::fs::rename(&tmp, path))
        .map_err(|e| CliError::failure(miette::miette!("cannot write {}: {e}", path.display())))?;
    println!("wrote {}", path.display());
    Ok(())
}
