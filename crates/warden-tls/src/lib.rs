//! TLS settings in one place, so every HTTP client Warden has (the approvals client, webhooks,
//! the OTLP exporter) trusts the same certificates and the approval server terminates TLS the
//! same way: rustls, the system trust store (honouring `SSL_CERT_FILE` and `SSL_CERT_DIR`) plus
//! an optional CA file named by `WARDEN_CA_FILE` (a private CA for an internal server).
//!
//! This crate depends on no crate of ours, so the layer crates may all use it.

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Environment variable naming an extra PEM file of CA certificates every client trusts.
pub const CA_FILE_ENV: &str = "WARDEN_CA_FILE";

/// Failures loading certificates or keys.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error(
        "no trusted CA certificates: the system trust store is empty and no {CA_FILE_ENV} is set"
    )]
    NoRoots,
    #[error("TLS configuration: {0}")]
    Config(String),
}

fn file_err(path: &Path, message: impl std::fmt::Display) -> TlsError {
    TlsError::File {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// The certificates of a PEM file (at least one, else an error).
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err(path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err(path, e))?;
    if certs.is_empty() {
        return Err(file_err(path, "no PEM certificate in the file"));
    }
    Ok(certs)
}

/// Trusted roots: the system store (`SSL_CERT_FILE`/`SSL_CERT_DIR` when set) plus `ca_file`.
/// An unreadable CA file is an error (the operator asked for it); an unreadable system store is
/// not, as long as some root remains.
pub fn trusted_roots(ca_file: Option<&Path>) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let mut roots = rustls_native_certs::load_native_certs().certs;
    if let Some(p) = ca_file {
        roots.extend(load_certs(p)?);
    }
    if roots.is_empty() {
        return Err(TlsError::NoRoots);
    }
    Ok(roots)
}

/// The CA file configured through [`CA_FILE_ENV`], if any.
pub fn ca_file_from_env() -> Option<PathBuf> {
    std::env::var_os(CA_FILE_ENV)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// ureq TLS settings trusting `roots`.
pub fn ureq_tls(roots: &[CertificateDer<'static>]) -> ureq::tls::TlsConfig {
    let certs: Vec<ureq::tls::Certificate<'static>> = roots
        .iter()
        .map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
        .build()
}

/// The process-wide client TLS settings: system store plus `WARDEN_CA_FILE`, loaded once (on
/// first use, so a process that never speaks `https://` never reads the store).
pub fn client_tls() -> Result<ureq::tls::TlsConfig, TlsError> {
    static CACHE: OnceLock<Result<ureq::tls::TlsConfig, String>> = OnceLock::new();
    CACHE
        .get_or_init(|| {
            trusted_roots(ca_file_from_env().as_deref())
                .map(|r| ureq_tls(&r))
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(TlsError::Config)
}

/// A ureq agent configuration builder with the process-wide TLS settings applied; when the
/// trust store cannot be loaded, the error is kept for the first `https://` request to report
/// (plain-HTTP use stays possible).
pub fn agent_builder() -> ureq::config::ConfigBuilder<ureq::typestate::AgentScope> {
    let b = ureq::Agent::config_builder();
    match client_tls() {
        Ok(tls) => b.tls_config(tls),
        // No roots at all: ureq's default would trust its bundled roots; trust none instead.
        Err(_) => b.tls_config(ureq_tls(&[])),
    }
}

/// A rustls server configuration from a PEM certificate chain and a PEM private key.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let chain = load_certs(cert)?;
    let key = PrivateKeyDer::from_pem_file(key).map_err(|e| file_err(key, e))?;
    let mut cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| TlsError::Config(e.to_string()))?
    .with_no_client_auth()
    .with_single_cert(chain, key)
    .map_err(|e| TlsError::Config(e.to_string()))?;
    cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(cfg))
}
