//! `cloudtrail`: CloudTrail records, one event each.
//!
//! The object is one JSON document `{"Records":[...]}`, compact or pretty-printed; [`crate::object::framing`]
//! hands this format one element of `Records` at a time, so a large object is never held whole. Each
//! record keeps CloudTrail's own keys as they are (`eventName`, `eventSource`, `eventID`,
//! `userIdentity`, ...; nulls removed, as for `json`), `eventTime` included, and `@timestamp` is
//! `eventTime`. Insight events (`eventCategory: Insight`) are records like the others. Digest files are
//! recognised by the object (see [`crate::object`]) and skipped, never failures.

use serde_json::Value as J;

use super::tokens::parse_rfc3339;
use super::{ErrorKind, LineOut, ParseError};
use crate::event::Timestamp;

/// Parses one record (a JSON value) into a record of `out`.
pub fn parse<'a>(unit: &'a str, out: &mut LineOut<'a>) {
    let start = out.fields.len();
    let r = record(unit, out);
    out.finish(start, 0..unit.len(), r);
}

fn record<'a>(unit: &'a str, out: &mut LineOut<'a>) -> Result<Timestamp, ParseError> {
    let v: J = serde_json::from_str(unit)
        .map_err(|e| ParseError::new(ErrorKind::BadJson(e.to_string()), "", unit))?;
    let J::Object(map) = v else {
        return Err(ParseError::new(ErrorKind::NotAnObject, "", unit));
    };
    let ts = match map.get("eventTime") {
        Some(J::String(t)) => parse_rfc3339(t)
            .ok_or_else(|| ParseError::new(ErrorKind::BadTimestamp, "eventTime", t))?,
        Some(other) => {
            return Err(ParseError::new(
                ErrorKind::TimestampType("an RFC 3339 string"),
                "eventTime",
                &other.to_string(),
            ))
        }
        None => {
            return Err(ParseError::new(
                ErrorKind::MissingTimestamp,
                "eventTime",
                "",
            ))
        }
    };
    super::json::push_object(map, out);
    Ok(ts)
}

#[cfg(test)]
mod tests {
    use super::super::test_util::parse_one;
    use super::super::FormatSpec;

    #[test]
    fn a_record_keeps_its_keys_and_its_time() {
        let v = parse_one(
            &FormatSpec::Cloudtrail,
            r#"{"eventVersion":"1.08","eventTime":"2014-03-06T21:22:54Z","eventName":"StartInstances",
               "userIdentity":{"type":"IAMUser","accountId":"123456789012"},"requestParameters":null,
               "responseElements":{"a":null,"b":1}}"#,
        )
        .unwrap();
        assert_eq!(v["@timestamp"], "2014-03-06T21:22:54.000Z");
        assert_eq!(v["eventTime"], "2014-03-06T21:22:54Z");
        assert_eq!(v["eventName"], "StartInstances");
        assert_eq!(v["userIdentity"]["accountId"], "123456789012");
        assert!(v.get("requestParameters").is_none());
        assert_eq!(v["responseElements"], serde_json::json!({"b": 1}));
    }

    #[test]
    fn bad_records_say_why() {
        let e = parse_one(&FormatSpec::Cloudtrail, r#"{"eventName":"x"}"#).unwrap_err();
        assert_eq!(e.to_string(), "timestamp field eventTime is missing");
        let e = parse_one(&FormatSpec::Cloudtrail, r#"{"eventTime":"yesterday"}"#).unwrap_err();
        assert_eq!(
            e.to_string(),
            "field eventTime: cannot parse time \"yesterday\""
        );
        let e =
            parse_one(&FormatSpec::Cloudtrail, r#"{"eventTime":"2014-03-06T21:22"#).unwrap_err();
        assert!(e.to_string().starts_with("line is not valid JSON"), "{e}");
        let e = parse_one(&FormatSpec::Cloudtrail, "[1]").unwrap_err();
        assert!(e.to_string().contains("not an object"), "{e}");
    }
}
