//! An approval grants what it names, and only that (DESIGN.md, "Runtime enforcement: the
//! granted tier"), end to end with a real `warden serve`, `warden run`, the async worker and the
//! real sandbox: an approved write outside the workspace lands at the path the decision named
//! while a second outside path the same command writes (through a path only known at run time)
//! stays read-only; the workspace's `.env` and `*.pem` are unreadable to an `auto` script and
//! `.env` is readable to an approved `cat .env`; a failed approved run is not reported as run.
//!
//! Before: the governor left the sandbox profile's grant fields empty, so the approved outside
//! write failed with "Read-only file system" while the worker reported `ran: true`, and
//! `python3 r.py` printed `.env` at tier `auto`.

#![cfg(target_os = "linux")]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

#[path = "support/serve.rs"]
mod serve;

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");
const ADMIN: &str = "wdn_test_admin_token_grants_0123456789";

/// A workspace (a git repository) and a directory outside it, both outside `/tmp` (scratch to
/// the default policy) and outside the home directory (invisible in the sandbox), with a
/// running approval server, an agent token and an approver in the fallback group.
struct Setup {
    _root: tempfile::TempDir,
    _outside_root: tempfile::TempDir,
    home: PathBuf,
    ws: PathBuf,
    outside: PathBuf,
    server: serve::Running,
    agent: String,
    alice: String,
}

fn setup() -> Setup {
    let tmp = env!("CARGO_TARGET_TMPDIR");
    let root = tempfile::Builder::new()
        .prefix("grants-")
        .tempdir_in(tmp)
        .expect("tempdir");
    let home = root.path().join("home");
    let ws = root.path().join("ws");
    std::fs::create_dir_all(&home).expect("home");
    std::fs::create_dir_all(&ws).expect("ws");
    let init = Command::new("git")
        .args(["init", "-q", "."])
        .current_dir(&ws)
        .output()
        .expect("git");
    assert!(init.status.success());
    std::fs::create_dir_all(ws.join(".warden")).expect(".warden");
    std::fs::write(
        ws.join(".warden/policy.toml"),
        "version = 1\n[network]\ndiscover_registries = false\ndiscover_git_remotes = false\n\
         forges = false\n",
    )
    .expect("policy");
    let outside_root = tempfile::Builder::new()
        .prefix("grants-outside-")
        .tempdir_in(tmp)
        .expect("tempdir");
    let outside = outside_root.path().canonicalize().expect("canonical");
    let server_dir = root.path().join("server");
    std::fs::create_dir_all(&server_dir).expect("server dir");
    let server = serve::serve(
        &server_dir,
        ADMIN,
        ["--db", "sqlite:approvals.db", "--listen", "127.0.0.1:0"],
    );
    let agent = serve::create_token(&server.url, ADMIN, "agent", "bot", "");
    let alice = serve::create_token(
        &server.url,
        ADMIN,
        "approver",
        "alice",
        "maintainers,security,admins",
    );
    Setup {
        _root: root,
        _outside_root: outside_root,
        home,
        ws: ws.canonicalize().expect("canonical"),
        outside,
        server,
        agent,
        alice,
    }
}

impl Setup {
    /// `warden ARGS` in the workspace, as the agent (through the server when `server`).
    fn warden(&self, args: &[&str], server: bool) -> Command {
        let mut c = Command::new(WARDEN);
        c.args(args)
            .current_dir(&self.ws)
            .env("HOME", &self.home)
            .env_remove("WARDEN_ORG_POLICY")
            .env_remove("WARDEN_SERVER")
            .env_remove("WARDEN_TOKEN")
            .stdin(Stdio::null());
        if server {
            c.env("WARDEN_SERVER", &self.server.url)
                .env("WARDEN_TOKEN", &self.agent);
        }
        c
    }

    fn approvals(&self, token: &str, args: &[&str]) -> Output {
        serve::approvals_cli(&self.server.url, token, args)
            .current_dir(&self.ws)
            .env("HOME", &self.home)
            .output()
            .expect("warden approvals")
    }

