//! AWS clients: an input's `aws` settings in, checked SQS and S3 clients out. The standard credential
//! chain (environment, profile, web identity, instance role), the `s3logsbeat.aws` block and an input's
//! override, and the standard `AWS_ENDPOINT_URL*` variables.
//!
//! What must stay true:
//! - Start-up failures are one clear line and end the run: no region anywhere (the region is also taken
//!   from the queue URL, `sqs.<region>.amazonaws.com`), or no credentials (one sentence, not the chain's
//!   whole story).
//! - An object is read with a client for its bucket's region when the notification says it differs
//!   (`awsRegion`), so buckets in other regions than the queue's work.
//! - An endpoint on a loopback address (moto, MinIO, LocalStack on this machine) gets path-style S3
//!   addressing, since `bucket.127.0.0.1` does not resolve.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use aws_config::sts::AssumeRoleProvider;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_sqs::error::ProvideErrorMetadata;

use crate::config::AwsSettings;

/// The clients of one input.
#[derive(Debug)]
pub struct Clients {
    /// SQS.
    pub sqs: aws_sdk_sqs::Client,
    /// S3, in the configured region.
    pub s3: aws_sdk_s3::Client,
    config: SdkConfig,
    path_style: bool,
    /// S3 clients for other regions, made on first use.
    regional: Mutex<HashMap<String, aws_sdk_s3::Client>>,
}

impl Clients {
    /// The S3 client for a bucket in `region` (the configured one when `None` or the same).
    pub fn s3_for(&self, region: Option<&str>) -> aws_sdk_s3::Client {
        let Some(r) = region.filter(|r| !r.is_empty()) else {
            return self.s3.clone();
        };
        if self.config.region().map(|c| c.as_ref()) == Some(r) {
            return self.s3.clone();
        }
        let mut regional = self.regional.lock().unwrap_or_else(|e| e.into_inner());
        regional
            .entry(r.to_string())
            .or_insert_with(|| {
                tracing::debug!(target: "s3logsbeat::s3", region = r, "S3 client for a bucket in another region");
                s3_client(&self.config, Some(r), self.path_style)
            })
            .clone()
    }

    /// A CloudWatch Logs client for `region` (the configured one when `None`), with the input's
    /// credentials and endpoint.
    pub fn logs_for(&self, region: Option<&str>) -> aws_sdk_cloudwatchlogs::Client {
        // No retries inside the SDK: a throttled call goes back to the region's pace, which waits and
        // slows every caller, instead of being retried at once behind its back.
        let mut b = aws_sdk_cloudwatchlogs::config::Builder::from(&self.config)
            .retry_config(aws_sdk_cloudwatchlogs::config::retry::RetryConfig::disabled());
        if let Some(r) = region.filter(|r| !r.is_empty()) {
            b = b.region(Region::new(r.to_string()));
        }
        aws_sdk_cloudwatchlogs::Client::from_conf(b.build())
    }

    /// The configured region.
    pub fn region(&self) -> Option<String> {
        self.config.region().map(|r| r.to_string())
    }
}

/// Why the clients could not be made: one line each.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    /// No region in the settings, the environment, the profile or the queue URL.
    #[error(
        "no AWS region: set s3logsbeat.aws.region, AWS_REGION, or a region in the AWS profile"
    )]
    NoRegion,
    /// The credential chain found nothing usable.
    #[error("no usable AWS credentials: {0}")]
    NoCredentials(String),
}

/// Builds and checks the clients for an input's `aws` settings; `queue_url` lends its region when none
/// is configured.
pub async fn clients(aws: &AwsSettings, queue_url: Option<&str>) -> Result<Clients, StartupError> {
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
    if cfg.region().is_none() {
        let Some(r) = queue_url.and_then(region_of_queue_url) else {
            return Err(StartupError::NoRegion);
        };
        tracing::info!(region = %r, "no region configured: using the queue's");
        cfg = cfg.into_builder().region(Region::new(r)).build();
    }
    let cfg = assume_role(cfg, aws).await;
    check_credentials(&cfg).await?;
    let endpoint = aws
        .endpoint
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL_S3").ok())
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
    let path_style = aws
        .path_style
        .unwrap_or_else(|| endpoint.as_deref().is_some_and(is_loopback_url));
    Ok(Clients {
        sqs: aws_sdk_sqs::Client::new(&cfg),
        s3: s3_client(&cfg, None, path_style),
        config: cfg,
        path_style,
        regional: Mutex::new(HashMap::new()),
    })
}

