//! Slack: a Block Kit message with Approve / Deny buttons for each request routed to a group with
//! a Slack destination, and the verification of the button clicks Slack sends back (v0 request
//! signing: HMAC-SHA256 of `v0:{timestamp}:{body}` with the app's signing secret, compared in
//! constant time, refused when more than five minutes old or seen before).

use crate::model::RequestView;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use warden_policy::sections::approvals::{SlackApp, SlackDestination};

/// Oldest (or furthest in the future) a signed request may be, in seconds.
pub const MAX_AGE_SECS: i64 = 300;
/// Slack's limit on a plain-text object.
const MAX_TEXT: usize = 2900;

/// Why a request claiming to come from Slack is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("missing or malformed X-Slack-Request-Timestamp / X-Slack-Signature")]
    Malformed,
    #[error("request timestamp is more than five minutes away from now")]
    Stale,
    #[error("signature does not match")]
    BadSignature,
    #[error("request already seen (replay)")]
    Replay,
}

fn mac(secret: &[u8], ts: &str, body: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length.
    let mut m = Hmac::<Sha256>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    m.update(b"v0:");
    m.update(ts.as_bytes());
    m.update(b":");
    m.update(body);
    m
}

/// The `X-Slack-Signature` value for `body` sent at `ts`.
pub fn sign(secret: &[u8], ts: &str, body: &[u8]) -> String {
    format!(
        "v0={}",
        hex::encode(mac(secret, ts, body).finalize().into_bytes())
    )
}

/// Check a request's timestamp (within five minutes of `now`, seconds since the epoch) and its
/// signature (constant-time comparison of the MAC).
pub fn verify(
    secret: &[u8],
    ts: Option<&str>,
    sig: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let (ts, sig) = ts.zip(sig).ok_or(VerifyError::Malformed)?;
    let at: i64 = ts.parse().map_err(|_| VerifyError::Malformed)?;
    if (now - at).abs() > MAX_AGE_SECS {
        return Err(VerifyError::Stale);
    }
    let given = sig
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(VerifyError::Malformed)?;
    mac(secret, ts, body)
        .verify_slice(&given)
        .map_err(|_| VerifyError::BadSignature)
}

/// A button click.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    pub user_id: String,
    /// `approve` or `deny`.
    pub action: String,
    pub request_id: String,
    /// The action digest shown in the message the button belonged to.
    pub digest: String,
    pub response_url: Option<String>,
}

/// Parse Slack's form-encoded interaction (`payload=<JSON>`) into the click it carries.
pub fn parse_click(body: &[u8]) -> Result<Click, String> {
    let form: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|e| format!("not a form: {e}"))?;
    let payload = form
        .iter()
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v)
        .ok_or("no `payload` field")?;
    let p: Value = serde_json::from_str(payload).map_err(|e| format!("payload: {e}"))?;
    if p["type"] != "block_actions" {
        return Err("not a block_actions payload".into());
    }
    let user_id = p["user"]["id"].as_str().ok_or("no user id")?.to_owned();
    let a = &p["actions"][0];
    let action = a["action_id"].as_str().ok_or("no action_id")?.to_owned();
    if action != "approve" && action != "deny" {
        return Err(format!("unknown action `{}`", action.escape_debug()));
    }
    let value = a["value"].as_str().ok_or("no button value")?;
    let (request_id, digest) = value.split_once(':').ok_or("malformed button value")?;
    Ok(Click {
        user_id,
        action,
        request_id: request_id.to_owned(),
        digest: digest.to_owned(),
        response_url: p["response_url"].as_str().map(str::to_owned),
    })
}

/// The approver identity of Slack user `user_id`, and the groups whose member lists name the
/// Slack user directly (`slack:<id>`).
pub fn identity(app: &SlackApp, user_id: &str) -> String {
    app.users
        .get(user_id)
        .cloned()
        .unwrap_or_else(|| format!("slack:{user_id}"))
}

fn plain(text: &str) -> Value {
    let mut t: String = text.chars().take(MAX_TEXT).collect();
    if t.len() < text.len() {
        t.push('…');
    }
    if t.is_empty() {
        t.push('-');
    }
    // Plain text: Slack renders no markup, mentions or links from it.
    json!({"type": "plain_text", "text": t, "emoji": false})
}

fn when(ms: i64) -> String {
    // `<!date^…>` would be markup; a UTC time in plain text is unambiguous.
    let secs = ms / 1000;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        (rem % 3600) / 60
    )
}

