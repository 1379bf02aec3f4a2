//! `warden serve` never echoes an admin token the operator supplied (secrets stay off the
//! terminal); only a token it generated itself is shown, once.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

/// Start a server, wait until it listens, stop it, and give back what it printed on stdout.
fn stdout_of_serve(admin_token: Option<&str>) -> String {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(WARDEN);
    cmd.current_dir(dir.path())
        .args(["serve", "--db", "sqlite:a.db", "--listen", "127.0.0.1:0"])
        .env_remove("WARDEN_ADMIN_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(t) = admin_token {
        cmd.env("WARDEN_ADMIN_TOKEN", t);
    }
    let mut child = cmd.spawn().unwrap();
    let mut err = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        if err.read_line(&mut line).unwrap() == 0 {
            break;
        }
        seen.push_str(&line);
        if line.contains("listening on") {
            break;
        }
    }
    assert!(
        seen.contains("listening on"),
        "server did not start: {seen}"
    );
    child.kill().unwrap();
    child.wait().unwrap();
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    out + &seen
}

#[test]
fn a_supplied_admin_token_is_never_printed() {
    let secret = "wdn_operator_chosen_secret_8c1d2e";
    let printed = stdout_of_serve(Some(secret));
    assert!(!printed.contains(secret), "the token was echoed: {printed}");
    assert!(printed.contains("admin token: created from"), "{printed}");
}

#[test]
fn a_generated_admin_token_is_shown_once() {
    let printed = stdout_of_serve(None);
    let token = printed
        .lines()
        .find_map(|l| l.strip_prefix("admin token (shown once): "))
        .unwrap_or_else(|| panic!("no generated token shown: {printed}"));
    assert!(token.len() >= 20, "{token}");
}
