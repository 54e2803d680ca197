//! AWS clients: the standard credential chain (environment, profile, web identity, instance role), the
//! `s3logsbeat.aws` block and an input's override, and the standard `AWS_ENDPOINT_URL*` variables.
//!
//! An endpoint on a loopback address (moto, MinIO, LocalStack on this machine) gets path-style S3
//! addressing, since `bucket.127.0.0.1` does not resolve.

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region};
use aws_credential_types::provider::SharedCredentialsProvider;

use crate::config::AwsSettings;

/// The clients of one input.
#[derive(Clone, Debug)]
pub struct Clients {
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// S3.
    pub s3: aws_sdk_s3::Client,
}

/// Builds the clients for an input's `aws` settings.
pub async fn clients(aws: &AwsSettings) -> Clients {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(r) = &aws.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(p) = &aws.profile {
        loader = loader.profile_name(p);
    }
    if let Some(e) = &aws.endpoint {
        loader = loader.endpoint_url(e);
    }
    let mut cfg = loader.load().await;
    if let Some(role) = &aws.role_arn {
        let mut b = AssumeRoleProvider::builder(role)
            .session_name("s3logsbeat")
            .configure(&cfg);
        if let Some(x) = &aws.external_id {
            b = b.external_id(x);
        }
        let provider = b.build().await;
        cfg = cfg
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    }
    let endpoint = aws
        .endpoint
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
    let path_style = aws
        .path_style
        .unwrap_or_else(|| endpoint.as_deref().is_some_and(is_loopback_url));
    let s3_conf = aws_sdk_s3::config::Builder::from(&cfg)
        .force_path_style(path_style)
        .build();
    Clients {
        sqs: aws_sdk_sqs::Client::new(&cfg),
        s3: aws_sdk_s3::Client::from_conf(s3_conf),
    }
}

/// True for `http://127.0.0.1:…`, `http://localhost…`, `http://[::1]…`.
pub fn is_loopback_url(u: &str) -> bool {
    let Ok(url) = reqwest::Url::parse(u) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Domain(d)) => d == "localhost" || d.ends_with(".localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_endpoints_are_recognised() {
        assert!(super::is_loopback_url("http://127.0.0.1:5000"));
        assert!(super::is_loopback_url("http://localhost:4566/"));
        assert!(super::is_loopback_url("http://[::1]:9000"));
        assert!(!super::is_loopback_url(
            "https://s3.eu-west-1.amazonaws.com"
        ));
        assert!(!super::is_loopback_url("minio:9000"));
    }
}
