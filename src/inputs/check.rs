//! `test input`: the inputs' AWS side, checked from the account before a deployment. Validated input
//! settings in, one line per check out (`OK`, `WARNING`, `ERROR`), and whether anything is an error.
//!
//! For each queue of a `type: sqs` input: that it exists and can be read (`GetQueueAttributes`), who may
//! send to it (its policy: S3, SNS or EventBridge, and from which bucket or topic), its dead-letter
//! queue (a redrive policy, without which an object that can never be read returns for ever), its
//! encryption (S3 cannot use the AWS managed key `alias/aws/sqs`), and, for each bucket the policy names,
//! that the bucket's notifications go to this queue and that `s3:GetObject` is allowed on an object of
//! it. For each `s3://bucket/prefix` of a `type: s3` input: that it can be listed and an object read.
//!
//! What must stay true: nothing here changes anything in the account. It never receives, sends or
//! deletes a message (a receive would count against the queue's redrive `maxReceiveCount`); it reads
//! attributes, policies and notification settings, lists one key and asks for one object's head. A
//! permission the daemon does not need (`s3:ListBucket`, `s3:GetBucketNotification`) that is refused
//! is reported as not checked, never as an error.

use aws_sdk_s3::error::ProvideErrorMetadata as _;
use aws_sdk_sqs::types::QueueAttributeName;
use serde_json::Value;

use crate::aws::{classify_code, Clients, Failure};
use crate::config::{InputSettings, InputSource};

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// As it should be.
    Ok,
    /// It works, but something will bite (no dead-letter queue, nothing may send to the queue).
    Warning,
    /// It will not work as configured.
    Error,
}

/// One check: what it looked at, how it came out, and the words for it.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The queue URL or `s3://bucket/prefix` it concerns.
    pub target: String,
    /// How it came out.
    pub level: Level,
    /// What was found, or what to do.
    pub message: String,
}

/// Every check of `input`, with the clients made for it.
pub async fn input(input: &InputSettings, clients: &Clients) -> Vec<Finding> {
    let mut out = Vec::new();
    match &input.source {
        InputSource::Sqs(q) => {
            for url in &q.queues {
                queue(url, clients, &mut out).await;
            }
        }
        InputSource::S3(s) => {
            for b in &s.buckets {
                let target = format!("s3://{}/{}", b.bucket, b.prefix);
                objects(&target, &b.bucket, &b.prefix, true, clients, &mut out).await;
            }
        }
        InputSource::S3Poll(s) => {
            for prefix in &s.prefixes {
                let target = format!("s3://{}/{prefix}", s.bucket);
                objects(&target, &s.bucket, prefix, true, clients, &mut out).await;
            }
        }
        InputSource::CloudwatchLogs(c) => {
            for (region, name) in &c.names {
                let logs = clients.logs_for(region.as_deref().or(c.region.as_deref()));
                log_groups(name, true, &logs, &mut out).await;
            }
            for prefix in &c.prefixes {
                let logs = clients.logs_for(c.region.as_deref());
                log_groups(prefix, false, &logs, &mut out).await;
            }
        }
    }
    out
}

