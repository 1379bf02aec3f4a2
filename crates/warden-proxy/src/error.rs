//! Errors of the proxy crate: bad configuration (named precisely, since it comes from a
//! governance file a user wrote) and failures to start listening.

use std::io;

/// Everything that can go wrong building a [`crate::ProxyConfig`] or starting the proxy.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum ProxyError {
    /// A host pattern in `[network]` could not be parsed.
    #[error("invalid network host pattern `{pattern}`: {reason}")]
    #[diagnostic(
        code(warden::network::pattern),
        help(
            "use `host`, `*.host` (subdomains only), `**.host` (host and subdomains), `*`, an IP \
             address or CIDR block, optionally followed by `:PORT` or `:*`"
        )
    )]
    Pattern {
        /// The pattern as written.
        pattern: String,
        /// What is wrong with it.
        reason: String,
    },
    /// An HTTP method in a network rule is not a valid method token.
    #[error("invalid HTTP method `{0}` in a network rule")]
    #[diagnostic(code(warden::network::method))]
    Method(String),
    /// The listener could not be created.
    #[error("cannot listen on {what}: {source}")]
    #[diagnostic(code(warden::network::listen))]
    Listen {
        /// The address or path.
        what: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The async runtime or its thread could not be started.
    #[error("cannot start the proxy runtime: {0}")]
    #[diagnostic(code(warden::network::runtime))]
    Runtime(#[source] io::Error),
    /// A `[network] upstream_ca` file cannot be read or holds no certificate.
    #[error("invalid [network] upstream_ca: {0}")]
    #[diagnostic(code(warden::network::upstream_ca))]
    UpstreamCa(String),
    /// TLS interception could not be set up.
    #[error("cannot set up TLS interception: {0}")]
    #[diagnostic(code(warden::network::intercept))]
    Intercept(String),
    /// The embedded defaults file does not parse (a build defect, caught by tests).
    #[error("built-in network defaults are invalid: {0}")]
    #[diagnostic(code(warden::network::defaults))]
    Defaults(String),
}
