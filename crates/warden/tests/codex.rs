//! `warden init --agent codex --mode mcp` (the MCP route; the hook route is codex_hooks.rs): the
//! configuration written and merged (comments and unrelated
//! keys kept, idempotent, bad files refused), and read back by the real Codex CLI (installed by
//! `scripts/setup-mcp.sh`) without a model: `codex mcp get`, `codex features list`, and
//! `codex debug prompt-input`, for which Codex starts `warden mcp` and completes the MCP handshake.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

struct Fixture {
    _root: tempfile::TempDir,
    repo: PathBuf,
    codex_home: PathBuf,
}

fn fixture() -> Fixture {
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let repo = root.path().join("repo");
    let codex_home = root.path().join("codex-home");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(&codex_home).unwrap();
    Fixture {
        repo: std::fs::canonicalize(&repo).unwrap(),
        codex_home,
        _root: root,
    }
}

fn init(f: &Fixture, extra: &[&str]) -> Output {
    Command::new(WARDEN)
        .args(["init", "--agent", "codex", "--mode", "mcp", "--dir"])
        .arg(&f.repo)
        .args(extra)
        .env("CODEX_HOME", &f.codex_home)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn project_toml(f: &Fixture) -> String {
    std::fs::read_to_string(f.repo.join(".codex/config.toml")).unwrap()
}

fn user_toml(f: &Fixture) -> String {
    std::fs::read_to_string(f.codex_home.join("config.toml")).unwrap()
}

fn parse(text: &str) -> toml_edit::DocumentMut {
    text.parse().unwrap()
}

#[test]
fn writes_the_mcp_server_and_switches_codex_shell_off_idempotently() {
    let f = fixture();
    let out = ok(&init(&f, &[]));
    assert!(out.contains("wrote"), "{out}");
    let doc = parse(&project_toml(&f));
    let exe = std::fs::canonicalize(WARDEN).unwrap();
    assert_eq!(
        doc["mcp_servers"]["warden"]["command"].as_str(),
        Some(exe.to_str().unwrap())
    );
    let args: Vec<&str> = doc["mcp_servers"]["warden"]["args"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_str())
        .collect();
    assert_eq!(args, ["mcp", "--workspace", f.repo.to_str().unwrap()]);
    assert_eq!(doc["features"]["shell_tool"].as_bool(), Some(false));
    assert_eq!(doc["sandbox_mode"].as_str(), Some("read-only"));
    assert_eq!(doc["approval_policy"].as_str(), Some("never"));
    let user = parse(&user_toml(&f));
    assert_eq!(
        user["projects"][f.repo.to_str().unwrap()]["trust_level"].as_str(),
        Some("trusted")
    );
    assert!(f.repo.join(".warden/policy.toml").is_file());

    let (p, u) = (project_toml(&f), user_toml(&f));
    let again = ok(&init(&f, &[]));
    assert!(!again.contains("wrote"), "{again}");
    assert_eq!(project_toml(&f), p, "a second run changes nothing");
    assert_eq!(user_toml(&f), u);
}

#[test]
fn merges_with_existing_configuration_keeping_comments_and_other_servers() {
    let f = fixture();
    std::fs::create_dir_all(f.repo.join(".codex")).unwrap();
    std::fs::write(
        f.repo.join(".codex/config.toml"),
        "# team settings\nmodel_reasoning_effort = \"high\" # keep me\nsandbox_mode = \"danger-full-access\"\n\n\
         [features]\nweb_search_request = true\n\n[mcp_servers.docs]\ncommand = \"docs-server\"\nargs = [\"--stdio\"]\n",
    )
    .unwrap();
    std::fs::write(
        f.codex_home.join("config.toml"),
        "# mine\nmodel = \"gpt-5.2\"\n\n[projects.\"/elsewhere\"]\ntrust_level = \"trusted\"\n",
    )
    .unwrap();
    ok(&init(&f, &[]));
    let text = project_toml(&f);
    assert!(text.starts_with("# team settings\n"), "{text}");
    assert!(
        text.contains("model_reasoning_effort = \"high\" # keep me"),
        "{text}"
    );
    let doc = parse(&text);
    assert_eq!(doc["sandbox_mode"].as_str(), Some("read-only"));
    assert_eq!(doc["features"]["web_search_request"].as_bool(), Some(true));
    assert_eq!(doc["features"]["shell_tool"].as_bool(), Some(false));
    assert_eq!(
        doc["mcp_servers"]["docs"]["command"].as_str(),
        Some("docs-server")
    );
    assert!(doc["mcp_servers"]["warden"].is_table());
    let user = user_toml(&f);
    assert!(user.starts_with("# mine\nmodel = \"gpt-5.2\"\n"), "{user}");
    let user = parse(&user);
    assert_eq!(
        user["projects"]["/elsewhere"]["trust_level"].as_str(),
        Some("trusted")
    );
    assert_eq!(
        user["projects"][f.repo.to_str().unwrap()]["trust_level"].as_str(),
        Some("trusted")
    );
}

#[test]
fn invalid_toml_is_refused_and_left_untouched() {
    let f = fixture();
    std::fs::create_dir_all(f.repo.join(".codex")).unwrap();
    let broken = "[mcp_servers.warden\ncommand = 1\n";
    std::fs::write(f.repo.join(".codex/config.toml"), broken).unwrap();
    let o = init(&f, &[]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains(".codex/config.toml"));
    assert_eq!(project_toml(&f), broken);
}

#[test]
fn an_untrusted_project_stays_untrusted_without_force() {
    let f = fixture();
    let key = f.repo.to_str().unwrap();
    let text = format!("[projects.\"{key}\"]\ntrust_level = \"untrusted\"\n");
    std::fs::write(f.codex_home.join("config.toml"), &text).unwrap();
    let o = init(&f, &[]);
    ok(&o);
    assert!(String::from_utf8_lossy(&o.stderr).contains("untrusted"));
    assert_eq!(user_toml(&f), text);
    ok(&init(&f, &["--force"]));
    assert_eq!(
        parse(&user_toml(&f))["projects"][key]["trust_level"].as_str(),
        Some("trusted")
    );
}

/// The Codex CLI, installed by `scripts/setup-mcp.sh`.
fn codex() -> PathBuf {
    let candidates = [
        std::env::var_os("WARDEN_TEST_CODEX").map(PathBuf::from),
        Some(PathBuf::from("/opt/warden-codex/node_modules/.bin/codex")),
    ];
    candidates
        .into_iter()
        .flatten()
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("the Codex CLI is missing: run scripts/setup-mcp.sh"))
}

