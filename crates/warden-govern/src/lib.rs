//! warden-govern: the one governed path. Every entry point (`warden run`, the agent hooks, the
//! MCP tools, the approvals worker) hands its action to a [`Governor`], which classifies it with
//! the loaded policy, records the intent durably, gets the approval its tier asks for, runs it in
//! the sandbox behind the egress proxy and records the outcome, answering with a typed
//! [`Verdict`]. The runtime layers ask the same governor for [`Governor::nested`] decisions
//! about operations inside a running action.
//!
//! No command-line wording lives here: verdicts and errors are types; the binary turns them
//! into exit codes, stderr lines and agent answers.
//!
//! An entry point (a new agent's hook, say) writes only its protocol: the payload → [`Action`]
//! mapping, an [`Approver`] if the agent has a prompt of its own ([`ApprovalAnswer::Delegated`])
//! or the approval server's, and the answer format. It builds a [`Governor`] and either calls
//! [`Governor::govern`] (run a command end to end) or [`Governor::clear`] (decide; the agent
//! performs the action) and then [`Governor::finish`] with the outcome the agent reports.
//!
//! Nested decisions ([`Governor::nested`]) are for the runtime layers: the sandbox supervisor's
//! exec notifications and the proxy's requests, inside a [`RunningAction`]. The governor is
//! `Send + Sync`; a held (sync) decision blocks only its caller.

mod approve;
mod error;
pub mod execute;
mod lookahead;
mod nested_exec;
pub mod record;

pub use approve::{Answered, ApprovalAnswer, ApprovalRequest, Approver, UnattendedApprover};
pub use error::{GovernError, Result};
pub use execute::{Execution, OutputMode};
pub use lookahead::{WorkspaceFiles, classify, explain};
pub use nested_exec::NestedRefusal;
pub use record::{IntentMeta, IntentRef, NetworkRecord, Outcome, Recorder};
pub use warden_audit::{ApprovalEvent, Disposition, NestedAnswer, NestedLayer};

use std::path::{Path, PathBuf};
use std::sync::Arc;
use warden_policy::{Action, Context, Decision, Policy, Tier};

/// How actions are isolated.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// Run even if the kernel cannot enforce everything the profile asks for (noted).
    pub allow_degraded: bool,
    /// Where a command's output goes.
    pub output: OutputMode,
}

/// How a refused action's outcome note is worded (from its classification and verdict).
pub type Note<'a> = dyn Fn(&Decision, &Verdict) -> String + 'a;

/// What the approval step decided.
enum Gate {
    Auto,
    Granted(Granted),
    Delegated(String),
    Refused(Verdict),
}

/// One action to govern.
#[derive(Debug, Clone)]
pub struct ActionRequest {
    /// The action as the agent asked for it.
    pub action: Action,
    /// Who asked and why.
    pub meta: IntentMeta,
    /// Where it runs; the governor's context when `None`.
    pub context: Option<Context>,
    /// What an approval is bound to when it is more than the action.
    pub bound: Option<serde_json::Value>,
    /// A ticket filed earlier for this very action.
    pub ticket: Option<String>,
    /// Extra fields of the intent: the approval server request the action comes from
    /// (request id, action digest), for the worker.
    pub request: Option<(String, String)>,
    /// The action as a person reads it, when the agent's words say it better than
    /// [`action_text`] (e.g. `Read /path`).
    pub text: Option<String>,
    /// A reason the entry point found to refuse the action before classification (e.g. a path
    /// outside the workspace): recorded with the intent, never performed.
    pub refusal: Option<String>,
    /// For a file write: the content it proposes (`{"before", "after"}`), which the approver is
    /// shown as a diff (checked by the approval server against the digests in `bound`).
    pub proposed: Option<serde_json::Value>,
    /// A file the command, when it is a shell's `-c` script, writes the directory it ends in
    /// to (see [`execute::report_cwd`]).
    pub report_cwd: Option<PathBuf>,
}

