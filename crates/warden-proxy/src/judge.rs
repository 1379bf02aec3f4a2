//! Requests as judged actions: the proxy describes every request it can see (plain HTTP and
//! intercepted HTTPS: host actually contacted, port, method, path without its query, git
//! service) or every tunnel it cannot see into (judged by host alone), and asks a [`Judge`] —
//! in `warden`, the governor's nested decision in the running action's granted tier — before
//! a byte of it is forwarded. A judge that holds (a `sync` approval) simply takes its time.

use crate::event::{Handling, Protocol};
use std::future::Future;
use std::pin::Pin;
use warden_policy::Tier;

/// One request (or opaque tunnel) as the judge sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetRequest {
    /// How the client reached the proxy (`https` for a request inside an intercepted tunnel).
    pub protocol: Protocol,
    /// Whether the proxy sees the request (`plain`, `intercepted`) or only a tunnel.
    pub handling: Handling,
    /// The host the proxy connects to, normalised. For an intercepted request this is the
    /// tunnel's host; a request naming another host is refused before it is judged.
    pub host: String,
    /// The port connected to.
    pub port: u16,
    /// HTTP method, when visible.
    pub method: Option<String>,
    /// URL path, query stripped, when visible.
    pub path: Option<String>,
    /// Git smart-HTTP service, when the request is one.
    pub service: Option<String>,
    /// Ids of the `[[network.credential]]` secrets the proxy swapped into this request.
    pub credentials: Vec<String>,
    /// The strictest `tier` of those credentials: the judge must refuse the request when the
    /// granted tier is below it.
    pub credential_tier: Option<Tier>,
}

/// What the judge decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Judgement {
    /// Forward the request.
    Proceed {
        /// The governance rule that judged it.
        rule: String,
        /// The request's tier.
        tier: Option<Tier>,
    },
    /// Answer 403 (or close the tunnel) with a one-line reason.
    Refuse {
        /// The governance rule that judged it.
        rule: String,
        /// The request's tier.
        tier: Option<Tier>,
        /// One line: what was refused, why, and what to do.
        reason: String,
    },
}

impl Judgement {
    /// The deciding rule.
    pub fn rule(&self) -> &str {
        match self {
            Judgement::Proceed { rule, .. } | Judgement::Refuse { rule, .. } => rule,
        }
    }

    /// The tier, when the judge classified the request.
    pub fn tier(&self) -> Option<Tier> {
        match self {
            Judgement::Proceed { tier, .. } | Judgement::Refuse { tier, .. } => *tier,
        }
    }
}

/// The future a judge returns.
pub type JudgeFuture<'a> = Pin<Box<dyn Future<Output = Judgement> + Send + 'a>>;

/// Decides each request. Called from the proxy's runtime; it may wait (a held request) without
/// blocking other connections.
pub trait Judge: Send + Sync + 'static {
    /// Judges one request; must make any record it needs durable before returning `Proceed`.
    fn judge<'a>(&'a self, request: &'a NetRequest) -> JudgeFuture<'a>;
}

/// The judge of a proxy that enforces only the host allowlist: everything it admits proceeds.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProceedAll;

impl Judge for ProceedAll {
    fn judge<'a>(&'a self, _request: &'a NetRequest) -> JudgeFuture<'a> {
        Box::pin(async {
            Judgement::Proceed {
                rule: String::new(),
                tier: None,
            }
        })
    }
}

/// The facts of an HTTP request target the judge needs: the path (query stripped) and the
/// git service. A POST claims a git service only with git's own content type, so a body sent
/// to a path that merely ends in `git-upload-pack` is judged as the write it is.
pub(crate) fn request_facts(
    method: &str,
    path_and_query: &str,
    content_type: Option<&str>,
) -> (String, Option<String>) {
    let facts = warden_policy::http_request_facts(path_and_query);
    let service = facts.service.filter(|s| {
        method != "POST"
            || content_type.is_some_and(|ct| {
                ct.trim()
                    .eq_ignore_ascii_case(&format!("application/x-{s}-request"))
            })
    });
    (redact_path(&facts.path), service)
}

/// Path segments that look like secrets (long tokens with a known prefix) are masked, so a
/// record never holds a token someone put in a URL.
pub(crate) fn redact_path(path: &str) -> String {
    const PREFIXES: [&str; 6] = ["ghp_", "gho_", "github_pat_", "glpat-", "npm_", "sk-"];
    path.split('/')
        .map(|seg| {
            if PREFIXES.iter().any(|p| seg.starts_with(p)) && seg.len() >= 20 {
                "[redacted]"
            } else {
                seg
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_post_needs_git_content_type() {
        let (p, s) = request_facts(
            "POST",
            "/o/r.git/git-upload-pack",
            Some("application/x-git-upload-pack-request"),
        );
        assert_eq!(p, "/o/r.git/git-upload-pack");
        assert_eq!(s.as_deref(), Some("git-upload-pack"));
        let (_, s) = request_facts("POST", "/o/r.git/git-upload-pack", Some("text/plain"));
        assert_eq!(s, None);
        let (_, s) = request_facts("GET", "/o/r.git/info/refs?service=git-receive-pack", None);
        assert_eq!(s.as_deref(), Some("git-receive-pack"));
    }

    #[test]
    fn token_in_path_is_redacted() {
        let (p, _) = request_facts("GET", "/x/ghp_aaaaaaaaaaaaaaaaaaaaaaaa/y?t=1", None);
        assert_eq!(p, "/x/[redacted]/y");
    }
}
