//! PostgreSQL's binary `COPY` format, both ways, for the two columns shimkit moves: an id
//! and a pgvector vector.
//!
//! Bulk reads and writes go through `COPY ... (FORMAT binary)`: the server sends each
//! vector as its own binary form (`dim: u16, unused: u16, dim × f32`, all big-endian) and
//! takes the same back, with no text to print or parse on either side.

use std::io::{BufRead, Write};

use crate::catalog::{IdType, VectorType};

const SIGNATURE: &[u8; 11] = b"PGCOPY\n\xff\r\n\0";
/// The most bytes one field may declare: PostgreSQL's own limit on a value.
const MAX_FIELD_BYTES: usize = 1 << 30;

/// Why a COPY stream could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("malformed binary COPY data: {0}")]
    Malformed(String),
    /// A row's own value is wrong (an id that is not an integer, a vector of another
    /// length); the row is named by the caller.
    #[error("{message}")]
    Value { id: Option<String>, message: String },
}

/// Reads tuples of a binary COPY stream.
pub struct CopyReader<R> {
    input: R,
    fields: usize,
    started: bool,
    /// The current tuple's bytes, and where each field lies in them (`None` for NULL).
    data: Vec<u8>,
    spans: Vec<Option<(usize, usize)>>,
}

impl<R: BufRead> CopyReader<R> {
    /// A reader of tuples of `fields` fields.
    pub fn new(input: R, fields: usize) -> Self {
        CopyReader {
            input,
            fields,
            started: false,
            data: Vec::new(),
            spans: Vec::with_capacity(fields),
        }
    }

    /// The next tuple, `false` at the end of the stream.
    pub fn next_tuple(&mut self) -> Result<bool, CopyError> {
        if !self.started {
            self.read_header()?;
            self.started = true;
        }
        let mut count = [0u8; 2];
        self.input.read_exact(&mut count)?;
        let count = i16::from_be_bytes(count);
        if count == -1 {
            return Ok(false);
        }
        if count as usize != self.fields {
            return Err(CopyError::Malformed(format!(
                "a tuple of {count} fields, expected {}",
                self.fields
            )));
        }
        self.data.clear();
        self.spans.clear();
        for _ in 0..self.fields {
            let mut len = [0u8; 4];
            self.input.read_exact(&mut len)?;
            let len = i32::from_be_bytes(len);
            if len == -1 {
                self.spans.push(None);
                continue;
            }
            let len = usize::try_from(len)
                .ok()
                .filter(|&l| l <= MAX_FIELD_BYTES)
                .ok_or_else(|| CopyError::Malformed(format!("a field of {len} bytes")))?;
            let start = self.data.len();
            self.data.resize(start + len, 0);
            self.input.read_exact(&mut self.data[start..])?;
            self.spans.push(Some((start, start + len)));
        }
        Ok(true)
    }

    /// Field `i` of the current tuple, `None` when it is NULL.
    pub fn field(&self, i: usize) -> Option<&[u8]> {
        self.spans[i].map(|(a, b)| &self.data[a..b])
    }

    fn read_header(&mut self) -> Result<(), CopyError> {
        let mut head = [0u8; 19];
        self.input.read_exact(&mut head)?;
        if &head[..11] != SIGNATURE {
            return Err(CopyError::Malformed("no PGCOPY signature".into()));
        }
        let extension = u32::from_be_bytes([head[15], head[16], head[17], head[18]]) as usize;
        if extension > MAX_FIELD_BYTES {
            return Err(CopyError::Malformed("a header extension that large".into()));
        }
        let mut skip = vec![0u8; extension];
        self.input.read_exact(&mut skip)?;
        Ok(())
    }
}

/// An id field as text.
pub fn decode_id(bytes: &[u8], kind: IdType) -> Result<String, CopyError> {
    let wrong = || {
        CopyError::Malformed(format!(
            "an id of {} bytes for {}",
            bytes.len(),
            kind.sql_name()
        ))
    };
    Ok(match kind {
        IdType::Text => String::from_utf8(bytes.to_vec())
            .map_err(|_| CopyError::Malformed("an id that is not UTF-8".into()))?,
        IdType::Int4 => i32::from_be_bytes(bytes.try_into().map_err(|_| wrong())?).to_string(),
        IdType::Int8 => i64::from_be_bytes(bytes.try_into().map_err(|_| wrong())?).to_string(),
    })
}

