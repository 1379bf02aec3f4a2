//! Environment scrubbing: secrets passed in variables must not reach a sandboxed command.

/// Variable-name patterns removed by default (`*` matches any run of characters; case-insensitive).
pub const BUILTIN_ENV_SCRUB: &[&str] = &[
    "*TOKEN*",
    "*SECRET*",
    "*PASSWORD*",
    "*PASSWD*",
    "*PASSPHRASE*",
    "*_KEY",
    "*_KEY_ID",
    "*_KEYS",
    "*API_KEY*",
    "*PRIVATE_KEY*",
    "*CREDENTIAL*",
    "*_AUTH",
    "*_PAT",
    "AWS_*",
    "AZURE_*",
    "GH_*",
    "GITHUB_TOKEN",
    "NPM_TOKEN",
    "SSH_AUTH_SOCK",
    "GPG_AGENT_INFO",
    "KUBECONFIG",
    "VAULT_*",
    "WARDEN_SANDBOX_*",
    // The host's proxy settings are replaced by the sandbox's own.
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "FTP_PROXY",
];

/// Does `name` match the `*`-wildcard `pattern` (ASCII case-insensitive)?
pub fn env_name_matches(pattern: &str, name: &str) -> bool {
    fn go(p: &[u8], n: &[u8]) -> bool {
        match p.split_first() {
            None => n.is_empty(),
            Some((b'*', rest)) => (0..=n.len()).any(|i| go(rest, &n[i..])),
            Some((c, rest)) => n
                .split_first()
                .is_some_and(|(d, nrest)| c.eq_ignore_ascii_case(d) && go(rest, nrest)),
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// What scrubbing did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvReport {
    /// The environment the command gets (before proxy variables are added).
    pub kept: Vec<(String, String)>,
    /// Names removed (values are never reported).
    pub removed: Vec<String>,
}

/// Remove variables whose name matches a `scrub` pattern unless it matches a `pass` pattern.
pub fn scrub_env(env: &[(String, String)], scrub: &[String], pass: &[String]) -> EnvReport {
    let mut report = EnvReport::default();
    for (k, v) in env {
        let scrubbed = scrub.iter().any(|p| env_name_matches(p, k));
        let passed = pass.iter().any(|p| env_name_matches(p, k));
        if scrubbed && !passed {
            report.removed.push(k.clone());
        } else {
            report.kept.push((k.clone(), v.clone()));
        }
    }
    report
}

/// Variables naming the CA bundle TLS clients trust, set to the sandbox's bundle when it has
/// one (OpenSSL, curl, Python requests, Node, git, pip, cargo, the AWS SDKs).
pub const CA_BUNDLE_VARS: &[&str] = &[
    "SSL_CERT_FILE",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "NODE_EXTRA_CA_CERTS",
    "GIT_SSL_CAINFO",
    "PIP_CERT",
    "CARGO_HTTP_CAINFO",
    "AWS_CA_BUNDLE",
    "DENO_CERT",
];

/// [`CA_BUNDLE_VARS`], each set to `bundle`.
pub(crate) fn ca_vars(bundle: &str) -> Vec<(String, String)> {
    CA_BUNDLE_VARS
        .iter()
        .map(|k| ((*k).to_owned(), bundle.to_owned()))
        .collect()
}

/// The proxy variables set inside the sandbox for a relay on `127.0.0.1:port`.
pub(crate) fn proxy_vars(port: u16, connect_helper: Option<&str>) -> Vec<(String, String)> {
    let http = format!("http://127.0.0.1:{port}");
    let socks = format!("socks5h://127.0.0.1:{port}");
    let no_proxy = "localhost,127.0.0.1,::1".to_owned();
    let mut v = Vec::new();
    for (k, val) in [
        ("HTTP_PROXY", &http),
        ("HTTPS_PROXY", &http),
        ("ALL_PROXY", &socks),
        ("NO_PROXY", &no_proxy),
        ("FTP_PROXY", &http),
    ] {
        v.push((k.to_owned(), val.clone()));
        v.push((k.to_ascii_lowercase(), val.clone()));
    }
    v.push(("npm_config_proxy".into(), http.clone()));
    v.push(("npm_config_https_proxy".into(), http.clone()));
    v.push(("npm_config_noproxy".into(), no_proxy.clone()));
    v.push(("YARN_HTTP_PROXY".into(), http.clone()));
    v.push(("YARN_HTTPS_PROXY".into(), http.clone()));
    v.push(("PIP_PROXY".into(), http.clone()));
    v.push(("CARGO_HTTP_PROXY".into(), http.clone()));
    v.push(("GIT_PROXY_COMMAND".into(), String::new()));
    if let Some(helper) = connect_helper {
        // git over SSH: ssh tunnels through the proxy's SOCKS5 side via Warden's connect helper.
        let proxy_cmd = format!(
            "{helper} {} connect 127.0.0.1 {port} %h %p",
            crate::INIT_ARG
        );
        v.push((
            "GIT_SSH_COMMAND".into(),
            format!("ssh -o ProxyCommand='{proxy_cmd}'"),
        ));
    }
    v.retain(|(k, _)| k != "GIT_PROXY_COMMAND");
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_match_as_documented() {
        assert!(env_name_matches("*TOKEN*", "GITHUB_TOKEN"));
        assert!(env_name_matches("*TOKEN*", "my_token_value"));
        assert!(env_name_matches("*_KEY", "OPENAI_API_KEY"));
        assert!(!env_name_matches("*_KEY", "KEYBOARD"));
        assert!(env_name_matches("AWS_*", "AWS_REGION"));
        assert!(!env_name_matches("AWS_*", "XAWS_REGION"));
        assert!(env_name_matches("GITHUB_TOKEN", "github_token"));
    }

    #[test]
    fn scrub_removes_secrets_and_keeps_passes() {
        let env: Vec<(String, String)> = [
            ("PATH", "/bin"),
            ("GITHUB_TOKEN", "canary"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("CI_JOB_TOKEN", "y"),
            ("HOME", "/h"),
        ]
        .iter()
        .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
        .collect();
        let scrub: Vec<String> = BUILTIN_ENV_SCRUB.iter().map(|s| (*s).to_owned()).collect();
        let r = scrub_env(&env, &scrub, &["CI_JOB_TOKEN".to_owned()]);
        let kept: Vec<&str> = r.kept.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(kept, ["PATH", "CI_JOB_TOKEN", "HOME"]);
        assert_eq!(r.removed, ["GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY"]);
    }

    #[test]
    fn proxy_vars_cover_upper_and_lower_case() {
        let v = proxy_vars(3128, Some("/usr/bin/warden"));
        let get = |k: &str| v.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("https_proxy"), Some("http://127.0.0.1:3128"));
        assert_eq!(get("ALL_PROXY"), Some("socks5h://127.0.0.1:3128"));
        assert_eq!(get("no_proxy"), Some("localhost,127.0.0.1,::1"));
        assert!(get("GIT_SSH_COMMAND").is_some_and(|c| c.contains("connect 127.0.0.1 3128 %h %p")));
    }
}
