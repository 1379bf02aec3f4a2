//! Approval routing, durable storage and the HTTP API behind `warden serve`: requests are filed by
//! agents, routed to approver groups from the governance file, decided by a quorum of distinct
//! approvers, and consumed exactly once by the action they were filed for.

pub mod digest;
pub mod model;
pub mod oidc;
pub mod reviewer;
pub mod routing;
pub mod server;
pub mod slack;

pub mod store;
pub mod store_pg;
pub mod tls;
pub mod token;
pub mod voting;
pub mod webhook;

pub use digest::action_digest;
pub use model::{Claimed, Event, NewRequest, RequestView, Role, Status, Vote};
pub use routing::{ResolvedRoute, resolve_route};
pub use server::{Classifier, EventSink, ServeOptions, ServerError, serve_blocking};

pub use store::{SqliteStore, Store, StoreError};
pub use store_pg::PgStore;
