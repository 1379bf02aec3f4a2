//! Single sign-on for the web UI: OpenID Connect authorization code flow with PKCE against the
//! provider in `[approvals.oidc]` (discovery, JWKS, ID-token validation of signature, issuer,
//! audience, expiry and nonce by the `openidconnect` crate). The verified `email` claim is the
//! approver's identity and the configured groups claim their groups; the server then hands the
//! browser an approver token, as if an admin had created one. Tokens stay for agents and the CLI.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use warden_policy::sections::approvals::Oidc;

/// A sign-in's lifetime when the configured one cannot be read (the policy checks it on load).
const DEFAULT_SESSION: Duration = Duration::from_secs(12 * 3600);

/// How long a started login may take.
const LOGIN_TTL: Duration = Duration::from_secs(600);

/// An HTTP failure talking to the provider.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// The HTTP client the OpenID flow uses: the shared TLS settings, no redirects.
fn http(req: openidconnect::HttpRequest) -> Result<openidconnect::HttpResponse, HttpError> {
    let agent: ureq::Agent = warden_tls::agent_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    // ureq frames the body itself: a length set by the caller would be sent twice.
    let mut req = req;
    req.headers_mut()
        .remove(openidconnect::http::header::CONTENT_LENGTH);
    let mut resp = agent.run(req).map_err(|e| HttpError(e.to_string()))?;
    let mut out = openidconnect::http::Response::builder().status(resp.status());
    for (k, v) in resp.headers() {
        out = out.header(k, v);
    }
    let body = resp
        .body_mut()
        .with_config()
        .limit(1024 * 1024)
        .read_to_vec()
        .map_err(|e| HttpError(e.to_string()))?;
    out.body(body).map_err(|e| HttpError(e.to_string()))
}

struct Pending {
    verifier: String,
    nonce: String,
    at: Instant,
}

/// A signed-in person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub email: String,
    pub groups: Vec<String>,
    /// Unix ms when the sign-in ends: the ID token's expiry or the configured session
    /// lifetime from now, whichever is sooner.
    pub expires_at: i64,
}

/// The sign-in state of one server: the provider's metadata (discovered on first use) and the
/// logins under way, by their `state`.
pub struct Sso {
    cfg: Oidc,
    secret: Option<String>,
    metadata: Mutex<Option<CoreProviderMetadata>>,
    pending: Mutex<HashMap<String, Pending>>,
}

impl Sso {
    /// From the policy's `[approvals.oidc]`; the client secret is read from its variable.
    pub fn new(cfg: Oidc) -> Self {
        let secret = cfg
            .client_secret_env
            .as_ref()
            .and_then(|v| std::env::var(v).ok())
            .filter(|v| !v.is_empty());
        Self {
            cfg,
            secret,
            metadata: Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
        }
    }

    fn metadata(&self) -> Result<CoreProviderMetadata, String> {
        let mut m = self.metadata.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(md) = &*m {
            return Ok(md.clone());
        }
        let issuer = IssuerUrl::new(self.cfg.issuer.clone()).map_err(|e| e.to_string())?;
        let md = CoreProviderMetadata::discover(&issuer, &http)
            .map_err(|e| format!("OpenID discovery failed: {e}"))?;
        *m = Some(md.clone());
        Ok(md)
    }

    /// Start a login: the provider's authorization URL to send the browser to.
    pub fn begin(&self) -> Result<String, String> {
        let client = CoreClient::from_provider_metadata(
            self.metadata()?,
            ClientId::new(self.cfg.client_id.clone()),
            self.secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(
            RedirectUrl::new(self.cfg.redirect_url.clone()).map_err(|e| e.to_string())?,
        );
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut req = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for s in &self.cfg.scopes {
            req = req.add_scope(Scope::new(s.clone()));
        }
        let (url, state, nonce) = req.set_pkce_challenge(challenge).url();
        let mut p = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        p.retain(|_, v| v.at.elapsed() < LOGIN_TTL);
        p.insert(
            state.secret().clone(),
            Pending {
                verifier: verifier.secret().clone(),
                nonce: nonce.secret().clone(),
                at: Instant::now(),
            },
        );
        Ok(url.to_string())
    }

    /// Finish a login from the provider's redirect: exchange the code (with the PKCE verifier),
    /// validate the ID token (signature, issuer, audience, expiry, nonce) and read the person.
    /// Each `state` works once.
    pub fn finish(&self, code: &str, state: &str) -> Result<Person, String> {
        let p = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(state)
            .filter(|p| p.at.elapsed() < LOGIN_TTL)
            .ok_or("unknown, used or expired login state")?;
        let client = CoreClient::from_provider_metadata(
            self.metadata()?,
            ClientId::new(self.cfg.client_id.clone()),
            self.secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(
            RedirectUrl::new(self.cfg.redirect_url.clone()).map_err(|e| e.to_string())?,
        );
        let token = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| e.to_string())?
            .set_pkce_verifier(PkceCodeVerifier::new(p.verifier))
            .request(&http)
            .map_err(|e| format!("token exchange failed: {e:?}"))?;
        let id_token = token.id_token().ok_or("the provider sent no ID token")?;
        let claims = id_token
            .claims(&client.id_token_verifier(), &Nonce::new(p.nonce))
            .map_err(|e| format!("invalid ID token: {e}"))?;
        let email = claims
            .email()
            .ok_or("the ID token has no `email` claim")?
            .as_str()
            .to_owned();
        if claims.email_verified() != Some(true) {
            return Err(format!("the provider has not verified `{email}`"));
        }
        // The groups claim is not one the crate models: read it from the token just verified.
        let payload = id_token
            .to_string()
            .split('.')
            .nth(1)
            .and_then(|b| {
                use base64::Engine as _;
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(b)
                    .ok()
            })
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .unwrap_or_default();
        let groups = match &payload[&self.cfg.groups_claim] {
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|g| g.as_str().map(str::to_owned))
                .collect(),
            serde_json::Value::String(g) => vec![g.clone()],
            _ => vec![],
        };
        let lifetime =
            crate::routing::parse_duration(&self.cfg.session_lifetime).unwrap_or(DEFAULT_SESSION);
        let by_lifetime = crate::server::now_ms()
            .saturating_add(i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX));
        let expires_at = claims.expiration().timestamp_millis().min(by_lifetime);
        Ok(Person {
            email,
            groups,
            expires_at,
        })
    }
}