/// Appends a vector field's values to `out`, returning its dimension.
pub fn decode_vector(
    bytes: &[u8],
    kind: VectorType,
    out: &mut Vec<f32>,
) -> Result<usize, CopyError> {
    if bytes.len() < 4 {
        return Err(CopyError::Malformed(format!(
            "a vector of {} bytes",
            bytes.len()
        )));
    }
    let dim = u16::from_be_bytes([bytes[0], bytes[1]]) as usize;
    let body = &bytes[4..];
    if body.len() != dim * kind.value_bytes() {
        return Err(CopyError::Malformed(format!(
            "a vector of dimension {dim} in {} bytes",
            bytes.len()
        )));
    }
    match kind {
        VectorType::Vector => out.extend(
            body.chunks_exact(4)
                .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]])),
        ),
        VectorType::HalfVec => out.extend(
            body.chunks_exact(2)
                .map(|c| half::f16::from_be_bytes([c[0], c[1]]).to_f32()),
        ),
    }
    Ok(dim)
}

/// Writes tuples of a binary COPY stream, buffered.
pub struct CopyWriter {
    buffer: Vec<u8>,
}

impl Default for CopyWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl CopyWriter {
    pub fn new() -> Self {
        let mut buffer = Vec::with_capacity(1 << 20);
        buffer.extend_from_slice(SIGNATURE);
        buffer.extend_from_slice(&0u32.to_be_bytes());
        buffer.extend_from_slice(&0u32.to_be_bytes());
        CopyWriter { buffer }
    }

    /// Starts a tuple of `fields` fields.
    pub fn tuple(&mut self, fields: i16) {
        self.buffer.extend_from_slice(&fields.to_be_bytes());
    }

    /// An id field, from its text.
    pub fn id(&mut self, id: &str, kind: IdType) -> Result<(), CopyError> {
        let not_integer = || CopyError::Value {
            id: Some(id.to_owned()),
            message: format!(
                "the id {id:?} is not an integer, but the id column is {}",
                kind.sql_name()
            ),
        };
        match kind {
            IdType::Text => self.bytes(id.as_bytes()),
            IdType::Int4 => {
                let v: i32 = id.parse().map_err(|_| not_integer())?;
                self.bytes(&v.to_be_bytes());
            }
            IdType::Int8 => {
                let v: i64 = id.parse().map_err(|_| not_integer())?;
                self.bytes(&v.to_be_bytes());
            }
        }
        Ok(())
    }

    /// A vector field.
    pub fn vector(&mut self, values: &[f32], kind: VectorType) -> Result<(), CopyError> {
        let dim = u16::try_from(values.len()).map_err(|_| CopyError::Value {
            id: None,
            message: format!("{} dimensions; pgvector stores at most 16000", values.len()),
        })?;
        let len = 4 + values.len() * kind.value_bytes();
        self.buffer.extend_from_slice(&(len as i32).to_be_bytes());
        self.buffer.extend_from_slice(&dim.to_be_bytes());
        self.buffer.extend_from_slice(&0u16.to_be_bytes());
        match kind {
            VectorType::Vector => {
                for v in values {
                    self.buffer.extend_from_slice(&v.to_be_bytes());
                }
            }
            VectorType::HalfVec => {
                for v in values {
                    self.buffer
                        .extend_from_slice(&half::f16::from_f32(*v).to_be_bytes());
                }
            }
        }
        Ok(())
    }

    /// An `integer` field.
    pub fn int4(&mut self, v: i32) {
        self.bytes(&v.to_be_bytes());
    }

    /// A `real` field.
    pub fn float4(&mut self, v: f32) {
        self.bytes(&v.to_be_bytes());
    }

    /// A text field.
    pub fn text(&mut self, text: &str) {
        self.bytes(text.as_bytes());
    }

