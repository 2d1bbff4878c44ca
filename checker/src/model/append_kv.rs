//! `append-kv`: one key with get / put / append on strings, as in
//! Porcupine's kv corpus. An absent key reads as `""` (so absent and empty
//! are one state), `append` concatenates.
//!
//! A state is a node in a trie of writes: a `put` (or the initial value)
//! is a root, each `append` a child. Each node carries the length and a
//! polynomial hash of the string it stands for, extended in O(1) per
//! append, so the search never builds or hashes a long string; a `get`
//! compares length and hash, and a match is confirmed byte by byte, one
//! appended piece at a time (see `prefix_of`). Two paths that spell the same string are
//! different nodes: the memo then prunes a little less, never wrongly.

use super::{Model, ModelConfig, ModelError};
use crate::history::Operation;
use crate::value::Value;
use rustc_hash::FxHashMap;

/// A compiled append-kv operation; strings are interned ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendOp {
    /// Returned this string, or `None` if unknown.
    Get(Option<u32>),
    /// Replaces the string.
    Put(u32),
    /// Appends to the string.
    Append(u32),
}

/// No parent: the node is a root (a put, or the initial value).
const ROOT: u32 = u32::MAX;
/// Hashes are polynomials in BASE, wrapping at 2^64: one multiply per
/// byte. They only filter: a match is always confirmed byte by byte.
const BASE: u64 = 0x9E37_79B9_7F4A_7C15 | 1;

#[derive(Clone, Copy, Debug)]
struct Node {
    parent: u32,
    value: u32,
    len: usize,
    hash: u64,
}

/// Per interned string: its length, hash and BASE^len.
#[derive(Clone, Copy, Debug)]
struct Shape {
    len: usize,
    hash: u64,
    power: u64,
}

/// One key of an append-only string store.
#[derive(Clone, Debug)]
pub struct AppendKv {
    config: ModelConfig,
    /// Every string the part mentions, one after another in one buffer
    /// (one allocation per part, not one per operation), with one range
    /// per mention: appended values are unique in practice, so
    /// deduplicating them would cost a hash per operation and save nothing.
    text: String,
    pieces: Vec<(usize, usize)>,
    shapes: Vec<Shape>,
    nodes: Vec<Node>,
    children: FxHashMap<(u32, u32), u32>,
    prefixes: FxHashMap<(u32, u32), bool>,
}

impl AppendKv {
    /// An append-kv model for one key.
    pub fn new(config: ModelConfig) -> AppendKv {
        AppendKv {
            config,
            text: String::new(),
            pieces: Vec::new(),
            shapes: Vec::new(),
            nodes: Vec::new(),
            children: FxHashMap::default(),
            prefixes: FxHashMap::default(),
        }
    }

    fn intern(&mut self, s: &str) -> u32 {
        let id = u32::try_from(self.pieces.len()).expect("fewer than 2^32 strings in one part");
        let hash = s.as_bytes().iter().fold(0u64, |h, &b| {
            h.wrapping_mul(BASE).wrapping_add(b as u64 + 1)
        });
        let power = BASE.wrapping_pow(s.len() as u32);
        self.shapes.push(Shape {
            len: s.len(),
            hash,
            power,
        });
        self.pieces
            .push((self.text.len(), self.text.len() + s.len()));
        self.text.push_str(s);
        id
    }

