//! Exec governance through the real sandbox: every program the command runs waits in `execve`
//! for a decider (here a test decider with rules per test); a refused one fails with EACCES and
//! a line on the caller's stderr, a held one delays nothing else, a task killed while held or
//! one rewriting its argv while held is handled without a hang or a wrong answer.

use std::io::Read;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use warden_sandbox::{
    ExecCounts, ExecDecider, ExecEvent, ExecGovernance, ExecVerdict, Output, PRETEND_MISSING_ENV,
    PendingExec, SandboxProfile, SpawnOptions, spawn,
};

type Rule = dyn Fn(&ExecEvent, &PendingExec<'_>) -> ExecVerdict + Send + Sync;

/// Records every event and answers by `rule`.
struct TestDecider {
    seen: Mutex<Vec<ExecEvent>>,
    rule: Box<Rule>,
}

impl ExecDecider for TestDecider {
    fn decide(&self, exec: &ExecEvent, pending: &PendingExec<'_>) -> ExecVerdict {
        self.seen.lock().unwrap().push(exec.clone());
        (self.rule)(exec, pending)
    }
}

fn decider(
    rule: impl Fn(&ExecEvent, &PendingExec<'_>) -> ExecVerdict + Send + Sync + 'static,
) -> Arc<TestDecider> {
    Arc::new(TestDecider {
        seen: Mutex::new(Vec::new()),
        rule: Box::new(rule),
    })
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
    execs: Option<ExecCounts>,
}

fn run(ws: &Path, script: &str, decider: Arc<TestDecider>) -> Ran {
    let env = vec![
        ("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("SECRET_TOKEN".to_owned(), "not-for-the-decider".to_owned()),
    ];
    let p = SandboxProfile::new(
        vec!["sh".into(), "-c".into(), script.into()],
        ws.to_path_buf(),
        "/nonexistent-home".into(),
        env,
    );
    let opts = SpawnOptions {
        output: Output::Piped,
        init_exe: Some(env!("CARGO_BIN_EXE_warden-sandbox-test-init").into()),
        exec: Some(ExecGovernance::new(decider)),
        ..Default::default()
    };
    let mut r = spawn(&p, &opts).expect("spawn");
    let mut so = r.stdout.take().expect("stdout");
    let mut se = r.stderr.take().expect("stderr");
    let t = std::thread::spawn(move || {
        let mut e = String::new();
        se.read_to_string(&mut e).ok();
        e
    });
    let mut stdout = String::new();
    so.read_to_string(&mut stdout).ok();
    let stderr = t.join().expect("join");
    let info = r.wait().expect("wait");
    Ran {
        code: info.shell_code(),
        stdout,
        stderr,
        execs: info.execs,
    }
}

fn skip() -> bool {
    let missing = !warden_sandbox::probe().exec_notify;
    if missing {
        eprintln!("skipped: this kernel has no seccomp user notification");
    }
    missing
}

fn program_name(e: &ExecEvent) -> &str {
    e.path.file_name().and_then(|n| n.to_str()).unwrap_or("")
}

#[test]
fn a_refused_exec_fails_with_eacces_and_says_why_and_others_run() {
    if skip() {
        return;
    }
    let ws = tempfile::tempdir().expect("tempdir");
    let ws_path = ws.path().canonicalize().unwrap();
    std::fs::create_dir(ws_path.join("bin")).unwrap();
    let tool = ws_path.join("bin/deploy-tool");
    std::fs::write(&tool, "#!/bin/sh\necho deployed > \"$PWD/deployed\"\n").unwrap();
    std::fs::set_permissions(&tool, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let d = decider(|e, _| {
        if program_name(e) == "deploy-tool" {
            ExecVerdict::Refuse {
                reason: "deploy-tool needs approval (test rule)".into(),
            }
        } else {
            ExecVerdict::Proceed
        }
    });
    let script =
        "GIT_DIR=/elsewhere ./bin/deploy-tool --now; echo \"status=$?\"; /bin/echo allowed";
    let ran = run(&ws_path, script, d.clone());
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(
        !ws_path.join("deployed").exists(),
        "the refused program ran"
    );
    assert!(ran.stdout.contains("status=126"), "{}", ran.stdout);
    assert!(ran.stdout.contains("allowed"), "{}", ran.stdout);
    assert!(
        ran.stderr
            .contains("warden: ./bin/deploy-tool refused: deploy-tool needs approval (test rule)"),
        "{}",
        ran.stderr
    );
    assert!(ran.stderr.contains("Permission denied"), "{}", ran.stderr);

    let seen = d.seen.lock().unwrap();
    // The command's own exec (`sh -c …`) is the action: never put to the decider.
    assert!(
        !seen
            .iter()
            .any(|e| e.argv.first().is_some_and(|a| a == "sh")),
        "{seen:?}"
    );
    let refused = seen
        .iter()
        .find(|e| program_name(e) == "deploy-tool")
        .expect("the refused exec was decided");
    assert_eq!(refused.path, ws_path.join("bin/deploy-tool"));
    assert_eq!(refused.argv, ["./bin/deploy-tool", "--now"]);
    assert_eq!(refused.cwd, ws_path);
    assert!(
        refused
            .env
            .contains(&("GIT_DIR".to_owned(), "/elsewhere".to_owned())),
        "{:?}",
        refused.env
    );
    assert!(
        refused.env.iter().any(|(k, _)| k == "PATH"),
        "{:?}",
        refused.env
    );
    assert!(
        !refused.env.iter().any(|(k, _)| k == "SECRET_TOKEN"),
        "a variable outside the list reached the decider"
    );
    assert!(!refused.truncated);
    assert!(
        seen.iter()
            .any(|e| e.path == Path::new("/bin/echo") && e.argv == ["/bin/echo", "allowed"]),
        "{seen:?}"
    );
    let counts = ran.execs.expect("exec counts");
    assert_eq!(counts.refused, 1, "{counts:?}");
    assert_eq!(counts.proceeded + counts.refused, counts.decided);
}

#[test]
fn a_held_exec_does_not_delay_another() {
    if skip() {
        return;
    }
    let ws = tempfile::tempdir().expect("tempdir");
    let (free_tx, free_rx) = std::sync::mpsc::channel::<()>();
    let free_rx = Mutex::new(free_rx);
    let free_tx = Mutex::new(free_tx);
    let released_by = Arc::new(Mutex::new(None));
    let r = released_by.clone();
    let d = decider(move |e, _| {
        match e.argv.get(1).map(String::as_str) {
            Some("held") => {
                // Hold until the other exec has been decided (or give up after 20 s, which
                // the test then reports).
                let got = free_rx
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(20));
                *r.lock().unwrap() = Some(if got.is_ok() { "free" } else { "timeout" });
            }
            Some("free") => {
                let _ = free_tx.lock().unwrap().send(());
            }
            _ => {}
        }
        ExecVerdict::Proceed
    });
    let ran = run(
        ws.path(),
        "/bin/echo held & /bin/sleep 0.2; /bin/echo free; wait",
        d,
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(*released_by.lock().unwrap(), Some("free"));
    // Both ran (in either order: the held one is released while the free one is answered).
    let mut lines: Vec<&str> = ran.stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["free", "held"]);
}

/// Three execs held at once (each hold hands receiving on to the standby, and a new standby is
/// started for the next exec while the replaced thread is still held) delay neither each other
/// nor the exec that releases them, nor the execs after.
#[test]
fn several_held_execs_at_once_delay_no_other() {
    if skip() {
        return;
    }
    let ws = tempfile::tempdir().expect("tempdir");
    let (free_tx, free_rx) = std::sync::mpsc::channel::<()>();
    let free_rx = Mutex::new(free_rx);
    let free_tx = Mutex::new(free_tx);
    let released = Arc::new(Mutex::new(Vec::new()));
    let r = released.clone();
    let d = decider(move |e, _| {
        match e.argv.get(1).map(String::as_str) {
            Some(h) if h.starts_with("held") => {
                // Each held exec waits for its own token from the free one (at most 20 s).
                let got = free_rx
                    .lock()
                    .unwrap()
                    .recv_timeout(Duration::from_secs(20));
                r.lock()
                    .unwrap()
                    .push(if got.is_ok() { "free" } else { "timeout" });
            }
            Some("free") => {
                for _ in 0..3 {
                    let _ = free_tx.lock().unwrap().send(());
                }
            }
            _ => {}
        }
        ExecVerdict::Proceed
    });
    let t0 = Instant::now();
    let ran = run(
        ws.path(),
        "/bin/echo held1 & /bin/echo held2 & /bin/echo held3 & /bin/sleep 0.3; /bin/echo free; \
         wait; i=0; while [ $i -lt 50 ]; do /bin/true; i=$((i+1)); done; /bin/echo after",
        d,
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(*released.lock().unwrap(), ["free", "free", "free"]);
    let mut lines: Vec<&str> = ran.stdout.lines().collect();
    lines.sort_unstable();
    assert_eq!(lines, ["after", "free", "held1", "held2", "held3"]);
    assert!(t0.elapsed() < Duration::from_secs(15), "{:?}", t0.elapsed());
    assert_eq!(ran.execs.expect("counts").proceeded, 4 + 1 + 50 + 1);
}

#[test]
fn slow_decisions_in_parallel_reuse_the_supervisors_threads() {
    // Every decision outlasts the handoff (5 ms), and three loops exec at once, so the standby
    // takes over all the time while the thread it replaced is still deciding. Each takeover
    // used to start a thread (and end one): a build whose decisions the compilers around them
    // slow down started dozens, each a new stack and malloc arena.
    if skip() {
        return;
    }
    let ws = tempfile::tempdir().expect("tempdir");
    let d = decider(|_, _| {
        std::thread::sleep(Duration::from_millis(8));
        ExecVerdict::Proceed
    });
    let ran = run(
        ws.path(),
        "loop() { i=0; while [ $i -lt 40 ]; do /bin/true; i=$((i+1)); done; }; \
         loop & loop & loop; wait; /bin/echo done",
        d,
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout.trim(), "done");
    let counts = ran.execs.expect("counts");
    assert_eq!(counts.proceeded, 3 * 40 + 1, "{counts:?}");
    // The standby, and a few more while three execs were decided at once.
    assert!(counts.threads_started <= 6, "{counts:?}");
}

#[test]
fn a_task_killed_while_its_exec_is_held_hangs_nothing() {
    if skip() {
        return;
    }
    let ws = tempfile::tempdir().expect("tempdir");
    let noticed = Arc::new(Mutex::new(None));
    let n = noticed.clone();
    let d = decider(move |e, pending| {
        if e.argv.get(1).map(String::as_str) == Some("1000") {
            let start = Instant::now();
            while pending.still_waiting() && start.elapsed() < Duration::from_secs(20) {
                std::thread::sleep(Duration::from_millis(20));
            }
            *n.lock().unwrap() = Some(!pending.still_waiting());
            return ExecVerdict::Refuse {
                reason: "too late".into(),
            };
        }
        ExecVerdict::Proceed
    });
    let start = Instant::now();
    let ran = run(
        ws.path(),
        "/bin/sleep 1000 & p=$!; /bin/sleep 0.3; kill -9 $p; wait $p; echo \"killed=$?\"; /bin/echo after",
        d,
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout, "killed=137\nafter\n");
    assert!(start.elapsed() < Duration::from_secs(15));
    // The sandbox's end does not wait for a decision still held for a dead task: the decider
    // notices on its own ([`PendingExec::still_waiting`]).
    let waited = Instant::now();
    while noticed.lock().unwrap().is_none() && waited.elapsed() < Duration::from_secs(5) {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        *noticed.lock().unwrap(),
        Some(true),
        "the decider saw the task go"
    );
    assert!(!ran.stderr.contains("too late"), "{}", ran.stderr);
}

/// A second thread rewrites argv while the exec is held. Without the second read after the
/// decision, `/bin/echo` would run with the rewritten argument the decider never saw.
#[test]
fn argv_rewritten_while_the_exec_is_held_is_refused() {
    if skip() || !Path::new("/usr/bin/python3").exists() {
        return;
    }
    let ws = tempfile::tempdir().expect("tempdir");
    let script = r#"
import ctypes, threading, time, sys
libc = ctypes.CDLL(None, use_errno=True)
prog = ctypes.create_string_buffer(b"/bin/echo")
arg = ctypes.create_string_buffer(b"harmless", 32)
argv = (ctypes.c_void_p * 3)(ctypes.addressof(prog), ctypes.addressof(arg), None)
envp = (ctypes.c_void_p * 1)(None)
def rewrite():
    time.sleep(0.5)
    ctypes.memmove(arg, b"rewritten\0", 10)
threading.Thread(target=rewrite, daemon=True).start()
libc.execve(prog, argv, envp)
print("execve failed, errno", ctypes.get_errno())
sys.exit(3)
"#;
    std::fs::write(ws.path().join("rewrite.py"), script).unwrap();
    let d = decider(|e, _| {
        if e.argv == ["/bin/echo", "harmless"] {
            std::thread::sleep(Duration::from_millis(1500));
        }
        ExecVerdict::Proceed
    });
    let ran = run(ws.path(), "/usr/bin/python3 rewrite.py", d.clone());
    assert!(!ran.stdout.contains("rewritten"), "{}", ran.stdout);
    assert_eq!(ran.code, 3, "{} {}", ran.stdout, ran.stderr);
    assert!(
        ran.stdout
            .contains(&format!("execve failed, errno {}", libc::EACCES)),
        "{}",
        ran.stdout
    );
    assert!(
        ran.stderr.contains("changed while it was being decided"),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.execs.expect("counts").changed, 1);
}

/// A build-like burst: many short execs in a row, all proceeding, all decided once.
#[test]
fn hundreds_of_execs_all_run() {
    if skip() {
        return;
    }
    let ws = tempfile::tempdir().expect("tempdir");
    let d = decider(|_, _| ExecVerdict::Proceed);
    let ran = run(
        ws.path(),
        "i=0; while [ $i -lt 300 ]; do /bin/true || exit 9; i=$((i+1)); done; echo done",
        d.clone(),
    );
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert_eq!(ran.stdout, "done\n");
    let counts = ran.execs.expect("counts");
    assert_eq!(counts.decided, 300, "{counts:?}");
    assert_eq!(counts.proceeded, 300, "{counts:?}");
}

/// The shipped list of variables the decider sees: parses, names the variables that change what
/// git, shells and the dynamic loader run, and leaves out secrets.
#[test]
fn the_shipped_environment_list_covers_code_running_variables() {
    let list = warden_sandbox::builtin_exec_env();
    let covers = |name: &str| {
        list.iter()
            .any(|p| warden_sandbox::env_name_matches(p, name))
    };
    for name in [
        "GIT_DIR",
        "GIT_SSH_COMMAND",
        "GIT_CONFIG_PARAMETERS",
        "PAGER",
        "GIT_PAGER",
        "LD_PRELOAD",
        "BASH_ENV",
        "NODE_OPTIONS",
        "PATH",
        "npm_lifecycle_event",
        "TF_CLI_ARGS_apply",
    ] {
        assert!(covers(name), "{name} is missing from policy/exec-env.txt");
    }
    for name in [
        "AWS_SECRET_ACCESS_KEY",
        "GITHUB_TOKEN",
        "HOME",
        "SECRET_TOKEN",
    ] {
        assert!(!covers(name), "{name} must not reach the decider");
    }
    assert!(warden_sandbox::EXEC_ENV_OF_INTEREST.contains("Version 1"));
}

/// A kernel without seccomp user notification, pretended through the probe's (process-wide)
/// test hook in a child process running this test alone: a spawn that asks for exec governance
/// is refused with a clear reason, and runs ungoverned only in degraded mode, noted.
#[test]
fn without_user_notification_exec_governance_is_refused_unless_degraded() {
    if std::env::var_os(PRETEND_MISSING_ENV).is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "without_user_notification_exec_governance_is_refused_unless_degraded",
                "--nocapture",
            ])
            .env(PRETEND_MISSING_ENV, "exec_notify")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(text.contains("1 passed"), "{text}");
        return;
    }
    assert!(!warden_sandbox::probe().exec_notify);
    let ws = tempfile::tempdir().expect("tempdir");
    let profile = SandboxProfile::new(
        vec!["sh".into(), "-c".into(), "/bin/true && echo ran".into()],
        ws.path().to_path_buf(),
        "/nonexistent-home".into(),
        vec![("PATH".into(), "/usr/bin:/bin".into())],
    );
    let opts = SpawnOptions {
        output: Output::Piped,
        init_exe: Some(env!("CARGO_BIN_EXE_warden-sandbox-test-init").into()),
        exec: Some(ExecGovernance::new(decider(|_, _| ExecVerdict::Refuse {
            reason: "refused".into(),
        }))),
        ..Default::default()
    };
    match spawn(&profile, &opts) {
        Err(warden_sandbox::SandboxError::Degraded(why)) => assert!(
            why.iter().any(|w| w.contains("seccomp user notification")),
            "{why:?}"
        ),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let degraded = SpawnOptions {
        allow_degraded: true,
        ..opts
    };
    let mut r = spawn(&profile, &degraded).expect("degraded spawn");
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("not enforced: seccomp user notification")),
        "{:?}",
        r.notes
    );
    let mut out = String::new();
    std::io::Read::read_to_string(&mut r.stdout.take().unwrap(), &mut out).unwrap();
    let info = r.wait().expect("wait");
    assert_eq!(info.code, Some(0));
    assert_eq!(out, "ran\n", "ungoverned: the decider was not asked");
    assert_eq!(info.execs, None);
}

