//! Prepare the built-in default policy at build time: its SHA-256, and its parsed form as JSON
//! (deserialising JSON costs a fifth of parsing the TOML, on every `warden` start). The
//! governance file's types are compiled into this script from the crate's own sources, so the
//! JSON always has their exact shape.

#![allow(
    dead_code,
    reason = "the crate's types are included whole; the script uses a few"
)]

#[path = "src/file.rs"]
mod file;
#[path = "src/sections/mod.rs"]
mod sections;
#[path = "src/tier.rs"]
mod tier;

use sha2::{Digest, Sha256};
use std::path::PathBuf;

/// JSON `null` has no TOML counterpart; absent means default anyway.
fn strip_nulls(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.retain(|_, x| !x.is_null());
            map.values_mut().for_each(strip_nulls);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_nulls),
        _ => {}
    }
}

fn main() {
    let manifest = PathBuf::from(
        std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"),
    );
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let policy = manifest.join("../../policies/default.toml");
    println!("cargo:rerun-if-changed={}", policy.display());
    for f in ["src/file.rs", "src/tier.rs", "src/sections"] {
        println!("cargo:rerun-if-changed={}", manifest.join(f).display());
    }
    let text = std::fs::read_to_string(&policy).expect("policies/default.toml is readable");
    let digest = Sha256::digest(text.as_bytes());
    std::fs::write(
        out.join("default_digest.rs"),
        format!("{:?}", digest.as_slice()),
    )
    .expect("OUT_DIR is writable");

    // A default policy that does not parse must fail the build, with the parser's message.
    let parsed: file::PolicyFile = match toml::from_str(&text) {
        Ok(p) => p,
        Err(e) => panic!("policies/default.toml does not parse: {e}"),
    };
    let mut json = serde_json::to_value(&parsed).expect("the policy serialises");
    strip_nulls(&mut json);
    std::fs::write(out.join("default_policy.json"), json.to_string()).expect("OUT_DIR is writable");
}
