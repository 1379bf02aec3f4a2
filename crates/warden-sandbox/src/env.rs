//! The sandboxed command's environment, allow-by-list: only the variables tools need pass (a
//! versioned list, `data/env-pass.toml`, plus the governance file's `env_pass`), secret-looking
//! names and password-carrying URLs are masked on top, and Warden sets its own proxy variables.

/// Variable-name patterns removed even when listed (`*` matches any run of characters; case-insensitive).
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

/// The caller's variables a sandboxed command gets, by default (`data/env-pass.toml`): locale,
/// terminal, identity, PATH, toolchain and build variables. Everything else is dropped.
pub const BUILTIN_ENV_PASS: &[&str] = lists::ENV_PASS;

mod lists {
    include!(concat!(env!("OUT_DIR"), "/lists.rs"));
}

pub(crate) use lists::{HOME_VISIBLE, HOME_VISIBLE_FROM_ENV};

/// Why a variable did not reach the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// Its name is on neither the pass list nor the governance file's `env_pass`.
    NotListed,
    /// Listed, but its name matches a secret-name pattern.
    SecretName,
    /// Listed, but its value is a URL carrying a password (`scheme://user:password@host`).
    PasswordInValue,
}

/// What filtering did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnvReport {
    /// The environment the command gets (before proxy variables are added).
    pub kept: Vec<(String, String)>,
    /// Names removed, with why (values are never reported).
    pub removed: Vec<(String, Dropped)>,
}

impl EnvReport {
    /// One line for the outcome record naming what was dropped and why (names only), or `None`.
    pub fn note(&self) -> Option<String> {
        let group = |why: Dropped, label: &str| {
            let names: Vec<&str> = self
                .removed
                .iter()
                .filter(|(_, w)| *w == why)
                .map(|(n, _)| n.as_str())
                .collect();
            (!names.is_empty()).then(|| format!("{label}: {}", names.join(", ")))
        };
        let parts: Vec<String> = [
            group(Dropped::NotListed, "not listed"),
            group(Dropped::SecretName, "secret name"),
            group(Dropped::PasswordInValue, "password in value"),
        ]
        .into_iter()
        .flatten()
        .collect();
        (!parts.is_empty()).then(|| {
            format!(
                "environment dropped (names only; [sandbox] env_pass passes one): {}",
                parts.join("; ")
            )
        })
    }
}

/// Does `value` hold a URL with a password (`scheme://user:password@…`, the user possibly empty)?
pub fn has_url_password(value: &str) -> bool {
    value.match_indices("://").any(|(i, _)| {
        let rest = &value[i + 3..];
        let authority = rest
            .split(['/', '?', '#', ' ', ',', ';'])
            .next()
            .unwrap_or("");
        authority
            .rsplit_once('@')
            .is_some_and(|(userinfo, _)| userinfo.contains(':'))
    })
}

