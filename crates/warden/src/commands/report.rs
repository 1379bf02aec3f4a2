//! `warden report`: the governance report a team reads from its audit log — how many actions ran
//! automatically and how many were surfaced, how approvals went and how long people took, which
//! rules surface most, which hosts the network reached or was refused, and every incident.
//!
//! Records are read as `warden-audit`'s typed records (lines of other kinds are counted and
//! skipped):
//! - `intent`: its tier, category, rule, action, and `groups` and `request_id` when present
//!   (the approval server's log). An intent naming a request an earlier intent filed (by its
//!   approval records or its deferred outcome's ticket) is that action run after approval: it
//!   completes the earlier one.
//! - `outcome`: its disposition (ran with an exit status or signal, denied, deferred with its
//!   ticket, unavailable, not run) and the notes a person reads (`not enforced…` marks a
//!   degraded sandbox, `warning: …` a warning).
//! - `network`: host, method (`tunnel` for a connection whose requests were not seen), allowed.
//! - `nested`: the runtime layers' decisions inside a running action (a program it ran, a
//!   request it sent): counted (how many, how many held for a person, how many refused, by
//!   rule); each refused one is named in its action's `nested-refused` incident and each one
//!   held for a person, with how the hold ended, in its `nested-held` incident.
//! - `approval`: its event; each request counts once however many records describe it, and
//!   its first decision counts. Approval records that name no intent are not Warden's own
//!   (other tools' server-side records, keyed by `request_id`/`request`/`ticket`/`id`, with their
//!   own event words): read as such and joined to the action whose deferred outcome names that
//!   request as its ticket.

#[path = "report/html.rs"]
mod html;

use crate::exit::{CliError, CmdResult};
use crate::policy_load;
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use warden_audit::{ApprovalEvent, Disposition, Entry, Record};
use warden_policy::sections::ApprovalsConfig;

/// Arguments of `warden report`.
#[derive(clap::Args, Debug)]
#[command(after_help = "Exit status: 0 when the report was made, 2 for bad input.")]
pub struct ReportArgs {
    /// Workspace root (default: the nearest directory with `.git` or `.warden`).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// The audit log (default: from `[audit] path`, else `<workspace>/.warden/audit/audit.jsonl`).
    #[arg(long, value_name = "PATH")]
    pub log: Option<PathBuf>,
    /// Governance file (repository layer) whose `[approvals]` routing names approver groups.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Only actions from this time on: a duration back from now (`24h`, `7d`, `30m`) or an
    /// RFC 3339 time (`2026-11-25`, `2026-11-25T09:00:00Z`, `…+02:00`).
    #[arg(long, value_name = "WHEN")]
    pub since: Option<String>,
    /// How many rules, categories and hosts to list.
    #[arg(long, value_name = "N", default_value_t = 10)]
    pub top: usize,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also write a self-contained HTML page (inline CSS and SVG charts) to FILE.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
}

/// A count and its share of all actions.
#[derive(Debug, Serialize, Default, Clone, Copy)]
pub struct Share {
    pub count: usize,
    pub share: f64,
}

/// Actions per tier.
#[derive(Debug, Serialize, Default)]
pub struct Tiers {
    pub auto: Share,
    #[serde(rename = "async")]
    pub async_: Share,
    pub sync: Share,
    pub deny: Share,
    /// `auto`: ran without a person.
    pub automatic: Share,
    /// Everything else: asked a person (async, sync) or was blocked (deny).
    pub surfaced: Share,
}

/// How the actions ended.
#[derive(Debug, Serialize, Default)]
pub struct Outcomes {
    /// Ran and exited 0.
    pub succeeded: usize,
    /// Ran and exited non-zero or was killed.
    pub failed: usize,
    /// Not run: denied by policy or by an approver (or the approval expired).
    pub denied: usize,
    /// Not run yet: parked for asynchronous approval.
    pub deferred: usize,
    /// Not run: Warden could not start it (e.g. the sandbox could not be enforced).
    pub did_not_run: usize,
    /// An outcome without exit status or known reason.
    pub other: usize,
    /// No outcome recorded.
    pub unknown: usize,
    /// Ran in a sandbox missing some protection (`not enforced: …`).
    pub degraded: usize,
}

/// Time from request to a person's decision for one approver group.
#[derive(Debug, Serialize)]
pub struct DecisionTimes {
    pub group: String,
    pub decisions: usize,
    pub median_ms: u64,
    pub p90_ms: u64,
}

/// Approval requests and how they ended.
#[derive(Debug, Serialize, Default)]
pub struct Approvals {
    pub requested: usize,
    pub granted: usize,
    pub denied: usize,
    pub expired: usize,
    /// Nobody could be asked (no approval server, no terminal); not run.
    pub unavailable: usize,
    pub pending: usize,
    /// Granted or denied by a person (expiries are not decisions); nearest-rank percentiles.
    pub time_to_decision: Vec<DecisionTimes>,
    /// Votes of external reviewers (`reviewer:<name>` → decision → count).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub reviewer_votes: BTreeMap<String, BTreeMap<String, usize>>,
}

/// A surfaced rule and how often it decided.
#[derive(Debug, Serialize)]
pub struct RuleCount {
    pub rule: String,
    pub category: String,
    pub tier: String,
    pub count: usize,
}

/// A category and how often it was surfaced.
#[derive(Debug, Serialize)]
pub struct CategoryCount {
    pub category: String,
    pub count: usize,
}

/// Egress-proxy decisions for one host.
#[derive(Debug, Serialize)]
pub struct HostCount {
    pub host: String,
    pub allowed: usize,
    pub denied: usize,
    /// Requests by HTTP method (`tunnel` for a connection whose requests were not seen):
    /// allowed and denied.
    pub methods: BTreeMap<String, MethodCount>,
}

/// Requests of one method to one host.
#[derive(Debug, Default, Serialize)]
pub struct MethodCount {
    pub allowed: usize,
    pub denied: usize,
}

/// The runtime layers' decisions inside running actions (`nested` records).
#[derive(Debug, Default, Serialize)]
pub struct NestedCounts {
    /// Decisions (a held operation counts once, by its final answer).
    pub decisions: usize,
    /// Of those, by layer (`exec`, `net`).
    pub by_layer: BTreeMap<String, usize>,
    /// Held for a person (tier `sync` above the granted tier).
    pub held: usize,
    /// Refused (async: a re-run request filed; deny; a hold refused or unanswered).
    pub refused: usize,
    /// Rules that held or refused, most frequent first.
    pub rules: Vec<NestedRuleCount>,
}

/// A rule that held or refused nested operations.
#[derive(Debug, Serialize)]
pub struct NestedRuleCount {
    pub rule: String,
    pub tier: String,
    pub held: usize,
    pub refused: usize,
}

/// Something a person should look at.
#[derive(Debug, Serialize)]
pub struct Incident {
    pub seq: u64,
    pub time: String,
    /// `denied-by-policy`, `denied-by-approver`, `approval-expired`, `approval-unavailable`,
    /// `failed`, `did-not-run`, `degraded`, `network-denied`, `nested-held` (an operation
    /// inside it waited for a person), `nested-refused`, `outcome-unknown`, `warning`.
    pub kinds: Vec<&'static str>,
    pub tier: String,
    pub rule: String,
    /// The agent's tool name, when the intent names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tool: Option<String>,
    pub action: String,
    pub detail: String,
}

