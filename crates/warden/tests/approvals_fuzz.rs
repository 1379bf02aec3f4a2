//! The approval server's HTTP API fuzzed from its own OpenAPI document with schemathesis (from
//! PyPI; scripts/setup-approvals.sh installs it in /opt/warden-schemathesis), against a real
//! `warden serve`: every check schemathesis has (no 5xx, status codes, content types and bodies
//! as documented, invalid input refused, valid input accepted, auth enforced, stateful
//! sequences through the links it infers) must pass, and the server must still be up, without a
//! panic, at the end. Bounded in time: `WARDEN_FUZZ_SECS` (default 40) seconds of generation.

use std::io::Read;
use std::process::{Command, Stdio};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const ADMIN: &str = "wdn_fuzz_admin_token_0123456789";
/// Every category routes to `security` with a 1 s timeout, so the requests the fuzzer files
/// expire quickly and its long-polls (`/wait?timeout=59`) end within a second or two.
const POLICY: &str = r#"
[approvals.groups.security]
members = []
[[approvals.route]]
category = ["*"]
groups = ["security"]
timeout = "1s"
[approvals.slack]
signing_secret_env = "SLACK_SIGNING_SECRET"
"#;

fn schemathesis() -> std::path::PathBuf {
    let st = std::env::var_os("WARDEN_SCHEMATHESIS")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "/opt/warden-schemathesis/bin/st".into());
    assert!(
        st.exists(),
        "schemathesis not found at {}: run scripts/setup-approvals.sh",
        st.display()
    );
    st
}

#[test]
fn api_fuzzed_from_its_openapi_document_with_schemathesis() {
    let st = schemathesis();
    let secs: u64 = std::env::var("WARDEN_FUZZ_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(40);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.toml"), POLICY).unwrap();
    let mut server = Command::new(WARDEN)
        .current_dir(dir.path())
        .args(["serve", "--db", "sqlite:fuzz.db", "--listen", "127.0.0.1:0"])
        .args(["--policy", "policy.toml", "--audit-log", "audit.jsonl"])
        .env("WARDEN_ADMIN_TOKEN", ADMIN)
        // Its own HOME: the server's anchors (~/.config/warden/heads) stay out of the real one.
        .env("HOME", dir.path())
        .env("SLACK_SIGNING_SECRET", "fuzz-signing-secret")
        .env("RUST_BACKTRACE", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut err = server.stderr.take().unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    let url = loop {
        assert_eq!(err.read(&mut byte).unwrap(), 1, "server did not start");
        head.push(byte[0]);
        let text = String::from_utf8_lossy(&head);
        if text.ends_with('\n')
            && let Some(u) = text
                .lines()
                .last()
                .and_then(|l| l.split("listening on ").nth(1))
        {
            break u.trim().to_owned();
        }
    };
    // Collect the server's stderr in the background to look for panics afterwards.
    let log = std::thread::spawn(move || {
        let mut rest = String::new();
        let _ = err.read_to_string(&mut rest);
        rest
    });

    let out = Command::new(&st)
        .current_dir(dir.path())
        .arg("run")
        .arg(format!("{url}/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {ADMIN}")])
        .args(["--checks", "all"])
        // Server-sent events never end: a fuzzer reading the body would only time out. The
        // stream is exercised by the web UI test.
        .args(["--exclude-path", "/events"])
        .args(["--max-examples", "25", "--workers", "1"])
        // `GET /requests/{id}/wait` long-polls for as long as it is asked, at most 60 s (30 by
        // default): a shorter client timeout failed the run whenever the fuzzer waited on a
        // pending request.
        .args(["--max-time", &secs.to_string(), "--request-timeout", "65"])
        // The same cases on every run of the suite (its fixed seed, scripts/test.sh), another
        // set with another seed.
        .args(
            std::env::var("PROPTEST_RNG_SEED")
                .ok()
                .filter(|s| s.parse::<u64>().is_ok())
                .map(|s| vec!["--seed".to_owned(), s])
                .unwrap_or_default(),
        )
        .args(["--output-truncate", "true"])
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let alive = server.try_wait().unwrap().is_none();
    let _ = server.kill();
    let _ = server.wait();
    let server_log = log.join().unwrap();
    assert!(
        !server_log.contains("panicked"),
        "the server panicked:\n{server_log}"
    );
    assert!(alive, "the server died during fuzzing:\n{server_log}");
    assert!(
        out.status.success(),
        "schemathesis found problems (exit {:?}):\n{report}",
        out.status.code()
    );
    // It really ran: operations (the Slack and single sign-on endpoints included) were tested and
    // test cases generated.
    assert!(report.contains("Tested: 14"), "{report}");
    assert!(report.contains("generated"), "{report}");
    // What the fuzzer filed was audited, and the log is a valid hash chain.
    let o = Command::new(WARDEN)
        .current_dir(dir.path())
        .env("HOME", dir.path())
        .args(["audit", "verify", "--log", "audit.jsonl"])
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}