/// A log group by name (`exact`), or the groups under a prefix: that they exist, and that one event of
/// the first can be read.
async fn log_groups(
    name: &str,
    exact: bool,
    logs: &aws_sdk_cloudwatchlogs::Client,
    out: &mut Vec<Finding>,
) {
    use aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata;
    let target = if exact {
        format!("log group {name}")
    } else {
        format!("log groups {name}*")
    };
    let found = match logs
        .describe_log_groups()
        .log_group_name_prefix(name)
        .send()
        .await
    {
        Ok(r) => r
            .log_groups()
            .iter()
            .filter_map(|g| g.log_group_name().map(str::to_string))
            .filter(|g| !exact || g == name)
            .collect::<Vec<_>>(),
        Err(e) => {
            let reason = why(e.code(), || crate::error::chain(&e));
            push(
                out,
                &target,
                Level::Error,
                format!(
                    "cannot list log groups: {reason} (the input needs logs:DescribeLogGroups)"
                ),
            );
            return;
        }
    };
    let Some(first) = found.first() else {
        push(
            out,
            &target,
            if exact { Level::Error } else { Level::Warning },
            if exact {
                "no such log group in this region".to_string()
            } else {
                "no log group has this prefix yet: groups created later are found every scan_frequency".to_string()
            },
        );
        return;
    };
    push(
        out,
        &target,
        Level::Ok,
        format!("{} log group(s) found", found.len()),
    );
    match logs
        .filter_log_events()
        .log_group_name(first)
        .limit(1)
        .send()
        .await
    {
        Ok(_) => push(
            out,
            &target,
            Level::Ok,
            format!("events of {first} can be read"),
        ),
        Err(e) => {
            let reason = why(e.code(), || crate::error::chain(&e));
            push(
                out,
                &target,
                Level::Error,
                format!(
                "cannot read events of {first}: {reason} (the input needs logs:FilterLogEvents)"
            ),
            );
        }
    }
}

fn push(out: &mut Vec<Finding>, target: &str, level: Level, message: impl Into<String>) {
    out.push(Finding {
        target: target.to_string(),
        level,
        message: message.into(),
    });
}

/// The words for a refused or failed call: the classified reason, or the error's own chain.
fn why(code: Option<&str>, text: impl FnOnce() -> String) -> String {
    match classify_code(code, text) {
        Failure::Permanent(w) | Failure::Transient(w) => w,
    }
}

async fn queue(url: &str, clients: &Clients, out: &mut Vec<Finding>) {
    let attrs = match clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
    {
        Ok(r) => r.attributes.unwrap_or_default(),
        Err(e) => {
            let reason = why(e.code(), || crate::error::chain(&e));
            push(out, url, Level::Error, format!(
                "cannot read the queue: {reason} (`test input` and the queue metrics need sqs:GetQueueAttributes)"
            ));
            return;
        }
    };
    let get = |n: QueueAttributeName| attrs.get(&n).map(String::as_str);
    let waiting = get(QueueAttributeName::ApproximateNumberOfMessages).unwrap_or("?");
    let in_flight = get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible).unwrap_or("?");
    push(
        out,
        url,
        Level::Ok,
        format!("the queue answers: {waiting} messages waiting, {in_flight} in flight"),
    );
    let arn = get(QueueAttributeName::QueueArn).unwrap_or("").to_string();
    match get(QueueAttributeName::RedrivePolicy).map(serde_json::from_str::<Value>) {
        Some(Ok(p)) => push(
            out,
            url,
            Level::Ok,
            format!(
                "dead-letter queue {} after {} receives",
                p["deadLetterTargetArn"].as_str().unwrap_or("?"),
                p["maxReceiveCount"]
            ),
        ),
        _ => push(
            out,
            url,
            Level::Warning,
            "no dead-letter queue (redrive policy): a message whose object can never be read comes back \
             after every visibility timeout, for ever; give the queue one (docs/aws.md)",
        ),
    }
    match get(QueueAttributeName::KmsMasterKeyId) {
        Some(k) if k == "alias/aws/sqs" || k.ends_with(":alias/aws/sqs") => push(
            out,
            url,
            Level::Error,
            "encrypted with the AWS managed key alias/aws/sqs, whose policy cannot let S3 use it: S3 \
             cannot send notifications to this queue; use SSE-SQS or a customer managed key (docs/aws.md)",
        ),
        Some(k) if !k.is_empty() => push(
            out,
            url,
            Level::Warning,
            format!(
                "encrypted with the KMS key {k}: its key policy must let the sender (s3.amazonaws.com, \
                 sns.amazonaws.com or events.amazonaws.com) use kms:GenerateDataKey and kms:Decrypt, and \
                 s3logsbeat's role kms:Decrypt"
            ),
        ),
        _ => {}
    }
    let senders = get(QueueAttributeName::Policy)
        .and_then(|p| serde_json::from_str::<Value>(p).ok())
        .map(|p| senders(&p))
        .unwrap_or_default();
    if senders.is_empty() {
        push(
            out,
            url,
            Level::Warning,
            "the queue policy lets no S3 bucket, SNS topic or EventBridge rule send to it: no \
             notification will arrive (docs/aws.md has the policy)",
        );
    }
    for s in &senders {
        push(
            out,
            url,
            Level::Ok,
            format!("{} may send to it", s.describe()),
        );
        if let Some(bucket) = s.bucket() {
            notifications(url, &arn, bucket, clients, out).await;
            let target = format!("s3://{bucket}/");
            objects(&target, bucket, "", false, clients, out).await;
        }
    }
}

