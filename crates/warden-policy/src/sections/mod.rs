//! Sections of the governance file that other layers (sandbox, network, audit, approvals) read.
//! Each is plain serde data; layering and validation happen in the crate root.

pub mod approvals;
pub mod audit;
pub mod network;
pub mod sandbox;

pub use approvals::ApprovalsConfig;
pub use audit::AuditConfig;
pub use network::NetworkConfig;
pub use sandbox::SandboxConfig;