/// Days since 1970-01-01 to a (year, month, day) date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn details(r: &RequestView) -> Vec<Value> {
    let mut blocks = vec![
        json!({"type": "section", "text": plain(&r.action_text)}),
        json!({"type": "section", "fields": [
            plain(&format!("Tier: {}", r.tier)),
            plain(&format!("Category: {}", r.category)),
            plain(&format!("Rule: {}", r.rule)),
            plain(&format!("Requested by: {}", r.requester)),
            plain(&format!("Workspace: {}", r.workspace)),
            plain(&format!("Expires: {}", when(r.deadline))),
        ]}),
    ];
    if !r.reasons.is_empty() {
        blocks.push(
            json!({"type": "section", "text": plain(&format!("Why: {}", r.reasons.join("; ")))}),
        );
    }
    if let Some(why) = &r.rationale {
        blocks
            .push(json!({"type": "section", "text": plain(&format!("Agent's rationale: {why}"))}));
    }
    blocks.push(json!({"type": "context", "elements": [plain(&format!(
        "request {} · action digest {}", r.id, r.action_digest
    ))]}));
    blocks
}

/// The message for a new request: its details and Approve / Deny buttons bound to its digest.
pub fn request_message(r: &RequestView) -> Value {
    let value = format!("{}:{}", r.id, r.action_digest);
    let mut blocks = vec![json!({"type": "header", "text": plain("Warden: approval requested")})];
    blocks.extend(details(r));
    blocks.push(
        json!({"type": "actions", "block_id": "warden-decision", "elements": [
            {"type": "button", "action_id": "approve", "style": "primary",
             "text": plain("Approve"), "value": value},
            {"type": "button", "action_id": "deny", "style": "danger",
             "text": plain("Deny"), "value": value},
        ]}),
    );
    json!({"text": format!("Warden: approval requested: {}", r.action_text), "blocks": blocks})
}

