//! OpenTelemetry export of the log itself: each action becomes an `execute_tool {tool}` span
//! (GenAI semantic conventions), the pre-action decision a `warden.policy.decision` log record
//! carrying the span's ids, and approvals, network decisions, checkpoints and recoveries log
//! records too. Export is OTLP/HTTP (protobuf or JSON), at least once and in order, driven by a
//! cursor persisted next to the log and advanced only after the collector acknowledged.
//!
//! Trace and span ids are derived from record hashes (and the agent session), so re-exporting
//! the same records yields the same ids and a collector can de-duplicate.

use crate::error::{AuditError, Result};
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{
    AnyValue, ArrayValue, InstrumentationScope, KeyValue, any_value,
};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use opentelemetry_proto::tonic::trace::v1::{ResourceSpans, ScopeSpans, Span, Status};
use prost::Message as _;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use warden_policy::sections::audit::OtlpConfig;

/// OTLP/HTTP encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// `http/protobuf` (the default).
    Protobuf,
    /// `http/json`.
    Json,
}

impl Protocol {
    /// Parse `http/protobuf` or `http/json`.
    pub fn parse(s: &str) -> Result<Self> {
        match s.trim() {
            "http/protobuf" | "protobuf" => Ok(Self::Protobuf),
            "http/json" | "json" => Ok(Self::Json),
            other => Err(AuditError::Invalid(format!(
                "unsupported OTLP protocol {other:?} (use http/protobuf or http/json)"
            ))),
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::Protobuf => "application/x-protobuf",
            Self::Json => "application/json",
        }
    }
}

/// Where and how to export.
#[derive(Debug, Clone)]
pub struct OtlpSettings {
    /// Full URL for traces (e.g. `http://127.0.0.1:4318/v1/traces`).
    pub traces_endpoint: String,
    /// Full URL for logs.
    pub logs_endpoint: String,
    /// Encoding.
    pub protocol: Protocol,
    /// Extra request headers (values are secrets: never logged).
    pub headers: Vec<(String, String)>,
    /// Add `gen_ai.tool.call.arguments` (the redacted action) to spans.
    pub include_arguments: bool,
    /// Add `gen_ai.tool.call.result` (the outcome summary) to spans.
    pub include_results: bool,
    /// Records per request.
    pub batch: usize,
    /// Per-request timeout.
    pub timeout: Duration,
    /// Resource attribute `service.name`.
    pub service_name: String,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parse `OTEL_EXPORTER_OTLP_HEADERS` (`k=v,k2=v2`, values percent-encoded).
pub fn parse_headers(s: &str) -> Vec<(String, String)> {
    s.split(',')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            let k = k.trim();
            (!k.is_empty()).then(|| (k.to_owned(), percent_decode(v.trim())))
        })
        .collect()
}

fn join(base: &str, path: &str) -> String {
    format!("{}/{}", base.trim_end_matches('/'), path)
}

impl OtlpSettings {
    /// Resolve settings: an explicit base URL/protocol (command line) wins, then the standard
    /// `OTEL_EXPORTER_OTLP_*` environment variables, then `[audit.otlp]`. `None` when no
    /// endpoint is configured anywhere.
    pub fn resolve(
        cfg: &OtlpConfig,
        env: &dyn Fn(&str) -> Option<String>,
        base_override: Option<&str>,
        protocol_override: Option<&str>,
    ) -> Result<Option<Self>> {
        let env = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        let base = base_override
            .map(str::to_owned)
            .or_else(|| env("OTEL_EXPORTER_OTLP_ENDPOINT"))
            .or_else(|| cfg.endpoint.clone());
        let traces = match base_override {
            Some(b) => Some(join(b, "v1/traces")),
            None => env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
                .or_else(|| cfg.traces_endpoint.clone())
                .or_else(|| base.as_deref().map(|b| join(b, "v1/traces"))),
        };
        let logs = match base_override {
            Some(b) => Some(join(b, "v1/logs")),
            None => env("OTEL_EXPORTER_OTLP_LOGS_ENDPOINT")
                .or_else(|| cfg.logs_endpoint.clone())
                .or_else(|| base.as_deref().map(|b| join(b, "v1/logs"))),
        };
        let (Some(traces_endpoint), Some(logs_endpoint)) = (traces, logs) else {
            return Ok(None);
        };
        let protocol = match protocol_override
            .map(str::to_owned)
            .or_else(|| env("OTEL_EXPORTER_OTLP_PROTOCOL"))
            .or_else(|| cfg.protocol.clone())
        {
            Some(p) => Protocol::parse(&p)?,
            None => Protocol::Protobuf,
        };
        let mut headers: Vec<(String, String)> = cfg
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if let Some(h) = env("OTEL_EXPORTER_OTLP_HEADERS") {
            headers.extend(parse_headers(&h));
        }
        Ok(Some(Self {
            traces_endpoint,
            logs_endpoint,
            protocol,
            headers,
            include_arguments: cfg.include_arguments,
            include_results: cfg.include_results,
            batch: cfg.batch_size.unwrap_or(256).max(1) as usize,
            timeout: Duration::from_millis(cfg.timeout_ms.unwrap_or(10_000)),
            service_name: "warden".into(),
        }))
    }
}

