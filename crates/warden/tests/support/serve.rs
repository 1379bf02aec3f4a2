//! A real `warden serve` for integration tests, shared so every test starts it, reads its URL and
//! stops it the same way: spawned with the admin token, stderr read until
//! "warden serve: listening on URL" (the rest drained on a thread so the server never blocks on
//! a full pipe), killed and reaped on drop. Also the `warden approvals` command line that talks to
//! it and token creation through that command line. Every process started here gets a temporary
//! HOME of the test binary's own ([`test_home`]), so the anchors a seal writes under
//! `~/.config/warden/heads` (the worker's runs, the server's audit log) never reach the real one.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

/// A HOME for every Warden process of this test binary: empty, under the target's temporary
/// directory, removed with it (kept for the process's lifetime, shared by its tests).
pub fn test_home() -> &'static Path {
    static HOME: std::sync::OnceLock<tempfile::TempDir> = std::sync::OnceLock::new();
    HOME.get_or_init(|| {
        tempfile::Builder::new()
            .prefix("serve-home-")
            .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
            .expect("temporary HOME")
    })
    .path()
}

/// A server process that printed where it listens, killed and reaped when dropped.
pub struct Running {
    child: Child,
    /// What followed the prefix on its "listening on" line: for `warden serve` the base URL,
    /// e.g. `http://127.0.0.1:40123`.
    pub url: String,
}

/// `warden serve ARGS` in `dir` with `admin` as its admin token; returns once it listens.
pub fn serve<A: AsRef<OsStr>>(
    dir: &Path,
    admin: &str,
    args: impl IntoIterator<Item = A>,
) -> Running {
    let mut cmd = Command::new(WARDEN);
    cmd.current_dir(dir)
        .arg("serve")
        .args(args)
        .env("WARDEN_ADMIN_TOKEN", admin)
        .env("HOME", test_home())
        .stdout(Stdio::null());
    start_and_read(cmd, "warden serve: listening on ")
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns `cmd` and reads its stderr until a line starting with `prefix`, whose rest becomes
/// the returned `url`. The remaining stderr is drained on a thread.
pub fn start_and_read(mut cmd: Command, prefix: &str) -> Running {
    let mut child = cmd.stderr(Stdio::piped()).spawn().expect("spawn");
    let mut err = BufReader::new(child.stderr.take().expect("stderr"));
    let mut seen = String::new();
    let mut found = None;
    for _ in 0..50 {
        let mut line = String::new();
        if err.read_line(&mut line).expect("read stderr") == 0 {
            break;
        }
        seen.push_str(&line);
        if let Some(rest) = line.trim().strip_prefix(prefix) {
            found = Some(rest.to_owned());
            break;
        }
    }
    let Some(found) = found else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("did not start: no `{prefix}` line; stderr: {seen}");
    };
    std::thread::spawn(move || std::io::copy(&mut err, &mut std::io::sink()));
    Running { child, url: found }
}

/// `warden approvals ARGS` against the server at `url`, authenticated with `token`.
pub fn approvals_cli(url: &str, token: &str, args: &[&str]) -> Command {
    let mut c = Command::new(WARDEN);
    c.arg("approvals")
        .args(args)
        .env("WARDEN_SERVER", url)
        .env("WARDEN_TOKEN", token)
        .env("HOME", test_home());
    c
}

/// A new API token made by `warden approvals token create` with the admin token.
pub fn create_token(url: &str, admin: &str, role: &str, name: &str, groups: &str) -> String {
    let o = approvals_cli(
        url,
        admin,
        &[
            "token", "create", "--role", role, "--name", name, "--groups", groups,
        ],
    )
    .output()
    .expect("warden approvals token create");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout)
        .expect("utf8 token")
        .trim()
        .to_owned()
}
