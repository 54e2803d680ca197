//! Events of a source that delivers messages rather than objects (CloudWatch Logs): one message, its
//! time, the fields its source gives it and its source's id in; the pipeline's events out, built as an
//! object's lines are (the input's format parses the message, the same enrichment and tail), with the
//! source's fields added and the `_id` taken from the source's id, so that reading a message again gives
//! the same `_id`.
//!
//! What must stay true: the source's fields never give a document a key twice (a field of the message
//! with the same top-level name is kept under `_name`); a message never panics and never disappears (a
//! failure event under `parse_errors: ship`, counted under `drop`); this stage knows no AWS: the source
//! names its own fields.

use std::borrow::Cow;

use super::enrich::ObjectContext;
use super::Event;
use crate::fields::{Timestamp, Value};
use crate::formats::{LineKind, LineOut, LineParser, LogFormat};

/// What one message gave.
#[derive(Debug, Default)]
pub struct MessageEvents {
    /// Its events (usually one; a line of several JSON values gives several).
    pub events: Vec<Event>,
    /// Records that did not parse (shipped as failure events, or dropped by the policy).
    pub failures: u64,
    /// The message was cut at the input's `max_line_bytes`.
    pub truncated: bool,
}

/// Builds the events of `message`, sent at `time`, with the source's top-level `fields` (a name and a
/// JSON object each, such as `aws` → `{"cloudwatch": {...}}`), identified by `source_id`.
/// `ctx` is the context of the message's stream (its path is the stream's, `log.file.path`), `parser`
/// the input's format.
pub fn message_events(
    ctx: &ObjectContext,
    parser: &mut LineParser<'_>,
    message: &str,
    time: Timestamp,
    fields: &[(&'static str, serde_json::Value)],
    source_id: &str,
    max_bytes: usize,
) -> MessageEvents {
    let mut res = MessageEvents::default();
    // CloudWatch keeps the newline a program printed; the line ends before it, as an object's does.
    let mut line = message.trim_end_matches(['\n', '\r']);
    if line.len() > max_bytes {
        let mut end = max_bytes;
        while !line.is_char_boundary(end) {
            end -= 1;
        }
        line = &line[..end];
        res.truncated = true;
    }
    parser.set_object_time(Some(time));
    let mut out = LineOut::new();
    let plain = parser.spec().format() == LogFormat::Plain;
    if line.trim().is_empty() && !plain {
        // Nothing for a format to read: an empty record, at the message's time, still says it was sent.
        return res;
    }
    if parser.parse_line(line, &mut out) != LineKind::Data {
        return res;
    }
    for (i, rec) in out.records.iter().enumerate() {
        let mut one = LineOut::new();
        let own: Vec<_> = out.fields_of(rec).to_vec();
        for (name, value) in own {
            let taken = fields.iter().any(|(n, _)| *n == name.as_ref());
            let name = if taken {
                let mut n = format!("_{name}");
                while out.fields_of(rec).iter().any(|(f, _)| f.as_ref() == n) {
                    n.insert(0, '_');
                }
                Cow::Owned(n)
            } else {
                name
            };
            one.push_named(name, value);
        }
        if rec.result.is_ok() {
            for (name, value) in fields {
                one.push(name, Value::Json(value.clone()));
            }
        } else {
            res.failures += 1;
        }
        one.finish(0, rec.span.clone(), rec.result.clone());
        let id = ctx.event_id(i as u64, source_id.as_bytes());
        if let Some(e) = ctx.event_with_id(&one, &one.records[0], line, i as u64, res.truncated, id)
        {
            res.events.push(e);
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::EnrichSettings;
    use crate::formats::{FormatSpec, JsonOptions, TimeFormat};
    use serde_json::json;

    fn ctx() -> ObjectContext {
        ObjectContext::new(
            &EnrichSettings::new("b", "h"),
            LogFormat::Plain,
            "/aws/lambda/f/2024/01/01/[$LATEST]abc",
            "/aws/lambda/f",
            None,
        )
    }

    fn doc(e: &Event) -> serde_json::Value {
        serde_json::from_str(&e.doc).unwrap()
    }

    #[test]
    fn a_plain_message_at_its_time_with_the_source_fields_and_id() {
        let spec = FormatSpec::Plain;
        let mut p = LineParser::new(&spec);
        let src = [("aws", json!({"cloudwatch": {"log_group": "/aws/lambda/f"}}))];
        let t = Timestamp::from_millis(1_700_000_000_001);
        let r = message_events(
            &ctx(),
            &mut p,
            "hello \"world\"\n",
            t,
            &src,
            "3761",
            1 << 20,
        );
        assert_eq!(r.events.len(), 1);
        let d = doc(&r.events[0]);
        assert_eq!(d["message"], "hello \"world\"");
        assert_eq!(d["@timestamp"], "2023-11-14T22:13:20.001Z");
        assert_eq!(d["aws"]["cloudwatch"]["log_group"], "/aws/lambda/f");
        // The same event read again has the same id; another event id, another.
        let again = message_events(
            &ctx(),
            &mut p,
            "hello \"world\"\n",
            t,
            &src,
            "3761",
            1 << 20,
        );
        assert_eq!(again.events[0].id, r.events[0].id);
        let other = message_events(
            &ctx(),
            &mut p,
            "hello \"world\"\n",
            t,
            &src,
            "3762",
            1 << 20,
        );
        assert_ne!(other.events[0].id, r.events[0].id);
    }

    #[test]
    fn a_json_message_keeps_its_own_field_of_the_same_name_apart() {
        let spec = FormatSpec::Json(JsonOptions {
            timestamp_field: "ts".into(),
            timestamp_format: TimeFormat::UnixMillis,
        });
        let mut p = LineParser::new(&spec);
        let src = [("aws", json!({"cloudwatch": {"log_stream": "s"}}))];
        let t = Timestamp::from_millis(5);
        let r = message_events(
            &ctx(),
            &mut p,
            r#"{"ts": 1700000000000, "aws": "mine", "level": "info"}"#,
            t,
            &src,
            "1",
            1 << 20,
        );
        let d = doc(&r.events[0]);
        assert_eq!(d["_aws"], "mine");
        assert_eq!(d["aws"]["cloudwatch"]["log_stream"], "s");
        assert_eq!(d["level"], "info");
        // Not JSON: a failure event carrying the message, not a loss.
        let r = message_events(&ctx(), &mut p, "not json", t, &src, "2", 1 << 20);
        assert_eq!((r.events.len(), r.failures), (1, 1));
        assert_eq!(doc(&r.events[0])["message"], "not json");
    }

    #[test]
    fn a_long_message_is_cut_at_a_character_boundary() {
        let spec = FormatSpec::Plain;
        let mut p = LineParser::new(&spec);
        let r = message_events(
            &ctx(),
            &mut p,
            "ééé",
            Timestamp::from_millis(0),
            &[],
            "1",
            3,
        );
        assert!(r.truncated);
        assert_eq!(doc(&r.events[0])["message"], "é");
    }
}
