//! `warden init --agent opencode` (MCP: OpenCode has no command hooks) with the real OpenCode
//! CLI (installed by `scripts/setup-agents.sh`), without a model: the configuration is merged
//! (other settings kept, idempotent), `opencode mcp list` starts `warden mcp` and reports it
//! connected (the MCP handshake completed), and `opencode debug config` shows OpenCode's own
//! shell and file-writing tools off.

use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Command, Output};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The OpenCode CLI, installed by `scripts/setup-agents.sh`; `None` (the test says why and
/// passes) only when it is not installed and npm could not install it.
fn opencode() -> Option<PathBuf> {
    let dir = std::env::var_os("WARDEN_AGENTS_DIR")
        .map_or_else(|| PathBuf::from("/opt/warden-agents"), PathBuf::from);
    let bin = dir.join("opencode/node_modules/.bin/opencode");
    if bin.is_file() {
        return Some(bin);
    }
    let setup =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/setup-agents.sh");
    if Command::new("bash")
        .arg(setup)
        .status()
        .is_ok_and(|s| s.success())
        && bin.is_file()
    {
        return Some(bin);
    }
    eprintln!(
        "SKIPPED: OpenCode is not installed and scripts/setup-agents.sh could not install it"
    );
    None
}

#[test]
fn init_configures_warden_mcp_and_opencode_connects_to_it() {
    let root = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let repo = root.path().join("repo");
    let home = root.path().join("home");
    std::fs::create_dir_all(repo.join(".git")).unwrap();
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(
        repo.join("opencode.json"),
        r#"{"model": "anthropic/x", "autoupdate": false, "share": "disabled"}"#,
    )
    .unwrap();
    let init = || {
        Command::new(WARDEN)
            .args(["init", "--agent", "opencode", "--dir"])
            .arg(&repo)
            .env("HOME", &home)
            .output()
            .unwrap()
    };
    ok(&init());
    let repo = std::fs::canonicalize(&repo).unwrap();
    let text = std::fs::read_to_string(repo.join("opencode.json")).unwrap();
    let doc: Value = serde_json::from_str(&text).unwrap();
    let exe = std::fs::canonicalize(WARDEN).unwrap();
    assert_eq!(doc["model"], "anthropic/x");
    assert_eq!(
        doc["mcp"]["warden"]["command"],
        json!([exe, "mcp", "--workspace", repo])
    );
    for t in ["bash", "edit", "write", "patch"] {
        assert_eq!(doc["tools"][t], false, "{t}");
    }
    let again = ok(&init());
    assert!(again.contains("unchanged"), "{again}");
    assert_eq!(
        std::fs::read_to_string(repo.join("opencode.json")).unwrap(),
        text
    );

    let Some(opencode) = opencode() else { return };
    let run = |args: &[&str]| {
        let o = Command::new(&opencode)
            .args(args)
            .current_dir(&repo)
            .env("HOME", &home)
            .env("OPENCODE_DISABLE_AUTOUPDATE", "1")
            .output()
            .unwrap();
        ok(&o)
    };
    let listed = run(&["mcp", "list"]);
    let line = listed
        .lines()
        .find(|l| l.contains("warden"))
        .unwrap_or_else(|| panic!("{listed}"));
    assert!(line.contains("connected"), "{listed}");
    let config: Value = serde_json::from_str(&run(&["debug", "config"])).unwrap();
    assert_eq!(config["mcp"]["warden"]["enabled"], true);
    assert_eq!(config["permission"]["bash"], "deny", "{config}");
    assert_eq!(config["permission"]["edit"], "deny", "{config}");
}

#[test]
fn docs_opencode_shows_what_is_tested() {
    // docs/opencode.md shows these exact commands; keep the page and this suite in step.
    let doc = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/opencode.md"),
    )
    .unwrap();
    for cmd in [
        "warden init --agent opencode",
        "opencode mcp list",
        "opencode debug config",
        "warden sandbox --govern",
    ] {
        assert!(doc.contains(cmd), "docs/opencode.md lacks `{cmd}`");
    }
}
