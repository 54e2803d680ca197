//! `cloudtrail`: not written yet (issue 10).

use super::{ErrorKind, LineOut, ParseError};

/// Parses one record into `out`.
pub fn parse<'a>(line: &'a str, out: &mut LineOut<'a>) {
    let start = out.fields.len();
    out.finish(
        start,
        0..line.len(),
        Err(ParseError::new(
            ErrorKind::NotThisFormat("cloudtrail (not implemented yet)"),
            "",
            line,
        )),
    );
}