fn s(v: impl Into<String>) -> Option<AnyValue> {
    Some(AnyValue {
        value: Some(any_value::Value::StringValue(v.into())),
    })
}

fn kv_str(k: &str, v: impl Into<String>) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: s(v),
        ..Default::default()
    }
}

fn kv_int(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..Default::default()
    }
}

fn kv_bool(k: &str, v: bool) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::BoolValue(v)),
        }),
        ..Default::default()
    }
}

fn kv_strs(k: &str, v: &[String]) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::ArrayValue(ArrayValue {
                values: v
                    .iter()
                    .map(|x| AnyValue {
                        value: Some(any_value::Value::StringValue(x.clone())),
                    })
                    .collect(),
            })),
        }),
        ..Default::default()
    }
}

fn get_str<'a>(v: &'a Value, k: &str) -> Option<&'a str> {
    v.get(k).and_then(Value::as_str)
}

fn get_u64(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

/// Deterministic trace id of an intent: from its session when it has one (so one agent
/// session is one trace), else from the intent's hash.
pub fn trace_id(intent: &Value) -> Vec<u8> {
    let seed = match get_str(intent, "session") {
        Some(sess) => format!("warden.trace.session:{sess}"),
        None => format!(
            "warden.trace.intent:{}",
            get_str(intent, "hash").unwrap_or("")
        ),
    };
    Sha256::digest(seed.as_bytes())[..16].to_vec()
}

/// Deterministic span id of an intent's `execute_tool` span.
pub fn span_id(intent: &Value) -> Vec<u8> {
    let seed = format!("warden.span:{}", get_str(intent, "hash").unwrap_or(""));
    Sha256::digest(seed.as_bytes())[..8].to_vec()
}

fn record_attrs(r: &Value) -> Vec<KeyValue> {
    vec![
        kv_int("warden.record.seq", get_u64(r, "seq") as i64),
        kv_str("warden.record.hash", get_str(r, "hash").unwrap_or("")),
        kv_str("warden.record.kind", get_str(r, "kind").unwrap_or("")),
    ]
}

fn decision_attrs(intent: &Value) -> Vec<KeyValue> {
    let mut a = vec![
        kv_str("gen_ai.operation.name", "execute_tool"),
        kv_str("gen_ai.tool.name", get_str(intent, "tool").unwrap_or("")),
        kv_str("warden.tier", get_str(intent, "tier").unwrap_or("")),
        kv_str("warden.category", get_str(intent, "category").unwrap_or("")),
        kv_str("warden.rule", get_str(intent, "rule").unwrap_or("")),
        kv_int("warden.intent.seq", get_u64(intent, "seq") as i64),
        kv_str("warden.intent.hash", get_str(intent, "hash").unwrap_or("")),
    ];
    for (k, attr) in [
        ("tool_call_id", "gen_ai.tool.call.id"),
        ("session", "gen_ai.conversation.id"),
        ("agent", "gen_ai.agent.name"),
        ("user", "user.name"),
        ("host", "host.name"),
        ("policy_digest", "warden.policy.digest"),
    ] {
        if let Some(v) = get_str(intent, k) {
            a.push(kv_str(attr, v));
        }
    }
    a
}

/// The span and log records one batch of records maps to.
#[derive(Debug, Default)]
pub struct Mapped {
    /// Spans (one per outcome whose intent is known).
    pub spans: Vec<Span>,
    /// Log records (one per non-outcome record).
    pub logs: Vec<LogRecord>,
}

/// Map `records` onto OTLP; `intents` finds an intent by sequence number (it may precede the
/// batch).
pub fn map_records(
    records: &[Value],
    intents: &HashMap<u64, Value>,
    settings: &OtlpSettings,
) -> Mapped {
    let mut out = Mapped::default();
    for r in records {
        let kind = get_str(r, "kind").unwrap_or("");
        let ts = get_u64(r, "ts_ns");
        let intent = r
            .get("intent_seq")
            .and_then(Value::as_u64)
            .and_then(|s| intents.get(&s));
        match kind {
            "intent" => {
                let mut attrs = decision_attrs(r);
                attrs.extend(record_attrs(r));
                let reasons: Vec<String> = r
                    .get("reasons")
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                attrs.push(kv_strs("warden.reasons", &reasons));
                if let Some(rat) = get_str(r, "rationale") {
                    attrs.push(kv_str("warden.rationale", rat));
                }
                let tier = get_str(r, "tier").unwrap_or("");
                let (sev, sev_text) = match tier {
                    "deny" => (13, "WARN"),
                    "sync" | "async" => (10, "INFO2"),
                    _ => (9, "INFO"),
                };
                out.logs.push(LogRecord {
                    time_unix_nano: ts,
                    observed_time_unix_nano: ts,
                    severity_number: sev,
                    severity_text: sev_text.into(),
                    body: s(format!(
                        "{} {}: tier {} by rule {}",
                        get_str(r, "tool").unwrap_or(""),
                        get_u64(r, "seq"),
                        tier,
                        get_str(r, "rule").unwrap_or("")
                    )),
                    attributes: attrs,
                    trace_id: trace_id(r),
                    span_id: span_id(r),
                    flags: 1,
                    event_name: "warden.policy.decision".into(),
                    ..Default::default()
                });
            }
            "outcome" => {
                let Some(intent) = intent else { continue };
                let its = get_u64(intent, "ts_ns");
                let dur = get_u64(r, "duration_ns");
                // The action started after its intent was durable, and at most `dur` before
                // the outcome was written.
                let start = ts.saturating_sub(dur).max(its + 1).min(ts);
                let tool = get_str(intent, "tool").unwrap_or("");
                let mut attrs = decision_attrs(intent);
                attrs.push(kv_int("warden.outcome.seq", get_u64(r, "seq") as i64));
                attrs.push(kv_str(
                    "warden.outcome.hash",
                    get_str(r, "hash").unwrap_or(""),
                ));
                let exit = r.get("exit_code").and_then(Value::as_i64);
                let signal = r.get("signal").and_then(Value::as_i64);
                if let Some(c) = exit {
                    attrs.push(kv_int("warden.exit_code", c));
                    attrs.push(kv_int("process.exit.code", c));
                }
                if let Some(sg) = signal {
                    attrs.push(kv_int("warden.signal", sg));
                }
                for k in ["stdout_bytes", "stderr_bytes"] {
                    attrs.push(kv_int(&format!("warden.{k}"), get_u64(r, k) as i64));
                }
                for k in ["stdout_sha256", "stderr_sha256"] {
                    if let Some(v) = get_str(r, k) {
                        attrs.push(kv_str(&format!("warden.{k}"), v));
                    }
                }
                if settings.include_arguments
                    && let Some(a) = intent.get("action")
                {
                    attrs.push(kv_str("gen_ai.tool.call.arguments", a.to_string()));
                }
                if settings.include_results {
                    let mut res = r.clone();
                    if let Value::Object(m) = &mut res {
                        for k in [
                            "seq",
                            "ts_ns",
                            "kind",
                            "prev",
                            "hash",
                            "intent_seq",
                            "intent_hash",
                        ] {
                            m.remove(k);
                        }
                    }
                    attrs.push(kv_str("gen_ai.tool.call.result", res.to_string()));
                }
                let failed = exit.is_some_and(|c| c != 0) || signal.is_some() || exit.is_none();
                let status = if failed {
                    Status {
                        code: 2,
                        message: match (exit, signal) {
                            (_, Some(sg)) => format!("killed by signal {sg}"),
                            (Some(c), _) => format!("exit status {c}"),
                            _ => "did not run".into(),
                        },
                    }
                } else {
                    Status {
                        code: 0,
                        message: String::new(),
                    }
                };
                out.spans.push(Span {
                    trace_id: trace_id(intent),
                    span_id: span_id(intent),
                    flags: 1,
                    name: format!("execute_tool {tool}"),
                    kind: 1,
                    start_time_unix_nano: start,
                    end_time_unix_nano: ts.max(start),
                    attributes: attrs,
                    status: Some(status),
                    ..Default::default()
                });
            }
            _ => {
                let mut attrs = record_attrs(r);
                let event = match kind {
                    "approval" => {
                        attrs.push(kv_str(
                            "warden.approval.event",
                            get_str(r, "event").unwrap_or(""),
                        ));
                        if let Some(by) = get_str(r, "by") {
                            attrs.push(kv_str("warden.approval.by", by));
                        }
                        "warden.approval".to_owned()
                    }
                    "network" => {
                        attrs.push(kv_str(
                            "network.protocol.name",
                            get_str(r, "protocol").unwrap_or(""),
                        ));
                        attrs.push(kv_str("server.address", get_str(r, "host").unwrap_or("")));
                        attrs.push(kv_int("server.port", get_u64(r, "port") as i64));
                        if let Some(m) = get_str(r, "method") {
                            attrs.push(kv_str("http.request.method", m));
                        }
                        attrs.push(kv_bool(
                            "warden.network.allowed",
                            r.get("allowed").and_then(Value::as_bool).unwrap_or(false),
                        ));
                        attrs.push(kv_str(
                            "warden.network.rule",
                            get_str(r, "rule").unwrap_or(""),
                        ));
                        "warden.network.decision".to_owned()
                    }
                    "checkpoint" => {
                        attrs.push(kv_int("warden.checkpoint.size", get_u64(r, "size") as i64));
                        attrs.push(kv_str(
                            "warden.checkpoint.root",
                            get_str(r, "root").unwrap_or(""),
                        ));
                        "warden.audit.checkpoint".to_owned()
                    }
                    other => format!("warden.audit.{other}"),
                };
                let (trace, span) = match intent {
                    Some(i) => (trace_id(i), span_id(i)),
                    None => (Vec::new(), Vec::new()),
                };
                out.logs.push(LogRecord {
                    time_unix_nano: ts,
                    observed_time_unix_nano: ts,
                    severity_number: 9,
                    severity_text: "INFO".into(),
                    body: s(event.clone()),
                    attributes: attrs,
                    flags: u32::from(!trace.is_empty()),
                    trace_id: trace,
                    span_id: span,
                    event_name: event,
                    ..Default::default()
                });
            }
        }
    }
    out
}

fn resource(settings: &OtlpSettings, log: &Path) -> Resource {
    Resource {
        attributes: vec![
            kv_str("service.name", settings.service_name.clone()),
            kv_str("warden.audit.log", log.display().to_string()),
        ],
        ..Default::default()
    }
}

fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: "warden-audit".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        ..Default::default()
    }
}

