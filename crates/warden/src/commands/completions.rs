//! `warden completions SHELL` and `warden man`: shell completions and manual pages generated
//! from the command-line definitions themselves, so they never drift from the binary. The
//! packages (`packaging/build-deb.sh`) run these at package time; a `cargo install` user runs
//! them once into their shell's completion directory and `MANPATH`.

use crate::exit::{CliError, CmdResult};
use clap::CommandFactory as _;
use std::path::PathBuf;
use std::process::ExitCode;

/// Arguments of `warden completions`.
#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `warden man`.
#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Write `warden.1` and one page per subcommand (`warden-run.1`, …) into this directory
    /// instead of printing `warden.1`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Print the completion script for `args.shell`.
pub fn completions(args: CompletionsArgs) -> CmdResult {
    let mut cmd = crate::Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "warden", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

/// Print or write the manual pages.
pub fn man(args: ManArgs) -> CmdResult {
    let cmd = crate::Cli::command();
    let fail =
        |e: std::io::Error| CliError::failure(miette::miette!("cannot write the manual: {e}"));
    match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir).map_err(fail)?;
            clap_mangen::generate_to(cmd, &dir).map_err(fail)?;
        }
        None => {
            clap_mangen::Man::new(cmd)
                .render(&mut std::io::stdout())
                .map_err(fail)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
