//! `warden replay` against what the real Claude Code hook recorded: every recorded PreToolUse
//! payload (tests/data/claude_code) goes through `warden hook claude-code`, which writes an
//! intent per call with its tier, rule and the agent's tool name. Replaying that audit log, and
//! a Claude Code transcript holding the same tool calls, against the same governance file must
//! reproduce the hook's tiers and rules exactly and count the same tools.

#![cfg(target_os = "linux")]

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/claude_code");

/// Every PreToolUse payload of the fixtures (the PostToolUse ones are `post_*`), and one Bash
/// call of an unknown program.
const PAYLOADS: &[&str] = &[
    "bash_auto",
    "bash_deny",
    "bash_push",
    "bash_unknown",
    "read_workspace",
    "read_secret",
    "edit_workspace",
    "write_outside",
    "multiedit_workspace",
    "notebook_edit",
    "webfetch",
    "websearch",
    "mcp_read",
    "mcp_unknown",
    "unknown_tool",
];

struct Fx {
    _root: tempfile::TempDir,
    ws: PathBuf,
    home: PathBuf,
}

impl Fx {
    fn new() -> Fx {
        let root = tempfile::Builder::new()
            .prefix("replay-hook-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        let ws = root.path().join("ws");
        let home = root.path().join("home");
        std::fs::create_dir_all(ws.join(".git")).unwrap();
        std::fs::create_dir_all(ws.join(".warden")).unwrap();
        std::fs::create_dir_all(&home).unwrap();
        std::fs::copy(
            Path::new(DATA).join("policy.toml"),
            ws.join(".warden/policy.toml"),
        )
        .unwrap();
        Fx {
            _root: root,
            ws,
            home,
        }
    }

    fn payload(&self, name: &str) -> Value {
        if name == "bash_unknown" {
            // A program no rule knows: its tier depends on the hook running Bash sandboxed.
            let mut p = self.payload("bash_auto");
            p["tool_input"]["command"] = "frobnicate --all".into();
            p["tool_use_id"] = "toolu_0199bashunknown".into();
            return p;
        }
        let text = std::fs::read_to_string(Path::new(DATA).join(format!("{name}.json"))).unwrap();
        let text = text
            .replace("{{WS}}", self.ws.to_str().unwrap())
            .replace("{{HOME}}", self.home.to_str().unwrap())
            .replace("{{WARDEN}}", WARDEN);
        serde_json::from_str(&text).unwrap()
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(WARDEN);
        c.args(args)
            .current_dir(&self.ws)
            .env("HOME", &self.home)
            .env_remove("WARDEN_ORG_POLICY")
            .env_remove("WARDEN_SERVER")
            .env_remove("WARDEN_TOKEN")
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT");
        c
    }

    fn hook(&self, payload: &Value) {
        let mut c = self
            .command(&["hook", "claude-code"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        c.stdin
            .take()
            .unwrap()
            .write_all(payload.to_string().as_bytes())
            .unwrap();
        let o = c.wait_with_output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "hook: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }

    fn replay(&self, trace: &Path) -> Value {
        let o = self
            .command(&["replay", "--json"])
            .arg(trace)
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "replay {}: {}",
            trace.display(),
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

type Surfaced = BTreeMap<(String, String, String), u64>;

/// (category, rule, tier) → count of the surfaced (non-auto) actions of a replay.
fn surfaced_of_replay(r: &Value) -> Surfaced {
    let mut m = Surfaced::new();
    for cat in r["surfaced"].as_array().unwrap() {
        for rule in cat["rules"].as_array().unwrap() {
            for (tier, n) in rule["tiers"].as_object().unwrap() {
                m.insert(
                    (
                        cat["category"].as_str().unwrap().to_owned(),
                        rule["rule"].as_str().unwrap().to_owned(),
                        tier.clone(),
                    ),
                    n.as_u64().unwrap(),
                );
            }
        }
    }
    m
}

fn tiers_of_replay(r: &Value) -> [u64; 4] {
    ["auto", "async", "sync", "deny"].map(|t| r["tiers"][t]["count"].as_u64().unwrap())
}

#[test]
fn replay_reproduces_the_claude_code_hooks_recorded_tiers() {
    let f = Fx::new();
    let mut transcript = String::new();
    for (i, name) in PAYLOADS.iter().enumerate() {
        let p = f.payload(name);
        f.hook(&p);
        // The same call as a transcript's assistant message holds it.
        let line = json!({
            "type": "assistant",
            "sessionId": p["session_id"],
            "cwd": p["cwd"],
            "uuid": format!("u{i}"),
            "message": {"role": "assistant", "content": [
                {"type": "text", "text": "next step"},
                {"type": "tool_use", "id": p["tool_use_id"], "name": p["tool_name"], "input": p["tool_input"]},
            ]},
        });
        transcript.push_str(&format!("{line}\n"));
        // Tool results come back as user lines; they are not actions.
        let result = json!({"type": "user", "message": {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": p["tool_use_id"], "content": "ok"}]}});
        transcript.push_str(&format!("{result}\n"));
    }
    let log = f.ws.join(".warden/audit/audit.jsonl");
    let intents: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter(|r| r["kind"] == "intent")
        .collect();
    assert_eq!(intents.len(), PAYLOADS.len(), "one intent per call");

    // What the hook decided, from its own records.
    let mut hook_tiers = [0u64; 4];
    let mut hook_surfaced = Surfaced::new();
    let mut hook_tools: BTreeMap<String, u64> = BTreeMap::new();
    for (r, name) in intents.iter().zip(PAYLOADS) {
        let tier = r["tier"].as_str().unwrap();
        let i = ["auto", "async", "sync", "deny"]
            .iter()
            .position(|t| *t == tier)
            .unwrap();
        hook_tiers[i] += 1;
        if tier != "auto" {
            *hook_surfaced
                .entry((
                    r["category"].as_str().unwrap().to_owned(),
                    r["rule"].as_str().unwrap().to_owned(),
                    tier.to_owned(),
                ))
                .or_default() += 1;
        }
        // The intent names the agent's tool, not only the action kind.
        assert_eq!(r["tool"], f.payload(name)["tool_name"], "{name}: {r}");
        *hook_tools
            .entry(r["tool"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    // The fixtures cover every tier, so a replay that flattened tiers could not pass.
    assert!(hook_tiers.iter().all(|n| *n > 0), "{hook_tiers:?}");

    let from_log = f.replay(&log);
    assert_eq!(from_log["format"], "audit");
    assert_eq!(from_log["actions"], PAYLOADS.len());
    assert_eq!(tiers_of_replay(&from_log), hook_tiers, "{from_log:#}");
    assert_eq!(surfaced_of_replay(&from_log), hook_surfaced, "{from_log:#}");
    assert_eq!(
        serde_json::to_value(&hook_tools).unwrap(),
        from_log["tool_calls"],
        "the audit log's tool names"
    );

    // `warden report` on the same log counts actions by the agent's tool and names the tool on
    // each incident line.
    let o = f.command(&["report", "--json"]).output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        report["agent_tools"],
        serde_json::to_value(&hook_tools).unwrap()
    );
    let denied = report["incidents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["rule"] == "deny.rm-root")
        .expect("the denied Bash call is an incident");
    assert_eq!(denied["tool"], "Bash");
    let o = f.command(&["report"]).output().unwrap();
    let text = String::from_utf8(o.stdout).unwrap();
    assert!(text.contains("Bash: rm -rf / --no-preserve-root"), "{text}");
    assert!(
        text.contains("agent tools: Bash 4, CronCreate 1, Edit 1,"),
        "{text}"
    );

    let path = f.ws.join("transcript.jsonl");
    std::fs::write(&path, &transcript).unwrap();
    let from_transcript = f.replay(&path);
    assert_eq!(from_transcript["format"], "claude-code");
    assert_eq!(from_transcript["actions"], PAYLOADS.len());
    assert_eq!(
        tiers_of_replay(&from_transcript),
        hook_tiers,
        "{from_transcript:#}"
    );
    assert_eq!(
        surfaced_of_replay(&from_transcript),
        hook_surfaced,
        "{from_transcript:#}"
    );
    assert_eq!(
        serde_json::to_value(&hook_tools).unwrap(),
        from_transcript["tool_calls"]
    );
}