/// A long command line (5,000 arguments of 100 bytes, several reading rounds) reaches the
/// decider whole; a decider that panics refuses the exec instead of leaving it waiting.
#[test]
fn long_argv_is_read_whole_and_a_panicking_decider_refuses() {
    if skip() {
        return;
    }
    let ws = tempfile::tempdir().expect("tempdir");
    let d = decider(|e, _| {
        if program_name(e) == "false" {
            panic!("test decider panics on purpose");
        }
        ExecVerdict::Proceed
    });
    let script =
        "set -- $(seq -f '%0100g' 1 5000); /bin/echo \"$@\" | wc -c; /bin/false; echo \"false=$?\"";
    let ran = run(ws.path(), script, d.clone());
    assert_eq!(ran.code, 0, "{}", ran.stderr);
    assert!(ran.stdout.contains("false=126"), "{}", ran.stdout);
    assert!(
        ran.stderr.contains("refused: the exec decider failed"),
        "{}",
        ran.stderr
    );
    let seen = d.seen.lock().unwrap();
    let echo = seen
        .iter()
        .find(|e| program_name(e) == "echo")
        .expect("echo decided");
    assert!(!echo.truncated);
    assert_eq!(echo.argv.len(), 5001);
    assert!(echo.argv[1..].iter().all(|a| a.len() == 100));
    assert_eq!(echo.argv[5000], format!("{:0100}", 5000));
}

