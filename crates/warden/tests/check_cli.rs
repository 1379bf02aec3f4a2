//! `warden check`, `warden policy …` and `warden init` as a user and a program see them: JSON
//! fields, exit codes, and errors that point at the problem.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn warden(args: &[&str], dir: &std::path::Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(args)
        .current_dir(dir)
        .env("WARDEN_ORG_POLICY", "")
        .output()
        .expect("run warden")
}

fn workspace() -> tempfile::TempDir {
    // Not under /tmp: the default policy treats /tmp as scratch space.
    let d = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::create_dir(d.path().join(".git")).unwrap();
    d
}

fn json(o: &Output) -> serde_json::Value {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&o.stdout)))
}

#[test]
fn check_json_has_the_contract_fields() {
    let ws = workspace();
    let v = json(&warden(
        &["check", "--json", "--", "git", "push", "origin", "main"],
        ws.path(),
    ));
    assert_eq!(v["tier"], "async");
    assert_eq!(v["rule"], "vcs.git-push");
    assert_eq!(v["category"], "vcs-publish");
    assert!(v["reasons"].as_array().is_some_and(|r| !r.is_empty()));
    let cmds = v["commands"].as_array().unwrap();
    assert_eq!(
        cmds[0]["argv"],
        serde_json::json!(["git", "push", "origin", "main"])
    );
    assert_eq!(cmds[0]["tier"], "async");
    assert_eq!(cmds[0]["rule"], "vcs.git-push");
    assert!(v["policy_digest"].as_str().unwrap().starts_with("sha256:"));
}

#[test]
fn every_tier_exits_zero() {
    let ws = workspace();
    for (script, tier) in [
        ("ls", "auto"),
        ("git push", "async"),
        ("cat ~/.ssh/id_rsa", "sync"),
        ("rm -rf /", "deny"),
    ] {
        let v = json(&warden(&["check", "--json", "--shell", script], ws.path()));
        assert_eq!(v["tier"], tier, "{script}");
    }
}

#[test]
fn shell_commands_carry_wrappers_and_spans() {
    let ws = workspace();
    let v = json(&warden(
        &[
            "check",
            "--json",
            "--shell",
            "ls && sudo bash -c 'git push --force'",
        ],
        ws.path(),
    ));
    assert_eq!(v["tier"], "sync");
    let cmds = v["commands"].as_array().unwrap();
    assert_eq!(cmds.len(), 2);
    assert_eq!(
        cmds[1]["argv"],
        serde_json::json!(["git", "push", "--force"])
    );
    assert!(cmds[1]["wrappers"].to_string().contains("sudo"));
    assert!(cmds[0]["span"].is_array());
}

#[test]
fn text_output_is_readable() {
    let ws = workspace();
    let o = warden(&["check", "--shell", "terraform apply"], ws.path());
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.starts_with("SYNC"), "{out}");
    assert!(
        out.contains("infrastructure-change") && out.contains("infra.terraform"),
        "{out}"
    );
}

#[test]
fn unsandboxed_unknown_command_needs_a_human() {
    let ws = workspace();
    let sandboxed = json(&warden(
        &["check", "--json", "--", "some-tool", "--go"],
        ws.path(),
    ));
    assert_eq!(sandboxed["tier"], "auto");
    let outside = json(&warden(
        &[
            "check",
            "--json",
            "--unsandboxed",
            "--",
            "some-tool",
            "--go",
        ],
        ws.path(),
    ));
    assert_eq!(outside["tier"], "sync");
    assert_eq!(outside["sandboxed"], false);
}

#[test]
fn cwd_and_workspace_decide_what_is_outside() {
    let ws = workspace();
    let sub = ws.path().join("a/b");
    std::fs::create_dir_all(&sub).unwrap();
    let sub_s = sub.to_str().unwrap();
    // A standalone policy: the default's scratch paths (/tmp/**) would hide the difference when
    // the test directory itself lives under /tmp.
    let policy = ws.path().join("p.toml");
    std::fs::write(
        &policy,
        "extends = \"none\"\n[defaults]\nunknown_sandboxed = \"auto\"\nwrite_outside_workspace = \"async\"\n",
    )
    .unwrap();
    let p = policy.to_str().unwrap();
    let check = |script: &str| {
        json(&warden(
            &[
                "check", "--json", "--policy", p, "--cwd", sub_s, "--shell", script,
            ],
            ws.path(),
        ))
    };
    assert_eq!(check("touch ../x")["tier"], "auto");
    assert_eq!(
        check("touch ../../x")["tier"],
        "auto",
        "the workspace root itself"
    );
    let outside = check("touch ../../../x");
    assert_eq!(outside["tier"], "async");
    assert_eq!(outside["rule"], "builtin.write-outside-workspace");
    assert_eq!(
        check("cd .. && cd .. && touch ../x")["tier"],
        "async",
        "cd is followed"
    );
}

