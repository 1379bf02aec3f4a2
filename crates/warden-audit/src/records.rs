//! Warden's audit records as one typed enum, [`Record`]: intent, approval event, network
//! decision, nested decision, outcome and checkpoint. Every writer appends these types and every
//! reader ([`Entry`], [`read_entries`]) gets the same types back, so no reader parses free-text
//! notes. Serialised, each is the JSON body of one log line (`kind` names the variant); the
//! field names are those of the first record format, so logs written before the types existed
//! read (and verify) unchanged.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use warden_policy::{Action, CommandDecision, Decision, Tier};

/// A reference to a written intent record, named by every later record about the same action.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct IntentId {
    /// The intent's sequence number.
    #[serde(rename = "intent_seq")]
    pub seq: u64,
    /// The intent's record hash.
    #[serde(rename = "intent_hash", default)]
    pub hash: String,
}

/// One audit record (the body of one log line; the log adds `seq`, `prev`, `hash`, `ts_ns`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// A planned action and its classification, durable before the action starts.
    Intent(Box<Intent>),
    /// One step of an approval (requested, a vote, granted, …).
    Approval(Approval),
    /// One egress-proxy decision made while the action ran.
    Network(Network),
    /// A decision about an operation inside a running action (an exec, a request).
    Nested(Nested),
    /// How the action ended, or why it did not run.
    Outcome(Outcome),
    /// A signed tree head (written by the log itself).
    Checkpoint(CheckpointRecord),
}

impl Record {
    /// The `kind` of the record as written.
    pub fn kind(&self) -> &'static str {
        match self {
            Record::Intent(_) => "intent",
            Record::Approval(_) => "approval",
            Record::Network(_) => "network",
            Record::Nested(_) => "nested",
            Record::Outcome(_) => "outcome",
            Record::Checkpoint(_) => "checkpoint",
        }
    }

    /// The intent this record is about (none for intents and checkpoints).
    pub fn intent(&self) -> Option<&IntentId> {
        match self {
            Record::Approval(a) => Some(&a.intent),
            Record::Network(n) => Some(&n.intent),
            Record::Nested(n) => Some(&n.intent),
            Record::Outcome(o) => Some(&o.intent),
            Record::Intent(_) | Record::Checkpoint(_) => None,
        }
    }

    /// The body as written to the log: the record's fields, without `kind`.
    pub fn into_body(self) -> (&'static str, Map<String, Value>) {
        let kind = self.kind();
        let mut body = match serde_json::to_value(&self) {
            Ok(Value::Object(m)) => m,
            // Every variant is a struct of plain fields: serialising it cannot fail.
            _ => Map::new(),
        };
        body.remove("kind");
        (kind, body)
    }
}

/// An `intent` record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Intent {
    /// The action as classified.
    pub action: Action,
    /// The agent's tool name (`Bash`, an MCP tool, …); [`tool_name`] of the action by default
    /// (empty in records of writers that did not name it).
    #[serde(default)]
    pub tool: String,
    /// The decided tier.
    pub tier: Tier,
    /// The deciding rule's category.
    #[serde(default)]
    pub category: String,
    /// The deciding rule.
    #[serde(default)]
    pub rule: String,
    /// Why, deciding part first.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// Each analysed command with its own tier.
    #[serde(default)]
    pub commands: Vec<CommandDecision>,
    /// The agent's stated rationale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rationale: Option<String>,
    /// Agent identity (`claude-code`, `codex`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// Agent session id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The agent's tool-call id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tool_call_id: Option<String>,
    /// The OS user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The host name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Digest of the policy that decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_digest: Option<String>,
    /// Whether the action runs in the sandbox.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sandboxed: Option<bool>,
    /// The approval server's request this intent is about (the worker, the server's own log).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// The digest binding an approval to this exact action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_digest: Option<String>,
    /// The server's log: the action as the approver reads it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_text: Option<String>,
    /// The server's log: the requester's directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// The server's log: the requester's workspace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workspace: Option<String>,
    /// The server's log: the approver groups the request was routed to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// The server's log: the classification the filer claimed (tier, category, rule, reasons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claimed: Option<serde_json::Value>,
    /// The server's log: where the filer's claims differed from the server's own reading.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discrepancies: Option<Vec<String>>,
}

impl Intent {
    /// An intent for `action` as `decision` classified it; the rest left empty.
    pub fn new(action: &Action, decision: &Decision) -> Self {
        Self {
            action: action.clone(),
            tool: tool_name(action),
            tier: decision.tier,
            category: decision.category.clone(),
            rule: decision.rule.clone(),
            reasons: decision.reasons.clone(),
            commands: decision.commands.clone(),
            rationale: None,
            agent: None,
            session: None,
            tool_call_id: None,
            user: None,
            host: None,
            policy_digest: None,
            sandboxed: None,
            request_id: None,
            action_digest: None,
            action_text: None,
            cwd: None,
            workspace: None,
            groups: None,
            claimed: None,
            discrepancies: None,
        }
    }
}

