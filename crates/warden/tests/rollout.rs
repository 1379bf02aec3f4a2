//! docs/rollout.md, executed: every command of its ```sh blocks runs, in order, in one bash
//! session, every ```text block must match what the commands of the block before it printed,
//! and a ```toml file=NAME block is saved as NAME first (as the reader is told to). The block
//! marked `sh package` installs into the system and is run by package_deb.rs instead.
//!
//! What the test supplies: the `warden` this test run built, first on `PATH` (as if installed);
//! a private PostgreSQL cluster whose URL is `WARDEN_DB`; a fresh `HOME` and working directory;
//! and a network namespace with only loopback (the test re-runs itself under `unshare -n`), so
//! the documented ports 8420 and 8421 are free and nothing leaves the machine. It needs root
//! (the namespace, and initdb as the `postgres` user) and skips otherwise.

#![cfg(target_os = "linux")]

#[allow(dead_code, reason = "shared support; this file uses part of it")]
#[path = "support/pg.rs"]
mod pg;
#[allow(
    dead_code,
    unused_imports,
    reason = "shared with walkthrough.rs; this file uses the shell and the block reader"
)]
#[path = "walkthrough_support/mod.rs"]
mod walkthrough_support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use walkthrough_support::{Shell, commands, fenced_blocks, shows};

const DOC: &str = include_str!("../../../docs/rollout.md");
const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const IN_NETNS: &str = "WARDEN_ROLLOUT_IN_NETNS";

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
}

#[test]
fn the_rollout_guide_runs_as_documented() {
    if std::env::var_os(IN_NETNS).is_some() {
        walk();
        return;
    }
    if !is_root() {
        eprintln!("skipped: needs root (a network namespace, and initdb as `postgres`)");
        return;
    }
    let exe = std::env::current_exe().expect("test binary");
    let o = Command::new("unshare")
        .args(["-n", "sh", "-c", "ip link set lo up && exec \"$0\" \"$@\""])
        .arg(&exe)
        .args([
            "the_rollout_guide_runs_as_documented",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(IN_NETNS, "1")
        .output()
        .expect("unshare");
    assert!(
        o.status.success(),
        "docs/rollout.md failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("1 passed"),
        "the guide did not run in the namespace: {}",
        String::from_utf8_lossy(&o.stdout)
    );
}

fn walk() {
    let db = pg::Pg::start();
    let root = tempfile::Builder::new()
        .prefix("rollout-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir");
    let home = root.path().join("home");
    let work = root.path().join("work");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::create_dir_all(&work).unwrap();
    let bin = Path::new(WARDEN).parent().expect("bin dir");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let mut cmd = Command::new("bash");
    cmd.current_dir(&work)
        .env("PATH", path)
        .env("HOME", &home)
        .env("WARDEN_DB", db.url())
        .env("GIT_CONFIG_NOSYSTEM", "1");
    for var in [
        "WARDEN_SERVER",
        "WARDEN_TOKEN",
        "WARDEN_ADMIN_TOKEN",
        "WARDEN_ORG_POLICY",
        "WARDEN_CA_FILE",
        "WARDEN_SANDBOX_PRETEND_MISSING",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
        IN_NETNS,
    ] {
        cmd.env_remove(var);
    }
    let mut sh = Shell::start(cmd, &root.path().join("shell"));

    let blocks = fenced_blocks(DOC);
    let (mut ran_commands, mut checked_outputs, mut package_blocks) = (0, 0, 0);
    let mut printed = String::new();
    for b in &blocks {
        let lang = b.lang.as_str();
        if let Some(file) = lang.strip_prefix("toml file=") {
            // Saved where the shell is: the reader saves it before the first `cd`.
            std::fs::write(work.join(file), &b.body).expect("save the toml block");
        } else if lang == "sh" {
            printed.clear();
            for command in commands(b) {
                let r = sh.run(&command, Duration::from_secs(120));
                assert_eq!(
                    r.code,
                    0,
                    "docs/rollout.md line {}: `{command}` failed:\n{}",
                    b.line,
                    r.both()
                );
                printed.push_str(&r.both());
                ran_commands += 1;
            }
        } else if lang == "sh package" {
            package_blocks += 1;
        } else if lang == "text" {
            if let Err(e) = shows(&b.body, &printed) {
                panic!(
                    "docs/rollout.md line {}: the output shown is not what the commands printed: {e}\nprinted:\n{printed}",
                    b.line
                );
            }
            checked_outputs += 1;
        }
    }
    // The guide has what it promises; an emptied document cannot pass.
    assert_eq!(
        package_blocks, 1,
        "the package block (run by package_deb.rs)"
    );
    assert!(ran_commands >= 20, "only {ran_commands} commands ran");
    assert!(
        checked_outputs >= 6,
        "only {checked_outputs} outputs checked"
    );
}