    fn text<'v>(op: &Operation, value: &'v Value) -> Result<std::borrow::Cow<'v, str>, ModelError> {
        match value {
            Value::Nil => Ok("".into()),
            Value::Str(s) => Ok(s.as_str().into()),
            Value::Int(i) => Ok(i.to_string().into()),
            other => Err(ModelError::new(
                "append-kv",
                op,
                format!("expects a string value for `{}`, found {other}", op.f),
            )),
        }
    }

    /// The string with id `id`.
    fn piece(&self, id: u32) -> &str {
        let (start, end) = self.pieces[id as usize];
        &self.text[start..end]
    }

    /// The node for `parent` followed by `value` (a root when `parent` is ROOT).
    fn node(&mut self, parent: u32, value: u32) -> u32 {
        if let Some(&n) = self.children.get(&(parent, value)) {
            return n;
        }
        let shape = self.shapes[value as usize];
        let (len, hash) = if parent == ROOT {
            (shape.len, shape.hash)
        } else {
            let p = self.nodes[parent as usize];
            (
                p.len + shape.len,
                p.hash.wrapping_mul(shape.power).wrapping_add(shape.hash),
            )
        };
        let id = u32::try_from(self.nodes.len()).expect("fewer than 2^32 states");
        self.nodes.push(Node {
            parent,
            value,
            len,
            hash,
        });
        self.children.insert((parent, value), id);
        id
    }

    /// True if node `n` spells a prefix of string `s`. Answers are cached
    /// per (node, string), and a node's answer extends its parent's by
    /// comparing just its own piece, so checking a growing chain of
    /// appends costs O(piece) per node, not O(string).
    fn prefix_of(&mut self, n: u32, s: u32) -> bool {
        // Walk up to the nearest ancestor with a known answer...
        let target_len = self.shapes[s as usize].len;
        let mut pending = Vec::new();
        let mut at = n;
        let mut known = loop {
            if at == ROOT {
                break true;
            }
            if self.nodes[at as usize].len > target_len {
                break false;
            }
            if let Some(&k) = self.prefixes.get(&(at, s)) {
                break k;
            }
            pending.push(at);
            at = self.nodes[at as usize].parent;
        };
        // ...then settle each node on the way back down.
        let (target_start, _) = self.pieces[s as usize];
        for &node in pending.iter().rev() {
            if known {
                let Node { value, len, .. } = self.nodes[node as usize];
                let (start, end) = self.pieces[value as usize];
                let bytes = self.text.as_bytes();
                let piece = &bytes[start..end];
                let at = target_start + len - piece.len();
                known = &bytes[at..at + piece.len()] == piece;
            }
            self.prefixes.insert((node, s), known);
        }
        known
    }

    /// The string node `n` stands for.
    fn materialize(&self, mut n: u32) -> String {
        let mut pieces = Vec::new();
        while n != ROOT {
            let node = self.nodes[n as usize];
            pieces.push(self.piece(node.value));
            n = node.parent;
        }
        pieces.reverse();
        pieces.concat()
    }

    fn matches(&mut self, n: u32, s: u32) -> bool {
        let (node, shape) = (self.nodes[n as usize], self.shapes[s as usize]);
        if node.len != shape.len || node.hash != shape.hash {
            return false;
        }
        self.prefix_of(n, s)
    }
}

impl Model for AppendKv {
    type State = u32;
    type Op = AppendOp;