/// What happened to an approval request, one step per `approval` record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalEvent {
    /// Asked (filed with a server, or prompted at a terminal).
    Requested,
    /// One approver's vote (server log).
    Vote,
    /// Approved.
    Granted,
    /// Refused by a person.
    Denied,
    /// Nobody decided in time (default deny).
    Expired,
    /// Nobody could be asked (no server, no terminal).
    Unavailable,
    /// A granted approval was used (single use).
    Consumed,
    /// The approved action was run by the worker (server log).
    Executed,
}

impl ApprovalEvent {
    /// The name as written.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requested => "requested",
            Self::Vote => "vote",
            Self::Granted => "granted",
            Self::Denied => "denied",
            Self::Expired => "expired",
            Self::Unavailable => "unavailable",
            Self::Consumed => "consumed",
            Self::Executed => "executed",
        }
    }
}

/// An `approval` record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// The action's intent.
    #[serde(flatten)]
    pub intent: IntentId,
    /// What happened.
    pub event: ApprovalEvent,
    /// The decider (approver, requester or worker that acted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The approval server's request id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Digest binding the approval to the exact action.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action_digest: Option<String>,
    /// The server's status word after the event (`pending`, `approve`/`deny` for a vote,
    /// `approved`, `denied`, `expired`, `consumed`, `executed`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decision: Option<String>,
    /// Why (routing, a denial's reason).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// An approver's comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// For `executed`: the outcome the executor reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Value>,
}

impl Approval {
    /// An approval record of `event` about `intent`, by `by`.
    pub fn new(intent: &IntentId, event: ApprovalEvent, by: Option<&str>) -> Self {
        Self {
            intent: intent.clone(),
            event,
            by: by.map(str::to_owned),
            request_id: None,
            action_digest: None,
            decision: None,
            reason: None,
            comment: None,
            outcome: None,
        }
    }
}

/// A `network` record: one egress-proxy decision.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Network {
    /// The action's intent.
    #[serde(flatten)]
    pub intent: IntentId,
    /// `http`, `connect`, `socks5`, …
    #[serde(default)]
    pub protocol: String,
    /// Destination host.
    pub host: String,
    /// Destination port.
    #[serde(default)]
    pub port: u16,
    /// HTTP method, when visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Whether the connection was allowed.
    pub allowed: bool,
    /// The deciding network rule.
    #[serde(default)]
    pub rule: String,
    /// URL path, query stripped and secrets redacted, when visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Git smart-HTTP service, when the request is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// `plain`, `intercepted`, `passthrough` or `opaque`: how much of the traffic was seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handling: Option<String>,
    /// The request's tier under the governance file, when judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<String>,
    /// The governance rule that judged the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judged_by: Option<String>,
}

/// Which runtime layer asked for a nested decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NestedLayer {
    /// An `execve` inside the sandbox.
    Exec,
    /// A request through the egress proxy.
    Net,
}

/// The answer to a nested operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NestedAnswer {
    /// At most the granted tier: it goes ahead.
    Proceed,
    /// `sync` above the granted tier: it waits for a person (a later record says how it ended).
    Hold,
    /// `async` above the granted tier: refused now; a request to re-run the action is filed.
    Refuse,
    /// `deny`, or a hold that was denied or timed out.
    Deny,
}

/// A `nested` record: the decision about one operation inside a running action, child of its
/// intent, durable before the operation proceeds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Nested {
    /// The running action's intent.
    #[serde(flatten)]
    pub intent: IntentId,
    /// Which layer asked.
    pub layer: NestedLayer,
    /// The nested operation.
    pub action: Action,
    /// Its tier.
    pub tier: Tier,
    /// The tier the running action was cleared at.
    pub granted: Tier,
    /// The deciding rule.
    pub rule: String,
    /// The deciding rule's category.
    pub category: String,
    /// Why, deciding part first.
    #[serde(default)]
    pub reasons: Vec<String>,
    /// The answer.
    pub answer: NestedAnswer,
    /// For the record closing a hold: the seq of the `hold` record.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held: Option<u64>,
    /// Who released or refused a hold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    /// The request filed (an async refusal), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
}

/// How a governed action ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Disposition {
    /// It ran (exit status or signal in the record).
    Ran,
    /// Denied by policy or by a person; not run.
    Denied,
    /// Parked for asynchronous approval (`ticket` names the request when one was filed).
    Deferred,
    /// It needed a person and nobody could be asked; not run.
    Unavailable,
    /// It could not be started or failed before it did anything (the sandbox, the kernel,
    /// a file tool's error).
    NotRun,
    /// Handed to another process whose own log records how it went (the approval server's
    /// log, when `warden run` used a sync approval).
    Elsewhere,
}

