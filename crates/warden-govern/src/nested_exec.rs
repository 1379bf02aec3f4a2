//! The exec layer's answers: every program a governed action runs inside its sandbox (seccomp
//! user notification, `warden-sandbox`) is put to [`Governor::nested`] in the running action's
//! context and granted tier, and the refused ones are kept for the action's verdict, so the
//! caller can report them after the command ends (DESIGN.md, "Runtime enforcement").

use crate::{Governor, NestedAnswer, NestedLayer, RunningAction, action_text};
use std::sync::{Arc, Mutex, OnceLock};
use warden_policy::Action;
use warden_sandbox::{ExecDecider, ExecEvent, ExecGovernance, ExecVerdict, PendingExec};

/// A nested operation the runtime layers refused (or held and then refused) inside an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NestedRefusal {
    /// Which layer saw it.
    pub layer: NestedLayer,
    /// The operation as a person reads it.
    pub text: String,
    /// `Refuse` (async: a request to re-run the action was filed) or `Deny`.
    pub answer: NestedAnswer,
    /// Why, one line.
    pub reason: String,
    /// The request filed to re-run the action at the higher tier (async).
    pub ticket: Option<String>,
}

/// The nested decisions of one running action: which action (set once it is cleared and its
/// intent is durable, before its command starts) and what was refused.
pub(crate) struct NestedGate {
    governor: Governor,
    running: OnceLock<RunningAction>,
    refused: Mutex<Vec<NestedRefusal>>,
}

impl NestedGate {
    pub(crate) fn new(governor: Governor) -> Arc<Self> {
        Arc::new(Self {
            governor,
            running: OnceLock::new(),
            refused: Mutex::new(Vec::new()),
        })
    }

    /// The action the nested operations belong to (first call wins).
    pub(crate) fn set_running(&self, running: RunningAction) {
        let _ = self.running.set(running);
    }

    /// The exec governance for the sandbox of this action.
    pub(crate) fn exec_governance(self: &Arc<Self>) -> ExecGovernance {
        ExecGovernance::new(Arc::clone(self) as Arc<dyn ExecDecider>)
    }

    /// What was refused so far.
    pub(crate) fn refused(&self) -> Vec<NestedRefusal> {
        self.refused.lock().map(|v| v.clone()).unwrap_or_default()
    }

    /// Decide `nested` as `layer` saw it: `Ok(())` to proceed, else the one-line reason.
    pub(crate) fn judge(&self, layer: NestedLayer, nested: &Action) -> Result<(), String> {
        let text = action_text(nested);
        let Some(running) = self.running.get() else {
            // Cannot happen through `start` (the command is gated until the action is set);
            // refusing is the safe answer if it ever did.
            return Err("the action is not cleared yet".into());
        };
        let refusal = match self.governor.nested(running, layer, nested) {
            Ok(v) if v.answer == NestedAnswer::Proceed => return Ok(()),
            Ok(v) => NestedRefusal {
                layer,
                text,
                answer: v.answer,
                reason: v.reason,
                ticket: v.ticket,
            },
            Err(e) => NestedRefusal {
                layer,
                text,
                answer: NestedAnswer::Deny,
                reason: format!("the decision could not be recorded: {e}"),
                ticket: None,
            },
        };
        let line = refusal.why();
        if let Ok(mut v) = self.refused.lock() {
            v.push(refusal);
        }
        Err(line)
    }
}

impl NestedRefusal {
    /// Why, with the ticket filed: `why (re-run request filed: ticket T)`.
    pub fn why(&self) -> String {
        match &self.ticket {
            Some(t) => format!("{} (re-run request filed: ticket {t})", self.reason),
            None => self.reason.clone(),
        }
    }

    /// One line for the person after the command ended: `refused `git push`: why …`.
    pub fn line(&self) -> String {
        format!("refused `{}`: {}", self.text, self.why())
    }
}

impl ExecDecider for NestedGate {
    fn decide(&self, exec: &ExecEvent, _pending: &PendingExec<'_>) -> ExecVerdict {
        if exec.truncated {
            return ExecVerdict::Refuse {
                reason: "its arguments are too large to judge".into(),
            };
        }
        let action = Action::Exec {
            argv: exec.argv.clone(),
            cwd: Some(exec.cwd.clone()),
        };
        match self.judge(NestedLayer::Exec, &action) {
            Ok(()) => ExecVerdict::Proceed,
            Err(reason) => ExecVerdict::Refuse { reason },
        }
    }
}
