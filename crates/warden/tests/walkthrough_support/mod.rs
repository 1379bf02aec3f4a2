//! Support for walkthrough.rs: the walk-through's fenced blocks, a persistent shell that runs its
//! commands one at a time as a person at a terminal would, and (from support/webdriver.rs, shared
//! with approvals_ui.rs) a WebDriver client for headless Chromium (the approval web UI).

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

#[allow(dead_code, reason = "shared support; this file uses part of it")]
#[path = "../support/webdriver.rs"]
mod webdriver;
pub use webdriver::{Driver, Kill, Session};

/// Saves what the browser shows as a PNG (best effort: it is for a person looking afterwards).
pub fn screenshot(session: &Session<'_>, to: &Path) {
    let (_, v) = webdriver::call("GET", &session.url("/screenshot"), None, None);
    if let Some(b64) = v["value"].as_str() {
        use base64::Engine;
        if let Ok(png) = base64::engine::general_purpose::STANDARD.decode(b64) {
            let _ = std::fs::write(to, png);
        }
    }
}