fn run_codex(f: &Fixture, args: &[&str]) -> String {
    let o = Command::new(codex())
        .args(args)
        .current_dir(&f.repo)
        .env("CODEX_HOME", &f.codex_home)
        .env_remove("OPENAI_API_KEY")
        .output()
        .unwrap();
    ok(&o)
}

/// The names of the tools nested under Codex's code-mode `exec` tool, and the whole prompt.
fn offered_tools(prompt: &Value) -> (Vec<String>, String) {
    let mut names = Vec::new();
    for item in prompt.as_array().unwrap() {
        if item["type"] == "additional_tools" {
            for ns in item["tools"].as_array().unwrap() {
                for t in ns["tools"].as_array().into_iter().flatten() {
                    names.push(t["name"].as_str().unwrap_or("").to_owned());
                    let desc = t["description"].as_str().unwrap_or("");
                    for part in desc.split("### `").skip(1) {
                        if let Some((name, _)) = part.split_once('`') {
                            names.push(name.to_owned());
                        }
                    }
                }
            }
        }
    }
    (names, prompt.to_string())
}

#[test]
fn the_codex_cli_reads_the_configuration_and_starts_warden_mcp() {
    let f = fixture();
    // Before: Codex offers its own shell tool and knows no Warden.
    let (before, text) = offered_tools(
        &serde_json::from_str(&run_codex(&f, &["debug", "prompt-input", "hi"])).unwrap(),
    );
    assert!(before.iter().any(|n| n == "exec_command"), "{before:?}");
    assert!(!text.contains("mcp__warden"));

    ok(&init(&f, &[]));
    let got: Value =
        serde_json::from_str(&run_codex(&f, &["mcp", "get", "warden", "--json"])).unwrap();
    let exe = std::fs::canonicalize(WARDEN).unwrap();
    assert_eq!(got["transport"]["type"], "stdio");
    assert_eq!(got["transport"]["command"], exe.to_str().unwrap());
    assert_eq!(got["transport"]["args"][2], f.repo.to_str().unwrap());
    assert_eq!(got["tool_timeout_sec"], 3600.0);
    let list: Value = serde_json::from_str(&run_codex(&f, &["mcp", "list", "--json"])).unwrap();
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"] == "warden")
    );
    let features = run_codex(&f, &["features", "list"]);
    let shell = features
        .lines()
        .find(|l| l.split_whitespace().next() == Some("shell_tool"))
        .unwrap();
    assert!(shell.trim_end().ends_with("false"), "{shell}");

    // After: no shell tool, and Warden's namespace with the instructions `warden mcp` sent in
    // its initialize result: Codex ran the server and completed the handshake.
    let (after, text) = offered_tools(
        &serde_json::from_str(&run_codex(&f, &["debug", "prompt-input", "hi"])).unwrap(),
    );
    assert!(
        !after
            .iter()
            .any(|n| n == "exec_command" || n == "write_stdin"),
        "{after:?}"
    );
    assert!(text.contains("mcp__warden"), "{text}");
    assert!(
        text.contains("Governed tools: every call is classified"),
        "{text}"
    );
}

