//! YAML text in, the config tree ([`Value`]) and the line of every key ([`Positions`]) out, in one pass
//! over saphyr-parser's events; and a tree back out as YAML text, for `export config`. It is the only YAML
//! parser of the crate: the file, each `-E` value and each `${VAR}` that is a whole value are read here.
//!
//! Scalars are resolved as serde_yaml 0.9 resolved them, which is YAML 1.2's core schema (what beats
//! configs are written in): a plain `~`, `null` or nothing is null; `true`/`false` (or `True`, `TRUE`...)
//! a boolean; decimal, `0x`, `0o` and `0b` whole numbers and decimal floats (`.inf`, `.nan`) numbers;
//! anything else text, so `5s` and `1MiB` are text for the value types to read. Quoted and block scalars
//! are always text. YAML 1.1's `yes`/`no`/`on`/`off` are text, and so is `0640` (a leading zero makes
//! digits text in YAML 1.2; `logging.files.permissions` reads it as octal itself). The core tags
//! (`!!str`, `!!int`...) are honoured; other tags are refused, as they mean nothing to a config.
//!
//! What a text may cost is bounded before anything is built from it: aliases (`*name`) are expanded as
//! they are read, and refused as soon as all of them together would add more than
//! [`MAX_EXPANDED_NODES`] values or [`MAX_EXPANDED_BYTES`] bytes of text (a few KB of nested aliases
//! can stand for billions of values); an alias inside the value it names is refused (its expansion never
//! ends); collections nest at most [`MAX_NESTING`] deep, so the tree can be walked recursively. An
//! anchored value is not copied when it is defined, only where an alias uses it, so anchors cost nothing
//! however deep they are. Every refusal names its line.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};
use serde::de::DeserializeOwned;

mod scalar;
mod write;

pub use write::to_string;

use super::positions::Positions;
use super::tree::{Mapping, Value};
use scalar::{resolve, unsupported};

/// Most values the aliases (`*name`) of one YAML text may stand for, all together: what expanding them
/// adds to the values written out. A real config has none or a few small ones; a few KB of nested
/// aliases can stand for billions (an "alias bomb"). Values written out are not counted: they cost no
/// more than the text they are read from, so a long config without aliases is never refused here.
pub const MAX_EXPANDED_NODES: u64 = 100_000;

/// Most bytes of text (keys and scalars) the aliases of one YAML text may add, all together: the values
/// bound alone would let one long text, aliased that many times, grow a small file a hundred
/// thousandfold.
pub const MAX_EXPANDED_BYTES: u64 = 16 * 1024 * 1024;

/// Most levels a value may sit below the top of the config, counting each part of a dotted key and each
/// list entry (`s3logsbeat.inputs.0.log_format` is 4 levels). The deepest settings are about ten levels
/// down (a condition inside a processor of a file selector); beats configs never come near this. The
/// YAML reader stops at 128 nested collections, but a dotted key adds levels without nesting, so the
/// loader checks the depth itself before anything walks the tree recursively.
pub const MAX_DEPTH: usize = 64;

/// Most collections nested in one another. A config needs about ten; the loader refuses a value more
/// than [`MAX_DEPTH`] levels down, with its key. This bound only keeps the tree shallow
/// enough for the recursive walks that come before that check (dropping, copying).
pub const MAX_NESTING: usize = 128;

/// A YAML text read: its tree, and where its keys are.
#[derive(Clone, Debug)]
pub struct Document {
    /// The tree; `Null` when the text holds no document (empty, or only comments).
    pub value: Value,
    /// The line of each key.
    pub positions: Positions,
}

/// Why a YAML text was refused.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct YamlError {
    /// The 1-based line concerned.
    pub line: usize,
    /// What is wrong.
    pub message: String,
    /// What kind of problem it is.
    pub kind: Refusal,
}

