//! Secret redaction applied to every record before it is written, so that tokens, passwords and
//! keys an agent passes in arguments, environment or output excerpts never reach the log (or the
//! collector it ships to). What was masked is noted by kind and count, never shown.

// `regex-lite`: compiling these patterns with the full `regex` crate cost more than the rest of a
// `warden run` (about 20 million instructions per process); the strings redacted are short.
use aho_corasick::AhoCorasick;
use regex_lite::Regex;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::LazyLock;

/// What a masked secret is replaced with: `[REDACTED:<kind>]`.
pub fn mask(kind: &str) -> String {
    format!("[REDACTED:{kind}]")
}

/// Counts of masked secrets by kind.
pub type Redactions = BTreeMap<String, u64>;

struct Pattern {
    kind: &'static str,
    re: Regex,
    /// Index of the capture group to mask (0 = whole match).
    group: usize,
    /// Lower-case substrings of which every match contains at least one (in any ASCII case):
    /// a string containing none of them is not searched with the (slower) regular expression.
    hints: &'static [&'static str],
}

/// The hints of the built-in patterns, in the order of [`PATTERNS`].
const HINTS: &[&[&str]] = &[
    &["-----begin"],
    &["ghp_", "gho_", "ghu_", "ghs_", "ghr_"],
    &["github_pat_"],
    &["glpat-"],
    &["xox"],
    &["akia", "asia", "agpa", "aida", "aroa"],
    &["sk-"],
    &["eyj"],
    &["authorization"],
    &["bearer"],
    &["://"],
    &["pass", "token", "secret", "key", "client"],
    &["mysql", "mariadb"],
    &[
        "token",
        "secret",
        "pass",
        "api",
        "private",
        "credential",
        "access",
        "auth",
    ],
];

fn p(kind: &'static str, re: &str, group: usize) -> Pattern {
    match Regex::new(re) {
        Ok(re) => Pattern {
            kind,
            re,
            group,
            hints: &[],
        },
        Err(e) => panic!("built-in redaction pattern {kind} is invalid: {e}"),
    }
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    let mut patterns = vec![
        p(
            "private-key",
            r"-----BEGIN [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----(?s:.*?)(-----END [A-Z0-9 ]*PRIVATE KEY( BLOCK)?-----|\z)",
            0,
        ),
        p("github-token", r"\bgh[pousr]_[A-Za-z0-9]{20,255}\b", 0),
        p("github-token", r"\bgithub_pat_[A-Za-z0-9_]{20,255}\b", 0),
        p("gitlab-token", r"\bglpat-[A-Za-z0-9_\-]{20,}", 0),
        p("slack-token", r"\bxox[abposr]-[A-Za-z0-9\-]{10,}", 0),
        p(
            "aws-access-key-id",
            r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA)[0-9A-Z]{16}\b",
            0,
        ),
        p("api-key", r"\bsk-[A-Za-z0-9_\-]{16,}", 0),
        p(
            "jwt",
            r"\beyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}",
            0,
        ),
        p(
            "authorization",
            r"(?i)\b(?:proxy-)?authorization\s*:\s*([^\r\n]+)",
            1,
        ),
        p("bearer", r"(?i)\bbearer\s+([A-Za-z0-9._~+/=\-]{6,})", 1),
        p(
            "url-credentials",
            r"(?i)\b[a-z][a-z0-9+.\-]*://[^\s/:@]*:([^\s/@]+)@",
            1,
        ),
        p(
            "password-flag",
            r"(?i)(?:^|\s)--?(?:password|passwd|pass|token|secret|api[-_]?key|access[-_]?token|client[-_]?secret)(?:=|\s+)([^\s]+)",
            1,
        ),
        p(
            "password-flag",
            r"(?:^|[\s;&|(])(?:\S*/)?(?:mysql|mysqldump|mysqladmin|mariadb|mariadb-dump|mysqlsh)\b[^\n;&|]*?\s-p([^\s-][^\s]*)",
            1,
        ),
        p(
            "secret-variable",
            r"(?i)\b[A-Z0-9_]*(?:TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|API_?KEY|PRIVATE_?KEY|CREDENTIALS?|ACCESS_?KEY|AUTH)[A-Z0-9_]*=([^\s]+)",
            1,
        ),
    ];
    assert_eq!(
        patterns.len(),
        HINTS.len(),
        "every redaction pattern has its hints"
    );
    assert!(
        HINTS.len() <= 64,
        "hinted_patterns keeps one bit per pattern"
    );
    for (p, h) in patterns.iter_mut().zip(HINTS) {
        p.hints = h;
    }
    patterns
});

static SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| {
    match Regex::new(
        r"(?i)(token|secret|password|passwd|passphrase|api_?key|apikey|private_?key|credential|authorization|cookie|access_?key)",
    ) {
        Ok(r) => r,
        Err(e) => panic!("built-in secret-name pattern is invalid: {e}"),
    }
});

/// Literals of which every match of [`SECRET_NAME`] contains one (ASCII case aside), so that the
/// common names (`tool`, `argv`, `tier`) skip the regular expression; it cost more than the rest
/// of writing a record.
static SECRET_NAME_HINTS: LazyLock<AhoCorasick> = LazyLock::new(|| {
    hint_matcher(&[
        "token",
        "secret",
        "passw",
        "passp",
        "key",
        "credential",
        "authorization",
        "cookie",
    ])
});

fn hint_matcher(hints: &[&str]) -> AhoCorasick {
    match AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .build(hints)
    {
        Ok(m) => m,
        Err(e) => panic!("built-in redaction hints are invalid: {e}"),
    }
}

/// Every hint of every pattern in one automaton: pattern id `i` is `ALL_HINTS[i]`, belonging to
/// the pattern `HINT_OWNER[i]`.
static ALL_HINTS: LazyLock<(AhoCorasick, Vec<usize>)> = LazyLock::new(|| {
    let (owners, hints): (Vec<usize>, Vec<&str>) = HINTS
        .iter()
        .enumerate()
        .flat_map(|(i, hs)| hs.iter().map(move |h| (i, *h)))
        .unzip();
    (hint_matcher(&hints), owners)
});

/// Whether a variable or field name says its value is a secret (`GITHUB_TOKEN`, `password`).
pub fn is_secret_name(name: &str) -> bool {
    SECRET_NAME_HINTS.is_match(name) && SECRET_NAME.is_match(name)
}

/// The patterns (bit `i` for `PATTERNS[i]`) one of whose hints occurs in `s`, any ASCII case.
fn hinted_patterns(s: &str) -> u64 {
    let (matcher, owners) = &*ALL_HINTS;
    matcher
        .find_overlapping_iter(s)
        .fold(0, |bits, m| bits | 1 << owners[m.pattern().as_usize()])
}

/// Mask every secret in `s`, counting what was masked into `found`.
pub fn redact_str(s: &str, found: &mut Redactions) -> String {
    redact_str_changed(s, found).unwrap_or_else(|| s.to_owned())
}

/// [`redact_str`], or `None` when nothing was masked (the common case, without allocating).
fn redact_str_changed(s: &str, found: &mut Redactions) -> Option<String> {
    let hinted = hinted_patterns(s);
    if hinted == 0 {
        return None;
    }
    let mut out: Option<String> = None;
    for (i, pat) in PATTERNS.iter().enumerate() {
        let cur = out.as_deref().unwrap_or(s);
        if hinted & (1 << i) == 0 || !pat.re.is_match(cur) {
            continue;
        }
        let mut result = String::with_capacity(cur.len());
        let mut last = 0;
        let mut n = 0u64;
        for caps in pat.re.captures_iter(cur) {
            let Some(m) = caps.get(pat.group) else {
                continue;
            };
            if m.as_str().starts_with("[REDACTED:") {
                continue;
            }
            result.push_str(&cur[last..m.start()]);
            result.push_str(&mask(pat.kind));
            last = m.end();
            n += 1;
        }
        if n > 0 {
            result.push_str(&cur[last..]);
            out = Some(result);
            *found.entry(pat.kind.to_owned()).or_default() += n;
        }
    }
    out
}

