//! Where each key of the config file is written: YAML text in, a tree of dotted key paths and their
//! 1-based line numbers out, so that every config error can name its line; and the check that refuses
//! YAML whose aliases would expand too far, before anything expands them.
//!
//! The tree is built from the YAML parser's events (with their source positions), not by searching the
//! text, so a key written several times under different parents (`enabled`, `hosts`) is told apart. Keys
//! are recorded the way the rest of `config` names them: dotted keys are split (`output.elasticsearch:`
//! on line 3 gives `output` and `output.elasticsearch` line 3), and list entries are numbered
//! (`s3logsbeat.inputs.0`). Aliases are recorded at the line of the `*alias`, never expanded. Each key
//! part is stored once, as a child of its parent, so the work is linear in the text however long or
//! deeply dotted its keys are (a path is only spelt out when a line is looked up).
//!
//! A text the parser refuses gives an empty tree: the YAML error itself is reported by the loader.

use std::collections::{HashMap, HashSet};

use saphyr_parser::{Event, Parser};

/// Dotted key path → the line it is written on, as a tree of key parts.
#[derive(Clone, Debug, Default)]
pub struct Positions {
    /// Node 0 is the document (when there is one); every other node is one key part or list index.
    nodes: Vec<Node>,
    /// The first key written twice in one mapping: its text and the line of its second writing.
    duplicate: Option<(String, usize)>,
}

#[derive(Clone, Debug, Default)]
struct Node {
    /// The line the part is first written on.
    line: usize,
    children: HashMap<Box<str>, usize>,
}

/// What the walker is inside of.
enum Frame {
    /// A mapping at `node`: the next node is a key when `key` is `None`, else the value of `key` (the
    /// node of its last part). `seen` are the keys written so far, to find one written twice.
    Map {
        node: usize,
        key: Option<usize>,
        seen: HashSet<String>,
    },
    /// A sequence at `node`: the next node is entry `next`.
    Seq { node: usize, next: usize },
}

impl Positions {
    /// Reads the positions of every key and list entry of `text`.
    pub fn of(text: &str) -> Positions {
        let mut p = Positions {
            nodes: vec![Node::default()],
            duplicate: None,
        };
        let mut stack: Vec<Frame> = Vec::new();
        for ev in Parser::new_from_str(text) {
            let Ok((event, span)) = ev else {
                return Positions::default();
            };
            let line = span.start.line();
            match event {
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let node = p.node_of(&mut stack, line);
                    stack.push(match event {
                        Event::MappingStart(..) => Frame::Map {
                            node,
                            key: None,
                            seen: HashSet::new(),
                        },
                        _ => Frame::Seq { node, next: 0 },
                    });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                    // The collection was the value of a key: that key is complete.
                    if let Some(Frame::Map { key, .. }) = stack.last_mut() {
                        *key = None;
                    }
                }
                Event::Scalar(value, ..) => {
                    if let Some(Frame::Map { node, key, seen }) = stack.last_mut() {
                        if key.is_none() {
                            if !seen.insert(value.to_string()) && p.duplicate.is_none() {
                                p.duplicate = Some((value.to_string(), line));
                            }
                            // Every level a dotted key creates is written on this line.
                            let mut at = *node;
                            for part in value.split('.') {
                                at = p.child(at, part, line);
                            }
                            *key = Some(at);
                            continue;
                        }
                    }
                    p.node_of(&mut stack, line);
                }
                Event::Alias(_) => {
                    p.node_of(&mut stack, line);
                }
                _ => {}
            }
        }
        p
    }

    /// The child `part` of `parent`, made (at `line`) if it is new.
    fn child(&mut self, parent: usize, part: &str, line: usize) -> usize {
        if let Some(&c) = self.nodes[parent].children.get(part) {
            return c;
        }
        let id = self.nodes.len();
        self.nodes.push(Node {
            line,
            children: HashMap::new(),
        });
        self.nodes[parent].children.insert(part.into(), id);
        id
    }

    /// The node of a YAML node that starts now, in whatever encloses it, recording list entries'
    /// lines; for a mapping value, the key is consumed.
    fn node_of(&mut self, stack: &mut [Frame], line: usize) -> usize {
        match stack.last_mut() {
            None => 0,
            Some(Frame::Map { node, key, .. }) => match key.take() {
                Some(k) => k,
                // A complex key (a mapping used as a key): not something a config uses.
                None => *node,
            },
            Some(Frame::Seq { node, next }) => {
                let (parent, i) = (*node, *next);
                *next += 1;
                self.child(parent, &i.to_string(), line)
            }
        }
    }

    /// The node of `key` as far as it is written: (the deepest node reached, whether all of it was).
    fn walk(&self, key: &str) -> Option<(usize, bool)> {
        self.nodes.first()?;
        let mut at = 0;
        for part in key.split('.') {
            match self.nodes[at].children.get(part) {
                Some(&c) => at = c,
                None => return Some((at, false)),
            }
        }
        Some((at, true))
    }

    /// The line of `key`, or of the nearest enclosing key that is written in the file.
    pub fn line(&self, key: &str) -> Option<usize> {
        match self.walk(key)? {
            (0, _) => None,
            (n, _) => Some(self.nodes[n].line),
        }
    }

    /// True if `key` itself is written in the file (not only a parent of it).
    pub fn has(&self, key: &str) -> bool {
        matches!(self.walk(key), Some((n, true)) if n > 0)
    }

    /// The first key written twice in one mapping, and the line of its second writing.
    pub fn duplicate(&self) -> Option<(&str, usize)> {
        self.duplicate.as_ref().map(|(k, l)| (k.as_str(), *l))
    }
}

