//! Digest the built-in default policy at build time, so that a `warden` process does not hash
//! its 40 KB on every start.

use sha2::{Digest, Sha256};
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let policy = manifest.join("../../policies/default.toml");
    println!("cargo:rerun-if-changed={}", policy.display());
    let text = std::fs::read(&policy).expect("policies/default.toml is readable");
    let digest = Sha256::digest(&text);
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("default_digest.rs");
    std::fs::write(out, format!("{:?}", digest.as_slice())).expect("OUT_DIR is writable");
}