/// Real programs that run `git push` (and a stand-in `terraform apply`) behind a harmless-looking
/// command: a shell script, a Makefile recipe, an npm `posttest` script, Python's
/// `subprocess.run` and Node's `execSync`. The decider refuses pushes and terraform; every route
/// reaches it, the ref never appears in the bare repository inside the workspace and the
/// terraform marker is never written, while the harmless parts run.
#[test]
fn git_push_is_caught_whichever_program_runs_it() {
    if skip() {
        return;
    }
    let git = |dir: &Path, args: &[&str]| {
        let o = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("HOME", dir)
            .output()
            .expect("git");
        assert!(
            o.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    let ws = tempfile::tempdir().expect("tempdir");
    let root = ws.path().canonicalize().unwrap();
    git(&root, &["init", "-q", "--bare", "remote.git"]);
    git(&root, &["init", "-q", "-b", "main", "app"]);
    let app = root.join("app");
    std::fs::write(app.join("README"), "x\n").unwrap();
    git(&app, &["add", "README"]);
    git(
        &app,
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.invalid",
            "commit",
            "-qm",
            "init",
        ],
    );
    git(
        &app,
        &[
            "remote",
            "add",
            "origin",
            root.join("remote.git").to_str().unwrap(),
        ],
    );
    std::fs::write(
        app.join("deploy.sh"),
        "#!/bin/sh\necho building\ngit push origin main\n",
    )
    .unwrap();
    std::fs::write(
        app.join("Makefile"),
        "release:\n\t@echo made\n\tgit push origin main\n",
    )
    .unwrap();
    std::fs::write(
        app.join("package.json"),
        r#"{"name":"app","version":"1.0.0","scripts":{"test":"echo tested","posttest":"git push origin main"}}"#,
    )
    .unwrap();
    std::fs::create_dir(app.join("bin")).unwrap();
    std::fs::write(
        app.join("bin/terraform"),
        "#!/bin/sh\ntouch \"$(dirname \"$0\")/../terraform-applied\"\n",
    )
    .unwrap();
    std::fs::set_permissions(
        app.join("bin/terraform"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap();

    let d = decider(|e, _| {
        let program = program_name(e);
        let push = program == "git" && e.argv.iter().any(|a| a == "push");
        if push || program == "terraform" {
            ExecVerdict::Refuse {
                reason: format!("`{}` needs approval (test rule)", e.argv.join(" ")),
            }
        } else {
            ExecVerdict::Proceed
        }
    });
    let routes = [
        ("shell script", "sh ./deploy.sh"),
        ("Makefile recipe", "make release"),
        (
            "npm posttest",
            "npm_config_cache=$PWD/.npm-cache npm test --no-update-notifier --no-fund",
        ),
        (
            "Python subprocess.run",
            "python3 -c 'import subprocess; subprocess.run([\"git\", \"push\", \"origin\", \"main\"])'",
        ),
        (
            "Node execSync",
            "node -e 'try { require(\"child_process\").execSync(\"git push origin main\", {stdio: \"inherit\"}) } catch (e) {}'",
        ),
        (
            "terraform on PATH",
            "PATH=$PWD/bin:$PATH; terraform apply -auto-approve",
        ),
    ];
    for (what, command) in routes {
        if command.starts_with("npm") && which("npm").is_none()
            || command.starts_with("node") && which("node").is_none()
            || command.starts_with("make") && which("make").is_none()
        {
            eprintln!("{what}: skipped (tool not installed)");
            continue;
        }
        let ran = run(
            &root,
            &format!("cd app && {command}; echo \"done=$?\""),
            d.clone(),
        );
        eprintln!("--- {what}:\n{}{}", ran.stdout, ran.stderr);
        assert!(
            ran.stdout.contains("done="),
            "{what}: {} {}",
            ran.stdout,
            ran.stderr
        );
        // One refusal, one line: the next `PATH` entries are not asked again.
        assert_eq!(
            ran.stderr.matches("refused: `").count(),
            1,
            "{what}: {}",
            ran.stderr
        );
        let pushed = std::process::Command::new("git")
            .args([
                "--git-dir",
                root.join("remote.git").to_str().unwrap(),
                "rev-parse",
                "--verify",
                "-q",
                "refs/heads/main",
            ])
            .output()
            .unwrap();
        assert!(!pushed.status.success(), "{what}: the push went through");
        assert!(
            !app.join("terraform-applied").exists(),
            "{what}: terraform ran"
        );
    }
    // The harmless parts ran: the script's echo, the recipe's echo, the npm test script.
    let seen = d.seen.lock().unwrap();
    let pushes = seen
        .iter()
        .filter(|e| program_name(e) == "git" && e.argv.iter().any(|a| a == "push"))
        .count();
    assert_eq!(pushes, 5, "one decision per route");
    assert!(seen.iter().any(|e| program_name(e) == "terraform"));
}

fn which(tool: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(tool))
            .find(|f| f.is_file())
    })
}

