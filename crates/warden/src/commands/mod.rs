//! One module per subcommand; each owns its clap arguments and its `run` (flags several share
//! are `flags`'s).

pub mod approvals;
pub mod audit;
pub mod check;
pub mod completions;
pub mod doctor;
pub mod flags;
pub mod hook;
pub mod init;
pub mod mcp;
pub mod policy;
pub mod replay;
pub mod report;
pub mod run;
pub mod sandbox;
pub mod serve;
