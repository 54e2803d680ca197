//! Requests to Amazon OpenSearch Service and Serverless signed with AWS Signature Version 4: a request
//! ready to send in (method, URL, headers, the body as it goes on the wire), the same request with its
//! `Authorization`, `X-Amz-Date`, `X-Amz-Content-Sha256` (and `X-Amz-Security-Token`) headers out.
//!
//! Credentials come from the same chain as S3's and SQS's (environment, profile, web identity, instance
//! role, `role_arn` assumed through STS) and are kept until a minute before they expire, then asked for
//! again, so a long run outlives any one set. What must stay true: the signature covers the body that is
//! sent (compressed when it is), and a request is never sent unsigned.

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
};
use aws_sigv4::sign::v4;
use tokio::sync::Mutex;

use crate::config::opensearch::{Service, SigV4Settings};

/// Credentials are asked for again when they expire within this.
const REFRESH_BEFORE: Duration = Duration::from_secs(60);
/// Credentials without an expiry (keys in the environment or a profile) are read again after this.
const KEEP_UNDATED: Duration = Duration::from_secs(300);

/// Signs the requests of one output.
pub struct Signer {
    settings: SigV4Settings,
    /// The credential chain and the region signed for, made at the first request (the chain is
    /// asked once then, so missing credentials are an error of the first request: the template's at
    /// start-up, or `test output`'s).
    chain: tokio::sync::OnceCell<Result<(SharedCredentialsProvider, String), String>>,
    /// The credentials in use and when to ask again.
    cached: Mutex<Option<(Credentials, SystemTime)>>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("settings", &self.settings)
            .finish()
    }
}

impl Signer {
    /// A signer for `s`.
    pub fn new(s: &SigV4Settings) -> Signer {
        Signer {
            settings: s.clone(),
            chain: tokio::sync::OnceCell::new(),
            cached: Mutex::new(None),
        }
    }

    async fn chain(&self) -> Result<&(SharedCredentialsProvider, String), String> {
        let s = &self.settings;
        self.chain
            .get_or_init(|| async {
                let aws = crate::config::AwsSettings {
                    region: s.region.clone(),
                    profile: s.profile.clone(),
                    role_arn: s.role_arn.clone(),
                    external_id: s.external_id.clone(),
                    ..Default::default()
                };
                let (provider, region) = crate::aws::credentials(&aws)
                    .await
                    .map_err(|e| format!("output.opensearch.aws: {e}"))?;
                let region = s.region.clone().or(region).ok_or_else(|| {
                    "output.opensearch.aws.region: no region to sign for (none in the host name, the config or the environment)".to_string()
                })?;
                Ok((provider, region))
            })
            .await
            .as_ref()
            .map_err(Clone::clone)
    }

    /// The region and service signed for, for messages.
    pub fn describe(&self) -> String {
        let region = match self.chain.get() {
            Some(Ok((_, r))) => r.clone(),
            _ => self
                .settings
                .region
                .clone()
                .unwrap_or_else(|| "from the environment".into()),
        };
        format!("region {region}, service {}", self.settings.service.name())
    }

    /// The service signed for.
    pub fn service(&self) -> Service {
        self.settings.service
    }

    async fn credentials(&self) -> Result<Credentials, String> {
        let (provider, _) = self.chain().await?;
        let mut cached = self.cached.lock().await;
        let now = SystemTime::now();
        if let Some((c, renew_at)) = cached.as_ref() {
            if now < *renew_at {
                return Ok(c.clone());
            }
        }
        let c = provider
            .provide_credentials()
            .await
            .map_err(|e| format!("AWS credentials for signing: {}", crate::error::chain(&e)))?;
        let renew_at = match c.expiry() {
            Some(exp) => exp.checked_sub(REFRESH_BEFORE).unwrap_or(now).max(now),
            None => now + KEEP_UNDATED,
        };
        *cached = Some((c.clone(), renew_at));
        Ok(c)
    }

    /// Signs `req` in place.
    pub async fn sign(&self, req: &mut reqwest::Request) -> Result<(), String> {
        let creds = self.credentials().await?;
        let region = self.chain().await?.1.clone();
        let identity = creds.into();
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name(self.settings.service.name())
            .time(SystemTime::now())
            .settings(settings)
            .build()
            .map_err(|e| format!("signing: {e}"))?
            .into();
        let body = req
            .body()
            .map(|b| b.as_bytes().ok_or("a streamed body cannot be signed"))
            .transpose()?
            .unwrap_or(&[]);
        let headers: Vec<(String, String)> = req
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let signable = SignableRequest::new(
            req.method().as_str(),
            req.url().as_str(),
            headers.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            SignableBody::Bytes(body),
        )
        .map_err(|e| format!("signing: {e}"))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| format!("signing: {e}"))?
            .into_parts();
        let (new_headers, _) = instructions.into_parts();
        for h in new_headers {
            let name = reqwest::header::HeaderName::from_bytes(h.name().as_bytes())
                .map_err(|e| format!("signing: {e}"))?;
            let value = reqwest::header::HeaderValue::from_str(h.value())
                .map_err(|e| format!("signing: {e}"))?;
            req.headers_mut().insert(name, value);
        }
        Ok(())
    }
}

/// What a 403 from a signed cluster most likely means, in words that name the setting to check.
pub fn explain_403(body: &str, signer: &Signer) -> String {
    let b = body.to_ascii_lowercase();
    let why = if b.contains("signature expired") || b.contains("signature not yet current") {
        "the request's time is too far from AWS's: check this machine's clock (NTP)".to_string()
    } else if b.contains("credential should be scoped to a valid region")
        || b.contains("credential should be scoped to correct service")
        || b.contains("signature we calculated does not match")
    {
        format!(
            "the signature was refused: check output.opensearch.aws.region and .service ({}), and the credentials' secret",
            signer.describe()
        )
    } else if b.contains("security token") {
        "the credentials were refused (expired or revoked session token)".to_string()
    } else if signer.service() == Service::Aoss {
        "the collection's data access policy does not grant this role (aoss:APIAccessAll and the index permissions), or its network policy refuses this address".to_string()
    } else {
        "the role is not mapped to an OpenSearch role in fine-grained access control, or the domain's access policy does not allow es:ESHttp* for it".to_string()
    };
    format!("403 from OpenSearch ({}): {why}", signer.describe())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_403_names_its_likely_cause() {
        let s = |service| {
            Signer::new(&SigV4Settings {
                region: Some("eu-west-1".into()),
                service,
                role_arn: None,
                external_id: None,
                profile: None,
            })
        };
        let es = s(Service::Es);
        let aoss = s(Service::Aoss);
        let say = |body: &str, signer: &Signer| explain_403(body, signer);
        assert!(say(
            r#"{"message":"Signature expired: 20261207T100000Z is now earlier than ..."}"#,
            &es
        )
        .contains("clock"));
        let wrong = say(
            r#"{"message":"Credential should be scoped to a valid region, not 'us-east-1'. "}"#,
            &es,
        );
        assert!(
            wrong.contains("aws.region") && wrong.contains("region eu-west-1, service es"),
            "{wrong}"
        );
        assert!(say(
            r#"{"Message":"User: arn:aws:sts::1:assumed-role/r/s is not authorized"}"#,
            &es
        )
        .contains("fine-grained access control"));
        assert!(say(
            r#"{"status":403,"request-id":"x","error":"Forbidden"}"#,
            &aoss
        )
        .contains("data access policy"));
    }
}
