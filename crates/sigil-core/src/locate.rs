//! Node positions for semantic errors, found lazily.
//!
//! `serde_yaml` reports positions only for its own syntax errors. Rather than carry a span
//! on every node of every rule (a cost paid on the happy path of every conversion), the
//! loader records a [`YamlPath`] with each semantic error and, only when a file has errors,
//! this module re-reads the file once with `yaml-rust2`'s marked event parser and maps
//! each path to a line and column.

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::ast::{PathSeg, Span, YamlPath};

#[derive(Debug)]
enum Node {
    Scalar {
        text: String,
        span: Span,
        quoted: bool,
    },
    Seq {
        span: Span,
        items: Vec<Node>,
    },
    Map {
        span: Span,
        entries: Vec<(Node, Node)>,
    },
    Alias {
        span: Span,
    },
}

impl Node {
    fn span(&self) -> Span {
        match self {
            Node::Scalar { span, .. }
            | Node::Seq { span, .. }
            | Node::Map { span, .. }
            | Node::Alias { span } => *span,
        }
    }
}

/// Positions of the nodes of every document of one file.
#[derive(Debug, Default)]
pub struct Locator {
    docs: Vec<Node>,
}

enum Frame {
    Seq(Span, Vec<Node>),
    Map(Span, Vec<(Node, Node)>, Option<Node>),
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    docs: Vec<Node>,
}

fn span_of(m: &Marker) -> Span {
    Span {
        line: m.line() as u32,
        column: m.col() as u32 + 1,
    }
}

impl Builder {
    fn push_value(&mut self, node: Node) {
        match self.stack.last_mut() {
            Some(Frame::Seq(_, items)) => items.push(node),
            Some(Frame::Map(_, entries, pending)) => match pending.take() {
                Some(key) => entries.push((key, node)),
                None => *pending = Some(node),
            },
            None => self.docs.push(node),
        }
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let span = span_of(&mark);
        match ev {
            Event::Scalar(text, style, _, _) => self.push_value(Node::Scalar {
                text,
                span,
                quoted: matches!(
                    style,
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted
                ),
            }),
            Event::Alias(_) => self.push_value(Node::Alias { span }),
            Event::SequenceStart(..) => self.stack.push(Frame::Seq(span, Vec::new())),
            Event::MappingStart(..) => self.stack.push(Frame::Map(span, Vec::new(), None)),
            Event::SequenceEnd | Event::MappingEnd => match self.stack.pop() {
                Some(Frame::Seq(span, items)) => self.push_value(Node::Seq { span, items }),
                Some(Frame::Map(span, entries, _)) => self.push_value(Node::Map { span, entries }),
                None => {}
            },
            _ => {}
        }
    }
}

impl Locator {
    /// Parse `src`; a file that does not parse yields an empty locator (its syntax error
    /// already carries a position from serde_yaml).
    pub fn new(src: &str) -> Locator {
        let mut b = Builder::default();
        let mut parser = Parser::new_from_str(src);
        if parser.load(&mut b, true).is_err() {
            return Locator::default();
        }
        Locator { docs: b.docs }
    }

    fn find(&self, document: usize, path: &YamlPath) -> Option<(&Node, Option<&Node>)> {
        let mut node = self.docs.get(document)?;
        let mut key_node = None;
        for seg in &path.segs {
            match (seg, node) {
                (PathSeg::Key(k), Node::Map { entries, .. }) => {
                    let (kn, vn) = entries
                        .iter()
                        .find(|(kn, _)| matches!(kn, Node::Scalar { text, .. } if **text == **k))?;
                    key_node = Some(kn);
                    node = vn;
                }
                (PathSeg::Index(i), Node::Seq { items, .. }) => {
                    node = items.get(*i)?;
                    key_node = None;
                }
                _ => return None,
            }
        }
        Some((node, key_node))
    }

    /// Position of the node at `path` (or of its key when `path.at_key`). Falls back to the
    /// deepest ancestor that exists.
    pub fn locate(&self, document: usize, path: &YamlPath) -> Option<Span> {
        let mut p = path.clone();
        loop {
            if let Some((node, key)) = self.find(document, &p) {
                let span = match (p.at_key, key, node) {
                    (true, Some(k), _) => k.span(),
                    // The document itself: point at its first key, not at the map's start.
                    (_, None, Node::Map { entries, .. }) if p.segs.is_empty() => entries
                        .first()
                        .map(|(k, _)| k.span())
                        .unwrap_or(node.span()),
                    _ => node.span(),
                };
                return (span.line > 0).then_some(span);
            }
            p.segs.pop()?;
            p.at_key = true;
        }
    }

    /// Position of byte `offset` inside the scalar at `path` (for condition errors). Exact
    /// for single-line scalars; quoted scalars skip their opening quote.
    pub fn locate_in_scalar(
        &self,
        document: usize,
        path: &YamlPath,
        offset: usize,
    ) -> Option<Span> {
        let (node, _) = self.find(document, path)?;
        match node {
            Node::Scalar {
                text, span, quoted, ..
            } => {
                let chars = text[..offset.min(text.len())].chars().count() as u32;
                if text.contains('\n') {
                    return Some(*span);
                }
                Some(Span {
                    line: span.line,
                    column: span.column + chars + u32::from(*quoted),
                })
            }
            other => Some(other.span()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_keys_values_and_list_items() {
        let src = "title: t\ndetection:\n    sel:\n        Image|contians: 'x'\n        L:\n            - a\n            - b\n    condition: 'sel and x'\n---\nother: 1\n";
        let l = Locator::new(src);
        let p = YamlPath::of(&["detection", "sel", "Image|contians"]);
        assert_eq!(
            l.locate(0, &p.clone().at_key()),
            Some(Span { line: 4, column: 9 })
        );
        assert_eq!(
            l.locate(0, &p),
            Some(Span {
                line: 4,
                column: 25
            })
        );
        let p = YamlPath::of(&["detection", "sel", "L"]).index(1);
        assert_eq!(
            l.locate(0, &p),
            Some(Span {
                line: 7,
                column: 15
            })
        );
        let c = YamlPath::of(&["detection", "condition"]);
        assert_eq!(
            l.locate_in_scalar(0, &c, 8),
            Some(Span {
                line: 8,
                column: 25
            })
        );
        assert_eq!(
            l.locate(1, &YamlPath::of(&["other"])),
            Some(Span {
                line: 10,
                column: 8
            })
        );
        // Missing leaf: falls back to the parent key.
        let p = YamlPath::of(&["detection", "nope"]);
        assert_eq!(l.locate(0, &p), Some(Span { line: 2, column: 1 }));
    }
}
