//! warden-proxy: the sandbox's only way out to the network — an HTTP forward proxy (plain HTTP
//! and `CONNECT`) and a SOCKS5 proxy on one listener, enforcing a default-deny host/port/method
//! policy with a DNS-rebinding guard, and reporting every decision as a structured event.
//!
//! # Use
//!
//! ```no_run
//! use std::sync::Arc;
//! use warden_proxy::{Listen, ProxyConfig, spawn};
//! # fn main() -> Result<(), warden_proxy::ProxyError> {
//! let network = warden_policy::sections::NetworkConfig::default();
//! let config = ProxyConfig::from_network_config(&network, std::path::Path::new("."))?;
//! let proxy = spawn(
//!     Listen::Unix("/run/warden/proxy.sock".into()),
//!     config,
//!     Arc::new(|event| eprintln!("{event:?}")),
//! )?;
//! // ... run the sandboxed command with HTTP(S)_PROXY / ALL_PROXY pointing at the relay ...
//! proxy.shutdown();
//! # Ok(()) }
//! ```
//!
//! The API is synchronous: [`spawn`] starts a thread owning a tokio runtime and returns a
//! [`ProxyHandle`] once the listener is bound; dropping the handle stops everything.
//!
//! # One listener, two protocols
//!
//! The listener (a Unix socket, for bind-mounting into the sandbox, or a TCP address) reads the
//! first byte of each connection: `0x05` is SOCKS5 (RFC 1928; no-auth, `CONNECT`, IPv4 / domain /
//! IPv6 addresses), anything else is HTTP/1.1 — absolute-form requests (`GET http://host/…`) are
//! forwarded with the method visible to policy, `CONNECT host:port` opens an opaque tunnel.
//!
//! Once a tunnel is open the proxy only copies bytes: each direction runs as a blocking loop on
//! a thread of the runtime's blocking pool, moving data socket → pipe → socket with `splice(2)`
//! (zero-copy, kernel-side; one 256 KiB pipe per direction) where the kernel supports it,
//! otherwise through one 256 KiB buffer per direction. TCP connections whose peer is on this
//! host (clients on the loopback listener, local upstreams) use Reno congestion control from
//! their first packet: a pacing default such as BBR only costs timers on loopback (see
//! `host_local.rs`). Half-closes are passed on; stopping the
//! proxy shuts down the sockets of every open tunnel. Limits ([`Limits`]): resolution and connect
//! timeouts, a handshake timeout (first request / SOCKS negotiation), a cap on simultaneous
//! client connections and the number of worker threads.
//!
//! # Policy (see [`ProxyConfig::decide`])
//!
//! Default deny. A deny rule that matches wins over every allow rule; otherwise the first
//! matching allow rule admits the request. Host patterns: `example.com` (exactly),
//! `*.example.com` (subdomains at any depth, **not** the apex), `**.example.com` (apex and
//! subdomains), `*`, IP literals and CIDR blocks; optional `:PORT` or `:*`, and without a port a
//! pattern covers 80 and 443. Host names are normalised (lower case, trailing dot removed) and
//! IPv4-mapped IPv6 literals folded to IPv4 before matching. Rules may be restricted to HTTP
//! methods; a method-restricted allow never admits a tunnel (its method is invisible), a
//! method-restricted deny refuses tunnels to its host.
//!
//! A refusal is answered with `403` + `X-Warden-Deny: <rule>` + a body naming the rule (HTTP and
//! CONNECT) or SOCKS5 reply `0x02`; no upstream connection is made. A host that does not
//! resolve gets `502` + `X-Warden-Error: resolve-failed` (SOCKS `0x04`).
//!
//! # DNS-rebinding guard
//!
//! The proxy resolves names itself (bounded by a timeout; [`ProxyConfig::resolve_override`] can
//! pin a name to addresses), drops every non-public address (see [`non_public_reason`]: loopback,
//! RFC 1918, unique-local, link-local, CGNAT, unspecified, multicast, cloud metadata, …) unless
//! the host or address is listed in `allow_private`, and connects to exactly the address it
//! checked — there is no second lookup. IP literals go through the same guard.
//!
//! # Defaults and discovery
//!
//! [`ProxyConfig::from_network_config`] merges, in this order: the built-in denies of
//! `defaults/network.toml` (embedded, versioned), the `[network]` section's `deny`, `allow` and
//! `rule` entries, the built-in code-forge list (`forges = false` to drop), the package
//! registries discovered on this machine ([`discover_registries`]; `discover_registries =
//! false` to drop) and the workspace's git remotes ([`discover_git_remotes`]). Every rule
//! records its source ([`Rule::source`]) so `warden` can show why a host is allowed.
//!
//! Discovery runs on the host and runs nothing of the workspace: probed tools are found on
//! `PATH` entries outside it and run in a fresh private directory with a filtered environment
//! ([`PROBE_ENV_DROPPED`]); git remotes are parsed from the configuration files. Workspace files
//! (which sandboxed commands write) are believed only as a [`WorkspaceConfig`] snapshot holds
//! them: for a sandboxed run, [`ConfigWatch::begin`] takes it before the run and
//! [`ConfigWatch::end`] records what the run wrote as tainted, so a sandboxed command can never
//! widen what it or a later run may reach (see `workspace_trust.rs`). Only the host part of
//! registry discovery is cached ([`discover_registries_cached`]).
//!
//! # Events
//!
//! Exactly one [`NetworkEvent`] per request (plain HTTP, and each request inside an
//! intercepted tunnel) or tunnel (CONNECT, SOCKS5), emitted before any payload byte moves:
//! host, port, method, path and git service (when visible), handling, protocol, allowed or
//! not, the deciding rule id, a reason and the address connected to (or refused by the guard).
//! Malformed requests are refused (400, or the matching SOCKS5 error) and reported with rule
//! `bad-request`; connections that never get as far as a request produce no event.
//!
//! # Requests as judged actions
//!
//! [`spawn_judged`] takes a [`Judge`]: after the host allowlist admits a plain-HTTP request or
//! a tunnel the proxy cannot see into, and before any upstream connection, the judge gets a
//! [`NetRequest`] (host actually contacted, port, method, path without its query, git
//! smart-HTTP service, handling, brokered credentials) and answers [`Judgement::Proceed`] or
//! [`Judgement::Refuse`] (403 with a one-line body). In `warden` the judge is the governor's
//! nested decision in the running action's granted tier; [`spawn`] uses [`ProceedAll`].
//!
//! # HTTPS interception
//!
//! With [`ProxyConfig::ca`] set (a [`CertificateAuthority`] generated per run, in memory), a
//! tunnel whose first bytes are a TLS ClientHello is intercepted: the client gets a leaf of
//! that CA for the tunnel's host (minted once per host, cached for the run), the upstream is
//! reached over TLS verified against the system trust store (`SSL_CERT_FILE`/`SSL_CERT_DIR`
//! honoured) plus [`ProxyConfig::upstream_ca`] — a failure is answered 502 with the reason,
//! never downgraded — and HTTP/1.1 or HTTP/2 (whichever ALPN both sides agree on) is served
//! request by request, each judged. The TLS server name, `Host`, an absolute URI and
//! `:authority` must all name the tunnel's host (else refused: `sni-mismatch`,
//! `host-mismatch`); heads over [`MAX_REQUEST_HEAD`] are refused (431); non-TLS bytes in a
//! tunnel to port 443 are refused (`not-tls`). `[network] passthrough` hosts are tunnelled
//! untouched and judged by host alone. The sandbox trusts the CA through
//! [`CertificateAuthority::trust_bundle_pem`] (system roots + the CA).
//!
//! # Credentials
//!
//! [`ProxyConfig::credentials`] ([`load_credentials`] from `[[network.credential]]`): the
//! sandbox holds a placeholder ([`placeholder_for`]: the token's prefix and length kept); the
//! proxy swaps it for the secret in request headers (also inside `Authorization: Basic`) only
//! for the credential's hosts, tells the judge which credentials a request carries and the
//! least tier they need, and refuses a placeholder sent anywhere else (`credential-exfiltration`).
//!
//! # Dependency choice
//!
//! This crate depends on `warden-policy` for the `[network]` section type
//! ([`warden_policy::sections::NetworkConfig`]), [`warden_policy::Tier`] and the request facts
//! rules match on ([`warden_policy::http_request_facts`]). TLS is rustls (ring), certificates
//! rcgen, HTTP hyper.