/// The whole report.
#[derive(Debug, Serialize)]
pub struct Report {
    pub log: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<String>,
    pub records: usize,
    pub unreadable_lines: usize,
    pub actions: usize,
    pub tiers: Tiers,
    pub outcomes: Outcomes,
    pub approvals: Approvals,
    pub top_rules: Vec<RuleCount>,
    pub top_categories: Vec<CategoryCount>,
    pub network: Vec<HostCount>,
    pub network_allowed: usize,
    pub network_denied: usize,
    pub nested: NestedCounts,
    pub incident_counts: BTreeMap<&'static str, usize>,
    pub incidents: Vec<Incident>,
    /// Actions by the agent's tool name (`Bash`, `Edit`, an MCP tool), for intents naming one.
    pub agent_tools: BTreeMap<String, usize>,
}

#[derive(Debug, Default)]
struct Intent {
    seq: u64,
    ts_ns: u64,
    tier: String,
    category: String,
    rule: String,
    action: String,
    outcome: Option<warden_audit::Outcome>,
    net_allowed: Vec<String>,
    net_denied: Vec<String>,
    /// (host, method or `tunnel`, allowed) of each network record.
    net_methods: Vec<(String, String, bool)>,
    /// The nested operations refused inside it: `text (rule R, tier T)`.
    nested_refused: Vec<String>,
    /// The nested operations held for a person inside it and how the hold ended:
    /// `text (rule R): approved by P`.
    nested_held: Vec<String>,
    /// Approver groups, when the intent names them (the approval server's log does).
    groups: Vec<String>,
    /// The agent's tool name, when the intent names one.
    tool: Option<String>,
}

