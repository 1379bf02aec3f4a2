//! Nested decisions against the built-in policy, a real audit log and approvers that answer as
//! a person would (a held exec must not stop other decisions).

use super::*;
use std::sync::mpsc;
use std::time::Duration;
use warden_audit::{Entry, Record};

/// An approver whose answers a test gives through a channel, standing in for a person.
struct Person {
    asked: std::sync::Mutex<mpsc::Sender<String>>,
    answers: std::sync::Mutex<mpsc::Receiver<ApprovalAnswer>>,
}

impl Approver for Person {
    fn request(&self, req: &ApprovalRequest<'_>) -> std::result::Result<Answered, String> {
        let _ = self.asked.lock().unwrap().send(req.action_text.to_owned());
        let answer = self
            .answers
            .lock()
            .unwrap()
            .recv()
            .map_err(|e| e.to_string())?;
        Ok(answer.into())
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    gov: Arc<Governor>,
    running: RunningAction,
}

fn setup(approver: Arc<dyn Approver>) -> Setup {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let ws = dir.path().canonicalize().unwrap();
    let policy = Arc::new(Policy::builtin());
    let ctx = Context {
        workspace: ws.clone(),
        cwd: ws.clone(),
        home: ws.join("home"),
        sandboxed: true,
    };
    let recorder = Recorder::open(&ws, &policy).unwrap();
    let gov = Arc::new(Governor::new(
        policy,
        ctx,
        recorder,
        approver,
        Settings {
            allow_degraded: false,
            output: OutputMode::Capture { limit: 1 << 16 },
        },
    ));
    let req = ActionRequest::new(Action::Exec {
        argv: vec!["make".into(), "test".into()],
        cwd: None,
    });
    let Clearance::Cleared(running) = gov.clear(&req).unwrap() else {
        panic!("`make test` is auto in the built-in policy");
    };
    assert_eq!(running.granted, Tier::Auto);
    Setup {
        _dir: dir,
        gov,
        running,
    }
}

fn exec(argv: &[&str]) -> Action {
    Action::Exec {
        argv: argv.iter().map(|s| (*s).to_owned()).collect(),
        cwd: None,
    }
}

fn nested_records(gov: &Governor) -> Vec<(u64, warden_audit::Nested)> {
    warden_audit::read_entries(gov.recorder().log_path())
        .unwrap()
        .into_iter()
        .filter_map(|e: Entry| match e.record {
            Record::Nested(n) => Some((e.seq, n)),
            _ => None,
        })
        .collect()
}

#[test]
fn nested_operations_are_judged_against_the_granted_tier_and_recorded_as_children() {
    let s = setup(Arc::new(UnattendedApprover));
    let ok = s
        .gov
        .nested(&s.running, NestedLayer::Exec, &exec(&["cc", "-c", "a.c"]))
        .unwrap();
    assert_eq!(ok.answer, NestedAnswer::Proceed);
    let push = s
        .gov
        .nested(
            &s.running,
            NestedLayer::Exec,
            &exec(&["git", "push", "origin", "main"]),
        )
        .unwrap();
    assert_eq!(push.answer, NestedAnswer::Refuse, "{push:?}");
    assert!(push.reason.contains("git push"), "{}", push.reason);
    let rm = s
        .gov
        .nested(&s.running, NestedLayer::Exec, &exec(&["rm", "-rf", "/"]))
        .unwrap();
    assert_eq!(rm.answer, NestedAnswer::Deny);
    // Sync with nobody to ask: held, then denied; both durable records.
    let cred = s
        .gov
        .nested(&s.running, NestedLayer::Exec, &exec(&["cat", ".env"]))
        .unwrap();
    assert_eq!(cred.answer, NestedAnswer::Deny);

    let recs = nested_records(&s.gov);
    let answers: Vec<_> = recs.iter().map(|(_, n)| n.answer).collect();
    assert_eq!(
        answers,
        [
            NestedAnswer::Proceed,
            NestedAnswer::Refuse,
            NestedAnswer::Deny,
            NestedAnswer::Hold,
            NestedAnswer::Deny
        ]
    );
    for (_, n) in &recs {
        assert_eq!(n.intent, s.running.intent, "child of the action's intent");
        assert_eq!(n.granted, Tier::Auto);
        assert_eq!(n.layer, NestedLayer::Exec);
    }
    assert_eq!(
        recs[4].1.held,
        Some(recs[3].0),
        "the hold's end names the hold"
    );
    assert_eq!(cred.record, recs[4].0);
}

#[test]
fn a_held_operation_waits_for_a_person_without_stopping_other_decisions() {
    let (asked_tx, asked) = mpsc::channel();
    let (answer, answers) = mpsc::channel();
    let s = setup(Arc::new(Person {
        asked: std::sync::Mutex::new(asked_tx),
        answers: std::sync::Mutex::new(answers),
    }));
    let hold = {
        let gov = Arc::clone(&s.gov);
        let running = s.running.clone();
        std::thread::spawn(move || gov.nested(&running, NestedLayer::Exec, &exec(&["cat", ".env"])))
    };
    let text = asked.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(text.contains("cat .env"), "{text}");
    // While a person has not answered, other operations are decided at once.
    for _ in 0..20 {
        let v = s
            .gov
            .nested(&s.running, NestedLayer::Exec, &exec(&["ls"]))
            .unwrap();
        assert_eq!(v.answer, NestedAnswer::Proceed);
    }
    assert!(!hold.is_finished(), "the hold waits for its answer");
    // The hold is durable before anyone is asked.
    assert!(
        nested_records(&s.gov)
            .iter()
            .any(|(_, n)| n.answer == NestedAnswer::Hold)
    );
    answer
        .send(ApprovalAnswer::Granted { by: "alice".into() })
        .unwrap();
    let v = hold.join().unwrap().unwrap();
    assert_eq!(v.answer, NestedAnswer::Proceed);
    let last = nested_records(&s.gov)
        .into_iter()
        .rfind(|(_, n)| n.held.is_some())
        .unwrap();
    assert_eq!(last.1.by.as_deref(), Some("alice"));
    assert_eq!(last.1.answer, NestedAnswer::Proceed);
}

#[test]
fn the_governor_is_shareable_across_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<Governor>();
    shareable::<RunningAction>();
}

