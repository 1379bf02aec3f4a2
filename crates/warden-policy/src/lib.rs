//! The governance file and classification: a pure function from a planned action and its
//! context to a risk tier, the deciding rule and the reasons, with no I/O of its own.

mod action;
mod argregex;
mod classify;
pub mod display;
mod error;
mod file;
mod load;
mod lookahead;
mod makefile;
mod matcher;
mod net;
mod operands;
mod outputs;
mod paths;
pub mod sections;
mod tasks;
mod testing;
mod tier;
mod wordglob;

pub use action::{Action, Context};
pub use classify::{CommandDecision, Decision, NamedPaths};
pub use error::{PolicyError, PolicyErrors};
pub use file::{PolicyFile, RuleSpec, TestCase};
pub use load::{Layer, Policy, PolicySource, TestFailure};
pub use lookahead::{MAX_FILE as LOOKAHEAD_MAX_FILE, MemoryWorkspace, WorkspaceReader};
pub use net::{HttpRequestFacts, http_request_facts};
pub use paths::normalise as normalise_path;
pub use tier::Tier;

/// The built-in default governance file, embedded in every binary.
pub const DEFAULT_POLICY: &str = include_str!("../../../policies/default.toml");

/// [`DEFAULT_POLICY`] parsed at build time, as JSON (see `build.rs`).
pub(crate) const DEFAULT_POLICY_JSON: &str =
    include_str!(concat!(env!("OUT_DIR"), "/default_policy.json"));
