//! `nlb`: not written yet (issue 10); every line is a failure until it is.

use super::{ErrorKind, LineOut, ParseError};
use crate::event::Timestamp;

/// Parses one line into `out`.
pub fn parse<'a>(line: &'a str, _out: &mut LineOut<'a>) -> Result<Timestamp, ParseError> {
    Err(ParseError::new(
        ErrorKind::NotThisFormat("nlb (not implemented yet)"),
        "",
        line,
    ))
}
