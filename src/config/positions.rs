//! Where each key of the config file is written: a tree of dotted key paths and their 1-based line
//! numbers, so that every config error can name its line.
//!
//! The YAML reader ([`super::yaml`]) records each key as it reads it, from the parser's events (with their
//! source positions), not by searching the text, so a key written several times under different parents
//! (`enabled`, `hosts`) is told apart. Keys are recorded the way the rest of `config` names them: dotted
//! keys are split (`output.elasticsearch:` on line 3 gives `output` and `output.elasticsearch` line 3), and
//! list entries are numbered (`s3logsbeat.inputs.0`). Aliases are recorded at the line of the `*alias`,
//! never expanded. Each key part is stored once, as a child of its parent, so the work is linear in the
//! text however long or deeply dotted its keys are (a path is only spelt out when a line is looked up).

use std::collections::HashMap;

/// Dotted key path → the line it is written on, as a tree of key parts.
#[derive(Clone, Debug, Default)]
pub struct Positions {
    /// Node 0 is the document (when there is one); every other node is one key part or list index.
    nodes: Vec<Node>,
}

#[derive(Clone, Debug, Default)]
struct Node {
    /// The line the part is first written on.
    line: usize,
    children: HashMap<Box<str>, usize>,
}

impl Positions {
    /// A tree with only the document's node: what the reader starts from.
    pub(super) fn new() -> Positions {
        Positions {
            nodes: vec![Node::default()],
        }
    }

    /// The node of the document, the parent of the top-level keys.
    pub(super) const DOCUMENT: usize = 0;

    /// The child `part` of `parent`, made (at `line`) if it is new.
    pub(super) fn child(&mut self, parent: usize, part: &str, line: usize) -> usize {
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

    /// The node of a key written at `line` under `parent`: one level per part of a dotted key, each
    /// written on this line.
    pub(super) fn key(&mut self, parent: usize, key: &str, line: usize) -> usize {
        key.split('.')
            .fold(parent, |at, part| self.child(at, part, line))
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(text: &str) -> Positions {
        super::super::yaml::read(text).unwrap().positions
    }

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
        let p = of(TEXT);
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
        let p = of(TEXT);
        assert_eq!(p.line("output.elasticsearch.index"), Some(9));
        assert_eq!(p.line("s3logsbeat.inputs.0.log_format"), Some(3));
        assert_eq!(p.line("queue.mem.events"), None);
    }

    #[test]
    fn a_key_of_many_dots_is_recorded_part_by_part() {
        // Fuzz finding G6 (2026-12-07): each level of a dotted key was recorded as the whole prefix
        // up to it, so the work and memory grew with the square of the key's length.
        let key = "a.".repeat(100_000);
        let text = format!("x: 1\n? \"{key}b\"\n: 1\n");
        let p = of(&text);
        assert_eq!(p.line(&format!("{key}b")), Some(2));
        assert_eq!(
            p.line(&format!("{key}c")),
            Some(2),
            "its nearest written parent"
        );
        assert!(p.has(&format!("{key}b")) && !p.has(&format!("{key}c")));
        assert_eq!(p.line("x"), Some(1));
    }
}
