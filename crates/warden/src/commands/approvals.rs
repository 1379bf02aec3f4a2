//! `warden approvals`: the approver's side (list, show, approve, deny, status), token
//! administration, filing a request by hand, and the worker that runs approved `async` actions.
//!
//! Async execution design: the agent's `warden run` files the request and exits 75 with the
//! ticket. `warden approvals worker` (running with the same agent token) picks up approved
//! requests, consumes each approval on the server — an atomic `approved → consumed` transition,
//! so of any number of workers exactly one wins — runs the action through the governed path
//! (`warden-govern`: recorded, sandboxed, outcome with output digests and network records), and
//! reports the outcome, which `warden approvals status ID` then shows.

use crate::approval::{ApprovalAnswer, ApprovalRequest};
use crate::approval_server::{Client, ClientError, ServerApprover};
use crate::exit::{self, CliError, CmdResult};
use crate::policy_load;
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use warden_audit::{Approval, ApprovalEvent};
use warden_govern::{
    ActionRequest, Governor, IntentMeta, OutputMode, Recorder, RunningAction, Settings,
};
use warden_policy::{Decision, Tier};

/// Arguments of `warden approvals`.
#[derive(Args, Debug)]
pub struct ApprovalsArgs {
    /// Approval server URL.
    #[arg(
        long,
        env = "WARDEN_SERVER",
        global = true,
        default_value = "http://127.0.0.1:8420"
    )]
    pub server: String,
    /// Bearer token.
    #[arg(long, env = "WARDEN_TOKEN", global = true, hide_env_values = true)]
    pub token: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: ApprovalsCommand,
}

/// Subcommands of `warden approvals`.
#[derive(Subcommand, Debug)]
pub enum ApprovalsCommand {
    /// Requests you may see (default: pending ones).
    List {
        /// pending, approved, denied, expired, consumed or all.
        #[arg(long, default_value = "pending")]
        status: String,
    },
    /// One request in full.
    Show { id: String },
    /// Approve a request (binds to the action digest shown by `show`).
    Approve {
        id: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Deny a request.
    Deny {
        id: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Status and outcome of a request.
    Status { id: String },
    /// Tokens (admin).
    #[command(subcommand)]
    Token(TokenCommand),
    /// File a request for an exec action and, for `sync`, block until decided.
    /// Exits 0 when granted, 77 when denied or timed out, 75 when deferred.
    Request(RequestArgs),
    /// Run approved `async` actions filed with this token, each exactly once, in the sandbox.
    Worker {
        /// Process what is approved now, then exit.
        #[arg(long)]
        once: bool,
        /// Pause between scans when idle, in seconds.
        #[arg(long, default_value_t = 5)]
        interval: u64,
        #[command(flatten)]
        degraded: super::flags::Degraded,
    },
}

/// Token administration.
#[derive(Subcommand, Debug)]
pub enum TokenCommand {
    /// Create a token; it is printed once.
    Create {
        #[arg(long)]
        role: String,
        #[arg(long)]
        name: String,
        /// Comma-separated approver groups.
        #[arg(long, value_delimiter = ',')]
        groups: Vec<String>,
    },
}

/// Arguments of `warden approvals request`.
#[derive(Args, Debug)]
pub struct RequestArgs {
    #[arg(long, value_parser = ["sync", "async"])]
    pub tier: String,
    #[arg(long)]
    pub category: String,
    #[arg(long, default_value = "manual")]
    pub rule: String,
    #[arg(long)]
    pub rationale: Option<String>,
    #[arg(long)]
    pub workspace: Option<PathBuf>,
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    #[arg(long, default_value = "")]
    pub policy_digest: String,
    /// Ask to use an existing, approved ticket for this action instead of filing a new one.
    #[arg(long)]
    pub ticket: Option<String>,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, required = true, num_args = 1..)]
    pub argv: Vec<String>,
}

