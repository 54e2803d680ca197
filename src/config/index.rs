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

/// Characters Elasticsearch refuses in an index name (and the space). `:` has been refused since 7.0
/// (it separates a remote cluster from an index).
const INVALID_CHARS: [char; 11] = ['\\', '/', '*', '?', '"', '<', '>', '|', ',', '#', ':'];

/// Checks a (lower-cased) index name as Elasticsearch does: not empty, not `.` or `..`, no space and
/// none of `\ / * ? " < > | , # :`, not starting with `-`, `_` or `+`, at most 255 bytes. The error says
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
        "contains a space or one of \\ / * ? \" < > | , # :"
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
                parts.push(IndexPart::Date(
                    joda_to_chrono(fmt).map_err(|m| format!("{s:?}: %{{+{fmt}}} {m}"))?,
                ));
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
        // The whole name, rendered once as an event would render it (a date, each field `x`): a date
        // part that writes a `/` or a space, or a name too long, is refused here and not per event.
        let sample = p.sample().to_lowercase();
        check_name(&sample).map_err(|m| format!("{s:?} renders as {sample:?}, which {m}"))?;
        Ok(p)
    }

    /// The index template pattern that covers every name this pattern gives: its text before the first
    /// `%{`, lower-cased, then `*`; `None` when the name starts with a date or a field (a template for
    /// `*` would catch every index of the cluster).
    pub fn template_pattern(&self) -> Option<String> {
        match &self.parts[..] {
            [IndexPart::Literal(l)] => Some(l.to_lowercase()),
            [IndexPart::Literal(l), ..] => Some(format!("{}*", l.to_lowercase())),
            _ => None,
        }
    }

    /// The name this pattern gives an event of 2024-01-02T03:04:05Z whose every field is `x`.
    pub fn sample(&self) -> String {
        let when = chrono::DateTime::from_timestamp(1_704_164_645, 0).expect("a valid time");
        self.parts
            .iter()
            .map(|p| match p {
                IndexPart::Literal(l) => l.clone(),
                IndexPart::Date(f) => when.format(f).to_string(),
                IndexPart::Field(_) => "x".to_string(),
            })
            .collect()
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

    /// True if the pattern reads fields of the event's document (so rendering needs to read it);
    /// `%{[@metadata][format]}` is not one of them.
    pub fn has_fields(&self) -> bool {
        self.parts
            .iter()
            .any(|p| matches!(p, IndexPart::Field(path) if !is_metadata_format(path)))
    }

    /// The seconds over which every date part of the name stays the same, counted from the epoch (UTC
    /// has no offset to shift them): a day, an hour when a part writes the hour, a second when one
    /// writes minutes or seconds. Two events of one format in the same step get the same name unless a
    /// field is in it.
    pub fn date_step(&self) -> i64 {
        let formats = self.parts.iter().filter_map(|p| match p {
            IndexPart::Date(f) => Some(f.as_str()),
            _ => None,
        });
        let mut step = 86_400;
        for f in formats {
            if f.contains("%M") || f.contains("%S") {
                return 1;
            }
            if f.contains("%H") || f.contains("%-H") {
                step = 3_600;
            }
        }
        step
    }
}

/// True for `%{[@metadata][format]}`, the format an object was read as (routing by key), which the
/// event carries beside its document.
pub fn is_metadata_format(path: &[String]) -> bool {
    path.len() == 2 && path[0] == "@metadata" && path[1] == "format"
}

/// Joda date tokens (libbeat's `%{+yyyy.MM.dd}`) as chrono's. A letter that is not one of them is refused
/// rather than written as itself (`DD`, day of the year in Joda, would otherwise name every index `dd`):
/// no part of a date is silently dropped or misread.
fn joda_to_chrono(f: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = f;
    // Longest first: `yyyy` before `yy`, `MM` before `M`.
    let table = [
        ("yyyy", "%Y"),
        ("YYYY", "%Y"),
        ("xxxx", "%G"),
        ("yy", "%y"),
        ("MM", "%m"),
        ("dd", "%d"),
        ("HH", "%H"),
        ("mm", "%M"),
        ("ss", "%S"),
        ("ww", "%V"),
        ("M", "%-m"),
        ("d", "%-d"),
        ("H", "%-H"),
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
        if ch.is_ascii_alphabetic() {
            return Err(format!(
                "has the date letter {ch:?}, which is not one of yyyy, YYYY, xxxx, yy, MM, M, dd, d, HH, H, mm, ss, ww"
            ));
        }
        if ch == '%' {
            out.push_str("%%");
        } else {
            out.push(ch);
        }
        rest = &rest[ch.len_utf8()..];
    }
    Ok(out)
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
    fn the_date_step_is_the_finest_unit_written() {
        let step = |p: &str| IndexPattern::parse(p).unwrap().date_step();
        assert_eq!(step(DEFAULT_INDEX), 86_400);
        assert_eq!(step("x-%{+xxxx.ww}"), 86_400);
        assert_eq!(step("x-%{+yyyy.MM.dd}-%{+HH}"), 3_600);
        assert_eq!(step("x-%{+yyyy.MM.dd.H}"), 3_600);
        assert_eq!(step("x-%{+yyyy.MM.dd.HH.mm}"), 1);
        assert_eq!(step("x-%{+ss}"), 1);
        assert_eq!(step("x"), 86_400);
    }

    #[test]
    fn mistakes_are_refused_with_a_reason() {
        let long = "x".repeat(256);
        for (bad, why) in [
            ("x-%{foo}", "neither a date"),
            ("alb-%{+yyyy.MM.dd", "unclosed"),
            ("x-%{[]}", "empty field name"),
            ("x-%{+}", "empty date format"),
            ("", "empty"),
            ("my logs-%{+yyyy}", "contains ' '"),
            ("_internal", "starts with"),
            ("a/b", "contains '/'"),
            // G5 (fuzz findings of 2026-12-07): accepted, and no event could be indexed under them.
            ("logs-%{+yyyy/MM/dd}", "renders as \"logs-2024/01/02\""),
            ("logs-%{+HH mm}", "renders as \"logs-03 04\""),
            ("%{+-yyyy}", "starts with -"),
            ("logs-%{+yyyy.MM.DD}", "date letter 'D'"),
            ("logs:%{+yyyy}", "contains ':'"),
            ("logs-%{+yyyy:MM}", "contains a space or one of"),
            (long.as_str(), "longer than 255"),
        ] {
            let e = IndexPattern::parse(bad).unwrap_err();
            assert!(e.contains(why), "{bad:?}: {e}");
        }
    }
}
