//! The bodies of Warden's record kinds (`intent`, `approval`, `network`, `outcome`), built from
//! the policy layer's types, so every writer produces the same fields.

use serde_json::{Map, Value, json};
use warden_policy::{Action, Decision};

/// A reference to a written intent record, named by every later record about the same action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IntentId {
    /// The intent's sequence number.
    pub seq: u64,
    /// The intent's record hash.
    pub hash: String,
}

/// Everything an intent record says besides the action and decision.
#[derive(Debug, Clone, Default)]
pub struct IntentInfo {
    /// The agent's tool name (`Bash`, an MCP tool, …); derived from the action when absent.
    pub tool: Option<String>,
    /// The agent's stated rationale.
    pub rationale: Option<String>,
    /// Agent identity (`claude-code`, `codex`, …).
    pub agent: Option<String>,
    /// Agent session id.
    pub session: Option<String>,
    /// The agent's tool-call id.
    pub tool_call_id: Option<String>,
    /// The OS user.
    pub user: Option<String>,
    /// The host name.
    pub host: Option<String>,
    /// Digest of the policy that decided.
    pub policy_digest: Option<String>,
    /// Whether the action runs in the sandbox.
    pub sandboxed: Option<bool>,
}

/// The tool name of an action when the agent did not give one.
pub fn tool_name(action: &Action) -> String {
    match action {
        Action::Exec { .. } => "exec".into(),
        Action::Shell { .. } => "shell".into(),
        Action::Read { .. } => "read".into(),
        Action::Write { .. } => "write".into(),
        Action::Net { .. } => "net".into(),
        Action::Tool { name, .. } => name.clone(),
    }
}

fn put(m: &mut Map<String, Value>, k: &str, v: &Option<String>) {
    if let Some(v) = v {
        m.insert(k.into(), Value::String(v.clone()));
    }
}

/// The body of an `intent` record (secrets are redacted by the log when it is appended).
pub fn intent_body(action: &Action, decision: &Decision, info: &IntentInfo) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(
        "action".into(),
        serde_json::to_value(action).unwrap_or(Value::Null),
    );
    m.insert(
        "tool".into(),
        info.tool
            .clone()
            .unwrap_or_else(|| tool_name(action))
            .into(),
    );
    m.insert("tier".into(), decision.tier.as_str().into());
    m.insert("category".into(), decision.category.clone().into());
    m.insert("rule".into(), decision.rule.clone().into());
    m.insert("reasons".into(), json!(decision.reasons));
    m.insert(
        "commands".into(),
        serde_json::to_value(&decision.commands).unwrap_or(Value::Null),
    );
    put(&mut m, "rationale", &info.rationale);
    put(&mut m, "agent", &info.agent);
    put(&mut m, "session", &info.session);
    put(&mut m, "tool_call_id", &info.tool_call_id);
    put(&mut m, "user", &info.user);
    put(&mut m, "host", &info.host);
    put(&mut m, "policy_digest", &info.policy_digest);
    if let Some(s) = info.sandboxed {
        m.insert("sandboxed".into(), s.into());
    }
    m
}

fn with_intent(intent: &IntentId) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("intent_seq".into(), intent.seq.into());
    m.insert("intent_hash".into(), intent.hash.clone().into());
    m
}

/// The body of an `approval` record: `event` is `requested`, `granted`, `denied` or `expired`.
pub fn approval_body(intent: &IntentId, event: &str, by: Option<&str>) -> Map<String, Value> {
    let mut m = with_intent(intent);
    m.insert("event".into(), event.into());
    if let Some(b) = by {
        m.insert("by".into(), b.into());
    }
    m
}

/// One egress-proxy decision.
#[derive(Debug, Clone, Default)]
pub struct NetworkInfo {
    /// `http`, `connect`, `socks5`, …
    pub protocol: String,
    /// Destination host.
    pub host: String,
    /// Destination port.
    pub port: u16,
    /// HTTP method, when visible.
    pub method: Option<String>,
    /// Whether the connection was allowed.
    pub allowed: bool,
    /// The deciding network rule.
    pub rule: String,
    /// URL path, query stripped and secrets redacted, when visible.
    pub path: Option<String>,
    /// Git smart-HTTP service, when the request is one.
    pub service: Option<String>,
    /// `plain`, `intercepted`, `passthrough` or `opaque`: how much of the traffic was seen.
    pub handling: Option<String>,
    /// The request's tier under the governance file, when judged.
    pub tier: Option<String>,
    /// The governance rule that judged the request.
    pub judged_by: Option<String>,
}

/// The body of a `network` record.
pub fn network_body(intent: &IntentId, n: &NetworkInfo) -> Map<String, Value> {
    let mut m = with_intent(intent);
    m.insert("protocol".into(), n.protocol.clone().into());
    m.insert("host".into(), n.host.clone().into());
    m.insert("port".into(), n.port.into());
    put(&mut m, "method", &n.method);
    m.insert("allowed".into(), n.allowed.into());
    m.insert("rule".into(), n.rule.clone().into());
    put(&mut m, "path", &n.path);
    put(&mut m, "service", &n.service);
    put(&mut m, "handling", &n.handling);
    put(&mut m, "tier", &n.tier);
    put(&mut m, "judged_by", &n.judged_by);
    m
}

/// How an action ended.
#[derive(Debug, Clone, Default)]
pub struct OutcomeInfo {
    /// Exit status, when it exited.
    pub exit_code: Option<i32>,
    /// Terminating signal, when killed.
    pub signal: Option<i32>,
    /// Wall-clock duration in nanoseconds.
    pub duration_ns: u64,
    /// Bytes written to stdout.
    pub stdout_bytes: u64,
    /// Hex SHA-256 of stdout.
    pub stdout_sha256: Option<String>,
    /// Bytes written to stderr.
    pub stderr_bytes: u64,
    /// Hex SHA-256 of stderr.
    pub stderr_sha256: Option<String>,
    /// Notes (what the sandbox could not enforce, why the action did not run).
    pub notes: Vec<String>,
}

/// The body of an `outcome` record.
pub fn outcome_body(intent: &IntentId, o: &OutcomeInfo) -> Map<String, Value> {
    let mut m = with_intent(intent);
    if let Some(c) = o.exit_code {
        m.insert("exit_code".into(), c.into());
    }
    if let Some(s) = o.signal {
        m.insert("signal".into(), s.into());
    }
    m.insert("duration_ns".into(), o.duration_ns.into());
    m.insert("stdout_bytes".into(), o.stdout_bytes.into());
    put(&mut m, "stdout_sha256", &o.stdout_sha256);
    m.insert("stderr_bytes".into(), o.stderr_bytes.into());
    put(&mut m, "stderr_sha256", &o.stderr_sha256);
    if !o.notes.is_empty() {
        m.insert("notes".into(), json!(o.notes));
    }
    m
}
