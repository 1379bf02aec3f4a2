//! `warden run` end to end: the tier decides (auto runs, deny exits 77 without running, async is
//! deferred with 75 and sync denied with 77 when unattended, a terminal prompt can grant or refuse),
//! output streams through with the command's status, network goes through the egress proxy (a
//! real curl and a real `git clone` over HTTP to a loopback server allowed by the governance
//! file), a kernel missing a required feature is refused unless `--allow-degraded`, and the
//! sandbox works for an unprivileged user too.

#![cfg(target_os = "linux")]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const WARDEN: &str = env!("CARGO_BIN_EXE_warden");

struct Ws {
    root: tempfile::TempDir,
    ws: PathBuf,
}

fn ws() -> Ws {
    let root = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .expect("tempdir");
    let ws = root.path().join("ws");
    std::fs::create_dir_all(ws.join(".git")).expect("mkdir");
    Ws { root, ws }
}

impl Ws {
    fn policy(&self, text: &str) -> PathBuf {
        let p = self.root.path().join("policy.toml");
        let base = "[network]\ndiscover_registries = false\ndiscover_git_remotes = false\nforges = false\n";
        std::fs::write(&p, format!("{base}{text}")).expect("write");
        p
    }

    fn warden(&self, args: &[&str]) -> Command {
        let mut c = Command::new(WARDEN);
        c.args(args)
            .current_dir(&self.ws)
            .env("HOME", self.root.path())
            .env_remove("WARDEN_ORG_POLICY")
            .stdin(Stdio::null());
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.warden(args).output().expect("warden")
    }

    /// `warden SUBCOMMAND --policy POLICY REST...`.
    fn with_policy(&self, subcommand: &str, policy: &Path, rest: &[&str]) -> Output {
        let mut args = vec![subcommand, "--policy", policy.to_str().expect("utf8")];
        args.extend_from_slice(rest);
        self.run(&args)
    }

    /// `warden run --shell SCRIPT` under the built-in policy.
    fn shell(&self, script: &str) -> Output {
        self.run(&["run", "--shell", script])
    }

    /// `warden ARGS` with Landlock reported missing (documented test hook of warden-sandbox).
    fn without_landlock(&self, args: &[&str]) -> Output {
        self.warden(args)
            .env("WARDEN_SANDBOX_PRETEND_MISSING", "landlock")
            .output()
            .expect("warden")
    }

    /// `curl URL` through `warden run` under `policy`; `noproxy` is curl's `--noproxy` list.
    fn curl(&self, policy: &Path, flags: &str, noproxy: &str, max_secs: &str, url: &str) -> Output {
        let curl = ["curl", flags, "--noproxy", noproxy, "-m", max_secs, url];
        self.with_policy("run", policy, &[&["--"], &curl[..]].concat())
    }
}

/// `o` ended with exit `code` and its stderr says `says`.
fn assert_refused(o: &Output, code: i32, says: &str) {
    assert_eq!(o.status.code(), Some(code), "{}", err(o));
    assert!(err(o).contains(says), "{}", err(o));
}

/// `o` succeeded and printed exactly `stdout`.
fn assert_printed(o: &Output, stdout: &str) {
    assert_eq!(o.status.code(), Some(0), "{}{}", out(o), err(o));
    assert_eq!(out(o), stdout);
}