impl ActionRequest {
    /// A request for `action` with nothing else said.
    pub fn new(action: Action) -> Self {
        Self {
            action,
            meta: IntentMeta::default(),
            context: None,
            bound: None,
            ticket: None,
            request: None,
            text: None,
            refusal: None,
            proposed: None,
            report_cwd: None,
        }
    }
}

/// Who refused an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refuser {
    /// The governance file (tier `deny`).
    Policy,
    /// The entry point, before classification ([`ActionRequest::refusal`]).
    Guard,
    /// A person.
    Person(String),
    /// Nobody decided in time (default deny).
    Timeout,
}

/// What happened to a governed action. Reasons are as the policy or the approver gave them;
/// [`Verdict::line`] is the one-line account the outcome record keeps.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// It ran; its execution (status, duration, output digests, network records).
    Ran(Box<Execution>),
    /// It was refused.
    Denied {
        /// By whom.
        by: Refuser,
        /// Why, one line.
        reason: String,
    },
    /// It was parked for asynchronous approval.
    Deferred {
        /// The request filed, when an approval server took it.
        ticket: Option<String>,
        /// Why, one line.
        reason: String,
    },
    /// It needed a person and nobody could be asked.
    Unavailable {
        /// Why, one line.
        reason: String,
    },
}

impl Verdict {
    /// The one-line account of a verdict about an action classified as `decision`:
    /// `denied by policy (rule R): why`, `denied: tier T: why`, `deferred (ticket I): tier T:
    /// why`; for `Ran`, its exit status.
    pub fn line(&self, decision: &Decision) -> String {
        let tier = decision.tier;
        match self {
            Verdict::Ran(e) => match (e.exit_code, e.signal) {
                (_, Some(s)) => format!("ran: killed by signal {s}"),
                (Some(c), None) => format!("ran: exit status {c}"),
                (None, None) => "ran".into(),
            },
            Verdict::Denied {
                by: Refuser::Policy,
                reason,
            } => format!("denied by policy (rule {}): {reason}", decision.rule),
            Verdict::Denied {
                by: Refuser::Guard,
                reason,
            } => format!("denied: {reason}"),
            Verdict::Denied { reason, .. } | Verdict::Unavailable { reason } => {
                format!("denied: tier {tier}: {reason}")
            }
            Verdict::Deferred {
                ticket: Some(t),
                reason,
            } => format!("deferred (ticket {t}): tier {tier}: {reason}"),
            Verdict::Deferred {
                ticket: None,
                reason,
            } => format!("deferred: tier {tier}: {reason}"),
        }
    }
}

/// An action that was cleared to run: the context nested decisions are made in.
#[derive(Debug, Clone)]
pub struct RunningAction {
    /// Its intent record.
    pub intent: IntentRef,
    /// The tier it was cleared at: `auto` when it ran automatically, its own tier when a
    /// person (or an approval) cleared it.
    pub granted: Tier,
    /// The action.
    pub action: Action,
    /// Its classification.
    pub decision: Decision,
    /// Where it runs.
    pub context: Context,
    /// The agent's stated rationale.
    pub rationale: Option<String>,
    /// The approval that cleared it, when a person did.
    pub approval: Option<Granted>,
}

/// Who cleared an action that needed approval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Granted {
    /// The approver(s).
    pub by: String,
    /// The approval server's request, when there was one.
    pub request: Option<String>,
    /// Whether the grant was given earlier for this exact action (not asked now).
    pub earlier: bool,
}

/// The result of [`Governor::clear`].
#[derive(Debug, Clone)]
pub enum Clearance {
    /// Go ahead; perform it (or [`Governor::run`] it) and [`Governor::finish`] it.
    Cleared(RunningAction),
    /// The agent's own prompt asks a person ([`ApprovalAnswer::Delegated`]); if the agent
    /// reports that it ran, record the grant with [`Governor::granted_by_agent`].
    Delegated {
        /// The action, at its own tier should it run.
        running: RunningAction,
        /// Why a person is asked.
        reason: String,
    },
    /// Not to be performed; the outcome is already recorded.
    Refused {
        /// The intent record.
        intent: IntentRef,
        /// The classification.
        decision: Decision,
        /// Why not.
        verdict: Verdict,
    },
}

