//! The index of each event: a parsed [`IndexPattern`] and an event in, the index name out (lower-cased,
//! as Elasticsearch requires). Dates come from the event's `@timestamp` (UTC); `%{[field]}` reads the
//! event's document, parsed only when the pattern has a field reference.

use crate::config::{IndexPart, IndexPattern};
use crate::event::Event;

/// The index of an event, or why it has none: a `%{[field]}` the event does not have (an empty part
/// would send it to an index nobody meant, `alb--2018.07.02`), a document that cannot be read, a time
/// with no date, or a name Elasticsearch would refuse. Never a panic: the caller dead-letters the event
/// with the reason.
pub fn render(pattern: &IndexPattern, e: &Event) -> Result<String, String> {
    let doc = if pattern.has_fields() {
        Some(e.read_doc()?)
    } else {
        None
    };
    let mut out = String::new();
    for p in &pattern.parts {
        match p {
            IndexPart::Literal(l) => out.push_str(l),
            IndexPart::Date(f) => {
                // A date part is never left out: `logs-` is not the index of any day.
                let dt = e.timestamp.to_datetime().filter(|_| e.timestamp.in_range());
                let dt = dt.ok_or_else(|| {
                    format!(
                        "the event's time (second {} of the epoch) has no date to name the index with",
                        e.timestamp.secs
                    )
                })?;
                out.push_str(&dt.format(f).to_string());
            }
            // The format an object was read as (routing by key): `%{[@metadata][format]}`, as in Filebeat.
            IndexPart::Field(path) if crate::config::index::is_metadata_format(path) => {
                out.push_str(e.format)
            }
            IndexPart::Field(path) => {
                let mut v = doc.as_ref();
                for k in path {
                    v = v.and_then(|v| v.get(k));
                }
                match v {
                    Some(serde_json::Value::String(s)) if !s.is_empty() => out.push_str(s),
                    Some(serde_json::Value::Number(n)) => out.push_str(&n.to_string()),
                    Some(serde_json::Value::Bool(b)) => out.push_str(&b.to_string()),
                    _ => {
                        return Err(format!(
                            "the index pattern's %{{[{}]}} has no value in this event",
                            path.join("][")
                        ))
                    }
                }
            }
        }
    }
    let name = out.to_lowercase();
    crate::config::index::check_name(&name).map_err(|why| format!("index name {name:?} {why}"))?;
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::index::DEFAULT_INDEX;
    use crate::event::{EventId, Timestamp};

    #[test]
    fn the_metadata_format_names_the_index() {
        let p = IndexPattern::parse("logs-%{[@metadata][format]}-%{+yyyy}").unwrap();
        let e = Event {
            id: EventId([1; 16]),
            timestamp: Timestamp::from_millis(1_704_067_200_000),
            format: "cloudtrail",
            doc: r#"{"@timestamp":"x"}"#.into(),
            parse_failure: false,
        };
        assert_eq!(render(&p, &e).unwrap(), "logs-cloudtrail-2024");
    }

    /// G1 (fuzz findings of 2026-12-07): a document too deep to read back made rendering panic
    /// (`doc_json` expected a parse), three batches in a row stopped the daemon. G4: a time without a
    /// date left the date out (`s3logsbeat-`).
    #[test]
    fn an_event_it_cannot_name_is_an_error_never_a_panic() {
        let deep = format!(
            r#"{{"@timestamp":"x","env":"p","d":{}1{}}}"#,
            r#"{"a":"#.repeat(200),
            "}".repeat(200)
        );
        let e = Event {
            id: EventId([1; 16]),
            timestamp: Timestamp::from_millis(1_704_067_200_000),
            format: "cloudwatch",
            doc: deep.into(),
            parse_failure: false,
        };
        let p = IndexPattern::parse("logs-%{[env]}-%{+yyyy.MM.dd}").unwrap();
        let err = render(&p, &e).unwrap_err();
        assert!(err.contains("cannot be read"), "{err}");
        // `%{[@metadata][format]}` is not in the document: it needs no reading.
        let p = IndexPattern::parse("logs-%{[@metadata][format]}-%{+yyyy.MM.dd}").unwrap();
        assert_eq!(render(&p, &e).unwrap(), "logs-cloudwatch-2024.01.01");
        let far = Event {
            timestamp: Timestamp::from_millis(8_200_000_000_000_000),
            ..e.clone()
        };
        let err = render(&IndexPattern::parse(DEFAULT_INDEX).unwrap(), &far).unwrap_err();
        assert!(err.contains("no date"), "{err}");
        // A field value Elasticsearch refuses in a name (an IPv6 address has `:`).
        let v6 = Event {
            doc: r#"{"@timestamp":"x","ip":"2001:db8::1"}"#.into(),
            ..e
        };
        let err = render(&IndexPattern::parse("x-%{[ip]}").unwrap(), &v6).unwrap_err();
        assert!(err.contains("is not valid"), "{err}");
    }

    #[test]
    fn dates_and_fields_of_the_event() {
        let e = Event {
            id: EventId([1; 16]),
            timestamp: Timestamp::from_millis(1_553_360_693_208),
            format: "alb",
            doc: r#"{"@timestamp":"x","environment":"Prod","k":{"app":"shop"}}"#.into(),
            parse_failure: false,
        };
        let r = |p: &str| render(&IndexPattern::parse(p).unwrap(), &e);
        assert_eq!(r(DEFAULT_INDEX).unwrap(), "s3logsbeat-2019.03.23");
        assert_eq!(
            r("logs-%{[environment]}-%{[k][app]}-%{+yyyy.MM}").unwrap(),
            "logs-prod-shop-2019.03"
        );
        assert_eq!(
            r("x-%{[missing]}").unwrap_err(),
            "the index pattern's %{[missing]} has no value in this event"
        );
        assert!(r("x-%{[k]}").is_err(), "an object is not a name part");
        let spaced = Event {
            doc: r#"{"@timestamp":"x","environment":"my env"}"#.into(),
            ..e.clone()
        };
        let err = render(&IndexPattern::parse("x-%{[environment]}").unwrap(), &spaced).unwrap_err();
        assert!(err.contains("\"x-my env\" is not valid"), "{err}");
    }
}