/// Someone a queue policy lets send messages.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Sender {
    /// The service principal (`s3.amazonaws.com`, ...) or AWS principal.
    principal: String,
    /// The `aws:SourceArn` it is limited to, if any.
    source: Option<String>,
}

impl Sender {
    fn describe(&self) -> String {
        match &self.source {
            Some(s) => format!("{} ({s})", self.principal),
            None => format!("{} (from any source)", self.principal),
        }
    }

    /// The bucket of an `arn:aws:s3:::bucket` source.
    fn bucket(&self) -> Option<&str> {
        let b = self.source.as_deref()?.split_once(":s3:::")?.1;
        (!b.is_empty() && !b.contains(['/', '*'])).then_some(b)
    }
}

/// The senders an SQS queue policy allows: `Allow` statements whose action covers `sqs:SendMessage`.
fn senders(policy: &Value) -> Vec<Sender> {
    let list = |v: &Value| -> Vec<String> {
        match v {
            Value::String(s) => vec![s.clone()],
            Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            _ => Vec::new(),
        }
    };
    let statements = match &policy["Statement"] {
        Value::Array(a) => a.clone(),
        s @ Value::Object(_) => vec![s.clone()],
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for st in statements {
        if st["Effect"] != "Allow" {
            continue;
        }
        let sends = list(&st["Action"]).iter().any(|a| {
            let a = a.to_ascii_lowercase();
            a == "sqs:sendmessage" || a == "sqs:*" || a == "*"
        });
        if !sends {
            continue;
        }
        let principals = match &st["Principal"] {
            Value::String(s) => vec![s.clone()],
            p => [&p["Service"], &p["AWS"]]
                .into_iter()
                .flat_map(list)
                .collect(),
        };
        // `aws:SourceArn` under any condition operator (ArnEquals, ArnLike, StringEquals...).
        let mut sources: Vec<String> = Vec::new();
        if let Value::Object(ops) = &st["Condition"] {
            for cond in ops.values() {
                if let Value::Object(keys) = cond {
                    for (k, v) in keys {
                        if k.eq_ignore_ascii_case("aws:SourceArn") {
                            sources.extend(list(v));
                        }
                    }
                }
            }
        }
        for principal in principals {
            if sources.is_empty() {
                out.push(Sender {
                    principal: principal.clone(),
                    source: None,
                });
            }
            for s in &sources {
                out.push(Sender {
                    principal: principal.clone(),
                    source: Some(s.clone()),
                });
            }
        }
    }
    out
}

/// Whether `bucket`'s notifications send created objects to the queue `arn`.
async fn notifications(
    url: &str,
    arn: &str,
    bucket: &str,
    clients: &Clients,
    out: &mut Vec<Finding>,
) {
    let target = format!("s3://{bucket}/");
    let n = match clients
        .s3
        .get_bucket_notification_configuration()
        .bucket(bucket)
        .send()
        .await
    {
        Ok(n) => n,
        Err(e) => {
            let reason = why(e.code(), || crate::error::chain(&e));
            push(out, &target, Level::Warning, format!(
                "its notifications not checked: {reason} (s3:GetBucketNotification, which only this check needs)"
            ));
            return;
        }
    };
    let ours = n
        .queue_configurations()
        .iter()
        .find(|q| q.queue_arn() == arn);
    match ours {
        Some(q) => {
            let creates = q
                .events()
                .iter()
                .any(|e| e.as_str().starts_with("s3:ObjectCreated:"));
            if creates {
                push(out, &target, Level::Ok, format!("its created objects are notified to {url}"));
            } else {
                push(out, &target, Level::Error, format!(
                    "its notification to {url} is not for s3:ObjectCreated:* events: no object will be read"
                ));
            }
        }
        None if n.event_bridge_configuration().is_some() => push(
            out,
            &target,
            Level::Ok,
            "its events go to EventBridge: a rule must send Object Created events to the queue",
        ),
        None if !n.topic_configurations().is_empty() => push(
            out,
            &target,
            Level::Ok,
            "its notifications go to SNS: the topic must be subscribed by the queue",
        ),
        None => push(out, &target, Level::Error, format!(
            "its notifications do not go to {url} (nor to SNS or EventBridge): no object will be read; \
             add a notification for s3:ObjectCreated:* (docs/aws.md)"
        )),
    }
}

/// Lists one key under `prefix` and asks for its head: `s3:ListBucket` (needed by `s3import`, where
/// `listing_needed`) and `s3:GetObject` (needed by both).
async fn objects(
    target: &str,
    bucket: &str,
    prefix: &str,
    listing_needed: bool,
    clients: &Clients,
    out: &mut Vec<Finding>,
) {
    let listed = clients
        .s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .max_keys(1)
        .send()
        .await;
    let key = match listed {
        Ok(l) => match l.contents().first().and_then(|o| o.key()) {
            Some(k) => k.to_string(),
            None => {
                push(
                    out,
                    target,
                    Level::Ok,
                    "listed: no object there yet, s3:GetObject not checked",
                );
                return;
            }
        },
        Err(e) => {
            let reason = why(e.code(), || crate::error::chain(&e));
            if listing_needed {
                push(
                    out,
                    target,
                    Level::Error,
                    format!("cannot list: {reason} (s3import needs s3:ListBucket)"),
                );
            } else {
                push(out, target, Level::Warning, format!(
                    "not listed, so s3:GetObject not checked: {reason} (s3:ListBucket, which only this check needs)"
                ));
            }
            return;
        }
    };
    match clients
        .s3
        .head_object()
        .bucket(bucket)
        .key(&key)
        .send()
        .await
    {
        Ok(_) => push(
            out,
            target,
            Level::Ok,
            format!("s3:GetObject allowed (on {key})"),
        ),
        Err(e) => {
            let reason = why(e.code(), || crate::error::chain(&e));
            push(out, target, Level::Error, format!(
                "cannot read {key}: {reason} (s3logsbeat needs s3:GetObject, and kms:Decrypt for SSE-KMS objects)"
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_senders_of_a_queue_policy() {
        let p: Value = serde_json::from_str(
            r#"{"Version":"2012-10-17","Statement":[
                {"Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},"Action":"SQS:SendMessage",
                 "Resource":"arn:aws:sqs:us-east-1:1:q",
                 "Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::logs"},"StringEquals":{"aws:SourceAccount":"1"}}},
                {"Effect":"Allow","Principal":{"Service":["sns.amazonaws.com"]},"Action":["sqs:SendMessage"],
                 "Condition":{"ArnEquals":{"aws:SourceArn":["arn:aws:sns:us-east-1:1:t"]}}},
                {"Effect":"Deny","Principal":"*","Action":"sqs:*"},
                {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:role/r"},"Action":"sqs:ReceiveMessage"}
            ]}"#,
        )
        .unwrap();
        let s = senders(&p);
        assert_eq!(s.len(), 2, "{s:?}");
        assert_eq!(s[0].bucket(), Some("logs"));
        assert_eq!(s[0].describe(), "s3.amazonaws.com (arn:aws:s3:::logs)");
        assert_eq!(s[1].bucket(), None);
        assert_eq!(s[1].principal, "sns.amazonaws.com");
        let single: Value = serde_json::from_str(
            r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}"#,
        )
        .unwrap();
        assert_eq!(senders(&single)[0].describe(), "* (from any source)");
        assert!(senders(&Value::Null).is_empty());
    }
}
