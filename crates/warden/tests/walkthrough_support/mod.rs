//! Support for walkthrough.rs: the walk-through's fenced blocks, a persistent shell that runs its
//! commands one at a time as a person at a terminal would, and a WebDriver client for headless
//! Chromium (the approval web UI). Copied in from approvals_ui.rs's helpers so that test can
//! change without breaking this one.

use serde_json::{Value, json};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// A fenced block of the document: its info string (`sh`, `text`), its body, and the line it
/// starts on.
#[derive(Debug, Clone)]
pub struct Block {
    pub lang: String,
    pub body: String,
    pub line: usize,
}

/// Every fenced block, in order.
pub fn fenced_blocks(doc: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut open: Option<Block> = None;
    for (i, line) in doc.lines().enumerate() {
        match (&mut open, line.strip_prefix("```")) {
            (None, Some(info)) => {
                open = Some(Block {
                    lang: info.trim().to_owned(),
                    body: String::new(),
                    line: i + 1,
                })
            }
            (Some(_), Some("")) => blocks.push(open.take().expect("open block")),
            (Some(b), _) => {
                b.body.push_str(line);
                b.body.push('\n');
            }
            (None, None) => {}
        }
    }
    assert!(open.is_none(), "unterminated fenced block");
    blocks
}

/// The commands of an `sh` block: one per line, blank lines and comment lines left out.
pub fn commands(block: &Block) -> Vec<String> {
    block
        .body
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect()
}

/// Does `actual` show every line of `expected`, in order? An expected line matches an actual line
/// equal to it (trailing space ignored); `…` in an expected line stands for any text.
pub fn shows(expected: &str, actual: &str) -> Result<(), String> {
    let mut lines = actual.lines().map(str::trim_end);
    for want in expected
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
    {
        if !lines.any(|got| matches(want, got)) {
            return Err(format!("no line (in order) matching `{want}`"));
        }
    }
    Ok(())
}

fn matches(pattern: &str, line: &str) -> bool {
    let parts: Vec<&str> = pattern.split('…').collect();
    if parts.len() == 1 {
        return pattern == line;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !line.starts_with(first) || line.len() < first.len() + last.len() || !line.ends_with(last) {
        return false;
    }
    let mut rest = &line[first.len()..line.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(at) => rest = &rest[at + mid.len()..],
            None => return false,
        }
    }
    true
}

