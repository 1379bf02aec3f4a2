//! The start gate (the command starts only when released, never when withdrawn) and the choice
//! and checks of the stand-alone init binary (the small init is used when trustworthy, a
//! tampered or missing one falls back to the main binary, one from another build is refused).

use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use warden_sandbox::{Output, Running, SandboxProfile, SpawnOptions, choose_init, spawn};

const INIT: &str = env!("CARGO_BIN_EXE_warden-sandbox-test-init");

fn profile(ws: &Path, script: &str) -> SandboxProfile {
    SandboxProfile::new(
        vec!["sh".into(), "-c".into(), script.into()],
        ws.to_path_buf(),
        PathBuf::from("/nonexistent-home"),
        Vec::new(),
    )
}

fn opts(gated: bool) -> SpawnOptions {
    SpawnOptions {
        output: Output::Piped,
        init_exe: Some(INIT.into()),
        gated,
        ..Default::default()
    }
}

#[test]
fn a_gated_command_starts_only_when_released() {
    let ws = tempfile::tempdir().expect("tempdir");
    let marker = ws.path().join("started");
    let script = format!("touch {}", marker.display());
    let mut r = spawn(&profile(ws.path(), &script), &opts(true)).expect("spawn");
    // Long enough for the whole set-up (well under 100 ms) to have finished.
    std::thread::sleep(Duration::from_millis(500));
    assert!(!marker.exists(), "the command ran before it was released");
    r.release().expect("release");
    drop(r.stdout.take());
    drop(r.stderr.take());
    let info = r.wait().expect("wait");
    assert_eq!(info.code, Some(0));
    assert!(marker.exists(), "the released command did not run");
}

#[test]
fn a_withdrawn_gated_command_never_runs() {
    let ws = tempfile::tempdir().expect("tempdir");
    let marker = ws.path().join("started");
    let script = format!("touch {}", marker.display());
    let r = spawn(&profile(ws.path(), &script), &opts(true)).expect("spawn");
    std::thread::sleep(Duration::from_millis(300));
    assert!(r.abort(), "abort reports the command never ran");
    std::thread::sleep(Duration::from_millis(200));
    assert!(!marker.exists(), "a withdrawn command ran");
    // Waiting on an unreleased gated spawn withdraws it too.
    let r = spawn(&profile(ws.path(), &script), &opts(true)).expect("spawn");
    let err = r
        .wait()
        .expect_err("an unreleased command reports it was withdrawn");
    assert!(err.to_string().contains("withdrawn"), "{err}");
    assert!(!marker.exists(), "an unreleased command ran");
    // Control: the same command ungated runs at once.
    let r = spawn(&profile(ws.path(), &script), &opts(false)).expect("spawn");
    assert_eq!(r.wait().expect("wait").code, Some(0));
    assert!(marker.exists());
}

/// A directory holding a copy of the init binary as `warden-sandbox-init` and a stand-in main
/// executable (only its path matters to `choose_init`).
fn install(dir: &Path) -> (PathBuf, PathBuf) {
    let main = dir.join("warden");
    std::fs::write(&main, b"").expect("main");
    let init = dir.join(warden_sandbox::INIT_BINARY_NAME);
    std::fs::copy(INIT, &init).expect("copy the init");
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).expect("chmod dir");
    (main, init)
}

#[test]
fn the_small_init_next_to_the_main_binary_is_chosen_and_used() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (main, init) = install(dir.path());
    let (chosen, note) = choose_init(&main);
    assert_eq!((chosen.as_path(), note), (init.as_path(), None));
    // It is the process that runs as PID 1 of the sandbox.
    let ws = tempfile::tempdir().expect("tempdir");
    let mut o = opts(false);
    o.init_exe = Some(chosen);
    let r = spawn(&profile(ws.path(), "tr '\\0' ' ' </proc/1/cmdline"), &o).expect("spawn");
    let out = stdout_of_success(r);
    assert!(
        out.starts_with(&format!("{} __sandbox-init", init.display())),
        "PID 1 is {out:?}"
    );
}