mod addr;
mod ca;
mod client;
mod config;
mod credentials;
mod discover;
mod error;
mod event;
mod gate;
mod host_local;
mod http;
mod judge;
mod mitm;
mod pattern;
mod server;
mod socks;
mod splice;
mod workspace_trust;

pub use addr::non_public_reason;
pub use ca::{CaError, CertificateAuthority, Leaf, SYSTEM_BUNDLE_PATHS, read_pem_certs};
pub use config::{
    DEFAULTS_TOML, Defaults, Limits, ProxyConfig, Rule, RuleAction, RuleOrigin, Verdict,
};
pub use credentials::{Credential, load_credentials, placeholder_for};
pub use discover::{
    DiscoveredHost, DiscoveryEnv, PROBE_ENV_DROPPED, REGISTRY_CACHE_TTL, discover,
    discover_git_remotes, discover_git_remotes_trusting, discover_registries,
    discover_registries_cached, discover_registries_trusting, git_url_host_port, url_host_port,
};
pub use error::ProxyError;
pub use event::{Handling, NetworkEvent, Protocol};
pub use gate::EventSink;
pub use judge::{Judge, JudgeFuture, Judgement, NetRequest, ProceedAll};
pub use mitm::MAX_REQUEST_HEAD;
pub use pattern::{DEFAULT_PORTS, Host, HostPattern, PortSpec, Target};
pub use server::{Listen, ProxyHandle, spawn, spawn_judged};
pub use workspace_trust::{ConfigWatch, STATE_DIR as DISCOVERY_STATE_DIR, WorkspaceConfig};
