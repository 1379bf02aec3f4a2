//! End-to-end checks of the sandbox crate itself, through its stand-alone init binary.

use std::io::Read;
use warden_sandbox::{Output, SandboxProfile, SpawnOptions, spawn};

fn run(ws: &std::path::Path, script: &str) -> (i32, String, String) {
    let env: Vec<(String, String)> = std::env::vars().collect();
    let home = std::path::PathBuf::from(std::env::var("HOME").unwrap_or_else(|_| "/root".into()));
    let p = SandboxProfile::new(
        vec!["sh".into(), "-c".into(), script.into()],
        ws.to_path_buf(),
        home,
        env,
    );
    let opts = SpawnOptions {
        output: Output::Piped,
        init_exe: Some(env!("CARGO_BIN_EXE_warden-sandbox-test-init").into()),
        ..Default::default()
    };
    let mut r = spawn(&p, &opts).expect("spawn");
    let mut out = String::new();
    let mut err = String::new();
    let mut so = r.stdout.take().expect("stdout");
    let mut se = r.stderr.take().expect("stderr");
    let t = std::thread::spawn(move || {
        let mut e = String::new();
        se.read_to_string(&mut e).ok();
        e
    });
    so.read_to_string(&mut out).ok();
    err.push_str(&t.join().expect("join"));
    let info = r.wait().expect("wait");
    (info.shell_code(), out, err)
}