#[test]
fn a_missing_or_tampered_small_init_falls_back_to_the_main_binary() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (main, init) = install(dir.path());
    let fallback = |why: &str| {
        let (chosen, note) = choose_init(&main);
        assert_eq!(chosen, main, "{why}: the main binary is used");
        note
    };
    // Writable by others: anyone could have replaced it.
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o757)).expect("chmod");
    let note = fallback("world-writable").expect("a note says why");
    assert!(note.contains("writable"), "{note}");
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o775)).expect("chmod");
    assert!(fallback("group-writable").is_some());
    // Not executable.
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    assert!(fallback("not executable").is_some());
    // A symlink to an init elsewhere.
    std::fs::remove_file(&init).expect("rm");
    std::os::unix::fs::symlink(INIT, &init).expect("symlink");
    assert!(fallback("symlink").expect("note").contains("regular file"));
    // In a directory others can write to.
    std::fs::remove_file(&init).expect("rm");
    std::fs::copy(INIT, &init).expect("copy");
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).expect("chmod");
    assert!(
        fallback("open directory")
            .expect("note")
            .contains("directory")
    );
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    // Control: restored, it is chosen again.
    assert_eq!(choose_init(&main), (init.clone(), None));
    // Missing: the main binary, silently (nothing was there to distrust).
    std::fs::remove_file(&init).expect("rm");
    assert_eq!(fallback("missing"), None);
}

/// Run the init directly with a hand-written spec; returns (exit code, status file text).
fn run_init_with_spec(spec: &serde_json::Value, marker: &Path) -> (Option<i32>, String) {
    run_init_with_spec_args(spec, marker, &[])
}

fn run_init_with_spec_args(
    spec: &serde_json::Value,
    marker: &Path,
    extra: &[&str],
) -> (Option<i32>, String) {
    let status = tempfile::NamedTempFile::new().expect("status file");
    let mut spec = spec.clone();
    spec["status_path"] = status.path().to_str().expect("utf-8").into();
    let out = std::process::Command::new(INIT)
        .arg("__sandbox-init")
        .args(extra)
        .env_clear()
        .env("WARDEN_SANDBOX_SPEC", spec.to_string())
        .output()
        .expect("run the init");
    let text = std::fs::read_to_string(status.path()).unwrap_or_default();
    let _ = marker;
    (out.status.code(), text)
}