/// Most values the aliases (`*name`) of one YAML text may stand for, all together: what expanding them
/// adds to the values written out. A real config has none or a few small ones; a few KB of nested
/// aliases can stand for billions (an "alias bomb"). Values written out are not counted: they cost no
/// more than the text they are read from, so a long config without aliases is never refused here.
pub const MAX_EXPANDED_NODES: u64 = 100_000;

/// Why a YAML text was refused before it was read into values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused {
    /// The 1-based line concerned.
    pub line: usize,
    /// What is wrong.
    pub message: String,
    /// True when the text is not YAML this parser reads (rather than YAML whose aliases are refused):
    /// a `-E` value or an environment variable is then taken as a plain string.
    pub not_yaml: bool,
}

/// Refuses YAML whose aliases would expand past [`MAX_EXPANDED_NODES`], before anything expands them.
pub fn check_aliases(text: &str) -> Result<(), Refused> {
    // Per anchor id: the number of values its node expands to.
    let mut sizes: HashMap<usize, u64> = HashMap::new();
    // Per open collection: (its anchor id, the expanded size of it and its children so far).
    let mut open: Vec<(usize, u64)> = Vec::new();
    // What the aliases read so far add, all together.
    let mut added: u64 = 0;
    let add = |open: &mut Vec<(usize, u64)>, n: u64| {
        if let Some((_, s)) = open.last_mut() {
            *s = s.saturating_add(n);
        }
    };
    for ev in Parser::new_from_str(text) {
        let (event, span) = match ev {
            Ok(ev) => ev,
            // Text this parser refuses is not YAML, and the loader reports it: unless it may hold
            // aliases. The loader's parser can read further than this one (the fuzzer found text where
            // it did, then expanded a bomb for minutes), so such text is refused here, by line.
            Err(e) if text.contains('*') => {
                return Err(Refused {
                    line: e.marker().line(),
                    message: format!(
                        "not valid YAML: {} at line {} column {}",
                        e.info(),
                        e.marker().line(),
                        e.marker().col() + 1
                    ),
                    not_yaml: true,
                });
            }
            Err(_) => return Ok(()),
        };
        let line = span.start.line();
        match event {
            Event::Scalar(_, _, anchor, _) => {
                if anchor > 0 {
                    sizes.insert(anchor, 1);
                }
                add(&mut open, 1);
            }
            Event::Alias(id) => {
                // An alias whose value is not complete yet refers to a value that contains it: its
                // expansion never ends (serde_yaml would work until its recursion limit).
                let Some(n) = sizes.get(&id).copied() else {
                    return Err(Refused {
                        line,
                        message: "a YAML alias (*name) refers to a value that contains it".into(),
                        not_yaml: false,
                    });
                };
                added = added.saturating_add(n);
                if added > MAX_EXPANDED_NODES {
                    return Err(Refused {
                        line,
                        message: format!(
                            "the YAML aliases (*name) expand to more than {MAX_EXPANDED_NODES} values; \
                             a config needs far fewer"
                        ),
                        not_yaml: false,
                    });
                }
                add(&mut open, n);
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                open.push((anchor, 1))
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let (anchor, n) = open.pop().unwrap_or((0, 1));
                if anchor > 0 {
                    sizes.insert(anchor, n);
                }
                add(&mut open, n);
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
s3logsbeat:
  inputs:
    - type: sqs
      enabled: true
      queues_url:
        - https://a
        - https://b
    - {type: s3, enabled: false}
output.elasticsearch:
  hosts: [es]
  ssl.verification_mode: ful
logging:
  level: info
http.enabled: true
";

    #[test]
    fn keys_nested_dotted_and_in_lists_have_their_own_lines() {
        let p = Positions::of(TEXT);
        assert_eq!(p.line("s3logsbeat"), Some(1));
        assert_eq!(p.line("s3logsbeat.inputs"), Some(2));
        assert_eq!(p.line("s3logsbeat.inputs.0"), Some(3));
        assert_eq!(p.line("s3logsbeat.inputs.0.enabled"), Some(4));
        assert_eq!(p.line("s3logsbeat.inputs.0.queues_url.1"), Some(7));
        assert_eq!(p.line("s3logsbeat.inputs.1.enabled"), Some(8));
        assert_eq!(p.line("output.elasticsearch"), Some(9));
        assert_eq!(p.line("output.elasticsearch.hosts"), Some(10));
        assert_eq!(
            p.line("output.elasticsearch.ssl.verification_mode"),
            Some(11)
        );
        assert_eq!(p.line("logging.level"), Some(13));
        // The example of the issue: `enabled` on line 4 and 8 must not be taken for this one.
        assert_eq!(p.line("http.enabled"), Some(14));
    }

    #[test]
    fn an_unwritten_key_takes_the_line_of_its_nearest_parent() {
        let p = Positions::of(TEXT);
        assert_eq!(p.line("output.elasticsearch.index"), Some(9));
        assert_eq!(p.line("s3logsbeat.inputs.0.log_format"), Some(3));
        assert_eq!(p.line("queue.mem.events"), None);
    }

    #[test]
    fn an_alias_bomb_is_refused_before_it_expands() {
        let mut bomb = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (i, prev) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
            let name = ["b", "c", "d", "e", "f", "g"][i];
            bomb.push_str(&format!("{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"));
        }
        let err = check_aliases(&bomb).unwrap_err();
        assert!(err.message.contains("expand to more than"), "{err:?}");
        // The line of the alias that went past the budget: each `*d` of line 5 stands for 11,111 values.
        assert_eq!(err.line, 5);
        assert!(check_aliases("a: &x {k: v}\nb: *x\nc: [*x, *x]\n").is_ok());
        // Found by the config fuzzer: a bomb whose text this parser refuses part way, which the
        // loader's parser read further and expanded (for minutes).
        let seed = include_str!("../../fuzz/seeds/config/alias-bomb-past-a-parse-error.yml");
        let err = check_aliases(seed).unwrap_err();
        assert!(err.message.starts_with("not valid YAML"), "{err:?}");
        assert!(err.not_yaml && err.line > 0, "{err:?}");
        // Without aliases the loader reports the YAML error itself.
        assert!(check_aliases("a: [x,\n").is_ok());
        // Found by the config fuzzer: an alias inside its own anchor's value.
        assert!(check_aliases("b: &b [x, *b]\n")
            .unwrap_err()
            .message
            .contains("contains it"));
        assert!(check_aliases(TEXT).is_ok());
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
        assert!(check_aliases(&text).is_ok());
        // An alias standing for that many values is still refused, at its line.
        let text = format!("{text}again: *urls\n").replacen("queues_url:", "queues_url: &urls", 1);
        let err = check_aliases(&text).unwrap_err();
        assert!(err.message.contains("expand to more than"), "{err:?}");
        assert_eq!(err.line, MAX_EXPANDED_NODES as usize + 15);
    }

    #[test]
    fn a_key_of_many_dots_is_recorded_part_by_part() {
        // Fuzz finding G6 (2026-12-07): each level of a dotted key was recorded as the whole prefix
        // up to it, so the work and memory grew with the square of the key's length.
        let key = "a.".repeat(100_000);
        let text = format!("x: 1\n? \"{key}b\"\n: 1\n");
        let p = Positions::of(&text);
        assert_eq!(p.line(&format!("{key}b")), Some(2));
        assert_eq!(
            p.line(&format!("{key}c")),
            Some(2),
            "its nearest written parent"
        );
        assert!(p.has(&format!("{key}b")) && !p.has(&format!("{key}c")));
        assert_eq!(p.line("x"), Some(1));
    }

    #[test]
    fn a_key_written_twice_is_found_at_its_second_line() {
        let p = Positions::of("name: a\nx: {name: b}\nname: c\n");
        assert_eq!(p.duplicate(), Some(("name", 3)));
        assert_eq!(Positions::of(TEXT).duplicate(), None);
    }

    #[test]
    fn broken_yaml_gives_no_lines() {
        assert_eq!(Positions::of("a: [\n").line("a"), None);
    }
}
