//! The binary's side of the audit log: the workspace log's helpers come from `warden-govern`
//! (re-exported here), and [`ApprovalAudit`] writes the approval server's own log with the same
//! typed records.

use crate::exit::CliError;
use std::path::Path;
use warden_audit::{Approval, ApprovalEvent, AuditLog, Disposition, Record};
pub use warden_govern::record::{
    IntentMeta, IntentRef, Outcome, Recorder, anchor_path, hostname, key_path, log_path,
    outcome_record,
};
use warden_policy::sections::AuditConfig;
use warden_policy::{Action, Decision};

/// Open the log of `workspace` as `cfg` says (creating it durably if needed).
pub fn open_log(
    workspace: &Path,
    cfg: &AuditConfig,
    path: Option<&Path>,
) -> Result<AuditLog, CliError> {
    Ok(warden_govern::record::open_log(workspace, cfg, path)?)
}

fn audit_err(e: warden_audit::AuditError) -> CliError {
    CliError::failure(miette::miette!("audit log: {e}"))
}

/// The approval server's own audit log (`warden serve --audit-log PATH`): the same hash-chained
/// `warden-audit` log as a workspace's. Each request opens an `intent` record (the action as
/// filed, its tier, category, rule, requester, request id and action digest) which every later
/// `approval` record names (requested, each vote, granted, denied, expired, consumed, executed);
/// an `outcome` record closes it once the action can no longer run (denied, expired), was handed
/// to `warden run` (sync, consumed) or was executed (async, with the reported exit status).
///
/// Replicas and restarts: a request first seen here (filed on another replica, or before a
/// restart of a log that did not hold it) gets its intent written on first sight, so every log is
/// self-contained and verifies on its own.
#[derive(Debug)]
pub struct ApprovalAudit {
    log: AuditLog,
    /// Request id → its intent in this log, and whether an outcome closed it.
    intents: std::sync::Mutex<std::collections::HashMap<String, (IntentRef, bool)>>,
    host: Option<String>,
    /// Whether records were written since the last seal (see [`ApprovalAudit::seal_if_written`]).
    unsealed: std::sync::atomic::AtomicBool,
}

