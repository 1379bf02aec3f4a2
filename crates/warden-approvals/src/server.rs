//! The HTTP JSON API (axum): agents file and wait, approvers decide, admins mint tokens; plus the
//! OpenAPI document, the embedded web UI, an SSE event stream, and Slack-compatible webhooks.
//!
//! Decisions (the rules are `voting`'s): any single `deny` vetoes; `approve` votes from distinct
//! eligible approvers count toward the quorum; a pending request past its deadline expires (for
//! `sync`: denied). An approved
//! request must be consumed, with the matching action digest, by the agent that filed it, once,
//! before `approval_ttl` passes. Async execution: the agent (or `warden approvals worker`) consumes
//! the approval — the compare-and-set from `approved` to `consumed` is what makes it run once.

use crate::model::{Claimed, Event, NewRequest, RequestView, Role, Status, TokenRecord, Vote};
use crate::routing::resolve_route;
use crate::store::{Store, Transition};
use crate::token;
use crate::voting::{self, Verdict};
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;
use serde::Deserialize;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;
use warden_policy::sections::ApprovalsConfig;
use warden_policy::{Action, Decision, Tier};

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;
/// Longest a single long-poll may hang.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// Callback receiving every event (the binary hands these to the audit log).
pub type EventSink = Arc<dyn Fn(&Event) + Send + Sync>;

/// The server's own classification of a filed action in its workspace and working directory
/// (both absolute): the organisation's governance file, applied by the binary (this crate
/// uses the policy's types, never its classification).
pub type Classifier =
    Arc<dyn Fn(&Action, &std::path::Path, &std::path::Path) -> Decision + Send + Sync>;

/// How to run the server.
pub struct ServeOptions {
    /// Address to listen on, e.g. `127.0.0.1:8420` (port 0 picks one).
    pub listen: String,
    pub store: Arc<dyn Store>,
    pub approvals: ApprovalsConfig,
    /// How long an approval stays usable once granted.
    pub approval_ttl: Duration,
    /// Admin token to create on first start (else a random one is generated and printed once).
    pub bootstrap_token: Option<String>,
    pub events: EventSink,
    /// Classifies every filed action; its tier, category and rule decide routing.
    pub classifier: Classifier,
    /// Told the bound address and, on first start, the bootstrap admin token.
    pub on_ready: Box<dyn FnOnce(std::net::SocketAddr, Option<String>) + Send>,
    /// Terminate TLS with this configuration (`--tls-cert`/`--tls-key`); `None` serves plain
    /// HTTP (for loopback, or behind a TLS-terminating reverse proxy).
    pub tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
}

/// Server start-up failures.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: String,
        source: std::io::Error,
    },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("no randomness available: {0}")]
    Random(getrandom::Error),
}

struct AppState {
    store: Arc<dyn Store>,
    cfg: ApprovalsConfig,
    ttl: Duration,
    events: EventSink,
    classifier: Classifier,
    bus: broadcast::Sender<Event>,
}

type St = State<Arc<AppState>>;

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn ms(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Run the server until the process ends.
pub fn serve_blocking(opts: ServeOptions) -> Result<(), ServerError> {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    rt.block_on(serve(opts))
}

async fn serve(opts: ServeOptions) -> Result<(), ServerError> {
    let mut bootstrap = None;
    if opts.store.token_count()? == 0 {
        let tok = match opts.bootstrap_token {
            Some(t) => t,
            None => token::generate().map_err(ServerError::Random)?,
        };
        opts.store.insert_token(&TokenRecord {
            hash: token::hash(&tok),
            name: "admin".into(),
            role: Role::Admin,
            groups: vec![crate::routing::FALLBACK_GROUP.into()],
            created_at: now_ms(),
            expires_at: None,
        })?;
        bootstrap = Some(tok);
    }
    let (bus, _) = broadcast::channel(1024);
    let state = Arc::new(AppState {
        store: opts.store,
        cfg: opts.approvals,
        ttl: opts.approval_ttl,
        events: opts.events,
        classifier: opts.classifier,
        bus,
    });
    let listener = tokio::net::TcpListener::bind(&opts.listen)
        .await
        .map_err(|source| ServerError::Bind {
            addr: opts.listen.clone(),
            source,
        })?;
    let addr = listener.local_addr()?;
    tokio::spawn(sweeper(state.clone()));
    (opts.on_ready)(addr, bootstrap);
    match opts.tls {
        Some(cfg) => {
            let tls = crate::tls::TlsListener::new(listener, cfg)?;
            axum::serve(tls, router(state)).await?;
        }
        None => axum::serve(listener, router(state)).await?,
    }
    Ok(())
}

fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(ui))
        .route("/healthz", get(|| async { "ok" }))
        .route("/openapi.json", get(openapi))
        .route("/whoami", get(whoami))
        .route("/tokens", post(create_token))
        .route("/requests", post(create_request).get(list_requests))
        .route("/requests/{id}", get(get_request))
        .route("/requests/{id}/wait", get(wait_request))
        .route("/requests/{id}/approve", post(approve))
        .route("/requests/{id}/deny", post(deny))
        .route("/requests/{id}/consume", post(consume))
        .route("/requests/{id}/outcome", post(outcome))
        .route("/events", get(events))
        .route("/integrations/slack/interactions", post(slack_interaction))
        .route("/auth/login", get(sso_login))
        .route("/auth/callback", get(sso_callback))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(axum::middleware::from_fn(drain_oversized))
        .with_state(state)
}

/// Declared bodies up to this size are read (and dropped) before their 413 goes out: a socket
/// closed with unread data makes the kernel send a reset, which can destroy the response before
/// the client reads it. Larger ones are refused at once, never read.
const DRAIN_MAX: usize = 1024 * 1024;

