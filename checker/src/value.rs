//! Values carried by operations: what was written, read, or compared.
//!
//! Histories come from JSON and from Jepsen's EDN, so a value is the small
//! common subset of both: nil, booleans, integers, strings and lists.

use serde::{Deserialize, Serialize};
use std::fmt;

/// One value in a history (an operation's argument or result, or a key).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(untagged)]
pub enum Value {
    /// `null` in JSON, `nil` in EDN: absent, or not known.
    #[default]
    Nil,
    /// `true` / `false`.
    Bool(bool),
    /// A whole number.
    Int(i64),
    /// A string (EDN keywords are read as their name, without the colon).
    Str(String),
    /// A list or vector, e.g. a compare-and-set's `[from, to]`.
    List(Vec<Value>),
}

impl Value {
    /// True for `Nil`.
    pub fn is_nil(&self) -> bool {
        matches!(self, Value::Nil)
    }

    /// The value as a list of exactly two elements, if it is one.
    pub fn as_pair(&self) -> Option<(&Value, &Value)> {
        match self {
            Value::List(items) if items.len() == 2 => Some((&items[0], &items[1])),
            _ => None,
        }
    }

    /// The string inside, if this is a string.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// Parses a command-line value: `nil`/`null`, an integer, a boolean, a
    /// JSON value, or otherwise the text itself as a string.
    pub fn parse_loose(text: &str) -> Value {
        let t = text.trim();
        match t {
            "nil" | "null" => return Value::Nil,
            _ => {}
        }
        if let Ok(v) = serde_json::from_str::<Value>(t) {
            return v;
        }
        Value::Str(t.to_string())
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Nil => write!(f, "nil"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, " ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
        }
    }
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Int(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Str(v.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_round_trip_keeps_each_kind() {
        let cases = [
            ("null", Value::Nil),
            ("true", Value::Bool(true)),
            ("-7", Value::Int(-7)),
            ("\"x\"", Value::Str("x".into())),
            ("[1,2]", Value::List(vec![Value::Int(1), Value::Int(2)])),
        ];
        for (text, want) in cases {
            let got: Value = serde_json::from_str(text).unwrap();
            assert_eq!(got, want, "{text}");
            assert_eq!(serde_json::to_string(&got).unwrap(), text);
        }
    }

    #[test]
    fn loose_parsing_falls_back_to_string() {
        assert_eq!(Value::parse_loose("nil"), Value::Nil);
        assert_eq!(Value::parse_loose("3"), Value::Int(3));
        assert_eq!(Value::parse_loose("abc"), Value::Str("abc".into()));
        assert_eq!(Value::parse_loose("\"\""), Value::Str(String::new()));
    }
}
