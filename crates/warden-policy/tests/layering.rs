//! Layered governance files: merging, replacement by id, organisation locks, and load errors that
//! name the file, line and column.

use std::path::PathBuf;
use warden_policy::{Action, Context, Layer, Policy, PolicySource, Tier};

fn src(name: &str, text: &str, layer: Layer) -> PolicySource {
    PolicySource {
        name: name.into(),
        text: text.into(),
        layer,
    }
}

fn ctx() -> Context {
    Context {
        workspace: PathBuf::from("/work/ws"),
        cwd: PathBuf::from("/work/ws"),
        home: PathBuf::from("/home/dev"),
        sandboxed: true,
    }
}

fn shell_tier(p: &Policy, s: &str) -> (Tier, String) {
    let d = p.classify(
        &Action::Shell {
            script: s.into(),
            cwd: None,
        },
        &ctx(),
    );
    (d.tier, d.rule)
}

#[test]
fn repository_rule_adds_to_the_default() {
    let repo = r#"
[[rule]]
id = "repo.deploy"
tier = "sync"
category = "deploy"
reason = "deploys"
program = ["make"]
subcommand = ["deploy"]
"#;
    let p = Policy::load(&[src("repo.toml", repo, Layer::Repository)]).unwrap();
    assert_eq!(
        shell_tier(&p, "make deploy"),
        (Tier::Sync, "repo.deploy".into())
    );
    assert_eq!(shell_tier(&p, "make test").0, Tier::Auto);
    // The default's rules still apply.
    assert_eq!(shell_tier(&p, "git push").0, Tier::Async);
}

#[test]
fn override_relaxes_but_never_below_floors() {
    let repo = r#"
[[rule]]
id = "repo.push-ok"
tier = "auto"
override = true
program = ["git"]
subcommand = ["push"]
"#;
    let p = Policy::load(&[src("repo.toml", repo, Layer::Repository)]).unwrap();
    assert_eq!(
        shell_tier(&p, "git push origin main"),
        (Tier::Auto, "repo.push-ok".into())
    );
    // Never-auto still forces a force push to sync.
    assert_eq!(shell_tier(&p, "git push --force").0, Tier::Sync);
    let warnings = p.lint_warnings();
    assert!(
        warnings.iter().any(|w| w.contains("repo.push-ok")),
        "{warnings:?}"
    );
}

#[test]
fn same_id_replaces_the_earlier_rule() {
    let repo = r#"
[[rule]]
id = "vcs.git-push"
tier = "sync"
category = "vcs-publish"
program = ["git"]
subcommand = ["push"]
"#;
    let p = Policy::load(&[src("repo.toml", repo, Layer::Repository)]).unwrap();
    assert_eq!(
        shell_tier(&p, "git push"),
        (Tier::Sync, "vcs.git-push".into())
    );
}

#[test]
fn organisation_locks_stop_a_repository() {
    let org = r#"
lock = ["defaults.unknown_unsandboxed", "rule:cred.*", "override"]
"#;
    let repo = r#"
[defaults]
unknown_unsandboxed = "auto"

[[rule]]
id = "cred.files"
tier = "auto"
paths = ["~/.ssh/**"]

[[rule]]
id = "repo.relax"
tier = "auto"
override = true
program = ["terraform"]
"#;
    let err = Policy::load(&[
        src("org.toml", org, Layer::Organisation),
        src("repo.toml", repo, Layer::Repository),
    ])
    .unwrap_err();
    let messages: Vec<String> = err.errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(err.errors.len(), 3, "{messages:#?}");
    assert!(messages[0].starts_with("repo.toml:"), "{messages:#?}");
    assert!(
        messages
            .iter()
            .any(|m| m.contains("`cred.files` is locked by org.toml")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("override rules are locked")),
        "{messages:#?}"
    );
    assert!(
        messages
            .iter()
            .any(|m| m.contains("repo.toml:3:23") && m.contains("defaults.unknown_unsandboxed")),
        "{messages:#?}"
    );
}

#[test]
fn typo_in_a_key_names_line_and_column() {
    let repo = "version = 1\n\n[[rule]]\nid = \"x\"\ntier = \"sync\"\nprogramm = [\"make\"]\n";
    let err = Policy::load(&[src("repo.toml", repo, Layer::Repository)]).unwrap_err();
    let e = &err.errors[0];
    assert_eq!(
        (e.file.as_str(), e.line, e.column),
        ("repo.toml", 6, 1),
        "{e}"
    );
    assert!(e.message.contains("programm"), "{e}");
}

#[test]
fn unknown_tier_names_line_and_column() {
    let repo = "[[rule]]\nid = \"x\"\ntier = \"maybe\"\nprogram = [\"make\"]\n";
    let err = Policy::load(&[src("repo.toml", repo, Layer::Repository)]).unwrap_err();
    let e = &err.errors[0];
    assert_eq!((e.line, e.column), (3, 8), "{e}");
    assert!(e.message.contains("maybe"), "{e}");
}