fn cli(e: ClientError) -> CliError {
    e.into_cli()
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// Field `k` of `v` for a terminal: the server renders the action itself, but rationale,
/// reasons, paths and comments are free text from others; invisible characters are escaped so
/// that none can hide, reorder or overwrite what is printed around it.
fn shown(v: &Value, k: &str) -> String {
    warden_policy::display::visible(str_of(v, k))
}

fn print_request(v: &Value) {
    println!("request  {}", shown(v, "id"));
    println!("status   {}", shown(v, "status"));
    // Rendered by the server from the action, its invisible characters already escaped.
    println!("action   {}", str_of(v, "action_text"));
    println!(
        "tier     {}  category {}  rule {}",
        shown(v, "tier"),
        shown(v, "category"),
        shown(v, "rule")
    );
    if let Some(r) = v.get("reasons").and_then(Value::as_array) {
        for r in r {
            println!(
                "  - {}",
                warden_policy::display::visible(r.as_str().unwrap_or_default())
            );
        }
    }
    // Where the filer's claims differ from the server's own reading of the action (the server
    // writes these, quoting what the filer claimed).
    for d in v
        .get("discrepancies")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        println!("warning  {}", d.as_str().unwrap_or_default());
    }
    if let Some(r) = v.get("rationale").and_then(Value::as_str) {
        println!("rationale {}", warden_policy::display::visible(r));
    }
    println!(
        "requester {}  workspace {}  cwd {}",
        shown(v, "requester"),
        shown(v, "workspace"),
        shown(v, "cwd")
    );
    println!(
        "groups   {}  quorum {}",
        v.get("groups").map(Value::to_string).unwrap_or_default(),
        v.get("quorum").map(Value::to_string).unwrap_or_default()
    );
    println!("digest   {}", shown(v, "action_digest"));
    if let Some(votes) = v.get("votes").and_then(Value::as_array) {
        for x in votes {
            println!(
                "vote     {} {} {}",
                shown(x, "approver"),
                shown(x, "verdict"),
                shown(x, "comment")
            );
        }
    }
    if let Some(r) = v.get("reason").and_then(Value::as_str) {
        println!("reason   {}", warden_policy::display::visible(r));
    }
    if let Some(o) = v.get("outcome").filter(|o| !o.is_null()) {
        println!("outcome  {o}");
    }
}

fn show(json_out: bool, v: &Value) {
    if json_out {
        println!("{v}");
    } else {
        print_request(v);
    }
}

/// Run `warden approvals …`.
pub fn run(args: ApprovalsArgs) -> CmdResult {
    let token = args.token.clone().ok_or_else(|| {
        CliError::bad_input(miette::miette!(
            "no token: pass --token or set WARDEN_TOKEN"
        ))
    })?;
    let c = Client::new(&args.server, &token);
    match args.command {
        ApprovalsCommand::List { status } => {
            let v = c.get(&format!("/requests?status={status}")).map_err(cli)?;
            if args.json {
                println!("{v}");
            } else {
                for r in v.as_array().into_iter().flatten() {
                    println!(
                        "{}  {:8}  {:5}  {:12}  {}",
                        shown(r, "id"),
                        shown(r, "status"),
                        shown(r, "tier"),
                        shown(r, "category"),
                        str_of(r, "action_text")
                    );
                }
            }
        }
        ApprovalsCommand::Show { id } | ApprovalsCommand::Status { id } => {
            let v = c.get(&format!("/requests/{id}")).map_err(cli)?;
            show(args.json, &v);
        }
        ApprovalsCommand::Approve { id, comment } => {
            // Approve exactly what we were shown: the digest travels with the vote.
            let cur = c.get(&format!("/requests/{id}")).map_err(cli)?;
            let v = c
                .post(
                    &format!("/requests/{id}/approve"),
                    &json!({"action_digest": str_of(&cur, "action_digest"), "comment": comment}),
                )
                .map_err(cli)?;
            show(args.json, &v);
        }
        ApprovalsCommand::Deny { id, comment } => {
            let v = c
                .post(
                    &format!("/requests/{id}/deny"),
                    &json!({ "comment": comment }),
                )
                .map_err(cli)?;
            show(args.json, &v);
        }
        ApprovalsCommand::Token(TokenCommand::Create { role, name, groups }) => {
            let v = c
                .post(
                    "/tokens",
                    &json!({"role": role, "name": name, "groups": groups}),
                )
                .map_err(cli)?;
            if args.json {
                println!("{v}");
            } else {
                println!("{}", str_of(&v, "token"));
            }
        }
        ApprovalsCommand::Request(r) => return request(&args.server, &token, r),
        ApprovalsCommand::Worker {
            once,
            interval,
            degraded,
        } => return worker(&c, once, interval, degraded.allow_degraded),
    }
    Ok(ExitCode::SUCCESS)
}