/// Encode a traces request in `protocol`.
pub fn encode_traces(req: &ExportTraceServiceRequest, protocol: Protocol) -> Result<Vec<u8>> {
    match protocol {
        Protocol::Protobuf => Ok(req.encode_to_vec()),
        Protocol::Json => serde_json::to_vec(req).map_err(|e| AuditError::Invalid(e.to_string())),
    }
}

/// Encode a logs request in `protocol`.
pub fn encode_logs(req: &ExportLogsServiceRequest, protocol: Protocol) -> Result<Vec<u8>> {
    match protocol {
        Protocol::Protobuf => Ok(req.encode_to_vec()),
        Protocol::Json => serde_json::to_vec(req).map_err(|e| AuditError::Invalid(e.to_string())),
    }
}

/// The persisted export position: the last sequence number a collector acknowledged.
#[derive(Debug, Clone)]
pub struct Cursor {
    path: PathBuf,
}

impl Cursor {
    /// The default cursor of a log: `<log>.otlp-cursor`.
    pub fn for_log(log: &Path) -> Self {
        Self {
            path: crate::log::companion_path(log, ".otlp-cursor"),
        }
    }

    /// A cursor at an explicit path.
    pub fn at(path: PathBuf) -> Self {
        Self { path }
    }

    /// The cursor file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The last acknowledged sequence number (0: nothing exported yet).
    pub fn load(&self) -> Result<u64> {
        match std::fs::read_to_string(&self.path) {
            Ok(t) => {
                let v: Value = serde_json::from_str(&t)
                    .map_err(|e| AuditError::Corrupt(format!("{}: {e}", self.path.display())))?;
                Ok(get_u64(&v, "seq"))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
            Err(e) => Err(AuditError::io("read", &self.path, e)),
        }
    }

    /// Atomically replace the cursor (write a temporary file, fsync, rename, fsync directory).
    pub fn store(&self, seq: u64, hash: &str) -> Result<()> {
        let tmp = crate::log::companion_path(&self.path, format!(".tmp{}", std::process::id()));
        let body = serde_json::json!({"seq": seq, "hash": hash}).to_string();
        let mut f = std::fs::File::create(&tmp).map_err(|e| AuditError::io("create", &tmp, e))?;
        f.write_all(body.as_bytes())
            .map_err(|e| AuditError::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| AuditError::io("fsync", &tmp, e))?;
        std::fs::rename(&tmp, &self.path).map_err(|e| AuditError::io("rename", &self.path, e))?;
        if let Some(d) = self.path.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::log::sync_dir(d)?;
        }
        Ok(())
    }
}