/// An `outcome` record.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Outcome {
    /// The action's intent.
    #[serde(flatten)]
    pub intent: IntentId,
    /// How it ended. Absent in logs of the first format: see [`Outcome::disposition`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disposition: Option<Disposition>,
    /// The approval request a deferred action is parked as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    /// Exit status, when it exited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Terminating signal, when killed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signal: Option<i32>,
    /// Wall-clock duration in nanoseconds.
    #[serde(default)]
    pub duration_ns: u64,
    /// Bytes written to stdout.
    #[serde(default)]
    pub stdout_bytes: u64,
    /// Hex SHA-256 of stdout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdout_sha256: Option<String>,
    /// Bytes written to stderr.
    #[serde(default)]
    pub stderr_bytes: u64,
    /// Hex SHA-256 of stderr.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stderr_sha256: Option<String>,
    /// Notes for people (what the sandbox could not enforce, warnings, why it did not run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl Outcome {
    /// How the action ended, and the ticket of a deferred one. Records of the first format had
    /// no `disposition`: an exit status or signal means it ran, otherwise its first note said why
    /// in the words that format's writers used (`denied…`, `deferred (ticket T)…`, …). This is
    /// the only place that reads those words.
    pub fn disposition(&self) -> (Disposition, Option<String>) {
        if let Some(d) = self.disposition {
            return (d, self.ticket.clone());
        }
        if self.exit_code.is_some() || self.signal.is_some() {
            return (Disposition::Ran, None);
        }
        let note = self.notes.first().map(String::as_str).unwrap_or("");
        if let Some(rest) = note.strip_prefix("deferred") {
            let ticket = rest
                .strip_prefix(" (ticket ")
                .and_then(|r| r.split_once(')'))
                .map(|(t, _)| t.to_owned());
            (Disposition::Deferred, ticket)
        } else if note.starts_with("denied") || note.starts_with("not run") {
            // The first format wrote a person's denial, an expiry and "nobody could be asked"
            // alike; the `approval` record before it tells them apart.
            (Disposition::Denied, None)
        } else if note.starts_with("did not run") {
            (Disposition::NotRun, None)
        } else {
            // An agent's own report without an exit status, or an action handed elsewhere.
            (Disposition::Elsewhere, None)
        }
    }
}

/// A `checkpoint` record (written by [`crate::AuditLog::checkpoint`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointRecord {
    /// The log's origin line.
    pub origin: String,
    /// Tree size covered.
    pub size: u64,
    /// Base64 Merkle root.
    pub root: String,
    /// The checkpoint note text.
    pub note: String,
    /// Whether the note is signed.
    #[serde(default)]
    pub signed: bool,
    /// The verifier key name, when signed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// One line of the log as read back: the chain fields and the typed record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// Sequence number (1-based).
    pub seq: u64,
    /// Wall-clock time of the append, ns since the epoch.
    #[serde(default)]
    pub ts_ns: u64,
    /// This record's hash (integrity is `warden audit verify`'s business, not a reader's).
    #[serde(default)]
    pub hash: String,
    /// The record.
    #[serde(flatten)]
    pub record: Record,
}

impl Entry {
    /// Read a log line's JSON into an entry; `None` for a kind this version does not know.
    pub fn from_value(v: &Value) -> Option<Self> {
        Entry::deserialize(v).ok()
    }

    /// This entry as the reference later records use when it is an intent.
    pub fn id(&self) -> IntentId {
        IntentId {
            seq: self.seq,
            hash: self.hash.clone(),
        }
    }
}

