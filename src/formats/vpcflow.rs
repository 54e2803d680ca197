//! `vpcflow`: not written yet (issue 10); every line is a failure until it is.

use super::{ErrorKind, LineOut, ParseError};
use crate::event::Timestamp;

/// The columns of an object: from its header line, else the default version-2 layout.
#[derive(Clone, Debug, Default)]
pub struct Columns;

impl Columns {
    /// The default version-2 layout.
    pub fn default_v2() -> Columns {
        Columns
    }

    /// Takes `line` as the header if it is one.
    pub fn header(&mut self, _line: &str) -> bool {
        false
    }
}

/// Parses one line into `out`.
pub fn parse<'a>(
    _cols: &Columns,
    line: &'a str,
    _out: &mut LineOut<'a>,
) -> Result<Timestamp, ParseError> {
    Err(ParseError::new(
        ErrorKind::NotThisFormat("vpcflow (not implemented yet)"),
        "",
        line,
    ))
}
