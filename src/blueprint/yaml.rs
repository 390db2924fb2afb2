//! A YAML document as a tree whose every node remembers where it started (line and column).
//!
//! serde_yaml drops positions and stops at the first error; the blueprint checker needs both the
//! position of every value and the freedom to keep going after a bad one. So the parser's marked
//! events are folded into this small tree, which `convert` then walks by hand.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// A position in the source: 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub column: usize,
}

impl From<Marker> for Pos {
    fn from(m: Marker) -> Self {
        // yaml-rust2 counts lines from 1 and columns from 0.
        Pos {
            line: m.line(),
            column: m.col() + 1,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// A scalar and whether it was written plain (unquoted): only plain scalars can be
    /// numbers, booleans or null.
    Scalar {
        text: String,
        plain: bool,
    },
    Seq(Vec<Node>),
    /// Entries in source order; keys keep their own positions for "unknown key" errors.
    Map(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub name: String,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub value: Value,
    pub pos: Pos,
}

impl Node {
    /// True for `~`, `null`, or nothing at all after the colon.
    pub fn is_null(&self) -> bool {
        matches!(&self.value, Value::Scalar { text, plain: true }
            if text.is_empty() || text == "~" || text == "null" || text == "Null" || text == "NULL")
    }

    /// A short name of the node's kind, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            _ if self.is_null() => "nothing",
            Value::Scalar { plain: false, .. } => "a quoted string",
            Value::Scalar { text, .. } if text == "true" || text == "false" => "a boolean",
            Value::Scalar { text, .. } if text.parse::<f64>().is_ok() => "a number",
            Value::Scalar { .. } => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a mapping",
        }
    }
}

/// A YAML syntax error, or a document refused before it was read (a limit, a control byte).
#[derive(Debug, Clone, PartialEq)]
pub struct SyntaxError {
    pub pos: Pos,
    pub message: String,
    /// What to do, when it is not "fix the YAML syntax here"; such errors are not about YAML
    /// syntax, so their message is shown as it is.
    pub hint: Option<String>,
}

impl SyntaxError {
    fn yaml(pos: Pos, message: impl Into<String>) -> SyntaxError {
        SyntaxError {
            pos,
            message: message.into(),
            hint: None,
        }
    }
}

/// Limits no real blueprint comes near (one is about 60 nodes, 5 levels deep, with no aliases)
/// that keep a hostile file cheap: an alias bomb, thousands of nested levels.
pub mod limits {
    /// Nesting levels of lists and mappings.
    pub const MAX_DEPTH: usize = 32;
    /// Nodes in the document after every alias is expanded.
    pub const MAX_NODES: usize = 10_000;
    /// `*alias` uses.
    pub const MAX_ALIASES: usize = 100;
}

/// The 1-based position of byte `offset` of `src` (columns count characters).
pub fn pos_at(src: &str, offset: usize) -> Pos {
    let before = &src[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    Pos {
        line: before.matches('\n').count() + 1,
        column: before[line_start..].chars().count() + 1,
    }
}

/// Refuses characters YAML does not allow in a document (YAML 1.2, section 5.1, c-printable:
/// tab, line feed, carriage return and the printable ranges). A NUL byte used to cut the file
/// silently; naming the first bad character and where it is makes the problem plain.
fn check_characters(src: &str) -> Result<(), SyntaxError> {
    let bad = |c: char| {
        let u = c as u32;
        (u < 0x20 && !matches!(c, '\t' | '\n' | '\r'))
            || u == 0x7f
            || ((0x80..=0x9f).contains(&u) && u != 0x85)
            || u == 0xfffe
            || u == 0xffff
    };
    let Some((offset, c)) = src.char_indices().find(|&(_, c)| bad(c)) else {
        return Ok(());
    };
    let count = src.chars().filter(|&c| bad(c)).count();
    let what = if c == '\0' {
        "a NUL byte (0x00)".to_string()
    } else {
        format!("a control character (U+{:04X})", c as u32)
    };
    let more = if count > 1 {
        format!(" (and {} more in the file)", count - 1)
    } else {
        String::new()
    };
    Err(SyntaxError {
        pos: pos_at(src, offset),
        message: format!("the blueprint contains {what} here{more}; a blueprint is plain text"),
        hint: Some(
            "remove it (was a binary file or a copy-paste with control characters saved as the blueprint?)"
                .into(),
        ),
    })
}

/// Parses one YAML document. An empty document gives `Ok(None)`. A leading UTF-8 byte order
/// mark is skipped; control characters and documents beyond the `limits` are refused.
pub fn parse(src: &str) -> Result<Option<Node>, SyntaxError> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    check_characters(src)?;
    let mut builder = Builder::default();
    // The parser is driven one event at a time (its own `load` recurses once per nesting level,
    // and overflowed the stack at a few thousand), so a limit stops it at the first offence.
    let mut parser = Parser::new_from_str(src);
    loop {
        let (ev, mark) = parser.next_token().map_err(|e| {
            let pos = (*e.marker()).into();
            // The scanner reads flow brackets ahead of the parser and stops at 255 levels
            // (yaml-rust2's own limit) before `limits::MAX_DEPTH` can be checked.
            if e.info() == "recursion limit exceeded" {
                limit_error(
                    pos,
                    "brackets nest more than 255 levels deep here".into(),
                    DEPTH_HINT,
                )
            } else {
                SyntaxError::yaml(pos, e.info())
            }
        })?;
        if ev == Event::StreamEnd {
            break;
        }
        builder.on_event(ev, mark)?;
    }
    Ok(builder.root)
}

enum Frame {
    Seq(Pos, usize, Vec<Node>),
    /// Position, anchor, entries, and a key waiting for its value.
    Map(Pos, usize, Vec<(Key, Node)>, Option<Key>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    root: Option<Node>,
    /// Each anchored node with its size in nodes, so an alias costs its size up front.
    anchors: HashMap<usize, (Node, usize)>,
    /// Nodes made so far, aliases counted at their expanded size.
    nodes: usize,
    /// Where each open collection started counting, to know its size when it closes.
    sizes: Vec<usize>,
    aliases: usize,
    documents: usize,
}

const DEPTH_HINT: &str = "a blueprint needs only a few levels; check the indentation and brackets";

fn limit_error(pos: Pos, message: String, hint: &str) -> SyntaxError {
    SyntaxError {
        pos,
        message,
        hint: Some(hint.into()),
    }
}

impl Builder {
    /// Counts `n` more nodes against the limit.
    fn grow(&mut self, n: usize, pos: Pos, what: &str) -> Result<(), SyntaxError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > limits::MAX_NODES {
            return Err(limit_error(
                pos,
                format!(
                    "{what} takes the blueprint past {} values (aliases count at their expanded size); this looks like an alias bomb",
                    limits::MAX_NODES
                ),
                "write the values out, or use fewer and smaller aliases",
            ));
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame, pos: Pos) -> Result<(), SyntaxError> {
        if self.stack.len() >= limits::MAX_DEPTH {
            return Err(limit_error(
                pos,
                format!(
                    "lists and mappings nest more than {} levels deep here",
                    limits::MAX_DEPTH
                ),
                DEPTH_HINT,
            ));
        }
        self.grow(1, pos, "this value")?;
        self.sizes.push(self.nodes);
        self.stack.push(frame);
        Ok(())
    }

