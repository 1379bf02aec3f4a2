//! warden-sandbox (to be built).
