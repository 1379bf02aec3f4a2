//! One module per subcommand; each owns its clap arguments and its `run`.

pub mod approvals;
pub mod audit;
pub mod check;
pub mod init;
pub mod policy;
pub mod run;
pub mod sandbox;
pub mod serve;
