//! `output.elasticsearch.index`: the pattern text in, an [`IndexPattern`] of literal text, dates and field
//! references out, parsed once so that an unclosed `%{` or an unknown reference is a config error, not
//! a surprise at the first event. The output renders it per event (`outputs::elasticsearch::index`).

/// One piece of an index name pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IndexPart {
    /// Text kept as is.
    Literal(String),
    /// `%{+yyyy.MM.dd}`: the event's date (UTC), as a chrono format.
    Date(String),
    /// `%{[a][b]}`: a field of the event, by path.
    Field(Vec<String>),
}

/// A parsed index name pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexPattern {
    /// The pieces, in order.
    pub parts: Vec<IndexPart>,
}

/// Characters Elasticsearch refuses in an index name (and the space).
const INVALID_CHARS: [char; 10] = ['\\', '/', '*', '?', '"', '<', '>', '|', ',', '#'];

/// Checks a (lower-cased) index name as Elasticsearch does: not empty, not `.` or `..`, no space and
/// none of `\ / * ? " < > | , #`, not starting with `-`, `_` or `+`, at most 255 bytes. The error says
/// what is wrong.
pub fn check_name(name: &str) -> Result<(), String> {
    let why = if name.is_empty() {
        "is empty"
    } else if name == "." || name == ".." {
        "is . or .."
    } else if name.len() > 255 {
        "is longer than 255 bytes"
    } else if name.starts_with(['-', '_', '+']) {
        "starts with -, _ or +"
    } else if name.chars().any(|c| c == ' ' || INVALID_CHARS.contains(&c)) {
        "contains a space or one of \\ / * ? \" < > | , #"
    } else {
        return Ok(());
    };
    Err(format!("is not valid: it {why}"))
}

/// The default index, the original's minus its version.
pub const DEFAULT_INDEX: &str = "s3logsbeat-%{+yyyy.MM.dd}";

impl IndexPattern {
    /// Parses a pattern; the error says what is wrong.
    pub fn parse(s: &str) -> Result<IndexPattern, String> {
        let mut parts = Vec::new();
        let mut rest = s;
        while let Some(start) = rest.find("%{") {
            if start > 0 {
                parts.push(IndexPart::Literal(rest[..start].to_string()));
            }
            let end = rest[start..]
                .find('}')
                .map(|e| start + e)
                .ok_or_else(|| format!("{s:?}: unclosed %{{"))?;
            let inner = &rest[start + 2..end];
            if let Some(fmt) = inner.strip_prefix('+') {
                if fmt.is_empty() {
                    return Err(format!("{s:?}: empty date format in %{{+}}"));
                }
                parts.push(IndexPart::Date(joda_to_chrono(fmt)));
            } else if inner.starts_with('[') && inner.ends_with(']') {
                let path: Vec<String> = inner[1..inner.len() - 1]
                    .split("][")
                    .map(str::to_string)
                    .collect();
                if path.iter().any(|p| p.is_empty()) {
                    return Err(format!("{s:?}: empty field name in %{{{inner}}}"));
                }
                parts.push(IndexPart::Field(path));
            } else {
                return Err(format!(
                    "{s:?}: %{{{inner}}} is neither a date (%{{+yyyy.MM.dd}}) nor a field (%{{[field]}})"
                ));
            }
            rest = &rest[end + 1..];
        }
        if !rest.is_empty() {
            parts.push(IndexPart::Literal(rest.to_string()));
        }
        if parts.is_empty() {
            return Err("the index name is empty".into());
        }
        let p = IndexPattern { parts };
        p.check_literals().map_err(|m| format!("{s:?} {m}"))?;
        Ok(p)
    }

    /// Refuses a pattern whose own text makes every name invalid (a space, `/`, `*`...), so that such an
    /// index is a config error rather than every event dead-lettered.
    fn check_literals(&self) -> Result<(), String> {
        for (i, p) in self.parts.iter().enumerate() {
            if let IndexPart::Literal(l) = p {
                let l = l.to_lowercase();
                if let Some(c) = l.chars().find(|c| *c == ' ' || INVALID_CHARS.contains(c)) {
                    return Err(format!(
                        "contains {c:?}, which Elasticsearch refuses in index names"
                    ));
                }
                if i == 0 && l.starts_with(['-', '_', '+']) {
                    return Err("starts with -, _ or +, which Elasticsearch refuses".into());
                }
            }
        }
        Ok(())
    }

    /// True if the pattern reads fields of the event (so rendering needs the document).
    pub fn has_fields(&self) -> bool {
        self.parts.iter().any(|p| matches!(p, IndexPart::Field(_)))
    }
}

/// Joda date tokens (libbeat's `%{+yyyy.MM.dd}`) as chrono's.
fn joda_to_chrono(f: &str) -> String {
    let mut out = String::new();
    let mut rest = f;
    let table = [
        ("yyyy", "%Y"),
        ("YYYY", "%Y"),
        ("yy", "%y"),
        ("MM", "%m"),
        ("dd", "%d"),
        ("HH", "%H"),
        ("mm", "%M"),
        ("ss", "%S"),
        ("ww", "%V"),
    ];
    'outer: while !rest.is_empty() {
        for (j, c) in table {
            if let Some(r) = rest.strip_prefix(j) {
                out.push_str(c);
                rest = r;
                continue 'outer;
            }
        }
        let ch = rest.chars().next().expect("not empty");
        if ch == '%' {
            out.push_str("%%");
        } else {
            out.push(ch);
        }
        rest = &rest[ch.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_parse_into_parts() {
        let p = IndexPattern::parse("logs-%{[environment]}-%{[k][app]}-%{+yyyy.MM}").unwrap();
        assert_eq!(
            p.parts,
            vec![
                IndexPart::Literal("logs-".into()),
                IndexPart::Field(vec!["environment".into()]),
                IndexPart::Literal("-".into()),
                IndexPart::Field(vec!["k".into(), "app".into()]),
                IndexPart::Literal("-".into()),
                IndexPart::Date("%Y.%m".into()),
            ]
        );
        assert!(p.has_fields());
        assert!(!IndexPattern::parse(DEFAULT_INDEX).unwrap().has_fields());
    }

    #[test]
    fn mistakes_are_refused_with_a_reason() {
        for (bad, why) in [
            ("x-%{foo}", "neither a date"),
            ("alb-%{+yyyy.MM.dd", "unclosed"),
            ("x-%{[]}", "empty field name"),
            ("x-%{+}", "empty date format"),
            ("", "empty"),
            ("my logs-%{+yyyy}", "contains ' '"),
            ("_internal", "starts with"),
            ("a/b", "contains '/'"),
        ] {
            let e = IndexPattern::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