/// A governed action's classification, intent and verdict.
#[derive(Debug, Clone)]
pub struct Governed {
    /// The classification.
    pub decision: Decision,
    /// The intent record.
    pub intent: IntentRef,
    /// What happened.
    pub verdict: Verdict,
}

/// The answer to a nested operation.
#[derive(Debug, Clone)]
pub struct NestedVerdict {
    /// Proceed, or refuse (`Refuse` for async, `Deny` for deny or a hold that was refused).
    /// Never `Hold`: a hold is resolved before `nested` returns.
    pub answer: NestedAnswer,
    /// The nested operation's classification.
    pub decision: Decision,
    /// Why, one line (for the refused program's stderr or the 403 body).
    pub reason: String,
    /// The request filed to re-run the action at the higher tier (async).
    pub ticket: Option<String>,
    /// The seq of the last `nested` record written for it.
    pub record: u64,
}

/// The one governed path, for one workspace and policy. `Send + Sync`: share it in an `Arc`
/// with the sandbox supervisor's thread and the proxy's tasks (or clone it: its parts are shared).
#[derive(Clone)]
pub struct Governor {
    policy: Arc<Policy>,
    context: Context,
    recorder: Recorder,
    approver: Arc<dyn Approver>,
    settings: Settings,
}

impl std::fmt::Debug for Governor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Governor")
            .field("workspace", &self.context.workspace)
            .field("log", &self.recorder.log_path())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// The first reason of `d`, else its rule.
fn first_reason(d: &Decision) -> String {
    d.reasons.first().cloned().unwrap_or_else(|| d.rule.clone())
}

/// The action as a person reads it, in one line (a tool call by its name only: its arguments
/// may be long or hold secrets).
pub fn action_text(action: &Action) -> String {
    match action {
        Action::Exec { argv, .. } => argv.join(" "),
        Action::Shell { script, .. } => script.clone(),
        Action::Read {
            path,
            recursive: false,
        } => format!("read {}", path.display()),
        Action::Read {
            path,
            recursive: true,
        } => format!("search {}", path.display()),
        Action::Write { path } => format!("write {}", path.display()),
        Action::Net {
            host,
            port,
            method,
            path,
            ..
        } => format!(
            "{} {host}{}{}",
            method.as_deref().unwrap_or("CONNECT"),
            port.map(|p| format!(":{p}")).unwrap_or_default(),
            path.as_deref().unwrap_or("")
        ),
        Action::Tool { name, .. } => format!("tool {name}"),
    }
}

/// The action as an approver is asked about it: [`Action::display_text`] (quoted, invisible
/// characters escaped, so it reads as exactly what will run), a tool call by its name only.
pub fn approval_text(action: &Action) -> String {
    match action {
        Action::Tool { name, .. } => format!("tool {name}"),
        other => other.display_text(),
    }
}

/// The argv that runs `action` in the sandbox (`None` for actions that are not commands).
pub fn argv_of(action: &Action) -> Option<Vec<String>> {
    match action {
        Action::Exec { argv, .. } if !argv.is_empty() => Some(argv.clone()),
        Action::Shell { script, .. } => Some(vec!["/bin/sh".into(), "-c".into(), script.clone()]),
        _ => None,
    }
}

