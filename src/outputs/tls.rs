//! TLS for the outputs (Elasticsearch over `https`, Logstash with `ssl`): validated [`TlsSettings`] in, a
//! rustls client configuration out, with the system's roots plus `certificate_authorities`, an optional
//! client certificate, and `verification_mode` `full` (chain and host name), `certificate` (chain only) or
//! `none` (anything; for tests and trusted networks only).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme,
};

use crate::config::{TlsSettings, Verification};

/// Builds the TLS client from validated settings: the system's roots plus `certificate_authorities`,
/// the verification mode, the client certificate. The files were read and checked by `config::tls`, so
/// this cannot fail on them; a key the handshake library still refuses falls back to no client
/// certificate, loudly.
pub fn client_config(tls: &TlsSettings) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    for c in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(c);
    }
    for c in &tls.certificate_authorities {
        if let Err(e) = roots.add(c.clone()) {
            tracing::warn!(error = %e, "a certificate of ssl.certificate_authorities is not usable as a root");
        }
    }
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the default provider supports the default protocol versions");
    let builder = match tls.verification {
        Verification::Full => builder.with_root_certificates(roots),
        Verification::Certificate | Verification::None => {
            let inner = if roots.is_empty() {
                None
            } else {
                WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                    .build()
                    .ok()
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Relaxed {
                    inner,
                    check_chain: tls.verification == Verification::Certificate,
                    provider,
                }))
        }
    };
    let config = match &tls.client {
        Some(id) => match builder
            .clone()
            .with_client_auth_cert(id.chain.clone(), id.key.clone_key())
        {
            Ok(c) => c,
            Err(e) => {
                tracing::error!(error = %e, "the client certificate cannot be used; connecting without it");
                builder.with_no_client_auth()
            }
        },
        None => builder.with_no_client_auth(),
    };
    Arc::new(config)
}

/// The server name to check, from `host:port`.
pub fn server_name(host_port: &str) -> Result<ServerName<'static>, String> {
    let host = host_port.rsplit_once(':').map_or(host_port, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string())
        .map_err(|e| format!("{host:?} is not a host name or address: {e}"))
}

/// `verification_mode: certificate` (chain checked, host name not) and `none` (nothing checked).
#[derive(Debug)]
struct Relaxed {
    inner: Option<Arc<WebPkiServerVerifier>>,
    check_chain: bool,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl ServerCertVerifier for Relaxed {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        if !self.check_chain {
            return Ok(ServerCertVerified::assertion());
        }
        let Some(inner) = &self.inner else {
            return Err(Error::InvalidCertificate(CertificateError::UnknownIssuer));
        };
        match inner.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
            Err(Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
