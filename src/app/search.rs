//! The search service behind text/json requests: libserver.py's table, or one
//! loaded from a JSON object file with `--data FILE`.
//!
//! ```text
//! {"action": "search", "value": "morpheus"}  ->  {"result": "Follow the white rabbit. 🐰"}
//! {"action": "search", "value": "nothing"}   ->  {"result": "No match for \"nothing\"."}
//! {"action": "frobnicate", "value": "x"}     ->  {"result": "Error: invalid action \"frobnicate\"."}
//! ```

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Map, Value};

use super::header::json_kind;
use super::python_json::python_json;

/// The table of libserver.py.
pub const BUILTIN: [(&str, &str); 3] = [
    ("morpheus", "Follow the white rabbit. \u{1f430}"),
    (
        "ring",
        "In the caves beneath the Misty Mountains. \u{1f48d}",
    ),
    ("\u{1f436}", "\u{1f43e} Playing ball! \u{1f3d0}"),
];

/// Why a `--data` file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The file cannot be read.
    #[error("cannot read {path}: {}", crate::net::describe(source))]
    Read {
        /// The file.
        path: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not JSON.
    #[error("{path} is not valid JSON: {source}")]
    NotJson {
        /// The file.
        path: String,
        /// Where and why.
        source: serde_json::Error,
    },
    /// The file is JSON but not an object of query -> answer.
    #[error("{path} must hold a JSON object (query -> answer), not {kind}")]
    NotObject {
        /// The file.
        path: String,
        /// What it holds.
        kind: &'static str,
    },
}

/// Queries and their answers.
#[derive(Debug, Clone)]
pub struct SearchTable {
    entries: HashMap<String, Value>,
    /// Each hit's answer object already written as JSON: a hit costs a
    /// lookup, not a serialization.
    written: HashMap<String, Bytes>,
}

/// The usual request, `{"action": "search", "value": QUERY}`, read without
/// building a JSON tree.
#[derive(Deserialize)]
struct Search<'a> {
    #[serde(borrow)]
    action: Cow<'a, str>,
    #[serde(borrow)]
    value: Cow<'a, str>,
}

impl Default for SearchTable {
    fn default() -> Self {
        Self::builtin()
    }
}

impl SearchTable {
    /// The original's three entries.
    pub fn builtin() -> Self {
        let entries = BUILTIN
            .iter()
            .map(|(query, answer)| (query.to_string(), Value::from(*answer)))
            .collect();
        Self::with_entries(entries)
    }

    fn with_entries(entries: HashMap<String, Value>) -> Self {
        let written = entries
            .iter()
            .filter(|(_, answer)| truthy(answer))
            .filter_map(|(query, answer)| {
                let mut object = Map::new();
                object.insert("result".into(), answer.clone());
                Some((query.clone(), python_json(&object).ok()?.into()))
            })
            .collect();
        SearchTable { entries, written }
    }

    /// The answer to a hit, already written, when `text` is the usual
    /// search request for an entry of the table; `None` sends the caller the
    /// long way ([`SearchTable::answer`]), which words everything else.
    pub fn written_answer(&self, text: &str) -> Option<Bytes> {
        // serde's derived structs take an array too (`["search", "ring"]`),
        // which libserver.py refuses: objects only.
        if !text.trim_start().starts_with('{') {
            return None;
        }
        let request: Search<'_> = serde_json::from_str(text).ok()?;
        if request.action != "search" {
            return None;
        }
        self.written.get(request.value.as_ref()).cloned()
    }