#[derive(Debug, Default)]
struct Request {
    intent: Option<u64>,
    category: Option<String>,
    groups: Vec<String>,
    requested_ns: Option<u64>,
    /// First decision: (event, ts, by).
    decision: Option<(&'static str, u64, Option<String>)>,
    first_ns: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum RequestKey {
    Intent(u64),
    /// A request known only by server-side approval records that name no intent (written by
    /// hand or by tools before the approval server kept its own log of intents).
    Server(String),
}

fn str_field(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

fn groups_field(v: &Value) -> Vec<String> {
    match v.get("groups").or_else(|| v.get("group")) {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The event of an approval record that names no intent (not one of Warden's typed records):
/// such records came from other tools, which named events their own way.
fn foreign_approval_event(v: &Value) -> Option<&'static str> {
    let word = |e: &str| match e {
        "requested" | "request" => Some("requested"),
        "granted" | "approved" => Some("granted"),
        "denied" | "rejected" => Some("denied"),
        "expired" | "expiry" | "timeout" | "timed_out" => Some("expired"),
        "unavailable" => Some("unavailable"),
        _ => None,
    };
    match v.get("event").and_then(Value::as_str)? {
        "decided" | "decision" => ["status", "verdict", "decision"]
            .iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str))
            .and_then(word)
            .filter(|e| *e != "requested"),
        e => word(e),
    }
}

/// The event as the report counts it: `requested`, or a decision (`granted`, `denied`,
/// `expired`, `unavailable`); votes, uses and executions are not decisions.
fn approval_event(e: ApprovalEvent) -> Option<&'static str> {
    match e {
        ApprovalEvent::Requested => Some("requested"),
        ApprovalEvent::Granted => Some("granted"),
        ApprovalEvent::Denied => Some("denied"),
        ApprovalEvent::Expired => Some("expired"),
        ApprovalEvent::Unavailable => Some("unavailable"),
        ApprovalEvent::Vote | ApprovalEvent::Consumed | ApprovalEvent::Executed => None,
    }
}

/// The approval-server request a deferred action was parked as.
fn ticket_of(outcome: &warden_audit::Outcome) -> Option<String> {
    match outcome.disposition() {
        (Disposition::Deferred, ticket) => ticket,
        _ => None,
    }
}

/// Nearest-rank percentile `p` (0–100) of sorted `v`.
fn percentile(sorted: &[u64], p: u64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p as usize * sorted.len()).div_ceil(100).max(1);
    sorted[rank - 1]
}

fn share(count: usize, total: usize) -> Share {
    Share {
        count,
        share: if total == 0 {
            0.0
        } else {
            count as f64 / total as f64
        },
    }
}

/// Fold `from` into the request of intent `seq`: the earliest request time and decision win.
fn merge_request(requests: &mut BTreeMap<RequestKey, Request>, seq: u64, from: Request) {
    let r = requests
        .entry(RequestKey::Intent(seq))
        .or_insert_with(|| Request {
            intent: Some(seq),
            first_ns: from.first_ns,
            ..Default::default()
        });
    if r.groups.is_empty() {
        r.groups = from.groups;
    }
    r.category = r.category.take().or(from.category);
    r.requested_ns = match (r.requested_ns, from.requested_ns) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    r.decision = match (r.decision.take(), from.decision) {
        (Some(a), Some(b)) => Some(if a.1 <= b.1 { a } else { b }),
        (a, b) => a.or(b),
    };
}

/// Build the report from the log's `lines`, keeping actions at or after `since_ns`.
pub fn build(
    log_name: &str,
    lines: &[Vec<u8>],
    since_ns: Option<u64>,
    approvals_cfg: &ApprovalsConfig,
    top: usize,
) -> Report {
    let mut unreadable = 0usize;
    let mut records = 0usize;
    let mut intents: BTreeMap<u64, Intent> = BTreeMap::new();
    let mut requests: BTreeMap<RequestKey, Request> = BTreeMap::new();
    // Votes by external reviewers (`reviewer:<name>`), by reviewer and decision.
    let mut reviewer_votes: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    let cutoff = since_ns.unwrap_or(0);
    // Approval-server request id → the first intent that filed it (by its approval records or
    // its `deferred (ticket ID)` outcome); a later intent naming the same request is that
    // action run after approval (the async worker), not a new action.
    let mut filed_by: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut resumed: Vec<(u64, u64)> = Vec::new();
    // (session, tool call id) → the first intent of that agent tool call: an agent's hook records
    // the call and then runs it under `warden run` with the same ids, which is one action.
    let mut first_of_call: std::collections::HashMap<(String, String), u64> =
        std::collections::HashMap::new();
    let mut nested = NestedCounts::default();
    // rule → (tier, held, refused)
    let mut nested_rules: BTreeMap<String, (String, usize, usize)> = BTreeMap::new();
    for raw in lines {
        let v: Value = match serde_json::from_slice(raw) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                unreadable += 1;
                continue;
            }
        };
        records += 1;
        if v.get("kind").and_then(Value::as_str) == Some("approval")
            && v.get("intent_seq").is_none()
        {
            // Server-side records naming only their request: joined to the action whose
            // deferred outcome names it as its ticket, below.
            let ts = v.get("ts_ns").and_then(Value::as_u64).unwrap_or(0);
            let (Some(id), Some(event)) = (
                ["request_id", "request", "ticket", "id"]
                    .iter()
                    .find_map(|k| str_field(&v, k)),
                foreign_approval_event(&v),
            ) else {
                continue;
            };
            let r = requests
                .entry(RequestKey::Server(id))
                .or_insert_with(|| Request {
                    first_ns: ts,
                    ..Default::default()
                });
            let g = groups_field(&v);
            if r.groups.is_empty() && !g.is_empty() {
                r.groups = g;
            }
            if r.category.is_none() {
                r.category = str_field(&v, "category");
            }
            match event {
                "requested" => {
                    r.requested_ns.get_or_insert(ts);
                }
                e => {
                    r.decision.get_or_insert((e, ts, str_field(&v, "by")));
                }
            }
            continue;
        }
        let Some(entry) = Entry::from_value(&v) else {
            continue;
        };
        let ts = entry.ts_ns;
        match entry.record {
            Record::Intent(i) => {
                let seq = entry.seq;
                if ts < cutoff {
                    continue;
                }
                if let Some(first) = i.request_id.as_ref().and_then(|r| filed_by.get(r)) {
                    resumed.push((seq, *first));
                } else if let (Some(session), Some(call)) = (&i.session, &i.tool_call_id) {
                    match first_of_call.entry((session.clone(), call.clone())) {
                        std::collections::hash_map::Entry::Occupied(e) => {
                            resumed.push((seq, *e.get()));
                        }
                        std::collections::hash_map::Entry::Vacant(e) => {
                            e.insert(seq);
                        }
                    }
                }
                intents.insert(
                    seq,
                    Intent {
                        seq,
                        ts_ns: ts,
                        tier: i.tier.as_str().to_owned(),
                        category: i.category.clone(),
                        rule: i.rule.clone(),
                        action: super::replay::action_text(&i.action),
                        groups: i.groups.clone().unwrap_or_default(),
                        tool: super::replay::agent_tool(&i),
                        ..Default::default()
                    },
                );
            }
            Record::Outcome(o) => {
                if let Some(i) = intents.get_mut(&o.intent.seq) {
                    if let Some(ticket) = ticket_of(&o) {
                        filed_by.entry(ticket).or_insert(i.seq);
                    }
                    i.outcome.get_or_insert(o);
                }
            }
            Record::Network(n) => {
                if let Some(i) = intents.get_mut(&n.intent.seq) {
                    let host = n.host.to_ascii_lowercase();
                    let method = n.method.clone().unwrap_or_else(|| "tunnel".into());
                    i.net_methods.push((host.clone(), method, n.allowed));
                    if n.allowed {
                        i.net_allowed.push(host);
                    } else {
                        i.net_denied.push(host);
                    }
                }
            }
            Record::Approval(a) => {
                let seq = a.intent.seq;
                if let Some(rid) = &a.request_id {
                    filed_by.entry(rid.clone()).or_insert(seq);
                }
                // An action from before the window.
                if !intents.contains_key(&seq) {
                    continue;
                }
                if a.event == ApprovalEvent::Vote
                    && let Some(by) = a.by.clone().filter(|b| b.starts_with("reviewer:"))
                {
                    let decision = a.decision.clone().unwrap_or_default();
                    *reviewer_votes
                        .entry(by)
                        .or_default()
                        .entry(decision)
                        .or_default() += 1;
                }
                let Some(event) = approval_event(a.event) else {
                    continue;
                };
                let r = requests
                    .entry(RequestKey::Intent(seq))
                    .or_insert_with(|| Request {
                        intent: Some(seq),
                        first_ns: ts,
                        ..Default::default()
                    });
                match event {
                    "requested" => {
                        r.requested_ns.get_or_insert(ts);
                    }
                    e => {
                        r.decision.get_or_insert((e, ts, a.by.clone()));
                    }
                }
            }
            Record::Nested(n) => {
                // An action from before the window.
                let Some(i) = intents.get_mut(&n.intent.seq) else {
                    continue;
                };
                let held = n.answer == warden_audit::NestedAnswer::Hold;
                let refused = matches!(
                    n.answer,
                    warden_audit::NestedAnswer::Refuse | warden_audit::NestedAnswer::Deny
                );
                if held {
                    nested.held += 1;
                } else {
                    nested.decisions += 1;
                    let layer = serde_json::to_value(n.layer)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    *nested.by_layer.entry(layer).or_default() += 1;
                }
                if refused {
                    nested.refused += 1;
                    i.nested_refused.push(format!(
                        "{} (rule {}, tier {})",
                        super::replay::action_text(&n.action),
                        n.rule,
                        n.tier.as_str()
                    ));
                }
                // The answer to a hold names the hold's record: what a person was asked and
                // what became of it.
                if n.held.is_some() {
                    let ended = match (n.answer, &n.by) {
                        (warden_audit::NestedAnswer::Proceed, Some(by)) => {
                            format!("approved by {by}")
                        }
                        (warden_audit::NestedAnswer::Proceed, None) => "approved".to_owned(),
                        (_, Some(by)) => format!("denied by {by}"),
                        (_, None) => "denied (no answer)".to_owned(),
                    };
                    i.nested_held.push(format!(
                        "{} (rule {}): {ended}",
                        super::replay::action_text(&n.action),
                        n.rule
                    ));
                }
                if held || refused {
                    let e = nested_rules
                        .entry(n.rule.clone())
                        .or_insert_with(|| (n.tier.as_str().to_owned(), 0, 0));
                    e.1 += usize::from(held);
                    e.2 += usize::from(refused);
                }
            }
            Record::Checkpoint(_) => {}
        }
    }
    // An action run after approval is the action that was deferred, and a hook-recorded tool
    // call run under `warden run` is that call: the later intent's outcome, network and approval
    // records complete the first intent's.
    for (later, first) in resumed {
        if !intents.contains_key(&first) {
            continue;
        }
        let Some(run) = intents.remove(&later) else {
            continue;
        };
        if let Some(i) = intents.get_mut(&first) {
            if run.outcome.is_some() {
                i.outcome = run.outcome;
            }
            i.net_allowed.extend(run.net_allowed);
            i.net_denied.extend(run.net_denied);
            i.net_methods.extend(run.net_methods);
            i.nested_refused.extend(run.nested_refused);
            i.nested_held.extend(run.nested_held);
            if i.groups.is_empty() {
                i.groups = run.groups;
            }
        }
        if let Some(r) = requests.remove(&RequestKey::Intent(later)) {
            merge_request(&mut requests, first, r);
        }
    }

    // A deferred `warden run` names its server request: the server's records and the run's
    // are one request.
    let tickets: Vec<(u64, String)> = intents
        .values()
        .filter_map(|i| Some((i.seq, i.outcome.as_ref().and_then(ticket_of)?)))
        .collect();
    for (seq, ticket) in tickets {
        if let Some(server) = requests.remove(&RequestKey::Server(ticket)) {
            merge_request(&mut requests, seq, server);
        }
    }
    // Server-side requests with no action in the log are windowed by their own time.
    requests.retain(|k, r| matches!(k, RequestKey::Intent(_)) || r.first_ns >= cutoff);

    let total = intents.len();
    let count_tier = |t: &str| intents.values().filter(|i| i.tier == t).count();
    let (auto, asy, syn, deny) = (
        count_tier("auto"),
        count_tier("async"),
        count_tier("sync"),
        count_tier("deny"),
    );
    let tiers = Tiers {
        auto: share(auto, total),
        async_: share(asy, total),
        sync: share(syn, total),
        deny: share(deny, total),
        automatic: share(auto, total),
        surfaced: share(total - auto, total),
    };

    // Approvals.
    let mut approvals = Approvals {
        reviewer_votes,
        ..Approvals::default()
    };
    let mut times: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for r in requests.values() {
        if r.requested_ns.is_some() || r.decision.is_some() {
            approvals.requested += 1;
        }
        match &r.decision {
            None => approvals.pending += 1,
            Some((e, ts, _)) => {
                match *e {
                    "granted" => approvals.granted += 1,
                    "denied" => approvals.denied += 1,
                    "unavailable" => approvals.unavailable += 1,
                    _ => approvals.expired += 1,
                }
                let decided_by_a_person = *e == "granted" || *e == "denied";
                if let (true, Some(req)) = (decided_by_a_person, r.requested_ns) {
                    let intent = r.intent.and_then(|s| intents.get(&s));
                    let groups = if !r.groups.is_empty() {
                        r.groups.clone()
                    } else if let Some(i) = intent.filter(|i| !i.groups.is_empty()) {
                        i.groups.clone()
                    } else {
                        let category = intent
                            .map(|i| i.category.clone())
                            .or_else(|| r.category.clone())
                            .unwrap_or_default();
                        warden_approvals::resolve_route(approvals_cfg, &category)
                            .map(|route| route.groups)
                            .unwrap_or_else(|_| vec!["unrouted".into()])
                    };
                    times
                        .entry(groups.join("+"))
                        .or_default()
                        .push(ts.saturating_sub(req) / 1_000_000);
                }
            }
        }
    }
    approvals.time_to_decision = times
        .into_iter()
        .map(|(group, mut v)| {
            v.sort_unstable();
            DecisionTimes {
                group,
                decisions: v.len(),
                median_ms: percentile(&v, 50),
                p90_ms: percentile(&v, 90),
            }
        })
        .collect();

    // Surfaced rules and categories.
    let mut rules: BTreeMap<(&str, &str, &str), usize> = BTreeMap::new();
    let mut cats: BTreeMap<&str, usize> = BTreeMap::new();
    for i in intents.values().filter(|i| i.tier != "auto") {
        *rules.entry((&i.rule, &i.category, &i.tier)).or_default() += 1;
        *cats.entry(&i.category).or_default() += 1;
    }
    let mut top_rules: Vec<RuleCount> = rules
        .into_iter()
        .map(|((rule, category, tier), count)| RuleCount {
            rule: rule.into(),
            category: category.into(),
            tier: tier.into(),
            count,
        })
        .collect();
    top_rules.sort_by(|a, b| b.count.cmp(&a.count).then(a.rule.cmp(&b.rule)));
    top_rules.truncate(top);
    let mut top_categories: Vec<CategoryCount> = cats
        .into_iter()
        .map(|(category, count)| CategoryCount {
            category: category.into(),
            count,
        })
        .collect();
    top_categories.sort_by(|a, b| b.count.cmp(&a.count).then(a.category.cmp(&b.category)));
    top_categories.truncate(top);

    // Network.
    let mut hosts: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for i in intents.values() {
        for h in &i.net_allowed {
            hosts.entry(h).or_default().0 += 1;
        }
        for h in &i.net_denied {
            hosts.entry(h).or_default().1 += 1;
        }
    }
    let mut methods: BTreeMap<&str, BTreeMap<String, MethodCount>> = BTreeMap::new();
    for i in intents.values() {
        for (h, m, allowed) in &i.net_methods {
            let c = methods.entry(h).or_default().entry(m.clone()).or_default();
            if *allowed {
                c.allowed += 1;
            } else {
                c.denied += 1;
            }
        }
    }
    let network_allowed = hosts.values().map(|c| c.0).sum();
    let network_denied = hosts.values().map(|c| c.1).sum();
    let mut network: Vec<HostCount> = hosts
        .into_iter()
        .map(|(host, (allowed, denied))| HostCount {
            host: host.into(),
            allowed,
            denied,
            methods: methods.remove(host).unwrap_or_default(),
        })
        .collect();
    network.sort_by(|a, b| {
        (b.allowed + b.denied)
            .cmp(&(a.allowed + a.denied))
            .then(a.host.cmp(&b.host))
    });
    network.truncate(top);

    // Outcomes and incidents.
    let mut outcomes = Outcomes::default();
    let mut incidents = Vec::new();
    let mut incident_counts: BTreeMap<&'static str, usize> = BTreeMap::new();
    for i in intents.values() {
        let mut kinds: Vec<&'static str> = Vec::new();
        let mut detail: Vec<String> = Vec::new();
        if i.tier == "deny" {
            kinds.push("denied-by-policy");
        }
        if let Some(r) = requests.get(&RequestKey::Intent(i.seq)) {
            match &r.decision {
                Some(("denied", _, by)) => {
                    kinds.push("denied-by-approver");
                    if let Some(by) = by {
                        detail.push(format!("denied by {by}"));
                    }
                }
                Some(("expired", _, _)) => kinds.push("approval-expired"),
                Some(("unavailable", _, _)) => kinds.push("approval-unavailable"),
                _ => {}
            }
        }
        match &i.outcome {
            None => {
                outcomes.unknown += 1;
                kinds.push("outcome-unknown");
            }
            Some(o) => {
                let notes = &o.notes;
                if notes.iter().any(|n| n.starts_with("not enforced")) {
                    outcomes.degraded += 1;
                    kinds.push("degraded");
                }
                // Warnings (e.g. a repository the command created holding hooks; see
                // warden-sandbox) are an incident of their own.
                let (warnings, others): (Vec<String>, Vec<String>) = notes
                    .iter()
                    .cloned()
                    .partition(|n| n.starts_with("warning: "));
                let first = notes.first().cloned().unwrap_or_default();
                match o.disposition().0 {
                    Disposition::Denied | Disposition::Unavailable => {
                        outcomes.denied += 1;
                        if kinds.is_empty() {
                            kinds.push("denied-by-approver");
                        }
                        detail.push(first);
                    }
                    Disposition::Deferred => outcomes.deferred += 1,
                    Disposition::NotRun => {
                        outcomes.did_not_run += 1;
                        kinds.push("did-not-run");
                        detail.push(first);
                    }
                    Disposition::Elsewhere => outcomes.other += 1,
                    Disposition::Ran => match (o.exit_code, o.signal) {
                        (_, Some(s)) => {
                            outcomes.failed += 1;
                            kinds.push("failed");
                            detail.push(format!("killed by signal {s}"));
                            detail.extend(others);
                        }
                        (Some(0), None) => outcomes.succeeded += 1,
                        (Some(c), None) => {
                            outcomes.failed += 1;
                            kinds.push("failed");
                            detail.push(format!("exit {c}"));
                            detail.extend(others);
                        }
                        // Performed by the agent, which reports no exit status.
                        (None, None) => outcomes.other += 1,
                    },
                }
                if !warnings.is_empty() {
                    kinds.push("warning");
                    detail.extend(warnings);
                }
            }
        }
        if !i.net_denied.is_empty() {
            kinds.push("network-denied");
            let hosts: BTreeSet<&str> = i.net_denied.iter().map(String::as_str).collect();
            detail.push(format!(
                "network denied: {}",
                hosts.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        if !i.nested_held.is_empty() {
            kinds.push("nested-held");
            detail.push(format!("held for a person: {}", i.nested_held.join(", ")));
        }
        if !i.nested_refused.is_empty() {
            kinds.push("nested-refused");
            detail.push(format!("refused inside: {}", i.nested_refused.join(", ")));
        }
        if kinds.is_empty() {
            continue;
        }
        for k in &kinds {
            *incident_counts.entry(k).or_default() += 1;
        }
        incidents.push(Incident {
            seq: i.seq,
            time: rfc3339(i.ts_ns),
            kinds,
            tier: i.tier.clone(),
            rule: i.rule.clone(),
            tool: i.tool.clone(),
            action: i.action.clone(),
            detail: detail.join("; "),
        });
    }

    nested.rules = nested_rules
        .into_iter()
        .map(|(rule, (tier, held, refused))| NestedRuleCount {
            rule,
            tier,
            held,
            refused,
        })
        .collect();
    nested
        .rules
        .sort_by_key(|x| std::cmp::Reverse(x.held + x.refused));
    nested.rules.truncate(top);
    let mut agent_tools: BTreeMap<String, usize> = BTreeMap::new();
    for t in intents.values().filter_map(|i| i.tool.clone()) {
        *agent_tools.entry(t).or_default() += 1;
    }
    Report {
        log: log_name.to_owned(),
        since: since_ns.map(rfc3339),
        first: intents.values().map(|i| i.ts_ns).min().map(rfc3339),
        last: intents.values().map(|i| i.ts_ns).max().map(rfc3339),
        records,
        unreadable_lines: unreadable,
        actions: total,
        tiers,
        outcomes,
        approvals,
        top_rules,
        top_categories,
        network,
        network_allowed,
        network_denied,
        nested,
        incident_counts,
        incidents,
        agent_tools,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(m) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// `ns` since the epoch as `YYYY-MM-DDTHH:MM:SSZ`.
pub fn rfc3339(ns: u64) -> String {
    let secs = (ns / 1_000_000_000) as i64;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    let s = secs.rem_euclid(86_400);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        (s / 60) % 60,
        s % 60
    )
}

/// Parse an RFC 3339 date or date-time into ns since the epoch.
fn parse_rfc3339(s: &str) -> Option<u64> {
    let num = |t: &str| -> Option<i64> {
        (!t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()))
            .then(|| t.parse().ok())
            .flatten()
    };
    let (date, time) = match s.split_once(['T', 't', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (s, None),
    };
    let mut dp = date.split('-');
    let (y, m, d) = (num(dp.next()?)?, num(dp.next()?)?, num(dp.next()?)?);
    if dp.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let mut secs = days_from_civil(y, m as u32, d as u32) * 86_400;
    let mut frac_ns = 0i64;
    if let Some(t) = time {
        let (clock, offset) = if let Some(c) = t.strip_suffix(['Z', 'z']) {
            (c, 0)
        } else {
            let i = t.rfind(['+', '-'])?;
            let (c, o) = t.split_at(i);
            let sign = if o.starts_with('-') { -1 } else { 1 };
            let (oh, om) = o[1..].split_once(':')?;
            (c, sign * (num(oh)? * 3600 + num(om)? * 60))
        };
        let (hms, frac) = match clock.split_once('.') {
            Some((a, f)) => (a, Some(f)),
            None => (clock, None),
        };
        let mut tp = hms.split(':');
        let (h, mi, se) = (num(tp.next()?)?, num(tp.next()?)?, num(tp.next()?)?);
        if tp.next().is_some() || h > 23 || mi > 59 || se > 60 {
            return None;
        }
        if let Some(f) = frac {
            let digits: String = f.chars().take(9).collect();
            frac_ns = num(&digits)? * 10i64.pow(9 - digits.len() as u32);
        }
        secs += h * 3600 + mi * 60 + se - offset;
    }
    // Before 1970 is everything; after 2554 (the end of u64 nanoseconds) is nothing.
    let ns = i128::from(secs) * 1_000_000_000 + i128::from(frac_ns);
    Some(u64::try_from(ns.max(0)).unwrap_or(u64::MAX))
}

/// The cutoff `--since` names, in ns since the epoch.
pub fn parse_since(s: &str, now_ns: u64) -> Result<u64, CliError> {
    if let Some(ns) = parse_rfc3339(s.trim()) {
        return Ok(ns);
    }
    match warden_approvals::routing::parse_duration(s) {
        Ok(d) => Ok(now_ns.saturating_sub(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))),
        Err(_) => Err(CliError::bad_input(miette::miette!(
            help = "a duration back from now (`30m`, `24h`, `7d`) or an RFC 3339 time (`2026-11-25`, `2026-11-25T09:00:00Z`)",
            "--since {s:?}: not a duration or a date"
        ))),
    }
}

fn now_ns() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Run `warden report`.
pub fn run(args: ReportArgs) -> CmdResult {
    let ctx = policy_load::context(args.workspace.as_deref(), None, true)?;
    let policy = policy_load::load(args.policy.as_deref(), &ctx.workspace)?;
    let since = args
        .since
        .as_deref()
        .map(|s| parse_since(s, now_ns()))
        .transpose()?;
    let log: PathBuf = match &args.log {
        Some(p) => p.clone(),
        None => crate::record::log_path(&ctx.workspace, &policy.config().audit),
    };
    let lines = read_log(&log)?;
    let report = build(
        &log.display().to_string(),
        &lines,
        since,
        &policy.config().approvals,
        args.top,
    );
    if let Some(path) = &args.html {
        std::fs::write(path, html::render(&report)).map_err(|e| {
            CliError::failure(miette::miette!("cannot write {}: {e}", path.display()))
        })?;
    }
    if args.json {
        super::replay::emit(&format!(
            "{}\n",
            serde_json::to_string(&report).unwrap_or_else(|_| "{}".into())
        ));
    } else {
        let mut text = render_text(&report);
        if let Some(path) = &args.html {
            text.push_str(&format!("\nHTML report written to {}\n", path.display()));
        }
        super::replay::emit(&text);
    }
    Ok(ExitCode::SUCCESS)
}

fn read_log(path: &Path) -> Result<Vec<Vec<u8>>, CliError> {
    match warden_audit::log::read_lines(path) {
        Ok((lines, _torn)) => Ok(lines),
        Err(e) => Err(CliError::bad_input(miette::miette!(
            help = "give the log with --log PATH, or run `warden report` inside the workspace",
            "cannot read the audit log: {e}"
        ))),
    }
}

fn pct(s: f64) -> String {
    format!("{:.1}%", s * 100.0)
}

/// Milliseconds as a person reads them.
pub fn duration_text(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else if ms < 120_000 {
        format!("{:.1} s", ms as f64 / 1000.0)
    } else if ms < 7_200_000 {
        format!("{:.1} min", ms as f64 / 60_000.0)
    } else {
        format!("{:.1} h", ms as f64 / 3_600_000.0)
    }
}

fn render_text(r: &Report) -> String {
    let mut out = format!("Warden report: {}\n", r.log);
    match (&r.first, &r.last) {
        (Some(a), Some(b)) => out.push_str(&format!("actions from {a} to {b}")),
        _ => out.push_str("no actions"),
    }
    if let Some(s) = &r.since {
        out.push_str(&format!(" (since {s})"));
    }
    out.push('\n');
    if r.unreadable_lines > 0 {
        out.push_str(&format!(
            "warning: {} unreadable log lines skipped (run `warden audit verify`)\n",
            r.unreadable_lines
        ));
    }
    out.push_str(&format!(
        "\n{} actions: {} automatic, {} surfaced\n",
        r.actions,
        pct(r.tiers.automatic.share),
        pct(r.tiers.surfaced.share)
    ));
    for (name, s) in [
        ("auto", r.tiers.auto),
        ("async", r.tiers.async_),
        ("sync", r.tiers.sync),
        ("deny", r.tiers.deny),
    ] {
        out.push_str(&format!(
            "  {name:<6} {:>6}  {:>6}\n",
            s.count,
            pct(s.share)
        ));
    }
    let o = &r.outcomes;
    out.push_str(&format!(
        "outcomes: {} succeeded, {} failed, {} denied, {} deferred, {} did not run, {} unknown, {} degraded\n",
        o.succeeded, o.failed, o.denied, o.deferred, o.did_not_run, o.unknown, o.degraded
    ));
    if !r.agent_tools.is_empty() {
        let list: Vec<String> = r
            .agent_tools
            .iter()
            .map(|(t, n)| format!("{t} {n}"))
            .collect();
        out.push_str(&format!("agent tools: {}\n", list.join(", ")));
    }
    let a = &r.approvals;
    // `unavailable` only when it happened: most logs come from attended or served runs.
    let unavailable = match a.unavailable {
        0 => String::new(),
        n => format!(", {n} unavailable (nobody to ask)"),
    };
    out.push_str(&format!(
        "\napprovals: {} requested, {} granted, {} denied, {} expired{unavailable}, {} pending\n",
        a.requested, a.granted, a.denied, a.expired, a.pending
    ));
    for (reviewer, votes) in &a.reviewer_votes {
        let list: Vec<String> = votes.iter().map(|(d, n)| format!("{n} {d}")).collect();
        out.push_str(&format!("  {reviewer}: {}\n", list.join(", ")));
    }
    if !a.time_to_decision.is_empty() {
        out.push_str("time to decision (granted or denied):\n");
        for t in &a.time_to_decision {
            out.push_str(&format!(
                "  {:<16} {:>4} decisions  median {}  p90 {}\n",
                t.group,
                t.decisions,
                duration_text(t.median_ms),
                duration_text(t.p90_ms)
            ));
        }
    }
    if !r.top_rules.is_empty() {
        out.push_str("\ntop surfaced rules:\n");
        for x in &r.top_rules {
            out.push_str(&format!(
                "  {:>5}  {}  ({}, {})\n",
                x.count, x.rule, x.tier, x.category
            ));
        }
        out.push_str("top surfaced categories:\n");
        for x in &r.top_categories {
            out.push_str(&format!("  {:>5}  {}\n", x.count, x.category));
        }
    }
    if !r.network.is_empty() {
        out.push_str(&format!(
            "\nnetwork: {} allowed, {} denied\n  {:<40} {:>7} {:>7}\n",
            r.network_allowed, r.network_denied, "host", "allowed", "denied"
        ));
        for h in &r.network {
            out.push_str(&format!(
                "  {:<40} {:>7} {:>7}\n",
                h.host, h.allowed, h.denied
            ));
            for (m, c) in &h.methods {
                out.push_str(&format!("    {:<38} {:>7} {:>7}\n", m, c.allowed, c.denied));
            }
        }
    }
    let n = &r.nested;
    if n.decisions > 0 {
        let layers: Vec<String> = n.by_layer.iter().map(|(k, c)| format!("{k} {c}")).collect();
        out.push_str(&format!(
            "\ninside actions: {} decisions ({}), {} held for a person, {} refused\n",
            n.decisions,
            layers.join(", "),
            n.held,
            n.refused
        ));
        for x in &n.rules {
            out.push_str(&format!(
                "  {:<40} {:>5} held {:>5} refused  ({})\n",
                x.rule, x.held, x.refused, x.tier
            ));
        }
    }
    out.push_str(&format!("\nincidents: {}\n", r.incidents.len()));
    if !r.incident_counts.is_empty() {
        let counts: Vec<String> = r
            .incident_counts
            .iter()
            .map(|(k, n)| format!("{k} {n}"))
            .collect();
        out.push_str(&format!("  ({})\n", counts.join(", ")));
    }
    for i in &r.incidents {
        out.push_str(&format!(
            "  #{:<5} {}  {}  [{} {}]  {}\n",
            i.seq,
            i.time,
            i.kinds.join(","),
            i.tier,
            i.rule,
            one_line(
                &match &i.tool {
                    Some(t) => format!("{t}: {}", i.action),
                    None => i.action.clone(),
                },
                70
            )
        ));
        if !i.detail.is_empty() {
            out.push_str(&format!("         {}\n", one_line(&i.detail, 110)));
        }
    }
    out
}

/// `s` on one line, at most `max` characters.
pub fn one_line(s: &str, max: usize) -> String {
    let flat: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        flat
    } else {
        format!(
            "{}…",
            flat.chars().take(max.saturating_sub(1)).collect::<String>()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        let ns = parse_rfc3339("2026-11-25T11:38:09Z").unwrap();
        assert_eq!(rfc3339(ns), "2026-11-25T11:38:09Z");
        assert_eq!(
            parse_rfc3339("2026-11-25T13:38:09.5+02:00"),
            Some(ns + 500_000_000)
        );
        assert_eq!(
            parse_rfc3339("2024-02-29"),
            Some(days_from_civil(2024, 2, 29) as u64 * 86_400 * 1_000_000_000)
        );
        assert_eq!(
            rfc3339(parse_rfc3339("2024-02-29").unwrap()),
            "2024-02-29T00:00:00Z"
        );
        assert_eq!(parse_rfc3339("2026-13-01"), None);
        assert_eq!(parse_rfc3339("2999-01-01"), Some(u64::MAX));
        assert_eq!(parse_rfc3339("1960-01-01"), Some(0));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn action_text_never_becomes_markup_in_the_html_page() {
        let intent = serde_json::json!({"seq": 1, "ts_ns": 5, "kind": "intent", "tier": "deny",
            "category": "x</td><script>", "rule": "r\"><img onerror=alert(1)>",
            "action": {"kind": "shell", "script": "echo '<script>alert(1)</script>' && rm -rf /"}});
        let network = serde_json::json!({"seq": 2, "kind": "network", "intent_seq": 1,
            "host": "<b>evil</b>", "allowed": false});
        let lines = [
            intent.to_string().into_bytes(),
            network.to_string().into_bytes(),
        ];
        let r = build("<log>", &lines, None, &ApprovalsConfig::default(), 10);
        assert_eq!(r.incidents.len(), 1);
        let page = html::render(&r);
        for bad in ["<script", "<img", "<b>evil", "<log>", "x</td>"] {
            assert!(!page.contains(bad), "{bad} reached the page unescaped");
        }
        assert!(
            page.contains(
                "echo &#39;&lt;script&gt;alert(1)&lt;/script&gt;&#39; &amp;&amp; rm -rf /"
            )
        );
        assert!(page.contains("&lt;b&gt;evil&lt;/b&gt;"));
    }

    /// A run's requests are counted by host and method in every format; a request held for a
    /// person is a `nested-held` incident saying how the hold ended (approved by whom, denied),
    /// and the HTML page shows the methods and the nested counts too.
    #[test]
    fn requests_by_host_and_method_and_held_requests_as_incidents() {
        let net = |seq: u64, method: &str, allowed: bool| {
            serde_json::json!({"seq": seq, "ts_ns": seq, "kind": "network", "intent_seq": 1,
                "protocol": "https", "host": "API.example.invalid", "port": 443, "method": method,
                "path": "/v1/items", "allowed": allowed, "rule": "allow", "handling": "intercepted",
                "tier": "sync", "judged_by": "test.post"})
        };
        let nested = |seq: u64, answer: &str, held: Option<u64>, by: Option<&str>| {
            serde_json::json!({"seq": seq, "ts_ns": seq, "kind": "nested", "intent_seq": 1,
                "layer": "net", "tier": "sync", "granted": "auto", "rule": "test.post",
                "category": "external-write", "reasons": ["writes"], "answer": answer,
                "held": held, "by": by,
                "action": {"kind": "net", "host": "api.example.invalid", "port": 443,
                    "method": "POST", "path": "/v1/items"}})
        };
        let lines: Vec<Vec<u8>> = [
            serde_json::json!({"seq": 1, "ts_ns": 1, "kind": "intent", "tier": "auto",
                "category": "", "rule": "default",
                "action": {"kind": "shell", "script": "sh sync.sh"}}),
            nested(2, "hold", None, None),
            nested(3, "proceed", Some(2), Some("alice")),
            nested(4, "hold", None, None),
            nested(5, "deny", Some(4), Some("bob")),
            net(6, "GET", true),
            net(7, "POST", true),
            net(8, "POST", false),
            serde_json::json!({"seq": 9, "ts_ns": 9, "kind": "outcome", "intent_seq": 1,
                "disposition": "ran", "exit_code": 0}),
        ]
        .iter()
        .map(|v| v.to_string().into_bytes())
        .collect();
        let r = build("log", &lines, None, &ApprovalsConfig::default(), 10);
        assert_eq!(r.network.len(), 1);
        let h = &r.network[0];
        assert_eq!(h.host, "api.example.invalid");
        assert_eq!((h.methods["GET"].allowed, h.methods["GET"].denied), (1, 0));
        assert_eq!(
            (h.methods["POST"].allowed, h.methods["POST"].denied),
            (1, 1)
        );
        assert_eq!(
            (r.nested.held, r.nested.refused, r.nested.decisions),
            (2, 1, 2)
        );
        assert_eq!(r.incidents.len(), 1, "{:?}", r.incidents);
        let i = &r.incidents[0];
        assert_eq!(i.kinds, ["network-denied", "nested-held", "nested-refused"]);
        assert!(
            i.detail.contains(
                "held for a person: POST api.example.invalid:443/v1/items (rule test.post): approved by alice, \
                 POST api.example.invalid:443/v1/items (rule test.post): denied by bob"
            ),
            "{}",
            i.detail
        );
        assert_eq!(r.incident_counts["nested-held"], 1);

        let json = serde_json::to_value(&r).expect("json");
        assert_eq!(json["network"][0]["methods"]["POST"]["denied"], 1);
        assert_eq!(json["incidents"][0]["kinds"][1], "nested-held");

        let text = render_text(&r);
        assert!(text.contains("api.example.invalid"), "{text}");
        assert!(text.contains("    POST"), "{text}");
        assert!(text.contains("nested-held"), "{text}");
        assert!(text.contains("held for a person: "), "{text}");

        let page = html::render(&r);
        assert!(page.contains("<h2>Inside actions</h2>"), "{page}");
        assert!(
            page.contains("2 decisions (net 2), 2 held for a person, 1 refused."),
            "{page}"
        );
        assert!(
            page.contains("<tr><td><code>api.example.invalid</code></td><td>POST</td><td class=\"n\">1</td><td class=\"n\">1</td></tr>"),
            "{page}"
        );
        assert!(page.contains("nested-held"), "{page}");
    }

    #[test]
    fn server_records_join_the_deferred_run_that_names_their_ticket() {
        // A workspace log's deferred run, then the approval server's records of the request it
        // filed (its intent names the request and its groups) and of another request.
        let lines: Vec<Vec<u8>> = [
            serde_json::json!({"seq": 1, "ts_ns": 1_000_000_000u64, "kind": "intent", "tier": "async",
                "category": "vcs-publish", "rule": "vcs.git-push",
                "action": {"kind": "shell", "script": "git push"}}),
            serde_json::json!({"seq": 2, "ts_ns": 1_001_000_000u64, "kind": "approval", "intent_seq": 1,
                "event": "requested"}),
            serde_json::json!({"seq": 3, "ts_ns": 1_003_000_000u64, "kind": "outcome", "intent_seq": 1,
                "disposition": "deferred", "ticket": "t-9",
                "notes": ["deferred (ticket t-9): tier async: filed"]}),
            serde_json::json!({"seq": 4, "ts_ns": 1_002_000_000u64, "kind": "intent", "tier": "async",
                "category": "vcs-publish", "rule": "vcs.git-push", "request_id": "t-9",
                "groups": ["release"], "action": {"kind": "shell", "script": "git push"}}),
            serde_json::json!({"seq": 5, "ts_ns": 1_002_000_000u64, "kind": "approval", "intent_seq": 4,
                "event": "requested", "request_id": "t-9"}),
            serde_json::json!({"seq": 6, "ts_ns": 1_005_000_000u64, "kind": "approval", "intent_seq": 4,
                "event": "vote", "decision": "approve", "request_id": "t-9"}),
            serde_json::json!({"seq": 7, "ts_ns": 1_501_000_000u64, "kind": "approval", "intent_seq": 4,
                "event": "granted", "request_id": "t-9"}),
            serde_json::json!({"seq": 8, "ts_ns": 1_600_000_000u64, "kind": "intent", "tier": "sync",
                "category": "credential-access", "rule": "cred.files", "request_id": "other",
                "groups": ["security"], "action": {"kind": "read", "path": "/home/u/.ssh/id_rsa"}}),
            serde_json::json!({"seq": 9, "ts_ns": 1_600_000_000u64, "kind": "approval", "intent_seq": 8,
                "event": "denied", "request_id": "other"}),
        ]
        .iter()
        .map(|v| v.to_string().into_bytes())
        .collect();
        let r = build("log", &lines, None, &ApprovalsConfig::default(), 10);
        let a = &r.approvals;
        assert_eq!((a.requested, a.granted, a.denied, a.pending), (2, 1, 1, 0));
        assert_eq!(a.time_to_decision.len(), 1, "{:?}", a.time_to_decision);
        let t = &a.time_to_decision[0];
        assert_eq!(
            (t.group.as_str(), t.decisions, t.median_ms),
            ("release", 1, 500)
        );
        assert_eq!(r.outcomes.deferred, 1);
    }

    #[test]
    fn a_hook_recorded_call_run_under_warden_run_is_one_action() {
        let s = 1_000_000_000u64;
        let intent = |seq: u64, call: &str, action: serde_json::Value| {
            serde_json::json!({"seq": seq, "ts_ns": s + seq, "kind": "intent", "tier": "auto",
                "category": "inspect", "rule": "read.inspect", "session": "S1",
                "tool_call_id": call, "action": action})
        };
        let lines: Vec<Vec<u8>> = [
            // The hook records the Bash call, then `warden run` records the rewritten command.
            intent(
                1,
                "toolu_1",
                serde_json::json!({"kind": "shell", "script": "ls"}),
            ),
            intent(
                2,
                "toolu_1",
                serde_json::json!({"kind": "exec",
                "argv": ["/bin/bash", "-c", "ls"]}),
            ),
            serde_json::json!({"seq": 3, "ts_ns": s + 3, "kind": "outcome", "intent_seq": 2,
                "exit_code": 3}),
            // PostToolUse: the hook's own outcome, without an exit status.
            serde_json::json!({"seq": 4, "ts_ns": s + 4, "kind": "outcome", "intent_seq": 1,
                "duration_ms": 5}),
            // Another call of the same session is another action; so is the same call id in
            // another session.
            intent(
                5,
                "toolu_2",
                serde_json::json!({"kind": "shell", "script": "pwd"}),
            ),
            serde_json::json!({"seq": 6, "ts_ns": s + 6, "kind": "intent", "tier": "auto",
                "category": "inspect", "rule": "read.inspect", "session": "S2",
                "tool_call_id": "toolu_1", "action": {"kind": "shell", "script": "ls"}}),
        ]
        .iter()
        .map(|v| v.to_string().into_bytes())
        .collect();
        let r = build("log", &lines, None, &ApprovalsConfig::default(), 10);
        assert_eq!(r.actions, 3);
        assert_eq!(r.tiers.auto.count, 3);
        // The run's exit status is the call's outcome.
        assert_eq!(r.outcomes.failed, 1);
    }

    #[test]
    fn a_deferred_action_run_after_approval_is_one_action() {
        let s = 1_000_000_000u64;
        let lines: Vec<Vec<u8>> = [
            // A workspace log: `warden run` defers a push filed as request q1 ...
            serde_json::json!({"seq": 1, "ts_ns": s, "kind": "intent", "tier": "async",
                "category": "vcs-publish", "rule": "vcs.git-push",
                "action": {"kind": "shell", "script": "git push"}}),
            serde_json::json!({"seq": 2, "ts_ns": s + 1_000_000, "kind": "approval", "intent_seq": 1,
                "event": "requested", "request_id": "q1", "decision": "requested"}),
            serde_json::json!({"seq": 3, "ts_ns": s + 2_000_000, "kind": "outcome", "intent_seq": 1,
                "notes": ["deferred (ticket q1): tier async: filed"]}),
            // ... and the worker runs it once approved.
            serde_json::json!({"seq": 4, "ts_ns": 2 * s, "kind": "intent", "tier": "async",
                "category": "vcs-publish", "rule": "vcs.git-push", "request_id": "q1",
                "action": {"kind": "shell", "script": "git push"}}),
            serde_json::json!({"seq": 5, "ts_ns": 2 * s + 1_000_000, "kind": "approval", "intent_seq": 4,
                "event": "granted", "request_id": "q1", "by": "alice"}),
            serde_json::json!({"seq": 6, "ts_ns": 2 * s + 2_000_000, "kind": "outcome", "intent_seq": 4,
                "exit_code": 0}),
            // The approval server's own log: the request's intent names its groups.
            serde_json::json!({"seq": 7, "ts_ns": 3 * s, "kind": "intent", "tier": "sync",
                "category": "credential-access", "rule": "cred.files", "request_id": "q2",
                "groups": ["security"], "action": {"kind": "read", "path": "/home/u/.ssh/id_rsa"}}),
            serde_json::json!({"seq": 8, "ts_ns": 3 * s, "kind": "approval", "intent_seq": 7,
                "event": "requested", "request_id": "q2"}),
            serde_json::json!({"seq": 9, "ts_ns": 3 * s + 5_000_000, "kind": "approval", "intent_seq": 7,
                "event": "vote", "decision": "deny", "by": "bob", "request_id": "q2"}),
            serde_json::json!({"seq": 10, "ts_ns": 3 * s + 7_000_000, "kind": "approval", "intent_seq": 7,
                "event": "denied", "by": "bob", "request_id": "q2"}),
            serde_json::json!({"seq": 11, "ts_ns": 3 * s + 8_000_000, "kind": "outcome", "intent_seq": 7,
                "notes": ["not run: denied by bob"]}),
        ]
        .iter()
        .map(|v| v.to_string().into_bytes())
        .collect();
        let r = build("log", &lines, None, &ApprovalsConfig::default(), 10);
        assert_eq!(r.actions, 2);
        assert_eq!(r.tiers.async_.count, 1);
        assert_eq!(
            (r.outcomes.succeeded, r.outcomes.denied, r.outcomes.deferred),
            (1, 1, 0)
        );
        let a = &r.approvals;
        assert_eq!((a.requested, a.granted, a.denied, a.pending), (2, 1, 1, 0));
        let times: Vec<(&str, u64)> = a
            .time_to_decision
            .iter()
            .map(|t| (t.group.as_str(), t.median_ms))
            .collect();
        assert_eq!(times, [("admins", 1000), ("security", 7)]);
        assert_eq!(r.incidents.len(), 1);
        assert_eq!(r.incidents[0].kinds, ["denied-by-approver"]);
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v = [10, 20, 30, 40, 50, 60, 70, 80, 90, 100];
        assert_eq!(percentile(&v, 50), 50);
        assert_eq!(percentile(&v, 90), 90);
        assert_eq!(percentile(&[7], 90), 7);
        assert_eq!(percentile(&[1, 2, 3], 50), 2);
    }
}