/// The alternative to the MCP route: Codex itself inside Warden's sandbox. Its CODEX_HOME is made
/// writable, and the variable and its API key passed through, by the governance file; its model
/// endpoint (a `.invalid` host here) is reached only through Warden's egress proxy, which refuses
/// it.
#[test]
fn codex_inside_the_sandbox_reaches_the_network_only_through_the_proxy() {
    let f = fixture();
    std::fs::create_dir_all(f.repo.join(".warden")).unwrap();
    std::fs::write(
        f.repo.join(".warden/policy.toml"),
        format!(
            "version = 1\n[sandbox]\nwritable_paths = [\"{}\"]\nenv_pass = [\"OPENAI_API_KEY\", \"CODEX_HOME\"]\n\
             [network]\nforges = false\ndiscover_registries = false\ndiscover_git_remotes = false\n",
            f.codex_home.display()
        ),
    )
    .unwrap();
    let sandboxed = |prefix: &[&str], args: &[&str]| {
        Command::new(prefix[0])
            .args(&prefix[1..])
            .arg(codex())
            .args(args)
            .current_dir(&f.repo)
            .env("CODEX_HOME", &f.codex_home)
            .env("OPENAI_API_KEY", "sk-test-not-a-key")
            .output()
            .unwrap()
    };
    // Codex runs in the sandbox at all (and can keep its state in CODEX_HOME).
    let o = sandboxed(&[WARDEN, "sandbox", "--"], &["features", "list"]);
    assert!(ok(&o).contains("shell_tool"));
    // A model turn: Codex retries for ever, so stop it after a few seconds (Warden forwards the
    // signal and still records the outcome).
    let provider = "model_providers.blocked={name=\"blocked\",base_url=\"https://model.invalid/v1\",\
                    env_key=\"OPENAI_API_KEY\",wire_api=\"responses\"}";
    let o = sandboxed(
        &["timeout", "8", WARDEN, "run", "--agent", "codex", "--"],
        &[
            "exec",
            "--skip-git-repo-check",
            "-c",
            provider,
            "-c",
            "model_provider=blocked",
            "say hi",
        ],
    );
    assert_eq!(
        o.status.code(),
        Some(124),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let log = std::fs::read_to_string(f.repo.join(".warden/audit/audit.jsonl")).unwrap();
    let records: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let net: Vec<&Value> = records.iter().filter(|r| r["kind"] == "network").collect();
    assert!(
        net.iter()
            .any(|n| n["host"] == "model.invalid" && n["allowed"] == false),
        "{net:?}"
    );
    assert!(net.iter().all(|n| n["allowed"] == false), "{net:?}");
    assert!(
        records
            .iter()
            .any(|r| r["kind"] == "intent" && r["agent"] == "codex")
    );
    assert!(records.iter().any(|r| r["kind"] == "outcome"));
}

#[test]
fn documented_commands_in_docs_codex_md_are_the_ones_tested() {
    // docs/codex.md shows these exact commands; keep the page and this suite in step.
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/codex.md"))
            .unwrap();
    for cmd in [
        "warden init --agent codex",
        "codex mcp get warden --json",
        "codex features list",
        "codex debug prompt-input",
        "warden sandbox -- codex",
        "warden run --agent codex -- codex exec",
    ] {
        assert!(doc.contains(cmd), "docs/codex.md lacks `{cmd}`");
    }
}
