//! The TLS settings of a wss:// link: the public roots, plus the CAs of `--ca-file`.
//!
//! Operators often put a TLS reverse proxy in front of the coordinator, with a certificate from
//! a private CA that no public root store knows. The settings are built once, at startup, so
//! that an unusable CA file stops the probe there, naming the option, instead of every
//! connection failing later with a certificate error.

use crate::config::ConfigError;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use rustls::{ClientConfig, RootCertStore};
use std::path::Path;
use std::sync::Arc;

/// Client settings trusting the Mozilla root store (webpki-roots) and every certificate of
/// `ca_file`.
pub fn client_config(ca_file: Option<&Path>) -> Result<Arc<ClientConfig>, ConfigError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = ca_file {
        let added = add_ca_file(&mut roots, path)
            .map_err(|reason| ConfigError::CaFile(path.to_path_buf(), reason))?;
        tracing::info!(ca_file = %path.display(), certificates = added, "extra CAs trusted for wss://");
    }
    // The provider is named rather than left to rustls: should another crate ever enable a
    // second one, rustls could no longer pick by itself and every wss:// connection would fail.
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("ring supports TLS 1.2 and 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Adds every certificate of the PEM file at `path` (other sections, such as a key, are
/// skipped); returns how many.
fn add_ca_file(roots: &mut RootCertStore, path: &Path) -> Result<usize, String> {
    let pem = std::fs::read(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut added = 0;
    for certificate in CertificateDer::pem_slice_iter(&pem) {
        let certificate = certificate.map_err(|e| format!("unreadable PEM: {e}"))?;
        roots
            .add(certificate)
            .map_err(|e| format!("certificate {} is not usable as a CA: {e}", added + 1))?;
        added += 1;
    }
    if added == 0 {
        return Err("no PEM certificate (BEGIN CERTIFICATE) in it".to_string());
    }
    Ok(added)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};

    /// A CA certificate and its key, both PEM.
    fn ca_pem() -> (String, String) {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        (params.self_signed(&key).unwrap().pem(), key.serialize_pem())
    }

    fn error_of(pem: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, pem).unwrap();
        let error = client_config(Some(&path)).unwrap_err().to_string();
        assert!(error.starts_with("cannot use --ca-file "), "{error}");
        assert!(error.contains(&path.display().to_string()), "{error}");
        error
    }

    #[test]
    fn every_certificate_of_the_ca_file_is_added_to_the_public_roots() {
        let (first, key) = ca_pem();
        let (second, _) = ca_pem();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.pem");
        std::fs::write(&path, format!("{first}{key}{second}")).unwrap();
        let mut roots = RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        };
        assert_eq!(add_ca_file(&mut roots, &path), Ok(2));
        assert_eq!(roots.len(), webpki_roots::TLS_SERVER_ROOTS.len() + 2);
        assert!(client_config(Some(&path)).is_ok());
        assert!(client_config(None).is_ok());
    }

    #[test]
    fn an_unusable_ca_file_is_refused_naming_the_option() {
        let missing = client_config(Some(Path::new("/nonexistent/ca.pem")))
            .unwrap_err()
            .to_string();
        assert!(
            missing.starts_with("cannot use --ca-file /nonexistent/ca.pem: cannot read it"),
            "{missing}"
        );
        assert!(error_of(b"").contains("no PEM certificate"));
        let (_, key) = ca_pem();
        assert!(error_of(key.as_bytes()).contains("no PEM certificate"));
        let garbage =
            b"-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n";
        assert!(error_of(garbage).contains("certificate 1 is not usable as a CA"));
        let truncated = b"-----BEGIN CERTIFICATE-----\nbm90\n";
        assert!(error_of(truncated).contains("unreadable PEM"));
    }
}