impl ApprovalAudit {
    /// Open (creating durably if needed) the log at `path`; signing and checkpoints as `cfg`.
    pub fn open(path: &Path, workspace: &Path, cfg: &AuditConfig) -> Result<Self, CliError> {
        let log = open_log(workspace, cfg, Some(path))?;
        let mut intents = std::collections::HashMap::new();
        let mut by_seq = std::collections::HashMap::new();
        for e in warden_audit::read_entries(path).map_err(audit_err)? {
            match &e.record {
                Record::Intent(i) => {
                    if let Some(rid) = &i.request_id {
                        by_seq.insert(e.seq, rid.clone());
                        intents.insert(rid.clone(), (e.id(), false));
                    }
                }
                Record::Outcome(o) => {
                    if let Some(rid) = by_seq.get(&o.intent.seq)
                        && let Some(entry) = intents.get_mut(rid)
                    {
                        entry.1 = true;
                    }
                }
                _ => {}
            }
        }
        Ok(Self {
            log,
            intents: std::sync::Mutex::new(intents),
            host: hostname(),
            unsealed: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// Seal the log's head (a checkpoint, its note stored in the anchor outside the log) if
    /// records were written since the last seal; returns whether it sealed. `warden serve` calls
    /// it every second, so records cut off the log's end are noticed by `warden audit verify`
    /// for all but the last second's.
    pub fn seal_if_written(&self) -> Result<bool, CliError> {
        use std::sync::atomic::Ordering;
        if !self.unsealed.swap(false, Ordering::AcqRel) {
            return Ok(false);
        }
        if let Err(e) = self.log.seal() {
            self.unsealed.store(true, Ordering::Release);
            return Err(audit_err(e));
        }
        Ok(true)
    }

    /// The intent of request `r` in this log, written now if this log has none yet.
    fn intent_of(
        &self,
        intents: &mut std::collections::HashMap<String, (IntentRef, bool)>,
        r: &warden_approvals::RequestView,
    ) -> Result<IntentRef, CliError> {
        if let Some((i, _)) = intents.get(&r.id) {
            return Ok(i.clone());
        }
        let tier: warden_policy::Tier =
            serde_json::from_value(serde_json::Value::String(r.tier.clone()))
                .unwrap_or(warden_policy::Tier::Sync);
        let decision = Decision {
            tier,
            category: r.category.clone(),
            rule: r.rule.clone(),
            reasons: r.reasons.clone(),
            commands: vec![],
            named: Default::default(),
        };
        // The action as the agent filed it; a shape the policy layer does not know is kept as
        // a tool call of a neutral name whose arguments are the filed action.
        let action: Action =
            serde_json::from_value(r.action.clone()).unwrap_or_else(|_| Action::Tool {
                name: "approval-request".into(),
                arguments: r.action.clone(),
            });
        let info = warden_audit::IntentInfo {
            agent: Some(r.requester.clone()),
            rationale: r.rationale.clone(),
            host: self.host.clone(),
            policy_digest: Some(r.policy_digest.clone()),
            ..warden_audit::IntentInfo::default()
        };
        let mut intent = info.intent(&action, &decision);
        intent.action_text = Some(r.action_text.clone());
        intent.cwd = Some(r.cwd.clone());
        intent.workspace = Some(r.workspace.clone());
        intent.request_id = Some(r.id.clone());
        intent.action_digest = Some(r.action_digest.clone());
        intent.groups = Some(r.groups.clone());
        // What the filer claimed, and where the server's own reading differed.
        intent.claimed = serde_json::to_value(&r.claimed).ok();
        intent.discrepancies = Some(r.discrepancies.clone()).filter(|d| !d.is_empty());
        let a = self
            .log
            .append_record(Record::Intent(Box::new(intent)))
            .map_err(audit_err)?;
        let i = IntentRef {
            seq: a.seq,
            hash: a.hash,
        };
        intents.insert(r.id.clone(), (i.clone(), false));
        Ok(i)
    }

    /// Record `ev` about request `r` (the request as stored after the event), durably.
    pub fn record(
        &self,
        ev: &warden_approvals::Event,
        r: &warden_approvals::RequestView,
    ) -> Result<(), CliError> {
        use warden_approvals::Event as E;
        let mut intents = self.intents.lock().unwrap_or_else(|p| p.into_inner());
        let intent = self.intent_of(&mut intents, r)?;
        let base = |event: ApprovalEvent, by: Option<String>, decision: &str| Approval {
            by,
            request_id: Some(r.id.clone()),
            action_digest: Some(r.action_digest.clone()),
            decision: Some(decision.into()),
            ..Approval::new(&intent, event, None)
        };
        let approvers = |verdict: &str| {
            r.votes
                .iter()
                .filter(|v| v.verdict == verdict)
                .map(|v| v.approver.as_str())
                .collect::<Vec<_>>()
                .join(",")
        };
        // (record, why the action will not run here: closes the intent with an outcome)
        let (detail, close): (Approval, Option<Outcome>) = match ev {
            E::Requested { requester, .. } => (
                Approval {
                    reason: Some(format!("routed to {}", r.groups.join(", "))),
                    ..base(ApprovalEvent::Requested, Some(requester.clone()), "pending")
                },
                None,
            ),
            E::Voted {
                approver, verdict, ..
            } => (
                Approval {
                    comment: r
                        .votes
                        .iter()
                        .find(|v| &v.approver == approver)
                        .and_then(|v| v.comment.clone()),
                    ..base(ApprovalEvent::Vote, Some(approver.clone()), verdict)
                },
                None,
            ),
            E::Decided { status, reason, .. } => {
                let denied = *status == warden_approvals::Status::Denied;
                let (event, by) = if denied {
                    (ApprovalEvent::Denied, approvers("deny"))
                } else {
                    (ApprovalEvent::Granted, approvers("approve"))
                };
                let detail = Approval {
                    reason: reason.clone(),
                    ..base(event, Some(by), status.as_str())
                };
                let close = denied
                    .then(|| not_run(Disposition::Denied, reason.as_deref().unwrap_or("denied")));
                (detail, close)
            }
            E::Expired { reason, .. } => (
                Approval {
                    reason: Some(reason.clone()),
                    ..base(ApprovalEvent::Expired, None, "expired")
                },
                Some(not_run(Disposition::Denied, reason)),
            ),
            E::Consumed { by, .. } => {
                let sync = r.tier == "sync";
                let close = sync.then(|| Outcome {
                    disposition: Some(Disposition::Elsewhere),
                    notes: vec![format!(
                        "approval used by {by}; the action runs under `warden run`, whose workspace log records its outcome"
                    )],
                    ..Outcome::default()
                });
                (
                    base(ApprovalEvent::Consumed, Some(by.clone()), "consumed"),
                    close,
                )
            }
            E::Executed { outcome, .. } => {
                let code = outcome
                    .get("exit_code")
                    .and_then(serde_json::Value::as_i64)
                    .and_then(|c| i32::try_from(c).ok());
                let ran = outcome.get("ran").and_then(serde_json::Value::as_bool) == Some(true);
                // Ran, but did not succeed: still a run (with its status), noted as failed.
                let failed =
                    outcome.get("failed").and_then(serde_json::Value::as_bool) == Some(true);
                let close = Outcome {
                    disposition: Some(if ran || failed {
                        Disposition::Ran
                    } else {
                        Disposition::NotRun
                    }),
                    exit_code: code,
                    signal: outcome
                        .get("signal")
                        .and_then(serde_json::Value::as_i64)
                        .and_then(|s| i32::try_from(s).ok()),
                    notes: if ran {
                        vec![format!("executed by {} after approval", r.requester)]
                    } else if failed {
                        vec![format!(
                            "executed by {} after approval and failed: {outcome}",
                            r.requester
                        )]
                    } else {
                        vec![format!("not run: {outcome}")]
                    },
                    ..Outcome::default()
                };
                (
                    Approval {
                        outcome: Some(outcome.clone()),
                        ..base(
                            ApprovalEvent::Executed,
                            Some(r.requester.clone()),
                            "executed",
                        )
                    },
                    Some(close),
                )
            }
        };
        self.log
            .append_record(Record::Approval(detail))
            .map_err(audit_err)?;
        if let Some(outcome) = close
            && let Some(entry) = intents.get_mut(&r.id)
            && !entry.1
        {
            entry.1 = true;
            self.log
                .append_record(Record::Outcome(outcome_record(&intent, &outcome)))
                .map_err(audit_err)?;
        }
        self.unsealed
            .store(true, std::sync::atomic::Ordering::Release);
        Ok(())
    }
}

fn not_run(disposition: Disposition, why: &str) -> Outcome {
    Outcome {
        disposition: Some(disposition),
        notes: vec![format!("not run: {why}")],
        ..Outcome::default()
    }
}
