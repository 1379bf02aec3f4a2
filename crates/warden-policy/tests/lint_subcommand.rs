//! `subcommand` lists are word sequences, so `["install", "add"]` matches `npm install add …`
//! and never `npm add x`: the lint flags such lists that read like alternatives and names the
//! `install|add` form; true sequences (`["remote", "add"]`) are left alone.

use std::path::PathBuf;
use warden_policy::{Action, Context, Layer, Policy, PolicySource, Tier};

const REPO: &str = r#"
[[rule]]
id = "npm.add"
tier = "async"
category = "dependency-change"
program = ["npm"]
subcommand = ["install", "add"]

[[never_auto]]
id = "pip.either"
program = ["pip"]
subcommand = ["uninstall", "install"]

[[rule]]
id = "git.remote-add"
tier = "sync"
program = ["git"]
subcommand = ["remote", "add"]

[[rule]]
id = "npm.either"
tier = "async"
program = ["yarn"]
subcommand = ["install|add"]
"#;

fn rule_of(p: &Policy, script: &str) -> (Tier, String) {
    let ctx = Context {
        workspace: PathBuf::from("/work/ws"),
        cwd: PathBuf::from("/work/ws"),
        home: PathBuf::from("/home/dev"),
        sandboxed: true,
    };
    let d = p.classify(
        &Action::Shell {
            script: script.into(),
            cwd: None,
        },
        &ctx,
    );
    (d.tier, d.rule)
}

#[test]
fn subcommand_lists_that_read_like_alternatives_are_flagged() {
    let p = Policy::load(&[PolicySource {
        name: "repo.toml".into(),
        text: REPO.into(),
        layer: Layer::Repository,
    }])
    .unwrap();
    // Why it matters: the list is a sequence, so the rule misses the commands it was meant for.
    assert_ne!(rule_of(&p, "npm add lodash").1, "npm.add");
    assert_ne!(rule_of(&p, "npm install lodash").1, "npm.add");
    assert_eq!(rule_of(&p, "npm install add x").1, "npm.add");
    // The suggested form matches either word.
    assert_eq!(rule_of(&p, "yarn add lodash").1, "npm.either");
    assert_eq!(rule_of(&p, "yarn install").1, "npm.either");

    let warnings = p.lint_warnings();
    let flagged: Vec<&String> = warnings
        .iter()
        .filter(|w| w.contains("subcommand = ["))
        .collect();
    assert_eq!(flagged.len(), 2, "{warnings:#?}");
    assert_eq!(
        flagged[0],
        "rule `npm.add`: subcommand = [\"install\", \"add\"] matches only the word sequence \
         `install add`; to match any one of them write subcommand = [\"install|add\"]"
    );
    assert!(
        flagged[1].starts_with("rule `pip.either`:"),
        "{}",
        flagged[1]
    );
    assert!(
        !warnings
            .iter()
            .any(|w| w.contains("git.remote-add") || w.contains("npm.either")),
        "{warnings:#?}"
    );
}