/// Exports a log's records to a collector from a persisted cursor.
#[derive(Debug)]
pub struct Exporter {
    log: PathBuf,
    cursor: Cursor,
    settings: OtlpSettings,
    agent: ureq::Agent,
    tail: std::sync::Mutex<Tailer>,
}

/// What the exporter has read of the log so far: it reads each byte once, keeping the records
/// not yet acknowledged and the intents whose outcome is still to come.
#[derive(Debug, Default)]
struct Tailer {
    offset: u64,
    backlog: std::collections::VecDeque<Value>,
    intents: HashMap<u64, Value>,
}

impl Tailer {
    fn read_new(&mut self, log: &Path, after: u64) -> Result<()> {
        use std::io::{Read as _, Seek as _};
        let mut f = std::fs::File::open(log).map_err(|e| AuditError::io("open", log, e))?;
        let len = f
            .metadata()
            .map_err(|e| AuditError::io("stat", log, e))?
            .len();
        if len < self.offset {
            // Only a torn, never-read tail can be cut; anything else is a rewrite: start over.
            *self = Self::default();
        }
        f.seek(std::io::SeekFrom::Start(self.offset))
            .map_err(|e| AuditError::io("seek", log, e))?;
        let mut buf = Vec::new();
        f.take(len - self.offset)
            .read_to_end(&mut buf)
            .map_err(|e| AuditError::io("read", log, e))?;
        let Some(end) = buf.iter().rposition(|b| *b == b'\n') else {
            return Ok(());
        };
        for line in buf[..end].split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let Ok(r) = serde_json::from_slice::<Value>(line) else {
                continue;
            };
            let seq = get_u64(&r, "seq");
            if get_str(&r, "kind") == Some("intent") {
                self.intents.insert(seq, r.clone());
            }
            if seq > after {
                self.backlog.push_back(r);
            }
        }
        self.offset += end as u64 + 1;
        Ok(())
    }
}