/// Refuse a body whose declared length is over [`MAX_BODY`] with the API's JSON 413, after
/// draining it when that is cheap (see [`DRAIN_MAX`]).
async fn drain_oversized(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok());
    match declared {
        Some(n) if n > MAX_BODY => {
            if n <= DRAIN_MAX {
                let _ = axum::body::to_bytes(req.into_body(), DRAIN_MAX).await;
            }
            err(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "cannot read the body: length limit exceeded ({n} bytes, at most {MAX_BODY})"
                ),
            )
            .into_response()
        }
        _ => next.run(req).await,
    }
}

/// An API error: status plus a JSON `{"error": …}` body.
#[derive(Debug)]
pub struct ApiError(StatusCode, String);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.0, Json(serde_json::json!({ "error": self.1 }))).into_response()
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        Self(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
    }
}

fn err(code: StatusCode, msg: impl Into<String>) -> ApiError {
    ApiError(code, msg.into())
}

type ApiResult<T> = Result<T, ApiError>;

fn emit(state: &AppState, ev: Event) {
    (state.events)(&ev);
    webhooks(state, &ev);
    slack_notify(state, &ev);
    slack_outcome(state, &ev);
    let _ = state.bus.send(ev);
}

fn auth(state: &AppState, headers: &HeaderMap) -> ApiResult<TokenRecord> {
    let h = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            err(
                StatusCode::UNAUTHORIZED,
                "missing `Authorization: Bearer <token>`",
            )
        })?;
    let tok = h
        .strip_prefix("Bearer ")
        .ok_or_else(|| {
            err(
                StatusCode::UNAUTHORIZED,
                "Authorization must be `Bearer <token>`",
            )
        })?
        .trim();
    let hash = token::hash(tok);
    match state.store.find_token(&hash)? {
        Some(t) if t.expires_at.is_some_and(|e| now_ms() >= e) => Err(err(
            StatusCode::UNAUTHORIZED,
            "the token has expired: sign in again",
        )),
        Some(t) if token::verify(tok, &t.hash) => Ok(t),
        _ => Err(err(StatusCode::UNAUTHORIZED, "unknown token")),
    }
}

/// A request body, or why axum could not read it (too large, cut short): handlers turn the
/// rejection into the API's JSON error instead of axum's plain-text one.
type Body = Result<Bytes, BytesRejection>;

fn parse_json<T: serde::de::DeserializeOwned>(body: &Body) -> ApiResult<T> {
    let bytes = body.as_ref().map_err(|r| {
        err(
            r.status(),
            format!("cannot read the body: {}", r.body_text()),
        )
    })?;
    serde_json::from_slice(bytes)
        .map_err(|e| err(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}")))
}

/// Query parameters, or axum's rejection of them (turned into a JSON 400 by [`query`]).
type Q<T> = Result<Query<T>, QueryRejection>;

fn query<T>(q: Q<T>) -> ApiResult<T> {
    q.map(|Query(q)| q).map_err(|r| {
        err(
            StatusCode::BAD_REQUEST,
            format!("invalid query parameters: {}", r.body_text()),
        )
    })
}

fn may_decide(state: &AppState, who: &TokenRecord, r: &RequestView, now: i64) -> bool {
    voting::may_decide(&state.cfg, who, r, now)
}

fn may_see(state: &AppState, who: &TokenRecord, r: &RequestView, now: i64) -> bool {
    who.role == Role::Admin || r.requester == who.name || may_decide(state, who, r, now)
}

/// Expire `r` if its deadline passed; returns the fresh view.
fn refresh(state: &AppState, r: RequestView) -> ApiResult<RequestView> {
    let now = now_ms();
    if r.status == Status::Pending && now >= r.deadline {
        let reason = if r.tier == "sync" {
            "no decision before the timeout (sync: denied)".to_owned()
        } else {
            "no decision before the timeout".to_owned()
        };
        let t = Transition {
            reason: Some(reason.clone()),
            decided_at: Some(now),
            ..Transition::default()
        };
        if state
            .store
            .transition(&r.id, Status::Pending, Status::Expired, &t)?
        {
            emit(
                state,
                Event::Expired {
                    id: r.id.clone(),
                    reason,
                },
            );
        }
        return load(state, &r.id);
    }
    Ok(r)
}

fn load(state: &AppState, id: &str) -> ApiResult<RequestView> {
    state
        .store
        .get_request(id)?
        .ok_or_else(|| err(StatusCode::NOT_FOUND, format!("no request `{id}`")))
}

async fn sweeper(state: Arc<AppState>) {
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        if let Ok(due) = state.store.due_pending(now_ms()) {
            for id in due {
                if let Ok(r) = load(&state, &id) {
                    let _ = refresh(&state, r);
                }
            }
        }
    }
}

async fn ui() -> Html<&'static str> {
    Html(include_str!("ui.html"))
}

async fn openapi() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("openapi.json"),
    )
}

async fn whoami(State(s): St, h: HeaderMap) -> ApiResult<Json<serde_json::Value>> {
    let t = auth(&s, &h)?;
    Ok(Json(
        serde_json::json!({"name": t.name, "role": t.role, "groups": t.groups}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    name: String,
    role: String,
    #[serde(default)]
    groups: Vec<String>,
}

async fn create_token(
    State(s): St,
    h: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<serde_json::Value>)> {
    let who = auth(&s, &h)?;
    if who.role != Role::Admin {
        return Err(err(
            StatusCode::FORBIDDEN,
            "only an admin may create tokens",
        ));
    }
    let nt: NewToken = parse_json(&body)?;
    let role = Role::parse(&nt.role).ok_or_else(|| {
        err(
            StatusCode::BAD_REQUEST,
            "role must be `agent`, `approver` or `admin`",
        )
    })?;
    // As the OpenAPI document states it (`minLength`/`maxLength` count characters; `pattern`
    // asks for a character other than ASCII white space, which every regex engine agrees on).
    if !nt.name.chars().any(|c| !is_ascii_space(c)) || nt.name.chars().count() > 200 {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "name must be 1..200 characters, not all white space",
        ));
    }
    // `reviewer:<name>` votes come from the configured reviewer only.
    if nt.name.starts_with("reviewer:") {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "names starting with `reviewer:` are reserved for the external reviewer",
        ));
    }
    let tok =
        token::generate().map_err(|e| err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    s.store.insert_token(&TokenRecord {
        hash: token::hash(&tok),
        name: nt.name.clone(),
        role,
        groups: nt.groups.clone(),
        created_at: now_ms(),
        expires_at: None,
    })?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"token": tok, "name": nt.name, "role": role, "groups": nt.groups})),
    ))
}

