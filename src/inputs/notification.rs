//! SQS message bodies → the S3 objects they announce.
//!
//! Three shapes arrive on a queue (reference: AWS "Event message structure" and "Amazon S3 events via
//! EventBridge"): S3's own `{"Records":[…]}`, the same wrapped in an SNS envelope (`{"Type":"Notification",
//! "Message":"<json string>"}`) when the bucket notifies a topic, and EventBridge's `Object Created` event.
//! Only object creations count; `s3:TestEvent`, removals and other events announce nothing. Keys in S3
//! notifications are URL-encoded with `+` for a space, so they are decoded as form values; EventBridge keys
//! are not encoded.

use serde_json::Value;

pub use crate::object::ObjectRef;

/// What a message body holds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Notification {
    /// Objects were created (one or more).
    Objects(Vec<ObjectRef>),
    /// Nothing to read: a test event, removals, other event types. The reason is for the log.
    Nothing(String),
    /// The body is not a notification we understand; the reason is for the log.
    Invalid(String),
}

/// Parses an SQS message body.
pub fn parse(body: &str) -> Notification {
    let v: Value = match serde_json::from_str(body) {
        Ok(v) => v,
        Err(e) => return Notification::Invalid(format!("body is not JSON: {e}")),
    };
    parse_value(&v, 0)
}

fn parse_value(v: &Value, depth: u8) -> Notification {
    // SNS envelope: the S3 notification is a JSON string in "Message".
    if v.get("Type").and_then(Value::as_str) == Some("Notification") {
        if let Some(msg) = v.get("Message").and_then(Value::as_str) {
            if depth > 1 {
                return Notification::Invalid("nested SNS envelopes".into());
            }
            return match serde_json::from_str::<Value>(msg) {
                Ok(inner) => parse_value(&inner, depth + 1),
                Err(e) => Notification::Invalid(format!("SNS Message is not JSON: {e}")),
            };
        }
    }
    if v.get("Event").and_then(Value::as_str) == Some("s3:TestEvent") {
        return Notification::Nothing("s3:TestEvent".into());
    }
    if let Some(records) = v.get("Records").and_then(Value::as_array) {
        let mut objects = Vec::new();
        let mut skipped = Vec::new();
        for (i, r) in records.iter().enumerate() {
            let source = r.get("eventSource").and_then(Value::as_str).unwrap_or("");
            let name = r.get("eventName").and_then(Value::as_str).unwrap_or("");
            if source != "aws:s3" || !name.starts_with("ObjectCreated:") {
                skipped.push(format!("record {i}: {source} {name}"));
                continue;
            }
            let bucket = r.pointer("/s3/bucket/name").and_then(Value::as_str);
            let key = r.pointer("/s3/object/key").and_then(Value::as_str);
            match (bucket, key) {
                (Some(b), Some(k)) => objects.push(ObjectRef {
                    bucket: b.to_string(),
                    key: crate::percent::decode_form(k),
                    region: r
                        .get("awsRegion")
                        .and_then(Value::as_str)
                        .map(str::to_string),
                }),
                _ => {
                    return Notification::Invalid(format!(
                        "record {i} has no s3.bucket.name or s3.object.key"
                    ))
                }
            }
        }
        return if objects.is_empty() {
            Notification::Nothing(if skipped.is_empty() {
                "no records".into()
            } else {
                skipped.join(", ")
            })
        } else {
            Notification::Objects(objects)
        };
    }
    if v.get("source").and_then(Value::as_str) == Some("aws.s3") {
        let dt = v.get("detail-type").and_then(Value::as_str).unwrap_or("");
        if dt != "Object Created" {
            return Notification::Nothing(format!("EventBridge {dt}"));
        }
        let bucket = v.pointer("/detail/bucket/name").and_then(Value::as_str);
        let key = v.pointer("/detail/object/key").and_then(Value::as_str);
        return match (bucket, key) {
            (Some(b), Some(k)) => Notification::Objects(vec![ObjectRef {
                bucket: b.to_string(),
                key: k.to_string(),
                region: v.get("region").and_then(Value::as_str).map(str::to_string),
            }]),
            _ => Notification::Invalid(
                "EventBridge event without detail.bucket.name or detail.object.key".into(),
            ),
        };
    }
    Notification::Invalid(
        "not an S3 notification (no Records, no SNS envelope, no EventBridge event)".into(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bucket_region_comes_with_the_object() {
        let Notification::Objects(o) = parse(PUT) else {
            panic!()
        };
        assert_eq!(o[0].region.as_deref(), Some("us-west-2"));
    }

    fn objs(body: &str) -> Vec<(String, String)> {
        match parse(body) {
            Notification::Objects(o) => o.into_iter().map(|o| (o.bucket, o.key)).collect(),
            other => panic!("{other:?}"),
        }
    }

    const PUT: &str = r#"{"Records":[{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"us-west-2","eventName":"ObjectCreated:Put","s3":{"bucket":{"name":"amzn-s3-demo-bucket"},"object":{"key":"My+simple+%5Bkey%5D","size":1024}}}]}"#;

    #[test]
    fn plain_s3_records_with_decoded_keys() {
        assert_eq!(
            objs(PUT),
            vec![("amzn-s3-demo-bucket".into(), "My simple [key]".into())]
        );
        let many: Vec<String> = (0..20)
            .map(|i| format!(r#"{{"eventSource":"aws:s3","eventName":"ObjectCreated:CompleteMultipartUpload","s3":{{"bucket":{{"name":"b"}},"object":{{"key":"k{i}"}}}}}}"#))
            .collect();
        assert_eq!(
            objs(&format!(r#"{{"Records":[{}]}}"#, many.join(","))).len(),
            20
        );
    }

    #[test]
    fn sns_envelopes_and_eventbridge() {
        let sns = serde_json::json!({"Type":"Notification","MessageId":"x","TopicArn":"arn","Message":PUT}).to_string();
        assert_eq!(objs(&sns)[0].1, "My simple [key]");
        let eb = r#"{"version":"0","id":"1","detail-type":"Object Created","source":"aws.s3","account":"1","time":"t","region":"r","resources":[],"detail":{"version":"0","bucket":{"name":"b"},"object":{"key":"a b+c.gz","size":5},"reason":"PutObject"}}"#;
        assert_eq!(objs(eb), vec![("b".into(), "a b+c.gz".into())]);
        let deleted = eb.replace("Object Created", "Object Deleted");
        assert!(matches!(parse(&deleted), Notification::Nothing(_)));
    }

    #[test]
    fn test_events_removals_and_garbage() {
        let test = r#"{"Service":"Amazon S3","Event":"s3:TestEvent","Time":"2014-10-13T15:57:02.089Z","Bucket":"b","RequestId":"r","HostId":"h"}"#;
        assert_eq!(parse(test), Notification::Nothing("s3:TestEvent".into()));
        let removed = PUT.replace("ObjectCreated:Put", "ObjectRemoved:Delete");
        assert!(matches!(parse(&removed), Notification::Nothing(r) if r.contains("ObjectRemoved")));
        assert!(matches!(parse("{\"Records\":"), Notification::Invalid(_)));
        assert!(matches!(parse("[1]"), Notification::Invalid(_)));
        let sns_bad = r#"{"Type":"Notification","Message":"not json"}"#;
        assert!(matches!(parse(sns_bad), Notification::Invalid(_)));
    }
}