impl Exporter {
    /// An exporter of `log` with the default cursor.
    pub fn new(log: &Path, settings: OtlpSettings) -> Self {
        Self::with_cursor(log, Cursor::for_log(log), settings)
    }

    /// An exporter with an explicit cursor.
    pub fn with_cursor(log: &Path, cursor: Cursor, settings: OtlpSettings) -> Self {
        // `https://` collectors are verified against the system store plus `WARDEN_CA_FILE`.
        let agent: ureq::Agent = warden_tls::agent_builder()
            .timeout_global(Some(settings.timeout))
            .http_status_as_error(false)
            .build()
            .into();
        Self {
            log: log.to_path_buf(),
            cursor,
            settings,
            agent,
            tail: Default::default(),
        }
    }

    /// The cursor.
    pub fn cursor(&self) -> &Cursor {
        &self.cursor
    }

    fn post(&self, url: &str, body: Vec<u8>) -> Result<()> {
        let mut req = self
            .agent
            .post(url)
            .header("Content-Type", self.settings.protocol.content_type());
        for (k, v) in &self.settings.headers {
            req = req.header(k.as_str(), v.as_str());
        }
        let err = |message: String| AuditError::Export {
            endpoint: url.to_owned(),
            message,
        };
        let resp = req.send(&body[..]).map_err(|e| err(e.to_string()))?;
        let status = resp.status().as_u16();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(err(format!("HTTP status {status}")))
        }
    }

    /// Export every record after the cursor, in order, advancing the cursor after each
    /// acknowledged batch. Returns how many records were exported.
    pub fn export_pending(&self) -> Result<u64> {
        let from = self.cursor.load()?;
        if !self.log.exists() {
            return Ok(0);
        }
        let mut tail = match self.tail.lock() {
            Ok(t) => t,
            Err(p) => p.into_inner(),
        };
        tail.read_new(&self.log, from)?;
        // Another exporter may have moved the cursor on.
        while tail
            .backlog
            .front()
            .is_some_and(|r| get_u64(r, "seq") <= from)
        {
            tail.backlog.pop_front();
        }
        let mut done = 0u64;
        while !tail.backlog.is_empty() {
            let n = tail.backlog.len().min(self.settings.batch);
            let chunk: Vec<Value> = tail.backlog.iter().take(n).cloned().collect();
            self.send(&chunk, &tail.intents)?;
            if let Some(last) = chunk.last() {
                self.cursor
                    .store(get_u64(last, "seq"), get_str(last, "hash").unwrap_or(""))?;
            }
            for r in &chunk {
                // An exported outcome's intent is needed no more.
                if get_str(r, "kind") == Some("outcome")
                    && let Some(i) = r.get("intent_seq").and_then(Value::as_u64)
                {
                    tail.intents.remove(&i);
                }
            }
            tail.backlog.drain(..n);
            done += n as u64;
        }
        Ok(done)
    }

    fn send(&self, chunk: &[Value], intents: &HashMap<u64, Value>) -> Result<()> {
        let mapped = map_records(chunk, intents, &self.settings);
        let res = resource(&self.settings, &self.log);
        if !mapped.logs.is_empty() {
            let req = ExportLogsServiceRequest {
                resource_logs: vec![ResourceLogs {
                    resource: Some(res.clone()),
                    scope_logs: vec![ScopeLogs {
                        scope: Some(scope()),
                        log_records: mapped.logs,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            };
            self.post(
                &self.settings.logs_endpoint,
                encode_logs(&req, self.settings.protocol)?,
            )?;
        }
        if !mapped.spans.is_empty() {
            let req = ExportTraceServiceRequest {
                resource_spans: vec![ResourceSpans {
                    resource: Some(res),
                    scope_spans: vec![ScopeSpans {
                        scope: Some(scope()),
                        spans: mapped.spans,
                        ..Default::default()
                    }],
                    ..Default::default()
                }],
            };
            self.post(
                &self.settings.traces_endpoint,
                encode_traces(&req, self.settings.protocol)?,
            )?;
        }
        Ok(())
    }

    /// Start a background thread exporting every `poll` and retrying failures with exponential
    /// backoff (from `poll`/4 up to 30 s). Stop it with [`ExporterHandle::shutdown`].
    pub fn spawn(self, poll: Duration) -> ExporterHandle {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        let thread = std::thread::Builder::new()
            .name("warden-otlp-export".into())
            .spawn(move || self.run_loop(&flag, poll))
            .ok();
        ExporterHandle { stop, thread }
    }

    fn run_loop(&self, stop: &AtomicBool, poll: Duration) -> ExportStats {
        let mut stats = ExportStats::default();
        let min_backoff = (poll / 4).max(Duration::from_millis(50));
        let mut backoff = min_backoff;
        loop {
            let wait = match self.export_pending() {
                Ok(n) => {
                    stats.exported += n;
                    backoff = min_backoff;
                    poll
                }
                Err(e) => {
                    stats.failures += 1;
                    stats.last_error = Some(e.to_string());
                    let w = backoff;
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                    w
                }
            };
            if stop.load(Ordering::Acquire) {
                return stats;
            }
            let until = Instant::now() + wait;
            while Instant::now() < until {
                if stop.load(Ordering::Acquire) {
                    // One last attempt to flush what was written before the stop.
                    if let Ok(n) = self.export_pending() {
                        stats.exported += n;
                    }
                    return stats;
                }
                std::thread::sleep(Duration::from_millis(20).min(wait));
            }
        }
    }
}

/// Counters of a background exporter.
#[derive(Debug, Default, Clone)]
pub struct ExportStats {
    /// Records exported.
    pub exported: u64,
    /// Failed attempts.
    pub failures: u64,
    /// The last error.
    pub last_error: Option<String>,
}

/// A running background exporter.
#[derive(Debug)]
pub struct ExporterHandle {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<ExportStats>>,
}

impl ExporterHandle {
    /// Stop after one last export attempt and return the counters.
    pub fn shutdown(mut self) -> ExportStats {
        self.stop.store(true, Ordering::Release);
        self.thread
            .take()
            .and_then(|t| t.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for ExporterHandle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_precedence_flag_then_env_then_file() {
        let cfg = OtlpConfig {
            endpoint: Some("http://file.invalid:4318".into()),
            protocol: Some("http/json".into()),
            ..Default::default()
        };
        let none = |_: &str| None;
        let s = OtlpSettings::resolve(&cfg, &none, None, None)
            .unwrap()
            .unwrap();
        assert_eq!(s.traces_endpoint, "http://file.invalid:4318/v1/traces");
        assert_eq!(s.protocol, Protocol::Json);
        let env = |k: &str| match k {
            "OTEL_EXPORTER_OTLP_ENDPOINT" => Some("http://env.invalid:4318/".to_owned()),
            "OTEL_EXPORTER_OTLP_LOGS_ENDPOINT" => Some("http://logs.invalid/custom".to_owned()),
            "OTEL_EXPORTER_OTLP_PROTOCOL" => Some("http/protobuf".to_owned()),
            _ => None,
        };
        let s = OtlpSettings::resolve(&cfg, &env, None, None)
            .unwrap()
            .unwrap();
        assert_eq!(s.traces_endpoint, "http://env.invalid:4318/v1/traces");
        assert_eq!(s.logs_endpoint, "http://logs.invalid/custom");
        assert_eq!(s.protocol, Protocol::Protobuf);
        let s = OtlpSettings::resolve(&cfg, &env, Some("http://flag.invalid"), Some("http/json"))
            .unwrap()
            .unwrap();
        assert_eq!(s.logs_endpoint, "http://flag.invalid/v1/logs");
        assert_eq!(s.protocol, Protocol::Json);
        assert!(
            OtlpSettings::resolve(&Default::default(), &none, None, None)
                .unwrap()
                .is_none()
        );
        assert!(OtlpSettings::resolve(&cfg, &none, None, Some("grpc")).is_err());
    }

    #[test]
    fn headers_parse_and_percent_decode() {
        assert_eq!(
            parse_headers("a=1, b = x%20y ,bad,=v,c=%3D"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), "=".into())
            ]
        );
    }

    #[test]
    fn ids_are_deterministic_and_distinct() {
        let a = serde_json::json!({"hash": "aa", "session": "s"});
        let b = serde_json::json!({"hash": "bb", "session": "s"});
        let c = serde_json::json!({"hash": "aa"});
        assert_eq!(trace_id(&a), trace_id(&b), "one session, one trace");
        assert_ne!(span_id(&a), span_id(&b));
        assert_ne!(trace_id(&a), trace_id(&c));
        assert_eq!(span_id(&a), span_id(&c));
        assert_eq!(trace_id(&a).len(), 16);
        assert_eq!(span_id(&a).len(), 8);
    }
}
