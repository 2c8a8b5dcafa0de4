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
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::codec::encode_head;
use super::content::{JSON_TYPE, UTF8};
use super::header::{json_kind, plain_string};
use super::message::Header;
use super::python_json::{must_escape, python_json};

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
    /// Each hit's answer already written: a hit costs a lookup, not a
    /// serialization. Fx, not SipHash: a peer's query is only looked up,
    /// never inserted, so it cannot lengthen the table's probe sequences,
    /// which is what hash flooding needs; SipHash of a short query was a
    /// twentieth of a request's instructions.
    written: FxHashMap<String, WrittenHit>,
}

/// A hit's answer written in advance: its content, and the prefix and header
/// that go before it with and without keep-alive, so that a server answers a
/// hit with two copies, as redis answers PING from a reply it keeps. The
/// content is kept once: a `--data` file of long answers costs no more.
#[derive(Debug, Clone, PartialEq)]
pub struct WrittenHit {
    content: Bytes,
    /// Indexed by keep-alive.
    heads: [Bytes; 2],
}

impl WrittenHit {
    /// Writes the answer object holding `result`; `None` if it cannot be.
    fn new(result: &Value) -> Option<Self> {
        let mut object = Map::new();
        object.insert("result".into(), result.clone());
        let content = Bytes::from(python_json(&object).ok()?);
        let head = |keep_alive| {
            let mut header = Header::new(JSON_TYPE, UTF8);
            header.keep_alive = keep_alive;
            let mut head = bytes::BytesMut::new();
            encode_head(&header, content.len(), &mut head).ok()?;
            Some(head.freeze())
        };
        Some(WrittenHit {
            heads: [head(false)?, head(true)?],
            content,
        })
    }

    /// The answer's content: the JSON object.
    pub fn content(&self) -> &Bytes {
        &self.content
    }

    /// What the codec writes before the content: the prefix and the header.
    pub fn head(&self, keep_alive: bool) -> &[u8] {
        &self.heads[usize::from(keep_alive)]
    }
}

/// What the quick path found for a search.
#[derive(Debug, Clone, PartialEq)]
pub enum Written<'t> {
    /// A hit, written in advance.
    Hit(&'t WrittenHit),
    /// A miss's answer object, written now.
    Miss(Bytes),
}

impl Written<'_> {
    /// The answer's content.
    pub fn content(&self) -> &[u8] {
        match self {
            Written::Hit(hit) => hit.content(),
            Written::Miss(content) => content,
        }
    }
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

impl<'a> Search<'a> {
    /// The request as the texts' client writes it (`json.dumps` of
    /// `dict(action=..., value=...)`), nothing escaped, read without a JSON
    /// parser; `None` for any other text. serde_json spent more on these
    /// few bytes than the rest of a request's answer.
    fn plain(text: &'a str) -> Option<Self> {
        let rest = text.strip_prefix("{\"action\": \"")?;
        let (action, rest) = plain_string(rest)?;
        let (value, rest) = plain_string(rest.strip_prefix(", \"value\": \"")?)?;
        (rest == "}").then(|| Search {
            action: action.into(),
            value: value.into(),
        })
    }

    /// Any JSON object with string `action` and `value` (other keys
    /// ignored, as libserver.py does); `None` for anything else.
    fn parse(text: &'a str) -> Option<Self> {
        if let Some(search) = Self::plain(text) {
            return Some(search);
        }
        // serde's derived structs take an array too (`["search", "ring"]`),
        // which libserver.py refuses: objects only.
        if !text.trim_start().starts_with('{') {
            return None;
        }
        serde_json::from_str(text).ok()
    }
}

/// What a miss's answer holds around a query with nothing to escape:
/// `{"result": "No match for \"QUERY\"."}`.
const MISS_BEFORE: &[u8] = br#"{"result": "No match for \""#;
const MISS_AFTER: &[u8] = br#"\"."}"#;

/// A miss's answer as python_json writes it. A query with nothing to
/// escape (every query a plain request can hold) is copied between the
/// fixed bytes; the serializer escaped the whole text a character at a
/// time, and cost a fifth of a request's instructions.
fn miss_answer(query: &str) -> Option<Vec<u8>> {
    if query.bytes().any(must_escape) {
        let result = NoMatch(query);
        return python_json(&MissAnswer { result }).ok();
    }
    Some([MISS_BEFORE, query.as_bytes(), MISS_AFTER].concat())
}

/// A miss's answer object, written without building a map or its text.
#[derive(Serialize)]
struct MissAnswer<'a> {
    result: NoMatch<'a>,
}

/// The text of a miss, `No match for "QUERY".`, written where it goes.
struct NoMatch<'a>(&'a str);

impl std::fmt::Display for NoMatch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "No match for \"{}\".", self.0)
    }
}