/// `cfg` with `aws.role_arn` assumed (through STS, refreshed before it expires), if it names one.
async fn assume_role(cfg: SdkConfig, aws: &AwsSettings) -> SdkConfig {
    let Some(role) = &aws.role_arn else {
        return cfg;
    };
    let mut b = AssumeRoleProvider::builder(role)
        .session_name("s3logsbeat")
        .configure(&cfg);
    if let Some(x) = &aws.external_id {
        b = b.external_id(x);
    }
    let provider = b.build().await;
    cfg.into_builder()
        .credentials_provider(SharedCredentialsProvider::new(provider))
        .build()
}

/// The credentials of `aws` (region, profile, role) for signing requests outside the SDK, checked once,
/// and the region the chain found (when `aws` names none).
pub async fn credentials(
    aws: &AwsSettings,
) -> Result<(SharedCredentialsProvider, Option<String>), StartupError> {
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(r) = &aws.region {
        loader = loader.region(Region::new(r.clone()));
    }
    if let Some(p) = &aws.profile {
        // The profile's own credentials, not the environment's keys that the default chain puts first.
        loader = loader
            .profile_name(p)
            .credentials_provider(SharedCredentialsProvider::new(
                aws_config::profile::ProfileFileCredentialsProvider::builder()
                    .profile_name(p)
                    .build(),
            ));
    }
    let cfg = assume_role(loader.load().await, aws).await;
    check_credentials(&cfg).await?;
    let region = cfg.region().map(|r| r.to_string());
    let provider = cfg.credentials_provider().ok_or_else(|| {
        StartupError::NoCredentials("no credential provider is configured".into())
    })?;
    Ok((provider, region))
}

fn s3_client(cfg: &SdkConfig, region: Option<&str>, path_style: bool) -> aws_sdk_s3::Client {
    let mut b = aws_sdk_s3::config::Builder::from(cfg).force_path_style(path_style);
    if let Some(r) = region {
        b = b.region(Region::new(r.to_string()));
    }
    aws_sdk_s3::Client::from_conf(b.build())
}

/// Asks the credential chain once, so that a machine without credentials fails at start-up with one
/// line instead of on every call.
async fn check_credentials(cfg: &SdkConfig) -> Result<(), StartupError> {
    let Some(provider) = cfg.credentials_provider() else {
        return Err(StartupError::NoCredentials(
            "no credential provider is configured".into(),
        ));
    };
    match tokio::time::timeout(Duration::from_secs(30), provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(StartupError::NoCredentials(one_line(&e.to_string()))),
        Err(_) => Err(StartupError::NoCredentials(
            "the credential chain did not answer within 30 s (is the instance metadata service reachable?)"
                .into(),
        )),
    }
}

/// The first sentence of a long message, at most 200 characters: the chain's errors describe every
/// provider it tried, over many lines.
fn one_line(s: &str) -> String {
    let first = s.lines().next().unwrap_or("").trim();
    let mut out: String = first.chars().take(200).collect();
    if first.chars().count() > 200 {
        out.push('…');
    }
    format!(
        "{out} (tried the environment, the shared profile, web identity, ECS and EC2 instance metadata: \
         set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, or run with a role)"
    )
}

/// The region of an SQS queue URL: `https://sqs.<region>.amazonaws.com[.cn]/…`, or a VPC endpoint's
/// `…sqs.<region>.vpce.amazonaws.com/…`.
pub fn region_of_queue_url(url: &str) -> Option<String> {
    let host = reqwest::Url::parse(url).ok()?.host_str()?.to_string();
    let labels: Vec<&str> = host.split('.').collect();
    let i = labels
        .iter()
        .position(|l| *l == "sqs" || l.ends_with("-sqs") || l.ends_with(".sqs"))?;
    let region = labels.get(i + 1)?;
    let looks_like_region = region.split('-').count() >= 3
        && region
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    (looks_like_region && labels.contains(&"amazonaws")).then(|| region.to_string())
}

