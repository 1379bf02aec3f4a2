//! warden-audit (to be built).
