//! Prepare the built-in default policy at build time: its SHA-256, its parsed form as JSON
//! (deserialising JSON costs a fifth of parsing the TOML), and what a `warden check` process
//! needs to classify with it without deserialising the whole file: the few sections
//! classification reads, each rule's JSON on its own (deserialised when a command can match
//! it) and the rule index by program name. The governance file's types and the index function
//! are compiled into this script from the crate's own sources, so all of it always has their
//! exact shape.

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
    // The digest of a policy that is the built-in default alone (`Policy::digest`: the
    // SHA-256 over each layer's SHA-256).
    std::fs::write(
        out.join("default_policy_digest.rs"),
        format!("{:?}", format!("sha256:{:x}", Sha256::digest(digest))),
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

    let core = serde_json::json!({
        "defaults": json["defaults"],
    });
    std::fs::write(out.join("default_core.json"), core.to_string()).expect("OUT_DIR is writable");
    // Deserialised when a first write is judged.
    std::fs::write(
        out.join("default_high_risk.json"),
        json["high_risk"].to_string(),
    )
    .expect("OUT_DIR is writable");
    std::fs::write(out.join("default_programs.rs"), prebuilt_programs(&parsed))
        .expect("OUT_DIR is writable");
    for (key, specs, file) in [
        ("rule", &parsed.rules, "default_rules.rs"),
        ("never_auto", &parsed.never_auto, "default_never_auto.rs"),
    ] {
        let items = json[key].as_array().cloned().unwrap_or_default();
        std::fs::write(out.join(file), prebuilt_rules(&items, specs)).expect("OUT_DIR is writable");
    }
}

/// A `PrebuiltPrograms` literal (see `src/load.rs`): each `[programs.NAME]` entry's JSON by
/// name, and the aliases with the program each stands for, both sorted by name.
fn prebuilt_programs(parsed: &file::PolicyFile) -> String {
    use std::fmt::Write;
    let mut s = String::from("PrebuiltPrograms {\n    json: &[\n");
    for (name, spec) in &parsed.programs {
        let json = serde_json::to_string(spec).expect("a program spec serialises");
        let _ = writeln!(s, "        ({name:?}, {json:?}),");
    }
    let mut aliases: Vec<(&str, &str)> = Vec::new();
    for (name, spec) in &parsed.programs {
        for a in &spec.aliases {
            // Later entries win, as in `Policy::assemble`.
            aliases.retain(|(x, _)| x != a);
            aliases.push((a, name));
        }
    }
    aliases.sort();
    s.push_str("    ],\n    aliases: &[\n");
    for (a, name) in aliases {
        let _ = writeln!(s, "        ({a:?}, {name:?}),");
    }
    s.push_str("    ],\n}\n");
    s
}

/// A `PrebuiltRules` literal (see `src/load.rs`): each rule's JSON and the index of the rules.
fn prebuilt_rules(items: &[serde_json::Value], specs: &[file::RuleSpec]) -> String {
    use std::fmt::Write;
    let index = file::RuleIndex::of(specs);
    let list = |v: &[usize]| {
        let items: Vec<String> = v.iter().map(usize::to_string).collect();
        format!("&[{}]", items.join(", "))
    };
    let mut s = String::from("PrebuiltRules {\n    json: &[\n");
    for item in items {
        // Debug formatting of a str is a valid Rust string literal.
        let _ = writeln!(s, "        {:?},", item.to_string());
    }
    s.push_str("    ],\n    by_program: &[\n");
    for (name, rules) in &index.by_program {
        let _ = writeln!(s, "        ({name:?}, {}),", list(rules));
    }
    s.push_str("    ],\n    glob_programs: &[\n");
    for (pattern, i) in &index.glob_programs {
        let _ = writeln!(s, "        ({pattern:?}, {i}),");
    }
    let _ = write!(
        s,
        "    ],\n    path: {},\n    net: {},\n    tool: {},\n    first_subcommand: &[\n",
        list(&index.path),
        list(&index.net),
        list(&index.tool)
    );
    for words in &index.first_subcommand {
        let _ = writeln!(s, "        &{words:?},");
    }
    s.push_str("    ],\n}\n");
    s
}
