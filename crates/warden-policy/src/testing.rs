//! `[[test]]` cases: expected classifications written next to the rules, checked like unit tests.

use crate::action::{Action, Context};
use crate::file::TestCase;
use crate::load::{Policy, TestFailure};
use std::path::{Path, PathBuf};

impl TestCase {
    /// The action this case describes, and a short label for messages.
    pub fn action(&self) -> Option<(Action, String)> {
        if let Some(s) = &self.shell {
            return Some((
                Action::Shell {
                    script: s.clone(),
                    cwd: None,
                },
                s.clone(),
            ));
        }
        if let Some(a) = &self.argv {
            return Some((
                Action::Exec {
                    argv: a.clone(),
                    cwd: None,
                },
                format!("{a:?}"),
            ));
        }
        if let Some(p) = &self.read {
            return Some((
                Action::Read {
                    path: PathBuf::from(p),
                    recursive: false,
                },
                format!("read {p}"),
            ));
        }
        if let Some(p) = &self.write {
            return Some((
                Action::Write {
                    path: PathBuf::from(p),
                },
                format!("write {p}"),
            ));
        }
        if let Some(n) = &self.net {
            let (method, target) = match n.split_once(' ') {
                Some((m, t)) => (Some(m.to_ascii_uppercase()), t),
                None => (None, n.as_str()),
            };
            let (authority, path_and_query) = match target.find('/') {
                Some(i) => (&target[..i], Some(&target[i..])),
                None => (target, None),
            };
            let (host, port) = match authority.rsplit_once(':') {
                Some((h, p)) if p.parse::<u16>().is_ok() => (h.to_owned(), p.parse().ok()),
                _ => (authority.to_owned(), None),
            };
            let (path, service) = match path_and_query {
                Some(pq) => {
                    let f = crate::http_request_facts(pq);
                    (Some(f.path), f.service)
                }
                None => (None, None),
            };
            return Some((
                Action::Net {
                    host,
                    port,
                    method,
                    path,
                    service,
                },
                format!("net {n}"),
            ));
        }
        if let Some(t) = &self.tool {
            return Some((
                Action::Tool {
                    name: t.clone(),
                    arguments: serde_json::Value::Null,
                },
                format!("tool {t}"),
            ));
        }
        None
    }
}

impl Policy {
    /// Run every `[[test]]` case with the workspace at `workspace` and home at `home`.
    /// Returns the number of cases run and the failures.
    pub fn run_tests(&self, workspace: &Path, home: &Path) -> (usize, Vec<TestFailure>) {
        let mut failures = Vec::new();
        let mut count = 0;
        for (source, case) in self.tests() {
            let Some((action, label)) = case.action() else {
                continue;
            };
            count += 1;
            let cwd = match &case.cwd {
                Some(c) => workspace.join(c),
                None => workspace.to_path_buf(),
            };
            let ctx = Context {
                workspace: workspace.to_path_buf(),
                cwd,
                home: home.to_path_buf(),
                sandboxed: case.sandboxed.unwrap_or(true),
            };
            let d = self.classify(&action, &ctx);
            let tier_ok = case.tier.is_none_or(|t| t == d.tier);
            let rule_ok = case.rule.as_ref().is_none_or(|r| *r == d.rule);
            if !tier_ok || !rule_ok {
                let expected = match (&case.tier, &case.rule) {
                    (Some(t), Some(r)) => format!("{t} by {r}"),
                    (Some(t), None) => t.to_string(),
                    (None, Some(r)) => format!("rule {r}"),
                    (None, None) => String::new(),
                };
                failures.push(TestFailure {
                    source: source.to_owned(),
                    action: label,
                    expected,
                    actual: format!("{} by {} ({})", d.tier, d.rule, d.reasons.join("; ")),
                });
            }
        }
        (count, failures)
    }
}
