//! Shared helpers of the audit integration tests: a workspace, the warden binary, and the real
//! OTLP receivers (rotel, and a decoder built on the OpenTelemetry project's Python protobufs).
#![allow(dead_code, reason = "each test file uses a different subset")]

use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub fn warden() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warden"))
}

/// A workspace directory (with `.git`) and a HOME outside it.
pub struct Ws {
    pub dir: tempfile::TempDir,
    pub home: tempfile::TempDir,
}

impl Ws {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        Self {
            dir,
            home: tempfile::tempdir().unwrap(),
        }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn log(&self) -> PathBuf {
        self.path().join(".warden/audit/audit.jsonl")
    }
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = warden();
        c.current_dir(self.path())
            .env("HOME", self.home.path())
            .args(args);
        for k in [
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            "OTEL_EXPORTER_OTLP_HEADERS",
        ] {
            c.env_remove(k);
        }
        c
    }
    /// Run `warden ARGS`, returning (status code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.cmd(args).output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

pub fn python() -> String {
    std::env::var("WARDEN_TEST_PYTHON").unwrap_or_else(|_| "python3".into())
}

/// The rotel collector binary; the test fails (never skips) when it is missing:
/// `scripts/setup-audit.sh` installs it.
pub fn rotel_bin() -> PathBuf {
    if let Ok(p) = std::env::var("ROTEL_BIN") {
        return PathBuf::from(p);
    }
    let out = Command::new(python())
        .args([
            "-c",
            "import rotel, os; print(os.path.join(os.path.dirname(rotel.__file__), 'rotel-agent'))",
        ])
        .output()
        .expect("python3 must be installed (run scripts/setup-audit.sh)");
    let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    assert!(
        out.status.success() && p.is_file(),
        "the rotel collector is not installed (run scripts/setup-audit.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    p
}

/// The Python OTLP/HTTP receiver that decodes with `opentelemetry-proto`.
pub struct Receiver {
    pub child: Child,
    pub port: u16,
    pub out: PathBuf,
}

impl Receiver {
    pub fn start(out: &Path, port: u16) -> Self {
        Self::start_with(out, port, None)
    }
    /// A receiver serving HTTPS with certificate chain `cert` and its `key` (PEM files).
    pub fn start_tls(out: &Path, cert: &Path, key: &Path) -> Self {
        Self::start_with(out, 0, Some((cert, key)))
    }
    fn start_with(out: &Path, port: u16, tls: Option<(&Path, &Path)>) -> Self {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/audit_receiver.py");
        let mut cmd = Command::new(python());
        if let Some((cert, key)) = tls {
            cmd.env("RECEIVER_TLS_CERT", cert)
                .env("RECEIVER_TLS_KEY", key);
        }
        let mut child = cmd
            .arg(&script)
            .arg(out)
            .arg(port.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("python3 must be installed (run scripts/setup-audit.sh)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().unwrap_or_else(|_| {
            panic!("the OTLP receiver did not start (is opentelemetry-proto installed? run scripts/setup-audit.sh)")
        });
        Self {
            child,
            port,
            out: out.to_path_buf(),
        }
    }
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
    /// Every decoded request so far.
    pub fn requests(&self) -> Vec<Value> {
        read_jsonl(&self.out)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop();
    }
}

pub fn read_jsonl(p: &Path) -> Vec<Value> {
    std::fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

/// The rotel collector: OTLP/HTTP in on `http_port`, OTLP/HTTP out to `upstream`.
pub struct Rotel {
    pub child: Child,
    pub http_port: u16,
}

impl Rotel {
    pub fn start(upstream: &str) -> Self {
        let http_port = free_port();
        let grpc_port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let child = Command::new(rotel_bin())
            .args([
                "start",
                "--otlp-http-endpoint",
                &format!("127.0.0.1:{http_port}"),
                "--otlp-grpc-endpoint",
                &format!("127.0.0.1:{grpc_port}"),
                "--exporter",
                "otlp",
                "--otlp-exporter-endpoint",
                upstream,
                "--otlp-exporter-protocol",
                "http",
                "--batch-timeout",
                "100ms",
                "--pid-file",
                &dir.path().join("rotel.pid").display().to_string(),
                "--log-file",
                &dir.path().join("rotel.log").display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("cannot start rotel");
        let deadline = Instant::now() + Duration::from_secs(15);
        while std::net::TcpStream::connect(("127.0.0.1", http_port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "rotel did not open its OTLP/HTTP port"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        std::mem::forget(dir);
        Self { child, http_port }
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Attribute `key` of an OTLP object (span or log record) as JSON, decoded by protobuf.
pub fn attr<'a>(obj: &'a Value, key: &str) -> Option<&'a Value> {
    obj.get("attributes")?
        .as_array()?
        .iter()
        .find(|a| a.get("key").and_then(Value::as_str) == Some(key))?
        .get("value")
}

pub fn attr_str<'a>(obj: &'a Value, key: &str) -> Option<&'a str> {
    attr(obj, key)?.get("string_value")?.as_str()
}

pub fn attr_int(obj: &Value, key: &str) -> Option<i64> {
    attr(obj, key)?.get("int_value")?.as_str()?.parse().ok()
}

/// All spans in the decoded requests.
pub fn spans(reqs: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for r in reqs.iter().filter(|r| r["path"] == "/v1/traces") {
        for rs in r["request"]["resource_spans"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for ss in rs["scope_spans"].as_array().into_iter().flatten() {
                out.extend(ss["spans"].as_array().into_iter().flatten().cloned());
            }
        }
    }
    out
}

/// All log records in the decoded requests.
pub fn logs(reqs: &[Value]) -> Vec<Value> {
    let mut out = Vec::new();
    for r in reqs.iter().filter(|r| r["path"] == "/v1/logs") {
        for rl in r["request"]["resource_logs"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for sl in rl["scope_logs"].as_array().into_iter().flatten() {
                out.extend(sl["log_records"].as_array().into_iter().flatten().cloned());
            }
        }
    }
    out
}

pub fn num(v: &Value) -> u64 {
    match v {
        Value::String(s) => s.parse().unwrap_or(0),
        Value::Number(n) => n.as_u64().unwrap_or(0),
        _ => 0,
    }
}

pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    f()
}