    fn name(&self) -> &'static str {
        "append-kv"
    }

    fn compile(&mut self, op: &Operation) -> Result<AppendOp, ModelError> {
        match op.f.as_str() {
            "get" | "read" => Ok(AppendOp::Get(match &op.output {
                None => None,
                Some(Value::Nil) if self.config.nil_reads_unknown => None,
                Some(v) => Some(self.intern(&AppendKv::text(op, v)?)),
            })),
            "put" | "set" | "write" => {
                Ok(AppendOp::Put(self.intern(&AppendKv::text(op, &op.input)?)))
            }
            "append" => Ok(AppendOp::Append(
                self.intern(&AppendKv::text(op, &op.input)?),
            )),
            other => Err(ModelError::new(
                "append-kv",
                op,
                format!("has no operation `{other}` (it knows get, put, append)"),
            )),
        }
    }

    fn init(&mut self) -> u32 {
        let init = match &self.config.init {
            None | Some(Value::Nil) => String::new(),
            Some(Value::Str(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        // Interned once per model: init is called again to explain a witness.
        if self.nodes.is_empty() {
            let value = self.intern(&init);
            self.node(ROOT, value);
        }
        0
    }

    #[inline]
    fn step(&mut self, state: u32, op: &AppendOp) -> Option<u32> {
        match *op {
            AppendOp::Get(None) => Some(state),
            AppendOp::Get(Some(v)) => self.matches(state, v).then_some(state),
            AppendOp::Put(v) => Some(self.node(ROOT, v)),
            AppendOp::Append(v) => Some(self.node(state, v)),
        }
    }

    fn is_read_only(&self, op: &AppendOp) -> bool {
        matches!(op, AppendOp::Get(_))
    }

    fn is_reset(&self, op: &AppendOp) -> bool {
        matches!(op, AppendOp::Put(_))
    }

    /// Gets and appends only extend the string, so a get whose result does
    /// not start with the current string can only succeed after a put.
    fn blocked_forever(&mut self, state: u32, op: &AppendOp) -> bool {
        match *op {
            AppendOp::Get(Some(v)) => !self.prefix_of(state, v),
            _ => false,
        }
    }

    fn describe(&self, state: u32) -> String {
        format!("{:?}", self.materialize(state))
    }

    fn explain(&self, state: u32, op: &AppendOp) -> String {
        let held = self.materialize(state);
        match *op {
            AppendOp::Get(Some(v)) => format!(
                "get returned {:?}, but the key held {held:?}",
                self.piece(v)
            ),
            _ => format!(
                "it can follow (the key held {held:?}), but nothing after it linearizes the rest"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_op as op;

    #[test]
    fn appends_concatenate_and_gets_compare() {
        let mut m = AppendKv::new(ModelConfig::default());
        let empty = m.init();
        let get_empty = m.compile(&op("get", Value::Nil, Some("".into()))).unwrap();
        let app_x = m.compile(&op("append", "x ".into(), None)).unwrap();
        let app_y = m.compile(&op("append", "y ".into(), None)).unwrap();
        let get_xy = m
            .compile(&op("get", Value::Nil, Some("x y ".into())))
            .unwrap();
        let get_yx = m
            .compile(&op("get", Value::Nil, Some("y x ".into())))
            .unwrap();
        let put_z = m.compile(&op("put", "z".into(), None)).unwrap();
        assert_eq!(m.step(empty, &get_empty), Some(empty));
        let x = m.step(empty, &app_x).unwrap();
        let xy = m.step(x, &app_y).unwrap();
        assert_eq!(m.step(xy, &get_xy), Some(xy));
        assert_eq!(m.step(xy, &get_yx), None, "same length, other order");
        assert_eq!(m.step(x, &get_xy), None);
        assert!(!m.blocked_forever(x, &get_xy), "x is a prefix of x y");
        assert!(m.blocked_forever(x, &get_yx), "x is no prefix of y x");
        assert!(m.blocked_forever(xy, &get_empty), "strings only grow");
        assert!(m.is_reset(&put_z) && !m.is_reset(&app_x));
        assert_eq!(
            m.step(x, &app_y),
            Some(xy),
            "the same path gives the same state"
        );
        let z = m.step(xy, &put_z).unwrap();
        assert_eq!(m.describe(z), "\"z\"");
        assert_eq!(
            m.explain(x, &get_xy),
            "get returned \"x y \", but the key held \"x \""
        );
    }

    #[test]
    fn a_string_spelled_by_other_pieces_still_matches() {
        let mut m = AppendKv::new(ModelConfig::default());
        let empty = m.init();
        let ab = m.compile(&op("append", "ab".into(), None)).unwrap();
        let c = m.compile(&op("append", "c".into(), None)).unwrap();
        let get_abc = m
            .compile(&op("get", Value::Nil, Some("abc".into())))
            .unwrap();
        let put_a = m.compile(&op("put", "a".into(), None)).unwrap();
        let bc = m.compile(&op("append", "bc".into(), None)).unwrap();
        let s1 = m.step(empty, &ab).and_then(|s| m.step(s, &c)).unwrap();
        let s2 = m.step(empty, &put_a).and_then(|s| m.step(s, &bc)).unwrap();
        assert_eq!(m.step(s1, &get_abc), Some(s1));
        assert_eq!(m.step(s2, &get_abc), Some(s2));
    }
}
