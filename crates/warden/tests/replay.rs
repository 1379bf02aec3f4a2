//! `warden replay` end to end: every trace format (a Claude Code transcript, a plain list, JSON
//! lines, and an audit log written by real `warden run` calls) gives the tier counts and surfaced
//! groups that `warden check` gives action by action; a draft policy compared `--against` the
//! current one lists exactly the actions it newly surfaces, stops surfacing or moves; and bad
//! input is refused naming the line (or counted with `--skip-invalid`).

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/replay")
        .join(name)
}

/// `INPUT --policy draft.toml --against old.toml`: the test draft replayed over the old policy.
fn draft_over_old(input: &Path) -> Vec<String> {
    let (draft, old) = (data("draft.toml"), data("old.toml"));
    [
        input,
        Path::new("--policy"),
        &draft,
        Path::new("--against"),
        &old,
    ]
    .iter()
    .map(|a| a.to_str().unwrap().to_owned())
    .collect()
}

/// A scratch directory to run in (no `.git`, so it is its own workspace) and a HOME.
struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("replay-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        std::fs::create_dir_all(dir.path().join("cwd")).unwrap();
        Self { dir }
    }
    fn home(&self) -> PathBuf {
        self.dir.path().join("home")
    }
    fn cwd(&self) -> PathBuf {
        self.dir.path().join("cwd")
    }
    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(WARDEN);
        c.args(args)
            .current_dir(self.cwd())
            .env("HOME", self.home())
            .env_remove("WARDEN_ORG_POLICY")
            .env_remove("WARDEN_SERVER")
            .env_remove("WARDEN_TOKEN")
            .stdin(Stdio::null());
        c
    }
    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }
    fn run_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    }
    fn replay_json(&self, args: &[&str]) -> Value {
        let mut a = vec!["replay", "--json"];
        a.extend_from_slice(args);
        let o = self.run(&a);
        assert_eq!(o.status.code(), Some(0), "{}", err(&o));
        serde_json::from_slice(&o.stdout).unwrap()
    }
    /// `warden replay INPUT --policy draft.toml --against old.toml EXTRA`.
    fn replay_draft(&self, input: &Path, extra: &[&str]) -> Output {
        let mut args = vec!["replay".to_owned()];
        args.extend(draft_over_old(input));
        args.extend(extra.iter().map(|a| a.to_string()));
        self.run(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }
    /// `warden replay --json INPUT --policy draft.toml --against old.toml`.
    fn replay_draft_json(&self, input: &Path) -> Value {
        let args = draft_over_old(input);
        self.replay_json(&args.iter().map(String::as_str).collect::<Vec<_>>())
    }
    /// `warden check --json` of one JSON action, optionally in `cwd` and under `policy`.
    fn check(&self, action: &Value, cwd: Option<&str>, policy: Option<&Path>) -> Decision {
        let mut args = vec!["check", "--json", "--action", "-"];
        if let Some(c) = cwd {
            args.extend(["--cwd", c]);
        }
        let p;
        if let Some(policy) = policy {
            p = policy.to_str().unwrap().to_owned();
            args.extend(["--policy", &p]);
        }
        let o = self.run_stdin(&args, &action.to_string());
        assert_eq!(o.status.code(), Some(0), "{action}: {}", err(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        Decision {
            tier: v["tier"].as_str().unwrap().to_owned(),
            category: v["category"].as_str().unwrap().to_owned(),
            rule: v["rule"].as_str().unwrap().to_owned(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Decision {
    tier: String,
    category: String,
    rule: String,
}

/// stderr with miette's wrapping and box drawing undone.
fn err(o: &Output) -> String {
    let s = String::from_utf8_lossy(&o.stderr).replace(['│', '×', '╭', '╰', '─'], " ");
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Per-tier counts, as replay's JSON gives them.
fn tier_counts(v: &Value) -> BTreeMap<String, u64> {
    ["auto", "async", "sync", "deny"]
        .iter()
        .map(|t| (t.to_string(), v["tiers"][t]["count"].as_u64().unwrap()))
        .collect()
}

/// (category, rule, tier) → count of surfaced actions.
type Groups = BTreeMap<(String, String, String), u64>;

/// The surfaced groups of replay's JSON.
fn surfaced_groups(v: &Value) -> Groups {
    let mut out = BTreeMap::new();
    for c in v["surfaced"].as_array().unwrap() {
        let mut in_category = 0;
        for r in c["rules"].as_array().unwrap() {
            for (tier, n) in r["tiers"].as_object().unwrap() {
                out.insert(
                    (
                        c["category"].as_str().unwrap().to_owned(),
                        r["rule"].as_str().unwrap().to_owned(),
                        tier.clone(),
                    ),
                    n.as_u64().unwrap(),
                );
            }
            in_category += r["count"].as_u64().unwrap();
            assert!(r["examples"].as_array().unwrap().len() <= 3, "{r}");
            assert!(!r["examples"].as_array().unwrap().is_empty(), "{r}");
        }
        assert_eq!(c["count"].as_u64().unwrap(), in_category, "{c}");
    }
    out
}

/// The same two views built from `warden check` decisions.
fn expected(decisions: &[Decision]) -> (BTreeMap<String, u64>, Groups) {
    let mut tiers: BTreeMap<String, u64> = ["auto", "async", "sync", "deny"]
        .iter()
        .map(|t| (t.to_string(), 0))
        .collect();
    let mut groups = BTreeMap::new();
    for d in decisions {
        *tiers.get_mut(&d.tier).unwrap() += 1;
        if d.tier != "auto" {
            *groups
                .entry((d.category.clone(), d.rule.clone(), d.tier.clone()))
                .or_insert(0) += 1;
        }
    }
    (tiers, groups)
}

/// The action `warden check` is given for a Claude Code tool call.
fn claude_action(name: &str, input: &Value) -> Value {
    match name {
        "Bash" => json!({"kind": "shell", "script": input["command"]}),
        "Read" => json!({"kind": "read", "path": input["file_path"]}),
        "Edit" | "Write" | "MultiEdit" => json!({"kind": "write", "path": input["file_path"]}),
        "NotebookEdit" => json!({"kind": "write", "path": input["notebook_path"]}),
        "WebFetch" => {
            let url = input["url"].as_str().unwrap();
            let rest = url.strip_prefix("https://").unwrap();
            let (host, path) = rest.split_at(rest.find('/').unwrap());
            json!({"kind": "net", "host": host, "port": 443, "method": "GET", "path": path})
        }
        n => json!({"kind": "tool", "name": n, "arguments": input}),
    }
}

#[test]
fn a_claude_code_transcript_replays_as_warden_check_classifies_each_tool_call() {
    let env = Env::new();
    let trace = data("claude-session.jsonl");
    let mut decisions = Vec::new();
    let mut tool_calls = BTreeMap::new();
    for line in std::fs::read_to_string(&trace).unwrap().lines() {
        let rec: Value = serde_json::from_str(line).unwrap();
        let Some(blocks) = rec["message"]["content"].as_array() else {
            continue;
        };
        for b in blocks.iter().filter(|b| b["type"] == "tool_use") {
            let name = b["name"].as_str().unwrap();
            *tool_calls.entry(name.to_owned()).or_insert(0u64) += 1;
            decisions.push(env.check(&claude_action(name, &b["input"]), rec["cwd"].as_str(), None));
        }
    }
    assert_eq!(decisions.len(), 21, "every tool call of the fixture");
    let (tiers, groups) = expected(&decisions);

    let v = env.replay_json(&[trace.to_str().unwrap()]);
    assert_eq!(v["format"], "claude-code");
    assert_eq!(v["actions"], 21);
    assert_eq!(tier_counts(&v), tiers);
    assert_eq!(surfaced_groups(&v), groups);
    let tool_calls_json: BTreeMap<String, u64> =
        serde_json::from_value(v["tool_calls"].clone()).unwrap();
    assert_eq!(tool_calls_json, tool_calls);
    assert_eq!(tool_calls["Bash"], 8);
    // Every tier occurs, so the counts above compare something in each.
    assert!(tiers.values().all(|n| *n > 0), "{tiers:?}");
    let surfaced = tiers["async"] + tiers["sync"] + tiers["deny"];
    assert_eq!(v["tiers"]["surfaced"]["count"], surfaced);
    let rate = v["tiers"]["surfaced"]["rate"].as_f64().unwrap();
    assert!((rate - surfaced as f64 / 21.0).abs() < 1e-9, "{rate}");

    // The text form carries the same figures.
    let o = env.run(&["replay", trace.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.contains("replayed 21 actions"), "{text}");
    assert!(
        text.contains(&format!("  deny   {:>7}", tiers["deny"])),
        "{text}"
    );
    assert!(text.contains("line 37    rm -rf /"), "{text}");
    assert!(
        text.contains("tool calls: Bash ×8, Edit ×1, Glob ×1, Grep ×1,"),
        "{text}"
    );
}

#[test]
fn plain_lists_and_json_lines_replay_as_warden_check_classifies_each_command() {
    let env = Env::new();
    // One shell command per line.
    let list = data("commands.txt");
    let text = std::fs::read_to_string(&list).unwrap();
    let decisions: Vec<Decision> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| env.check(&json!({"kind": "shell", "script": l}), None, None))
        .collect();
    assert_eq!(decisions.len(), 11);
    let (tiers, groups) = expected(&decisions);
    let v = env.replay_json(&[list.to_str().unwrap()]);
    assert_eq!(v["format"], "lines");
    assert_eq!(v["actions"], 11);
    assert_eq!(tier_counts(&v), tiers);
    assert_eq!(surfaced_groups(&v), groups);
    // Sixty copies (long enough to be classified on several threads) give sixty times the
    // counts, and examples still come from the first copy, in order.
    let long = text.repeat(60);
    let o = env.run_stdin(&["replay", "--json", "-"], &long);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let many: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(many["actions"], 660);
    let times_60: BTreeMap<String, u64> = tiers.iter().map(|(k, n)| (k.clone(), n * 60)).collect();
    assert_eq!(tier_counts(&many), times_60);
    let first_lines = |v: &Value| -> Vec<u64> {
        v["surfaced"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|c| c["rules"].as_array().unwrap().clone())
            .map(|r| r["examples"][0]["line"].as_u64().unwrap())
            .collect()
    };
    assert_eq!(first_lines(&many), first_lines(&v));
    // The same list on standard input.
    let o = env.run_stdin(&["replay", "--json", "-"], &text);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let s: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(s["source"], "<stdin>");
    assert_eq!(tier_counts(&s), tiers);

    // JSON lines: a string is shell text, an array an argv, with an optional cwd.
    let jl = data("commands.jsonl");
    let mut decisions = Vec::new();
    for line in std::fs::read_to_string(&jl).unwrap().lines() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let r: Value = serde_json::from_str(line).unwrap();
        let action = match &r["cmd"] {
            Value::String(s) => json!({"kind": "shell", "script": s}),
            a => json!({"kind": "exec", "argv": a}),
        };
        decisions.push(env.check(&action, r["cwd"].as_str(), None));
    }
    assert_eq!(decisions.len(), 7);
    let (tiers, groups) = expected(&decisions);
    let v = env.replay_json(&[jl.to_str().unwrap()]);
    assert_eq!(v["format"], "jsonl");
    assert_eq!(tier_counts(&v), tiers);
    assert_eq!(surfaced_groups(&v), groups);
    // The recorded cwd decides what is inside the workspace: the same `echo hi > …` is auto
    // inside it and surfaced outside.
    assert!(
        groups.contains_key(&(
            "write-outside-workspace".into(),
            "builtin.write-outside-workspace".into(),
            "async".into()
        )),
        "{groups:?}"
    );
}

/// Runs the actions of a small session through real `warden run` in a workspace, returning the
/// workspace and its audit log.
fn recorded_session(env: &Env) -> (PathBuf, PathBuf) {
    let ws = env.dir.path().join("ws");
    std::fs::create_dir_all(ws.join(".git")).unwrap();
    let runs: [(&[&str], i32); 6] = [
        (&["--", "echo", "hello"], 0),
        (&["--shell", "cargo --version >/dev/null 2>&1; exit 4"], 4),
        (&["--shell", "git push origin main"], 75),
        (&["--shell", "cat ~/.ssh/id_rsa"], 77),
        (&["--shell", "rm -rf /"], 77),
        (&["--shell", "terraform plan || true"], 0),
    ];
    for (args, code) in runs {
        let mut a = vec!["run"];
        a.extend_from_slice(args);
        let o = env.cmd(&a).current_dir(&ws).output().unwrap();
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}", err(&o));
    }
    let log = ws.join(".warden/audit/audit.jsonl");
    (ws, log)
}

#[test]
fn an_audit_log_replays_its_intents_and_a_draft_shows_what_changes() {
    let env = Env::new();
    let (ws, log) = recorded_session(&env);
    let recorded: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .filter(|r: &Value| r["kind"] == "intent")
        .collect();
    assert_eq!(recorded.len(), 6);
    let mut tiers: BTreeMap<String, u64> = ["auto", "async", "sync", "deny"]
        .iter()
        .map(|t| (t.to_string(), 0))
        .collect();
    for r in &recorded {
        *tiers.get_mut(r["tier"].as_str().unwrap()).unwrap() += 1;
    }
    // Replayed under the policy that recorded it, the log gives back its own decisions.
    let v = env.replay_json(&[log.to_str().unwrap()]);
    assert_eq!(v["format"], "audit");
    assert_eq!(v["actions"], 6);
    assert_eq!(tier_counts(&v), tiers);
    assert_eq!(
        tiers,
        BTreeMap::from([
            ("auto".into(), 3),
            ("async".into(), 1),
            ("sync".into(), 1),
            ("deny".into(), 1)
        ])
    );

    // Under the draft (over old.toml): the push is no longer surfaced, `terraform plan` now is.
    let draft = data("draft.toml");
    let old = data("old.toml");
    let v = env.replay_draft_json(&log);
    let a = &v["against"];
    let changes = |k: &str| -> Vec<(String, String, String)> {
        a[k].as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["action"].as_str().unwrap().to_owned(),
                    c["old_tier"].as_str().unwrap().to_owned(),
                    c["new_tier"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    assert_eq!(
        changes("no_longer_surfaced"),
        [("git push origin main".into(), "async".into(), "auto".into())]
    );
    assert_eq!(
        changes("newly_surfaced"),
        [(
            "terraform plan || true".into(),
            "auto".into(),
            "sync".into()
        )]
    );
    assert_eq!(changes("tier_changed"), []);
    // `warden check` in the recorded directory agrees for both.
    for (script, old_tier, new_tier) in [
        ("terraform plan || true", "auto", "sync"),
        ("git push origin main", "async", "auto"),
    ] {
        let action = json!({"kind": "shell", "script": script});
        let cwd = Some(ws.to_str().unwrap());
        assert_eq!(env.check(&action, cwd, Some(&old)).tier, old_tier);
        assert_eq!(env.check(&action, cwd, Some(&draft)).tier, new_tier);
    }
}

#[test]
fn a_draft_policy_diff_lists_exactly_the_changed_actions() {
    let env = Env::new();
    let list = data("commands.txt");
    let draft = data("draft.toml");
    let old = data("old.toml");
    let v = env.replay_draft_json(&list);
    let a = &v["against"];
    let lines = |k: &str| -> Vec<u64> {
        a[k].as_array()
            .unwrap()
            .iter()
            .map(|c| c["line"].as_u64().unwrap())
            .collect()
    };
    // npm install (line 6) and terraform plan (9) are newly surfaced; both pushes (5, 13) no
    // longer are; the POST (7) moves from async to sync.
    assert_eq!(lines("newly_surfaced"), [6, 9]);
    assert_eq!(lines("no_longer_surfaced"), [5, 13]);
    assert_eq!(lines("tier_changed"), [7]);
    assert_eq!(a["tier_changed"][0]["old_tier"], "async");
    assert_eq!(a["tier_changed"][0]["new_tier"], "sync");
    assert_eq!(a["newly_surfaced"][0]["new_rule"], "repo.new-dependency");

    // `warden check` under each policy agrees, line by line, and nothing else changed.
    let text = std::fs::read_to_string(&list).unwrap();
    let mut changed = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let l = l.trim();
        if l.is_empty() || l.starts_with('#') {
            continue;
        }
        let action = json!({"kind": "shell", "script": l});
        let o = env.check(&action, None, Some(&old));
        let n = env.check(&action, None, Some(&draft));
        if o.tier != n.tier {
            changed.push((i as u64 + 1, o.tier, n.tier));
        }
    }
    let listed: Vec<(u64, String, String)> =
        ["newly_surfaced", "no_longer_surfaced", "tier_changed"]
            .iter()
            .flat_map(|k| a[k].as_array().unwrap().clone())
            .map(|c| {
                (
                    c["line"].as_u64().unwrap(),
                    c["old_tier"].as_str().unwrap().to_owned(),
                    c["new_tier"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
    let mut listed_sorted = listed.clone();
    listed_sorted.sort();
    assert_eq!(listed_sorted, changed);
    // Surfaced under the old policy = surfaced now - newly surfaced + no longer surfaced.
    assert_eq!(
        a["tiers"]["surfaced"]["count"].as_u64().unwrap(),
        v["tiers"]["surfaced"]["count"].as_u64().unwrap()
            - a["newly_surfaced"].as_array().unwrap().len() as u64
            + a["no_longer_surfaced"].as_array().unwrap().len() as u64
    );
    assert_eq!(v["tiers"]["surfaced"]["count"], 6);

    // The sentence a person reads.
    let o = env.replay_draft(&list, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("this change would newly surface 2 actions, stop surfacing 2, and change the tier of 1 surfaced"),
        "{out}"
    );
    assert!(
        out.contains(
            "line 6     auto → async  [build.tools → repo.new-dependency]  npm install left-pad"
        ),
        "{out}"
    );
    assert!(out.contains("line 13    async → auto"), "{out}");
    // --max-list shortens the printed lists.
    let o = env.replay_draft(&list, &["--max-list", "1"]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains("… and 1 more (--json lists all)"), "{out}");
    assert!(!out.contains("line 13"), "{out}");
}

#[test]
fn bad_input_is_refused_naming_the_line_or_counted_when_skipped() {
    let env = Env::new();
    let write = |name: &str, text: &str| {
        let p = env.dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_owned()
    };
    let cases = [
        (
            "bad.jsonl",
            "{\"cmd\": \"ls\"}\n{\"cmd\": \"pwd\"}\n{\"cmd\": \"ls\"\n",
            "bad.jsonl:3: not JSON",
        ),
        (
            "num.jsonl",
            "{\"cmd\": \"ls\"}\n{\"cmd\": 5}\n",
            "num.jsonl:2: `cmd` must be a string (shell) or an array of strings (argv)",
        ),
        (
            "empty-argv.jsonl",
            "{\"cmd\": []}\n",
            "empty-argv.jsonl:1: an exec action needs a non-empty argv",
        ),
        (
            "claude.jsonl",
            "{\"type\":\"user\",\"sessionId\":\"s\",\"message\":{\"content\":\"hi\"}}\n{\"type\":\"assistant\",\"message\":{\"content\":[{\"type\":\"tool_use\",\"id\":\"t\",\"name\":\"Bash\",\"input\":{\"description\":\"no command\"}}]}}\n",
            "claude.jsonl:2: Bash tool_use without a string `input.command`",
        ),
        (
            "audit.jsonl",
            "{\"seq\":1,\"kind\":\"intent\",\"hash\":\"h\",\"action\":{\"kind\":\"teleport\"}}\n",
            "audit.jsonl:1: intent record with an unreadable action",
        ),
        (
            "unknown.jsonl",
            "{\"x\": 1}\n",
            "unknown.jsonl:1: cannot tell the trace format",
        ),
    ];
    for (name, text, message) in cases {
        let p = write(name, text);
        let o = env.run(&["replay", &p]);
        assert_eq!(o.status.code(), Some(2), "{name}: {}", err(&o));
        assert!(err(&o).contains(message), "{name}: {}", err(&o));
        assert!(
            o.stdout.is_empty(),
            "{name}: nothing is reported on bad input"
        );
    }
    // --skip-invalid counts the bad lines and replays the rest.
    let p = write(
        "mixed.jsonl",
        "{\"cmd\": \"ls\"}\nnot json\n{\"cmd\": \"git push\"}\n{\"nocmd\": 1}\n",
    );
    let v = env.replay_json(&[&p, "--skip-invalid"]);
    assert_eq!(v["actions"], 2);
    let invalid: Vec<u64> = v["invalid_lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["line"].as_u64().unwrap())
        .collect();
    assert_eq!(invalid, [2, 4]);
    assert_eq!(v["tiers"]["async"]["count"], 1);
    // --format forces a reading: the list read as JSON lines fails at its first command.
    let list = data("commands.txt");
    let o = env.run(&["replay", "--format", "jsonl", list.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(err(&o).contains("commands.txt:2: not JSON"), "{}", err(&o));
    // A missing trace and a broken policy are bad input too.
    let o = env.run(&["replay", "/nonexistent/trace.txt"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err(&o).contains("cannot read trace /nonexistent/trace.txt"),
        "{}",
        err(&o)
    );
    let bad_policy = write("bad.toml", "[[rule]]\nid = 5\n");
    let o = env.run(&["replay", list.to_str().unwrap(), "--policy", &bad_policy]);
    assert_eq!(o.status.code(), Some(2), "{}", err(&o));
}

#[test]
fn an_audit_record_says_whether_its_action_was_sandboxed() {
    let env = Env::new();
    let action = json!({"kind": "shell", "script": "my-unknown-tool --do-things"});
    let rec = |seq: u64, sandboxed: Option<bool>| {
        let mut r = json!({"seq": seq, "ts_ns": seq, "kind": "intent", "prev": "0", "hash": format!("h{seq}"),
                           "action": action, "tier": "auto"});
        if let Some(s) = sandboxed {
            r["sandboxed"] = s.into();
        }
        r.to_string()
    };
    let p = env.dir.path().join("audit.jsonl");
    std::fs::write(
        &p,
        format!(
            "{}\n{}\n{}\n",
            rec(1, None),
            rec(2, Some(false)),
            rec(3, Some(true))
        ),
    )
    .unwrap();
    let inside = env.check(&action, None, None).tier;
    let o = env.run_stdin(
        &["check", "--json", "--unsandboxed", "--action", "-"],
        &action.to_string(),
    );
    let outside = serde_json::from_slice::<Value>(&o.stdout).unwrap()["tier"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(
        inside, outside,
        "the unknown command's tier depends on the sandbox"
    );
    let v = env.replay_json(&[p.to_str().unwrap()]);
    assert_eq!(v["tiers"][&inside]["count"], 2);
    assert_eq!(v["tiers"][&outside]["count"], 1);
}
