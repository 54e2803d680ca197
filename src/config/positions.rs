//! Where each key of the config file is written: YAML text in, a map from dotted key paths to 1-based
//! line numbers out, so that every config error can name its line.
//!
//! The map is built from the YAML parser's events (with their source positions), not by searching the
//! text, so a key written several times under different parents (`enabled`, `hosts`) is told apart. Keys
//! are recorded the way the rest of `config` names them: dotted keys are split (`output.elasticsearch:`
//! on line 3 gives `output` and `output.elasticsearch` line 3), and list entries are numbered
//! (`s3logsbeat.inputs.0`). Aliases are recorded at the line of the `*alias`, never expanded.
//!
//! A text the parser refuses gives an empty map: the YAML error itself is reported by the loader.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser};

/// Dotted key path → the line it is written on.
#[derive(Clone, Debug, Default)]
pub struct Positions {
    lines: HashMap<String, usize>,
}

/// What the walker is inside of.
enum Frame {
    /// A mapping: the next scalar is a key when `key` is `None`, else a value of `key`.
    Map {
        path: Vec<String>,
        key: Option<(Vec<String>, usize)>,
    },
    /// A sequence: the next node is entry `next`.
    Seq { path: Vec<String>, next: usize },
}

impl Positions {
    /// Reads the positions of every key and list entry of `text`.
    pub fn of(text: &str) -> Positions {
        let mut p = Positions::default();
        let mut stack: Vec<Frame> = Vec::new();
        for ev in Parser::new_from_str(text) {
            let Ok((event, span)) = ev else {
                return Positions::default();
            };
            let line = span.start.line();
            match event {
                Event::MappingStart(..) | Event::SequenceStart(..) => {
                    let path = p.node_path(&mut stack, line);
                    stack.push(match event {
                        Event::MappingStart(..) => Frame::Map { path, key: None },
                        _ => Frame::Seq { path, next: 0 },
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
                    if let Some(Frame::Map { path, key }) = stack.last_mut() {
                        if key.is_none() {
                            let mut full = path.clone();
                            full.extend(value.split('.').map(str::to_string));
                            // Every level a dotted key creates is written on this line.
                            for n in path.len() + 1..=full.len() {
                                p.lines.entry(full[..n].join(".")).or_insert(line);
                            }
                            *key = Some((full, line));
                            continue;
                        }
                    }
                    p.node_path(&mut stack, line);
                }
                Event::Alias(_) => {
                    p.node_path(&mut stack, line);
                }
                _ => {}
            }
        }
        p
    }

    /// The path of a node that starts now, in whatever encloses it, recording list entries' lines; for a
    /// mapping value, the key is consumed.
    fn node_path(&mut self, stack: &mut [Frame], line: usize) -> Vec<String> {
        match stack.last_mut() {
            None => Vec::new(),
            Some(Frame::Map { path, key }) => match key.take() {
                Some((full, _)) => full,
                // A complex key (a mapping used as a key): not something a config uses.
                None => path.clone(),
            },
            Some(Frame::Seq { path, next }) => {
                let mut full = path.clone();
                full.push(next.to_string());
                *next += 1;
                self.lines.entry(full.join(".")).or_insert(line);
                full
            }
        }
    }

    /// The line of `key`, or of the nearest enclosing key that is written in the file.
    pub fn line(&self, key: &str) -> Option<usize> {
        let mut k = key;
        loop {
            if let Some(l) = self.lines.get(k) {
                return Some(*l);
            }
            k = &k[..k.rfind('.')?];
        }
    }
}

/// Most nodes a config may expand to once its aliases (`*name`) are replaced by what they stand for.
/// A real config has a few hundred; a few KB of nested aliases can stand for billions (an "alias bomb").
pub const MAX_EXPANDED_NODES: u64 = 100_000;

/// Refuses YAML whose aliases would expand past [`MAX_EXPANDED_NODES`], before anything expands them.
pub fn check_aliases(text: &str) -> Result<(), String> {
    let mut sizes: HashMap<usize, u64> = HashMap::new();
    // Per open collection: (its anchor id, the expanded size of its children so far).
    let mut open: Vec<(usize, u64)> = Vec::new();
    let mut total: u64 = 0;
    let too_big = || {
        format!(
            "the YAML aliases (*name) expand to more than {MAX_EXPANDED_NODES} values; a config needs far fewer"
        )
    };
    let mut add = |open: &mut Vec<(usize, u64)>, n: u64| -> Result<(), String> {
        let slot = match open.last_mut() {
            Some((_, s)) => s,
            None => &mut total,
        };
        *slot = slot.saturating_add(n);
        if *slot > MAX_EXPANDED_NODES {
            return Err(too_big());
        }
        Ok(())
    };
    for ev in Parser::new_from_str(text) {
        let (event, _) = match ev {
            Ok(ev) => ev,
            // Text this parser refuses is not YAML, and the loader reports it: unless it may hold
            // aliases. The loader's parser can read further than this one (the fuzzer found text where
            // it did, then expanded a bomb for minutes), so such text is refused here, by line.
            Err(e) if text.contains('*') => {
                return Err(format!(
                    "not valid YAML: {} at line {} column {}",
                    e.info(),
                    e.marker().line(),
                    e.marker().col() + 1
                ));
            }
            Err(_) => return Ok(()),
        };
        match event {
            Event::Scalar(_, _, anchor, _) => {
                if anchor > 0 {
                    sizes.insert(anchor, 1);
                }
                add(&mut open, 1)?;
            }
            Event::Alias(id) => {
                // An alias whose value is not complete yet refers to a value that contains it: its
                // expansion never ends (serde_yaml would work until its recursion limit).
                let Some(n) = sizes.get(&id).copied() else {
                    return Err(
                        "a YAML alias (*name) refers to a value that contains it".to_string()
                    );
                };
                add(&mut open, n)?;
            }
            Event::MappingStart(anchor, _) | Event::SequenceStart(anchor, _) => {
                open.push((anchor, 1))
            }
            Event::MappingEnd | Event::SequenceEnd => {
                let (anchor, n) = open.pop().unwrap_or((0, 1));
                if anchor > 0 {
                    sizes.insert(anchor, n);
                }
                add(&mut open, n)?;
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
        assert!(check_aliases(&bomb)
            .unwrap_err()
            .contains("expand to more than"));
        assert!(check_aliases("a: &x {k: v}\nb: *x\nc: [*x, *x]\n").is_ok());
        // Found by the config fuzzer: a bomb whose text this parser refuses part way, which the
        // loader's parser read further and expanded (for minutes).
        let seed = include_str!("../../fuzz/seeds/config/alias-bomb-past-a-parse-error.yml");
        let err = check_aliases(seed).unwrap_err();
        assert!(err.starts_with("not valid YAML"), "{err}");
        // Without aliases the loader reports the YAML error itself.
        assert!(check_aliases("a: [x,\n").is_ok());
        // Found by the config fuzzer: an alias inside its own anchor's value.
        assert!(check_aliases("b: &b [x, *b]\n")
            .unwrap_err()
            .contains("contains it"));
        assert!(check_aliases(TEXT).is_ok());
    }

    #[test]
    fn broken_yaml_gives_no_lines() {
        assert_eq!(Positions::of("a: [\n").line("a"), None);
    }
}
