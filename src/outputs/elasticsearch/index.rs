//! The index of each event: a parsed [`IndexPattern`] and an event in, the index name out (lower-cased,
//! as Elasticsearch requires). Dates come from the event's `@timestamp` (UTC); `%{[field]}` reads the
//! event's document, parsed only when the pattern has a field reference.
//!
//! [`Names`] names the events of a batch: a pattern without fields gives every event of one format
//! within one [`IndexPattern::date_step`] the same name, so it renders that name once and shares it.
//! What must stay true: a shared name is the one [`render`] gives each of its events.

use std::sync::Arc;

use crate::config::{IndexPart, IndexPattern};
use crate::event::Event;

/// The names a batch has rendered: a few (format, date step) at a time, most batches use one.
const REMEMBERED: usize = 8;

/// Index names for the events of one batch (see the module's text).
pub struct Names<'p> {
    pattern: &'p IndexPattern,
    /// `None` when the pattern reads fields: every event is rendered.
    step: Option<i64>,
    /// (format, step number since the epoch, name), newest last.
    recent: Vec<(&'static str, i64, Arc<str>)>,
}

impl<'p> Names<'p> {
    /// Names for `pattern`.
    pub fn new(pattern: &'p IndexPattern) -> Names<'p> {
        Names {
            pattern,
            step: (!pattern.has_fields()).then(|| pattern.date_step()),
            recent: Vec::new(),
        }
    }

    /// The index of `e`, as [`render`] gives it.
    pub fn name(&mut self, e: &Event) -> Result<Arc<str>, String> {
        // A leap second (nanoseconds past a whole second, as chrono keeps it) is written `:60`, which
        // its second's step number does not tell: rendered on its own.
        let t = e.timestamp;
        let Some(step) = self
            .step
            .filter(|_| t.in_range() && t.nanos < 1_000_000_000)
        else {
            return render(self.pattern, e).map(Arc::from);
        };
        let n = e.timestamp.secs.div_euclid(step);
        if let Some((_, _, name)) = self
            .recent
            .iter()
            .rev()
            .find(|(f, at, _)| *at == n && *f == e.format)
        {
            return Ok(name.clone());
        }
        let name: Arc<str> = Arc::from(render(self.pattern, e)?);
        if self.recent.len() == REMEMBERED {
            self.recent.remove(0);
        }
        self.recent.push((e.format, n, name.clone()));
        Ok(name)
    }
}

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

    /// Shared names are the names each event renders to: across a day's end, formats, an hour pattern,
    /// a pattern with a field (never shared), and a time with no date (an error every time).
    #[test]
    fn names_shared_in_a_batch_are_each_events_own() {
        let at = |ms: i64, format: &'static str, doc: &str| Event {
            id: EventId([1; 16]),
            timestamp: Timestamp::from_millis(ms),
            format,
            doc: doc.into(),
            parse_failure: false,
        };
        let day_end = 1_704_153_599_000; // 2024-01-01T23:59:59Z
        let events = [
            at(day_end, "alb", r#"{"env":"a"}"#),
            at(day_end + 1_000, "alb", r#"{"env":"b"}"#),
            at(day_end - 3_600_000, "alb", r#"{"env":"a"}"#),
            at(day_end, "cloudfront", r#"{"env":"c"}"#),
            at(day_end + 1_000, "alb", r#"{"env":"a"}"#),
            at(-86_400_000, "alb", r#"{"env":"a"}"#),
            at(8_200_000_000_000_000, "alb", r#"{"env":"a"}"#),
            // 2016-12-31T23:59:60.5Z, a leap second as chrono holds it (fuzz finding): `:60`, not `:59`.
            Event {
                timestamp: Timestamp {
                    secs: 1_483_228_799,
                    nanos: 1_500_000_000,
                    digits: 3,
                },
                ..at(0, "alb", r#"{"env":"a"}"#)
            },
            at(1_483_228_799_000, "alb", r#"{"env":"a"}"#),
        ];
        for pattern in [
            DEFAULT_INDEX,
            "x-%{[@metadata][format]}-%{+yyyy.MM.dd}",
            "x-%{+yyyy.MM.dd.HH}",
            "x-%{+yyyy.MM.dd.HH.mm.ss}",
            "x-%{[env]}-%{+yyyy.MM.dd}",
        ] {
            let p = IndexPattern::parse(pattern).unwrap();
            let mut names = Names::new(&p);
            for e in events.iter().chain(events.iter().rev()) {
                assert_eq!(
                    names.name(e).map(|n| n.to_string()),
                    render(&p, e),
                    "{pattern} at {}",
                    e.timestamp.secs
                );
            }
        }
        let p = IndexPattern::parse("x-%{[@metadata][format]}-%{+yyyy.MM.dd}").unwrap();
        let mut names = Names::new(&p);
        let (a, b) = (
            names.name(&events[0]).unwrap(),
            names.name(&events[2]).unwrap(),
        );
        assert!(Arc::ptr_eq(&a, &b), "one name for one format and day");
        assert_eq!(&*names.name(&events[1]).unwrap(), "x-alb-2024.01.02");
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