/// What kind of problem refused a YAML text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Not YAML: the parser stopped there. An `-E` value or an environment variable is then taken as
    /// plain text.
    Syntax,
    /// YAML whose aliases would expand too far, or without end: refused wherever it comes from.
    Aliases,
    /// YAML that is no config value: a number out of range, a key written twice, a list used as a key,
    /// a tag, nesting past [`MAX_NESTING`], more than one document.
    Content,
}

/// What an alias stands for, counted against the budgets.
#[derive(Clone, Copy, Debug, Default)]
struct Cost {
    values: u64,
    bytes: u64,
}

impl Cost {
    fn scalar(text: &str) -> Cost {
        Cost {
            values: 1,
            bytes: text.len() as u64,
        }
    }

    fn add(&mut self, other: Cost) {
        self.values = self.values.saturating_add(other.values);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

/// Where an anchored value is, for its aliases.
#[derive(Clone, Debug)]
enum Anchored {
    /// A key, or a scalar: kept, as it costs no more than its text.
    Scalar(Value),
    /// A collection: entry `index` of the collection numbered `serial` (see [`Reader::closed`]).
    At { serial: usize, index: usize },
}

/// A collection being read.
struct Open {
    body: Body,
    /// Its number, in the order collections start: where its entries are found for an alias.
    serial: usize,
    /// Its node in the positions.
    node: usize,
    /// Its anchor id (0 for none).
    anchor: usize,
    /// What it stands for so far, aliases expanded.
    cost: Cost,
}

enum Body {
    /// A mapping; `key` is the key whose value comes next (with its positions node), `None` while a key
    /// comes next.
    Map {
        map: Mapping,
        key: Option<(String, usize)>,
    },
    Seq(Vec<Value>),
}

impl Body {
    /// The value of entry `index`, once complete.
    fn entry(&self, index: usize) -> Option<&Value> {
        match self {
            Body::Map { map, .. } => map.get_index(index).map(|(_, v)| v),
            Body::Seq(items) => items.get(index),
        }
    }

    /// How many entries are complete: the index of the next.
    fn len(&self) -> usize {
        match self {
            Body::Map { map, .. } => map.len(),
            Body::Seq(items) => items.len(),
        }
    }
}

/// Entry `index` of a complete collection.
fn entry(v: &Value, index: usize) -> Option<&Value> {
    match v {
        Value::Mapping(m) => m.get_index(index).map(|(_, v)| v),
        Value::Sequence(items) => items.get(index),
        _ => None,
    }
}

/// The state of one read.
struct Reader {
    stack: Vec<Open>,
    root: Option<Value>,
    positions: Positions,
    anchors: HashMap<usize, (Anchored, Cost)>,
    /// Per collection number: where its value went once complete, as (the number of the collection that
    /// holds it, its index there); `None` for the document's top value or while it is open.
    closed: Vec<Option<(usize, usize)>>,
    /// What the aliases read so far add, all together.
    added: Cost,
}

/// How many bytes of text [`read`] may parse again, all together, after putting a space for a tab the
/// parser refuses after a `:` (see there): a config with hundreds of such tabs is read, and a text made
/// of nothing else costs a bounded multiple of its length, not its square.
const TAB_RETRY_BYTES: usize = 64 * 1024 * 1024;

/// The parser's message for a tab after a key's `:` (`key:<tab>value`).
const TAB_AFTER_COLON: &str = "':' must be followed by a valid YAML whitespace";

/// Reads one YAML text.
///
/// saphyr-parser refuses a tab between a key's `:` and a value that starts with a letter, a digit or
/// `-` (`key:<tab>value`), which YAML allows and the libyaml-based reader before it read: such configs
/// exist, with values aligned by tabs. The parser only says so for a `:` it has taken as a key's, so the
/// tabs it points at separate the key from its value; they are read as spaces (which changes no value
/// and no line) and the text is parsed again, within [`TAB_RETRY_BYTES`].
pub fn read(text: &str) -> Result<Document, YamlError> {
    let mut text = std::borrow::Cow::Borrowed(text);
    let mut budget = TAB_RETRY_BYTES;
    loop {
        let may_retry = budget >= text.len();
        match read_once(&text, may_retry) {
            Err(Retry::Tab(at)) => {
                budget -= text.len();
                text = std::borrow::Cow::Owned(spaces_for_tabs_before(&text, at));
            }
            Err(Retry::No(e)) => return Err(e),
            Ok(doc) => return Ok(doc),
        }
    }
}

/// Why [`read_once`] stopped.
enum Retry {
    /// At a tab after a `:`, before the character numbered (from 0) so: read again with spaces.
    Tab(usize),
    /// For good.
    No(YamlError),
}

impl From<YamlError> for Retry {
    fn from(e: YamlError) -> Retry {
        Retry::No(e)
    }
}

/// `text` with the blanks just before its character numbered `at` made spaces.
fn spaces_for_tabs_before(text: &str, at: usize) -> String {
    let end = text.char_indices().nth(at).map_or(text.len(), |(i, _)| i);
    let head = &text[..end];
    let blanks = head.len() - head.trim_end_matches([' ', '\t']).len();
    format!(
        "{}{}{}",
        &head[..end - blanks],
        " ".repeat(blanks),
        &text[end..]
    )
}

fn read_once(text: &str, may_retry: bool) -> Result<Document, Retry> {
    let whole = text;
    // A block scalar that runs to the end of a text without a final line break: the parser gives it a
    // line break (or two) more than YAML, and the reader before it, do.
    let unterminated = !text.ends_with(['\n', '\r']);
    let mut chars = None;
    let mut r = Reader {
        stack: Vec::new(),
        root: None,
        positions: Positions::new(),
        anchors: HashMap::new(),
        closed: Vec::new(),
        added: Cost::default(),
    };
    let mut documents = 0;
    for ev in Parser::new_from_str(text) {
        let (event, span) = match ev {
            Ok(ev) => ev,
            Err(e) if may_retry && e.info() == TAB_AFTER_COLON => {
                return Err(Retry::Tab(e.marker().index()))
            }
            Err(e) => {
                return Err(Retry::No(YamlError {
                    line: e.marker().line(),
                    message: format!(
                        "not valid YAML: {} at line {} column {}",
                        e.info(),
                        e.marker().line(),
                        e.marker().col() + 1
                    ),
                    kind: Refusal::Syntax,
                }))
            }
        };
        let line = span.start.line();
        match event {
            Event::DocumentStart(_) => {
                documents += 1;
                if documents > 1 {
                    return Err(Retry::No(r.content(
                        line,
                        "a config is one YAML document, and a second one starts here (---)",
                    )));
                }
            }
            Event::Scalar(text, style, anchor, tag) => {
                if r.wants_key() {
                    if anchor > 0 {
                        r.anchors.insert(
                            anchor,
                            (
                                Anchored::Scalar(Value::String(text.to_string())),
                                Cost::scalar(&text),
                            ),
                        );
                    }
                    r.key(text.into_owned(), line)?;
                    continue;
                }
                let mut text = text;
                if unterminated
                    && matches!(style, ScalarStyle::Literal | ScalarStyle::Folded)
                    && text.ends_with('\n')
                    && span.end.index() >= *chars.get_or_insert_with(|| whole.chars().count())
                {
                    text.to_mut().pop();
                }
                let value = resolve(&text, style, tag.as_deref()).map_err(|m| {
                    let at = r.at();
                    r.content(line, format!("{at}{m}"))
                })?;
                let cost = Cost::scalar(&text);
                if anchor > 0 {
                    r.anchors
                        .insert(anchor, (Anchored::Scalar(value.clone()), cost));
                }
                r.node(line);
                r.attach(value, cost);
            }
            Event::Alias(id) => {
                let Some((anchored, cost)) = r.anchors.get(&id).cloned() else {
                    return Err(Retry::No(YamlError {
                        line,
                        message: "a YAML alias (*name) refers to a value that contains it".into(),
                        kind: Refusal::Aliases,
                    }));
                };
                r.added.add(cost);
                if r.added.values > MAX_EXPANDED_NODES {
                    return Err(Retry::No(aliases(
                        line,
                        format!("more than {MAX_EXPANDED_NODES} values"),
                    )));
                }
                if r.added.bytes > MAX_EXPANDED_BYTES {
                    return Err(Retry::No(aliases(
                        line,
                        format!("more than {MAX_EXPANDED_BYTES} bytes of text"),
                    )));
                }
                let value = match anchored {
                    Anchored::Scalar(v) => v,
                    Anchored::At { serial, index } => r
                        .find(serial, index)
                        .cloned()
                        .expect("an anchored collection stays where it was put"),
                };
                if r.wants_key() {
                    let key = match value {
                        Value::String(s) => s,
                        Value::Number(n) => n.to_string(),
                        Value::Bool(b) => b.to_string(),
                        Value::Null => String::new(),
                        Value::Sequence(_) | Value::Mapping(_) => {
                            return Err(Retry::No(r.complex_key(line)));
                        }
                    };
                    r.key(key, line)?;
                    continue;
                }
                r.node(line);
                r.attach(value, cost);
            }
            Event::MappingStart(anchor, tag) => r.open(true, anchor, tag.as_deref(), line)?,
            Event::SequenceStart(anchor, tag) => r.open(false, anchor, tag.as_deref(), line)?,
            Event::MappingEnd | Event::SequenceEnd => {
                let Some(open) = r.stack.pop() else { continue };
                let value = match open.body {
                    Body::Map { map, .. } => Value::Mapping(map),
                    Body::Seq(items) => Value::Sequence(items),
                };
                let at = r.stack.last().map(|p| (p.serial, p.body.len()));
                r.closed[open.serial] = at;
                if let (true, Some((serial, index))) = (open.anchor > 0, at) {
                    r.anchors
                        .insert(open.anchor, (Anchored::At { serial, index }, open.cost));
                }
                r.attach(value, open.cost);
            }
            _ => {}
        }
    }
    Ok(Document {
        value: r.root.unwrap_or(Value::Null),
        positions: r.positions,
    })
}

fn aliases(line: usize, what: String) -> YamlError {
    YamlError {
        line,
        message: format!("the YAML aliases (*name) expand to {what}; a config needs far fewer"),
        kind: Refusal::Aliases,
    }
}

impl Reader {
    /// True when the next node is a key of the mapping being read.
    fn wants_key(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(Open {
                body: Body::Map { key: None, .. },
                ..
            })
        )
    }

    /// A collection starts: a mapping (`map`) or a list.
    fn open(
        &mut self,
        map: bool,
        anchor: usize,
        tag: Option<&Tag>,
        line: usize,
    ) -> Result<(), YamlError> {
        if self.wants_key() {
            return Err(self.complex_key(line));
        }
        if let Some(tag) = tag {
            let fits = tag.is_yaml_core_schema() && tag.suffix == if map { "map" } else { "seq" };
            if !fits {
                let at = self.at();
                return Err(self.content(line, format!("{at}{}", unsupported(tag))));
            }
        }
        if self.stack.len() >= MAX_NESTING {
            return Err(self.content(
                line,
                format!(
                    "the YAML is nested too deeply to be read (more than {MAX_NESTING} \
                     collections); at most {} levels of nesting are allowed",
                    MAX_DEPTH
                ),
            ));
        }
        let node = self.node(line);
        let serial = self.closed.len();
        self.closed.push(None);
        self.stack.push(Open {
            body: if map {
                Body::Map {
                    map: Mapping::new(),
                    key: None,
                }
            } else {
                Body::Seq(Vec::new())
            },
            serial,
            node,
            anchor,
            cost: Cost {
                values: 1,
                bytes: 0,
            },
        });
        Ok(())
    }

    /// The key of the next value of the mapping being read.
    fn key(&mut self, key: String, line: usize) -> Result<(), YamlError> {
        let at = self.at();
        let Some(Open {
            body: Body::Map { map, key: pending },
            node,
            cost,
            ..
        }) = self.stack.last_mut()
        else {
            return Ok(());
        };
        if map.contains_key(&key) {
            return Err(YamlError {
                line,
                message: format!("{at}key {key:?} is written twice in one mapping"),
                kind: Refusal::Content,
            });
        }
        cost.add(Cost::scalar(&key));
        let n = self.positions.key(*node, &key, line);
        *pending = Some((key, n));
        Ok(())
    }

    /// The positions node of the value that starts now (a list entry's is made here).
    fn node(&mut self, line: usize) -> usize {
        match self.stack.last() {
            None => Positions::DOCUMENT,
            Some(Open {
                body: Body::Map { key, .. },
                node,
                ..
            }) => key.as_ref().map_or(*node, |(_, n)| *n),
            Some(Open {
                body: Body::Seq(items),
                node,
                ..
            }) => {
                let (parent, i) = (*node, items.len());
                self.positions.child(parent, &i.to_string(), line)
            }
        }
    }

    /// Puts a complete value where it belongs.
    fn attach(&mut self, value: Value, cost: Cost) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(open) => {
                open.cost.add(cost);
                match &mut open.body {
                    Body::Map { map, key } => {
                        if let Some((k, _)) = key.take() {
                            map.insert(k, value);
                        }
                    }
                    Body::Seq(items) => items.push(value),
                }
            }
        }
    }

    /// Entry `index` of the collection numbered `serial`, which may since have been completed and put
    /// into another: the way down is found from the first collection still open.
    fn find(&self, mut serial: usize, index: usize) -> Option<&Value> {
        let mut down = vec![index];
        loop {
            // Open collections are on the stack in the order they started, so by number.
            if let Ok(at) = self.stack.binary_search_by_key(&serial, |o| o.serial) {
                let mut v = self.stack[at].body.entry(down.pop()?)?;
                while let Some(i) = down.pop() {
                    v = entry(v, i)?;
                }
                return Some(v);
            }
            let (parent, i) = (*self.closed.get(serial)?)?;
            down.push(i);
            serial = parent;
        }
    }

    /// The dotted key of the value being read (`queue.mem.events`, `processors.0`), and `: `; nothing at
    /// the top.
    fn at(&self) -> String {
        let mut path = String::new();
        for open in &self.stack {
            let part = match &open.body {
                Body::Map {
                    key: Some((k, _)), ..
                } => k.clone(),
                Body::Map { key: None, .. } => break,
                Body::Seq(items) => items.len().to_string(),
            };
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&part);
        }
        if path.is_empty() {
            path
        } else {
            path + ": "
        }
    }

    fn content(&self, line: usize, message: impl Into<String>) -> YamlError {
        YamlError {
            line,
            message: message.into(),
            kind: Refusal::Content,
        }
    }

    fn complex_key(&self, line: usize) -> YamlError {
        let at = self.at();
        self.content(line, format!("{at}a key is text, not a list or a mapping"))
    }
}

