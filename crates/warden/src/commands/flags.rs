//! Flags several commands share, declared once and flattened into each (`#[command(flatten)]`)
//! so they read and behave the same everywhere.

use std::path::PathBuf;

/// Where an action runs and which governance file decides it.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct Placement {
    /// Governance file to use as the repository layer (default: <workspace>/.warden/policy.toml).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Workspace root, writable inside the sandbox (default: the nearest directory with `.git`
    /// or `.warden`).
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,
    /// Directory the command starts in (default: the current directory).
    #[arg(long, value_name = "DIR")]
    pub cwd: Option<PathBuf>,
}

/// Whether a sandbox the kernel cannot fully enforce may run.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct Degraded {
    /// Run even if this kernel cannot enforce everything the sandbox profile asks for (what it
    /// did not enforce is printed and recorded in the outcome).
    #[arg(long)]
    pub allow_degraded: bool,
}