#[test]
fn bad_glob_names_line_and_column() {
    let repo = "[[rule]]\nid = \"x\"\ntier = \"sync\"\npaths = [\"ok/**\", \"bad/[x\"]\n";
    let err = Policy::load(&[src("repo.toml", repo, Layer::Repository)]).unwrap_err();
    let e = &err.errors[0];
    assert_eq!((e.line, e.column), (4, 19), "{e}");
    assert!(e.message.contains("bad glob `bad/[x`"), "{e}");
}

#[test]
fn contradictions_and_bad_rules_are_rejected() {
    let repo = r#"
[[rule]]
id = "a"
tier = "auto"
program = ["make"]
[[rule]]
id = "b"
tier = "sync"
program = ["make"]
[[rule]]
id = "c"
tier = "sync"
program = ["make"]
paths = ["x/**"]
[[rule]]
id = "a"
tier = "auto"
program = ["ls"]
[[never_auto]]
id = "n"
tier = "async"
program = ["git"]
[[test]]
tier = "auto"
"#;
    let err = Policy::load(&[src("repo.toml", repo, Layer::Repository)]).unwrap_err();
    let all: String = err.errors.iter().map(|e| format!("{e}\n")).collect();
    assert!(all.contains("contradicts rule `a`"), "{all}");
    assert!(all.contains("mixes matcher kinds"), "{all}");
    assert!(all.contains("duplicate rule id `a`"), "{all}");
    assert!(all.contains("must be at least `sync`"), "{all}");
    assert!(all.contains("exactly one of"), "{all}");
}

#[test]
fn standalone_file_drops_the_default() {
    let repo = "extends = \"none\"\n[defaults]\nunknown_sandboxed = \"async\"\n";
    let p = Policy::load(&[src("repo.toml", repo, Layer::Repository)]).unwrap();
    assert_eq!(
        shell_tier(&p, "git push --force").0,
        Tier::Async,
        "no default never-auto rules"
    );
    assert_eq!(shell_tier(&p, "ls").0, Tier::Async);
}

#[test]
fn digest_changes_with_the_policy() {
    let a = Policy::builtin();
    let b = Policy::load(&[src(
        "r.toml",
        "[defaults]\nopaque = \"deny\"\n",
        Layer::Repository,
    )])
    .unwrap();
    assert_ne!(a.digest(), b.digest());
    assert_eq!(a.digest(), Policy::builtin().digest());
    assert!(a.digest().starts_with("sha256:"));
}

#[test]
fn net_tool_read_write_actions() {
    let p = Policy::builtin();
    let c = ctx();
    let net = |m: &str| Action::Net {
        host: "api.example.invalid".into(),
        port: Some(443),
        method: Some(m.into()),
        path: None,
        service: None,
    };
    assert_eq!(p.classify(&net("GET"), &c).tier, Tier::Auto);
    assert_eq!(p.classify(&net("DELETE"), &c).tier, Tier::Async);
    let w = |path: &str| Action::Write { path: path.into() };
    assert_eq!(p.classify(&w("src/lib.rs"), &c).tier, Tier::Auto);
    assert_eq!(p.classify(&w("/etc/passwd"), &c).tier, Tier::Async);
    assert_eq!(p.classify(&w(".git/hooks/pre-commit"), &c).tier, Tier::Sync);
    assert_eq!(
        p.classify(&w("../ws/.warden/policy.toml"), &c).tier,
        Tier::Sync,
        "`..` folded back into the workspace"
    );
    let r = |path: &str| Action::Read {
        path: path.into(),
        recursive: false,
    };
    assert_eq!(
        p.classify(&r("/home/dev/.aws/credentials"), &c).tier,
        Tier::Sync
    );
    assert_eq!(p.classify(&r("~/.ssh/id_rsa.pub"), &c).tier, Tier::Auto);
    let tool = |n: &str| Action::Tool {
        name: n.into(),
        arguments: serde_json::json!({}),
    };
    assert_eq!(p.classify(&tool("mcp__fs__read_file"), &c).tier, Tier::Auto);
    assert_eq!(
        p.classify(&tool("mcp__db__drop_table"), &c).tier,
        Tier::Sync
    );
}

#[test]
fn decision_lists_every_command_with_its_own_tier() {
    let p = Policy::builtin();
    let d = p.classify(
        &Action::Shell {
            script: "ls && sudo -u x bash -c 'git push --force'".into(),
            cwd: None,
        },
        &ctx(),
    );
    assert_eq!(d.tier, Tier::Sync);
    assert_eq!(d.commands.len(), 2, "{:#?}", d.commands);
    assert_eq!(d.commands[0].argv, ["ls"]);
    assert_eq!(d.commands[0].tier, Tier::Auto);
    assert_eq!(d.commands[1].argv, ["git", "push", "--force"]);
    assert!(
        d.commands[1].wrappers.iter().any(|w| w.contains("sudo")),
        "{:?}",
        d.commands[1].wrappers
    );
    assert!(!d.reasons.is_empty());
}