#[test]
fn runs_a_command_and_reports_its_status() {
    let ws = tempfile::tempdir().expect("tempdir");
    let (code, out, err) = run(ws.path(), "echo hello; id -u; echo $$; hostname; exit 7");
    eprintln!("{err}");
    assert_eq!(code, 7, "stdout: {out} stderr: {err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "hello");
    assert_eq!(lines[3], "warden");
}

fn profile(ws: &std::path::Path, script: &str) -> SandboxProfile {
    let home = std::path::PathBuf::from("/nonexistent-home");
    SandboxProfile::new(
        vec!["sh".into(), "-c".into(), script.into()],
        ws.to_path_buf(),
        home,
        Vec::new(),
    )
}

fn opts() -> SpawnOptions {
    SpawnOptions {
        output: Output::Piped,
        init_exe: Some(env!("CARGO_BIN_EXE_warden-sandbox-test-init").into()),
        ..Default::default()
    }
}

#[test]
fn a_profile_asking_more_than_the_kernel_has_is_refused_unless_degraded() {
    let caps = warden_sandbox::probe();
    // Ask for one Landlock ABI more than this kernel has: refused with a clear reason.
    let ws = tempfile::tempdir().expect("tempdir");
    let mut p = profile(ws.path(), "true");
    p.landlock_min_abi = caps.landlock_abi + 1;
    match spawn(&p, &opts()) {
        Err(warden_sandbox::SandboxError::Degraded(why)) => {
            assert!(why.iter().any(|w| w.contains("Landlock")), "{why:?}")
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    let degraded = SpawnOptions {
        allow_degraded: true,
        ..opts()
    };
    let r = spawn(&p, &degraded).expect("degraded spawn");
    assert!(
        r.notes
            .iter()
            .any(|n| n.starts_with("not enforced") && n.contains("Landlock")),
        "{:?}",
        r.notes
    );
    assert_eq!(r.wait().expect("wait").code, Some(0));
}

#[test]
fn an_empty_command_or_missing_workspace_is_a_profile_error() {
    let ws = tempfile::tempdir().expect("tempdir");
    let mut p = profile(ws.path(), "true");
    p.argv.clear();
    assert!(matches!(
        spawn(&p, &opts()),
        Err(warden_sandbox::SandboxError::Profile(_))
    ));
    let p = profile(&ws.path().join("missing"), "true");
    assert!(matches!(
        spawn(&p, &opts()),
        Err(warden_sandbox::SandboxError::Profile(_))
    ));
}

#[test]
fn a_missing_program_exits_127() {
    let ws = tempfile::tempdir().expect("tempdir");
    let mut p = profile(ws.path(), "true");
    p.argv = vec!["/definitely/not/here".into()];
    let r = spawn(&p, &opts()).expect("spawn");
    assert_eq!(r.wait().expect("wait").code, Some(127));
}

#[test]
fn cgroup_v2_limits_apply_where_available() {
    let caps = warden_sandbox::probe();
    if !caps.cgroup2 {
        eprintln!(
            "skipped: no cgroup v2 hierarchy with pids+memory at /sys/fs/cgroup (this host: v1/hybrid); rlimits are used instead"
        );
        return;
    }
    let ws = tempfile::tempdir().expect("tempdir");
    let mut p = profile(ws.path(), "sleep 1");
    p.limits.processes = Some(64);
    let r = spawn(&p, &opts()).expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(300));
    let own = std::fs::read_to_string("/proc/self/cgroup").expect("cgroup");
    let rel = own
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_owned();
    let parent = std::path::Path::new("/sys/fs/cgroup").join(rel);
    let prefix = format!("warden-{}-", std::process::id());
    let dir = std::fs::read_dir(&parent)
        .expect("read cgroup dir")
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with(&prefix))
        .expect("the action's cgroup exists")
        .path();
    assert_eq!(
        std::fs::read_to_string(dir.join("pids.max"))
            .expect("pids.max")
            .trim(),
        "64"
    );
    assert!(
        !std::fs::read_to_string(dir.join("cgroup.procs"))
            .expect("procs")
            .trim()
            .is_empty()
    );
    assert_eq!(r.wait().expect("wait").code, Some(0));
    assert!(!dir.exists(), "the cgroup is removed afterwards");
}

#[test]
fn the_process_limit_bounds_the_sandbox_even_as_root() {
    // RLIMIT_NPROC is counted per (user namespace, uid) on Linux >= 5.14, so the limit applies
    // to the sandbox's own processes even when the caller is root (and is not shared with the
    // caller's other processes).
    let ws = tempfile::tempdir().expect("tempdir");
    let script = "i=0; while [ $i -lt 60 ]; do sleep 3 & i=$((i+1)); done; echo spawned";
    let mut p = profile(ws.path(), script);
    p.limits.processes = Some(20);
    let mut r = spawn(&p, &opts()).expect("spawn");
    let mut err = String::new();
    let mut se = r.stderr.take().expect("stderr");
    drop(r.stdout.take());
    se.read_to_string(&mut err).ok();
    r.wait().expect("wait");
    assert!(
        err.to_lowercase().contains("fork"),
        "60 processes were allowed under a limit of 20: {err}"
    );
    // Without the limit the same script spawns them all.
    let mut p = profile(ws.path(), script);
    p.limits.processes = Some(4096);
    let (code, out, err) = {
        let mut r = spawn(&p, &opts()).expect("spawn");
        let mut out = String::new();
        let mut err = String::new();
        let mut se = r.stderr.take().expect("stderr");
        let t = std::thread::spawn(move || {
            let mut e = String::new();
            se.read_to_string(&mut e).ok();
            e
        });
        r.stdout
            .take()
            .expect("stdout")
            .read_to_string(&mut out)
            .ok();
        err.push_str(&t.join().expect("join"));
        (r.wait().expect("wait").shell_code(), out, err)
    };
    assert_eq!((code, out.as_str()), (0, "spawned\n"), "control: {err}");
}

#[test]
fn large_process_limits_use_the_pid_namespaces_pid_max_as_root() {
    // As root, limits of 300 and more are enforced through the PID namespace's own pid_max
    // (no cgroup migration); as another user, through RLIMIT_NPROC.
    let ws = tempfile::tempdir().expect("tempdir");
    let script = "i=0; while [ $i -lt 450 ]; do sleep 3 & i=$((i+1)); done; echo spawned";
    let mut p = profile(ws.path(), script);
    p.limits.processes = Some(400);
    let mut r = spawn(&p, &opts()).expect("spawn");
    let mut err = String::new();
    let mut se = r.stderr.take().expect("stderr");
    drop(r.stdout.take());
    se.read_to_string(&mut err).ok();
    let info = r.wait().expect("wait");
    if info.notes.iter().any(|n| n.contains("pid_max")) {
        eprintln!("skipped: {:?}", info.notes);
        return;
    }
    assert!(
        err.to_lowercase().contains("fork"),
        "450 processes were allowed under a limit of 400: {err}"
    );
}

/// When `wait` returns, nothing the command left running can still write to the workspace:
/// the supervisor inspects it (git metadata, discovery files) and records the outcome right
/// after, without waiting for the sandbox's namespaces to be torn down. (PID 1 kills and reaps
/// every other task before it reports the command's status.)
#[test]
fn nothing_the_command_left_running_writes_after_wait() {
    let ws = tempfile::tempdir().expect("tempdir");
    let log = ws.path().join("bg.log");
    // Many writers: the more tasks are left, the longer tearing them down takes, and the
    // wider the window in which one would still write if the status came before that.
    let script = "for i in $(seq 64); do (while :; do echo x >> bg.log; done) \
                  </dev/null >/dev/null 2>&1 & done; while [ ! -s bg.log ]; do :; done; exit 3";
    let mut r = spawn(&profile(ws.path(), script), &opts()).expect("spawn");
    drop(r.stdout.take());
    drop(r.stderr.take());
    let info = r.wait().expect("wait");
    assert_eq!(info.shell_code(), 3);
    let size = || std::fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
    let at_end = size();
    assert!(at_end > 0, "the background writer never ran");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert_eq!(
        size(),
        at_end,
        "a task of the sandbox wrote after wait returned"
    );
}
