//! The workspace's layering rules (DESIGN.md, "Workspace layout") checked against the manifests
//! and sources, so a new dependency edge or a stray `unsafe` fails here rather than in review.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Which of our crates each crate may depend on (normal and build dependencies; dev-dependencies
/// are free). The table is DESIGN.md's paragraph under the crate list, as data.
const ALLOWED: &[(&str, &[&str])] = &[
    ("warden-shell", &[]),
    ("warden-tls", &[]),
    ("warden-policy", &["warden-shell"]),
    (
        "warden-audit",
        &["warden-policy", "warden-shell", "warden-tls"],
    ),
    (
        "warden-sandbox",
        &["warden-policy", "warden-shell", "warden-tls"],
    ),
    (
        "warden-proxy",
        &["warden-policy", "warden-shell", "warden-tls"],
    ),
    (
        "warden-approvals",
        &["warden-policy", "warden-shell", "warden-tls"],
    ),
    (
        "warden-govern",
        &[
            "warden-shell",
            "warden-policy",
            "warden-audit",
            "warden-sandbox",
            "warden-proxy",
            "warden-approvals",
            "warden-tls",
        ],
    ),
    (
        "warden",
        &[
            "warden-shell",
            "warden-policy",
            "warden-audit",
            "warden-sandbox",
            "warden-proxy",
            "warden-approvals",
            "warden-govern",
            "warden-tls",
        ],
    ),
];

/// Crates that turn a process into a sandbox: only `warden-sandbox` may use them.
const ISOLATION_CRATES: &[&str] = &["landlock", "seccompiler", "libseccomp", "caps", "nix"];

/// Command-line parsing belongs to the binary alone.
const COMMAND_LINE_CRATES: &[&str] = &["clap", "clap_complete", "clap_mangen"];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("crates/warden sits two levels below the workspace root")
        .to_path_buf()
}

/// Every workspace crate: name → (directory, names of its normal and build dependencies).
fn crates() -> BTreeMap<String, (PathBuf, BTreeSet<String>)> {
    let mut out = BTreeMap::new();
    let dir = workspace_root().join("crates");
    for entry in std::fs::read_dir(&dir).expect("read crates/") {
        let path = entry.expect("crates/ entry").path();
        let manifest = path.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let doc: toml_edit::DocumentMut = text.parse().expect("manifest parses");
        let name = doc["package"]["name"]
            .as_str()
            .expect("package.name")
            .to_string();
        let mut deps = BTreeSet::new();
        let mut collect = |table: Option<&toml_edit::Item>| {
            if let Some(table) = table.and_then(toml_edit::Item::as_table_like) {
                deps.extend(table.iter().map(|(k, _)| k.to_string()));
            }
        };
        collect(doc.get("dependencies"));
        collect(doc.get("build-dependencies"));
        if let Some(targets) = doc.get("target").and_then(toml_edit::Item::as_table_like) {
            for (_, target) in targets.iter() {
                collect(target.get("dependencies"));
                collect(target.get("build-dependencies"));
            }
        }
        out.insert(name, (path, deps));
    }
    out
}

#[test]
fn every_crate_depends_only_on_the_crates_design_allows() {
    let crates = crates();
    let allowed: BTreeMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut problems = Vec::new();
    for (name, (_, deps)) in &crates {
        let Some(ok) = allowed.get(name.as_str()) else {
            problems.push(format!(
                "{name} is not in the crate table: add it to DESIGN.md and ALLOWED"
            ));
            continue;
        };
        for dep in deps.iter().filter(|d| crates.contains_key(*d)) {
            if !ok.contains(&dep.as_str()) {
                problems.push(format!("{name} depends on {dep}"));
            }
        }
        if name != "warden-sandbox" {
            for dep in deps
                .iter()
                .filter(|d| ISOLATION_CRATES.contains(&d.as_str()))
            {
                problems.push(format!("{name} uses the isolation crate {dep}"));
            }
        }
        if name != "warden" {
            for dep in deps
                .iter()
                .filter(|d| COMMAND_LINE_CRATES.contains(&d.as_str()))
            {
                problems.push(format!("{name} uses the command-line crate {dep}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "layering broken:\n{}",
        problems.join("\n")
    );
    // The table must not silently lose a crate that exists.
    assert!(crates.len() >= 9, "found only {:?}", crates.keys());
}

fn rust_sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_says_why_it_exists_and_unsafe_stays_in_the_sandbox() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for (name, (dir, _)) in crates() {
        let mut files = Vec::new();
        rust_sources(&dir.join("src"), &mut files);
        for file in files {
            let text = std::fs::read_to_string(&file).expect("read source");
            checked += 1;
            let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
            if !first.starts_with("//!") {
                problems.push(format!("{}: does not open with a //! line", file.display()));
            }
            // Only the sandbox crate may lift the workspace's `unsafe_code = "deny"`.
            if name != "warden-sandbox"
                && text.lines().any(|l| {
                    let l = l.trim_start();
                    !l.starts_with("//") && l.contains("unsafe_code") && l.contains("allow")
                })
            {
                problems.push(format!("{}: allows unsafe code", file.display()));
            }
        }
    }
    assert!(checked > 50, "only {checked} source files found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The README's first command is `cargo run --release -p warden -- run -- …`: a package with more
/// than one binary (warden ships `warden-sandbox-init` too) must say which one `cargo run` runs.
#[test]
fn the_readme_first_command_knows_which_binary_to_run() {
    let readme = std::fs::read_to_string(workspace_root().join("README.md")).expect("README");
    let first = readme
        .lines()
        .find(|l| l.starts_with("cargo run"))
        .expect("the README starts with a cargo run command");
    assert!(
        first.contains("-p warden ") && !first.contains("--bin"),
        "{first}"
    );
    let manifest = std::fs::read_to_string(workspace_root().join("crates/warden/Cargo.toml"))
        .expect("manifest");
    let doc: toml_edit::DocumentMut = manifest.parse().expect("manifest parses");
    let bins = doc
        .get("bin")
        .and_then(toml_edit::Item::as_array_of_tables)
        .map_or(0, |b| b.len());
    if bins > 1 {
        assert_eq!(
            doc["package"]["default-run"].as_str(),
            Some("warden"),
            "`cargo run -p warden` cannot choose among {bins} binaries"
        );
    }
}
