//! The credential broker: a secret named by `[[network.credential]]` never enters the sandbox.
//! Inside, its variable holds a placeholder of the same shape (a known token prefix is kept so
//! clients that check it keep working); the proxy swaps the placeholder for the real value in
//! the headers of requests to the credential's hosts — also inside `Authorization: Basic`, the
//! way git sends tokens — and refuses a request that carries it anywhere else (an exfiltration
//! attempt, recorded as such).

use crate::pattern::{Host, HostPattern, Target};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hyper::header::{HeaderMap, HeaderValue};
use warden_policy::Tier;
use warden_policy::sections::network::NetworkCredential;

/// Token prefixes kept in placeholders, longest first where one extends another.
const KNOWN_PREFIXES: &[&str] = &[
    "github_pat_",
    "glpat-",
    "ghp_",
    "gho_",
    "ghs_",
    "ghu_",
    "ghr_",
    "npm_",
    "sk-ant-",
    "sk-proj-",
    "sk-",
    "xoxb-",
    "xoxp-",
];

/// One brokered secret.
#[derive(Clone)]
pub struct Credential {
    /// `id` from the governance file.
    pub id: String,
    hosts: Vec<HostPattern>,
    secret: String,
    /// What the sandbox sees instead of the secret.
    pub placeholder: String,
    /// The variable that holds the placeholder inside the sandbox.
    pub env_name: String,
    /// The least granted tier at which a request may carry it.
    pub tier: Tier,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("id", &self.id)
            .field("env_name", &self.env_name)
            .field("tier", &self.tier)
            .finish_non_exhaustive()
    }
}

impl Credential {
    /// A credential for `hosts` (patterns as in `allow`) with a fresh placeholder.
    pub fn new(
        id: &str,
        hosts: &[String],
        secret: String,
        env_name: &str,
        tier: Tier,
    ) -> Result<Credential, String> {
        let hosts = hosts
            .iter()
            .map(|h| Target::parse(h).map(|t| t.host).map_err(|e| e.to_string()))
            .collect::<Result<Vec<_>, _>>()?;
        if secret.len() < 8 {
            return Err(format!(
                "credential `{id}`: the secret is shorter than 8 characters"
            ));
        }
        Ok(Credential {
            id: id.to_owned(),
            hosts,
            placeholder: placeholder_for(&secret),
            secret,
            env_name: env_name.to_owned(),
            tier,
        })
    }

    fn for_host(&self, host: &Host) -> bool {
        self.hosts.iter().any(|p| p.matches(host))
    }
}

/// Loads every `[[network.credential]]`: the secret from `lookup(env)` (the caller's
/// environment) or from `file` (`~/` is `home`). Errors name the credential.
pub fn load_credentials(
    specs: &[NetworkCredential],
    home: &std::path::Path,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<Vec<Credential>, String> {
    let mut out = Vec::new();
    for c in specs {
        let (secret, env_name) = match (&c.env, &c.file) {
            (Some(var), None) => (
                lookup(var)
                    .ok_or_else(|| format!("credential `{}`: variable {var} is not set", c.id))?,
                var.clone(),
            ),
            (None, Some(file)) => {
                let path = match file.strip_prefix("~/") {
                    Some(rest) => home.join(rest),
                    None => std::path::PathBuf::from(file),
                };
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("credential `{}`: {file}: {e}", c.id))?;
                let env_as = c.env_as.clone().ok_or_else(|| {
                    format!("credential `{}`: a `file` credential needs `env_as`", c.id)
                })?;
                (text.trim().to_owned(), env_as)
            }
            _ => {
                return Err(format!(
                    "credential `{}`: give exactly one of `env` and `file`",
                    c.id
                ));
            }
        };
        out.push(Credential::new(
            &c.id,
            &c.hosts,
            secret,
            &env_name,
            c.tier.unwrap_or(Tier::Auto),
        )?);
    }
    Ok(out)
}

/// A placeholder with the secret's shape: its known prefix, then random alphanumeric
/// characters to the same length (at least 16 of them).
pub fn placeholder_for(secret: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let prefix = KNOWN_PREFIXES
        .iter()
        .find(|p| secret.starts_with(*p))
        .copied()
        .unwrap_or("");
    let n = secret.len().saturating_sub(prefix.len()).max(16);
    let mut bytes = vec![0u8; n];
    // Without randomness no placeholder is safe to hand out; Linux always has it.
    if let Err(e) = getrandom::fill(&mut bytes) {
        panic!("no randomness for a credential placeholder: {e}");
    }
    let rest: String = bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect();
    format!("{prefix}{rest}")
}

/// What a request carries after the swap.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Carried {
    /// Ids of the credentials swapped in.
    pub swapped: Vec<String>,
    /// The strictest `tier` among them.
    pub tier: Option<Tier>,
}

/// A placeholder sent where its credential does not belong.
#[derive(Debug)]
pub(crate) struct Exfiltration {
    pub id: String,
}