/// The message after a vote: the outcome (or the quorum so far) and who voted; buttons only
/// while the request is still pending.
pub fn outcome_message(r: &RequestView) -> Value {
    let status = r.status.as_str();
    let approvals = r.votes.iter().filter(|v| v.verdict == "approve").count();
    let head = match status {
        "pending" => format!("Warden: pending, {approvals} of {} approvals", r.quorum),
        s => format!("Warden: {s}"),
    };
    let mut blocks = vec![json!({"type": "header", "text": plain(&head)})];
    blocks.extend(details(r));
    let votes: Vec<String> = r
        .votes
        .iter()
        .map(|v| {
            format!(
                "{} {}{}",
                v.approver,
                v.verdict,
                v.comment
                    .as_ref()
                    .map(|c| format!(": {c}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    if !votes.is_empty() {
        blocks.push(json!({"type": "context", "elements": [plain(&format!("Votes: {}", votes.join("; ")))]}));
    }
    if let Some(reason) = &r.reason {
        blocks.push(json!({"type": "context", "elements": [plain(reason)]}));
    }
    if status == "pending" {
        let button = request_message(r)["blocks"]
            .as_array()
            .and_then(|b| b.last().cloned())
            .unwrap_or(Value::Null);
        blocks.push(button);
    }
    json!({"replace_original": true, "text": head, "blocks": blocks})
}

fn env(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("environment variable {name} is not set"))
}

/// Call Web API `method` with the bot token in `token_env`; the answer must say `ok`.
fn web_api(app: &SlackApp, token_env: &str, method: &str, body: &Value) -> Result<Value, String> {
    let token = env(token_env)?;
    let url = format!("{}/{method}", app.api_url.trim_end_matches('/'));
    let answer = crate::webhook::post_json(
        &url,
        &body.to_string(),
        &[("Authorization", format!("Bearer {token}"))],
    )?;
    let v: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
    if v["ok"] == true {
        Ok(v)
    } else {
        Err(format!("{method} failed: {}", v["error"]))
    }
}

/// Post `msg` to a group's destination (blocking: call from `spawn_blocking`). The secret
/// (webhook URL or bot token) is read from its environment variable and never echoed. A bot
/// token's message comes back as its `(channel, ts)`, by which it can be updated later.
pub fn post(
    app: &SlackApp,
    dest: &SlackDestination,
    msg: &Value,
) -> Result<Option<(String, String)>, String> {
    if let Some(var) = &dest.webhook_env {
        let url = env(var)?;
        crate::webhook::post_json(&url, &msg.to_string(), &[]).map(|_| None)
    } else if let (Some(var), Some(channel)) = (&dest.bot_token_env, &dest.channel) {
        let mut body = msg.clone();
        body["channel"] = json!(channel);
        let v = web_api(app, var, "chat.postMessage", &body)?;
        Ok(v["channel"]
            .as_str()
            .zip(v["ts"].as_str())
            .map(|(c, t)| (c.to_owned(), t.to_owned())))
    } else {
        Err("no Slack destination".into())
    }
}

/// Replace a message posted earlier with `msg` (blocking): through the click's `response_url`,
/// or with `chat.update` and the destination's bot token.
pub fn update(
    app: &SlackApp,
    dest: Option<&SlackDestination>,
    m: &crate::store::SlackMessage,
    msg: &Value,
) -> Result<(), String> {
    if m.response_url.starts_with("https://") {
        let mut body = msg.clone();
        body["replace_original"] = json!(true);
        return crate::webhook::post_json(&m.response_url, &body.to_string(), &[]).map(drop);
    }
    let var = dest
        .and_then(|d| d.bot_token_env.as_ref())
        .ok_or("no bot token to update the message with")?;
    let mut body = msg.clone();
    if let Some(o) = body.as_object_mut() {
        o.remove("replace_original");
    }
    body["channel"] = json!(m.channel);
    body["ts"] = json!(m.ts);
    web_api(app, var, "chat.update", &body).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's published example ("Verifying requests from Slack"): signing secret, timestamp,
    // the raw form body of a slash command, and the signature Slack computed for them.
    const SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &str = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slacks_published_example_signs_and_verifies() {
        assert_eq!(sign(SECRET.as_bytes(), TS, BODY.as_bytes()), SIG);
        let now = 1_531_420_618 + 30;
        assert_eq!(
            verify(SECRET.as_bytes(), Some(TS), Some(SIG), BODY.as_bytes(), now),
            Ok(())
        );
    }

    #[test]
    fn forged_tampered_old_and_malformed_requests_are_refused() {
        let now = 1_531_420_618;
        let v = |secret: &str, ts: Option<&str>, sig: Option<&str>, body: &str, now| {
            verify(secret.as_bytes(), ts, sig, body.as_bytes(), now)
        };
        // Another secret, a changed body, a flipped signature digit.
        assert_eq!(
            v("other-secret", Some(TS), Some(SIG), BODY, now),
            Err(VerifyError::BadSignature)
        );
        assert_eq!(
            v(SECRET, Some(TS), Some(SIG), &format!("{BODY}&x=1"), now),
            Err(VerifyError::BadSignature)
        );
        let flipped = SIG.replace("a2114d", "a2114e");
        assert_eq!(
            v(SECRET, Some(TS), Some(&flipped), BODY, now),
            Err(VerifyError::BadSignature)
        );
        // A signature for another timestamp with this timestamp.
        let other_ts = sign(SECRET.as_bytes(), "1531420619", BODY.as_bytes());
        assert_eq!(
            v(SECRET, Some(TS), Some(&other_ts), BODY, now),
            Err(VerifyError::BadSignature)
        );
        // More than five minutes old, or in the future.
        assert_eq!(
            v(SECRET, Some(TS), Some(SIG), BODY, now + 301),
            Err(VerifyError::Stale)
        );
        assert_eq!(
            v(SECRET, Some(TS), Some(SIG), BODY, now - 301),
            Err(VerifyError::Stale)
        );
        assert_eq!(v(SECRET, Some(TS), Some(SIG), BODY, now + 300), Ok(()));
        // Missing or malformed headers.
        assert_eq!(
            v(SECRET, None, Some(SIG), BODY, now),
            Err(VerifyError::Malformed)
        );
        assert_eq!(
            v(SECRET, Some(TS), None, BODY, now),
            Err(VerifyError::Malformed)
        );
        assert_eq!(
            v(SECRET, Some("soon"), Some(SIG), BODY, now),
            Err(VerifyError::Malformed)
        );
        assert_eq!(
            v(SECRET, Some(TS), Some(&SIG[3..]), BODY, now),
            Err(VerifyError::Malformed)
        );
        assert_eq!(
            v(SECRET, Some(TS), Some("v0=zz"), BODY, now),
            Err(VerifyError::Malformed)
        );
        assert_eq!(
            v(SECRET, Some(TS), Some("v0="), BODY, now),
            Err(VerifyError::BadSignature)
        );
    }

    #[test]
    fn dates_are_utc() {
        assert_eq!(when(0), "1970-01-01 00:00 UTC");
        assert_eq!(when(1_531_420_618_000), "2018-07-12 18:36 UTC");
    }
}