impl Governor {
    /// A governor for `context`'s workspace with `policy`, writing to `recorder`, asking
    /// `approver`, isolating as `settings` say.
    pub fn new(
        policy: Arc<Policy>,
        context: Context,
        recorder: Recorder,
        approver: Arc<dyn Approver>,
        settings: Settings,
    ) -> Self {
        Self {
            policy,
            context,
            recorder,
            approver,
            settings,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// Classify `action` in `ctx` as the governed path does: with lookahead through the
    /// workspace's scripts, package.json and Makefiles (see [`classify`]).
    pub fn classify(&self, action: &Action, ctx: &Context) -> Decision {
        lookahead::classify(&self.policy, action, ctx)
    }

    /// The default context (workspace, cwd, home).
    pub fn context(&self) -> &Context {
        &self.context
    }

    /// The audit recorder.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    fn request_context(&self, req: &ActionRequest) -> Context {
        req.context.clone().unwrap_or_else(|| self.context.clone())
    }

    fn intent_of(&self, req: &ActionRequest, decision: &Decision) -> warden_audit::Intent {
        let mut i = self
            .recorder
            .intent_record(&req.action, decision, &req.meta);
        if let Some((id, digest)) = &req.request {
            i.sandboxed = Some(true);
            i.request_id = Some(id.clone());
            i.action_digest = Some(digest.clone());
        }
        i
    }

    /// Record `verdict` as the outcome of a refused action, noted as `note` words it.
    fn refused(
        &self,
        intent: &IntentRef,
        decision: &Decision,
        verdict: &Verdict,
        note: &Note<'_>,
    ) -> Result<()> {
        let (disposition, ticket) = match verdict {
            Verdict::Denied { .. } => (Disposition::Denied, None),
            Verdict::Deferred { ticket, .. } => (Disposition::Deferred, ticket.clone()),
            Verdict::Unavailable { .. } => (Disposition::Unavailable, None),
            Verdict::Ran(_) => return Ok(()),
        };
        self.recorder.outcome(
            intent,
            &Outcome {
                disposition: Some(disposition),
                ticket,
                notes: vec![note(decision, verdict)],
                ..Outcome::default()
            },
        )
    }

    /// Ask the approver about an action whose intent is recorded; record the events.
    fn approve(
        &self,
        req: &ActionRequest,
        ctx: &Context,
        decision: &Decision,
        intent: &IntentRef,
    ) -> Result<Gate> {
        let text = req
            .text
            .clone()
            .unwrap_or_else(|| approval_text(&req.action));
        let ask = ApprovalRequest {
            action: &req.action,
            bound: req.bound.as_ref(),
            context: ctx,
            action_text: &text,
            decision,
            rationale: req.meta.rationale.as_deref(),
            policy_digest: self.policy.digest(),
            ticket: req.ticket.as_deref(),
            proposed: req.proposed.as_ref(),
            nested: None,
        };
        if req.ticket.is_none() {
            self.recorder
                .approval(intent, ApprovalEvent::Requested, None, None)?;
        }
        let answered = match self.approver.request(&ask) {
            Ok(a) => a,
            Err(e) => {
                // Nothing dangles: the intent gets its outcome before the error goes up.
                let _ = self.recorder.outcome(
                    intent,
                    &Outcome {
                        disposition: Some(Disposition::NotRun),
                        notes: vec![format!("did not run: the approver failed: {e}")],
                        ..Outcome::default()
                    },
                );
                return Err(GovernError::Approval(e));
            }
        };
        let filed = answered.filed.as_ref();
        Ok(match answered.answer {
            ApprovalAnswer::Granted { by } => {
                self.recorder
                    .approval(intent, ApprovalEvent::Granted, Some(&by), filed)?;
                Gate::Granted(Granted {
                    by,
                    request: answered.filed.as_ref().map(|(id, _)| id.clone()),
                    earlier: answered.earlier,
                })
            }
            ApprovalAnswer::Denied { by, reason } => {
                let (event, refuser) = match &by {
                    Some(b) => (ApprovalEvent::Denied, Refuser::Person(b.clone())),
                    None => (ApprovalEvent::Expired, Refuser::Timeout),
                };
                self.recorder
                    .approval(intent, event, by.as_deref(), filed)?;
                Gate::Refused(Verdict::Denied {
                    by: refuser,
                    reason,
                })
            }
            ApprovalAnswer::Unavailable { reason } => {
                self.recorder
                    .approval(intent, ApprovalEvent::Unavailable, None, filed)?;
                Gate::Refused(Verdict::Unavailable { reason })
            }
            ApprovalAnswer::Deferred { ticket, reason } => {
                Gate::Refused(Verdict::Deferred { ticket, reason })
            }
            ApprovalAnswer::Delegated { reason } => Gate::Delegated(reason),
        })
    }

    /// Classify `req`, record its intent durably and get the approval its tier asks for. A
    /// refusal's outcome is recorded here; a cleared action's is the caller's (through
    /// [`Governor::finish`] or [`Governor::run`]).
    pub fn clear(&self, req: &ActionRequest) -> Result<Clearance> {
        self.clear_answering(req, &|d, v| v.line(d))
    }

    /// [`Governor::clear`], with a refusal's outcome noted in the words `note` gives (what the
    /// agent was told) instead of [`Verdict::line`].
    pub fn clear_answering(&self, req: &ActionRequest, note: &Note<'_>) -> Result<Clearance> {
        let ctx = self.request_context(req);
        let decision = self.classify(&req.action, &ctx);
        let intent = self
            .recorder
            .append_intent(self.intent_of(req, &decision))?;
        self.clear_recorded(req, ctx, decision, intent, note)
    }

    /// [`Governor::clear`] for an action whose intent is already recorded.
    fn clear_recorded(
        &self,
        req: &ActionRequest,
        ctx: Context,
        decision: Decision,
        intent: IntentRef,
        note: &Note<'_>,
    ) -> Result<Clearance> {
        let gate = if let Some(reason) = &req.refusal {
            Gate::Refused(Verdict::Denied {
                by: Refuser::Guard,
                reason: reason.clone(),
            })
        } else {
            match decision.tier {
                Tier::Auto => Gate::Auto,
                Tier::Deny => Gate::Refused(Verdict::Denied {
                    by: Refuser::Policy,
                    reason: first_reason(&decision),
                }),
                Tier::Async | Tier::Sync => self.approve(req, &ctx, &decision, &intent)?,
            }
        };
        let running = |approval| RunningAction {
            intent: intent.clone(),
            granted: decision.tier,
            action: req.action.clone(),
            decision: decision.clone(),
            context: ctx.clone(),
            rationale: req.meta.rationale.clone(),
            approval,
        };
        Ok(match gate {
            Gate::Refused(verdict) => {
                self.refused(&intent, &decision, &verdict, note)?;
                Clearance::Refused {
                    intent,
                    decision,
                    verdict,
                }
            }
            Gate::Auto => Clearance::Cleared(running(None)),
            Gate::Granted(g) => Clearance::Cleared(running(Some(g))),
            Gate::Delegated(reason) => Clearance::Delegated {
                running: running(None),
                reason,
            },
        })
    }

    /// Run a cleared action's `argv` in the sandbox and record its network decisions and
    /// outcome. A sandbox that cannot start is recorded as not run and returned as the error.
    /// Every program the command runs after its own is a nested decision at the action's
    /// granted tier; the refused ones are in [`Execution::nested`].
    pub fn run(&self, running: &RunningAction, argv: Vec<String>) -> Result<Execution> {
        self.run_reporting(running, argv, None)
    }

    /// [`Governor::run`], the command reporting the directory it ends in to `report_cwd`.
    fn run_reporting(
        &self,
        running: &RunningAction,
        argv: Vec<String>,
        report_cwd: Option<&Path>,
    ) -> Result<Execution> {
        let mut profile = execute::profile_for(&self.policy, &running.context, argv);
        execute::grant(&mut profile, &running.decision, running.granted);
        if let Some(f) = report_cwd {
            execute::report_cwd(&mut profile, f);
        }
        let gate = nested_exec::NestedGate::new(self.clone(), profile.env.clone());
        gate.set_running(running.clone());
        let exec = execute::execute(
            &self.policy,
            profile,
            self.settings.allow_degraded,
            self.settings.output,
            Some(gate.exec_governance()),
            Some(gate.net_judge()),
        )
        .map(|mut e| {
            e.set_nested(gate.refused());
            e
        });
        self.record_execution(&running.intent, exec)
    }

    fn record_execution(&self, intent: &IntentRef, exec: Result<Execution>) -> Result<Execution> {
        match exec {
            Ok(exec) => {
                for n in &exec.network {
                    self.recorder.network(intent, n)?;
                }
                self.recorder.outcome(intent, &exec.outcome())?;
                Ok(exec)
            }
            Err(e) => {
                let _ = self.recorder.outcome(
                    intent,
                    &Outcome {
                        disposition: Some(Disposition::NotRun),
                        notes: vec![format!("did not run: {e}")],
                        ..Outcome::default()
                    },
                );
                Err(e)
            }
        }
    }

    /// Admit an action an approval already cleared elsewhere (the worker running a request the
    /// approval server granted): its intent (naming `req.request`) and then the approval records
    /// `approvals` builds for it, all durable; it runs at its own tier or at `approved`, the
    /// tier the request was approved at, whichever is higher (a request to re-run an `auto`
    /// action because a nested operation needed `async` grants the action `async`).
    pub fn admit(
        &self,
        req: &ActionRequest,
        approved: Tier,
        approvals: impl FnOnce(&IntentRef) -> Vec<warden_audit::Approval>,
    ) -> Result<RunningAction> {
        let ctx = self.request_context(req);
        let decision = self.classify(&req.action, &ctx);
        let intent = self
            .recorder
            .append_intent(self.intent_of(req, &decision))?;
        for a in approvals(&intent) {
            self.recorder.approval_record(a)?;
        }
        Ok(RunningAction {
            intent,
            granted: decision.tier.max(approved),
            action: req.action.clone(),
            decision,
            context: ctx,
            rationale: req.meta.rationale.clone(),
            approval: None,
        })
    }

    /// Record that a person allowed a [`Clearance::Delegated`] action at the agent's own prompt
    /// (`by` names the prompt), as the agent reported it ran.
    pub fn granted_by_agent(&self, intent: &IntentRef, by: &str) -> Result<()> {
        self.recorder
            .approval(intent, ApprovalEvent::Granted, Some(by), None)
    }

    /// Record the outcome of a cleared action the caller performed itself.
    pub fn finish(&self, running: &RunningAction, outcome: &Outcome) -> Result<()> {
        self.recorder.outcome(&running.intent, outcome)
    }

    /// Govern one command action end to end. An `auto` action's sandbox is prepared while its
    /// intent is being made durable; the command starts only once the intent is on disk.
    pub fn govern(&self, req: &ActionRequest) -> Result<Governed> {
        let argv = argv_of(&req.action).ok_or(GovernError::NothingToRun)?;
        let ctx = self.request_context(req);
        let decision = self.classify(&req.action, &ctx);
        let record = self.intent_of(req, &decision);
        if decision.tier == Tier::Auto && req.request.is_none() && req.refusal.is_none() {
            let mut profile = execute::profile_for(&self.policy, &ctx, argv);
            execute::grant(&mut profile, &decision, Tier::Auto);
            if let Some(f) = &req.report_cwd {
                execute::report_cwd(&mut profile, f);
            }
            // Nested execs are judged in the action's context once its intent is durable; the
            // command (and so any nested exec) starts only after that.
            let gate = nested_exec::NestedGate::new(self.clone(), profile.env.clone());
            // The sandbox is started from this thread, which outlives it (its init dies with
            // the thread that spawned it).
            let (intent, started) = std::thread::scope(|scope| {
                let intent = scope.spawn(|| self.recorder.append_intent(record));
                let started = execute::start(
                    &self.policy,
                    profile,
                    self.settings.allow_degraded,
                    self.settings.output,
                    true,
                    Some(gate.exec_governance()),
                    Some(gate.net_judge()),
                );
                let intent = intent.join().unwrap_or_else(|_| {
                    Err(GovernError::Approval("the intent recorder panicked".into()))
                });
                (intent, started)
            });
            let intent = match intent {
                Ok(i) => i,
                Err(e) => {
                    if let Ok(s) = started {
                        s.abort();
                    }
                    return Err(e);
                }
            };
            gate.set_running(RunningAction {
                intent: intent.clone(),
                granted: Tier::Auto,
                action: req.action.clone(),
                decision: decision.clone(),
                context: ctx.clone(),
                rationale: req.meta.rationale.clone(),
                approval: None,
            });
            let exec = started.and_then(|mut s| {
                s.release()?;
                s.finish()
            });
            let exec = exec.map(|mut e| {
                e.set_nested(gate.refused());
                e
            });
            let exec = self.record_execution(&intent, exec)?;
            return Ok(Governed {
                decision,
                intent,
                verdict: Verdict::Ran(Box::new(exec)),
            });
        }
        let intent = self.recorder.append_intent(record)?;
        match self.clear_recorded(req, ctx, decision, intent, &|d, v| v.line(d))? {
            Clearance::Refused {
                intent,
                decision,
                verdict,
            } => Ok(Governed {
                decision,
                intent,
                verdict,
            }),
            Clearance::Delegated { running, reason } => {
                // Governed end to end, there is no agent prompt to ask: nobody could be asked.
                let verdict = Verdict::Unavailable { reason };
                self.refused(&running.intent, &running.decision, &verdict, &|d, v| {
                    v.line(d)
                })?;
                Ok(Governed {
                    decision: running.decision,
                    intent: running.intent,
                    verdict,
                })
            }
            Clearance::Cleared(running) => {
                let exec = self.run_reporting(&running, argv, req.report_cwd.as_deref())?;
                Ok(Governed {
                    decision: running.decision,
                    intent: running.intent,
                    verdict: Verdict::Ran(Box::new(exec)),
                })
            }
        }
    }

    /// Run a whole agent that has no hook (`warden sandbox --govern -- AGENT …`): the agent
    /// process is the action, recorded as one intent and cleared at granted tier `auto` whatever
    /// its own command line classifies as (a person started it); every program it runs is a
    /// nested decision at that tier, the refused ones in the verdict's [`Execution::nested`].
    pub fn govern_agent(&self, req: &ActionRequest) -> Result<Governed> {
        let argv = argv_of(&req.action).ok_or(GovernError::NothingToRun)?;
        let ctx = self.request_context(req);
        let decision = self.classify(&req.action, &ctx);
        let intent = self
            .recorder
            .append_intent(self.intent_of(req, &decision))?;
        let running = RunningAction {
            intent: intent.clone(),
            granted: Tier::Auto,
            action: req.action.clone(),
            decision: decision.clone(),
            context: ctx,
            rationale: req.meta.rationale.clone(),
            approval: None,
        };
        let exec = self.run(&running, argv)?;
        Ok(Governed {
            decision,
            intent,
            verdict: Verdict::Ran(Box::new(exec)),
        })
    }

    /// Decide an operation `nested` (an exec, a request) that the running action `running`
    /// attempts, as `layer` saw it. At most the granted tier: proceed. Above it, `sync`: held
    /// until the approver answers (this call blocks; other calls on the same governor do not
    /// wait for it), `async`: refused at once and a request to re-run the whole action at the
    /// higher tier is filed, `deny`: refused. Each decision is a `nested` record, child of the
    /// action's intent, durable before this returns.
    pub fn nested(
        &self,
        running: &RunningAction,
        layer: NestedLayer,
        nested: &Action,
    ) -> Result<NestedVerdict> {
        self.nested_at_least(running, layer, nested, None)
    }

    /// [`Governor::nested`], with the operation's tier raised to at least `floor` (the tier a
    /// brokered credential it carries asks for, `why` saying so) before it is compared with the
    /// granted tier.
    pub fn nested_at_least(
        &self,
        running: &RunningAction,
        layer: NestedLayer,
        nested: &Action,
        floor: Option<(Tier, String)>,
    ) -> Result<NestedVerdict> {
        let decision = self.classify(nested, &running.context);
        self.nested_classified(running, layer, nested, decision, floor)
    }

    /// [`Governor::nested_at_least`] for an operation already classified as `decision` (in
    /// `running`'s context, by this governor's policy).
    pub(crate) fn nested_classified(
        &self,
        running: &RunningAction,
        layer: NestedLayer,
        nested: &Action,
        mut decision: Decision,
        floor: Option<(Tier, String)>,
    ) -> Result<NestedVerdict> {
        if let Some((tier, why)) = floor
            && tier > decision.tier
        {
            decision.tier = tier;
            decision.reasons.insert(0, why);
        }
        let record = |answer: NestedAnswer,
                      held: Option<u64>,
                      by: Option<String>,
                      ticket: Option<String>| {
            warden_audit::Nested {
                intent: running.intent.clone(),
                layer,
                action: nested.clone(),
                tier: decision.tier,
                granted: running.granted,
                rule: decision.rule.clone(),
                category: decision.category.clone(),
                reasons: decision.reasons.clone(),
                answer,
                held,
                by,
                ticket,
            }
        };
        let why = first_reason(&decision);
        let verdict = |answer, reason: String, ticket, seq| NestedVerdict {
            answer,
            decision: decision.clone(),
            reason,
            ticket,
            record: seq,
        };
        if decision.tier == Tier::Deny {
            let seq = self
                .recorder
                .nested(record(NestedAnswer::Deny, None, None, None))?;
            let reason = format!("denied by policy (rule {}): {why}", decision.rule);
            return Ok(verdict(NestedAnswer::Deny, reason, None, seq));
        }
        if decision.tier <= running.granted {
            let seq = self
                .recorder
                .nested(record(NestedAnswer::Proceed, None, None, None))?;
            return Ok(verdict(NestedAnswer::Proceed, why, None, seq));
        }
        // Above the granted tier: the approver sees the whole action at the nested tier, naming
        // what it tried.
        let parent = approval_text(&running.action);
        let child = approval_text(nested);
        let mut escalated = decision.clone();
        escalated
            .reasons
            .insert(0, format!("`{parent}` ran `{child}`"));
        let text = format!("{parent} (ran: {child})");
        let ask = ApprovalRequest {
            action: &running.action,
            bound: None,
            context: &running.context,
            action_text: &text,
            decision: &escalated,
            rationale: running.rationale.as_deref(),
            policy_digest: self.policy.digest(),
            ticket: None,
            proposed: None,
            nested: Some(nested),
        };
        if decision.tier == Tier::Async {
            // Filed first, so the durable record names the request it refers to.
            let answered = self.approver.request(&ask).map_err(GovernError::Approval)?;
            let ticket = match answered.answer {
                ApprovalAnswer::Deferred { ticket, .. } => ticket,
                _ => None,
            };
            let seq =
                self.recorder
                    .nested(record(NestedAnswer::Refuse, None, None, ticket.clone()))?;
            let reason = format!(
                "`{child}` needs asynchronous approval (tier async above the granted {}, rule {}): {why}",
                running.granted, decision.rule
            );
            return Ok(verdict(NestedAnswer::Refuse, reason, ticket, seq));
        }
        let held = self
            .recorder
            .nested(record(NestedAnswer::Hold, None, None, None))?;
        let answered = self.approver.request(&ask);
        let (answer, by, reason) = match answered.map(|a| a.answer) {
            Ok(ApprovalAnswer::Granted { by }) => (NestedAnswer::Proceed, Some(by), why),
            Ok(ApprovalAnswer::Denied { by, reason }) => (NestedAnswer::Deny, by, reason),
            Ok(
                ApprovalAnswer::Unavailable { reason }
                | ApprovalAnswer::Deferred { reason, .. }
                | ApprovalAnswer::Delegated { reason },
            ) => (NestedAnswer::Deny, None, reason),
            Err(e) => (
                NestedAnswer::Deny,
                None,
                format!("the approver failed: {e}"),
            ),
        };
        let seq = self.recorder.nested(record(answer, Some(held), by, None))?;
        Ok(verdict(answer, reason, None, seq))
    }
}

#[cfg(test)]
mod tests;
