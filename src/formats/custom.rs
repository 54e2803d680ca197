//! `custom`: not written yet (issue 10); every line is a failure until it is.

use super::{ErrorKind, LineOut, ParseError};
use crate::config::CustomSpec;
use crate::event::Timestamp;

/// Parses one line into `out`.
pub fn parse<'a>(
    _spec: &CustomSpec,
    line: &'a str,
    _out: &mut LineOut<'a>,
) -> Result<Timestamp, ParseError> {
    Err(ParseError::new(
        ErrorKind::NotThisFormat("custom (not implemented yet)"),
        "",
        line,
    ))
}
