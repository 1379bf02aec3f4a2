//! Risk tiers, ordered from least to most human attention.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::fmt;

/// How much human attention an action needs. Ordered: `Auto < Async < Sync < Deny`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Runs at once, logged.
    Auto,
    /// An approval request is filed; the action is parked and runs when approved.
    Async,
    /// Blocks until a human approves (deny on timeout).
    Sync,
    /// Never runs.
    Deny,
}

impl Tier {
    /// The lowercase name used in files and JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Auto => "auto",
            Tier::Async => "async",
            Tier::Sync => "sync",
            Tier::Deny => "deny",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
