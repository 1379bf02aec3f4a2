//! The approvers the binary brings to the governed path: a yes/no prompt on an attended
//! terminal (default no, with a timeout), the approval server when `WARDEN_SERVER` and
//! `WARDEN_TOKEN` name one, else the unattended answer (`async` deferred, `sync` unavailable).

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;
pub use warden_govern::{Answered, ApprovalAnswer, ApprovalRequest, Approver, UnattendedApprover};

/// Prompts on the controlling terminal (stdin and stderr are TTYs).
#[derive(Debug)]
pub struct TerminalApprover {
    /// How long to wait for an answer before denying.
    pub timeout: Duration,
}

impl Approver for TerminalApprover {
    fn request(&self, req: &ApprovalRequest<'_>) -> Result<Answered, String> {
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
        Ok(match rx.recv_timeout(self.timeout) {
            Ok(line) if matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") => {
                ApprovalAnswer::Granted { by: user }
            }
            Ok(_) => ApprovalAnswer::Denied {
                by: Some(user),
                reason: "not approved at the prompt".into(),
            },
            Err(_) => {
                stderr_line!();
                ApprovalAnswer::Denied {
                    by: None,
                    reason: format!(
                        "no answer within {} s (default: deny)",
                        self.timeout.as_secs()
                    ),
                }
            }
        }
        .into())
    }
}

/// The approver for this process: a terminal prompt when attended, else unattended rules.
pub fn default_approver(timeout: Duration) -> Arc<dyn Approver> {
    if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
        Arc::new(TerminalApprover { timeout })
    } else {
        Arc::new(UnattendedApprover)
    }
}

/// The approval server named by `WARDEN_SERVER` and `WARDEN_TOKEN`, if both are set.
pub fn server_from_env() -> Option<crate::approval_server::ServerApprovals> {
    let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
    Some(crate::approval_server::ServerApprovals {
        server: var("WARDEN_SERVER")?,
        token: var("WARDEN_TOKEN")?,
    })
}

/// The approval server when the environment names one (each request bound to its exact
/// action, cwd, workspace and policy digest), else `fallback`.
pub fn approver(fallback: Arc<dyn Approver>) -> Arc<dyn Approver> {
    match server_from_env() {
        Some(s) => Arc::new(s),
        None => fallback,
    }
}
