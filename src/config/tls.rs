//! `ssl:` of an output, checked once: the raw block in, [`TlsSettings`] out, with every file read and
//! parsed here (CA bundles, client certificate and key) so that `test config` finds a missing or broken
//! file and nothing later opens it again. The outputs turn these settings into a TLS client
//! (`outputs::tls`).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::raw::Ssl;
use super::Problems;

/// How much of the server's certificate is checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verification {
    /// The chain up to a trusted root, and the host name (`full`, also `strict`). The default.
    Full,
    /// The chain only, not the host name (`certificate`).
    Certificate,
    /// Nothing (`none`): for tests and trusted networks only.
    None,
}

/// A client certificate for mutual TLS.
#[derive(Clone, Debug)]
pub struct ClientIdentity {
    /// The certificate chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// Its private key.
    pub key: Arc<PrivateKeyDer<'static>>,
}

/// Validated TLS settings of one output.
#[derive(Clone, Debug)]
pub struct TlsSettings {
    /// What is verified.
    pub verification: Verification,
    /// CAs trusted in addition to the system's (`certificate_authorities`).
    pub certificate_authorities: Vec<CertificateDer<'static>>,
    /// `certificate` + `key`, if set.
    pub client: Option<ClientIdentity>,
}

impl Default for TlsSettings {
    /// Full verification against the system's roots.
    fn default() -> TlsSettings {
        TlsSettings {
            verification: Verification::Full,
            certificate_authorities: Vec::new(),
            client: None,
        }
    }
}

/// Checks `ssl` (at `prefix.ssl`); problems go to `p`. `None` when something is wrong.
pub(super) fn validate(ssl: &Ssl, prefix: &str, p: &mut Problems) -> Option<TlsSettings> {
    let key = |k: &str| format!("{prefix}.ssl.{k}");
    let before = p.len();
    let verification = match ssl.verification_mode.as_deref().unwrap_or("full") {
        "full" | "strict" => Verification::Full,
        "certificate" => Verification::Certificate,
        "none" => Verification::None,
        other => {
            p.push(
                key("verification_mode"),
                format!(
                    "{}: {other:?} is not a verification mode: expected full, certificate or none",
                    key("verification_mode")
                ),
            );
            Verification::Full
        }
    };
    let mut cas = Vec::new();
    for ca in &ssl.certificate_authorities {
        match read_certs(ca) {
            Ok(certs) => cas.extend(certs),
            Err(m) => p.push(
                key("certificate_authorities"),
                format!("{}: {m}", key("certificate_authorities")),
            ),
        }
    }
    let client = match (&ssl.certificate, &ssl.key) {
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            p.push(
                key("certificate"),
                format!(
                    "{} and {} go together: set both for a client certificate",
                    key("certificate"),
                    key("key")
                ),
            );
            None
        }
        (Some(cert), Some(k)) => {
            let chain = read_certs(cert)
                .map_err(|m| p.push(key("certificate"), format!("{}: {m}", key("certificate"))))
                .ok();
            let pk = PrivateKeyDer::from_pem_file(k)
                .map_err(|e| {
                    p.push(
                        key("key"),
                        format!("{}: cannot read a private key from {k}: {e}", key("key")),
                    )
                })
                .ok();
            match (chain, pk) {
                (Some(chain), Some(pk)) => {
                    // A key that does not belong to the certificate fails only in the handshake; say so now.
                    let provider = rustls::crypto::aws_lc_rs::default_provider();
                    match rustls::sign::CertifiedKey::from_der(
                        chain.clone(),
                        pk.clone_key(),
                        &provider,
                    ) {
                        Ok(_) => Some(ClientIdentity {
                            chain,
                            key: Arc::new(pk),
                        }),
                        Err(e) => {
                            p.push(
                                key("key"),
                                format!("{}: {k} does not go with {cert}: {e}", key("key")),
                            );
                            None
                        }
                    }
                }
                _ => None,
            }
        }
    };
    (p.len() == before).then_some(TlsSettings {
        verification,
        certificate_authorities: cas,
        client,
    })
}

/// Every certificate of a PEM file; an error names the file.
fn read_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| format!("cannot read {path}: {e}"))?
        .collect::<Result<_, _>>()
        .map_err(|e| format!("{path} is not PEM: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{path} holds no certificate"));
    }
    Ok(certs)
}