/// Programs whose `-p VALUE` / `-pVALUE` is a password.
fn is_db_client(program: &str) -> bool {
    let base = program.rsplit('/').next().unwrap_or(program);
    matches!(
        base,
        "mysql"
            | "mysqldump"
            | "mysqladmin"
            | "mariadb"
            | "mariadb-dump"
            | "mysqlsh"
            | "mongo"
            | "mongosh"
            | "mongodump"
            | "mongorestore"
    )
}

/// Flags whose value (the next element) is a secret, compared in any ASCII case.
const SECRET_FLAGS: [&str; 10] = [
    "password",
    "passwd",
    "pass",
    "token",
    "secret",
    "api-key",
    "apikey",
    "api_key",
    "access-token",
    "client-secret",
];

/// Mask secrets in an argv, where a flag's value is the next element.
pub fn redact_argv(argv: &[String], found: &mut Redactions) -> Vec<String> {
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    argv_changes(&refs, found)
        .into_iter()
        .zip(argv)
        .map(|(c, a)| c.unwrap_or_else(|| a.clone()))
        .collect()
}

/// What [`redact_argv`] replaces, element by element (`None`: kept as it is).
fn argv_changes(argv: &[&str], found: &mut Redactions) -> Vec<Option<String>> {
    let db = argv.first().is_some_and(|p| is_db_client(p));
    let mut out = Vec::with_capacity(argv.len());
    let mut mask_next: Option<&'static str> = None;
    for &a in argv {
        if let Some(kind) = mask_next.take() {
            out.push(Some(mask(kind)));
            *found.entry(kind.to_owned()).or_default() += 1;
            continue;
        }
        let flag = a.trim_start_matches('-');
        let is_flag = a.starts_with('-') && !a.contains('=');
        if is_flag && SECRET_FLAGS.iter().any(|f| flag.eq_ignore_ascii_case(f)) {
            out.push(None);
            mask_next = Some("password-flag");
            continue;
        }
        if db && a == "-p" {
            // Over-masking a database name (mysql's prompt form) beats leaking a password.
            out.push(None);
            mask_next = Some("password-flag");
            continue;
        }
        if db && a.starts_with("-p") && a.len() > 2 && !a.starts_with("--") {
            out.push(Some(format!("-p{}", mask("password-flag"))));
            *found.entry("password-flag".to_owned()).or_default() += 1;
            continue;
        }
        if a.eq_ignore_ascii_case("-h") || a.eq_ignore_ascii_case("--header") {
            out.push(None);
            continue;
        }
        out.push(redact_str_changed(a, found));
    }
    out
}

/// Mask secrets in every string of a JSON value; arrays of strings are treated as argvs, and
/// string values of secret-named object keys are masked whole.
pub fn redact_value(v: &Value, found: &mut Redactions) -> Value {
    let mut v = v.clone();
    redact_value_in_place(&mut v, found);
    v
}

