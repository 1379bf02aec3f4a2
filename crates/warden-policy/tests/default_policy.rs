//! The built-in default policy loads and passes its own `[[test]]` cases.

use std::path::Path;
use warden_policy::Policy;

#[test]
fn default_policy_passes_its_own_tests() {
    let policy = Policy::builtin();
    let (count, failures) = policy.run_tests(Path::new("/work/ws"), Path::new("/home/dev"));
    assert!(count >= 80, "expected the default policy to carry many tests, found {count}");
    let report: Vec<String> = failures
        .iter()
        .map(|f| format!("{}: expected {}, got {}", f.action, f.expected, f.actual))
        .collect();
    assert!(report.is_empty(), "{} failing cases:\n{}", report.len(), report.join("\n"));
}
