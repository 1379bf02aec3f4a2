//! Which init starts `warden`'s sandboxes, and the order of `warden run`'s steps: the small
//! `warden-sandbox-init` next to `warden` is PID 1 of the sandbox when present and trustworthy,
//! `warden` itself when it is missing or could have been tampered with; and the action's intent
//! is already in the audit log when the command starts (the sandbox is prepared meanwhile, the
//! command waits for the intent).

#![cfg(target_os = "linux")]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

fn tmp(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir")
}

/// Hard-link (or copy) `src` to `dst`.
fn place(src: &Path, dst: &Path) {
    if std::fs::hard_link(src, dst).is_err() {
        std::fs::copy(src, dst).expect("copy");
    }
}

fn the_small_init() -> PathBuf {
    let init = Path::new(WARDEN).with_file_name("warden-sandbox-init");
    assert!(
        init.exists(),
        "{} is missing: build it with `cargo build -p warden` (`cargo test -p warden` does)",
        init.display()
    );
    init
}

/// `warden sandbox` run from `bin_dir/warden`, printing the sandbox's PID 1 command line.
fn pid1_of(bin_dir: &Path) -> (Output, String) {
    let ws = tmp("init-ws-");
    std::fs::create_dir(ws.path().join(".git")).expect("mkdir");
    let o = Command::new(bin_dir.join("warden"))
        .args(["sandbox", "--", "sh", "-c", "tr '\\0' ' ' </proc/1/cmdline"])
        .current_dir(ws.path())
        .env("HOME", ws.path())
        .env_remove("WARDEN_ORG_POLICY")
        .stdin(Stdio::null())
        .output()
        .expect("warden");
    let pid1 = String::from_utf8_lossy(&o.stdout).into_owned();
    (o, pid1)
}

#[test]
fn a_small_init_from_another_build_hands_over_to_warden() {
    // A copy of this build's init with its build fingerprint changed: the same code, but it
    // cannot trust that it understands this warden's spec, so warden must end up as PID 1.
    let dir = tmp("init-stale-");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    place(Path::new(WARDEN), &dir.path().join("warden"));
    let ours = warden_sandbox::build_fingerprint().as_bytes().to_vec();
    let other: Vec<u8> = ours
        .iter()
        .map(|b| if *b == b'0' { b'1' } else { b'0' })
        .collect();
    let mut bytes = std::fs::read(the_small_init()).expect("read the init");
    let mut replaced = 0;
    let mut i = 0;
    while i + ours.len() <= bytes.len() {
        if bytes[i..i + ours.len()] == ours[..] {
            bytes[i..i + ours.len()].copy_from_slice(&other);
            replaced += 1;
            i += ours.len();
        } else {
            i += 1;
        }
    }
    assert!(
        replaced > 0,
        "the build fingerprint is not in the init binary"
    );
    let init = dir.path().join("warden-sandbox-init");
    std::fs::write(&init, &bytes).expect("write the other-build init");
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (o, pid1) = pid1_of(dir.path());
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let warden = dir.path().join("warden");
    assert!(
        pid1.starts_with(&format!("{} __sandbox-init", warden.display())),
        "PID 1 with an init from another build: {pid1:?}"
    );
}

#[test]
fn the_small_init_is_pid_1_when_installed_and_trustworthy_else_warden_itself() {
    let dir = tmp("init-bin-");
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    place(Path::new(WARDEN), &dir.path().join("warden"));
    let init = dir.path().join("warden-sandbox-init");

    // Missing: warden starts the sandbox itself.
    let (o, pid1) = pid1_of(dir.path());
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    let warden = dir.path().join("warden");
    assert!(
        pid1.starts_with(&format!("{} __sandbox-init", warden.display())),
        "PID 1 without a small init: {pid1:?}"
    );

    // Installed: the small init is PID 1.
    std::fs::copy(the_small_init(), &init).expect("copy the init");
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (o, pid1) = pid1_of(dir.path());
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(
        pid1.starts_with(&format!("{} __sandbox-init", init.display())),
        "PID 1 with the small init installed: {pid1:?}"
    );

    // Writable by others (anyone could have replaced it): not used.
    std::fs::set_permissions(&init, std::fs::Permissions::from_mode(0o777)).expect("chmod");
    let (o, pid1) = pid1_of(dir.path());
    assert_eq!(o.status.code(), Some(0), "{o:?}");
    assert!(
        pid1.starts_with(&format!("{} __sandbox-init", warden.display())),
        "PID 1 with a world-writable small init: {pid1:?}"
    );
}

/// `warden run` in a fresh workspace: the command counts the audit log's lines mentioning the
/// marker (its pattern does not match its own text, which the intent records too).
fn count_in_own_log(rationale: Option<&str>) -> Output {
    let ws = tmp("init-intent-");
    std::fs::create_dir(ws.path().join(".git")).expect("mkdir");
    let mut args = vec!["run"];
    if let Some(r) = rationale {
        args.extend(["--rationale", r]);
    }
    let script = "grep -c 'intent-order-probe-7f3[a]' .warden/audit/audit.jsonl";
    args.extend(["--", "sh", "-c", script]);
    Command::new(WARDEN)
        .args(&args)
        .current_dir(ws.path())
        .env("HOME", ws.path())
        .env_remove("WARDEN_ORG_POLICY")
        .stdin(Stdio::null())
        .output()
        .expect("warden")
}

#[test]
fn the_intent_is_in_the_log_before_the_command_starts() {
    // The command reads the (read-only) audit log from inside: its own intent is there.
    let o = count_in_own_log(Some("intent-order-probe-7f3a"));
    assert_eq!(
        (o.status.code(), String::from_utf8_lossy(&o.stdout).trim()),
        (Some(0), "1"),
        "the command did not find its intent: {o:?}"
    );
    // Control: without the rationale nothing matches (the probe's own text does not).
    let o = count_in_own_log(None);
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "0", "{o:?}");
}
