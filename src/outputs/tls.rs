//! TLS for the Logstash output (`output.logstash.ssl`): rustls with the system's roots plus
//! `certificate_authorities`, optional client certificate, and `verification_mode` `full` (chain and host
//! name), `certificate` (chain only) or `none` (anything; for tests and trusted networks only).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, Error, RootCertStore, SignatureScheme,
};

use crate::config::raw::Ssl;

/// Builds the client configuration; errors name the key.
pub fn client_config(ssl: &Ssl, key_prefix: &str) -> Result<Arc<ClientConfig>, (String, String)> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = RootCertStore::empty();
    for c in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(c);
    }
    for ca in &ssl.certificate_authorities {
        let key = format!("{key_prefix}.ssl.certificate_authorities");
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(ca)
            .map_err(|e| (key.clone(), format!("cannot read {ca}: {e}")))?
            .collect::<Result<_, _>>()
            .map_err(|e| (key.clone(), format!("{ca} is not PEM: {e}")))?;
        if certs.is_empty() {
            return Err((key, format!("{ca} holds no certificate")));
        }
        for c in certs {
            roots
                .add(c)
                .map_err(|e| (key.clone(), format!("{ca}: {e}")))?;
        }
    }
    let mode = ssl.verification_mode.as_deref().unwrap_or("full");
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| (format!("{key_prefix}.ssl"), e.to_string()))?;
    let builder = match mode {
        "full" | "strict" => builder.with_root_certificates(roots),
        "certificate" | "none" => {
            let inner = if roots.is_empty() {
                None
            } else {
                Some(
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| (format!("{key_prefix}.ssl"), e.to_string()))?,
                )
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Relaxed {
                    inner,
                    check_chain: mode == "certificate",
                    provider,
                }))
        }
        other => {
            return Err((
                format!("{key_prefix}.ssl.verification_mode"),
                format!("{other:?}: expected full, certificate or none"),
            ))
        }
    };
    let config = match (&ssl.certificate, &ssl.key) {
        (Some(cert), Some(key)) => {
            let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
                .map_err(|e| {
                    (
                        format!("{key_prefix}.ssl.certificate"),
                        format!("cannot read {cert}: {e}"),
                    )
                })?
                .collect::<Result<_, _>>()
                .map_err(|e| {
                    (
                        format!("{key_prefix}.ssl.certificate"),
                        format!("{cert}: {e}"),
                    )
                })?;
            let pk = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                (
                    format!("{key_prefix}.ssl.key"),
                    format!("cannot read {key}: {e}"),
                )
            })?;
            builder
                .with_client_auth_cert(certs, pk)
                .map_err(|e| (format!("{key_prefix}.ssl.certificate"), e.to_string()))?
        }
        (None, None) => builder.with_no_client_auth(),
        _ => {
            return Err((
                format!("{key_prefix}.ssl.certificate"),
                "ssl.certificate and ssl.key go together".into(),
            ))
        }
    };
    Ok(Arc::new(config))
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