/// The one-line reason given for an [`Exfiltration`].
pub(crate) fn exfiltration_reason(x: &Exfiltration) -> String {
    format!(
        "the request carries the placeholder of credential `{}` to a host it is not for; \
         refused and recorded as an exfiltration attempt",
        x.id
    )
}

/// Swaps placeholders for secrets in the `headers` of a request to `host`. A placeholder in a
/// header or in `target` (path and query) of a request to a host that is not the credential's
/// is an exfiltration attempt: nothing is swapped and the request must be refused.
pub(crate) fn swap(
    creds: &[Credential],
    host: &Host,
    target: &str,
    headers: &mut HeaderMap,
) -> Result<Carried, Exfiltration> {
    let mut carried = Carried::default();
    for c in creds {
        let in_target = target.contains(&c.placeholder);
        let in_headers = headers.values().any(|v| carries(v, &c.placeholder));
        if (in_target || in_headers) && !c.for_host(host) {
            return Err(Exfiltration { id: c.id.clone() });
        }
    }
    for (_, v) in headers.iter_mut() {
        for c in creds {
            if let Some(new) = replaced(v, c) {
                *v = new;
                if !carried.swapped.contains(&c.id) {
                    carried.swapped.push(c.id.clone());
                    carried.tier = Some(carried.tier.map_or(c.tier, |t| t.max(c.tier)));
                }
            }
        }
    }
    Ok(carried)
}

/// The Basic credentials (`user:password`) of a header value, decoded.
fn basic(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let (scheme, rest) = s.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = STANDARD.decode(rest.trim()).ok()?;
    String::from_utf8(raw).ok()
}

fn carries(v: &HeaderValue, placeholder: &str) -> bool {
    let p = placeholder.as_bytes();
    v.as_bytes().windows(p.len()).any(|w| w == p)
        || basic(v).is_some_and(|b| b.contains(placeholder))
}

fn replaced(v: &HeaderValue, c: &Credential) -> Option<HeaderValue> {
    let text = match basic(v).filter(|b| b.contains(&c.placeholder)) {
        Some(b) => format!(
            "Basic {}",
            STANDARD.encode(b.replace(&c.placeholder, &c.secret))
        ),
        None => {
            let s = v.to_str().ok()?;
            if !s.contains(&c.placeholder) {
                return None;
            }
            s.replace(&c.placeholder, &c.secret)
        }
    };
    let mut out = HeaderValue::from_str(&text).ok()?;
    out.set_sensitive(true);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cred(secret: &str) -> Credential {
        Credential::new(
            "gh",
            &["forge.invalid".into()],
            secret.into(),
            "GH_TOKEN",
            Tier::Async,
        )
        .unwrap()
    }

    #[test]
    fn placeholders_keep_the_prefix_and_length_but_not_the_secret() {
        for s in [
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "github_pat_11AAAAAAA0xxxxxxxxxxxxxxxx",
            "glpat-abcdefghijklmnopqrst",
            "npm_abcdefghijklmnopqrstuvwxyz0123456789",
            "sk-abcdefghijklmnopqrstuvwxyz",
        ] {
            let p = placeholder_for(s);
            assert_eq!(p.len(), s.len(), "{s}");
            assert_ne!(p, s);
            let prefix = KNOWN_PREFIXES.iter().find(|x| s.starts_with(**x)).unwrap();
            assert!(p.starts_with(prefix), "{p}");
        }
        assert_ne!(
            placeholder_for("ghp_x1234567890"),
            placeholder_for("ghp_x1234567890")
        );
    }

    #[test]
    fn swapped_for_its_host_in_bearer_and_basic_refused_elsewhere() {
        let c = cred("ghp_realrealrealrealrealreal");
        let creds = std::slice::from_ref(&c);
        let host = Host::parse("forge.invalid").unwrap();
        let mut h = HeaderMap::new();
        let bearer = format!("Bearer {}", c.placeholder);
        h.insert("authorization", bearer.parse().unwrap());
        let carried = swap(creds, &host, "/", &mut h).unwrap();
        assert_eq!(carried.swapped, ["gh"]);
        assert_eq!(carried.tier, Some(Tier::Async));
        assert_eq!(h["authorization"], "Bearer ghp_realrealrealrealrealreal");

        let mut h = HeaderMap::new();
        let b = STANDARD.encode(format!("x-access-token:{}", c.placeholder));
        h.insert("authorization", format!("Basic {b}").parse().unwrap());
        swap(creds, &host, "/", &mut h).unwrap();
        assert_eq!(
            basic(&h["authorization"]).unwrap(),
            "x-access-token:ghp_realrealrealrealrealreal"
        );

        let other = Host::parse("evil.invalid").unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-anything", c.placeholder.parse().unwrap());
        assert!(swap(creds, &other, "/", &mut h).is_err());
        assert_eq!(h["x-anything"], c.placeholder.as_str(), "nothing swapped");
        let mut h = HeaderMap::new();
        let q = format!("/?t={}", c.placeholder);
        assert!(swap(creds, &other, &q, &mut h).is_err());
    }
}
