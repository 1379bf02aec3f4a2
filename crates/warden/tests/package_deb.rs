//! The Debian package, built and installed on this machine by docs/rollout.md's install block
//! (`packaging/build-deb.sh` runs cargo-deb on the binaries this test run built, `dpkg -i`
//! installs the result), and the installed set exercised — `warden` with its small `warden-sandbox-init` (PID 1 of the sandboxes), the man
//! pages and completions, `/etc/warden/policy.toml` as a conffile (a local edit survives a
//! reinstall and `dpkg -r`; `--purge` removes it), and the `warden-serve` unit: started under
//! systemd when systemd is PID 1, else checked with `systemd-analyze verify` and its command
//! line run by hand. Then the package is removed.
//!
//! It installs into the system (and `/etc/warden/policy.toml` is every `warden`'s organisation
//! layer while installed), so it runs only with `WARDEN_TEST_PACKAGE=1` (`.ci/run` sets it), as
//! root, with dpkg and cargo-deb (`scripts/setup-package.sh`).

#![cfg(target_os = "linux")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const POLICY: &str = "/etc/warden/policy.toml";

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("repository root")
        .to_path_buf()
}

fn run(cmd: &mut Command) -> Output {
    let o = cmd.stdin(Stdio::null()).output().expect("spawn");
    assert!(
        o.status.success(),
        "{cmd:?} failed: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn have(program: &str, arg: &str) -> bool {
    Command::new(program)
        .arg(arg)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn have_package() -> bool {
    Command::new("dpkg")
        .args(["-s", "warden"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Why this machine cannot run the test, if it cannot.
fn cannot_run() -> Option<String> {
    if std::env::var_os("WARDEN_TEST_PACKAGE").is_none_or(|v| v != "1") {
        return Some("WARDEN_TEST_PACKAGE=1 is not set (it installs into the system)".into());
    }
    if !std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
    {
        return Some("not root: dpkg -i needs root".into());
    }
    if !have("dpkg", "--version") {
        return Some("no dpkg".into());
    }
    if Path::new(POLICY).exists() && !have_package() {
        return Some(format!(
            "{POLICY} exists but not from the warden package: not overwriting it"
        ));
    }
    if !have("cargo-deb", "--version") {
        return Some(
            "cargo-deb is not installed (scripts/setup-package.sh installs it; offline it cannot)"
                .into(),
        );
    }
    None
}

/// Removes the package (with its conffiles) even when an assertion failed half-way.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        let _ = Command::new("dpkg")
            .args(["--purge", "warden"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The most recently written `warden_*.deb` in `dir`.
fn newest_deb(dir: &Path) -> String {
    let mut debs: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(dir)
        .expect("target/debian")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("warden_") && n.ends_with(".deb"))
        })
        .filter_map(|p| Some((std::fs::metadata(&p).ok()?.modified().ok()?, p)))
        .collect();
    debs.sort();
    debs.pop()
        .expect("a .deb was built")
        .1
        .display()
        .to_string()
}

#[test]
fn the_debian_package_installs_everything_warden_run_needs() {
    if let Some(why) = cannot_run() {
        eprintln!("skipped: {why}");
        return;
    }
    // The target dir this test's binaries are in (cargo-deb packages them without building).
    let bin_dir = Path::new(WARDEN).parent().expect("bin dir");
    let target = bin_dir.parent().expect("target dir");
    let profile = match bin_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") => "dev",
        Some(other) => other,
        None => panic!("unexpected binary path {WARDEN}"),
    };
    // docs/rollout.md's install block, as written (it builds and installs the package), with
    // the binaries this run built instead of a release build.
    let doc = include_str!("../../../docs/rollout.md");
    let block = doc
        .split("```sh package\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("docs/rollout.md has a ```sh package block");
    let _cleanup = Installed;
    let mut ran = 0;
    for command in block
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        run(Command::new("bash")
            .args(["-c", command])
            .current_dir(repo_root())
            .env("CARGO_TARGET_DIR", target)
            .env("WARDEN_DEB_PROFILE", profile)
            .env("WARDEN_DEB_NO_BUILD", "1"));
        ran += 1;
    }
    assert!(ran >= 1, "the install block is empty");
    let deb = newest_deb(&target.join("debian"));
    // What the package holds, before installing anything.
    let listing = run(Command::new("dpkg-deb").args(["-c", &deb]));
    let listing = String::from_utf8_lossy(&listing.stdout);
    for path in [
        "./usr/bin/warden",
        "./usr/bin/warden-sandbox-init",
        "./usr/share/man/man1/warden.1.gz",
        "./usr/share/man/man1/warden-doctor.1.gz",
        "./usr/share/man/man1/warden-serve.1.gz",
        "./usr/share/bash-completion/completions/warden",
        "./usr/share/zsh/vendor-completions/_warden",
        "./usr/share/fish/vendor_completions.d/warden.fish",
        "./etc/warden/policy.toml",
        "./lib/systemd/system/warden-serve.service",
    ] {
        assert!(
            listing.lines().any(|l| l.ends_with(path)),
            "{path} missing:\n{listing}"
        );
    }
    let conffiles = run(Command::new("dpkg-deb").args(["-I", &deb, "conffiles"]));
    assert_eq!(String::from_utf8_lossy(&conffiles.stdout).trim(), POLICY);

    // The installed binary, with its small init beside it: the sandbox's PID 1.
    let version = run(Command::new("/usr/bin/warden").arg("--version"));
    assert!(String::from_utf8_lossy(&version.stdout).starts_with("warden "));
    let ws = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(ws.path().join(".git")).expect("mkdir");
    let pid1 = run(Command::new("/usr/bin/warden")
        .args(["sandbox", "--", "sh", "-c", "tr '\\0' ' ' </proc/1/cmdline"])
        .current_dir(ws.path())
        .env_remove("WARDEN_ORG_POLICY"));
    let pid1 = String::from_utf8_lossy(&pid1.stdout);
    assert!(
        pid1.starts_with("/usr/bin/warden-sandbox-init "),
        "sandbox PID 1: {pid1}"
    );
    // `warden doctor` of the installed set: the shipped organisation file is a layer, the
    // small init is used, nothing the policy asks for is missing.
    let doctor = Command::new("/usr/bin/warden")
        .args(["doctor", "--json"])
        .current_dir(ws.path())
        .env_remove("WARDEN_ORG_POLICY")
        .env_remove("WARDEN_SERVER")
        .env_remove("WARDEN_SANDBOX_PRETEND_MISSING")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .expect("doctor");
    let report: serde_json::Value = serde_json::from_slice(&doctor.stdout).expect("doctor JSON");
    assert_eq!(doctor.status.code(), Some(0), "{report:#}");
    assert_eq!(
        report["warden"]["sandbox_init"],
        "/usr/bin/warden-sandbox-init"
    );
    assert!(
        report["policy"]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["layer"] == "organisation" && l["file"] == POLICY),
        "{report:#}"
    );
    // The completions are the binary's own.
    let bash = std::fs::read_to_string("/usr/share/bash-completion/completions/warden").unwrap();
    assert!(
        bash.contains("doctor") && bash.contains("_warden"),
        "bash completion"
    );

    // The unit: under systemd when it is PID 1, else verified and its command run by hand.
    let pid1_comm = std::fs::read_to_string("/proc/1/comm").unwrap_or_default();
    let unit = "/lib/systemd/system/warden-serve.service";
    if pid1_comm.trim() == "systemd" {
        std::fs::write(
            "/etc/warden/serve.env",
            "WARDEN_ADMIN_TOKEN=wdn_test_admin_token_package_0123456789\n\
             WARDEN_SERVE_LISTEN=127.0.0.1:18420\n",
        )
        .unwrap();
        run(Command::new("systemctl").arg("daemon-reload"));
        run(Command::new("systemctl").args(["start", "warden-serve"]));
        let mut up = false;
        for _ in 0..50 {
            if std::net::TcpStream::connect("127.0.0.1:18420").is_ok() {
                up = true;
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        let _ = Command::new("systemctl")
            .args(["stop", "warden-serve"])
            .status();
        let _ = std::fs::remove_file("/etc/warden/serve.env");
        assert!(up, "warden-serve did not listen under systemd");
    } else if have("systemd-analyze", "--version") {
        let v = Command::new("systemd-analyze")
            .args(["verify", unit])
            .output()
            .expect("systemd-analyze");
        assert!(
            v.status.success(),
            "systemd-analyze verify {unit}: {}",
            String::from_utf8_lossy(&v.stderr)
        );
        // The unit's command, as its ExecStart runs it (a free port instead of 8420).
        let state = tempfile::tempdir().unwrap();
        let text = std::fs::read_to_string(unit).unwrap();
        let exec = text
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .expect("ExecStart");
        let argv: Vec<String> = exec
            .replace("${WARDEN_SERVE_DB}", "sqlite:approvals.db")
            .replace("${WARDEN_SERVE_LISTEN}", "127.0.0.1:0")
            .replace("/var/lib/warden/", "")
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        assert_eq!(argv[0], "/usr/bin/warden");
        let mut serve = Command::new(&argv[0])
            .args(&argv[1..])
            .current_dir(state.path())
            .env(
                "WARDEN_ADMIN_TOKEN",
                "wdn_test_admin_token_package_0123456789",
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("warden serve");
        let mut err = std::io::BufReader::new(serve.stderr.take().unwrap());
        let mut line = String::new();
        let mut listening = false;
        for _ in 0..20 {
            line.clear();
            if std::io::BufRead::read_line(&mut err, &mut line).unwrap_or(0) == 0 {
                break;
            }
            if line.contains("listening on http://127.0.0.1:") {
                listening = true;
                break;
            }
        }
        let _ = serve.kill();
        let _ = serve.wait();
        assert!(listening, "the unit's command did not listen: {line}");
    } else {
        eprintln!("neither systemd as PID 1 nor systemd-analyze: the unit was not checked");
    }

    // A local edit of the conffile survives a reinstall and `dpkg -r`; `--purge` removes it.
    let edited = format!(
        "{}\n# edited by the package test\n",
        std::fs::read_to_string(POLICY).unwrap()
    );
    std::fs::write(POLICY, &edited).unwrap();
    run(Command::new("dpkg")
        .args(["-i", "--force-confold", &deb])
        .env("DEBIAN_FRONTEND", "noninteractive"));
    assert_eq!(std::fs::read_to_string(POLICY).unwrap(), edited);
    run(Command::new("dpkg").args(["-r", "warden"]));
    assert!(!Path::new("/usr/bin/warden").exists());
    assert!(!Path::new("/usr/bin/warden-sandbox-init").exists());
    assert_eq!(std::fs::read_to_string(POLICY).unwrap(), edited);
    run(Command::new("dpkg").args(["--purge", "warden"]));
    assert!(!Path::new(POLICY).exists());
}
