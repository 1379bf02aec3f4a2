//! Runtime enforcement, exec layer, end to end through the real `warden run`: every program a
//! governed action runs inside its sandbox is judged at the action's granted tier (DESIGN.md,
//! "Runtime enforcement"). A script, a Makefile recipe and a Python `subprocess` each trying
//! `git push` to a bare repository inside the workspace are refused (the ref never appears), the
//! run exits 75 with the reason, and the audit log holds a `nested` record child of the
//! intent; a stand-in `terraform apply` (sync, unattended) is refused and exits 77; a script
//! running many `auto` programs runs unchanged. Also here: whole-agent mode (`warden sandbox
//! --govern`, docs/whole-agent.md executed), the network layer (a POST the command text hides is
//! refused at the proxy, a GET passes), `warden report`'s nested counts, and a kernel without
//! exec notification.
//!
//! Before this layer was wired (`SpawnOptions { exec: None, .. }` in warden-govern), every one
//! of these pushes landed and `warden run` exited 0.

#![cfg(target_os = "linux")]

#[path = "support/unread.rs"]
mod unread;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

/// A workspace (a git repository with one commit and a bare `remote.git` inside it) outside
/// `/tmp`, which the default policy treats as scratch.
struct Ws {
    root: tempfile::TempDir,
    ws: PathBuf,
}

fn git(dir: &Path, args: &[&str]) -> Output {
    Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", dir)
        .output()
        .expect("git")
}

fn ws() -> Ws {
    let root = tempfile::Builder::new()
        .prefix("rtexec-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir");
    let ws = root.path().join("ws");
    std::fs::create_dir_all(&ws).expect("mkdir");
    assert!(
        git(&ws, &["init", "-q", "--bare", "remote.git"])
            .status
            .success()
    );
    assert!(git(&ws, &["init", "-q", "."]).status.success());
    let commit = git(
        &ws,
        &[
            "-c",
            "user.email=t@example.invalid",
            "-c",
            "user.name=t",
            "commit",
            "-q",
            "--allow-empty",
            "-m",
            "one",
        ],
    );
    assert!(commit.status.success(), "{commit:?}");
    assert!(
        git(&ws, &["remote", "add", "origin", "./remote.git"])
            .status
            .success()
    );
    Ws { root, ws }
}

impl Ws {
    fn write(&self, rel: &str, text: &str) {
        let p = self.ws.join(rel);
        std::fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
        std::fs::write(&p, text).expect("write");
    }

    /// A file the command runs that lookahead does not read: padded past the size lookahead
    /// reads ahead (a comment, or an unused field of a JSON file), so the early decision is the
    /// command's own tier. These tests are about the runtime layer, which must hold whatever the
    /// early decision could not see (a script generated or fetched at run time, a large one).
    fn write_unread(&self, rel: &str, text: &str) {
        let padded = if rel.ends_with(".json") {
            unread::json(text)
        } else if rel.ends_with(".js") {
            unread::js(text)
        } else {
            unread::script(text)
        };
        self.write(rel, &padded);
    }

    fn executable(&self, rel: &str, text: &str) {
        use std::os::unix::fs::PermissionsExt;
        self.write(rel, text);
        let p = self.ws.join(rel);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }

    fn run(&self, argv: &[&str]) -> Output {
        let policy = self.root.path().join("policy.toml");
        std::fs::write(
            &policy,
            "[network]\ndiscover_registries = false\ndiscover_git_remotes = false\nforges = false\n",
        )
        .expect("policy");
        let mut args = vec!["run", "--policy", policy.to_str().expect("utf8"), "--"];
        args.extend_from_slice(argv);
        self.warden(&args)
    }

    /// `warden run -- ARGV` under the workspace's own `.warden/policy.toml`.
    fn run_ws_policy(&self, argv: &[&str]) -> Output {
        let mut args = vec!["run", "--"];
        args.extend_from_slice(argv);
        self.warden(&args)
    }

    fn warden(&self, args: &[&str]) -> Output {
        Command::new(WARDEN)
            .args(args)
            .current_dir(&self.ws)
            .env("HOME", self.root.path())
            .env_remove("WARDEN_ORG_POLICY")
            .env_remove("WARDEN_SERVER")
            .stdin(Stdio::null())
            .output()
            .expect("warden")
    }

