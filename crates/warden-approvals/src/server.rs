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
    axum::serve(listener, router(state)).await?;
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
    if nt.name.trim().is_empty() || nt.name.len() > 200 {
        return Err(err(
            StatusCode::BAD_REQUEST,
            "name must be 1..200 characters",
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
    let judged = judge(&shown, claimed_tier, &claimed, &ours);
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
    Ok((StatusCode::CREATED, Json(view)))
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
    let now = now_ms();
    voting::check_vote(&s.cfg, &who, &r, now, verdict, vb.action_digest.as_deref()).map_err(
        |e| {
            let code = match e {
                voting::Refusal::Decided(_) | voting::Refusal::DigestMismatch => {
                    StatusCode::CONFLICT
                }
                voting::Refusal::DigestMissing => StatusCode::BAD_REQUEST,
                _ => StatusCode::FORBIDDEN,
            };
            err(code, e.to_string())
        },
    )?;
    let vote = Vote {
        approver: who.name.clone(),
        verdict: verdict.as_str().into(),
        comment: vb.comment.clone(),
        at: now,
    };
    if !s.store.add_vote(&id, &vote)? {
        return Err(err(
            StatusCode::CONFLICT,
            format!("`{}` already voted", who.name),
        ));
    }
    emit(
        &s,
        Event::Voted {
            id: id.clone(),
            approver: who.name.clone(),
            verdict: verdict.as_str().into(),
        },
    );
    let r = load(&s, &id)?;
    let Some((to, reason)) = voting::outcome(&r, verdict, &who.name, vb.comment.as_deref()) else {
        return Ok(Json(r));
    };
    let t = Transition {
        reason: Some(reason),
        decided_at: Some(now),
        approval_expires_at: (to == Status::Approved).then(|| now.saturating_add(ms(s.ttl))),
        ..Transition::default()
    };
    if s.store.transition(&id, Status::Pending, to, &t)? {
        emit(
            &s,
            Event::Decided {
                id: id.clone(),
                status: to,
                reason: t.reason,
            },
        );
    }
    Ok(Json(load(&s, &id)?))
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

/// Fire group webhooks (Slack-compatible `{"text": …}`) on routing and decisions; retried.
fn webhooks(state: &AppState, ev: &Event) {
    let (text, groups): (String, Vec<String>) = match ev {
        Event::Requested {
            id,
            requester,
            tier,
            category,
            groups,
            ..
        } => (
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

/// Minimal HTTP/1.1 POST for `http://host:port/path` webhooks; succeeds on a 2xx answer.
async fn post_webhook(url: &str, body: &str) -> Result<(), std::io::Error> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidInput, "unsupported webhook URL");
    let rest = url.strip_prefix("http://").ok_or_else(bad)?;
    let (hostport, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut conn = tokio::time::timeout(
        Duration::from_secs(5),
        tokio::net::TcpStream::connect(hostport),
    )
    .await
    .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "connect timeout"))??;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(req.as_bytes()).await?;
    let mut buf = [0u8; 32];
    let n = tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "read timeout"))??;
    let head = String::from_utf8_lossy(&buf[..n]);
    if head.starts_with("HTTP/1.1 2") || head.starts_with("HTTP/1.0 2") {
        Ok(())
    } else {
        Err(std::io::Error::other(format!("webhook answered {head}")))
    }
}