impl Serialize for NoMatch<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
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
            .filter_map(|(query, answer)| Some((query.clone(), WrittenHit::new(answer)?)))
            .collect();
        SearchTable { entries, written }
    }

    /// The answer, written, when `text` is a search for a string: a hit's
    /// was written in advance, a miss's is written here. `None` sends the
    /// caller the long way ([`SearchTable::answer`]), which words
    /// everything else.
    pub fn written_answer(&self, text: &str) -> Option<Written<'_>> {
        let request = Search::parse(text)?;
        if request.action != "search" {
            return None;
        }
        match self.written.get(request.value.as_ref()) {
            Some(hit) => Some(Written::Hit(hit)),
            None => Some(Written::Miss(miss_answer(&request.value)?.into())),
        }
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
                    .unwrap_or_else(|| NoMatch(&python_str(query)).to_string().into())
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
    use proptest::prelude::*;
    use serde_json::json;

    fn ask(table: &SearchTable, request: Value) -> Value {
        let Value::Object(request) = request else {
            panic!("test requests are objects")
        };
        Value::Object(table.answer(&request))
    }

    #[test]
    fn a_miss_is_written_as_the_serializer_writes_it() {
        for query in [
            "nobody",
            "",
            "\u{1f436}\u{1f436}",
            "a\"b",
            "back\\slash",
            "line\nfeed\u{1}",
        ] {
            let serialized = python_json(&MissAnswer {
                result: NoMatch(query),
            })
            .expect("serializes");
            assert_eq!(miss_answer(query), Some(serialized), "{query:?}");
        }
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

    /// The long way's answer to `text`, written.
    fn long_way(table: &SearchTable, text: &str) -> Vec<u8> {
        let request = serde_json::from_str(text).expect("test requests are JSON");
        python_json(&ask(table, request)).expect("serializes")
    }

    /// `request` as Python's client writes it.
    fn python_text(request: &Value) -> String {
        String::from_utf8(python_json(request).expect("serializes")).expect("UTF-8")
    }

    #[test]
    fn a_written_answer_is_the_long_way_s_answer() {
        let table = SearchTable::builtin();
        let queries = BUILTIN.iter().map(|(query, _)| *query);
        for query in queries.chain(["nothing", "say \"when\"\n", ""]) {
            let request = json!({"action": "search", "value": query});
            for text in [request.to_string(), python_text(&request)] {
                let written = table.written_answer(&text).expect("a search");
                assert_eq!(written.content(), long_way(&table, &text), "{text}");
            }
        }
        // Other actions, duplicate keys and odd values go the long way.
        for text in [
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
    fn a_hit_s_head_and_content_decode_to_its_answer_with_and_without_keep_alive() {
        use crate::app::codec::MessageCodec;
        use tokio_util::codec::Decoder;
        let table = SearchTable::builtin();
        for (query, answer) in BUILTIN {
            let text = python_text(&json!({"action": "search", "value": query}));
            let Some(Written::Hit(hit)) = table.written_answer(&text) else {
                panic!("{query} is a hit");
            };
            for keep_alive in [false, true] {
                let mut wire = bytes::BytesMut::from(hit.head(keep_alive));
                wire.extend_from_slice(hit.content());
                let decoded = MessageCodec::default()
                    .decode(&mut wire)
                    .expect("a valid frame")
                    .expect("a whole frame");
                assert!(wire.is_empty(), "one frame, nothing after it");
                assert_eq!(decoded.header.keep_alive, keep_alive);
                let expected = json!({ "result": answer });
                assert_eq!(
                    Value::Object(decoded.json_object().expect("JSON")),
                    expected
                );
            }
        }
    }

    #[test]
    fn the_texts_request_is_read_the_plain_way() {
        let text = "{\"action\": \"search\", \"value\": \"\u{1f436}\"}";
        let plain = Search::plain(text).expect("the usual request");
        assert_eq!(plain.action, "search");
        assert_eq!(plain.value, "\u{1f436}");
        for text in [
            r#"{"action": "search", "value": "a\"b"}"#,
            r#"{"action": "search", "value": "ring"} "#,
            r#"{"action":"search","value":"ring"}"#,
            r#"{"action": "search", "value": "ring", "x": 1}"#,
        ] {
            assert!(Search::plain(text).is_none(), "{text}");
        }
    }

    proptest! {
        // Any search, written either way (Python's spacing or compact),
        // gets from the quick path the bytes the long way writes.
        #[test]
        fn the_quick_path_never_disagrees_with_the_long_way(
            action in prop_oneof![Just("search".to_string()), "\\PC{0,8}"],
            value in prop_oneof![Just("ring".to_string()), "\\PC{0,12}", "[\"\\\\\n a]{0,4}"],
            python_style in any::<bool>(),
        ) {
            let table = SearchTable::builtin();
            let request = json!({"action": action, "value": value});
            let text = if python_style { python_text(&request) } else { request.to_string() };
            match table.written_answer(&text) {
                Some(written) => prop_assert_eq!(written.content().to_vec(), long_way(&table, &text)),
                None => prop_assert_ne!(action, "search"),
            }
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
