//! The `[audit]` section of the governance file.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The `[audit]` section (to be filled by its layer's issue).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {}
