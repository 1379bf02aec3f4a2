//! The per-run certificate authority of HTTPS interception: generated in memory when a run
//! starts (its private key is never written anywhere), it mints one leaf certificate per host
//! the sandbox contacts, cached for the run, and hands out the PEM bundle (system roots + this
//! CA) that the sandbox trusts instead of the system bundle.

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose,
};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Why a certificate could not be made.
#[derive(Debug, thiserror::Error)]
#[error("certificate authority: {0}")]
pub struct CaError(String);

/// A leaf certificate for one host, with the chain a TLS server sends.
#[derive(Debug, Clone)]
pub struct Leaf {
    /// Leaf first, then the CA.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key (one key for every leaf of a run; it lives only in memory).
    pub key: Arc<PrivateKeyDer<'static>>,
}

/// A certificate authority that exists for one run.
pub struct CertificateAuthority {
    issuer: CertifiedIssuer<'static, KeyPair>,
    /// One key pair for every leaf: signing a certificate is cheap, generating keys less so.
    leaf_key: KeyPair,
    leaves: Mutex<HashMap<String, Leaf>>,
}

impl std::fmt::Debug for CertificateAuthority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CertificateAuthority")
            .field("leaves", &self.leaves.lock().map(|l| l.len()).unwrap_or(0))
            .finish_non_exhaustive()
    }
}

impl CertificateAuthority {
    /// A fresh CA (ECDSA P-256), valid for this process only.
    pub fn generate() -> Result<CertificateAuthority, CaError> {
        let err = |e: rcgen::Error| CaError(e.to_string());
        let key = KeyPair::generate().map_err(err)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(err)?;
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "Warden per-run interception CA");
        dn.push(DnType::OrganizationName, "Warden");
        params.distinguished_name = dn;
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let issuer = CertifiedIssuer::self_signed(params, key).map_err(err)?;
        Ok(CertificateAuthority {
            issuer,
            leaf_key: KeyPair::generate().map_err(err)?,
            leaves: Mutex::new(HashMap::new()),
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> String {
        self.issuer.pem()
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// The leaf for `host` (a name or an IP literal), minted on first use and then cached.
    pub fn leaf(&self, host: &str) -> Result<Leaf, CaError> {
        if let Ok(cache) = self.leaves.lock()
            && let Some(l) = cache.get(host)
        {
            return Ok(l.clone());
        }
        let err = |e: rcgen::Error| CaError(e.to_string());
        let mut params = CertificateParams::new(vec![host.to_owned()]).map_err(err)?;
        params
            .distinguished_name
            .push(DnType::CommonName, host.to_owned());
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let cert = params
            .signed_by(&self.leaf_key, &self.issuer)
            .map_err(err)?;
        let leaf = Leaf {
            chain: vec![cert.der().clone(), self.issuer.der().clone()],
            key: Arc::new(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
                self.leaf_key.serialize_der(),
            ))),
        };
        if let Ok(mut cache) = self.leaves.lock() {
            cache.insert(host.to_owned(), leaf.clone());
        }
        Ok(leaf)
    }

    /// What the sandbox trusts: the system's roots (the bundle Warden itself would use) followed
    /// by this CA. Programs inside verify real hosts as before and intercepted ones through it.
    pub fn trust_bundle_pem(&self) -> String {
        let mut out = system_bundle_pem().unwrap_or_default();
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&self.cert_pem());
        out
    }

    /// Write [`Self::trust_bundle_pem`] to a new file `to`, the system roots copied by the
    /// kernel (`copy_file_range`) rather than read into memory and written back: a run starts
    /// with this, and the system bundle is some 200 KiB.
    pub fn write_trust_bundle(&self, to: &Path) -> std::io::Result<()> {
        use std::io::Write;
        use std::os::unix::fs::FileExt;
        let mut out = std::fs::File::create(to)?;
        if let Some(mut system) = system_bundle_file() {
            let copied = std::io::copy(&mut system, &mut out)?;
            let mut last = [0u8; 1];
            if copied > 0 && system.read_at(&mut last, copied - 1)? == 1 && last[0] != b'\n' {
                out.write_all(b"\n")?;
            }
        }
        out.write_all(self.cert_pem().as_bytes())
    }
}

/// The standard locations of the system's PEM bundle, most common first.
pub const SYSTEM_BUNDLE_PATHS: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
    "/etc/ssl/cert.pem",
];

/// The system PEM bundle: `SSL_CERT_FILE` of Warden's environment when set, else the first
/// standard bundle file that exists.
fn system_bundle_pem() -> Option<String> {
    system_bundle_paths().find_map(|p| std::fs::read_to_string(&p).ok())
}

/// The system PEM bundle opened, chosen as [`system_bundle_pem`] chooses it.
fn system_bundle_file() -> Option<std::fs::File> {
    system_bundle_paths().find_map(|p| {
        let f = std::fs::File::open(&p).ok()?;
        f.metadata().is_ok_and(|m| m.is_file()).then_some(f)
    })
}

fn system_bundle_paths() -> impl Iterator<Item = PathBuf> {
    let from_env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    from_env
        .into_iter()
        .chain(SYSTEM_BUNDLE_PATHS.iter().map(PathBuf::from))
}

/// The certificates of a PEM file (for `[network] upstream_ca`).
pub fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    use rustls::pki_types::pem::PemObject;
    let certs: Result<Vec<_>, _> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .collect();
    let certs = certs.map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{}: no certificate in the file", path.display()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bundle written for the sandbox is the same text as the one built in memory: the
    /// system roots (newline-terminated) followed by this run's CA.
    #[test]
    fn the_written_bundle_is_the_system_roots_and_the_run_ca() {
        let ca = CertificateAuthority::generate().expect("CA");
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("bundle.pem");
        ca.write_trust_bundle(&path).expect("write the bundle");
        let written = std::fs::read_to_string(&path).expect("read it back");
        assert_eq!(written, ca.trust_bundle_pem());
        assert!(written.ends_with(&ca.cert_pem()));
        if let Some(system) = system_bundle_pem() {
            assert!(written.starts_with(system.trim_end_matches('\n')));
        }
    }
}