/// `T` from YAML text: for fixtures, tests, and the manifests the packaging tests read. A refusal is given
/// with its line.
pub fn from_str<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let doc = read(text).map_err(|e| format!("line {}: {}", e.line, e.message))?;
    super::tree::from_value(&doc.value).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tree::Number;

    fn value(text: &str) -> Value {
        read(text)
            .unwrap_or_else(|e| panic!("{text:?}: {e:?}"))
            .value
    }

    fn refused(text: &str) -> YamlError {
        read(text).expect_err(text)
    }

    #[test]
    fn scalars_resolve_as_serde_yaml_did() {
        let v = value(
            "a: ~\nb:\nc: True\nd: 12\ne: -3\nf: 0x1f\ng: 0.5\nh: .inf\ni: 5s\nj: '12'\nk: 0640\n\
             l: yes\nm: off\nn: !!str 7\no: !!int \"7\"\np: \"true\"\nq: +4\nr: 1e3\ns: -0o17\nt: inf\n",
        );
        let n = |n: Number| Value::Number(n);
        for (k, want) in [
            ("a", Value::Null),
            ("b", Value::Null),
            ("c", Value::Bool(true)),
            ("d", n(Number::Unsigned(12))),
            ("e", n(Number::Negative(-3))),
            ("f", n(Number::Unsigned(31))),
            ("g", n(Number::Float(0.5))),
            ("h", n(Number::Float(f64::INFINITY))),
            ("i", "5s".into()),
            ("j", "12".into()),
            ("k", "0640".into()),
            ("l", "yes".into()),
            ("m", "off".into()),
            ("n", "7".into()),
            ("o", n(Number::Unsigned(7))),
            ("p", "true".into()),
            ("q", n(Number::Unsigned(4))),
            ("r", n(Number::Float(1000.0))),
            ("s", n(Number::Negative(-15))),
            ("t", "inf".into()),
        ] {
            assert_eq!(v[k], want, "{k}");
        }
        assert_eq!(value("# only a comment\n"), Value::Null);
        assert_eq!(value(""), Value::Null);
    }

    #[test]
    fn what_is_no_config_value_is_refused_at_its_line() {
        let e = refused("a:\n  b: 99999999999999999999999\n");
        assert_eq!(
            (e.line, e.message.as_str(), e.kind),
            (
                2,
                "a.b: 99999999999999999999999 is out of range: integers go from \
                 -9223372036854775808 to 18446744073709551615; quote it if it is meant as text",
                Refusal::Content
            )
        );
        let e = refused("name: a\nx: {name: b}\nname: c\n");
        assert_eq!(e.line, 3);
        assert_eq!(e.message, "key \"name\" is written twice in one mapping");
        let e = refused("a:\n  - x\n  - {k: 1, k: 2}\n");
        assert_eq!(e.message, "a.1: key \"k\" is written twice in one mapping");
        let e = refused("a:\n  ? [x]\n  : 1\n");
        assert_eq!(
            (e.line, e.message.as_str()),
            (2, "a: a key is text, not a list or a mapping")
        );
        let e = refused("a: !secret x\n");
        assert!(
            e.message
                .starts_with("a: the YAML tag !secret is not supported"),
            "{e:?}"
        );
        let e = refused("a: !!int x\n");
        assert_eq!(e.message, "a: \"x\" is not a whole number (!!int)");
        let e = refused("a: 1\n---\nb: 2\n");
        assert_eq!(e.line, 2);
        assert!(e.message.contains("one YAML document"), "{e:?}");
        let e = refused("a: [x,\n");
        assert_eq!(e.kind, Refusal::Syntax);
        assert!(e.message.starts_with("not valid YAML: "), "{e:?}");
        let deep = format!("a: {}{}\n", "[".repeat(200), "]".repeat(200));
        let e = refused(&deep);
        assert_eq!((e.line, e.kind), (1, Refusal::Content));
        assert!(
            e.message.starts_with("the YAML is nested too deeply"),
            "{e:?}"
        );
        assert!(read(&format!("a: {}{}\n", "[".repeat(127), "]".repeat(127))).is_ok());
    }

    #[test]
    fn a_tab_after_a_keys_colon_separates_as_a_space_does() {
        // The libyaml-based reader read these; saphyr-parser refuses them as they are.
        let v = value("a:\t1\nb:\t\tx y\nc:\t-3\nd: \"q:\tz\"\ne:\t[1, 2]\nf:\t'g:\th'\n");
        assert_eq!(v["a"].as_u64(), Some(1));
        assert_eq!(v["b"], "x y");
        assert_eq!(v["c"].as_i64(), Some(-3));
        assert_eq!(v["d"], "q:\tz", "a tab inside a value is kept");
        assert_eq!(v["e"][1].as_u64(), Some(2));
        assert_eq!(v["f"], "g:\th");
        let doc = read("s3logsbeat:\n  name:\tx\n  other:\ty\n").unwrap();
        assert_eq!(doc.positions.line("s3logsbeat.other"), Some(3));
        // Many of them cost a bounded number of reads: past the budget the parser's refusal is given.
        let many = "k:\tv\n"
            .repeat(20_000)
            .replace("k:", "\n- k:")
            .replacen('\n', "", 1);
        let e = refused(&many);
        assert!(
            e.message
                .contains("must be followed by a valid YAML whitespace"),
            "{e:?}"
        );
    }

    #[test]
    fn a_block_scalar_at_the_very_end_keeps_the_line_breaks_it_has() {
        assert_eq!(value("a: |\n  x")["a"], "x");
        assert_eq!(value("a: |\n  x\n")["a"], "x\n");
        assert_eq!(value("a: >\n  x\n  y")["a"], "x y");
        assert_eq!(value("a: |\n  x\n  ")["a"], "x\n");
        assert_eq!(value("a: |-\n  x")["a"], "x");
        assert_eq!(value("a: |\n  x\nb: |\n  y")["a"], "x\n");
    }

    #[test]
    fn aliases_expand_to_copies_of_their_anchors() {
        let v = value("a: &x {k: [1, 2]}\nb: *x\nc: [*x, &y v, *y]\n*y : 3\n");
        assert_eq!(v["b"], v["a"]);
        assert_eq!(v["c"][0], v["a"]);
        assert_eq!(v["c"][2], "v");
        assert_eq!(v["v"].as_u64(), Some(3));
        // An anchor inside a collection that is itself complete and put into another.
        let v = value("a: {b: [&x {k: 1}]}\nc: *x\nd:\n  e: &z [q]\n  f: *z\n");
        assert_eq!(v["c"]["k"].as_u64(), Some(1));
        assert_eq!(v["d"]["f"][0], "q");
        // An anchor named again stands for its new value from there on.
        let v = value("a: &x 1\nb: *x\nc: &x 2\nd: *x\n");
        assert_eq!((v["b"].as_u64(), v["d"].as_u64()), (Some(1), Some(2)));
    }

    #[test]
    fn an_alias_bomb_is_refused_before_it_expands() {
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (i, prev) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
            let name = ["b", "c", "d", "e", "f", "g"][i];
            bomb.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        }
        let err = refused(&bomb);
        assert!(
            err.message.contains("expand to more than 100000 values"),
            "{err:?}"
        );
        assert_eq!(err.kind, Refusal::Aliases);
        // The line of the alias that went past the budget: each `*d` of line 5 stands for 11,111 values.
        assert_eq!(err.line, 5);
        // Found by the config fuzzer: a bomb whose text the parser refuses part way (a parser that read
        // further expanded it for minutes).
        let seed = include_str!("../../../fuzz/seeds/config/alias-bomb-past-a-parse-error.yml");
        let err = refused(seed);
        assert!(err.message.starts_with("not valid YAML"), "{err:?}");
        assert!(err.kind == Refusal::Syntax && err.line > 0, "{err:?}");
        // Found by the config fuzzer: an alias inside its own anchor's value.
        let err = refused("b: &b [x, *b]\n");
        assert!(err.message.contains("contains it"), "{err:?}");
        assert_eq!(err.kind, Refusal::Aliases);
    }

    #[test]
    fn one_long_text_aliased_many_times_is_refused_too() {
        let long = "x".repeat(1 << 20);
        let mut text = format!("a: &a {long}\nb: [");
        text.push_str(&"*a, ".repeat(20));
        text.push_str("]\n");
        let err = refused(&text);
        assert!(
            err.message
                .contains("expand to more than 16777216 bytes of text"),
            "{err:?}"
        );
        assert_eq!(err.line, 2);
        // The same text aliased a few times is a config's business.
        let text = format!("a: &a {long}\nb: [*a, *a]\n");
        assert!(read(&text).is_ok());
    }

    #[test]
    fn only_what_aliases_add_is_counted() {
        // Fuzz finding G9 (2026-12-07): a config with more than MAX_EXPANDED_NODES values and no alias
        // was refused as an alias bomb.
        let mut text = String::from("s3logsbeat:\n  inputs:\n    - type: sqs\n      queues_url:\n");
        for i in 0..MAX_EXPANDED_NODES + 10 {
            text.push_str(&format!(
                "        - https://sqs.us-east-1.amazonaws.com/1/q{i}\n"
            ));
        }
        assert!(read(&text).is_ok());
        // An alias standing for that many values is still refused, at its line.
        let text = format!("{text}again: *urls\n").replacen("queues_url:", "queues_url: &urls", 1);
        let err = refused(&text);
        assert!(err.message.contains("expand to more than"), "{err:?}");
        assert_eq!(err.line, MAX_EXPANDED_NODES as usize + 15);
    }

    #[test]
    fn written_out_a_tree_reads_back_the_same() {
        let tricky = [
            "",
            " lead",
            "trail ",
            "a: b",
            "a #b",
            "#x",
            "-x",
            "- x",
            "?",
            ":x",
            "x:",
            "[a",
            "{a",
            "*a",
            "&a",
            "!a",
            "|",
            ">",
            "'q",
            "\"q",
            "%x",
            "@x",
            "`x",
            "~",
            "null",
            "Null",
            "true",
            "FALSE",
            "12",
            "-3",
            "0x1f",
            "0640",
            "1e3",
            ".inf",
            ".nan",
            "5s",
            "line\nbreak",
            "tab\there",
            "cr\r",
            "\u{7f}",
            "\u{85}",
            "\u{2028}",
            "\u{feff}x",
            "back\\slash",
            "quote\"d",
            "€uro",
            "---",
            "...",
            "a,b",
            "a]b",
            "%{[beat.version]}",
            "s3logsbeat-%{+yyyy.MM.dd}",
            "https://u:p@h:9200/x?y#z",
            "C:\\dir",
            "  ",
        ];
        let mut m = Mapping::new();
        for (i, s) in tricky.iter().enumerate() {
            m.insert(format!("k{i}"), Value::String(s.to_string()));
            m.insert(s.to_string(), Value::Number(Number::Unsigned(i as u64)));
        }
        m.insert(
            "nums".into(),
            Value::Sequence(vec![
                Value::Number(Number::Float(1.0)),
                Value::Number(Number::Float(1e20)),
                Value::Number(Number::Float(-2.5e-7)),
                Value::Number(Number::Float(f64::NEG_INFINITY)),
                Value::Number(Number::Float(f64::NAN)),
                Value::Number(Number::Negative(i64::MIN)),
                Value::Number(Number::Unsigned(u64::MAX)),
                Value::Null,
                Value::Bool(false),
            ]),
        );
        m.insert(
            "nested".into(),
            value("- [a, [b, {}], []]\n- {x: {y: [1, {z: 2}]}, w: []}\n- - - deep\n"),
        );
        let tree = Value::Mapping(m);
        let text = to_string(&tree);
        assert_eq!(value(&text), tree, "{text}");
        assert_eq!(to_string(&Value::Null), "null\n");
        assert_eq!(value(&to_string(&"x: y".into())), "x: y");
    }
}
