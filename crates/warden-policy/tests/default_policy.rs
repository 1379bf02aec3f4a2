//! The built-in default policy loads and passes its own `[[test]]` cases.

use std::path::Path;
use warden_policy::Policy;

#[test]
fn default_policy_passes_its_own_tests() {
    let policy = Policy::builtin();
    let (count, failures) = policy.run_tests(Path::new("/work/ws"), Path::new("/home/dev"));
    assert!(
        count >= 80,
        "expected the default policy to carry many tests, found {count}"
    );
    let report: Vec<String> = failures
        .iter()
        .map(|f| format!("{}: expected {}, got {}", f.action, f.expected, f.actual))
        .collect();
    assert!(
        report.is_empty(),
        "{} failing cases:\n{}",
        report.len(),
        report.join("\n")
    );
}

#[test]
fn default_policy_passes_full_validation() {
    // At run time the built-in layer skips semantic validation for speed; here it gets all of it.
    let source = warden_policy::PolicySource {
        name: "policies/default.toml".into(),
        text: warden_policy::DEFAULT_POLICY.into(),
        layer: warden_policy::Layer::Repository,
    };
    if let Err(e) = Policy::load(&[source]) {
        let all: Vec<String> = e.errors.iter().map(|x| x.to_string()).collect();
        panic!("{}", all.join("\n"));
    }
    assert!(
        Policy::builtin().lint_warnings().is_empty(),
        "{:?}",
        Policy::builtin().lint_warnings()
    );
}

#[test]
fn the_prebuilt_default_equals_the_toml() {
    // The binary loads the default from JSON made at build time; it must be the same policy,
    // alone and when layered under a repository file.
    let from_toml: warden_policy::PolicyFile =
        toml::from_str(warden_policy::DEFAULT_POLICY).unwrap();
    let builtin = Policy::builtin();
    assert_eq!(builtin.config(), &from_toml);
    let repo = warden_policy::PolicySource {
        name: "r.toml".into(),
        text: "[defaults]\nopaque = \"deny\"\n".into(),
        layer: warden_policy::Layer::Repository,
    };
    let layered = Policy::load(&[repo]).unwrap();
    let mut expected = from_toml.clone();
    expected.defaults.opaque = Some(warden_policy::Tier::Deny);
    assert_eq!(layered.config(), &expected);
}
