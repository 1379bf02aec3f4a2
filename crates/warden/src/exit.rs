//! Exit codes of the command-line contract and the error type every command returns.

use std::process::ExitCode;

/// Bad input: unreadable or invalid flags, files or actions.
pub const BAD_INPUT: u8 = 2;
/// Generic failure of Warden itself (I/O, a service it needs).
pub const FAILURE: u8 = 1;
/// The action was denied by policy or by an approver (`warden run`).
pub const DENIED: u8 = 77;
/// The action was deferred for asynchronous approval (`warden run`).
pub const DEFERRED: u8 = 75;

/// An error from a command, carrying the exit code it maps to.
#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub report: miette::Report,
}

impl CliError {
    /// Bad input from the user: exit 2.
    pub fn bad_input(report: impl Into<miette::Report>) -> Self {
        Self {
            code: BAD_INPUT,
            report: report.into(),
        }
    }

    /// Warden itself failed: exit 1.
    pub fn failure(report: impl Into<miette::Report>) -> Self {
        Self {
            code: FAILURE,
            report: report.into(),
        }
    }

    /// Print the report on stderr and give the exit code.
    pub fn report(self) -> ExitCode {
        stderr_line!("{:?}", self.report);
        ExitCode::from(self.code)
    }
}

/// What every command returns.
pub type CmdResult = Result<ExitCode, CliError>;

impl From<warden_govern::GovernError> for CliError {
    fn from(e: warden_govern::GovernError) -> Self {
        use warden_govern::GovernError as G;
        if e.is_bad_input() {
            return Self::bad_input(miette::miette!("{e}"));
        }
        // The libraries name no flags: the command line adds its own.
        if matches!(e, G::Sandbox(warden_sandbox::SandboxError::Degraded(_))) {
            return Self::failure(miette::miette!(
                help = "rerun with --allow-degraded to run anyway (recorded in the outcome)",
                "{e}"
            ));
        }
        Self::failure(miette::miette!("{e}"))
    }
}
