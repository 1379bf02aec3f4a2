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

/// Where a shell command says which directory it ended in.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct CwdReport {
    /// With a shell's `-c` script (`-- bash -c SCRIPT`): afterwards FILE (an existing regular
    /// file) holds the directory the script ended in when that is inside the workspace, and is
    /// empty otherwise; for an agent's shell that keeps its directory between commands (the
    /// Claude Code hook's rewrite `cd`s there). An empty FILE asks for no report.
    #[arg(
        long,
        value_name = "FILE",
        value_parser = clap::builder::TypedValueParser::map(
            clap::builder::OsStringValueParser::new(),
            PathBuf::from
        )
    )]
    pub cwd_report: Option<PathBuf>,
}

impl CwdReport {
    /// The report file, checked before anything runs: an existing, empty regular file with no
    /// other name (not a link, not a hard link) — the command can write it, so it must be
    /// nothing else (`--cwd-report ~/.bashrc` would hand the command the user's shell start-up).
    pub fn file(&self) -> Result<Option<PathBuf>, crate::exit::CliError> {
        use std::os::unix::fs::MetadataExt;
        let Some(f) = self
            .cwd_report
            .as_ref()
            .filter(|f| !f.as_os_str().is_empty())
        else {
            return Ok(None);
        };
        match std::fs::symlink_metadata(f) {
            Ok(m) if m.is_file() && m.len() == 0 && m.nlink() == 1 => Ok(Some(
                std::fs::canonicalize(f).map_err(|e| bad(f, &e.to_string()))?,
            )),
            Ok(m) if m.is_file() && m.len() > 0 => Err(bad(f, "not empty")),
            Ok(m) if m.is_file() => Err(bad(f, "has another name (a hard link)")),
            Ok(_) => Err(bad(f, "not a regular file")),
            Err(e) => Err(bad(f, &e.to_string())),
        }
    }

    /// After the run: leaves in `file` the directory the command reported when it is one inside
    /// `workspace`, else nothing.
    pub fn finish(file: &std::path::Path, workspace: &std::path::Path) {
        let dir = warden_govern::execute::reported_cwd(file, workspace);
        let text = dir
            .map(|d| format!("{}\n", d.display()))
            .unwrap_or_default();
        if let Err(e) = std::fs::write(file, text) {
            stderr_line!(
                "warden: cannot write the directory report {}: {e}",
                file.display()
            );
        }
    }
}

fn bad(f: &std::path::Path, why: &str) -> crate::exit::CliError {
    crate::exit::CliError::bad_input(miette::miette!(
        help = "give a new, empty file, e.g. `f=$(mktemp)`",
        "--cwd-report {}: {why}",
        f.display()
    ))
}
