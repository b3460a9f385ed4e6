//! The texts of an evaluation set: BEIR's `corpus.jsonl` and `queries.jsonl`.
//!
//! One JSON object a line: `_id` (a string, or an integer as some exports write it), `text`
//! (a string), and optionally `title` (a string, or null) and anything else (`metadata`,
//! kept out). Blank lines are skipped; every other problem (a line that is not JSON, an
//! object without `_id` or `text`, an id seen twice) is an error naming the line.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

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
    let mut seen = HashMap::new();
    let mut records = Vec::new();
    for (n, raw) in text.lines().enumerate() {
        if let Some(record) = parse_line(path, n + 1, raw, &mut seen)? {
            records.push(record);
        }
    }
    Ok(records)
}

/// The records of a JSONL file one at a time, checked as [`read_texts`] checks them, so
/// that a corpus larger than memory can be read: only the ids seen so far are kept.
pub struct TextReader {
    path: PathBuf,
    lines: std::io::Split<BufReader<File>>,
    line_no: usize,
    seen: HashMap<String, usize>,
}

impl TextReader {
    pub fn open(path: &Path) -> Result<TextReader> {
        crate::regular::require_regular_file(path)?;
        let file = File::open(path).map_err(|e| DataError::io(path, e))?;
        Ok(TextReader {
            path: path.to_path_buf(),
            lines: BufReader::with_capacity(1 << 20, file).split(b'\n'),
            line_no: 0,
            seen: HashMap::new(),
        })
    }

    /// The next record, or `None` at the end of the file.
    pub fn next_record(&mut self) -> Result<Option<TextRecord>> {
        for bytes in self.lines.by_ref() {
            let bytes = bytes.map_err(|e| DataError::io(&self.path, e))?;
            self.line_no += 1;
            let mut raw = std::str::from_utf8(&bytes).map_err(|e| DataError::Dataset {
                path: self.path.clone(),
                message: format!(
                    "not UTF-8 text (line {}: invalid byte at offset {} of the line)",
                    self.line_no,
                    e.valid_up_to()
                ),
            })?;
            if self.line_no == 1 {
                raw = raw.strip_prefix('\u{feff}').unwrap_or(raw);
            }
            if let Some(record) = parse_line(&self.path, self.line_no, raw, &mut self.seen)? {
                return Ok(Some(record));
            }
        }
        Ok(None)
    }
}

impl Iterator for TextReader {
    type Item = Result<TextRecord>;

    fn next(&mut self) -> Option<Self::Item> {
        self.next_record().transpose()
    }
}

/// One line of JSONL: a record, `None` for a blank line, or an error naming the line.
fn parse_line(
    path: &Path,
    line_no: usize,
    raw: &str,
    seen: &mut HashMap<String, usize>,
) -> Result<Option<TextRecord>> {
    let err = |message: String| DataError::Line {
        path: path.to_path_buf(),
        line: line_no,
        message,
    };
    let raw = raw.trim_end_matches('\r');
    if raw.trim().is_empty() {
        return Ok(None);
    }
    let line: Line = serde_json::from_str(raw)
        .map_err(|e| err(format!("not a JSON object with _id and text ({e})")))?;
    let id = match line.id {
        Some(Id::Text(s)) if !s.is_empty() => s,
        Some(Id::Number(n)) => n.to_string(),
        _ => return Err(err("no _id (or an empty one)".into())),
    };
    let text = line
        .text
        .ok_or_else(|| err(format!("document {id:?} has no text")))?;
    if let Some(first) = seen.insert(id.clone(), line_no) {
        return Err(err(format!(
            "id {id:?} appears twice (first on line {first})"
        )));
    }
    Ok(Some(TextRecord {
        id,
        title: line.title,
        text,
    }))
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

    #[test]
    fn the_streaming_reader_gives_what_read_texts_gives_and_names_the_same_lines() {
        let d = tempfile::tempdir().unwrap();
        let good = d.path().join("corpus.jsonl");
        std::fs::write(
            &good,
            "\u{feff}{\"_id\": \"1\", \"title\": \"t\", \"text\": \"a\"}\r\n\n  \n{\"_id\": 2, \"text\": \"b\"}",
        )
        .unwrap();
        let streamed: Vec<TextRecord> = TextReader::open(&good)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        assert_eq!(streamed, read_texts(&good).unwrap());
        assert_eq!(streamed.len(), 2);

        for (name, bytes, want) in [
            (
                "twice.jsonl",
                &b"{\"_id\": \"1\", \"text\": \"a\"}\n{\"_id\": \"1\", \"text\": \"b\"}\n"[..],
                "line 2",
            ),
            (
                "latin1.jsonl",
                &b"{\"_id\": \"1\", \"text\": \"a\"}\n\n{\"_id\": \"2\", \"text\": \"M\xfcller\"}\n"[..],
                "line 3",
            ),
            ("notjson.jsonl", &b"{\"_id\": \"1\", \"text\": \"a\"}\n[1, 2]\n"[..], "line 2"),
        ] {
            let path = d.path().join(name);
            std::fs::write(&path, bytes).unwrap();
            let err = TextReader::open(&path)
                .unwrap()
                .collect::<Result<Vec<_>>>()
                .unwrap_err()
                .to_string();
            assert!(err.contains(name) && err.contains(want), "{err}");
            let whole = read_texts(&path).unwrap_err().to_string();
            assert!(whole.contains(want), "{whole}");
        }
    }
}