async fn create_request(
    State(s): St,
    h: HeaderMap,
    body: Body,
) -> ApiResult<(StatusCode, Json<RequestView>)> {
    let who = auth(&s, &h)?;
    if who.role == Role::Approver {
        return Err(err(
            StatusCode::FORBIDDEN,
            "approver tokens cannot file requests",
        ));
    }
    let nr: NewRequest = parse_json(&body)?;
    let claimed_tier = match nr.tier.as_str() {
        "async" => Tier::Async,
        "sync" => Tier::Sync,
        _ => {
            return Err(err(
                StatusCode::BAD_REQUEST,
                "tier must be `sync` or `async`",
            ));
        }
    };
    let (action, extras) =
        warden_policy::display::split_action(&integral_floats_as_integers(nr.action.clone()))
            .map_err(|e| {
                err(
                    StatusCode::BAD_REQUEST,
                    format!("`action` is not an action Warden knows: {e}"),
                )
            })?;
    // What the approver reads: rendered from the action itself, with any facts bound into it.
    let shown = warden_policy::display::display_with_extras(&action, &extras);
    let (workspace, cwd) = (
        std::path::Path::new(&nr.workspace),
        std::path::Path::new(&nr.cwd),
    );
    if !workspace.is_absolute() || !cwd.is_absolute() {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "`workspace` and `cwd` must be absolute paths",
        ));
    }
    let ours = (s.classifier)(&action, workspace, cwd);
    let claimed = Claimed {
        tier: nr.tier.clone(),
        category: nr.category.clone(),
        rule: nr.rule.clone(),
        reasons: nr.reasons.clone(),
        action_text: nr.action_text.clone(),
    };
    let mut judged = judge(&shown, claimed_tier, &claimed, &ours);
    let diff = nr
        .proposed
        .as_ref()
        .and_then(|p| proposed_diff(&action, &extras, p, &mut judged.discrepancies));
    let nested_text = nr
        .nested_action
        .as_ref()
        .map(|n| {
            let (a, x) =
                warden_policy::display::split_action(&integral_floats_as_integers(n.clone()))
                    .map_err(|e| {
                        err(
                            StatusCode::BAD_REQUEST,
                            format!("`nested_action` is not an action Warden knows: {e}"),
                        )
                    })?;
            Ok::<_, ApiError>(warden_policy::display::display_with_extras(&a, &x))
        })
        .transpose()?;
    let route = resolve_route(&s.cfg, &judged.category)
        .map_err(|e| err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let now = now_ms();
    let id =
        token::random_id().map_err(|e| err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let digest =
        crate::digest::action_digest(&nr.action, &nr.cwd, &nr.workspace, &nr.policy_digest);
    let view = RequestView {
        id: id.clone(),
        created_at: now,
        tier: judged.tier.as_str().into(),
        category: judged.category,
        rule: judged.rule,
        reasons: judged.reasons,
        rationale: nr.rationale,
        action_text: shown,
        claimed,
        discrepancies: judged.discrepancies.clone(),
        action: nr.action,
        cwd: nr.cwd,
        workspace: nr.workspace,
        policy_digest: nr.policy_digest,
        action_digest: digest.clone(),
        requester: who.name.clone(),
        groups: route.groups.clone(),
        escalate_to: route.escalate_to.clone(),
        escalate_at: route
            .escalate_to
            .as_ref()
            .map(|_| now.saturating_add(route.escalate_after.map_or(0, ms))),
        quorum: route.quorum,
        allow_self_approval: route.allow_self_approval,
        deadline: now.saturating_add(ms(route.timeout)),
        status: Status::Pending,
        reason: None,
        decided_at: None,
        approval_expires_at: None,
        consumed_at: None,
        outcome: None,
        votes: vec![],
        diff,
        nested_text,
        trace: ours.commands.clone(),
    };
    s.store.insert_request(&view)?;
    emit(
        &s,
        Event::Requested {
            id: id.clone(),
            requester: who.name,
            tier: view.tier.clone(),
            category: view.category.clone(),
            action_digest: digest,
            groups: route.groups,
            discrepancies: judged.discrepancies,
        },
    );
    if judged.tier == Tier::Deny {
        // Refused: filed (so that it is on record, with why) and denied at once; no vote can
        // approve it.
        let reason = format!(
            "refused: the server's policy denies this action (rule {})",
            view.rule
        );
        let t = Transition {
            reason: Some(reason.clone()),
            decided_at: Some(now),
            ..Transition::default()
        };
        if s.store
            .transition(&id, Status::Pending, Status::Denied, &t)?
        {
            emit(
                &s,
                Event::Decided {
                    id: id.clone(),
                    status: Status::Denied,
                    reason: Some(reason),
                },
            );
        }
        return Ok((StatusCode::CREATED, Json(load(&s, &id)?)));
    }
    if let Some(rv) = &s.cfg.reviewer
        && crate::reviewer::applies(rv, &view.tier)
    {
        tokio::spawn(review_request(s.clone(), rv.clone(), view.clone()));
    }
    Ok((StatusCode::CREATED, Json(view)))
}

/// The unified diff a write's proposed content makes, after checking that content against every
/// digest bound into the action (the approval binds those digests, so the diff shown is what
/// will be written). Content that does not match a bound digest is not shown, nor is content
/// for an action other than a write; content no digest binds is shown with a warning. Each of
/// these is noted among the request's discrepancies.
fn proposed_diff(
    action: &Action,
    extras: &std::collections::BTreeMap<String, serde_json::Value>,
    p: &crate::model::Proposed,
    notes: &mut Vec<String>,
) -> Option<String> {
    use sha2::Digest as _;
    let Action::Write { path } = action else {
        notes.push("content was filed with an action that is not a file write: not shown".into());
        return None;
    };
    let sha = |t: &str| hex::encode(sha2::Sha256::digest(t.as_bytes()));
    let mut bound = false;
    for (field, text) in [
        ("content_sha256", Some(&p.after)),
        ("new_sha256", Some(&p.after)),
        ("old_sha256", p.before.as_ref()),
    ] {
        let Some(want) = extras.get(field) else {
            continue;
        };
        if text.map(|t| sha(t)).as_deref() != want.as_str() {
            notes.push(format!(
                "the filed content does not match the action's `{field}`: not shown"
            ));
            return None;
        }
        bound = true;
    }
    if !bound {
        notes.push(
            "the proposed content is not bound into the action (no content digest): the approval does not cover it".into(),
        );
    }
    let name = path.display().to_string();
    let before = p.before.as_deref().unwrap_or("");
    Some(
        similar::TextDiff::from_lines(before, p.after.as_str())
            .unified_diff()
            .context_radius(3)
            .header(&format!("{name} (now)"), &format!("{name} (proposed)"))
            .to_string(),
    )
}

/// JSON numbers like `443.0` as the integers they are (JSON Schema, and so the API document,
/// counts them as integers; serde's integer fields would refuse them).
fn integral_floats_as_integers(v: serde_json::Value) -> serde_json::Value {
    use serde_json::Value as V;
    match v {
        V::Number(n) if !n.is_i64() && !n.is_u64() => match n.as_f64() {
            Some(f) if f.fract() == 0.0 && f.abs() < 9.0e15 => V::from(f as i64),
            _ => V::Number(n),
        },
        V::Array(a) => V::Array(a.into_iter().map(integral_floats_as_integers).collect()),
        V::Object(o) => V::Object(
            o.into_iter()
                .map(|(k, v)| (k, integral_floats_as_integers(v)))
                .collect(),
        ),
        other => other,
    }
}

/// A request's classification as the server settles it.
struct Judged {
    tier: Tier,
    category: String,
    rule: String,
    reasons: Vec<String>,
    discrepancies: Vec<String>,
}

/// Settle a filed request's classification. The server's own reading decides whenever it asks
/// for at least the attention claimed: a lower claim is raised to it (the request still reaches
/// a person, now the right one, and shows why) and a `deny` refuses it. A claim stricter than
/// the server's reading (a repository layer may ask for more than the organisation does) keeps
/// its tier; it keeps its category, rule and reasons too only when the server would have let
/// the action run unasked (`auto`) — otherwise the server's category routes it, so that a
/// claim can never steer an action the organisation wants approved to other approvers. Every
/// difference between the claims and the server's reading is listed.
fn judge(shown: &str, claimed_tier: Tier, claimed: &Claimed, ours: &Decision) -> Judged {
    let mut notes = Vec::new();
    if !claimed.action_text.is_empty() && claimed.action_text != shown {
        notes.push(format!(
            "the filed action text {:?} is not how the action reads; shown as rendered from the action: {shown}",
            claimed.action_text
        ));
    }
    let server_wins = ours.tier >= claimed_tier;
    if ours.tier > claimed_tier {
        notes.push(format!(
            "filed as {claimed_tier}, but the server's policy classifies it {} (rule {}): {}",
            ours.tier,
            ours.rule,
            if ours.tier == Tier::Deny {
                "refused"
            } else {
                "raised"
            }
        ));
    } else if ours.tier < claimed_tier {
        notes.push(format!(
            "filed as {claimed_tier}; the server's policy classifies it {} (rule {}): the stricter filed tier is kept",
            ours.tier, ours.rule
        ));
    }
    if !server_wins && ours.tier == Tier::Auto {
        return Judged {
            tier: claimed_tier,
            category: claimed.category.clone(),
            rule: claimed.rule.clone(),
            reasons: claimed.reasons.clone(),
            discrepancies: notes,
        };
    }
    if claimed.category != ours.category {
        notes.push(format!(
            "filed with category {:?}; the server's policy says {:?}, which routes it",
            claimed.category, ours.category
        ));
    }
    if claimed.rule != ours.rule {
        notes.push(format!(
            "filed with rule {:?}; the server's policy matched {:?}",
            claimed.rule, ours.rule
        ));
    }
    if claimed.reasons != ours.reasons {
        notes.push("the filed reasons differ from the server's policy and are not shown".into());
    }
    Judged {
        tier: ours.tier.max(claimed_tier),
        category: ours.category.clone(),
        rule: ours.rule.clone(),
        reasons: ours.reasons.clone(),
        discrepancies: notes,
    }
}

/// Ask the external reviewer about a new request and record its answer as a vote by
/// `reviewer:<name>`: approve and deny count as any vote (quorum, veto); escalate (and every
/// failure) is recorded as an `escalate` vote that decides nothing, leaving it to people.
async fn review_request(
    s: Arc<AppState>,
    rv: warden_policy::sections::approvals::Reviewer,
    view: RequestView,
) {
    use crate::reviewer::Decision;
    let review = crate::reviewer::review(&rv, &view).await;
    let voter = crate::reviewer::voter(&rv);
    // Only while it is still pending and for the very action the reviewer was shown.
    let Ok(r) = load(&s, &view.id).and_then(|r| refresh(&s, r)) else {
        return;
    };
    if r.status != Status::Pending || r.action_digest != view.action_digest {
        return;
    }
    let comment = Some(review.reason).filter(|c| !c.is_empty());
    let _ = match review.decision {
        Decision::Approve => record_vote(&s, &view.id, &voter, Verdict::Approve, comment),
        Decision::Deny => record_vote(&s, &view.id, &voter, Verdict::Deny, comment),
        Decision::Escalate => {
            let vote = Vote {
                approver: voter.clone(),
                verdict: "escalate".into(),
                comment,
                at: now_ms(),
            };
            if matches!(s.store.add_vote(&view.id, &vote), Ok(true)) {
                emit(
                    &s,
                    Event::Voted {
                        id: view.id.clone(),
                        approver: voter,
                        verdict: "escalate".into(),
                    },
                );
            }
            Ok(r)
        }
    };
}

#[derive(Deserialize)]
struct ListQuery {
    status: Option<String>,
}

async fn list_requests(
    State(s): St,
    h: HeaderMap,
    q: Q<ListQuery>,
) -> ApiResult<Json<Vec<RequestView>>> {
    let who = auth(&s, &h)?;
    let q = query(q)?;
    let status = match q.status.as_deref() {
        None | Some("all") => None,
        Some(x) => Some(
            Status::parse(x)
                .ok_or_else(|| err(StatusCode::BAD_REQUEST, format!("unknown status `{x}`")))?,
        ),
    };
    let now = now_ms();
    let mut out = vec![];
    for r in s.store.list_requests(status)? {
        let r = refresh(&s, r)?;
        if status.is_some_and(|st| st != r.status) {
            continue;
        }
        if may_see(&s, &who, &r, now) {
            out.push(r);
        }
    }
    Ok(Json(out))
}

async fn get_request(
    State(s): St,
    h: HeaderMap,
    Path(id): Path<String>,
) -> ApiResult<Json<RequestView>> {
    let who = auth(&s, &h)?;
    let r = refresh(&s, load(&s, &id)?)?;
    if !may_see(&s, &who, &r, now_ms()) {
        return Err(err(StatusCode::NOT_FOUND, format!("no request `{id}`")));
    }
    Ok(Json(r))
}

#[derive(Deserialize)]
struct WaitQuery {
    timeout: Option<u64>,
}

async fn wait_request(
    State(s): St,
    h: HeaderMap,
    Path(id): Path<String>,
    q: Q<WaitQuery>,
) -> ApiResult<Json<RequestView>> {
    let who = auth(&s, &h)?;
    let q = query(q)?;
    let limit = Duration::from_secs(q.timeout.unwrap_or(30));
    if limit > MAX_WAIT {
        return Err(err(
            StatusCode::BAD_REQUEST,
            format!("timeout must be at most {} seconds", MAX_WAIT.as_secs()),
        ));
    }
    let mut rx = s.bus.subscribe();
    let end = tokio::time::Instant::now() + limit;
    loop {
        let r = refresh(&s, load(&s, &id)?)?;
        if !may_see(&s, &who, &r, now_ms()) {
            return Err(err(StatusCode::NOT_FOUND, format!("no request `{id}`")));
        }
        let now = tokio::time::Instant::now();
        if r.status.is_decided() || now >= end {
            return Ok(Json(r));
        }
        // Woken by a local event; re-read at least every 500 ms for other replicas and deadlines.
        let nap = (end - now).min(Duration::from_millis(500));
        tokio::select! {
            _ = rx.recv() => {}
            () = tokio::time::sleep(nap) => {}
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VoteBody {
    /// The digest the approver was shown; must match the request's.
    action_digest: Option<String>,
    comment: Option<String>,
}

async fn approve(
    state: St,
    h: HeaderMap,
    id: Path<String>,
    body: Body,
) -> ApiResult<Json<RequestView>> {
    decide(state, h, id, body, Verdict::Approve).await
}

async fn deny(
    state: St,
    h: HeaderMap,
    id: Path<String>,
    body: Body,
) -> ApiResult<Json<RequestView>> {
    decide(state, h, id, body, Verdict::Deny).await
}

/// One vote (the approve and deny endpoints): any deny vetoes; approvals from distinct eligible
/// approvers count toward the quorum.
async fn decide(
    State(s): St,
    h: HeaderMap,
    Path(id): Path<String>,
    body: Body,
    verdict: Verdict,
) -> ApiResult<Json<RequestView>> {
    let who = auth(&s, &h)?;
    let vb: VoteBody = parse_json(&body)?;
    let r = refresh(&s, load(&s, &id)?)?;
    check_vote(&s, &who, &r, verdict, vb.action_digest.as_deref())?;
    record_vote(&s, &id, &who.name, verdict, vb.comment).map(Json)
}

/// Whether `who` may cast `verdict` on `r` now, naming `digest` as the action approved (the
/// rules are in [`voting`]; this maps a refusal to its HTTP status).
fn check_vote(
    s: &AppState,
    who: &TokenRecord,
    r: &RequestView,
    verdict: Verdict,
    digest: Option<&str>,
) -> ApiResult<()> {
    voting::check_vote(&s.cfg, who, r, now_ms(), verdict, digest).map_err(|e| {
        let code = match e {
            voting::Refusal::Decided(_) | voting::Refusal::DigestMismatch => StatusCode::CONFLICT,
            voting::Refusal::DigestMissing => StatusCode::BAD_REQUEST,
            _ => StatusCode::FORBIDDEN,
        };
        err(code, e.to_string())
    })
}

/// Record one vote by `voter` on pending request `id` (its right to vote already checked) and
/// apply it by the [`voting`] rules: a deny vetoes; approvals from distinct voters count toward
/// the quorum. Shared by the HTTP endpoints, Slack and the external reviewer.
fn record_vote(
    s: &AppState,
    id: &str,
    voter: &str,
    verdict: Verdict,
    comment: Option<String>,
) -> ApiResult<RequestView> {
    let id = id.to_owned();
    let now = now_ms();
    let vote = Vote {
        approver: voter.to_owned(),
        verdict: verdict.as_str().into(),
        comment: comment.clone(),
        at: now,
    };
    if !s.store.add_vote(&id, &vote)? {
        return Err(err(
            StatusCode::CONFLICT,
            format!("`{}` already voted", voter),
        ));
    }
    emit(
        s,
        Event::Voted {
            id: id.clone(),
            approver: voter.to_owned(),
            verdict: verdict.as_str().into(),
        },
    );
    let r = load(s, &id)?;
    let Some((to, reason)) = voting::outcome(&r, verdict, voter, comment.as_deref()) else {
        return Ok(r);
    };
    let t = Transition {
        reason: Some(reason),
        decided_at: Some(now),
        approval_expires_at: (to == Status::Approved).then(|| now.saturating_add(ms(s.ttl))),
        ..Transition::default()
    };
    if s.store.transition(&id, Status::Pending, to, &t)? {
        emit(
            s,
            Event::Decided {
                id: id.clone(),
                status: to,
                reason: t.reason,
            },
        );
    }
    load(s, &id)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConsumeBody {
    action_digest: String,
}

async fn consume(
    State(s): St,
    h: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Json<RequestView>> {
    let who = auth(&s, &h)?;
    let cb: ConsumeBody = parse_json(&body)?;
    let r = refresh(&s, load(&s, &id)?)?;
    if who.name != r.requester {
        return Err(err(
            StatusCode::FORBIDDEN,
            "only the requester may use this approval",
        ));
    }
    if cb.action_digest != r.action_digest {
        return Err(err(
            StatusCode::CONFLICT,
            "action digest mismatch: this approval was granted for a different action",
        ));
    }
    if r.status != Status::Approved {
        return Err(err(
            StatusCode::CONFLICT,
            format!("request is {}, not approved", r.status.as_str()),
        ));
    }
    let now = now_ms();
    if r.approval_expires_at.is_some_and(|e| now > e) {
        let t = Transition {
            reason: Some("approval expired before it was used".into()),
            ..Transition::default()
        };
        if s.store
            .transition(&id, Status::Approved, Status::Expired, &t)?
        {
            emit(
                &s,
                Event::Expired {
                    id: id.clone(),
                    reason: "approval expired before it was used".into(),
                },
            );
        }
        return Err(err(
            StatusCode::GONE,
            "the approval expired before it was used",
        ));
    }
    let t = Transition {
        consumed_at: Some(now),
        ..Transition::default()
    };
    if !s
        .store
        .transition(&id, Status::Approved, Status::Consumed, &t)?
    {
        return Err(err(StatusCode::CONFLICT, "the approval was already used"));
    }
    emit(
        &s,
        Event::Consumed {
            id: id.clone(),
            by: who.name,
        },
    );
    Ok(Json(load(&s, &id)?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeBody {
    outcome: serde_json::Value,
}

async fn outcome(
    State(s): St,
    h: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> ApiResult<Json<RequestView>> {
    let who = auth(&s, &h)?;
    let ob: OutcomeBody = parse_json(&body)?;
    let r = load(&s, &id)?;
    if who.name != r.requester {
        return Err(err(
            StatusCode::FORBIDDEN,
            "only the requester may report the outcome",
        ));
    }
    if !s.store.set_outcome(&id, &ob.outcome)? {
        return Err(err(
            StatusCode::CONFLICT,
            "outcome already reported or approval not consumed",
        ));
    }
    emit(
        &s,
        Event::Executed {
            id: id.clone(),
            outcome: ob.outcome,
        },
    );
    Ok(Json(load(&s, &id)?))
}

async fn events(
    State(s): St,
    h: HeaderMap,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, std::convert::Infallible>>>> {
    let who = auth(&s, &h)?;
    if who.role == Role::Agent {
        return Err(err(
            StatusCode::FORBIDDEN,
            "agent tokens cannot watch events",
        ));
    }
    let rx = s.bus.subscribe();
    let stream = futures_util::StreamExt::filter_map(
        tokio_stream::wrappers::BroadcastStream::new(rx),
        |ev| async move {
            let ev = ev.ok()?;
            let data = serde_json::to_string(&ev).ok()?;
            Some(Ok(SseEvent::default().event("change").data(data)))
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

/// Fire group webhooks (Slack-compatible `{"text": …}`) on routing and decisions; retried. A
/// request refused as it is filed is announced by its decision alone.
fn webhooks(state: &AppState, ev: &Event) {
    let (text, groups): (String, Vec<String>) = match ev {
        Event::Requested {
            id,
            requester,
            tier,
            category,
            groups,
            ..
        } if !refused_at_filing(tier) => (
            format!("Warden: {requester} requests a {tier} approval ({category}), request {id}"),
            groups.clone(),
        ),
        Event::Decided { .. } if state.cfg.groups.values().all(|g| g.webhook.is_none()) => return,
        Event::Decided { id, status, reason } => {
            let groups = state
                .store
                .get_request(id)
                .ok()
                .flatten()
                .map(|r| r.groups)
                .unwrap_or_default();
            (
                format!(
                    "Warden: request {id} {}{}",
                    status.as_str(),
                    reason
                        .as_ref()
                        .map(|r| format!(" ({r})"))
                        .unwrap_or_default()
                ),
                groups,
            )
        }
        _ => return,
    };
    for g in groups {
        if let Some(url) = state.cfg.groups.get(&g).and_then(|g| g.webhook.clone()) {
            let body = serde_json::json!({ "text": text }).to_string();
            tokio::spawn(async move {
                for attempt in 0..4u32 {
                    if post_webhook(&url, &body).await.is_ok() {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
                }
            });
        }
    }
}

/// POST a webhook (`http://` or `https://`, see `webhook.rs`); succeeds on a 2xx answer.
async fn post_webhook(url: &str, body: &str) -> Result<(), String> {
    let (url, body) = (url.to_owned(), body.to_owned());
    tokio::task::spawn_blocking(move || crate::webhook::post_json(&url, &body, &[]))
        .await
        .map_err(|e| e.to_string())?
        .map(drop)
}

/// Post a Slack message with Approve / Deny buttons for a new request to each of its groups
/// that has a Slack destination. Not for a request the server's policy denies: it is refused
/// as it is filed, and [`slack_outcome`] tells the groups so, once, without buttons.
fn slack_notify(state: &AppState, ev: &Event) {
    let (
        Event::Requested {
            id, groups, tier, ..
        },
        Some(app),
    ) = (ev, &state.cfg.slack)
    else {
        return;
    };
    if refused_at_filing(tier) {
        return;
    }
    let dests: Vec<_> = groups
        .iter()
        .filter_map(|g| {
            let dest = state.cfg.groups.get(g)?.slack.clone()?;
            Some((g.clone(), dest))
        })
        .collect();
    if dests.is_empty() {
        return;
    }
    let Ok(Some(r)) = state.store.get_request(id) else {
        return;
    };
    let msg = crate::slack::request_message(&r);
    for (group, dest) in dests {
        let (app, msg, store, id) = (app.clone(), msg.clone(), state.store.clone(), id.clone());
        slack_retry(move || {
            // A bot's message is remembered, to be updated with the outcome.
            if let Some((channel, ts)) = crate::slack::post(&app, &dest, &msg)? {
                let m = crate::store::SlackMessage {
                    group: group.clone(),
                    channel,
                    ts,
                    ..Default::default()
                };
                store
                    .add_slack_message(&id, &m)
                    .map_err(|e| e.to_string())?;
            }
            Ok(())
        });
    }
}

/// Whether a request of this (server-judged) tier is refused as it is filed: no vote can
/// approve a `deny`, so approvers are told the outcome, not asked.
fn refused_at_filing(tier: &str) -> bool {
    tier == Tier::Deny.as_str()
}

/// Run a blocking Slack call off the executor, retried with back-off up to four times.
fn slack_retry(f: impl Fn() -> Result<(), String> + Send + Sync + 'static) {
    let f = Arc::new(f);
    tokio::spawn(async move {
        for attempt in 0..4u32 {
            let f = f.clone();
            if matches!(tokio::task::spawn_blocking(move || f()).await, Ok(Ok(()))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200 * 2u64.pow(attempt))).await;
        }
    });
}

/// Once a request is decided or expires — in the web UI, the command line, Slack or by the
/// clock — write the outcome into its Slack messages: those a bot posted (`chat.update`) and
/// those whose buttons were clicked (`response_url`). A group whose incoming webhook posted a
/// message nobody clicked (a webhook's message cannot be edited) gets the outcome as a new one.
fn slack_outcome(state: &AppState, ev: &Event) {
    let (Event::Decided { id, .. } | Event::Expired { id, .. }, Some(app)) = (ev, &state.cfg.slack)
    else {
        return;
    };
    let Ok(Some(r)) = state.store.get_request(id) else {
        return;
    };
    let msgs = state.store.slack_messages(id).unwrap_or_default();
    let msg = crate::slack::outcome_message(&r);
    let clicked = msgs.iter().any(|m| !m.response_url.is_empty());
    // Never announced (see `slack_notify`): every destination gets the outcome as a new message.
    let unannounced = refused_at_filing(&r.tier);
    for m in msgs {
        let dest = state.cfg.groups.get(&m.group).and_then(|g| g.slack.clone());
        let (app, msg) = (app.clone(), msg.clone());
        slack_retry(move || crate::slack::update(&app, dest.as_ref(), &m, &msg));
    }
    if clicked {
        return;
    }
    for g in &r.groups {
        let Some(dest) = state.cfg.groups.get(g).and_then(|g| g.slack.clone()) else {
            continue;
        };
        if dest.webhook_env.is_some() || unannounced {
            let (app, mut msg) = (app.clone(), msg.clone());
            if let Some(o) = msg.as_object_mut() {
                o.remove("replace_original");
            }
            slack_retry(move || crate::slack::post(&app, &dest, &msg).map(drop));
        }
    }
}

/// A button click from Slack: verified with the app's signing secret (fresh, never replayed),
/// mapped to an approver, and voted like any vote (group membership, separation of duties,
/// quorum), bound to the action digest the message showed. The message is then updated
/// through the click's `response_url`.
async fn slack_interaction(
    State(s): St,
    h: HeaderMap,
    body: Body,
) -> ApiResult<Json<serde_json::Value>> {
    let app = s
        .cfg
        .slack
        .clone()
        .ok_or_else(|| err(StatusCode::NOT_FOUND, "Slack is not configured"))?;
    let secret = std::env::var(&app.signing_secret_env)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| {
            err(
                StatusCode::SERVICE_UNAVAILABLE,
                "the Slack signing secret is not set",
            )
        })?;
    let bytes = body.map_err(|r| err(r.status(), "cannot read the body"))?;
    let hdr = |k: &str| h.get(k).and_then(|v| v.to_str().ok());
    let sig = hdr("x-slack-signature");
    let now = now_ms() / 1000;
    crate::slack::verify(
        secret.as_bytes(),
        hdr("x-slack-request-timestamp"),
        sig,
        &bytes,
        now,
    )
    .map_err(|e| err(StatusCode::UNAUTHORIZED, e.to_string()))?;
    // Seen signatures are kept in the store: a replay is refused after a restart too, and by
    // every replica sharing the database.
    if !s.store.slack_first_use(sig.unwrap_or_default(), now)? {
        return Err(err(
            StatusCode::UNAUTHORIZED,
            crate::slack::VerifyError::Replay.to_string(),
        ));
    }
    let click = crate::slack::parse_click(&bytes).map_err(|e| err(StatusCode::BAD_REQUEST, e))?;
    let identity = crate::slack::identity(&app, &click.user_id);
    let slack_member = format!("slack:{}", click.user_id);
    // A token-like record for the Slack user: its groups are those naming it as `slack:<id>`.
    let who = TokenRecord {
        hash: String::new(),
        name: identity.clone(),
        role: Role::Approver,
        groups: s
            .cfg
            .groups
            .iter()
            .filter(|(_, g)| g.members.contains(&slack_member))
            .map(|(n, _)| n.clone())
            .collect(),
        created_at: 0,
        expires_at: None,
    };
    let r = refresh(&s, load(&s, &click.request_id)?)?;
    // The clicked message is updated with the outcome whoever decides, wherever.
    let response_url = click
        .response_url
        .clone()
        .filter(|u| u.starts_with("https://"));
    if let Some(url) = &response_url {
        s.store.add_slack_message(
            &r.id,
            &crate::store::SlackMessage {
                response_url: url.clone(),
                ..Default::default()
            },
        )?;
    }
    let verdict = if click.action == "approve" {
        Verdict::Approve
    } else {
        Verdict::Deny
    };
    let voted = check_vote(&s, &who, &r, verdict, Some(&click.digest)).and_then(|()| {
        // A deny is bound to the message's action too.
        if click.digest != r.action_digest {
            return Err(err(
                StatusCode::CONFLICT,
                "action digest mismatch: the message was for a different action",
            ));
        }
        record_vote(&s, &r.id, &identity, verdict, Some("via Slack".into()))
    });
    // Tell the clicker: the updated message while still pending (a decision updates every
    // message through `slack_outcome`), or why the click was refused (only to them).
    if let Some(url) = response_url {
        let msg = match &voted {
            Ok(now) if now.status.is_decided() => serde_json::Value::Null,
            Ok(now) => crate::slack::outcome_message(now),
            Err(e) => serde_json::json!({
                "response_type": "ephemeral",
                "replace_original": false,
                "text": format!("Warden refused your vote: {}", e.1),
            }),
        };
        if !msg.is_null() {
            tokio::task::spawn_blocking(move || {
                let _ = crate::webhook::post_json(&url, &msg.to_string(), &[]);
            });
        }
    }
    let r = voted?;
    Ok(Json(
        serde_json::json!({"id": r.id, "status": r.status.as_str()}),
    ))
}

/// The single sign-on state of this server process (`[approvals.oidc]`), made on first use.
static SSO: std::sync::OnceLock<Option<Arc<crate::oidc::Sso>>> = std::sync::OnceLock::new();

fn sso(s: &AppState) -> ApiResult<Arc<crate::oidc::Sso>> {
    SSO.get_or_init(|| {
        s.cfg
            .oidc
            .clone()
            .map(|c| Arc::new(crate::oidc::Sso::new(c)))
    })
    .clone()
    .ok_or_else(|| err(StatusCode::NOT_FOUND, "single sign-on is not configured"))
}

/// Start single sign-on: redirect to the OpenID provider.
async fn sso_login(State(s): St) -> ApiResult<Response> {
    let sso = sso(&s)?;
    let url = tokio::task::spawn_blocking(move || sso.begin())
        .await
        .map_err(|e| err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| err(StatusCode::BAD_GATEWAY, e))?;
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, url)]).into_response())
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
    /// The issuer (RFC 9207), when the provider sends it: must be ours (mix-up defence).
    iss: Option<String>,
}

/// The provider's redirect back: validate the login and hand the browser an approver token
/// for the verified email, with the groups the provider lists. The token travels in the URL
/// fragment, which browsers never send to a server; the UI moves it to session storage.
async fn sso_callback(State(s): St, q: Q<CallbackQuery>) -> ApiResult<Response> {
    let sso = sso(&s)?;
    let q = query(q)?;
    if let Some(e) = q.error {
        return Err(err(
            StatusCode::UNAUTHORIZED,
            format!("sign-in failed: {e}"),
        ));
    }
    if let Some(iss) = &q.iss
        && s.cfg.oidc.as_ref().is_some_and(|o| o.issuer != *iss)
    {
        return Err(err(
            StatusCode::UNAUTHORIZED,
            "the response names another issuer",
        ));
    }
    let (Some(code), Some(state)) = (q.code, q.state) else {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "`code` and `state` are required",
        ));
    };
    let person = tokio::task::spawn_blocking(move || sso.finish(&code, &state))
        .await
        .map_err(|e| err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?
        .map_err(|e| err(StatusCode::UNAUTHORIZED, e))?;
    let tok =
        token::generate().map_err(|e| err(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    s.store.insert_token(&TokenRecord {
        hash: token::hash(&tok),
        name: person.email,
        role: Role::Approver,
        groups: person.groups,
        created_at: now_ms(),
        expires_at: Some(person.expires_at),
    })?;
    Ok((
        StatusCode::SEE_OTHER,
        [(header::LOCATION, format!("/#token={tok}"))],
    )
        .into_response())
}

/// Whether `c` is ASCII white space (`[\t\n\v\f\r ]`), what the OpenAPI document's name
/// `pattern` excludes: JSON Schema's ECMAScript `\s`, Python's and Rust's Unicode classes
/// disagree beyond it (U+0085, U+FEFF), so the document names the ASCII class alone.
fn is_ascii_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\u{b}' | '\u{c}' | '\r')
}