#[test]
fn json_action_from_stdin_and_file() {
    let ws = workspace();
    let mut child = Command::new(env!("CARGO_BIN_EXE_warden"))
        .args(["check", "--json", "--action", "-"])
        .current_dir(ws.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"kind":"write","path":".git/hooks/pre-commit","rationale":"install hook"}"#)
        .unwrap();
    let v = json(&child.wait_with_output().unwrap());
    assert_eq!(v["tier"], "sync");
    assert_eq!(v["rationale"], "install hook");

    let f = ws.path().join("a.json");
    std::fs::write(
        &f,
        r#"{"kind":"net","host":"api.example.invalid","method":"POST"}"#,
    )
    .unwrap();
    let v = json(&warden(
        &["check", "--json", "--action", f.to_str().unwrap()],
        ws.path(),
    ));
    assert_eq!(v["tier"], "async");
}

#[test]
fn bad_input_exits_two_with_a_clear_message() {
    let ws = workspace();
    let cases: &[(&[&str], &str)] = &[
        (&["check"], "nothing to classify"),
        (&["check", "--shell", "  "], "non-empty script"),
        (
            &["check", "--action", "/nonexistent/x.json"],
            "cannot read action file",
        ),
        (
            &["check", "--shell", "ls", "--", "ls"],
            "cannot be used with",
        ),
        (
            &["check", "--policy", "/nonexistent/p.toml", "--", "ls"],
            "cannot read governance file",
        ),
    ];
    for (args, needle) in cases {
        let o = warden(args, ws.path());
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let f = ws.path().join("bad.json");
    std::fs::write(&f, r#"{"kind":"exec","argv":[]}"#).unwrap();
    let o = warden(&["check", "--action", f.to_str().unwrap()], ws.path());
    assert_eq!(o.status.code(), Some(2));
    std::fs::write(&f, "{\"kind\": \"teleport\"}").unwrap();
    let o = warden(&["check", "--action", f.to_str().unwrap()], ws.path());
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("teleport"));
}

#[test]
fn broken_governance_file_is_rejected_with_position_and_nothing_runs() {
    let ws = workspace();
    let p = ws.path().join("p.toml");
    std::fs::write(
        &p,
        "[[rule]]\nid = \"x\"\ntier = \"sync\"\nprogam = [\"make\"]\n",
    )
    .unwrap();
    let o = warden(
        &["check", "--policy", p.to_str().unwrap(), "--", "ls"],
        ws.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("p.toml:4:1"), "{err}");
    assert!(o.stdout.is_empty(), "no decision may be printed");

    // The repository layer is picked up from .warden/policy.toml without --policy.
    std::fs::create_dir(ws.path().join(".warden")).unwrap();
    std::fs::write(
        ws.path().join(".warden/policy.toml"),
        "[defaults]\nopaque = \"sometimes\"\n",
    )
    .unwrap();
    let o = warden(&["check", "--", "ls"], ws.path());
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("policy.toml:2:10"), "{err}");
}

#[test]
fn policy_lint_reports_every_problem() {
    let ws = workspace();
    let good = ws.path().join("good.toml");
    std::fs::write(
        &good,
        "[[rule]]\nid = \"r\"\ntier = \"async\"\nprogram = [\"make\"]\nsubcommand = [\"deploy\"]\n",
    )
    .unwrap();
    let o = warden(&["policy", "lint", good.to_str().unwrap()], ws.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).starts_with("ok:"));

    let bad = ws.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[rule]]\nid = \"r\"\ntier = \"async\"\nprogram = [\"ma[ke\"]\n[[rule]]\nid = \"r\"\ntier = \"auto\"\ntool = [\"x\"]\n",
    )
    .unwrap();
    let o = warden(
        &["policy", "lint", "--json", bad.to_str().unwrap()],
        ws.path(),
    );
    assert_eq!(o.status.code(), Some(2));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let errors = v["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 2, "{v}");
    assert_eq!(
        (errors[0]["line"].as_u64(), errors[0]["column"].as_u64()),
        (Some(4), Some(12)),
        "{v}"
    );
    assert!(
        errors[1]["message"]
            .as_str()
            .unwrap()
            .contains("duplicate rule id"),
        "{v}"
    );
}

#[test]
fn policy_test_fails_on_a_wrong_expectation() {
    let ws = workspace();
    let f = ws.path().join("t.toml");
    std::fs::write(
        &f,
        "[[test]]\nshell = \"git push\"\ntier = \"async\"\n[[test]]\nshell = \"git push\"\ntier = \"auto\"\n",
    )
    .unwrap();
    let o = warden(&["policy", "test", f.to_str().unwrap()], ws.path());
    assert_eq!(o.status.code(), Some(1));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("FAIL") && out.contains("expected auto"),
        "{out}"
    );
    assert!(out.contains(" 1 failed"), "{out}");

    std::fs::write(&f, "[[test]]\nshell = \"git push\"\ntier = \"async\"\n").unwrap();
    let v = json(&warden(
        &["policy", "test", "--json", f.to_str().unwrap()],
        ws.path(),
    ));
    assert_eq!(v["failed"], 0);
    assert!(
        v["passed"].as_u64().unwrap() > 80,
        "the default's own cases run too: {v}"
    );
}