fn abs_or_cwd(p: Option<PathBuf>) -> Result<String, CliError> {
    let p = match p {
        Some(p) => crate::policy_load::absolute(&p)?,
        None => std::env::current_dir()
            .map_err(|e| CliError::failure(miette::miette!("current directory: {e}")))?,
    };
    Ok(p.to_string_lossy().into_owned())
}

fn request(server: &str, token: &str, r: RequestArgs) -> CmdResult {
    let cwd = abs_or_cwd(r.cwd)?;
    let workspace = match r.workspace {
        Some(w) => abs_or_cwd(Some(w))?,
        None => cwd.clone(),
    };
    let context = warden_policy::Context {
        workspace: PathBuf::from(&workspace),
        cwd: PathBuf::from(&cwd),
        home: policy_load::home(),
        sandboxed: true,
    };
    let approver = ServerApprover {
        server: server.to_owned(),
        token: token.to_owned(),
        workspace,
        cwd,
        action: json!({"kind": "exec", "argv": r.argv}),
        policy_digest: r.policy_digest,
    };
    let answer = if let Some(ticket) = r.ticket {
        approver.await_and_consume(&ticket).map_err(cli)?
    } else {
        let decision = Decision {
            tier: if r.tier == "sync" {
                Tier::Sync
            } else {
                Tier::Async
            },
            category: r.category,
            rule: r.rule,
            reasons: vec![],
            commands: vec![],
            named: Default::default(),
        };
        let text = r.argv.join(" ");
        let action = warden_policy::Action::Exec {
            argv: r.argv.clone(),
            cwd: None,
        };
        let req = ApprovalRequest {
            action: &action,
            bound: None,
            context: &context,
            action_text: &text,
            decision: &decision,
            rationale: r.rationale.as_deref(),
            policy_digest: &approver.policy_digest,
            ticket: None,
            proposed: None,
            nested: None,
        };
        approver.ask(&req).map_err(cli)?.answer
    };
    Ok(match answer {
        ApprovalAnswer::Granted { by } => {
            println!("granted by {by}");
            ExitCode::SUCCESS
        }
        ApprovalAnswer::Denied { by, reason } => {
            stderr_line!(
                "warden: denied{}: {reason}",
                by.map(|b| format!(" by {b}")).unwrap_or_default()
            );
            ExitCode::from(exit::DENIED)
        }
        ApprovalAnswer::Unavailable { reason } | ApprovalAnswer::Delegated { reason } => {
            stderr_line!("warden: denied: {reason}");
            ExitCode::from(exit::DENIED)
        }
        ApprovalAnswer::Deferred { ticket, reason } => {
            println!("{}", ticket.unwrap_or_default());
            stderr_line!("warden: deferred: {reason}");
            ExitCode::from(exit::DEFERRED)
        }
    })
}

