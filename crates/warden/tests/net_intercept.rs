//! HTTPS interception inside the real sandbox: a loopback HTTPS server (its certificate from a
//! test CA the governance file names in `[network] upstream_ca`, git smart HTTP through the
//! real `git http-backend`) reached by curl, Python and git running in `warden sandbox` /
//! `warden run`, which trust the run's CA only through the mounted bundle; the requests are
//! recorded with method, path, service and handling.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

struct Env {
    root: tempfile::TempDir,
    ws: PathBuf,
    port: u16,
    server: Child,
}

impl Drop for Env {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

fn run(cmd: &mut Command) -> Output {
    let o = cmd.output().expect("runs");
    assert!(
        o.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

fn git(dir: &Path, args: &[&str]) {
    run(Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid"));
}

/// A test CA and a leaf for 127.0.0.1 (openssl), a bare repository, and the HTTPS server.
fn setup() -> Option<Env> {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("skipped: no openssl to make the test certificates");
        return None;
    }
    let root = tempfile::Builder::new()
        .prefix("net-intercept-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir");
    let r = root.path();
    let ws = r.join("ws");
    std::fs::create_dir_all(ws.join(".git")).expect("mkdir");
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    run(Command::new("openssl")
        .current_dir(r)
        .args(["req", "-x509"])
        .args(ec)
        .args([
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=upstream test CA",
        ]));
    run(Command::new("openssl")
        .current_dir(r)
        .args(["req"])
        .args(ec)
        .args([
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=127.0.0.1",
        ]));
    std::fs::write(r.join("ext"), "subjectAltName=IP:127.0.0.1\n").expect("write");
    run(Command::new("openssl").current_dir(r).args([
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.pem",
        "-days",
        "2",
        "-extfile",
        "ext",
    ]));

    let src = r.join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    git(&src, &["init", "-q", "-b", "main"]);
    std::fs::write(src.join("README"), "cloned over intercepted TLS\n").expect("write");
    git(&src, &["add", "README"]);
    git(&src, &["commit", "-q", "-m", "first"]);
    let srv = r.join("srv");
    std::fs::create_dir_all(srv.join("repos")).expect("mkdir");
    git(r, &["clone", "-q", "--bare", "src", "srv/repos/repo.git"]);

    let mut server = Command::new("python3")
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/tls_git_server.py"
        ))
        .arg(&srv)
        .arg(r.join("leaf.pem"))
        .arg(r.join("leaf.key"))
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    BufReader::new(server.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("port");
    let port = line.trim().parse().expect("port number");
    Some(Env {
        root,
        ws,
        port,
        server,
    })
}

impl Env {
    /// A governance file allowing the server; `trust_upstream` names the test CA.
    fn policy(&self, trust_upstream: bool) -> PathBuf {
        self.policy_with(trust_upstream, "")
    }

    fn policy_with(&self, trust_upstream: bool, more: &str) -> PathBuf {
        let p = self.root.path().join("policy.toml");
        let ca = if trust_upstream {
            format!(
                "upstream_ca = [\"{}\"]\n",
                self.root.path().join("ca.pem").display()
            )
        } else {
            String::new()
        };
        std::fs::write(
            &p,
            format!(
                "[network]\ndiscover_registries = false\ndiscover_git_remotes = false\nforges = false\n\
                 allow = [\"127.0.0.1:{}\"]\nallow_private = [\"127.0.0.1\"]\n{ca}{more}",
                self.port
            ),
        )
        .expect("write");
        p
    }

    /// `warden SUB --policy POLICY -- sh script.sh` with `script` (and the sandbox's NO_PROXY,
    /// which names 127.0.0.1, emptied) in a file the classifier does not read.
    fn warden(&self, sub: &str, policy: &Path, script: &str) -> Output {
        self.warden_env(sub, policy, script, &[])
    }

    fn warden_env(&self, sub: &str, policy: &Path, script: &str, env: &[(&str, &str)]) -> Output {
        std::fs::write(
            self.ws.join("script.sh"),
            format!("export NO_PROXY= no_proxy=\n{script}\n"),
        )
        .expect("write");
        Command::new(WARDEN)
            .args([sub, "--policy"])
            .arg(policy)
            .args(["--", "sh", "script.sh"])
            .current_dir(&self.ws)
            .env("HOME", self.root.path())
            .env_remove("WARDEN_ORG_POLICY")
            .env_remove("SSL_CERT_FILE")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .output()
            .expect("warden")
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    fn requests(&self) -> String {
        std::fs::read_to_string(self.root.path().join("srv/requests.log")).unwrap_or_default()
    }
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn clients_inside_the_sandbox_trust_the_run_ca_and_reach_an_https_upstream() {
    let Some(e) = setup() else { return };
    let p = e.policy(true);
    let hello = e.url("/hello");
    let script = format!(
        "echo \"$SSL_CERT_FILE $GIT_SSL_CAINFO $NODE_EXTRA_CA_CERTS\"; \
         curl -sS {hello}; \
         curl -sS --cacert {SYSTEM_BUNDLE} {hello}; \
         python3 -c 'import sys,urllib.request as u; sys.stdout.write(u.urlopen(sys.argv[1]).read().decode())' {hello}; \
         grep -c 'BEGIN CERTIFICATE' {SYSTEM_BUNDLE}"
    );
    let o = e.warden("sandbox", &p, &script);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        "/run/warden-ca.pem /run/warden-ca.pem /run/warden-ca.pem"
    );
    assert_eq!(&lines[1..4], ["hello over intercepted TLS"; 3], "{out}");
    // Inside, the standard bundle holds exactly one certificate more than the host's: the run's
    // CA, trusted there and nowhere else.
    let host_count = std::fs::read_to_string(SYSTEM_BUNDLE)
        .expect("system bundle")
        .matches("BEGIN CERTIFICATE")
        .count();
    assert_eq!(lines[4], (host_count + 1).to_string());
    // Outside the sandbox the run's CA is not trusted: the host bundle is unchanged, and the
    // upstream's own certificate is what a direct client sees.
    assert!(
        !std::fs::read_to_string(SYSTEM_BUNDLE)
            .expect("bundle")
            .contains("Warden")
    );
}

#[test]
fn an_upstream_the_proxy_cannot_verify_is_refused_inside_with_the_reason() {
    let Some(e) = setup() else { return };
    let p = e.policy(false);
    let o = e.warden("sandbox", &p, &format!("curl -sS {}", e.url("/hello")));
    let (out, err) = text(&o);
    assert!(out.contains("failed TLS verification"), "{out}{err}");
    assert!(!out.contains("hello over"), "{out}");
    assert_eq!(e.requests(), "", "nothing reached the upstream");
}

#[test]
fn git_clone_and_push_over_intercepted_https_are_recorded_as_requests() {
    let Some(e) = setup() else { return };
    // The push runs inside an `auto` action (`sh script.sh`): the runtime layers would refuse it
    // (exec and request, tier async above the granted auto; see runtime_exec.rs). This workspace
    // declares pushes to its loopback test forge `auto`, so the push runs and its intercepted
    // requests are what this test checks.
    let p = e.policy_with(
        true,
        "[[rule]]\nid = \"test.push-to-test-forge\"\ntier = \"auto\"\ncategory = \"vcs-publish\"\n\
         reason = \"pushes to the loopback test forge\"\noverride = true\nprogram = [\"git\"]\n\
         subcommand = [\"push\"]\n\
         [[rule]]\nid = \"test.push-to-test-forge-http\"\ntier = \"auto\"\ncategory = \"vcs-publish\"\n\
         reason = \"pushes to the loopback test forge\"\noverride = true\nservice = [\"git-receive-pack\"]\n",
    );
    let repo = e.url("/git/repo.git");
    let script = format!(
        "git clone -q {repo} c && cat c/README && cd c && echo more > more.txt && git add more.txt && \
         git -c user.name=t -c user.email=t@example.invalid commit -qm second && git push -q origin HEAD:main"
    );
    let o = e.warden("run", &p, &script);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert_eq!(out, "cloned over intercepted TLS\n");
    // The push arrived at the server.
    let log = Command::new("git")
        .args(["log", "--format=%s", "main"])
        .current_dir(e.root.path().join("srv/repos/repo.git"))
        .output()
        .expect("git log");
    assert_eq!(String::from_utf8_lossy(&log.stdout), "second\nfirst\n");
    let requests = e.requests();
    assert!(
        requests.contains("POST /git/repo.git/git-receive-pack"),
        "{requests}"
    );

    // The audit log holds each request with its method, path, service and handling.
    let audit = std::fs::read_to_string(e.ws.join(".warden/audit/audit.jsonl")).expect("audit log");
    let network: Vec<serde_json::Value> = audit
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["kind"] == "network")
        .collect();
    let has = |method: &str, service: &str| {
        network.iter().any(|r| {
            let b = &r["body"];
            let b = if b.is_null() { r } else { b };
            b["method"] == method
                && b["service"] == service
                && b["handling"] == "intercepted"
                && b["path"]
                    .as_str()
                    .is_some_and(|p| p.starts_with("/git/repo.git/"))
        })
    };
    assert!(has("POST", "git-upload-pack"), "{network:#?}");
    assert!(has("POST", "git-receive-pack"), "{network:#?}");
    assert!(has("GET", "git-receive-pack"), "{network:#?}");

    // `warden report` counts the requests by host and method.
    let o = Command::new(WARDEN)
        .args(["report", "--json"])
        .current_dir(&e.ws)
        .env("HOME", e.root.path())
        .output()
        .expect("warden report");
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    let host = report["network"]
        .as_array()
        .and_then(|hosts| hosts.iter().find(|h| h["host"] == "127.0.0.1"))
        .expect("the server's host")
        .clone();
    assert!(
        host["methods"]["POST"]["allowed"].as_u64() >= Some(2),
        "{host}"
    );
    assert!(
        host["methods"]["GET"]["allowed"].as_u64() >= Some(2),
        "{host}"
    );
    assert_eq!(
        host["methods"]["tunnel"]["allowed"].as_u64(),
        Some(2),
        "{host}"
    );
}

#[test]
fn a_brokered_credential_reaches_its_host_and_never_the_sandbox() {
    let Some(e) = setup() else { return };
    const SECRET: &str = "ghp_brokeredsecretbrokeredsecret012345";
    let p = e.policy_with(
        true,
        &format!(
            "[[network.credential]]\nid = \"forge\"\nhosts = [\"127.0.0.1:{}\"]\nenv = \"GH_TOKEN\"\n",
            e.port
        ),
    );
    let script = format!(
        "echo \"$GH_TOKEN\"; \
         cat /proc/[0-9]*/environ 2>/dev/null | tr '\\0' '\\n' | grep -c brokeredsecret; \
         grep -rl brokeredsecret /run /tmp /etc 2>/dev/null | wc -l; \
         curl -sS -H \"Authorization: Bearer $GH_TOKEN\" {}",
        e.url("/api")
    );
    let o = e.warden_env("sandbox", &p, &script, &[("GH_TOKEN", SECRET)]);
    let (out, err) = text(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.len() >= 4, "{out}{err}");
    assert!(
        lines[0].starts_with("ghp_") && lines[0].len() == SECRET.len(),
        "{out}"
    );
    assert_ne!(lines[0], SECRET);
    assert_eq!(
        lines[1], "0",
        "the secret is in no environment inside: {out}"
    );
    assert_eq!(lines[2], "0", "nor in a file inside: {out}");
    assert_eq!(lines[3], "GET ", "{out}{err}");
    let requests = e.requests();
    assert!(
        requests.contains(&format!("auth=Bearer {SECRET}")),
        "the server got the real secret: {requests}"
    );
}