/// [`redact_value`] on a value the caller owns: only what is masked is replaced, so a record
/// without secrets is neither copied nor reallocated.
pub fn redact_value_in_place(v: &mut Value, found: &mut Redactions) {
    match v {
        Value::String(s) => {
            if let Some(masked) = redact_str_changed(s, found) {
                *s = masked;
            }
        }
        Value::Array(a) if !a.is_empty() && a.iter().all(Value::is_string) => {
            let changes = {
                let argv: Vec<&str> = a.iter().filter_map(Value::as_str).collect();
                argv_changes(&argv, found)
            };
            for (x, c) in a.iter_mut().zip(changes) {
                if let Some(c) = c {
                    *x = Value::String(c);
                }
            }
        }
        Value::Array(a) => {
            for x in a {
                redact_value_in_place(x, found);
            }
        }
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                let secret = matches!(x, Value::String(s) if !s.is_empty()) && is_secret_name(k);
                if secret {
                    *found.entry("secret-field".to_owned()).or_default() += 1;
                    *x = Value::String(mask("secret-field"));
                } else {
                    redact_value_in_place(x, found);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> (String, Redactions) {
        let mut f = Redactions::new();
        let out = redact_str(s, &mut f);
        (out, f)
    }

    // Assembled at run time so that no literal secret-looking token sits in the source.
    fn tok(prefix: &str, n: usize) -> String {
        let body: String = "aB3dE5fG7hJ9kL1mN2pQ4rS6tU8vW0xYz"
            .chars()
            .cycle()
            .take(n)
            .collect();
        format!("{prefix}{body}")
    }

    #[test]
    fn known_token_shapes_are_masked() {
        let cases = [
            (tok("ghp_", 36), "github-token"),
            (tok("github_pat_", 60), "github-token"),
            (tok("glpat-", 20), "gitlab-token"),
            (tok("xoxb-", 30), "slack-token"),
            (format!("AKIA{}", "IOSFODNN7EXAMPLE"), "aws-access-key-id"),
            (tok("sk-", 40), "api-key"),
            (
                format!("eyJ{}.eyJ{}.{}", tok("", 10), tok("", 12), tok("", 20)),
                "jwt",
            ),
        ];
        for (secret, kind) in cases {
            let (out, f) = r(&format!("curl -d x={secret} https://example.invalid"));
            assert!(!out.contains(&secret), "{kind} leaked: {out}");
            assert_eq!(f.get(kind), Some(&1), "{kind}: {f:?} in {out}");
        }
    }

    #[test]
    fn headers_urls_flags_and_variables() {
        let secret = "s3cr3t-v4lue";
        let inputs = [
            format!("curl -H 'Authorization: token {secret}' x"),
            format!("curl -H \"X: y\" --oauth2-bearer x -H 'bearer {secret}'"),
            format!("git clone https://bob:{secret}@example.invalid/r.git"),
            format!("psql --password={secret}"),
            format!("tool --token {secret}"),
            format!("mysql -u root -p{secret} db"),
            format!("GITHUB_TOKEN={secret} make"),
            format!("export DB_PASSWORD={secret}"),
        ];
        for i in inputs {
            let (out, f) = r(&i);
            assert!(!out.contains(secret), "leaked: {i} -> {out}");
            assert!(!f.is_empty());
        }
        // Ordinary text stays as it was.
        let (out, f) = r("cargo test -p warden-audit --release");
        assert_eq!(out, "cargo test -p warden-audit --release");
        assert!(f.is_empty());
    }

    #[test]
    fn pem_private_keys_are_masked_whole() {
        let pem = format!(
            "before\n-----BEGIN OPENSSH PRIVATE KEY-----\n{}\n{}\n-----END OPENSSH PRIVATE KEY-----\nafter",
            tok("", 64),
            tok("", 20)
        );
        let (out, f) = r(&pem);
        assert_eq!(out, "before\n[REDACTED:private-key]\nafter");
        assert_eq!(f.get("private-key"), Some(&1));
        // A truncated block (no END line) is masked to the end.
        let (out, _) = r(&format!("-----BEGIN RSA PRIVATE KEY-----\n{}", tok("", 40)));
        assert_eq!(out, "[REDACTED:private-key]");
    }

    #[test]
    fn argv_flags_mask_the_next_element() {
        let mut f = Redactions::new();
        let argv: Vec<String> = ["mysql", "-p", "hunter2x", "-u", "me"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let out = redact_argv(&argv, &mut f);
        assert_eq!(out[2], "[REDACTED:password-flag]");
        assert_eq!(out[4], "me");
        let argv: Vec<String> = ["mysql", "-phunter2x", "--password", "pw2", "x"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let out = redact_argv(&argv, &mut f);
        assert!(
            !out.iter()
                .any(|a| a.contains("hunter2x") || a.contains("pw2")),
            "{out:?}"
        );
        assert_eq!(f.get("password-flag"), Some(&3));
        // `-p` of other programs (cargo's package flag) is left alone.
        let argv: Vec<String> = ["cargo", "test", "-p", "foo"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(redact_argv(&argv, &mut f), argv);
        // Flag names in any case; `-H`/`--Header` values go through the string patterns.
        let argv: Vec<String> = ["tool", "--Api-Key", "k3y", "-TOKEN", "t0k", "-H", "x: y"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let out = redact_argv(&argv, &mut f);
        assert_eq!(out[2], "[REDACTED:password-flag]");
        assert_eq!(out[4], "[REDACTED:password-flag]");
        assert_eq!(out[6], "x: y");
    }

    /// In place and by copy agree, and a value without secrets comes back untouched.
    #[test]
    fn in_place_redaction_matches_the_copying_one() {
        let secret = tok("ghp_", 36);
        let v = serde_json::json!({
            "argv": ["curl", "--token", "abc", &secret],
            "env": {"API_KEY": "v", "HOME": "/root"},
            "nested": [{"password": "p"}, 3, null, &format!("x {secret}")],
            "plain": "cargo test",
        });
        let mut by_copy = Redactions::new();
        let copied = redact_value(&v, &mut by_copy);
        let mut in_place = Redactions::new();
        let mut w = v.clone();
        redact_value_in_place(&mut w, &mut in_place);
        assert_eq!(copied, w);
        assert_eq!(by_copy, in_place);
        assert!(!w.to_string().contains(&secret));
        assert_eq!(w["plain"], "cargo test");
        assert_eq!(in_place.values().sum::<u64>(), 5, "{in_place:?}");
        let clean = serde_json::json!({"tool": "Bash", "argv": ["ls", "-la"], "n": 1});
        let mut c = clean.clone();
        let mut none = Redactions::new();
        redact_value_in_place(&mut c, &mut none);
        assert_eq!(c, clean);
        assert!(none.is_empty());
    }

    #[test]
    fn json_values_and_secret_fields() {
        let secret = tok("ghp_", 36);
        let v = serde_json::json!({
            "argv": ["gh", "api", "-H", format!("Authorization: Bearer {secret}")],
            "arguments": {"password": "pw", "query": "select 1"},
            "n": 3,
        });
        let mut f = Redactions::new();
        let out = redact_value(&v, &mut f);
        let text = out.to_string();
        assert!(
            !text.contains(&secret) && !text.contains("\"pw\""),
            "{text}"
        );
        assert!(text.contains("select 1"));
        assert_eq!(out["n"], 3);
    }

    #[test]
    fn secret_names_whatever_the_case_and_plain_names() {
        for name in [
            "GITHUB_TOKEN",
            "password",
            "Db_PassWd",
            "passphrase",
            "apiKey",
            "API_KEY",
            "private_key",
            "AWS_ACCESS_KEY_ID",
            "credentials",
            "Authorization",
            "cookie",
            "client_secret",
        ] {
            assert!(is_secret_name(name), "{name} names a secret");
        }
        for name in [
            "tool",
            "argv",
            "tier",
            "rule",
            "monkey_business_pass",
            "PATH",
        ] {
            assert_eq!(
                is_secret_name(name),
                SECRET_NAME.is_match(name),
                "{name}: prefilter and expression disagree"
            );
        }
        assert!(!is_secret_name("tool") && !is_secret_name("PATH"));
    }

    #[test]
    fn hints_never_hide_a_match_whatever_the_case() {
        // The literal prefilter runs on a lower-cased copy: upper- and mixed-case spellings must
        // still reach the regular expressions.
        let cases = [
            ("MY_API_KEY=abcdef123456", "secret-variable"),
            ("AUTHORIZATION: Basic Zm9vOmJhcg==", "authorization"),
            ("curl -H 'BeArEr abcdefghijkl' x", "bearer"),
            ("HTTPS://bob:hunter2@example.invalid/x", "url-credentials"),
            ("--PASSWORD=s3cr3tvalue", "password-flag"),
            ("key AKIAABCDEFGHIJKLMNOP here", "aws-access-key-id"),
            ("mysql -u root -phunter2 db", "password-flag"),
        ];
        for (text, kind) in cases {
            let mut found = Redactions::new();
            let out = redact_str(text, &mut found);
            assert!(found.contains_key(kind), "{text:?} -> {out:?} ({found:?})");
        }
        for (p, h) in PATTERNS.iter().zip(HINTS) {
            assert!(
                h.iter().all(|x| *x == x.to_ascii_lowercase()),
                "hints of {} are lower case",
                p.kind
            );
        }
    }
}