    /// The refs of the bare repository (empty when nothing was pushed).
    fn pushed_refs(&self) -> String {
        let out = git(&self.ws.join("remote.git"), &["for-each-ref"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn records(&self) -> Vec<serde_json::Value> {
        let log = std::fs::read_to_string(self.ws.join(".warden/audit/audit.jsonl")).expect("log");
        log.lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect()
    }

    /// Every `nested` record of the log, each checked to name an intent of the log.
    fn nested_any(&self) -> Vec<serde_json::Value> {
        let records = self.records();
        let nested: Vec<_> = records
            .iter()
            .filter(|r| r["kind"] == "nested")
            .cloned()
            .collect();
        for n in &nested {
            assert!(
                records.iter().any(|r| r["kind"] == "intent"
                    && r["seq"] == n["intent_seq"]
                    && r["hash"] == n["intent_hash"]),
                "{n}"
            );
        }
        nested
    }

    /// The `nested` records, each checked to be a child of the run's (only) intent.
    fn nested(&self) -> Vec<serde_json::Value> {
        let records = self.records();
        let intents: Vec<_> = records.iter().filter(|r| r["kind"] == "intent").collect();
        assert_eq!(intents.len(), 1, "{records:#?}");
        let nested: Vec<_> = records
            .iter()
            .filter(|r| r["kind"] == "nested")
            .cloned()
            .collect();
        for n in &nested {
            assert_eq!(n["intent_seq"], intents[0]["seq"], "{n}");
            assert_eq!(n["intent_hash"], intents[0]["hash"], "{n}");
            assert_eq!(n["layer"], "exec", "{n}");
            assert_eq!(n["granted"], "auto", "{n}");
        }
        // Nested records come before the outcome.
        let outcome = records
            .iter()
            .position(|r| r["kind"] == "outcome")
            .expect("outcome");
        assert!(
            records[..outcome]
                .iter()
                .filter(|r| r["kind"] == "nested")
                .count()
                == nested.len()
        );
        nested
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A nested `git push` was refused asynchronously: exit 75, reason on stderr, no ref, a
/// `refuse` record naming the push.
fn assert_push_refused(w: &Ws, out: &Output) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(75), "stderr: {err}");
    assert!(w.pushed_refs().is_empty(), "pushed: {}", w.pushed_refs());
    assert!(err.contains("git refused"), "{err}");
    assert!(err.contains("vcs.git-push"), "{err}");
    assert!(err.contains("warden: refused `git push"), "{err}");
    let nested = w.nested();
    let push = nested
        .iter()
        .find(|n| n["action"]["argv"][1] == "push" || n["rule"] == "vcs.git-push")
        .unwrap_or_else(|| panic!("no nested push record: {nested:#?}"));
    assert_eq!(push["answer"], "refuse", "{push}");
    assert_eq!(push["tier"], "async", "{push}");
    assert_eq!(push["rule"], "vcs.git-push", "{push}");
}

#[test]
fn a_script_cannot_push_from_inside_an_auto_action() {
    let w = ws();
    w.write_unread(
        "deploy.sh",
        "ls >/dev/null\ngit push origin HEAD:refs/heads/main\necho done\n",
    );
    // `sh deploy.sh` is `auto`; the script's last command succeeds, so without the exec layer
    // the run would exit 0 with the branch pushed.
    let out = w.run(&["sh", "deploy.sh"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("done"));
    assert_push_refused(&w, &out);
}

#[test]
fn a_makefile_recipe_cannot_push() {
    if Command::new("make").arg("--version").output().is_err() {
        eprintln!("skipped: no make");
        return;
    }
    let w = ws();
    w.write_unread(
        "Makefile",
        "release:\n\t-git push origin HEAD:refs/heads/main\n\t@echo built\n",
    );
    let out = w.run(&["make", "release"]);
    assert_push_refused(&w, &out);
}

#[test]
fn a_python_subprocess_cannot_push() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: no python3");
        return;
    }
    let w = ws();
    w.write_unread(
        "tool.py",
        "import subprocess\nr = subprocess.run(['git', 'push', 'origin', 'HEAD:refs/heads/main'])\nprint('returncode', r.returncode)\n",
    );
    let out = w.run(&["python3", "tool.py"]);
    // Python turns EACCES into PermissionError: the script fails, but Warden's answer (75) is
    // what the caller sees only when the command exited 0; here it raised.
    if out.status.code() == Some(1) {
        assert!(stderr(&out).contains("PermissionError"), "{}", stderr(&out));
        assert!(w.pushed_refs().is_empty());
        let nested = w.nested();
        assert!(
            nested
                .iter()
                .any(|n| n["rule"] == "vcs.git-push" && n["answer"] == "refuse")
        );
    } else {
        panic!("unexpected status: {:?} {}", out.status, stderr(&out));
    }
}

#[test]
fn a_python_subprocess_push_that_is_caught_still_exits_75() {
    if Command::new("python3").arg("--version").output().is_err() {
        eprintln!("skipped: no python3");
        return;
    }
    let w = ws();
    w.write_unread(
        "tool.py",
        "import subprocess\ntry:\n    subprocess.run(['git', 'push', 'origin', 'HEAD:refs/heads/main'])\nexcept PermissionError as e:\n    print('caught', e)\n",
    );
    let out = w.run(&["python3", "tool.py"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("caught"));
    assert_push_refused(&w, &out);
}

#[test]
fn a_sync_program_is_refused_unattended_and_exits_77() {
    let w = ws();
    // A stand-in `terraform` on PATH that would leave a marker.
    w.executable("bin/terraform", "#!/bin/sh\ntouch applied.marker\n");
    w.write_unread(
        "infra.sh",
        "PATH=\"$PWD/bin:$PATH\"\nterraform apply -auto-approve\necho finished\n",
    );
    let out = w.run(&["sh", "infra.sh"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(77), "{err}");
    assert!(!w.ws.join("applied.marker").exists());
    assert!(err.contains("warden: refused `terraform apply"), "{err}");
    let nested = w.nested();
    // Held (durably) while nobody could be asked, then denied: two records, the second naming
    // the first.
    let tf: Vec<_> = nested
        .iter()
        .filter(|n| n["action"]["argv"][0] == "terraform")
        .collect();
    assert_eq!(tf.len(), 2, "{nested:#?}");
    assert_eq!(tf[0]["tier"], "sync");
    assert_eq!(tf[0]["answer"], "hold", "{}", tf[0]);
    assert_eq!(tf[1]["answer"], "deny", "{}", tf[1]);
    assert_eq!(tf[1]["held"], tf[0]["seq"], "{}", tf[1]);
}

/// A library preload a script exports reaches the programs it runs without any exec of its own:
/// each exec that carries it is judged as the same assignment typed before the command
/// (`LD_PRELOAD=./hook.so ls` is `sync`), so an `auto` script cannot load code past its tier; a
/// pager set the same way changes nothing (a pager is judged when it is exec'd).
#[test]
fn a_library_a_script_preloads_is_judged_with_the_program() {
    let w = ws();
    w.write_unread(
        "preload.sh",
        "export LD_PRELOAD=\"$PWD/hook.so\"\nls > listing.txt\necho finished\n",
    );
    let out = w.run(&["sh", "preload.sh"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(77), "{err}");
    // (The shell opens the redirection before the exec: the file is there, and empty.)
    let listing = || std::fs::read_to_string(w.ws.join("listing.txt")).unwrap_or_default();
    assert_eq!(listing(), "", "ls ran: {err}");
    assert!(err.contains("warden: refused `ls"), "{err}");
    let nested = w.nested();
    let ls: Vec<_> = nested
        .iter()
        .filter(|n| n["action"]["argv"][0] == "ls")
        .collect();
    assert_eq!(ls.len(), 2, "held, then denied: {nested:#?}");
    assert_eq!(ls[0]["tier"], "sync", "{}", ls[0]);
    assert!(
        ls[0]["reasons"][0]
            .as_str()
            .is_some_and(|r| r.contains("LD_PRELOAD")),
        "{}",
        ls[0]
    );
    assert_eq!(ls[1]["answer"], "deny", "{}", ls[1]);

    w.write_unread(
        "pager.sh",
        "export PAGER=cat\nls > listing.txt\necho finished\n",
    );
    let out = w.run(&["sh", "pager.sh"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(listing().contains("pager.sh"), "{}", listing());
}

/// A hook manager's switch a script exports (`export HUSKY=0`) is judged with the git command
/// it reaches, as `HUSKY=0 git commit` typed would be (`sync`, like `--no-verify`): the commit
/// is refused unattended and not made. Before, a script could skip the team's hooks at `auto`.
#[test]
fn a_hook_switch_a_script_exports_is_judged_with_the_commit() {
    let w = ws();
    let commits = || {
        String::from_utf8_lossy(&git(&w.ws, &["rev-list", "--count", "HEAD"]).stdout)
            .trim()
            .to_owned()
    };
    let before = commits();
    w.write_unread(
        "skip.sh",
        "export HUSKY=0
git -c user.email=t@example.invalid -c user.name=t commit -q --allow-empty -m wip
echo finished
",
    );
    let out = w.run(&["sh", "skip.sh"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(77), "{err}");
    assert_eq!(commits(), before, "the commit was made: {err}");
    assert!(err.contains("warden: refused `git"), "{err}");
    let nested = w.nested();
    let commit = nested
        .iter()
        .find(|n| n["action"]["argv"][0] == "git")
        .expect("the commit was judged");
    assert_eq!(commit["tier"], "sync", "{commit}");
    assert!(
        commit["reasons"][0]
            .as_str()
            .is_some_and(|r| r.contains("HUSKY")),
        "{commit}"
    );
}

#[test]
fn a_script_running_many_auto_programs_runs_unchanged() {
    let w = ws();
    w.write("data.txt", "alpha\nbeta\ngamma\n");
    w.write(
        "build.sh",
        "n=0\nwhile [ $n -lt 60 ]; do\n  /bin/true\n  cat data.txt | grep -c a >/dev/null\n  n=$(expr $n + 1)\ndone\nwc -l < data.txt\n",
    );
    let out = w.run(&["sh", "build.sh"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "3");
    assert!(!stderr(&out).contains("refused"), "{}", stderr(&out));
    let nested = w.nested();
    // 60 × (true, cat, grep, expr) + wc: each judged, each proceeding.
    assert!(nested.len() >= 241, "{}", nested.len());
    assert!(nested.iter().all(|n| n["answer"] == "proceed"));
}

/// docs/whole-agent.md, executed: its stand-in agent (the block after `<!-- agent.sh -->`) is
/// written to a fresh repository, then its other ```sh blocks run in order with bash (the
/// built `warden` first on `PATH`), and the printed output is checked against the ```text block
/// that follows the run (`…` matching anything within a line).
#[test]
fn the_whole_agent_walkthrough_runs_as_documented() {
    const DOC: &str = include_str!("../../../docs/whole-agent.md");
    let blocks = |lang: &str| -> Vec<(usize, String)> {
        let fence = format!("```{lang}\n");
        DOC.match_indices(&fence)
            .map(|(at, _)| {
                let body = &DOC[at + fence.len()..];
                let end = body.find("```").expect("closed block");
                (at, body[..end].to_owned())
            })
            .collect()
    };
    let agent_at = DOC.find("<!-- agent.sh -->").expect("agent marker");
    let sh = blocks("sh");
    let (agent, steps): (Vec<_>, Vec<_>) = sh
        .into_iter()
        .partition(|(at, _)| DOC[agent_at..*at].trim() == "<!-- agent.sh -->" && *at > agent_at);
    assert_eq!(agent.len(), 1);
    assert_eq!(steps.len(), 3, "setup, run, audit tail");
    let w = ws();
    w.executable("agent.sh", &agent[0].1);
    let bin_dir = Path::new(WARDEN).parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        bin_dir.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let bash = |script: &str| {
        Command::new("bash")
            .args(["-c", &format!("exec 2>&1\n{script}")])
            .current_dir(&w.ws)
            .env("PATH", &path)
            .env("HOME", w.root.path())
            .env_remove("WARDEN_ORG_POLICY")
            .env_remove("WARDEN_SERVER")
            .stdin(Stdio::null())
            .output()
            .expect("bash")
    };
    let setup = bash(&steps[0].1);
    assert!(setup.status.success(), "{setup:?}");
    let run = bash(&steps[1].1);
    // The expected output: the first ```text block after the run's block.
    let expected = blocks("text")
        .into_iter()
        .find(|(at, _)| *at > steps[1].0)
        .expect("expected output")
        .1;
    let got = String::from_utf8_lossy(&run.stdout).into_owned();
    let got_lines: Vec<&str> = got.lines().collect();
    let want_lines: Vec<&str> = expected.lines().collect();
    assert_eq!(got_lines.len(), want_lines.len(), "got:\n{got}");
    for (g, want) in got_lines.iter().zip(&want_lines) {
        let parts: Vec<&str> = want.split('…').collect();
        let mut rest = *g;
        let mut ok = rest.starts_with(parts[0]);
        if ok {
            rest = &rest[parts[0].len()..];
            for p in &parts[1..] {
                match rest.find(p) {
                    Some(i) => rest = &rest[i + p.len()..],
                    None => ok = false,
                }
            }
            if parts.len() == 1 {
                ok = rest.is_empty();
            }
        }
        assert!(ok, "line {g:?} does not match {want:?}\ngot:\n{got}");
    }
    assert_eq!(run.status.code(), Some(77), "{got}");
    assert!(!w.ws.join("terraform.ran").exists());
    assert!(!w.ws.join("mkfs.ran").exists());
    // `warden audit tail --json`: the agent's intent and its nested children.
    let tail = bash(&steps[2].1);
    assert!(tail.status.success(), "{tail:?}");
    let nested = w.nested();
    let answers: Vec<(String, String)> = nested
        .iter()
        .map(|n| {
            (
                n["action"]["argv"][0].as_str().unwrap_or("").to_owned(),
                n["answer"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    let pairs: Vec<(&str, &str)> = answers
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("ls", "proceed"),
            ("terraform", "hold"),
            ("terraform", "deny"),
            ("mkfs.ext4", "deny")
        ],
        "{nested:#?}"
    );
    let tail_text = String::from_utf8_lossy(&tail.stdout);
    assert!(tail_text.contains("\"nested\""), "{tail_text}");
}

/// A loopback origin answering every request `200 ok`, keeping each request's raw bytes.
fn recording_origin() -> (u16, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    use std::io::{Read, Write};
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let keep = seen.clone();
    std::thread::spawn(move || {
        for conn in l.incoming() {
            let Ok(mut c) = conn else { continue };
            let _ = c.set_read_timeout(Some(std::time::Duration::from_millis(500)));
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            // Read the head and whatever body follows within the timeout.
            while let Ok(n) = c.read(&mut buf) {
                if n == 0 {
                    break;
                }
                raw.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&raw);
                if let Some(end) = text.find("\r\n\r\n") {
                    let len = text[..end]
                        .lines()
                        .find_map(|l| {
                            let (k, v) = l.split_once(':')?;
                            k.eq_ignore_ascii_case("content-length")
                                .then(|| v.trim().parse::<usize>().ok())?
                        })
                        .unwrap_or(0);
                    if raw.len() >= end + 4 + len {
                        break;
                    }
                }
            }
            keep.lock()
                .expect("lock")
                .push(String::from_utf8_lossy(&raw).into_owned());
            let _ = c.write_all(
                b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: close\r\n\r\nok\n",
            );
        }
    });
    (port, seen)
}

/// The network layer: a request the classifier could not see in the command text (a POST
/// hidden in a curl config file; `curl -K post.cfg` is `auto`) is judged at the proxy as a
/// `net` action at the action's granted tier: refused with 403 and a one-line reason, its body
/// never reaching the origin, and `warden run` exits 75 (async: a re-run request). A GET to the
/// same allowed host passes. Before this layer was wired (the proxy spawned with `ProceedAll`),
/// the POST's body arrived and the run exited 0.
#[test]
fn a_hidden_post_is_refused_at_the_proxy_and_a_get_passes() {
    let w = ws();
    let (port, seen) = recording_origin();
    std::fs::create_dir_all(w.ws.join(".warden")).expect("mkdir");
    std::fs::write(
        w.ws.join(".warden/policy.toml"),
        format!(
            "version = 1\n[network]\nallow = [\"127.0.0.1:{port}\"]\nallow_private = [\"127.0.0.1\"]\n\
             discover_registries = false\ndiscover_git_remotes = false\nforges = false\n"
        ),
    )
    .expect("policy");
    let cfg = |data: bool| {
        format!(
            "url = \"http://127.0.0.1:{port}/upload\"\nnoproxy = \"\"\nmax-time = 20\nsilent\nshow-error\n{}",
            if data {
                "data = \"secret-body-123\"\n"
            } else {
                ""
            }
        )
    };
    w.write("post.cfg", &cfg(true));
    w.write("get.cfg", &cfg(false));
    w.write("post.sh", "curl -K post.cfg\necho posted\n");
    w.write("get.sh", "curl -K get.cfg\necho fetched\n");

    let out = w.run_ws_policy(&["sh", "post.sh"]);
    let err = stderr(&out);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(75), "{stdout}\n{err}");
    // The 403's body, as curl printed it: one line saying why.
    assert!(stdout.contains("warden: refused"), "{stdout}");
    assert!(err.contains("warden: refused `"), "{err}");
    let got = seen.lock().expect("lock").clone();
    assert!(
        got.iter().all(|r| !r.contains("secret-body-123")),
        "the body reached the origin: {got:?}"
    );
    let nested = w.nested_any();
    let post = nested
        .iter()
        .find(|n| n["layer"] == "net")
        .unwrap_or_else(|| panic!("no net record: {nested:#?}"));
    assert_eq!(post["action"]["method"], "POST", "{post}");
    assert_eq!(post["answer"], "refuse", "{post}");
    assert_eq!(post["tier"], "async", "{post}");

    let out = w.run_ws_policy(&["sh", "get.sh"]);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", stderr(&out));
    assert!(stdout.contains("ok\nfetched"), "{stdout}");
    let got = seen.lock().expect("lock").clone();
    assert!(got.iter().any(|r| r.starts_with("GET /upload")), "{got:?}");
}

/// `warden report` counts the nested decisions (how many, held, refused, by rule) and lists
/// the action whose nested operations were refused as a `nested-refused` incident.
#[test]
fn the_report_counts_nested_decisions_and_lists_refusals_as_incidents() {
    let w = ws();
    w.executable("bin/terraform", "#!/bin/sh\ntouch applied.marker\n");
    w.write_unread(
        "ship.sh",
        "PATH=\"$PWD/bin:$PATH\"\nls >/dev/null\ngit push origin HEAD:refs/heads/main\nterraform apply\necho shipped\n",
    );
    let out = w.run(&["sh", "ship.sh"]);
    assert_eq!(out.status.code(), Some(77), "{}", stderr(&out));
    let report = |json: bool| {
        let mut args = vec!["report"];
        if json {
            args.push("--json");
        }
        let o = w.warden(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let r: serde_json::Value = serde_json::from_str(&report(true)).expect("json");
    let n = &r["nested"];
    // ls and git proceeded/refused, terraform held then denied: 3 decisions, 1 hold.
    assert_eq!(n["decisions"], 3, "{n:#}");
    assert_eq!(n["by_layer"]["exec"], 3, "{n:#}");
    assert_eq!(n["held"], 1, "{n:#}");
    assert_eq!(n["refused"], 2, "{n:#}");
    let rule = |id: &str| {
        n["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .find(|x| x["rule"] == id)
            .unwrap_or_else(|| panic!("{id}: {n:#}"))
            .clone()
    };
    assert_eq!(rule("vcs.git-push")["refused"], 1);
    assert_eq!(rule("infra.terraform")["held"], 1);
    assert_eq!(rule("infra.terraform")["refused"], 1);
    let incident = r["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .find(|i| {
            i["kinds"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "nested-refused"))
        })
        .unwrap_or_else(|| panic!("no nested-refused incident: {r:#}"))
        .clone();
    let detail = incident["detail"].as_str().expect("detail");
    assert!(
        detail.contains("git push origin") && detail.contains("vcs.git-push"),
        "{detail}"
    );
    assert!(detail.contains("terraform apply"), "{detail}");
    assert_eq!(r["incident_counts"]["nested-refused"], 1, "{r:#}");
    let text = report(false);
    assert!(
        text.contains("inside actions: 3 decisions (exec 3), 1 held for a person, 2 refused"),
        "{text}"
    );
}

/// A kernel without seccomp user notification (pretended with warden-sandbox's documented test
/// hook) cannot govern nested execs: `warden run` refuses to run with the reason, unless
/// `--allow-degraded`, which runs and says what was not enforced.
#[test]
fn without_exec_notification_a_run_is_refused_unless_degraded_is_allowed() {
    let w = ws();
    w.write("ok.sh", "echo ran\n");
    let run = |extra: &[&str]| {
        let mut args = vec!["run"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--", "sh", "ok.sh"]);
        Command::new(WARDEN)
            .args(&args)
            .current_dir(&w.ws)
            .env("HOME", w.root.path())
            .env("WARDEN_SANDBOX_PRETEND_MISSING", "exec_notify")
            .env_remove("WARDEN_ORG_POLICY")
            .stdin(Stdio::null())
            .output()
            .expect("warden")
    };
    let out = run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("seccomp user notification"),
        "{}",
        stderr(&out)
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("ran"));
    let out = run(&["--allow-degraded"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ran"));
    assert!(
        stderr(&out).contains("not enforced: seccomp user notification"),
        "{}",
        stderr(&out)
    );
}

/// An npm `posttest` script pushing: npm runs it as `sh -c 'git push …'`, an exec judged like
/// any other: refused, no ref. npm reports the failed script and exits non-zero, which
/// `warden run` passes on (it never exits 0 with a refusal).
#[test]
fn an_npm_posttest_script_cannot_push() {
    if Command::new("npm").arg("--version").output().is_err() {
        eprintln!("skipped: no npm");
        return;
    }
    let w = ws();
    w.write_unread(
        "package.json",
        r#"{"name":"t","version":"1.0.0","scripts":{"test":"echo tested","posttest":"git push origin HEAD:refs/heads/main"}}"#,
    );
    let out = w.run(&["npm", "test", "--no-update-notifier"]);
    let err = stderr(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("tested"),
        "{err}"
    );
    assert_ne!(out.status.code(), Some(0), "{err}");
    assert!(w.pushed_refs().is_empty(), "pushed: {}", w.pushed_refs());
    assert!(err.contains("vcs.git-push"), "{err}");
    let nested = w.nested();
    assert!(
        nested
            .iter()
            .any(|n| n["rule"] == "vcs.git-push" && n["answer"] == "refuse"),
        "{nested:#?}"
    );
}

/// Node's `child_process.execSync('git push …')` (a `/bin/sh -c` underneath) is refused; the
/// script catches the error and exits 0, so `warden run` exits 75.
#[test]
fn a_node_exec_sync_cannot_push() {
    if Command::new("node").arg("--version").output().is_err() {
        eprintln!("skipped: no node");
        return;
    }
    let w = ws();
    w.write_unread(
        "tool.js",
        "const cp = require('child_process');\n\
         try { cp.execSync('git push origin HEAD:refs/heads/main', {stdio: 'inherit'}); }\n\
         catch (e) { console.log('caught', e.status); }\n",
    );
    let out = w.run(&["node", "tool.js"]);
    let err = stderr(&out);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("caught"),
        "{err}"
    );
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(w.pushed_refs().is_empty(), "pushed: {}", w.pushed_refs());
    assert!(err.contains("/bin/sh refused"), "{err}");
    assert!(err.contains("vcs.git-push"), "{err}");
    let nested = w.nested();
    assert!(
        nested
            .iter()
            .any(|n| n["rule"] == "vcs.git-push" && n["answer"] == "refuse"),
        "{nested:#?}"
    );
}

#[path = "support/serve.rs"]
mod serve;

/// "The same with the request approved in the server": an `auto` action's nested push is
/// refused and files a request to re-run the whole action at `async` (naming the push); an
/// approver approves it in a real `warden serve`; the worker re-runs the action at granted tier
/// `async` and the push lands, exactly once (a second worker pass runs nothing). Before, the
/// worker re-ran the action at its own tier (`auto`) and the push was refused again.
#[test]
fn an_approved_rerun_pushes_exactly_once() {
    let w = ws();
    w.write_unread(
        "deploy.sh",
        "git push origin HEAD:refs/heads/main && echo pushed >> pushes.log\necho done\n",
    );
    let server_dir = w.root.path().join("server");
    std::fs::create_dir_all(&server_dir).expect("server dir");
    let admin = "wdn_test_admin_rtexec_0123456789";
    let s = serve::serve(
        &server_dir,
        admin,
        ["--db", "sqlite:approvals.db", "--listen", "127.0.0.1:0"],
    );
    let agent = serve::create_token(&s.url, admin, "agent", "bot", "");
    let alice = serve::create_token(&s.url, admin, "approver", "alice", "maintainers,admins");
    let policy = w.root.path().join("policy.toml");
    std::fs::write(
        &policy,
        "[network]\ndiscover_registries = false\ndiscover_git_remotes = false\nforges = false\n",
    )
    .expect("policy");
    std::fs::create_dir_all(w.ws.join(".warden")).expect(".warden");
    std::fs::copy(&policy, w.ws.join(".warden/policy.toml")).expect("ws policy");
    let out = Command::new(WARDEN)
        .args(["run", "--", "sh", "deploy.sh"])
        .current_dir(&w.ws)
        .env("HOME", w.root.path())
        .env("WARDEN_SERVER", &s.url)
        .env("WARDEN_TOKEN", &agent)
        .env_remove("WARDEN_ORG_POLICY")
        .stdin(Stdio::null())
        .output()
        .expect("warden run");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(w.pushed_refs().is_empty());
    let list = serve::approvals_cli(&s.url, &alice, &["--json", "list"])
        .output()
        .expect("list");
    let list: serde_json::Value = serde_json::from_slice(&list.stdout).expect("json");
    let reqs = list.as_array().expect("array");
    assert_eq!(reqs.len(), 1, "{list:#}");
    let id = reqs[0]["id"].as_str().expect("id");
    assert!(err.contains(id), "the ticket is named: {err}");
    assert_eq!(reqs[0]["tier"], "async", "{list:#}");
    // The approver sees the whole action and what it ran.
    assert_eq!(
        reqs[0]["action"]["argv"],
        serde_json::json!(["sh", "deploy.sh"])
    );
    let reasons = reqs[0]["reasons"].to_string();
    assert!(reasons.contains("ran `git push"), "{reasons}");
    let o = serve::approvals_cli(&s.url, &alice, &["approve", id])
        .output()
        .expect("approve");
    assert!(o.status.success(), "{}", stderr(&o));
    let worker = || {
        serve::approvals_cli(&s.url, &agent, &["worker", "--once"])
            .current_dir(&w.ws)
            .env("HOME", w.root.path())
            .env_remove("WARDEN_ORG_POLICY")
            .output()
            .expect("worker")
    };
    let o = worker();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        w.pushed_refs().contains("refs/heads/main"),
        "worker: {}",
        stderr(&o)
    );
    let o = worker();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read_to_string(w.ws.join("pushes.log")).expect("pushes.log"),
        "pushed\n",
        "the push ran exactly once"
    );
    // The worker's run: intent naming the request, nested push proceeding at granted async.
    let records = w.records();
    let intent = records
        .iter()
        .find(|r| r["kind"] == "intent" && r["request_id"] == id)
        .expect("the worker's intent");
    assert!(
        records.iter().any(|r| r["kind"] == "nested"
            && r["intent_seq"] == intent["seq"]
            && r["rule"] == "vcs.git-push"
            && r["answer"] == "proceed"
            && r["granted"] == "async"),
        "{records:#?}"
    );
}

/// A refused nested exec's reason is printed once on `warden run`'s stderr: the supervisor's
/// line (inside the command) passes through, and the list after the command ends names the
/// refusal and points above instead of repeating it. A command that sends its stderr elsewhere
/// hides the supervisor's line, so the closing list gives the full reason. (Before, the reason
/// was printed twice: the supervisor's line and the closing list.)
#[test]
fn a_refused_nested_exec_is_explained_once() {
    let w = ws();
    w.write_unread(
        "deploy.sh",
        "git push origin HEAD:refs/heads/main\necho done\n",
    );
    let out = w.run(&["sh", "deploy.sh"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert_eq!(
        err.matches("needs asynchronous approval").count(),
        1,
        "{err}"
    );
    assert!(err.contains("warden: git refused: "), "{err}");
    let closing = err
        .lines()
        .find(|l| l.starts_with("warden: refused `git push"))
        .unwrap_or_else(|| panic!("no closing line: {err}"));
    assert!(closing.contains("(why: above"), "{closing}");
    // The supervisor's line comes first.
    assert!(err.find("warden: git refused: ") < err.find("warden: refused `git push"));

    // The command hides its stderr: the closing list explains.
    w.write_unread(
        "quiet.sh",
        "git push origin HEAD:refs/heads/main 2>/dev/null\necho done\n",
    );
    let out = w.run(&["sh", "quiet.sh"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(75), "{err}");
    assert!(!err.contains("warden: git refused: "), "{err}");
    assert_eq!(
        err.matches("needs asynchronous approval").count(),
        1,
        "{err}"
    );
    assert!(err.contains("warden: refused `git push"), "{err}");
}