#[test]
fn an_init_from_another_build_or_with_an_unknown_spec_refuses_to_run_anything() {
    let ws = tempfile::tempdir().expect("tempdir");
    let ws_path = ws.path().canonicalize().expect("canonical");
    let marker = ws_path.join("ran");
    let spec = serde_json::json!({
        "build": "0000000000000000",
        "argv": ["/bin/sh", "-c", format!("touch {}", marker.display())],
        "cwd": ws_path,
        "env": [],
        "plan": {
            "workspace": ws_path, "writable": [], "git": [], "readonly": [], "secrets": [],
            "proxy_dir": null, "homes": [], "pid_max": null
        },
        "landlock": false,
        "seccomp": false,
        "limits": warden_sandbox::Limits::default(),
        "proxy_port": null,
        "status_path": "",
        "status_fd": -1,
        "supervisor_pid": std::process::id(),
        "cgroup_procs": null,
        "hostname": "warden",
        "gate_fd": -1,
    });
    let (code, text) = run_init_with_spec(&spec, &marker);
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("different build"), "{text}");
    assert!(
        !marker.exists(),
        "an init from another build ran the command"
    );
    // A field this init does not know (e.g. a newer warden's) is refused, not ignored.
    let mut unknown = spec.clone();
    unknown["build"] = warden_sandbox::build_fingerprint().into();
    unknown["some_future_restriction"] = true.into();
    let (code, _) = run_init_with_spec(&unknown, &marker);
    assert_eq!(code, Some(2));
    assert!(
        !marker.exists(),
        "an init ignoring part of its spec ran the command"
    );
    // With a fallback executable, an init from another build hands over to it, with the same
    // spec (here a script that records how it was called), instead of running anything itself.
    let dir = tempfile::tempdir().expect("tempdir");
    let called = dir.path().join("called");
    let script = dir.path().join("main");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1 ${{#WARDEN_SANDBOX_SPEC}}\" > {}\n",
            called.display()
        ),
    )
    .expect("script");
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let fb = script.to_str().expect("utf-8");
    let (code, text) = run_init_with_spec_args(&spec, &marker, &["--fallback", fb]);
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("another build"), "{text}");
    let call = std::fs::read_to_string(&called).expect("the fallback was started");
    assert!(call.starts_with("__sandbox-init "), "{call}");
    assert!(
        call.trim().split(' ').nth(1).unwrap_or("0") != "0",
        "no spec: {call}"
    );
    assert!(
        !marker.exists(),
        "the mismatched init ran the command itself"
    );
    // An unreadable spec hands over too (a newer warden's fields).
    std::fs::remove_file(&called).expect("rm");
    let (code, _) = run_init_with_spec_args(&unknown, &marker, &["--fallback", fb]);
    assert_eq!(code, Some(0));
    assert!(
        called.exists(),
        "the fallback was not started for an unreadable spec"
    );
    // The handover is one step: a fallback that is itself from another build refuses.
    let (code, text) = run_init_with_spec_args(&spec, &marker, &["--fallback", INIT]);
    assert_eq!(code, Some(1), "{text}");
    assert!(
        text.contains("another build") && text.contains("different build"),
        "{text}"
    );
    assert!(!marker.exists());
    // Control: the same spec with this build's fingerprint runs the command.
    let mut same = spec.clone();
    same["build"] = warden_sandbox::build_fingerprint().into();
    let (code, text) = run_init_with_spec(&same, &marker);
    assert_eq!(code, Some(0), "{text}");
    assert!(marker.exists(), "control: the command did not run: {text}");
}

#[test]
fn the_command_inherits_no_descriptor_but_stdio() {
    // The init receives the status pipe and the start gate as inherited descriptors; neither
    // (nor anything else) may reach the command.
    let ws = tempfile::tempdir().expect("tempdir");
    for gated in [false, true] {
        let mut r = spawn(
            // No pipe and no redirection: a shell holds a pipe's descriptors until it has forked
            // both sides, and saves redirected ones at fd 10, so `ls` could see either (shell
            // internals, not a leak). `; true` keeps dash from exec-ing `ls` in place of itself.
            &profile(ws.path(), "ls /proc/$$/fd; true"),
            &opts(gated),
        )
        .expect("spawn");
        r.release().expect("release");
        let out = stdout_of_success(r);
        let fds: Vec<&str> = out.split_whitespace().collect();
        assert_eq!(fds, ["0", "1", "2"], "gated: {gated}");
    }
}

/// Everything a piped command printed on stdout; it must exit 0.
fn stdout_of_success(mut r: Running) -> String {
    let mut out = String::new();
    r.stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut out)
        .ok();
    drop(r.stderr.take());
    assert_eq!(r.wait().expect("wait").code, Some(0), "stdout: {out}");
    out
}

/// An init that another process holds open for writing for a moment (as a child forked by
/// another thread while the copy was written holds it until its own exec) still starts: the
/// exec's ETXTBSY is retried briefly.
#[test]
fn an_init_briefly_open_for_writing_elsewhere_still_starts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (main, init) = install(dir.path());
    let (chosen, _) = choose_init(&main);
    let mut holder = std::process::Command::new("sh")
        .args([
            "-c",
            "exec 3>>\"$0\"; sleep 0.03",
            &init.display().to_string(),
        ])
        .spawn()
        .expect("holder");
    let fd = format!("/proc/{}/fd/3", holder.id());
    let t = std::time::Instant::now();
    while !Path::new(&fd).exists() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the holder never opened the init"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let ws = tempfile::tempdir().expect("tempdir");
    let mut o = opts(false);
    o.init_exe = Some(chosen);
    let r = spawn(&profile(ws.path(), "true"), &o).expect("spawn while the init is held");
    stdout_of_success(r);
    holder.wait().expect("holder");
}
