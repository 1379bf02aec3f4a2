//! Outgoing webhook delivery (`http://` and `https://`, verified with the shared TLS settings),
//! and the check that a configured webhook URL can work at all.

use std::time::Duration;

/// Why a webhook URL cannot work, or `Ok` when it can: an absolute `http(s)://host[:port]/…`
/// URL without credentials or fragment.
pub fn check_url(url: &str) -> Result<(), String> {
    warden_policy::sections::approvals::check_webhook_url(url)
}

/// POST `body` as JSON to `url` with optional extra headers; succeeds on a 2xx answer. Blocking:
/// call it from `spawn_blocking`.
pub fn post_json(url: &str, body: &str, headers: &[(&str, String)]) -> Result<String, String> {
    check_url(url)?;
    let agent: ureq::Agent = warden_tls::agent_builder()
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let mut req = agent
        .post(url)
        .header("Content-Type", "application/json; charset=utf-8");
    for (k, v) in headers {
        req = req.header(*k, v.as_str());
    }
    // The URL may carry a secret (Slack's incoming-webhook path is one): never echo it.
    let mut resp = req
        .send(body.as_bytes())
        .map_err(|e| e.to_string().replace(url, "<webhook>"))?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(64 * 1024)
        .read_to_string()
        .unwrap_or_default();
    if (200..300).contains(&status) {
        Ok(text)
    } else {
        Err(format!("webhook answered HTTP {status}"))
    }
}
