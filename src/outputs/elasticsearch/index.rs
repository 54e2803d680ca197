//! The index of each event: a parsed [`IndexPattern`] and an event in, the index name out (lower-cased,
//! as Elasticsearch requires). Dates come from the event's `@timestamp` (UTC); `%{[field]}` reads the
//! event's document, parsed only when the pattern has a field reference.

use crate::config::{IndexPart, IndexPattern};
use crate::event::Event;

/// The index of an event.
pub fn render(pattern: &IndexPattern, e: &Event) -> String {
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
            IndexPart::Field(path) => {
                let mut v = doc.as_ref();
                for k in path {
                    v = v.and_then(|v| v.get(k));
                }
                match v {
                    Some(serde_json::Value::String(s)) => out.push_str(s),
                    Some(serde_json::Value::Null) | None => {}
                    Some(other) => out.push_str(&other.to_string()),
                }
            }
        }
    }
    out.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::index::DEFAULT_INDEX;
    use crate::event::{EventId, Timestamp};

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
        assert_eq!(r(DEFAULT_INDEX), "s3logsbeat-2019.03.23");
        assert_eq!(
            r("logs-%{[environment]}-%{[k][app]}-%{+yyyy.MM}"),
            "logs-prod-shop-2019.03"
        );
        assert_eq!(r("x-%{[missing]}"), "x-");
    }
}
