//! The client side of the approval server: a small JSON HTTP client shared by `warden approvals`,
//! and `ServerApprover`, the `Approver` that files a request with `warden serve` and (for `sync`)
//! blocks on the server's long-poll until a person decides.

use crate::approval::{Answered, ApprovalAnswer, ApprovalRequest, Approver};
use crate::exit::CliError;
use serde_json::{Value, json};
use std::time::Duration;
use warden_policy::Tier;

/// Errors talking to the approval server.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ClientError {
    #[error("cannot reach the approval server at {url}: {msg}")]
    #[diagnostic(help("is `warden serve` running? set --server or WARDEN_SERVER"))]
    Unreachable { url: String, msg: String },
    #[error("approval server answered {status}: {msg}")]
    Status { status: u16, msg: String },
    #[error("approval server sent an unreadable answer: {0}")]
    Malformed(String),
    #[error(
        "the server's action digest {server} differs from ours {ours}: refusing to trust the approval"
    )]
    DigestMismatch { server: String, ours: String },
}

impl ClientError {
    /// Exit code class: the server refusing (4xx) is bad input, the rest a failure.
    pub fn into_cli(self) -> CliError {
        match &self {
            Self::Status { status, .. } if (400..500).contains(status) => CliError::bad_input(self),
            _ => CliError::failure(self),
        }
    }
}

