//! The classification corpus: hundreds of command strings with the tier the built-in default
//! policy must give them, covering every wrapper, construct and category, and adversarial spellings.

use std::path::PathBuf;
use warden_policy::{Action, Context, Policy, Tier};

fn tier(s: &str) -> Tier {
    match s {
        "auto" => Tier::Auto,
        "async" => Tier::Async,
        "sync" => Tier::Sync,
        "deny" => Tier::Deny,
        other => panic!("bad tier `{other}` in corpus"),
    }
}

#[test]
fn corpus_classifies_as_expected() {
    let policy = Policy::builtin();
    let text = include_str!("data/corpus.txt");
    let mut failures = Vec::new();
    let mut count = 0;
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (expected, script) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("line {}: no tab", n + 1));
        let (expected, sandboxed) = match expected.strip_suffix('!') {
            Some(t) => (tier(t), false),
            None => (tier(expected), true),
        };
        let script = script.replace('⏎', "\n");
        let ctx = Context {
            workspace: PathBuf::from("/work/ws"),
            cwd: PathBuf::from("/work/ws"),
            home: PathBuf::from("/home/dev"),
            sandboxed,
        };
        let d = policy.classify(
            &Action::Shell {
                script: script.clone(),
                cwd: None,
            },
            &ctx,
        );
        count += 1;
        if d.tier != expected {
            failures.push(format!(
                "line {}: {script:?}\n    expected {expected}, got {} by {} ({})",
                n + 1,
                d.tier,
                d.rule,
                d.reasons.join("; ")
            ));
        }
    }
    assert!(
        count >= 400,
        "the corpus must hold at least 400 cases, has {count}"
    );
    assert!(
        failures.is_empty(),
        "{} of {count} corpus cases misclassified:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
