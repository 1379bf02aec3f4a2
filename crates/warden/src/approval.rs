//! The approval step of `warden run` for `async` and `sync` actions, behind a small trait so the
//! approvals server can plug in later. Today: an attended terminal gets a yes/no prompt (default
//! no, with a timeout); an unattended run defers `async` actions and denies `sync` ones.

use crate::exit::CliError;
use std::io::IsTerminal;
use std::time::Duration;
use warden_policy::{Decision, Tier};

/// What the approver is asked.
#[derive(Debug)]
pub struct ApprovalRequest<'a> {
    /// The action, as the user would read it (argv joined, or the shell text).
    pub action_text: &'a str,
    /// The classification that asked for approval.
    pub decision: &'a Decision,
    /// The agent's stated rationale.
    pub rationale: Option<&'a str>,
}

/// The approver's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApprovalAnswer {
    /// Run it.
    Granted { by: String },
    /// Do not run it (exit 77).
    Denied { by: Option<String>, reason: String },
    /// Nobody could be asked (no approval server, no terminal): not run (exit 77). Recorded as
    /// `unavailable`, not `expired`: no approver ever saw the request.
    Unavailable { reason: String },
    /// Parked for asynchronous approval (exit 75).
    Deferred {
        ticket: Option<String>,
        reason: String,
    },
}

/// Something that can approve actions.
pub trait Approver {
    /// Ask for approval of `req`; may block (a prompt) up to the approver's own timeout.
    fn request(&self, req: &ApprovalRequest<'_>) -> Result<ApprovalAnswer, CliError>;
}

/// Prompts on the controlling terminal (stdin and stderr are TTYs).
#[derive(Debug)]
pub struct TerminalApprover {
    /// How long to wait for an answer before denying.
    pub timeout: Duration,
}

impl Approver for TerminalApprover {
    fn request(&self, req: &ApprovalRequest<'_>) -> Result<ApprovalAnswer, CliError> {
        let d = req.decision;
        stderr_line!(
            "warden: `{}` needs approval: tier {} ({}), rule {}",
            req.action_text,
            d.tier,
            d.category,
            d.rule
        );
        for r in &d.reasons {
            stderr_line!("  - {r}");
        }
        if let Some(r) = req.rationale {
            stderr_line!("  rationale: {r}");
        }
        stderr_text!("Run it? [y/N] (denied after {} s) ", self.timeout.as_secs());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            let _ = tx.send(line);
        });
        let user = std::env::var("USER").unwrap_or_else(|_| "terminal".to_owned());
        match rx.recv_timeout(self.timeout) {
            Ok(line) if matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") => {
                Ok(ApprovalAnswer::Granted { by: user })
            }
            Ok(_) => Ok(ApprovalAnswer::Denied {
                by: Some(user),
                reason: "not approved at the prompt".into(),
            }),
            Err(_) => {
                stderr_line!();
                Ok(ApprovalAnswer::Denied {
                    by: None,
                    reason: format!(
                        "no answer within {} s (default: deny)",
                        self.timeout.as_secs()
                    ),
                })
            }
        }
    }
}

/// No human at hand: `async` is deferred, `sync` is denied.
#[derive(Debug)]
pub struct UnattendedApprover;

impl Approver for UnattendedApprover {
    fn request(&self, req: &ApprovalRequest<'_>) -> Result<ApprovalAnswer, CliError> {
        let why = req
            .decision
            .reasons
            .first()
            .cloned()
            .unwrap_or_else(|| req.decision.rule.clone());
        Ok(match req.decision.tier {
            Tier::Async => ApprovalAnswer::Deferred {
                ticket: None,
                reason: format!(
                    "needs asynchronous approval ({why}); no approval server is configured and no terminal is attached"
                ),
            },
            _ => ApprovalAnswer::Unavailable {
                reason: format!("needs approval by a person ({why}) and no terminal is attached"),
            },
        })
    }
}

/// The approver for this process: a terminal prompt when attended, else unattended rules.
pub fn default_approver(timeout: Duration) -> Box<dyn Approver> {
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        Box::new(TerminalApprover { timeout })
    } else {
        Box::new(UnattendedApprover)
    }
}