    /// Loads a JSON object file; its values may be any JSON.
    pub fn load(path: &Path) -> Result<Self, TableError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TableError::Read {
            path: shown.clone(),
            source,
        })?;
        match serde_json::from_str(&text) {
            Ok(Value::Object(map)) => Ok(Self::with_entries(map.into_iter().collect())),
            Ok(other) => Err(TableError::NotObject {
                path: shown,
                kind: json_kind(&other),
            }),
            Err(source) => Err(TableError::NotJson {
                path: shown,
                source,
            }),
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the table has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The answer object for a text/json request, worded as libserver.py's.
    pub fn answer(&self, request: &Map<String, Value>) -> Map<String, Value> {
        let result = match request.get("action") {
            Some(Value::String(action)) if action == "search" => {
                let query = request.get("value");
                // libserver.py: `request_search.get(query) or f'No match ...'`,
                // so an empty answer counts as a miss too.
                query
                    .and_then(Value::as_str)
                    .and_then(|query| self.entries.get(query))
                    .filter(|answer| truthy(answer))
                    .cloned()
                    .unwrap_or_else(|| format!("No match for \"{}\".", python_str(query)).into())
            }
            action => format!("Error: invalid action \"{}\".", python_str(action)).into(),
        };
        let mut answer = Map::new();
        answer.insert("result".into(), result);
        answer
    }
}

/// Python's truth value of a JSON value.
fn truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// How Python's f-string shows a decoded JSON value (missing is `None`).
fn python_str(value: Option<&Value>) -> String {
    match value {
        None | Some(Value::Null) => "None".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "True".into(),
        Some(Value::Bool(false)) => "False".into(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ask(table: &SearchTable, request: Value) -> Value {
        let Value::Object(request) = request else {
            panic!("test requests are objects")
        };
        Value::Object(table.answer(&request))
    }

    #[test]
    fn answers_like_libserver() {
        let table = SearchTable::builtin();
        let cases = [
            (
                json!({"action": "search", "value": "ring"}),
                "In the caves beneath the Misty Mountains. 💍",
            ),
            (
                json!({"action": "search", "value": "🐶"}),
                "🐾 Playing ball! 🏐",
            ),
            (
                json!({"action": "search", "value": "nothing"}),
                "No match for \"nothing\".",
            ),
            (json!({"action": "search"}), "No match for \"None\"."),
            (
                json!({"action": "frobnicate", "value": "x"}),
                "Error: invalid action \"frobnicate\".",
            ),
            (json!({"value": "x"}), "Error: invalid action \"None\"."),
        ];
        for (request, result) in cases {
            assert_eq!(ask(&table, request), json!({ "result": result }));
        }
    }

    #[test]
    fn a_written_answer_is_the_long_way_s_answer() {
        let table = SearchTable::builtin();
        for (query, _) in BUILTIN {
            let request = json!({"action": "search", "value": query});
            let text = request.to_string();
            let written = table.written_answer(&text).expect("a hit");
            let long = python_json(&ask(&table, request)).expect("serializes");
            assert_eq!(written.as_ref(), long.as_slice());
        }
        // Misses, other actions, duplicate keys and odd values go the long way.
        for text in [
            r#"{"action": "search", "value": "nothing"}"#,
            r#"{"action": "frobnicate", "value": "ring"}"#,
            r#"{"action": "search", "value": "ring", "value": "nothing"}"#,
            r#"{"action": "search", "value": 7}"#,
            r#"{"action": "search"}"#,
            r#"["search", "ring"]"#,
        ] {
            assert_eq!(table.written_answer(text), None, "{text}");
        }
    }

    #[test]
    fn loads_a_data_file() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("table.json");
        std::fs::write(&path, r#"{"neo": "The One", "empty": "", "n": 42}"#).expect("write");
        let table = SearchTable::load(&path).expect("loads");
        assert_eq!(table.len(), 3);
        let hit = ask(&table, json!({"action": "search", "value": "n"}));
        assert_eq!(hit, json!({"result": 42}));
        let empty = ask(&table, json!({"action": "search", "value": "empty"}));
        assert_eq!(empty, json!({"result": "No match for \"empty\"."}));
        std::fs::write(&path, "[1]").expect("write");
        let err = SearchTable::load(&path).expect_err("an array");
        assert!(err.to_string().contains("not an array"), "{err}");
    }
}