/// What one command printed and how it ended.
#[derive(Debug)]
pub struct Ran {
    n: usize,
    pub command: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Ran {
    pub fn both(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// One bash process reading commands from a pipe, so `cd`, `export` and `&` carry over from
/// one command to the next as at a terminal. Each command's output goes to files of its own;
/// its standard input is /dev/null (`claude -p` would otherwise read the pipe).
pub struct Shell {
    child: Child,
    stdin: ChildStdin,
    dir: PathBuf,
    n: usize,
}

/// A command that was started and not yet waited for.
pub struct Started {
    pub command: String,
    n: usize,
}

impl Shell {
    pub fn start(mut cmd: Command, dir: &Path) -> Shell {
        std::fs::create_dir_all(dir).expect("shell dir");
        let mut child = cmd
            .args(["--noprofile", "--norc"])
            .stdin(Stdio::piped())
            .process_group(0)
            .spawn()
            .expect("bash");
        let stdin = child.stdin.take().expect("stdin");
        Shell {
            child,
            stdin,
            dir: dir.to_owned(),
            n: 0,
        }
    }

    fn file(&self, n: usize, ext: &str) -> PathBuf {
        self.dir.join(format!("{n}.{ext}"))
    }

    pub fn begin(&mut self, command: &str) -> Started {
        self.n += 1;
        let n = self.n;
        let q = |p: PathBuf| format!("'{}'", p.display());
        let script = format!(
            "{{ {command}\n}} </dev/null >{out} 2>{err}; echo $? >{tmp}; mv {tmp} {rc}\n",
            out = q(self.file(n, "out")),
            err = q(self.file(n, "err")),
            tmp = q(self.file(n, "rc.tmp")),
            rc = q(self.file(n, "rc")),
        );
        self.stdin
            .write_all(script.as_bytes())
            .and_then(|()| self.stdin.flush())
            .expect("write to the shell");
        Started {
            command: command.to_owned(),
            n,
        }
    }

    /// The command's result if it has finished.
    pub fn poll(&self, s: &Started) -> Option<Ran> {
        let rc = std::fs::read_to_string(self.file(s.n, "rc")).ok()?;
        Some(self.ran(s, rc.trim().parse().expect("status")))
    }

    /// What a command has printed so far, finished or not.
    pub fn ran(&self, s: &Started, code: i32) -> Ran {
        let read = |ext| std::fs::read_to_string(self.file(s.n, ext)).unwrap_or_default();
        Ran {
            n: s.n,
            command: s.command.clone(),
            code,
            stdout: read("out"),
            stderr: read("err"),
        }
    }

    pub fn wait(&self, s: &Started, limit: Duration) -> Ran {
        let t0 = Instant::now();
        loop {
            if let Some(r) = self.poll(s) {
                return r;
            }
            let so_far = self.ran(s, -1);
            assert!(
                t0.elapsed() < limit,
                "`{}` did not finish in {limit:?}; so far:\n{}",
                s.command,
                so_far.both()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `r` with what its command printed until now (a background job writes on).
    pub fn reread(&self, r: &Ran) -> Ran {
        let s = Started {
            command: r.command.clone(),
            n: r.n,
        };
        self.ran(&s, r.code)
    }

    pub fn run(&mut self, command: &str, limit: Duration) -> Ran {
        let s = self.begin(command);
        self.wait(&s, limit)
    }
}

impl Drop for Shell {
    /// The shell and everything it started (`warden serve &`): one process group.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.wait();
    }
}

/// A child process killed when dropped.
pub struct Kill(pub Child);
impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

/// One WebDriver or API call; connection refused reads as status 0.
pub fn call(method: &str, url: &str, token: Option<&str>, body: Option<Value>) -> (u16, Value) {
    let a = agent();
    let auth = token.map(|t| format!("Bearer {t}"));
    let resp = match method {
        "GET" => {
            let mut r = a.get(url);
            if let Some(h) = &auth {
                r = r.header("Authorization", h);
            }
            r.call()
        }
        "DELETE" => a.delete(url).call(),
        _ => {
            let mut r = a.post(url).header("Content-Type", "application/json");
            if let Some(h) = &auth {
                r = r.header("Authorization", h);
            }
            r.send(body.unwrap_or(json!({})).to_string().as_bytes())
        }
    };
    let Ok(mut resp) = resp else {
        return (0, Value::Null);
    };
    let st = resp.status().as_u16();
    let text = resp.body_mut().read_to_string().unwrap_or_default();
    (st, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// chromedriver on a free loopback port.
pub struct Driver {
    base: String,
    _proc: Kill,
}

impl Driver {
    pub fn start() -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port();
        let proc = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver not found: run scripts/setup-hook.sh");
        let base = format!("http://127.0.0.1:{port}");
        let t0 = Instant::now();
        while call("GET", &format!("{base}/status"), None, None).0 != 200 {
            assert!(
                t0.elapsed() < Duration::from_secs(20),
                "chromedriver did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Driver {
            base,
            _proc: Kill(proc),
        }
    }
}

/// A headless Chromium session.
pub struct Session<'a> {
    d: &'a Driver,
    id: String,
}

impl<'a> Session<'a> {
    pub fn new(d: &'a Driver, profile: &Path) -> Session<'a> {
        let caps = json!({"capabilities": {"alwaysMatch": {"goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run",
                     format!("--user-data-dir={}", profile.display())]
        }}}});
        let (st, v) = call("POST", &format!("{}/session", d.base), None, Some(caps));
        assert_eq!(st, 200, "{v}");
        Session {
            d,
            id: v["value"]["sessionId"]
                .as_str()
                .expect("session id")
                .to_owned(),
        }
    }

    fn url(&self, p: &str) -> String {
        format!("{}/session/{}{p}", self.d.base, self.id)
    }

    pub fn post(&self, p: &str, body: Value) -> Value {
        let (st, v) = call("POST", &self.url(p), None, Some(body));
        assert_eq!(st, 200, "{p}: {v}");
        v["value"].clone()
    }

    pub fn find_all(&self, css: &str) -> Vec<String> {
        let v = self.post("/elements", json!({"using": "css selector", "value": css}));
        v.as_array()
            .expect("elements")
            .iter()
            .map(|e| e[ELEMENT].as_str().expect("element").to_owned())
            .collect()
    }

    pub fn text(&self, e: &str) -> String {
        let (_, v) = call("GET", &self.url(&format!("/element/{e}/text")), None, None);
        v["value"].as_str().unwrap_or_default().to_owned()
    }

    pub fn type_into(&self, e: &str, text: &str) {
        self.post(&format!("/element/{e}/value"), json!({ "text": text }));
    }

    pub fn click(&self, e: &str) {
        self.post(&format!("/element/{e}/click"), json!({}));
    }

    /// Waits until `css` matches at least one element, failing early if `give_up` says so.
    pub fn wait_for(
        &self,
        css: &str,
        limit: Duration,
        give_up: &mut dyn FnMut() -> Option<String>,
    ) -> Vec<String> {
        let t0 = Instant::now();
        loop {
            let found = self.find_all(css);
            if !found.is_empty() {
                return found;
            }
            if let Some(why) = give_up() {
                panic!("waiting for {css}: {why}");
            }
            assert!(t0.elapsed() < limit, "no {css} after {limit:?}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn screenshot(&self, to: &Path) {
        let (_, v) = call("GET", &self.url("/screenshot"), None, None);
        if let Some(b64) = v["value"].as_str() {
            use base64::Engine;
            if let Ok(png) = base64::engine::general_purpose::STANDARD.decode(b64) {
                let _ = std::fs::write(to, png);
            }
        }
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        let _ = call("DELETE", &self.url(""), None, None);
    }
}
