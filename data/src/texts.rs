//! The texts of an evaluation set: BEIR's `corpus.jsonl` and `queries.jsonl`.
//!
//! One JSON object a line: `_id` (a string, or an integer as some exports write it), `text`
//! (a string), and optionally `title` (a string, or null) and anything else (`metadata`,
//! kept out). Blank lines are skipped; every other problem (a line that is not JSON, an
//! object without `_id` or `text`, an id seen twice) is an error naming the line.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;

use crate::error::{DataError, Result};

/// One document or query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextRecord {
    pub id: String,
    pub title: Option<String>,
    pub text: String,
}

#[derive(Deserialize)]
struct Line {
    #[serde(rename = "_id")]
    id: Option<Id>,
    title: Option<String>,
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Id {
    Text(String),
    Number(i64),
}

/// Reads a JSONL file of texts.
pub fn read_texts(path: &Path) -> Result<Vec<TextRecord>> {
    let text = crate::regular::read_regular_text(path)?;
    parse_texts(path, &text)
}

/// Parses JSONL text; `path` names the file in errors.
pub fn parse_texts(path: &Path, text: &str) -> Result<Vec<TextRecord>> {
    let err = |line: usize, message: String| DataError::Line {
        path: path.to_path_buf(),
        line,
        message,
    };
    let mut records = Vec::new();
    let mut first_line: HashMap<String, usize> = HashMap::new();
    for (n, raw) in text.lines().enumerate() {
        let line_no = n + 1;
        let raw = raw.trim_end_matches('\r');
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(raw).map_err(|e| {
            err(
                line_no,
                format!("not a JSON object with _id and text ({e})"),
            )
        })?;
        let id = match line.id {
            Some(Id::Text(s)) if !s.is_empty() => s,
            Some(Id::Number(n)) => n.to_string(),
            _ => return Err(err(line_no, "no _id (or an empty one)".into())),
        };
        let text = line
            .text
            .ok_or_else(|| err(line_no, format!("document {id:?} has no text")))?;
        if let Some(first) = first_line.insert(id.clone(), line_no) {
            return Err(err(
                line_no,
                format!("id {id:?} appears twice (first on line {first})"),
            ));
        }
        records.push(TextRecord {
            id,
            title: line.title,
            text,
        });
    }
    Ok(records)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<TextRecord>> {
        parse_texts(Path::new("corpus.jsonl"), text)
    }

    #[test]
    fn reads_beir_lines_and_names_bad_ones() {
        let r = parse(
            "{\"_id\": \"1\", \"title\": \"t\", \"text\": \"a b\", \"metadata\": {}}\n\n{\"_id\": 2, \"title\": null, \"text\": \"c\"}\n",
        )
        .unwrap();
        assert_eq!(r.len(), 2);
        assert_eq!((r[0].id.as_str(), r[0].title.as_deref()), ("1", Some("t")));
        assert_eq!((r[1].id.as_str(), r[1].title.as_deref()), ("2", None));
        for (bad, why) in [
            ("{\"_id\": \"1\", \"text\": \"a\"}\nnot json\n", "line 2"),
            ("{\"text\": \"a\"}\n", "no _id"),
            ("{\"_id\": \"x\"}\n", "has no text"),
            (
                "{\"_id\": \"x\", \"text\": \"a\"}\n{\"_id\": \"x\", \"text\": \"b\"}\n",
                "twice",
            ),
            ("[1, 2]\n", "not a JSON object"),
        ] {
            let e = parse(bad).unwrap_err().to_string();
            assert!(e.contains(why) && e.contains("corpus.jsonl"), "{bad}: {e}");
        }
    }
}