/// stderr with miette's wrapping and box drawing undone.
fn err(o: &Output) -> String {
    let s = String::from_utf8_lossy(&o.stderr).replace(['│', '×'], " ");
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn out(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn auto_runs_in_the_sandbox_and_passes_output_and_status_through() {
    let w = ws();
    let p = w.policy("");
    let script = "echo out; echo err >&2; echo $WARDEN_SANDBOXED; exit 5";
    let o = w.with_policy("run", &p, &["--", "sh", "-c", script]);
    assert_eq!(o.status.code(), Some(5), "{}", err(&o));
    assert_eq!(out(&o), "out\n1\n");
    assert!(err(&o).contains("err"));
    let o = w.with_policy(
        "run",
        &p,
        &["--shell", "echo shell-ok > made.txt; kill -TERM $$"],
    );
    assert_eq!(o.status.code(), Some(128 + 15), "{}", err(&o));
    assert_eq!(
        std::fs::read_to_string(w.ws.join("made.txt")).expect("made"),
        "shell-ok\n"
    );
}

#[test]
fn deny_exits_77_and_runs_nothing() {
    let w = ws();
    assert_refused(&w.shell("touch marker; rm -rf /"), 77, "denied");
    assert!(!w.ws.join("marker").exists(), "a denied action ran");
}

#[test]
fn unattended_async_is_deferred_and_sync_is_denied() {
    let w = ws();
    assert_refused(
        &w.shell("touch marker; git push origin main"),
        75,
        "deferred",
    );
    let o = w.shell("touch marker; cat ~/.ssh/id_rsa");
    assert_eq!(o.status.code(), Some(77), "{}", err(&o));
    assert!(!w.ws.join("marker").exists(), "an unapproved action ran");
}

/// Lookahead in the governed path: a script run by name is read before anything runs, so a
/// `git push` inside it escalates the whole action (async: deferred, 75) and its first line
/// never runs. The old code classified `bash deploy.sh` alone (`auto`), ran it, and only the
/// runtime exec layer refused the push — after `touch marker` had run.
#[test]
fn a_script_run_by_name_is_read_ahead_and_escalates_before_anything_runs() {
    let w = ws();
    std::fs::write(
        w.ws.join("deploy.sh"),
        "#!/bin/sh\ntouch marker\ngit push origin main\n",
    )
    .expect("write");
    let o = w.run(&["run", "--", "bash", "deploy.sh"]);
    assert_refused(&o, 75, "deferred");
    assert!(err(&o).contains("deploy.sh:3"), "{}", err(&o));
    assert!(
        !w.ws.join("marker").exists(),
        "the script ran before approval"
    );
    // A script that leaves the workspace through a symlink is not read: its own tier (auto).
    let outside = w.root.path().join("outside.sh");
    std::fs::write(&outside, "git push origin main\n").expect("write");
    std::os::unix::fs::symlink(&outside, w.ws.join("link.sh")).expect("symlink");
    let o = w.run(&["check", "--json", "--", "bash", "link.sh"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["tier"], "auto", "{v}");
    assert!(
        v.to_string().contains("resolves outside the workspace"),
        "{v}"
    );
}

/// Drive `warden run` through a pseudo-terminal (util-linux `script`), answering the prompt.
fn with_prompt(w: &Ws, answer: &str, shell: &str) -> Option<Output> {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: `script` (util-linux) is not installed");
        return None;
    }
    let cmd = format!("{WARDEN} run --shell '{shell}'");
    let mut child = Command::new("script")
        .args(["-qefc", &cmd, "/dev/null"])
        .current_dir(&w.ws)
        .env("HOME", w.root.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("script");
    let mut stdin = child.stdin.take().expect("stdin");
    let stdout = child.stdout.take().expect("stdout");
    // Answer once the prompt is shown.
    let answer = answer.to_owned();
    let reader = std::thread::spawn(move || {
        let mut seen = String::new();
        let mut r = BufReader::new(stdout);
        let mut buf = Vec::new();
        let mut answered = false;
        while let Ok(n) = r.read_until(b' ', &mut buf) {
            if n == 0 {
                break;
            }
            seen.push_str(&String::from_utf8_lossy(&buf));
            buf.clear();
            if !answered && seen.contains("[y/N]") {
                answered = true;
                let _ = stdin.write_all(format!("{answer}\n").as_bytes());
                let _ = stdin.flush();
            }
        }
        seen
    });
    let status = child.wait().expect("wait");
    let seen = reader.join().expect("join");
    Some(Output {
        status,
        stdout: seen.into_bytes(),
        stderr: Vec::new(),
    })
}

#[test]
fn an_attended_terminal_prompt_grants_or_refuses() {
    let w = ws();
    let Some(o) = with_prompt(
        &w,
        "y",
        "touch granted; git push origin main 2>/dev/null; true",
    ) else {
        return;
    };
    assert!(out(&o).contains("needs approval"), "{}", out(&o));
    assert!(
        w.ws.join("granted").exists(),
        "approved action did not run: {}",
        out(&o)
    );
    let Some(o) = with_prompt(&w, "n", "touch refused; git push origin main") else {
        return;
    };
    assert_eq!(o.status.code(), Some(77), "{}", out(&o));
    assert!(!w.ws.join("refused").exists(), "refused action ran");
}

#[test]
fn a_kernel_missing_a_required_feature_is_refused_unless_degraded_is_allowed() {
    let w = ws();
    let o = w.without_landlock(&["run", "--", "sh", "-c", "touch ran"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(
        err(&o).contains("Landlock is unavailable") && err(&o).contains("--allow-degraded"),
        "{}",
        err(&o)
    );
    assert!(!w.ws.join("ran").exists());
    let o = w.without_landlock(&["run", "--allow-degraded", "--", "sh", "-c", "touch ran"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert!(
        err(&o).contains("degraded sandbox") && err(&o).contains("Landlock"),
        "{}",
        err(&o)
    );
    assert!(w.ws.join("ran").exists());
    // A governance file asking for a Landlock ABI no kernel has.
    let p = w.policy("[sandbox]\nlandlock_min_abi = 999\n");
    let o = w.with_policy("sandbox", &p, &["--", "true"]);
    assert_eq!(o.status.code(), Some(1), "{}", err(&o));
    assert!(err(&o).contains("below the required 999"), "{}", err(&o));
}

/// A tiny static HTTP/1.0 file server on 127.0.0.1 (enough for curl and git's dumb protocol).
fn serve(root: PathBuf) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let root = root.clone();
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().expect("clone"));
                let mut line = String::new();
                let _ = r.read_line(&mut line);
                loop {
                    let mut h = String::new();
                    if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" || h == "\n" {
                        break;
                    }
                }
                let target = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let path = target.split("://").nth(1).map_or(target.clone(), |rest| {
                    rest.find('/')
                        .map_or("/".to_owned(), |i| rest[i..].to_owned())
                });
                let path = path
                    .split('?')
                    .next()
                    .unwrap_or("/")
                    .trim_start_matches('/')
                    .to_owned();
                let mut s = s;
                let file = root.join(&path);
                match (path.contains(".."), std::fs::read(&file)) {
                    (false, Ok(body)) if file.is_file() => {
                        let _ = write!(
                            s,
                            "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n",
                            body.len()
                        );
                        let _ = s.write_all(&body);
                    }
                    _ => {
                        let _ = s.write_all(b"HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n");
                    }
                }
            });
        }
    });
    port
}

