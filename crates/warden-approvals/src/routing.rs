//! Category → approver groups, quorum, timeout and escalation, from the `[approvals]` section.

use std::time::Duration;
use warden_policy::sections::ApprovalsConfig;

/// Default wait for a decision when the route names none.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);

/// Group that decides requests no route matches.
pub const FALLBACK_GROUP: &str = "admins";

/// The routing of one request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRoute {
    pub groups: Vec<String>,
    pub quorum: u32,
    pub timeout: Duration,
    pub escalate_to: Option<String>,
    pub escalate_after: Option<Duration>,
    pub allow_self_approval: bool,
}

/// Errors in the `[approvals]` section found while routing.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RoutingError {
    #[error("invalid duration `{0}` in [approvals] (use e.g. `30s`, `15m`, `2h`)")]
    BadDuration(String),
}

/// Parse `500ms`, `30s`, `15m`, `2h`, `1d` (a bare number is seconds).
pub fn parse_duration(s: &str) -> Result<Duration, RoutingError> {
    let s = s.trim();
    let bad = || RoutingError::BadDuration(s.to_owned());
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let n: u64 = num.parse().map_err(|_| bad())?;
    let ms = match unit {
        "ms" => n,
        "" | "s" => n.checked_mul(1000).ok_or_else(bad)?,
        "m" => n.checked_mul(60_000).ok_or_else(bad)?,
        "h" => n.checked_mul(3_600_000).ok_or_else(bad)?,
        "d" => n.checked_mul(86_400_000).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    Ok(Duration::from_millis(ms))
}

fn glob_match(pat: &str, s: &str) -> bool {
    match pat.split_once('*') {
        None => pat == s,
        Some((pre, post)) => {
            s.starts_with(pre) && {
                let rest = &s[pre.len()..];
                (0..=rest.len()).any(|i| rest.is_char_boundary(i) && glob_match(post, &rest[i..]))
            }
        }
    }
}

/// How specifically `pat` names a category: exact (most), a glob with literal text, `*` (least).
fn specificity(pat: &str) -> usize {
    if pat.contains('*') {
        pat.chars().filter(|c| *c != '*').count()
    } else {
        usize::MAX
    }
}

/// The route for `category`: the most specific matching route (an exact category beats a glob,
/// a glob with more literal text beats a shorter one); on a tie the later route wins, so a
/// repository or organisation layer (merged after the built-in default) overrides it. No match:
/// the fallback group.
pub fn resolve_route(cfg: &ApprovalsConfig, category: &str) -> Result<ResolvedRoute, RoutingError> {
    let Some(route) = cfg
        .route
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            r.category
                .iter()
                .filter(|p| glob_match(p, category))
                .map(|p| specificity(p))
                .max()
                .map(|s| ((s, i), r))
        })
        .max_by_key(|(k, _)| *k)
        .map(|(_, r)| r)
    else {
        return Ok(ResolvedRoute {
            groups: vec![FALLBACK_GROUP.to_owned()],
            quorum: 1,
            timeout: DEFAULT_TIMEOUT,
            escalate_to: None,
            escalate_after: None,
            allow_self_approval: false,
        });
    };
    let timeout = match &route.timeout {
        Some(t) => parse_duration(t)?,
        None => DEFAULT_TIMEOUT,
    };
    let escalate_after = route
        .escalate_after
        .as_deref()
        .map(parse_duration)
        .transpose()?;
    Ok(ResolvedRoute {
        groups: route.groups.clone(),
        quorum: route.quorum.unwrap_or(1).max(1),
        timeout,
        escalate_to: route.escalate_to.clone(),
        escalate_after,
        allow_self_approval: route.allow_self_approval,
    })
}

/// Whether identity `name` (holding token groups `token_groups`) belongs to `group`, either by the
/// token or by the group's member list in the governance file.
pub fn in_group(cfg: &ApprovalsConfig, name: &str, token_groups: &[String], group: &str) -> bool {
    token_groups.iter().any(|g| g == group)
        || cfg
            .groups
            .get(group)
            .is_some_and(|g| g.members.iter().any(|m| m == name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use warden_policy::sections::approvals::Route;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("3").unwrap(), Duration::from_secs(3));
        assert!(parse_duration("3 weeks").is_err());
        assert!(parse_duration("m").is_err());
        assert!(parse_duration("99999999999999999999d").is_err());
    }

    #[test]
    fn globs() {
        assert!(glob_match("*", "credential"));
        assert!(glob_match("infra*", "infrastructure"));
        assert!(glob_match("*push", "git-push"));
        assert!(!glob_match("infra*", "schema"));
        assert!(glob_match("a*c*e", "abcde"));
        assert!(!glob_match("a*c*e", "abde"));
    }

    #[test]
    fn most_specific_then_latest_route_wins_and_fallback_applies() {
        let cfg = ApprovalsConfig {
            route: vec![
                Route {
                    category: vec!["credential".into()],
                    groups: vec!["security".into()],
                    quorum: Some(2),
                    timeout: Some("30s".into()),
                    escalate_to: Some("cto".into()),
                    escalate_after: Some("10s".into()),
                    ..Route::default()
                },
                Route {
                    category: vec!["*".into()],
                    groups: vec!["maintainers".into()],
                    ..Route::default()
                },
            ],
            ..ApprovalsConfig::default()
        };
        let r = resolve_route(&cfg, "credential").unwrap();
        assert_eq!(r.groups, ["security"]);
        assert_eq!(r.quorum, 2);
        assert_eq!(r.timeout, Duration::from_secs(30));
        assert_eq!(r.escalate_after, Some(Duration::from_secs(10)));
        let r = resolve_route(&cfg, "vcs-push").unwrap();
        assert_eq!(r.groups, ["maintainers"]);
        assert_eq!(r.quorum, 1);
        let mut later = cfg.clone();
        later.route.push(Route {
            category: vec!["credential".into()],
            groups: vec!["repo-sec".into()],
            ..Route::default()
        });
        later.route.insert(
            0,
            Route {
                category: vec!["*".into()],
                groups: vec!["catch-all".into()],
                ..Route::default()
            },
        );
        assert_eq!(
            resolve_route(&later, "credential").unwrap().groups,
            ["repo-sec"]
        );
        assert_eq!(
            resolve_route(&later, "other").unwrap().groups,
            ["maintainers"]
        );
        let r = resolve_route(&ApprovalsConfig::default(), "x").unwrap();
        assert_eq!(r.groups, [FALLBACK_GROUP]);
    }
}
