//! The governor's typed errors: what went wrong in Warden itself (never a verdict about the
//! action, which is a [`crate::Verdict`]).

/// An error of the governed path.
#[derive(Debug, thiserror::Error)]
pub enum GovernError {
    /// The audit log could not be opened or written: nothing runs unrecorded.
    #[error("audit log: {0}")]
    Audit(#[from] warden_audit::AuditError),
    /// The intent could not be made durable: the action is not run.
    #[error("refusing to run: the intent could not be recorded: {0}")]
    Intent(warden_audit::AuditError),
    /// The audit configuration is unusable (a signing key, the OTLP settings).
    #[error("audit configuration: {0}")]
    AuditConfig(String),
    /// The sandbox profile is invalid (bad input).
    #[error("{0}")]
    Profile(warden_sandbox::SandboxError),
    /// The sandbox could not be set up or the kernel cannot enforce it.
    #[error("{0}")]
    Sandbox(warden_sandbox::SandboxError),
    /// Starting the action's machinery failed (sockets, the executable).
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The `[network]` section cannot be used for this run (a credential, the interception CA).
    #[error("{0}")]
    Network(String),
    /// The approver could not be asked (e.g. the approval server is unreachable).
    #[error("approval: {0}")]
    Approval(String),
    /// The action has nothing to run.
    #[error("the action has no command to run")]
    NothingToRun,
}

impl GovernError {
    /// Whether the error is about the caller's input rather than Warden or the machine.
    pub fn is_bad_input(&self) -> bool {
        matches!(self, Self::Profile(_) | Self::NothingToRun)
    }
}

impl From<warden_sandbox::SandboxError> for GovernError {
    fn from(e: warden_sandbox::SandboxError) -> Self {
        match e {
            warden_sandbox::SandboxError::Profile(_) => Self::Profile(e),
            _ => Self::Sandbox(e),
        }
    }
}

/// What the governor returns.
pub type Result<T, E = GovernError> = std::result::Result<T, E>;