/// Every record of the log at `path` that this version can read, in order (lines of unknown
/// kinds and torn tails are skipped; `warden audit verify` is the judge of integrity).
pub fn read_entries(path: &std::path::Path) -> crate::Result<Vec<Entry>> {
    Ok(crate::log::read_records(path)?
        .iter()
        .filter_map(Entry::from_value)
        .collect())
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

// ---- The map builders of the first format, kept for callers that build bodies by hand. ----

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

impl IntentInfo {
    /// The typed intent record for `action` and `decision` with this information.
    pub fn intent(&self, action: &Action, decision: &Decision) -> Intent {
        let mut i = Intent::new(action, decision);
        if let Some(t) = &self.tool {
            i.tool = t.clone();
        }
        i.rationale = self.rationale.clone();
        i.agent = self.agent.clone();
        i.session = self.session.clone();
        i.tool_call_id = self.tool_call_id.clone();
        i.user = self.user.clone();
        i.host = self.host.clone();
        i.policy_digest = self.policy_digest.clone();
        i.sandboxed = self.sandboxed;
        i
    }
}

/// The body of an `intent` record (secrets are redacted by the log when it is appended).
pub fn intent_body(action: &Action, decision: &Decision, info: &IntentInfo) -> Map<String, Value> {
    Record::Intent(Box::new(info.intent(action, decision)))
        .into_body()
        .1
}

/// The body of an `approval` record: `event` is `requested`, `granted`, `denied`, `expired`, ….
/// An unknown event name is written as given (this builder predates [`ApprovalEvent`]).
pub fn approval_body(intent: &IntentId, event: &str, by: Option<&str>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("intent_seq".into(), intent.seq.into());
    m.insert("intent_hash".into(), intent.hash.clone().into());
    m.insert("event".into(), event.into());
    if let Some(b) = by {
        m.insert("by".into(), b.into());
    }
    m
}

/// One egress-proxy decision.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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

impl NetworkInfo {
    /// The typed record of this decision about `intent`.
    pub fn record(&self, intent: &IntentId) -> Network {
        Network {
            intent: intent.clone(),
            protocol: self.protocol.clone(),
            host: self.host.clone(),
            port: self.port,
            method: self.method.clone(),
            allowed: self.allowed,
            rule: self.rule.clone(),
            path: self.path.clone(),
            service: self.service.clone(),
            handling: self.handling.clone(),
            tier: self.tier.clone(),
            judged_by: self.judged_by.clone(),
        }
    }
}

/// The body of a `network` record.
pub fn network_body(intent: &IntentId, n: &NetworkInfo) -> Map<String, Value> {
    Record::Network(n.record(intent)).into_body().1
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

/// The body of an `outcome` record (of the first format: no disposition).
pub fn outcome_body(intent: &IntentId, o: &OutcomeInfo) -> Map<String, Value> {
    Record::Outcome(Outcome {
        intent: intent.clone(),
        disposition: None,
        ticket: None,
        exit_code: o.exit_code,
        signal: o.signal,
        duration_ns: o.duration_ns,
        stdout_bytes: o.stdout_bytes,
        stdout_sha256: o.stdout_sha256.clone(),
        stderr_bytes: o.stderr_bytes,
        stderr_sha256: o.stderr_sha256.clone(),
        notes: o.notes.clone(),
    })
    .into_body()
    .1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_read_back_as_the_same_types() {
        let id = IntentId {
            seq: 3,
            hash: "ab".into(),
        };
        let recs = [
            Record::Approval(Approval::new(&id, ApprovalEvent::Unavailable, None)),
            Record::Outcome(Outcome {
                intent: id.clone(),
                disposition: Some(Disposition::Deferred),
                ticket: Some("t1".into()),
                ..Outcome::default()
            }),
            Record::Nested(Nested {
                intent: id.clone(),
                layer: NestedLayer::Exec,
                action: Action::Exec {
                    argv: vec!["git".into(), "push".into()],
                    cwd: None,
                },
                tier: Tier::Async,
                granted: Tier::Auto,
                rule: "vcs.git-push".into(),
                category: "vcs-publish".into(),
                reasons: vec![],
                answer: NestedAnswer::Refuse,
                held: None,
                by: None,
                ticket: None,
            }),
        ];
        for r in recs {
            let (kind, mut body) = r.clone().into_body();
            body.insert("kind".into(), kind.into());
            body.insert("seq".into(), 4.into());
            body.insert("hash".into(), "cd".into());
            let e = Entry::from_value(&Value::Object(body)).expect("reads back");
            assert_eq!(e.record, r);
            assert_eq!(e.record.intent(), Some(&id));
        }
    }

    #[test]
    fn first_format_outcomes_have_a_disposition() {
        let o = |notes: &[&str], code: Option<i32>| Outcome {
            exit_code: code,
            notes: notes.iter().map(|s| (*s).to_owned()).collect(),
            ..Outcome::default()
        };
        assert_eq!(o(&[], Some(0)).disposition().0, Disposition::Ran);
        assert_eq!(
            o(&["deferred (ticket q1): tier async: filed"], None).disposition(),
            (Disposition::Deferred, Some("q1".into()))
        );
        assert_eq!(
            o(&["deferred: tier async: no server"], None).disposition(),
            (Disposition::Deferred, None)
        );
        assert_eq!(
            o(&["denied by policy (rule r): x"], None).disposition().0,
            Disposition::Denied
        );
        assert_eq!(
            o(&["did not run: x"], None).disposition().0,
            Disposition::NotRun
        );
        assert_eq!(
            o(&["not run: denied by bob"], None).disposition().0,
            Disposition::Denied
        );
        assert_eq!(o(&[], None).disposition().0, Disposition::Elsewhere);
    }
}
