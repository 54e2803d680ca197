//! `plain`: a unit as it is, in `message`, at the time its source gives it: a CloudWatch Logs event's
//! own timestamp, or for a line of an S3 object the time in the object's file name, else its
//! LastModified. The default format of `type: cloudwatch_logs` inputs, whose messages are whatever the
//! application wrote; for S3 objects it ships text logs no other format reads.
//!
//! What must stay true: every non-blank unit becomes exactly one record, with the unit unchanged (its
//! bytes, escaped as JSON), and no unit fails: without a source time the records of an object take the
//! time its first line was read.

use super::descriptor::{Descriptor, Framing, ObjectLines};
use super::mapping::FieldType;
use super::{FormatOptions, FormatSpec, LineKind, LineOut, LogFormat};
use crate::fields::{Timestamp, Value};

/// `plain`.
pub const FORMAT: Descriptor = Descriptor {
    format: LogFormat::Plain,
    name: "plain",
    doc: "any text, one event per line (CloudWatch Logs: per log event) in `message`",
    options: &[],
    required: &[],
    build,
    framing: Framing::Lines,
    compressed_twice: false,
    parser,
    direct: None,
    fields: &[("message", FieldType::Text)],
    ecs: None,
    recognises: None,
    not_a_log: None,
};

fn build(
    _: &FormatOptions,
    _: &dyn Fn(&str) -> String,
) -> Result<FormatSpec, (&'static str, String)> {
    Ok(FormatSpec::Plain)
}

fn parser(_: &FormatSpec) -> Box<dyn ObjectLines<'_> + '_> {
    Box::new(Lines { time: None })
}

/// [`ObjectLines`] of plain text.
#[derive(Debug)]
struct Lines {
    time: Option<Timestamp>,
}

impl<'s> ObjectLines<'s> for Lines {
    fn parse<'a>(&mut self, unit: &'a str, out: &mut LineOut<'a>) -> LineKind
    where
        's: 'a,
    {
        let start = out.len();
        out.push("message", Value::Str(unit.into()));
        // Without a source time, every line of the object takes the moment its first was read.
        let time = *self.time.get_or_insert_with(Timestamp::now);
        out.finish(start, 0..unit.len(), Ok(time));
        LineKind::Data
    }

    fn set_object_time(&mut self, t: Option<Timestamp>) {
        self.time = t;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::LineParser;

    #[test]
    fn without_a_source_time_the_lines_of_an_object_share_one() {
        let spec = FormatSpec::Plain;
        let mut p = LineParser::new(&spec);
        p.set_object_time(None);
        let mut times = Vec::new();
        for line in ["one", "two"] {
            let mut out = LineOut::new();
            p.parse_line(line, &mut out);
            times.push(out.records[0].result.clone().unwrap());
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        assert_eq!(times[0], times[1]);
    }

    #[test]
    fn a_unit_is_its_message_at_the_source_time() {
        let spec = FormatSpec::Plain;
        let mut p = LineParser::new(&spec);
        p.set_object_time(Some(Timestamp::from_millis(1_700_000_000_123)));
        let mut out = LineOut::new();
        let line = "START RequestId: 8f5e \"quoted\" \\ tab\there";
        assert_eq!(p.parse_line(line, &mut out), LineKind::Data);
        assert_eq!(out.records.len(), 1);
        let r = &out.records[0];
        assert_eq!(
            r.result.as_ref().unwrap(),
            &Timestamp::from_millis(1_700_000_000_123)
        );
        let fields = out.fields_of(r);
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].0.as_ref(), "message");
        let mut b = Vec::new();
        fields[0].1.write_json(&mut b);
        assert_eq!(
            serde_json::from_slice::<String>(&b).unwrap(),
            line,
            "the message unchanged"
        );
    }
}
