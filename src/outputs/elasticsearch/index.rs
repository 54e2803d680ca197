//! The index of each event: a parsed [`IndexPattern`] and an event in, the index name out (lower-cased,
//! as Elasticsearch requires). Dates come from the event's `@timestamp` (UTC); `%{[field]}` reads the
//! event's document, parsed only when the pattern has a field reference.

use crate::config::{IndexPart, IndexPattern};
use crate::event::Event;

/// The index of an event, or why it has none: a `%{[field]}` the event does not have (an empty part
/// would send it to an index nobody meant, `alb--2018.07.02`), or a name Elasticsearch would refuse.
pub fn render(pattern: &IndexPattern, e: &Event) -> Result<String, String> {
    let doc = pattern.has_fields().then(|| e.doc_json());
    let mut out = String::new();
    for p in &pattern.parts {
        match p {
            IndexPart::Literal(l) => out.push_str(l),
            IndexPart::Date(f) => {
                if let Some(dt) = e.timestamp.to_datetime() {
                    out.push_str(&dt.format(f).to_string());
                }
            }
            // The format an object was read as (routing by key): `%{[@metadata][format]}`, as in Filebeat.
            IndexPart::Field(path)
                if path.len() == 2 && path[0] == "@metadata" && path[1] == "format" =>
            {
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