#[test]
fn policy_schema_explain_and_default() {
    let ws = workspace();
    let v = json(&warden(&["policy", "schema"], ws.path()));
    let props = &v["properties"];
    for key in [
        "rule",
        "never_auto",
        "high_risk",
        "defaults",
        "network",
        "sandbox",
        "audit",
        "approvals",
        "test",
        "lock",
    ] {
        assert!(props.get(key).is_some(), "schema lacks `{key}`: {props}");
    }
    let v = json(&warden(
        &[
            "policy",
            "explain",
            "--json",
            "--shell",
            "git -c alias.p=push p --force",
        ],
        ws.path(),
    ));
    assert_eq!(v["tier"], "sync");
    let trace = v["trace"].to_string();
    assert!(
        trace.contains("alias") && trace.contains("never.force-push"),
        "{trace}"
    );
    let o = warden(&["policy", "default"], ws.path());
    assert!(String::from_utf8_lossy(&o.stdout).contains("[[never_auto]]"));
}

#[test]
fn init_writes_a_policy_that_lints_and_tests_clean() {
    let ws = workspace();
    std::fs::write(ws.path().join("Cargo.toml"), "[package]\nname = \"x\"\n").unwrap();
    std::fs::write(ws.path().join("package.json"), "{}").unwrap();
    std::fs::create_dir(ws.path().join("migrations")).unwrap();
    let o = warden(&["init"], ws.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let text = std::fs::read_to_string(ws.path().join(".warden/policy.toml")).unwrap();
    assert!(
        text.contains("Rust (Cargo.toml)")
            && text.contains("Node.js")
            && text.contains("migrations/**"),
        "{text}"
    );
    let o = warden(&["policy", "test"], ws.path());
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stdout));
    let v = json(&warden(
        &["check", "--json", "--shell", "echo x > migrations/001.sql"],
        ws.path(),
    ));
    assert_eq!(v["tier"], "sync");
    let again = warden(&["init"], ws.path());
    assert_eq!(again.status.code(), Some(2));
    // miette wraps the message to the terminal width, and the workspace path (under the
    // checkout's target directory) can be long enough to push "already exists" onto the next
    // line behind a `│`: compare the words.
    let words: Vec<String> = String::from_utf8_lossy(&again.stderr)
        .split_whitespace()
        .filter(|w| *w != "│")
        .map(str::to_owned)
        .collect();
    assert!(words.join(" ").contains("already exists"), "{words:?}");
    assert!(warden(&["init", "--force"], ws.path()).status.success());
}

/// Issue 16: `warden check` reads the scripts and tasks an action runs from the workspace
/// (before, `bash deploy.sh` was `auto` whatever deploy.sh said); files reached through a
/// symlink out of the workspace and secret files are not read.
#[test]
fn check_reads_workspace_scripts_ahead() {
    let ws = workspace();
    std::fs::write(
        ws.path().join("deploy.sh"),
        "#!/bin/sh\nset -e\nterraform apply -auto-approve\n",
    )
    .unwrap();
    std::fs::write(
        ws.path().join("package.json"),
        r#"{"scripts": {"pretest": "git push", "test": "true"}}"#,
    )
    .unwrap();
    std::fs::write(ws.path().join(".env"), "git push --force\n").unwrap();
    let outside = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    std::fs::write(outside.path().join("x.sh"), "terraform destroy\n").unwrap();
    std::os::unix::fs::symlink(outside.path().join("x.sh"), ws.path().join("link.sh")).unwrap();

    let v = json(&warden(
        &["check", "--json", "--shell", "bash deploy.sh"],
        ws.path(),
    ));
    assert_eq!(v["tier"], "sync");
    assert!(
        v["reasons"][0]
            .as_str()
            .unwrap()
            .starts_with("deploy.sh:3: terraform apply"),
        "{v}"
    );
    assert!(
        v["commands"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["source"] == "deploy.sh:3")
    );

    let v = json(&warden(
        &["check", "--json", "--shell", "npm test"],
        ws.path(),
    ));
    assert_eq!(v["tier"], "async", "{v}");

    let v = json(&warden(
        &["check", "--json", "--shell", "bash link.sh"],
        ws.path(),
    ));
    assert_eq!(v["tier"], "auto", "{v}");
    // `.env` is not read ahead (its values would reach the decision); reading it is
    // credential access anyway.
    let v = json(&warden(
        &["check", "--json", "--shell", "source .env"],
        ws.path(),
    ));
    assert_eq!(v["tier"], "sync", "{v}");
    assert!(v["reasons"].to_string().contains("cred.files"), "{v}");
    assert!(!v.to_string().contains("--force"), "{v}");

    let out = warden(&["policy", "explain", "--shell", "./deploy.sh"], ws.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("lookahead: reading deploy.sh"), "{text}");
}