/// A program that is not there fails as it would without governance (`PATH` misses included),
/// without a decision: nothing to decide, and no window for the file to appear in between.
#[test]
fn an_absent_program_fails_with_enoent_unasked() {
    if skip() {
        return;
    }
    let ws = tempfile::tempdir().expect("tempdir");
    let d = decider(|_, _| ExecVerdict::Proceed);
    let ran = run(
        ws.path(),
        "/nonexistent/prog; echo \"abs=$?\"; no-such-program-here; echo \"path=$?\"; true",
        d.clone(),
    );
    assert!(ran.stdout.contains("abs=127"), "{}", ran.stdout);
    assert!(ran.stdout.contains("path=127"), "{}", ran.stdout);
    assert!(
        d.seen.lock().unwrap().is_empty(),
        "{:?}",
        d.seen.lock().unwrap()
    );
    let counts = ran.execs.expect("counts");
    assert!(counts.absent >= 1, "{counts:?}");
}

/// `fexecve` of a memfd (`execveat(fd, "", AT_EMPTY_PATH)`, no path anywhere) reaches the
/// decider as an `execveat` of what the descriptor names, and runs when it proceeds.
#[test]
fn fexecve_of_a_memfd_is_decided() {
    if skip() || !Path::new("/usr/bin/python3").exists() {
        return;
    }
    let ws = tempfile::tempdir().expect("tempdir");
    let d = decider(|_, _| ExecVerdict::Proceed);
    let script = "/usr/bin/python3 -c 'import os; fd = os.memfd_create(\"tool\"); \
                  os.write(fd, open(\"/bin/echo\", \"rb\").read()); \
                  os.execve(fd, [\"echo\", \"memfd-ran\"], {})'";
    let ran = run(ws.path(), script, d.clone());
    assert_eq!(ran.stdout, "memfd-ran\n", "{}", ran.stderr);
    let seen = d.seen.lock().unwrap();
    let e = seen
        .iter()
        .find(|e| e.argv == ["echo", "memfd-ran"])
        .expect("decided");
    assert_eq!(e.syscall, warden_sandbox::ExecSyscall::Execveat);
    assert!(
        e.path.to_string_lossy().starts_with("/memfd:tool"),
        "{}",
        e.path.display()
    );
}