fn git(dir: &Path, args: &[&str]) {
    let o = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
        .output()
        .expect("git");
    assert!(
        o.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn curl_and_git_clone_go_through_the_proxy_to_an_allowed_loopback_server() {
    let w = ws();
    let srv = w.root.path().join("srv");
    std::fs::create_dir_all(&srv).expect("mkdir");
    std::fs::write(srv.join("hello.txt"), "hello through the proxy\n").expect("write");
    let src = w.root.path().join("src");
    std::fs::create_dir_all(&src).expect("mkdir");
    git(&src, &["init", "-q", "-b", "main"]);
    std::fs::write(src.join("README"), "cloned through warden\n").expect("write");
    git(&src, &["add", "README"]);
    git(&src, &["commit", "-q", "-m", "first"]);
    git(
        w.root.path(),
        &[
            "clone",
            "-q",
            "--bare",
            src.to_str().expect("utf8"),
            srv.join("repo.git").to_str().expect("utf8"),
        ],
    );
    git(&srv.join("repo.git"), &["update-server-info"]);
    let port = serve(srv);

    // Without an allow entry the proxy refuses the loopback server.
    let p = w.policy("");
    let url = format!("http://127.0.0.1:{port}/hello.txt");
    let o = w.curl(&p, "-sf", "", "10", &url);
    assert_ne!(o.status.code(), Some(0), "{}{}", out(&o), err(&o));
    assert!(!out(&o).contains("hello through the proxy"));

    let p = w.policy(&format!(
        "allow = [\"127.0.0.1:{port}\"]\nallow_private = [\"127.0.0.1\"]\n"
    ));
    assert_printed(
        &w.curl(&p, "-sSf", "", "10", &url),
        "hello through the proxy\n",
    );
    // Direct (proxy bypassed) is impossible: the sandbox's 127.0.0.1 is its own loopback.
    let o = w.curl(&p, "-sf", "*", "5", &url);
    assert_ne!(
        o.status.code(),
        Some(0),
        "direct connection reached the host: {}",
        out(&o)
    );

    let clone = format!(
        "NO_PROXY= no_proxy= git clone -q http://127.0.0.1:{port}/repo.git cloned && cat cloned/README"
    );
    let o = w.with_policy("sandbox", &p, &["--", "sh", "-c", &clone]);
    assert_printed(&o, "cloned through warden\n");
    assert_eq!(
        std::fs::read_to_string(w.ws.join("cloned/README")).expect("cloned"),
        "cloned through warden\n"
    );
}

#[test]
fn an_unprivileged_user_gets_the_same_sandbox() {
    // SAFETY-free check for root: only root can switch to `nobody` here.
    let is_root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    if !is_root || Command::new("setpriv").arg("--version").output().is_err() {
        eprintln!("skipped: needs root and setpriv to switch to an unprivileged uid");
        return;
    }
    let root = tempfile::Builder::new()
        .prefix("unpriv-")
        .tempdir()
        .expect("tmp");
    let ws = root.path().join("ws");
    std::fs::create_dir_all(&ws).expect("mkdir");
    let outside = root.path().join("outside");
    std::fs::write(&outside, "orig\n").expect("write");
    for p in [root.path(), ws.as_path(), outside.as_path()] {
        let o = Command::new("chown")
            .args(["65534:65534", p.to_str().expect("utf8")])
            .output()
            .expect("chown");
        assert!(o.status.success());
    }
    std::fs::set_permissions(
        root.path(),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .expect("chmod");
    // The warden binary must be reachable by `nobody`.
    let exe = root.path().join("warden");
    std::fs::copy(WARDEN, &exe).expect("copy");
    let script = format!(
        "id -u; echo ok > f; echo pwned > {} ; grep -E '^(CapEff|Seccomp):' /proc/self/status; cat /proc/self/uid_map",
        outside.display()
    );
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
        .arg(&exe)
        .args([
            "sandbox",
            "--workspace",
            ws.to_str().expect("utf8"),
            "--",
            "sh",
            "-c",
            &script,
        ])
        .current_dir(&ws)
        .env("HOME", root.path())
        .stdin(Stdio::null())
        .output()
        .expect("setpriv");
    let text = format!("{}{}", out(&o), err(&o));
    assert!(
        text.contains("CapEff:\t0000000000000000") && text.contains("Seccomp:\t2"),
        "{text}"
    );
    assert!(text.contains("65534"), "uid map: {text}");
    assert_eq!(
        std::fs::read_to_string(ws.join("f")).expect("f"),
        "ok\n",
        "{text}"
    );
    assert_eq!(
        std::fs::read_to_string(&outside).expect("outside"),
        "orig\n",
        "ESCAPE: {text}"
    );
}

/// `--cwd-report FILE`: the file holds where a shell's script ended when that is inside the
/// workspace (else nothing), whatever the script itself wrote there; a file that is anything
/// but new and empty is refused before anything runs (the command can write it: `--cwd-report
/// ~/.bashrc` would hand it the user's shell start-up), and left as it was.
#[test]
fn the_directory_a_script_ends_in_is_reported_only_inside_the_workspace() {
    let w = ws();
    std::fs::create_dir_all(w.ws.join("sub")).expect("mkdir");
    let report = w.root.path().join("report");
    let reporting = |file: &Path, argv: &[&str]| -> Output {
        let mut args = vec!["run", "--cwd-report", file.to_str().expect("utf8"), "--"];
        args.extend_from_slice(argv);
        w.run(&args)
    };
    let said = |script: &str| -> (Output, String) {
        std::fs::write(&report, "").expect("empty");
        let o = reporting(&report, &["bash", "-c", script]);
        (o, std::fs::read_to_string(&report).expect("report"))
    };
    let sub = w.ws.canonicalize().expect("ws").join("sub");
    let (o, r) = said("cd sub && echo in");
    assert_printed(&o, "in\n");
    assert_eq!(r, format!("{}\n", sub.display()));
    // The report's path, for scripts that write it themselves (read at run time).
    std::fs::write(w.ws.join("t"), report.to_str().expect("utf8")).expect("t");
    for script in [
        "cd /usr",
        // The script writes the file itself, then ends outside: what it wrote is not taken.
        &format!("f=$(cat t); echo {} > \"$f\"; cd /", sub.display()),
        // Its own EXIT trap replaces Warden's and writes `/`: not inside the workspace.
        "f=$(cat t); trap 'echo / > \"$f\"' EXIT; cd sub",
    ] {
        let (o, r) = said(script);
        assert_eq!(o.status.code(), Some(0), "{script}: {}", err(&o));
        assert_eq!(r, "", "{script}");
    }
    // Not an argv a shell runs as a script: nothing to report.
    std::fs::write(&report, "").expect("empty");
    let o = reporting(&report, &["true"]);
    assert_eq!(o.status.code(), Some(0), "{}", err(&o));
    assert_eq!(std::fs::read_to_string(&report).expect("report"), "");

    let startup = w.root.path().join(".bashrc");
    std::fs::write(&startup, "# the user's\n").expect("write");
    let linked = w.root.path().join("linked");
    std::fs::write(&linked, "").expect("write");
    std::fs::hard_link(&linked, w.root.path().join("linked-too")).expect("link");
    for (file, why) in [
        (&startup, "not empty"),
        (&linked, "hard link"),
        (&w.root.path().join("missing"), "No such file"),
    ] {
        let o = reporting(file, &["bash", "-c", "echo ran > ran.txt"]);
        assert_refused(&o, 2, why);
        assert!(!w.ws.join("ran.txt").exists());
    }
    assert_eq!(
        std::fs::read_to_string(&startup).expect("read"),
        "# the user's\n"
    );
}