/// The proxy's judge: a request carrying a brokered credential whose tier is above the granted
/// tier is refused even when the request itself is `auto` (a GET), and the record says why; the
/// same GET without the credential proceeds. A request judged `async` is refused with 403's
/// reason and a filed re-run request.
#[test]
fn a_request_carrying_a_credential_above_the_granted_tier_is_refused() {
    use warden_proxy::{Handling, Judge, Judgement, NetRequest, Protocol};
    let s = setup(Arc::new(UnattendedApprover));
    let gate = nested_exec::NestedGate::new((*s.gov).clone(), Vec::new());
    gate.set_running(s.running.clone());
    let request = |method: &str, tier: Option<Tier>| NetRequest {
        protocol: Protocol::Http,
        handling: Handling::Plain,
        host: "api.example.invalid".into(),
        port: 443,
        method: Some(method.into()),
        path: Some("/repos".into()),
        service: None,
        credentials: tier.map(|_| vec!["forge-token".into()]).unwrap_or_default(),
        credential_tier: tier,
    };
    let judge = |r: &NetRequest| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(gate.judge(r))
    };
    assert!(matches!(
        judge(&request("GET", None)),
        Judgement::Proceed { .. }
    ));
    match judge(&request("GET", Some(Tier::Async))) {
        Judgement::Refuse { tier, reason, .. } => {
            assert_eq!(tier, Some(Tier::Async));
            assert!(reason.contains("forge-token"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    match judge(&request("POST", None)) {
        Judgement::Refuse { tier, reason, .. } => {
            assert_eq!(tier, Some(Tier::Async));
            assert!(reason.starts_with("warden: refused"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let records = nested_records(&s.gov);
    let answers: Vec<_> = records
        .iter()
        .map(|(_, n)| (n.layer, n.answer, n.tier))
        .collect();
    assert_eq!(
        answers,
        [
            (NestedLayer::Net, NestedAnswer::Proceed, Tier::Auto),
            (NestedLayer::Net, NestedAnswer::Refuse, Tier::Async),
            (NestedLayer::Net, NestedAnswer::Refuse, Tier::Async),
        ]
    );
    assert!(records[1].1.reasons[0].contains("forge-token"));
    assert_eq!(gate.refused().len(), 2);
}

/// `[audit] nested = "buffered"`: a nested exec that proceeds at the granted tier is only
/// written (durable soon after, by the background flush); a refused, denied or held one is
/// durable before its answer, and makes the buffered ones before it durable with it.
#[test]
fn buffered_nested_records_never_buffer_an_escalated_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join(".git")).unwrap();
    let ws = dir.path().canonicalize().unwrap();
    let policy = Policy::load(&[
        warden_policy::PolicySource::builtin(),
        warden_policy::PolicySource {
            name: "repo".into(),
            text: "[audit]\nnested = \"buffered\"\n".into(),
            layer: warden_policy::Layer::Repository,
        },
    ])
    .unwrap();
    assert!(
        policy
            .lint_warnings()
            .iter()
            .any(|w| w.contains("`audit.nested` is `buffered`"))
    );
    let policy = Arc::new(policy);
    let ctx = Context {
        workspace: ws.clone(),
        cwd: ws.clone(),
        home: ws.join("home"),
        sandboxed: true,
    };
    let recorder = Recorder::open(&ws, &policy).unwrap();
    let gov = Governor::new(
        policy,
        ctx,
        recorder,
        Arc::new(UnattendedApprover),
        Settings {
            allow_degraded: false,
            output: OutputMode::Capture { limit: 1 << 16 },
        },
    );
    let req = ActionRequest::new(exec(&["make", "test"]));
    let Clearance::Cleared(running) = gov.clear(&req).unwrap() else {
        panic!("`make test` is auto");
    };
    let log = gov.recorder().log();
    let records = |log: &warden_audit::AuditLog| log.commit_stats().1;
    let durable_before = records(log);
    for _ in 0..5 {
        let v = gov
            .nested(&running, NestedLayer::Exec, &exec(&["cc", "-c", "a.c"]))
            .unwrap();
        assert_eq!(v.answer, NestedAnswer::Proceed);
    }
    // Escalated: durable on return, together with the five written before it (and the intent).
    let push = gov
        .nested(
            &running,
            NestedLayer::Exec,
            &exec(&["git", "push", "origin", "main"]),
        )
        .unwrap();
    assert_eq!(push.answer, NestedAnswer::Refuse);
    assert!(
        records(log) >= durable_before + 6,
        "{:?}",
        log.commit_stats()
    );
    let after_refusal = records(log);
    let held = gov
        .nested(&running, NestedLayer::Exec, &exec(&["cat", ".env"]))
        .unwrap();
    assert_eq!(held.answer, NestedAnswer::Deny);
    assert_eq!(
        records(log),
        after_refusal + 2,
        "the hold and its end, each durable"
    );
    // A proceeding one alone becomes durable through the background flush.
    gov.nested(&running, NestedLayer::Exec, &exec(&["ls"]))
        .unwrap();
    let t0 = std::time::Instant::now();
    while records(log) < after_refusal + 3 {
        assert!(t0.elapsed() < Duration::from_secs(20), "never flushed");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A library preload that the action's programs set (a script's `export LD_PRELOAD=…`) raises
/// the exec to the tier the same assignment typed before the command gets; one the command
/// started with unchanged raises nothing, nor does a variable naming a command (that command is
/// judged when it is exec'd).
#[test]
fn a_library_an_exec_environment_preloads_is_judged_as_if_typed() {
    let s = setup(Arc::new(UnattendedApprover));
    let ws = s.running.context.workspace.clone();
    let exec = |env: &[(&str, &str)]| warden_sandbox::ExecEvent {
        pid: 1,
        syscall: warden_sandbox::ExecSyscall::Execve,
        path: "/usr/bin/ls".into(),
        argv: vec!["ls".into()],
        cwd: ws.clone(),
        env: env
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        truncated: false,
    };
    let preload = [("LD_PRELOAD", "./hook.so"), ("PATH", "/usr/bin")];
    let gate = nested_exec::NestedGate::new((*s.gov).clone(), Vec::new());
    gate.set_running(s.running.clone());
    let (tier, why) = gate
        .environment_floor(&exec(&preload))
        .expect("LD_PRELOAD set by the action's programs is judged");
    assert_eq!(tier, Tier::Sync, "{why}");
    assert!(why.contains("LD_PRELOAD"), "{why}");
    assert!(!why.contains("PATH"), "only the preload: {why}");
    let (tier, _) = gate
        .environment_floor(&exec(&[("LD_AUDIT", "/tmp/a.so")]))
        .expect("LD_AUDIT too");
    assert_eq!(tier, Tier::Sync);
    assert_eq!(
        gate.environment_floor(&exec(&[("PAGER", "git push origin main")])),
        None
    );
    assert_eq!(gate.environment_floor(&exec(&[("PATH", "/bin")])), None);
    assert_eq!(gate.environment_floor(&exec(&[("LD_PRELOAD", "")])), None);
    // A hook manager's switch counts with the command it is set for: `git commit`, not `ls`.
    let commit = warden_sandbox::ExecEvent {
        path: "/usr/bin/git".into(),
        argv: vec!["git".into(), "commit".into(), "-m".into(), "wip".into()],
        ..exec(&[("HUSKY", "0")])
    };
    let (tier, why) = gate
        .environment_floor(&commit)
        .expect("HUSKY=0 set for a commit by the action's programs is judged");
    assert_eq!(tier, Tier::Sync, "{why}");
    assert!(why.contains("HUSKY"), "{why}");
    assert_eq!(gate.environment_floor(&exec(&[("HUSKY", "0")])), None);
    // The supervisor reads the variables the governance file's rules name (`any_env`).
    let read = gate.exec_governance().env_of_interest;
    for name in ["HUSKY", "LEFTHOOK", "SKIP", "LD_PRELOAD"] {
        assert!(read.iter().any(|p| p == name), "{name} not read: {read:?}");
    }
    // The same value the command started with was cleared with the action …
    let started = nested_exec::NestedGate::new(
        (*s.gov).clone(),
        vec![("LD_PRELOAD".into(), "./hook.so".into())],
    );
    started.set_running(s.running.clone());
    assert_eq!(started.environment_floor(&exec(&preload)), None);
    // … but not another value of it.
    assert!(
        started
            .environment_floor(&exec(&[("LD_PRELOAD", "./other.so")]))
            .is_some()
    );
}

/// The sandbox's list of code-running configuration and the default policy agree: writing any
/// entry is at least `sync`, so what the sandbox keeps read-only at run time is what a typed
/// write of it is asked about (the two lists cannot drift apart unnoticed).
#[test]
fn every_code_config_entry_the_sandbox_protects_is_sync_to_write() {
    let policy = Policy::builtin();
    let ctx = Context {
        workspace: "/work/ws".into(),
        cwd: "/work/ws".into(),
        home: "/home/dev".into(),
        sandboxed: true,
    };
    // A home inside the workspace (a dotfiles repository at `~`).
    let dotfiles = Context {
        workspace: "/home/dev".into(),
        cwd: "/home/dev".into(),
        ..ctx.clone()
    };
    for entry in warden_sandbox::builtin_code_config() {
        let rel = match entry.strip_suffix('/') {
            Some(dir) => format!("{dir}/settings.json"),
            None => entry.clone(),
        };
        let tier = |path: String, ctx: &Context| {
            let d = policy.classify(&Action::Write { path: path.into() }, ctx);
            (d.tier, d.rule)
        };
        match rel.strip_prefix("~/") {
            // The home's start-up files: `async` like any write outside the workspace (agents'
            // configuration `sync`), also when the workspace holds the home.
            Some(home_rel) => {
                for c in [&ctx, &dotfiles] {
                    let (t, rule) = tier(format!("/home/dev/{home_rel}"), c);
                    assert!(t >= Tier::Async, "{rel} in {:?}: {t} ({rule})", c.workspace);
                }
            }
            None => {
                let (t, rule) = tier(format!("/work/ws/{rel}"), &ctx);
                assert!(t >= Tier::Sync, "{rel}: {t} ({rule})");
            }
        }
    }
}

/// The sandbox's secret lists and the default policy agree: reading anything the sandbox masks
/// (its built-in secret paths, the workspace's secret files) is at least `sync`, inside the
/// sandbox and outside it, where nothing masks them (the lists cannot drift apart unnoticed).
#[test]
fn every_secret_the_sandbox_masks_is_sync_to_read() {
    let policy = Policy::builtin();
    let sandboxed = Context {
        workspace: "/work/ws".into(),
        cwd: "/work/ws".into(),
        home: "/home/dev".into(),
        sandboxed: true,
    };
    let outside = Context {
        sandboxed: false,
        ..sandboxed.clone()
    };
    let check = |path: String| {
        for ctx in [&sandboxed, &outside] {
            let d = policy.classify(
                &Action::Read {
                    path: path.clone().into(),
                    recursive: false,
                },
                ctx,
            );
            assert!(
                d.tier >= Tier::Sync,
                "{path} (sandboxed: {}): {} ({})",
                ctx.sandboxed,
                d.tier,
                d.rule
            );
        }
    };
    for entry in warden_sandbox::BUILTIN_SECRET_PATHS {
        // Warden's own directories are masked whole; of what they hold, the signing key is a
        // secret (the rest is state: anchors, caches).
        if entry.contains("warden") {
            continue;
        }
        let path = entry.replace('*', "_x");
        check(match path.strip_prefix("~/") {
            Some(rel) => format!("/home/dev/{rel}"),
            None => path,
        });
    }
    check("/home/dev/.config/warden/audit.key".into());
    for name in warden_sandbox::WorkspaceSecrets::builtin().mask {
        let name = name.replace('*', "x");
        check(format!("/work/ws/{name}"));
        check(format!("/work/ws/deploy/{name}"));
    }
}

/// A cleared decision that writes an entry of the code-running configuration leaves exactly
/// that entry writable for its run; one that writes none, or one above the granted tier, leaves
/// the list as it was.
#[test]
fn a_granted_write_of_code_config_opens_that_entry_alone() {
    let dir = tempfile::tempdir().unwrap();
    let ws = dir.path().canonicalize().unwrap();
    let policy = Policy::builtin();
    let ctx = Context {
        workspace: ws.clone(),
        cwd: ws.clone(),
        home: ws.join("home"),
        sandboxed: true,
    };
    let list = |shell: &str, granted: Tier| {
        let d = policy.classify(
            &Action::Shell {
                script: shell.into(),
                cwd: None,
            },
            &ctx,
        );
        let mut p = execute::profile_for(&policy, &ctx, vec!["true".into()]);
        execute::grant(&mut p, &d, granted);
        warden_sandbox::builtin_code_config()
            .into_iter()
            .filter(|e| !p.code_config.contains(e))
            .collect::<Vec<_>>()
    };
    let hook = "echo '{}' > .claude/settings.json && echo x > notes.md";
    assert_eq!(list(hook, Tier::Sync), [".claude/"]);
    assert_eq!(list("echo '{}' > .mcp.json", Tier::Sync), [".mcp.json"]);
    assert!(list("echo x > notes.md; cat .vscode/tasks.json", Tier::Auto).is_empty());
    // The home inside the workspace: `~/` entries are named by the writes under it.
    assert_eq!(
        list("echo 'set -o vi' >> home/.bashrc", Tier::Async),
        ["~/.bashrc"]
    );
    // Not cleared at its tier (a whole agent run at `auto`): nothing granted.
    assert!(list(hook, Tier::Auto).is_empty());
}

/// The variables the supervisor reads for the rules are those the rules name, never one whose
/// name says it holds a secret, whatever a governance file's `any_env` asks for.
#[test]
fn rule_variables_never_include_a_secret() {
    let policy = Policy::load(&[
        warden_policy::PolicySource::builtin(),
        warden_policy::PolicySource {
            name: "repo".into(),
            text: "[[rule]]\nid = \"repo.deploy-flag\"\ntier = \"sync\"\nprogram = [\"make\"]\n\
                   any_env = [\"DEPLOY_NOW=1\", \"GITHUB_TOKEN=*\", \"DB_PASSWORD=*\"]\n"
                .into(),
            layer: warden_policy::Layer::Repository,
        },
    ])
    .unwrap();
    let names = nested_exec::rule_variables(&policy);
    for wanted in ["DEPLOY_NOW", "HUSKY", "SKIP"] {
        assert!(names.iter().any(|n| n == wanted), "{wanted}: {names:?}");
    }
    for secret in ["GITHUB_TOKEN", "DB_PASSWORD"] {
        assert!(!names.iter().any(|n| n == secret), "{secret}: {names:?}");
    }
}

/// The directory a command reports is kept only when it is a directory inside the workspace
/// (the command wrote the file; a path outside, a relative one, a missing one or a link out of
/// the workspace is dropped), and only a shell's `-c` script is made to report.
#[test]
fn a_reported_directory_is_kept_only_inside_the_workspace() {
    let root = tempfile::tempdir().expect("tempdir");
    let ws = root.path().join("ws");
    std::fs::create_dir_all(ws.join("sub")).expect("mkdir");
    std::os::unix::fs::symlink(root.path(), ws.join("out")).expect("link");
    let file = root.path().join("report");
    let said = |text: &str| {
        std::fs::write(&file, text).expect("write");
        execute::reported_cwd(&file, &ws)
    };
    let sub = ws.join("sub").canonicalize().expect("sub");
    assert_eq!(said(&format!("{}\n", sub.display())), Some(sub.clone()));
    assert_eq!(
        said(&format!("{}", ws.display())),
        Some(ws.canonicalize().expect("ws"))
    );
    for bad in [
        "/".to_owned(),
        "sub".to_owned(),
        format!("{}/missing", ws.display()),
        format!("{}/out", ws.display()),
        format!("{}\n{}\n", sub.display(), sub.display()),
        String::new(),
    ] {
        assert_eq!(said(&bad), None, "{bad:?}");
    }

    std::fs::write(&file, "").expect("write");
    let policy = Policy::builtin();
    let ctx = Context {
        workspace: ws.clone(),
        cwd: ws.clone(),
        home: root.path().join("home"),
        sandboxed: true,
    };
    let mut p = execute::profile_for(
        &policy,
        &ctx,
        vec!["/bin/bash".into(), "-ec".into(), "cd sub".into()],
    );
    assert!(execute::report_cwd(&mut p, &file));
    assert!(
        p.argv[2].starts_with("trap ") && p.argv[2].ends_with("; cd sub"),
        "{}",
        p.argv[2]
    );
    assert_eq!(p.writable_files, [file.canonicalize().expect("file")]);
    for argv in [
        vec!["make", "-C", "sub"],
        vec!["python3", "-c", "print(1)"],
        vec!["bash", "script.sh"],
    ] {
        let mut p =
            execute::profile_for(&policy, &ctx, argv.iter().map(|a| a.to_string()).collect());
        assert!(!execute::report_cwd(&mut p, &file), "{argv:?}");
        assert!(p.writable_files.is_empty());
    }
}

/// The memo of exec classifications: an exec whose classification read a script is classified
/// again each time (the script changed in between: the second run is refused), one that read
/// nothing is classified once, and every exec is recorded either way.
#[test]
fn only_execs_that_read_no_file_are_classified_from_the_memo() {
    let s = setup(Arc::new(UnattendedApprover));
    let gate = nested_exec::NestedGate::new((*s.gov).clone(), Vec::new());
    gate.set_running(s.running.clone());
    let ws = s.running.context.workspace.clone();
    let exec = |argv: &[&str]| {
        let action = Action::Exec {
            argv: argv.iter().map(|a| (*a).to_owned()).collect(),
            cwd: Some(ws.clone()),
        };
        gate.decide(NestedLayer::Exec, &action, None)
    };
    let script = ws.join("task.sh");
    std::fs::write(&script, "echo building\n").unwrap();
    assert!(
        exec(&["bash", "task.sh"]).is_ok(),
        "an auto script proceeds"
    );
    std::fs::write(&script, "git push origin main\n").unwrap();
    let refused = exec(&["bash", "task.sh"]).expect_err("the script now pushes");
    assert!(refused.0.contains("push"), "{}", refused.0);
    assert_eq!(
        gate.memoized(),
        0,
        "a classification that read a file is not kept"
    );
    for _ in 0..3 {
        assert!(exec(&["/bin/true"]).is_ok());
    }
    assert_eq!(gate.memoized(), 1, "one command line, classified once");
    let trues = nested_records(&s.gov)
        .into_iter()
        .filter(|(_, n)| matches!(&n.action, Action::Exec { argv, .. } if argv == &["/bin/true"]))
        .count();
    assert_eq!(trues, 3, "each exec is recorded");
}