    /// A NULL field.
    pub fn null(&mut self) {
        self.buffer.extend_from_slice(&(-1i32).to_be_bytes());
    }

    fn bytes(&mut self, bytes: &[u8]) {
        self.buffer
            .extend_from_slice(&(bytes.len() as i32).to_be_bytes());
        self.buffer.extend_from_slice(bytes);
    }

    /// Bytes buffered so far.
    pub fn len(&self) -> usize {
        self.buffer.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// Sends what is buffered (no trailer).
    pub fn flush_to(&mut self, out: &mut impl Write) -> std::io::Result<()> {
        out.write_all(&self.buffer)?;
        self.buffer.clear();
        Ok(())
    }

    /// Sends what is buffered and the trailer.
    pub fn finish_to(mut self, out: &mut impl Write) -> std::io::Result<()> {
        self.buffer.extend_from_slice(&(-1i16).to_be_bytes());
        out.write_all(&self.buffer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_written_reads_back() {
        let mut w = CopyWriter::new();
        let rows = [
            ("7", vec![1.5f32, -2.0, 0.25]),
            ("-3", vec![0.0, 1e-7, 3.0e8]),
        ];
        for (id, v) in &rows {
            w.tuple(2);
            w.id(id, IdType::Int8).unwrap();
            w.vector(v, VectorType::Vector).unwrap();
        }
        w.tuple(2);
        w.id("x", IdType::Text).unwrap();
        w.null();
        let mut bytes = Vec::new();
        w.finish_to(&mut bytes).unwrap();

        let mut r = CopyReader::new(bytes.as_slice(), 2);
        for (id, v) in &rows {
            assert!(r.next_tuple().unwrap());
            assert_eq!(decode_id(r.field(0).unwrap(), IdType::Int8).unwrap(), *id);
            let mut out = Vec::new();
            assert_eq!(
                decode_vector(r.field(1).unwrap(), VectorType::Vector, &mut out).unwrap(),
                3
            );
            assert_eq!(&out, v);
        }
        assert!(r.next_tuple().unwrap());
        assert_eq!(decode_id(r.field(0).unwrap(), IdType::Text).unwrap(), "x");
        assert!(r.field(1).is_none());
        assert!(!r.next_tuple().unwrap());
    }

    #[test]
    fn halfvec_rounds_to_float16() {
        let mut w = CopyWriter::new();
        w.tuple(1);
        w.vector(&[0.1, 2.0], VectorType::HalfVec).unwrap();
        let mut bytes = Vec::new();
        w.finish_to(&mut bytes).unwrap();
        let mut r = CopyReader::new(bytes.as_slice(), 1);
        assert!(r.next_tuple().unwrap());
        let mut out = Vec::new();
        decode_vector(r.field(0).unwrap(), VectorType::HalfVec, &mut out).unwrap();
        assert_eq!(out, vec![half::f16::from_f32(0.1).to_f32(), 2.0]);
    }

    #[test]
    fn malformed_streams_are_errors_not_panics() {
        let mut good = Vec::new();
        let mut w = CopyWriter::new();
        w.tuple(2);
        w.id("1", IdType::Int4).unwrap();
        w.vector(&[1.0, 2.0], VectorType::Vector).unwrap();
        w.finish_to(&mut good).unwrap();
        // Every truncation, and a few corruptions, end in an error.
        for cut in 0..good.len() - 2 {
            let mut r = CopyReader::new(&good[..cut], 2);
            assert!(
                r.next_tuple().is_err() || r.next_tuple().is_err(),
                "cut {cut}"
            );
        }
        let mut wrong_count = good.clone();
        wrong_count[20] = 3;
        assert!(
            CopyReader::new(wrong_count.as_slice(), 2)
                .next_tuple()
                .is_err()
        );
        let mut out = Vec::new();
        assert!(decode_vector(&[0, 3, 0, 0, 1, 2], VectorType::Vector, &mut out).is_err());
        assert!(decode_id(&[1, 2, 3], IdType::Int4).is_err());
        assert!(CopyWriter::new().id("4.5", IdType::Int8).is_err());
    }
}