/// A JSON client for one server and token.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Client {
    /// A client for `base` (e.g. `http://127.0.0.1:8420` or `https://…`) authenticating with
    /// `token`; `https://` is verified against the system trust store plus `WARDEN_CA_FILE`.
    pub fn new(base: &str, token: &str) -> Self {
        Self::with_timeout(base, token, Duration::from_secs(90))
    }

    /// [`Client::new`] with another limit for each whole request (e.g. a quick health check).
    pub fn with_timeout(base: &str, token: &str, timeout: Duration) -> Self {
        let agent: ureq::Agent = warden_tls::agent_builder()
            .http_status_as_error(false)
            .timeout_global(Some(timeout))
            .build()
            .into();
        Self {
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            agent,
        }
    }

    fn finish(
        &self,
        url: &str,
        r: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<Value, ClientError> {
        let mut resp = r.map_err(|e| ClientError::Unreachable {
            url: url.to_owned(),
            msg: e.to_string(),
        })?;
        let status = resp.status().as_u16();
        let text = resp
            .body_mut()
            .read_to_string()
            .map_err(|e| ClientError::Malformed(e.to_string()))?;
        let v: Value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        if (200..300).contains(&status) {
            Ok(v)
        } else {
            let msg = v
                .get("error")
                .and_then(Value::as_str)
                .map_or_else(|| v.to_string(), str::to_owned);
            Err(ClientError::Status { status, msg })
        }
    }

    /// GET `path` (relative to the server root).
    pub fn get(&self, path: &str) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let r = self
            .agent
            .get(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .call();
        self.finish(&url, r)
    }

    /// POST a JSON `body` to `path`.
    pub fn post(&self, path: &str, body: &Value) -> Result<Value, ClientError> {
        let url = format!("{}{path}", self.base);
        let r = self
            .agent
            .post(&url)
            .header("Authorization", &format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes());
        self.finish(&url, r)
    }

    /// Long-poll until request `id` is decided (no client-side busy polling: each call blocks on
    /// the server up to 30 s).
    ///
    /// A server that goes away (restart, failover) is retried for up to a minute: pending
    /// requests are durable, so the wait resumes where it was.
    pub fn wait_decided(&self, id: &str) -> Result<Value, ClientError> {
        let mut down_since: Option<std::time::Instant> = None;
        loop {
            match self.get(&format!("/requests/{id}/wait?timeout=30")) {
                Ok(v) => {
                    down_since = None;
                    if v.get("status").and_then(Value::as_str) != Some("pending") {
                        return Ok(v);
                    }
                }
                Err(e @ ClientError::Unreachable { .. }) => {
                    let since = *down_since.get_or_insert_with(std::time::Instant::now);
                    if since.elapsed() > Duration::from_secs(60) {
                        return Err(e);
                    }
                    std::thread::sleep(Duration::from_millis(500));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Files approval requests with `warden serve`.
#[derive(Debug, Clone)]
pub struct ServerApprover {
    /// Server root URL, e.g. `http://127.0.0.1:8420`.
    pub server: String,
    /// Agent token (the requesting identity is the token's name on the server).
    pub token: String,
    pub workspace: String,
    pub cwd: String,
    /// The action as JSON, e.g. `{"kind":"exec","argv":[…]}` or `{"kind":"shell","text":…}`.
    pub action: Value,
    /// Digest of the governance file that classified the action.
    pub policy_digest: String,
}

impl ServerApprover {
    /// The digest binding an approval to this exact action.
    pub fn digest(&self) -> String {
        warden_approvals::action_digest(
            &self.action,
            &self.cwd,
            &self.workspace,
            &self.policy_digest,
        )
    }

    /// File the request; returns the server's view of it.
    pub fn file(&self, req: &ApprovalRequest<'_>) -> Result<Value, ClientError> {
        let d = req.decision;
        let mut body = json!({
            "tier": d.tier.to_string(),
            "category": d.category,
            "rule": d.rule,
            "reasons": d.reasons,
            "rationale": req.rationale,
            "action_text": req.action_text,
            "action": self.action,
            "cwd": self.cwd,
            "workspace": self.workspace,
            "policy_digest": self.policy_digest,
        });
        // Sent only when there is something to show, so that servers from before these fields
        // (which refuse unknown ones) still take every other request.
        if let Some(p) = req.proposed {
            body["proposed"] = p.clone();
        }
        if let Some(n) = req.nested {
            body["nested_action"] = serde_json::to_value(n).unwrap_or_default();
        }
        let v = Client::new(&self.server, &self.token).post("/requests", &body)?;
        let ours = self.digest();
        let server = v
            .get("action_digest")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        if server != ours {
            return Err(ClientError::DigestMismatch { server, ours });
        }
        Ok(v)
    }

    /// Wait for request `id` (already filed for this action) and, if approved, consume it.
    pub fn await_and_consume(&self, id: &str) -> Result<ApprovalAnswer, ClientError> {
        let client = Client::new(&self.server, &self.token);
        let v = client.wait_decided(id)?;
        answer_from(&client, &v, &self.digest())
    }
}

/// Turn a decided request into an answer, consuming an approval (once, for `digest`).
fn answer_from(client: &Client, v: &Value, digest: &str) -> Result<ApprovalAnswer, ClientError> {
    let id = v.get("id").and_then(Value::as_str).unwrap_or_default();
    let reason = v
        .get("reason")
        .and_then(Value::as_str)
        .unwrap_or("no reason given")
        .to_owned();
    let voters = |verdict: &str| -> Vec<String> {
        v.get("votes")
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter(|x| x.get("verdict").and_then(Value::as_str) == Some(verdict))
                    .filter_map(|x| x.get("approver").and_then(Value::as_str).map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    match v.get("status").and_then(Value::as_str) {
        Some("approved") => {
            match client.post(
                &format!("/requests/{id}/consume"),
                &json!({ "action_digest": digest }),
            ) {
                Ok(_) => Ok(ApprovalAnswer::Granted {
                    by: voters("approve").join(","),
                }),
                Err(ClientError::Status { status, msg }) if (400..500).contains(&status) => {
                    Ok(ApprovalAnswer::Denied {
                        by: None,
                        reason: format!("approval not usable: {msg}"),
                    })
                }
                Err(e) => Err(e),
            }
        }
        Some("denied") => Ok(ApprovalAnswer::Denied {
            by: voters("deny").first().cloned(),
            reason,
        }),
        Some(other) => Ok(ApprovalAnswer::Denied {
            by: None,
            reason: format!("request {id} is {other}: {reason}"),
        }),
        None => Err(ClientError::Malformed(v.to_string())),
    }
}

impl ServerApprover {
    /// File `req` (or, with a ticket, use that request) and answer: `async` is deferred with the
    /// request's id as ticket, `sync` waits for the decision.
    pub fn ask(&self, req: &ApprovalRequest<'_>) -> Result<Answered, ClientError> {
        if let Some(t) = req.ticket {
            return Ok(Answered {
                answer: self.await_and_consume(t)?,
                filed: Some((t.to_owned(), self.digest())),
                earlier: false,
            });
        }
        let v = self.file(req)?;
        let id = v
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| ClientError::Malformed(v.to_string()))?
            .to_owned();
        let filed = Some((id.clone(), self.digest()));
        // Refused at once by the server's own policy: denied, never deferred.
        if v.get("status").and_then(Value::as_str) == Some("denied") {
            return Ok(Answered {
                answer: answer_from(&Client::new(&self.server, &self.token), &v, &self.digest())?,
                filed,
                earlier: false,
            });
        }
        let answer = match req.decision.tier {
            Tier::Async => ApprovalAnswer::Deferred {
                ticket: Some(id.clone()),
                reason: format!(
                    "filed for asynchronous approval as request {id}; routed to {}",
                    v.get("groups").map(Value::to_string).unwrap_or_default()
                ),
            },
            _ => self.await_and_consume(&id)?,
        };
        Ok(Answered {
            answer,
            filed,
            earlier: false,
        })
    }
}

/// The approval server as the governed path's approver: each request is bound to its own
/// action (or what the caller binds it to), cwd, workspace and policy digest.
#[derive(Debug, Clone)]
pub struct ServerApprovals {
    /// Server root URL.
    pub server: String,
    /// Agent token.
    pub token: String,
}

impl ServerApprovals {
    /// The per-action approver for `req`.
    pub fn for_request(&self, req: &ApprovalRequest<'_>) -> ServerApprover {
        ServerApprover {
            server: self.server.clone(),
            token: self.token.clone(),
            workspace: req.context.workspace.display().to_string(),
            cwd: req.context.cwd.display().to_string(),
            action: req
                .bound
                .cloned()
                .unwrap_or_else(|| serde_json::to_value(req.action).unwrap_or_default()),
            policy_digest: req.policy_digest.to_owned(),
        }
    }
}

impl Approver for ServerApprovals {
    fn request(&self, req: &ApprovalRequest<'_>) -> Result<Answered, String> {
        self.for_request(req).ask(req).map_err(|e| e.to_string())
    }
}