fn worker(c: &Client, once: bool, interval: u64, allow_degraded: bool) -> CmdResult {
    let me = c.get("/whoami").map_err(cli)?;
    let me = str_of(&me, "name").to_owned();
    loop {
        let list = c.get("/requests?status=approved").map_err(cli)?;
        for r in list.as_array().into_iter().flatten() {
            if str_of(r, "requester") != me || str_of(r, "tier") != "async" {
                continue;
            }
            let id = str_of(r, "id");
            // The compare-and-set on the server: only one consumer ever gets past this.
            if let Err(e) = c.post(
                &format!("/requests/{id}/consume"),
                &json!({"action_digest": str_of(r, "action_digest")}),
            ) {
                stderr_line!("warden worker: {id}: not run: {e}");
                continue;
            }
            let outcome = audited_execute(r, allow_degraded);
            stderr_line!("warden worker: {id}: {outcome}");
            c.post(
                &format!("/requests/{id}/outcome"),
                &json!({ "outcome": outcome }),
            )
            .map_err(cli)?;
        }
        if once {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(Duration::from_secs(interval.max(1)));
    }
}

/// Run the consumed request `r` through the governed path: an intent record (naming the request
/// id and action digest) made durable before the action starts, the `approval` records of the
/// grant and of its use, then the action in the sandbox and its outcome (output digests, network
/// records) like any run. No intent, no run.
fn audited_execute(r: &Value, allow_degraded: bool) -> Value {
    let ws = std::path::Path::new(str_of(r, "workspace"));
    let (id, digest) = (str_of(r, "id"), str_of(r, "action_digest"));
    let prepared = (|| -> Result<(Governor, RunningAction, Vec<String>), CliError> {
        let policy = policy_load::load(None, ws)?;
        let ctx =
            policy_load::context(Some(ws), Some(std::path::Path::new(str_of(r, "cwd"))), true)?;
        let action: warden_policy::Action = serde_json::from_value(
            r.get("action").cloned().unwrap_or(Value::Null),
        )
        .map_err(|e| {
            CliError::bad_input(miette::miette!(
                "the request's action is not one Warden knows: {e}"
            ))
        })?;
        let argv = warden_govern::argv_of(&action).ok_or_else(|| {
            CliError::bad_input(miette::miette!("action has no runnable command"))
        })?;
        let recorder = Recorder::open(ws, &policy)?;
        let governor = Governor::new(
            std::sync::Arc::new(policy),
            ctx,
            recorder,
            std::sync::Arc::new(crate::approval::UnattendedApprover),
            Settings {
                allow_degraded,
                output: OutputMode::Stream,
            },
        );
        let req = ActionRequest {
            meta: IntentMeta {
                rationale: r
                    .get("rationale")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                agent: Some(str_of(r, "requester").to_owned()),
                ..IntentMeta::default()
            },
            request: Some((id.to_owned(), digest.to_owned())),
            ..ActionRequest::new(action)
        };
        let approvers: Vec<&str> = r
            .get("votes")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|v| str_of(v, "verdict") == "approve")
            .map(|v| str_of(v, "approver"))
            .collect();
        // The worker runs `async` requests only: that is the tier they were approved at.
        let running = governor.admit(&req, warden_policy::Tier::Async, |intent| {
            let detail = |event, by: String, decision: &str| Approval {
                by: Some(by),
                request_id: Some(id.to_owned()),
                action_digest: Some(digest.to_owned()),
                decision: Some(decision.into()),
                reason: r.get("reason").and_then(Value::as_str).map(str::to_owned),
                ..Approval::new(intent, event, None)
            };
            vec![
                detail(ApprovalEvent::Granted, approvers.join(","), "approved"),
                detail(
                    ApprovalEvent::Consumed,
                    str_of(r, "requester").to_owned(),
                    "consumed",
                ),
            ]
        })?;
        Ok((governor, running, argv))
    })();
    let (governor, running, argv) = match prepared {
        Ok(x) => x,
        Err(e) => {
            return json!({"ran": false, "error": format!("not run: {:?}", e.report)});
        }
    };
    let ran = governor.run(&running, argv);
    // The worker's run of this action is done: seal the log's head.
    if let Err(e) = governor.recorder().seal() {
        stderr_line!("warden worker: audit log: cannot seal the head: {e}");
    }
    match ran {
        Ok(exec) => {
            super::sandbox::print_warnings(&exec);
            worker_outcome(&exec)
        }
        Err(e) => json!({"ran": false, "error": e.to_string()}),
    }
}

/// What the worker reports of an execution: `ran: true` only when the action did what was
/// approved (exit status 0, no nested operation refused); a failed run says it failed, with
/// its status. (Before, an approved write the sandbox refused, "Read-only file system", was
/// reported as `ran: true`.) The warnings a terminal would show (writes not kept, a repository
/// created with hooks) go with it, for the requester and the approvers.
fn worker_outcome(exec: &warden_govern::Execution) -> Value {
    let mut out = worker_status(exec);
    let warnings: Vec<&str> = exec.warnings().collect();
    if !warnings.is_empty() {
        out["warnings"] = json!(warnings);
    }
    out
}

fn worker_status(exec: &warden_govern::Execution) -> Value {
    let status = super::run::status_of(exec);
    if status == 0 {
        return json!({"ran": true, "exit_code": exec.exit_code});
    }
    let why = match (exec.exit_code, exec.signal) {
        (_, Some(s)) => format!("the action was killed by signal {s}"),
        (Some(c), None) if c != 0 => format!("the action failed: exit status {c}"),
        _ => "a nested operation was refused".to_owned(),
    };
    json!({
        "ran": false,
        "failed": true,
        "exit_code": exec.exit_code,
        "signal": exec.signal,
        "error": why,
    })
}
