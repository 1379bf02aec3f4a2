//! warden-proxy (to be built).
