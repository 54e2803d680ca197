//! `cloudwatch`: not written yet (issue 10).

use super::{ErrorKind, LineOut, ParseError};
use crate::config::CloudwatchOptions;

/// Parses one payload or line into `out`.
pub fn parse<'a>(_opts: &CloudwatchOptions, line: &'a str, out: &mut LineOut<'a>) {
    let start = out.fields.len();
    out.finish(
        start,
        0..line.len(),
        Err(ParseError::new(
            ErrorKind::NotThisFormat("cloudwatch (not implemented yet)"),
            "",
            line,
        )),
    );
}
