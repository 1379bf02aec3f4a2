//! Glue between the commands and the audit log (owned by the audit work; a no-op until then).
//! `warden run` calls these in order: `intent` (durable before the action starts), any number of
//! `approval` and `network`, then `outcome`.

use crate::exit::CliError;
use std::path::Path;
use std::time::Duration;
use warden_policy::{Action, Decision, Policy};

/// Who asked and why, as stated by the agent.
#[derive(Debug, Clone, Default)]
pub struct IntentMeta {
    pub rationale: Option<String>,
    pub agent: Option<String>,
    pub session: Option<String>,
    pub tool_call_id: Option<String>,
}

/// A written intent record, named by later records.
#[derive(Debug, Clone)]
pub struct IntentRef {
    pub seq: u64,
    pub hash: String,
}

/// How the action ended.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    pub exit_code: Option<i32>,
    pub signal: Option<i32>,
    pub duration: Duration,
    pub stdout_bytes: u64,
    pub stdout_sha256: Option<String>,
    pub stderr_bytes: u64,
    pub stderr_sha256: Option<String>,
    /// What the sandbox could not enforce, or why the action did not run.
    pub notes: Vec<String>,
}

/// One network decision made by the egress proxy on behalf of an action.
#[derive(Debug, Clone)]
pub struct NetworkRecord {
    pub protocol: String,
    pub host: String,
    pub port: u16,
    pub method: Option<String>,
    pub allowed: bool,
    pub rule: String,
}

/// Writes records for one workspace's audit log. Shareable across threads.
#[derive(Debug)]
pub struct Recorder {}

impl Recorder {
    /// Open (creating if needed) the audit log for `workspace` as the policy configures it.
    pub fn open(_workspace: &Path, _policy: &Policy) -> Result<Self, CliError> {
        Ok(Self {})
    }

    /// Append the intent record and make it durable before returning.
    pub fn intent(
        &self,
        _action: &Action,
        _decision: &Decision,
        _meta: &IntentMeta,
    ) -> Result<IntentRef, CliError> {
        Ok(IntentRef { seq: 0, hash: String::new() })
    }

    /// Append an approval event (`requested`, `granted`, `denied`, `expired`), by whom.
    pub fn approval(&self, _intent: &IntentRef, _event: &str, _by: Option<&str>) -> Result<(), CliError> {
        Ok(())
    }

    /// Append a network decision made while the action ran.
    pub fn network(&self, _intent: &IntentRef, _event: &NetworkRecord) -> Result<(), CliError> {
        Ok(())
    }

    /// Append the outcome record.
    pub fn outcome(&self, _intent: &IntentRef, _outcome: &Outcome) -> Result<(), CliError> {
        Ok(())
    }
}