    /// The ids of the pending requests.
    fn pending(&self) -> Vec<String> {
        let o = self.approvals(&self.alice, &["--json", "list"]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
        v.as_array()
            .expect("array")
            .iter()
            .map(|r| r["id"].as_str().expect("id").to_owned())
            .collect()
    }

    fn wait_pending(&self) -> String {
        let t0 = Instant::now();
        loop {
            if let Some(id) = self.pending().into_iter().next() {
                return id;
            }
            assert!(t0.elapsed() < Duration::from_secs(30), "no pending request");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn approve(&self, id: &str) {
        let o = self.approvals(&self.alice, &["approve", id]);
        assert!(o.status.success(), "{}", text(&o.stderr));
    }

    /// The server's status of request `id` (with the worker's outcome).
    fn status(&self, id: &str) -> serde_json::Value {
        let o = self.approvals(&self.agent, &["--json", "status", id]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        serde_json::from_slice(&o.stdout).expect("json")
    }

    /// `warden run -- sh -c SCRIPT` through the server for a `sync` action: it waits while
    /// alice approves, then runs. Its output.
    fn approved_sync(&self, script: &str) -> Output {
        let child = self
            .warden(&["run", "--", "sh", "-c", script], true)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("warden run");
        let id = self.wait_pending();
        self.approve(&id);
        wait_output(child, Duration::from_secs(60))
    }

    /// `warden run -- ARGV` through the server for an `async` action: deferred (75), then
    /// approved by alice and run by the worker. Returns the request id and the worker's output.
    fn approved_async(&self, argv: &[&str]) -> (String, Output) {
        let mut args = vec!["run", "--"];
        args.extend_from_slice(argv);
        let o = self.warden(&args, true).output().expect("warden run");
        assert_eq!(o.status.code(), Some(75), "{}", text(&o.stderr));
        let id = self.wait_pending();
        assert!(text(&o.stderr).contains(&id), "{}", text(&o.stderr));
        self.approve(&id);
        let worker = serve::approvals_cli(&self.server.url, &self.agent, &["worker", "--once"])
            .current_dir(&self.ws)
            .env("HOME", &self.home)
            .env_remove("WARDEN_ORG_POLICY")
            .output()
            .expect("worker");
        assert!(worker.status.success(), "{}", text(&worker.stderr));
        (id, worker)
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// The approved `sh -c 'echo x >> OUT/out.txt; …'` lands at the named path; the second path,
/// written through a variable the classifier cannot see, never reaches the host (while the named
/// file is new, the directory is an overlay for the run and the other write is discarded with a
/// warning; once it exists, the other write fails); nothing else in the directory is created.
#[test]
fn an_approved_outside_write_lands_at_the_named_path_only() {
    let s = setup();
    let out = s.outside.join("out.txt");
    let other = s.outside.join("other.txt");
    std::fs::write(s.ws.join("dest"), other.to_str().expect("utf8")).expect("dest");
    let script = format!(
        "echo x >> {out}; echo \"named=$?\"; p=$(cat dest); echo y >> \"$p\"; echo \"other=$?\"",
        out = out.display(),
    );
    let (id, worker) = s.approved_async(&["sh", "-c", &script]);
    let said = text(&worker.stdout);
    assert!(said.contains("named=0"), "{said}\n{}", text(&worker.stderr));
    assert!(
        text(&worker.stderr).contains(&format!("not kept: {}", other.display())),
        "{}",
        text(&worker.stderr)
    );
    assert_eq!(std::fs::read_to_string(&out).expect("out.txt"), "x\n");
    // Nothing else appeared in the directory.
    let names: Vec<_> = std::fs::read_dir(&s.outside)
        .expect("outside")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["out.txt"]);
    let status = s.status(&id);
    assert_eq!(status["outcome"]["ran"], true, "{status}");
    assert_eq!(status["outcome"]["exit_code"], 0, "{status}");
    let warnings = status["outcome"]["warnings"].to_string();
    assert!(warnings.contains("other.txt"), "{status}");

    // `warden sandbox` (isolation of a command its caller cleared: the agent hook runs an
    // approved Bash call this way) opens up the same named path and nothing else.
    let o = s
        .warden(&["sandbox", "--", "sh", "-c", &script], false)
        .output()
        .expect("warden sandbox");
    let said = text(&o.stdout);
    assert!(said.contains("named=0"), "{said}\n{}", text(&o.stderr));
    assert!(!said.contains("other=0"), "{said}");
    assert_eq!(std::fs::read_to_string(&out).expect("out.txt"), "x\nx\n");
    assert!(!other.exists());
}

/// An approved command that creates a new directory outside the workspace creates it as the
/// command does: before, the sandbox put an empty *file* at the named path to open it up, so the
/// approved `git clone SRC OUT/clone` failed ("already exists") and `mkdir OUT/made` failed
/// ("File exists"), each leaving the empty file behind.
#[test]
fn an_approved_new_directory_outside_is_created_by_the_command() {
    let s = setup();
    let src = s.home.parent().expect("root").join("src");
    std::fs::create_dir_all(&src).expect("src");
    let git = |dir: &std::path::Path, args: &[&str]| {
        let o = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args)
            .current_dir(dir)
            .env("HOME", &s.home)
            .output()
            .expect("git");
        assert!(o.status.success(), "{}", text(&o.stderr));
    };
    git(&src, &["init", "-q", "."]);
    std::fs::write(src.join("README"), "from the source\n").expect("README");
    git(&src, &["add", "README"]);
    git(&src, &["commit", "-qm", "one"]);

    let clone = s.outside.join("clone");
    let (id, worker) = s.approved_async(&[
        "git",
        "clone",
        "-q",
        src.to_str().expect("utf8"),
        clone.to_str().expect("utf8"),
    ]);
    let status = s.status(&id);
    assert_eq!(
        status["outcome"]["exit_code"],
        0,
        "{status}\n{}",
        text(&worker.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(clone.join("README")).expect("cloned"),
        "from the source\n"
    );
    assert!(clone.join(".git").is_dir());

    let made = s.outside.join("made");
    let (id, worker) = s.approved_async(&["mkdir", made.to_str().expect("utf8")]);
    let status = s.status(&id);
    assert_eq!(
        status["outcome"]["exit_code"],
        0,
        "{status}\n{}",
        text(&worker.stderr)
    );
    assert!(made.is_dir());
    let mut names: Vec<_> = std::fs::read_dir(&s.outside)
        .expect("outside")
        .map(|e| e.expect("entry").file_name())
        .collect();
    names.sort();
    assert_eq!(names, ["clone", "made"]);
}

/// An approved run that fails is reported as failed, not `ran: true`: the server's outcome says
/// so, with the status.
#[test]
fn a_failed_approved_run_is_not_reported_as_run() {
    let s = setup();
    let out = s.outside.join("fails.txt");
    let script = format!("echo x >> {}; exit 3", out.display());
    let (id, worker) = s.approved_async(&["sh", "-c", &script]);
    let status = s.status(&id);
    assert_eq!(status["outcome"]["ran"], false, "{status}");
    assert_eq!(status["outcome"]["failed"], true, "{status}");
    assert_eq!(status["outcome"]["exit_code"], 3, "{status}");
    assert!(
        text(&worker.stderr).contains("exit status 3"),
        "{}",
        text(&worker.stderr)
    );
    // It did run: the named write landed before the script failed.
    assert_eq!(std::fs::read_to_string(&out).expect("fails.txt"), "x\n");
}

/// The workspace's `.env` and `*.pem` are unreadable to an `auto` Python script and an `auto`
/// shell script reading them with builtins (a `cat` it ran would be judged as an exec of its
/// own: `sync`, refused unattended), while an approved `cat .env` prints it; in that
/// approved run the `.pem` the decision did not name stays masked.
#[test]
fn workspace_secrets_are_masked_unless_the_approved_decision_reads_them() {
    let s = setup();
    std::fs::write(s.ws.join(".env"), "API_KEY=canary-env-secret\n").expect(".env");
    std::fs::create_dir_all(s.ws.join("deploy")).expect("deploy");
    std::fs::write(s.ws.join("deploy/server.pem"), "canary-pem-secret\n").expect("pem");
    std::fs::write(s.ws.join(".env.example"), "API_KEY=changeme\n").expect("example");
    std::fs::write(
        s.ws.join("r.py"),
        "for f in ['.env', 'deploy/server.pem', '.env.example']:\n    \
         try:\n        print(f, repr(open(f).read()))\n    \
         except OSError as e:\n        print(f, 'unreadable', e.errno)\n",
    )
    .expect("r.py");
    // The names come from a file: a loop over names the script spells out is read by the
    // lookahead, which sees `.env` read (sync, refused unattended).
    std::fs::write(
        s.ws.join("names.txt"),
        ".env deploy/server.pem .env.example\n",
    )
    .expect("names");
    std::fs::write(
        s.ws.join("r.sh"),
        "for f in $(cat names.txt); do\n  \
         while IFS= read -r l; do echo \"$l\"; done < \"$f\" || echo \"$f unreadable\"\n\
         done\n",
    )
    .expect("r.sh");

    for argv in [["python3", "r.py"], ["sh", "r.sh"]] {
        let o = s
            .warden(&["run", "--", argv[0], argv[1]], false)
            .output()
            .expect("warden run");
        let out = text(&o.stdout);
        assert_eq!(o.status.code(), Some(0), "{argv:?}: {}", text(&o.stderr));
        assert!(!out.contains("canary-env-secret"), "{argv:?}: {out}");
        assert!(!out.contains("canary-pem-secret"), "{argv:?}: {out}");
        assert!(out.contains("changeme"), "{argv:?}: {out}");
    }

    // `cat .env` is sync: `warden run` waits for the server, alice approves, it runs and
    // prints the file. The script it also runs (auto, nested) still cannot read the `.pem`.
    let o = s.approved_sync("cat .env; python3 r.py");
    let out = text(&o.stdout);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o.stderr));
    assert!(out.starts_with("API_KEY=canary-env-secret\n"), "{out}");
    assert!(out.contains(".env 'API_KEY=canary-env-secret\\n'"), "{out}");
    assert!(!out.contains("canary-pem-secret"), "{out}");
}

/// Configuration that programs on the host run code from (`.claude/`, `.mcp.json`, `.vscode/`)
/// is read-only to an `auto` action; an approved `sync` command that names a write of it writes
/// exactly the entries it named: the existing `.claude/settings.json` and a new `.mcp.json`
/// (kept, not moved aside), while `.vscode/tasks.json`, written through a path the classifier
/// cannot see, stays as it was.
#[test]
fn an_approved_write_of_code_running_configuration_lands_where_named_only() {
    let s = setup();
    std::fs::create_dir_all(s.ws.join(".claude")).expect(".claude");
    std::fs::create_dir_all(s.ws.join(".vscode")).expect(".vscode");
    std::fs::write(s.ws.join(".claude/settings.json"), "{}\n").expect("settings");
    std::fs::write(s.ws.join(".vscode/tasks.json"), "{}\n").expect("tasks");
    std::fs::write(s.ws.join("dest"), ".vscode/tasks.json").expect("dest");
    let script = "echo '{\"permissions\":{}}' > .claude/settings.json; echo '{\"mcpServers\":{}}' > .mcp.json; \
                  p=$(cat dest); echo '{\"tasks\":[1]}' > \"$p\"; echo \"other=$?\"";
    let o = s.approved_sync(script);
    let said = text(&o.stdout);
    assert!(!said.contains("other=0"), "{said}\n{}", text(&o.stderr));
    let read = |p: &str| std::fs::read_to_string(s.ws.join(p)).unwrap_or_default();
    assert_eq!(read(".claude/settings.json"), "{\"permissions\":{}}\n");
    assert_eq!(read(".mcp.json"), "{\"mcpServers\":{}}\n");
    assert_eq!(read(".vscode/tasks.json"), "{}\n");
    assert!(!s.ws.join(".mcp.json.warden-quarantined").exists());
    assert!(
        !text(&o.stderr).contains("moved aside"),
        "{}",
        text(&o.stderr)
    );
}

/// The child's output, killing it after `limit`.
fn wait_output(mut child: std::process::Child, limit: Duration) -> Output {
    let t0 = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if t0.elapsed() > limit {
            let _ = child.kill();
            panic!("warden run did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().expect("output")
}