/// Filter the caller's environment: a variable passes when its name matches `allow` and neither
/// mask applies (a `scrub` name pattern, a password in a URL in its value) — or when its name
/// matches `pass` (the governance file's `env_pass`), which overrides both masks: an explicit
/// pass is the reviewed decision. Everything else is dropped and named in the report.
pub fn filter_env(
    env: &[(String, String)],
    allow: &[String],
    scrub: &[String],
    pass: &[String],
) -> EnvReport {
    let mut report = EnvReport::default();
    let any = |pats: &[String], k: &str| pats.iter().any(|p| env_name_matches(p, k));
    for (k, v) in env {
        let dropped = if any(pass, k) {
            None
        } else if !any(allow, k) {
            Some(Dropped::NotListed)
        } else if any(scrub, k) {
            Some(Dropped::SecretName)
        } else if has_url_password(v) {
            Some(Dropped::PasswordInValue)
        } else {
            None
        };
        match dropped {
            Some(why) => report.removed.push((k.clone(), why)),
            None => report.kept.push((k.clone(), v.clone())),
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

    fn pairs(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| ((*a).to_owned(), (*b).to_owned()))
            .collect()
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn only_listed_variables_pass_and_masks_apply_on_top() {
        let env = pairs(&[
            ("PATH", "/bin"),
            ("GITHUB_TOKEN", "canary"),
            ("AWS_SECRET_ACCESS_KEY", "x"),
            ("CI_JOB_TOKEN", "y"),
            ("HOME", "/h"),
            ("DATABASE_URL", "postgres://app:hunter2@db/app"),
            ("PGPASSWORD", "hunter2"),
            ("CARGO_REGISTRY_TOKEN", "t"),
            ("PIP_INDEX_URL", "https://u:p@pkgs.example.invalid/simple"),
            ("PIP_NO_CACHE_DIR", "1"),
            ("LC_ALL", "C.UTF-8"),
        ]);
        let allow = strings(BUILTIN_ENV_PASS);
        let scrub = strings(BUILTIN_ENV_SCRUB);
        let r = filter_env(&env, &allow, &scrub, &strings(&["CI_JOB_TOKEN"]));
        let kept: Vec<&str> = r.kept.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            kept,
            ["PATH", "CI_JOB_TOKEN", "HOME", "PIP_NO_CACHE_DIR", "LC_ALL"]
        );
        assert_eq!(
            r.removed,
            [
                ("GITHUB_TOKEN".to_owned(), Dropped::NotListed),
                ("AWS_SECRET_ACCESS_KEY".to_owned(), Dropped::NotListed),
                ("DATABASE_URL".to_owned(), Dropped::NotListed),
                ("PGPASSWORD".to_owned(), Dropped::NotListed),
                ("CARGO_REGISTRY_TOKEN".to_owned(), Dropped::SecretName),
                ("PIP_INDEX_URL".to_owned(), Dropped::PasswordInValue),
            ]
        );
        let note = r.note().expect("a note");
        assert!(
            note.contains("not listed: GITHUB_TOKEN, AWS_SECRET_ACCESS_KEY"),
            "{note}"
        );
        assert!(note.contains("secret name: CARGO_REGISTRY_TOKEN"), "{note}");
        assert!(note.contains("password in value: PIP_INDEX_URL"), "{note}");
        assert!(!note.contains("hunter2") && !note.contains("u:p"), "{note}");
        // env_pass overrides the masks (the explicit, reviewed decision).
        let pass = strings(&["CARGO_REGISTRY_TOKEN", "PIP_INDEX_URL"]);
        let r = filter_env(&env, &allow, &scrub, &pass);
        assert!(r.kept.iter().any(|(k, _)| k == "CARGO_REGISTRY_TOKEN"));
        assert!(r.kept.iter().any(|(k, _)| k == "PIP_INDEX_URL"));
        assert_eq!(filter_env(&env[..1], &allow, &scrub, &[]).note(), None);
    }

    #[test]
    fn url_passwords_are_recognised() {
        assert!(has_url_password("postgres://app:pw@db:5432/x"));
        assert!(has_url_password("redis://:pw@cache"));
        assert!(has_url_password("a https://u:p@h/x b"));
        assert!(!has_url_password("https://h/x?a=b:c@d"));
        assert!(!has_url_password("ssh://git@host/repo"));
        assert!(!has_url_password("http://127.0.0.1:3128"));
        assert!(!has_url_password("/usr/bin:/bin"));
    }

    /// The data file's rules: no listed name is one the secret-name mask would drop anyway (a
    /// sign that someone meant to pass a secret), `*` only as a prefix or suffix wildcard, and
    /// none of the known secret carriers is listed.
    #[test]
    fn the_pass_list_follows_its_rules() {
        let mut seen = std::collections::BTreeSet::new();
        for name in BUILTIN_ENV_PASS {
            assert!(
                seen.insert(name.to_ascii_uppercase()),
                "{name} listed twice"
            );
            let inner = name.trim_start_matches('*').trim_end_matches('*');
            assert!(
                !inner.is_empty() && !inner.contains('*'),
                "{name}: `*` only at the ends"
            );
            let probe = name.replace('*', "X");
            for pat in BUILTIN_ENV_SCRUB {
                assert!(
                    !env_name_matches(pat, &probe),
                    "{name} is masked by the secret-name pattern {pat}"
                );
            }
        }
        for gone in [
            "DATABASE_URL",
            "MYSQL_PWD",
            "PGPASSWORD",
            "CI_JOB_JWT",
            "DOCKER_AUTH_CONFIG",
            "SLACK_WEBHOOK_URL",
            "COOKIE",
            "JWT",
            "GIT_CONFIG_PARAMETERS",
            "GIT_CONFIG_VALUE_0",
            "GIT_ASKPASS",
            "npm_config__auth",
            "BUNDLE_GEMS__EXAMPLE__INVALID",
            "SSH_AUTH_SOCK",
            "XDG_RUNTIME_DIR",
            "HTTPS_PROXY",
            "WARDEN_TOKEN",
        ] {
            assert!(
                !BUILTIN_ENV_PASS.iter().any(|p| env_name_matches(p, gone)),
                "{gone} must not be on the pass list"
            );
        }
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