/// What an AWS error means for whoever made the call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// It will not get better by retrying: the queue does not exist, access is denied, the credentials
    /// are wrong or expired. The text says which.
    Permanent(String),
    /// A network error, a timeout, throttling, a 5xx: retry.
    Transient(String),
}

/// Classifies an SDK error by its AWS error code.
pub fn classify<E, R>(e: &aws_sdk_sqs::error::SdkError<E, R>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    classify_code(e.code(), || crate::error::chain(e))
}

/// [`classify`] by the error code alone; `text` describes a transient error.
pub fn classify_code(code: Option<&str>, text: impl FnOnce() -> String) -> Failure {
    let code = code.unwrap_or("");
    let why = match code {
        "ExpiredToken" | "ExpiredTokenException" | "RequestExpired" => {
            "the AWS credentials have expired (ExpiredToken): refresh them".to_string()
        }
        "InvalidClientTokenId" | "UnrecognizedClientException" | "InvalidAccessKeyId" => {
            format!("the AWS access key is not valid ({code})")
        }
        "SignatureDoesNotMatch" => {
            "the AWS secret key does not match the access key (SignatureDoesNotMatch)".into()
        }
        "AccessDenied" | "AccessDeniedException" | "AWS.SimpleQueueService.AccessDenied" => {
            format!(
                "access denied ({code}): see iam-policy.json for the permissions s3logsbeat needs"
            )
        }
        "AWS.SimpleQueueService.NonExistentQueue" | "QueueDoesNotExist" | "NoSuchBucket" => {
            format!("it does not exist ({code})")
        }
        _ => return Failure::Transient(text()),
    };
    Failure::Permanent(why)
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
    use super::*;

    #[test]
    fn loopback_endpoints_are_recognised() {
        assert!(is_loopback_url("http://127.0.0.1:5000"));
        assert!(is_loopback_url("http://localhost:4566/"));
        assert!(is_loopback_url("http://[::1]:9000"));
        assert!(!is_loopback_url("https://s3.eu-west-1.amazonaws.com"));
        assert!(!is_loopback_url("minio:9000"));
    }

    #[test]
    fn the_region_comes_from_the_queue_url() {
        for (url, want) in [
            (
                "https://sqs.eu-west-1.amazonaws.com/123456789012/q",
                Some("eu-west-1"),
            ),
            (
                "https://sqs.cn-north-1.amazonaws.com.cn/123/q",
                Some("cn-north-1"),
            ),
            (
                "https://vpce-0a1b-c2d3.sqs.us-east-2.vpce.amazonaws.com/123/q",
                Some("us-east-2"),
            ),
            ("https://queue.amazonaws.com/123/q", None),
            ("http://127.0.0.1:5000/123456789012/q", None),
            ("not a url", None),
        ] {
            assert_eq!(region_of_queue_url(url).as_deref(), want, "{url}");
        }
    }

    #[test]
    fn error_codes_say_what_is_wrong_and_whether_to_retry() {
        let p = |c: &str| match classify_code(Some(c), || "net".into()) {
            Failure::Permanent(w) => w,
            Failure::Transient(t) => panic!("{c} is permanent, not {t}"),
        };
        assert!(p("ExpiredToken").contains("have expired (ExpiredToken)"));
        assert!(p("AWS.SimpleQueueService.NonExistentQueue").contains("does not exist"));
        assert!(p("AccessDenied").contains("iam-policy.json"));
        assert!(p("InvalidClientTokenId").contains("not valid"));
        assert_eq!(
            classify_code(Some("ServiceUnavailable"), || "503".into()),
            Failure::Transient("503".into())
        );
        assert_eq!(
            classify_code(None, || "dispatch failure".into()),
            Failure::Transient("dispatch failure".into())
        );
    }

    #[test]
    fn a_long_chain_error_becomes_one_line() {
        let long = format!(
            "the credential provider was not enabled\n{}",
            "x".repeat(900)
        );
        let l = one_line(&long);
        assert!(!l.contains('\n'));
        assert!(l.starts_with("the credential provider was not enabled"));
        assert!(l.len() < 400, "{} chars", l.len());
    }
}
