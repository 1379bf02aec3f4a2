//! Facts about an HTTP request that network rules match on, derived the same way wherever a
//! request is described (the egress proxy, `[[test]]` cases): the path without its query, and
//! the git smart-HTTP service a request belongs to.

/// What [`http_request_facts`] derives from a request target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpRequestFacts {
    /// The path, query and fragment removed (`/` when empty).
    pub path: String,
    /// `git-upload-pack` or `git-receive-pack` for git smart HTTP: the ref advertisement
    /// (`…/info/refs?service=NAME`) and the service request (`POST …/NAME`).
    pub service: Option<String>,
}

/// The git smart-HTTP services; a push is `git-receive-pack`, a fetch `git-upload-pack`.
const GIT_SERVICES: [&str; 2] = ["git-upload-pack", "git-receive-pack"];

/// Splits a request target (`/path?query`) into the facts rules match on.
pub fn http_request_facts(path_and_query: &str) -> HttpRequestFacts {
    let end = path_and_query
        .find(['?', '#'])
        .unwrap_or(path_and_query.len());
    let path = &path_and_query[..end];
    let query = path_and_query[end..]
        .strip_prefix('?')
        .map(|q| q.split('#').next().unwrap_or(""));
    let last = path.rsplit('/').next().unwrap_or("");
    let service = if GIT_SERVICES.contains(&last) {
        Some(last.to_owned())
    } else if path.ends_with("/info/refs") {
        // The advertisement names its service in the query; a repeated `service=` is judged by
        // the strictest one, so `?service=git-upload-pack&service=git-receive-pack` is a push.
        let named: Vec<&str> = query
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.strip_prefix("service="))
            .collect();
        ["git-receive-pack", "git-upload-pack"]
            .into_iter()
            .find(|s| named.contains(s))
            .map(str::to_owned)
    } else {
        None
    };
    HttpRequestFacts {
        path: if path.is_empty() {
            "/".into()
        } else {
            path.to_owned()
        },
        service,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn git_services_and_query_stripping() {
        let f = http_request_facts("/o/r.git/info/refs?service=git-receive-pack");
        assert_eq!(f.path, "/o/r.git/info/refs");
        assert_eq!(f.service.as_deref(), Some("git-receive-pack"));
        let f = http_request_facts("/o/r.git/git-upload-pack");
        assert_eq!(f.service.as_deref(), Some("git-upload-pack"));
        let f = http_request_facts(
            "/o/r.git/info/refs?service=git-upload-pack&service=git-receive-pack",
        );
        assert_eq!(f.service.as_deref(), Some("git-receive-pack"));
        let f = http_request_facts("/search?q=git-receive-pack&token=s3cret");
        assert_eq!(f.path, "/search");
        assert_eq!(f.service, None);
        assert_eq!(http_request_facts("?x=1").path, "/");
    }
}