    fn push_node(&mut self, node: Node, anchor: usize, size: usize) -> Result<(), SyntaxError> {
        if anchor > 0 {
            self.anchors.insert(anchor, (node.clone(), size));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Seq(_, _, items)) => items.push(node),
            Some(Frame::Map(_, _, entries, pending)) => match pending.take() {
                Some(key) => {
                    let mut node = node;
                    // `key:` with nothing after it: the parser marks the empty value at the next
                    // token (often the next line); the key is where the user looks.
                    if matches!(&node.value, Value::Scalar { text, plain: true } if text.is_empty())
                    {
                        node.pos = key.pos;
                    }
                    entries.push((key, node))
                }
                None => match node.value {
                    Value::Scalar { text, .. } => {
                        *pending = Some(Key {
                            name: text,
                            pos: node.pos,
                        })
                    }
                    _ => {
                        return Err(SyntaxError::yaml(
                            node.pos,
                            "a mapping key must be a plain name, not a list or mapping",
                        ))
                    }
                },
            },
        }
        Ok(())
    }

    fn close(&mut self) -> Option<(Frame, usize)> {
        let frame = self.stack.pop()?;
        let start = self.sizes.pop().unwrap_or(self.nodes);
        Some((frame, self.nodes - start + 1))
    }

    fn on_event(&mut self, ev: Event, mark: Marker) -> Result<(), SyntaxError> {
        let pos = Pos::from(mark);
        match ev {
            Event::Scalar(text, style, anchor, _tag) => {
                self.grow(1, pos, "this value")?;
                let plain = style == TScalarStyle::Plain;
                self.push_node(
                    Node {
                        value: Value::Scalar { text, plain },
                        pos,
                    },
                    anchor,
                    1,
                )?;
            }
            Event::SequenceStart(anchor, _) => {
                self.open(Frame::Seq(pos, anchor, Vec::new()), pos)?
            }
            Event::MappingStart(anchor, _) => {
                self.open(Frame::Map(pos, anchor, Vec::new(), None), pos)?
            }
            Event::SequenceEnd => {
                if let Some((Frame::Seq(p, anchor, items), size)) = self.close() {
                    self.push_node(
                        Node {
                            value: Value::Seq(items),
                            pos: p,
                        },
                        anchor,
                        size,
                    )?;
                }
            }
            Event::MappingEnd => {
                if let Some((Frame::Map(p, anchor, entries, _), size)) = self.close() {
                    // The parser marks a block mapping's start after its first key; report it
                    // at the first key instead.
                    let pos = entries.first().map_or(p, |(k, _)| k.pos);
                    self.push_node(
                        Node {
                            value: Value::Map(entries),
                            pos,
                        },
                        anchor,
                        size,
                    )?;
                }
            }
            Event::Alias(id) => {
                self.aliases += 1;
                if self.aliases > limits::MAX_ALIASES {
                    return Err(limit_error(
                        pos,
                        format!(
                            "more than {} aliases (`*name`) in the blueprint",
                            limits::MAX_ALIASES
                        ),
                        "write the values out instead of aliasing them",
                    ));
                }
                let Some(size) = self.anchors.get(&id).map(|(_, size)| *size) else {
                    return Err(SyntaxError::yaml(pos, "alias to an unknown anchor"));
                };
                // Counted before the copy is made: the copy is what an alias bomb multiplies.
                self.grow(size, pos, "this alias")?;
                let mut node = self.anchors[&id].0.clone();
                node.pos = pos;
                self.push_node(node, 0, size)?;
            }
            Event::DocumentStart => {
                self.documents += 1;
                if self.documents == 2 {
                    return Err(SyntaxError::yaml(
                        pos,
                        "a blueprint is one YAML document, but a second one starts here (remove the `---` line, or split the file)",
                    ));
                }
            }
            Event::Nothing | Event::StreamStart | Event::StreamEnd | Event::DocumentEnd => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_point_at_values() {
        let doc = parse("a: 1\nb:\n  - x\n  - \"y\"\n").unwrap().unwrap();
        let Value::Map(entries) = doc.value else {
            panic!("not a map")
        };
        assert_eq!(entries[0].0.pos, Pos { line: 1, column: 1 });
        assert_eq!(entries[0].1.pos, Pos { line: 1, column: 4 });
        let Value::Seq(items) = &entries[1].1.value else {
            panic!("not a seq")
        };
        assert_eq!(items[1].pos, Pos { line: 4, column: 5 });
        assert_eq!(
            items[1].value,
            Value::Scalar {
                text: "y".into(),
                plain: false
            }
        );
    }

    #[test]
    fn syntax_error_has_a_position() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.line >= 1, "{err:?}");
    }

    #[test]
    fn a_second_document_is_an_error() {
        let err = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(err.pos.line, 2, "{err:?}");
        assert!(err.message.contains("second one"), "{err:?}");
        assert!(parse("---\na: 1\n").unwrap().is_some());
    }

    #[test]
    fn empty_document_is_none() {
        assert_eq!(parse("# only a comment\n").unwrap(), None);
    }
}
