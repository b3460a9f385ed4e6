//! The three encodings of a projection: JSON, raw little-endian f32 rows, and Arrow IPC
//! streams. Each decodes into one row-major [`Batch`] and encodes the projected rows back in
//! the request's own encoding.

use std::io::Cursor;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float16Type, Float32Type, Float64Type};
use arrow_array::{Array, ArrayRef, FixedSizeListArray, Float32Array, RecordBatch};
use arrow_buffer::ScalarBuffer;
use arrow_schema::{DataType, Field, Schema};
use axum::http::HeaderMap;
use axum::http::header::CONTENT_TYPE;

use super::error::ApiError;

pub const JSON: &str = "application/json";
pub const OCTET: &str = "application/octet-stream";
pub const ARROW: &str = "application/vnd.apache.arrow.stream";
pub const ROWS_HEADER: &str = "x-shimkit-rows";
pub const DIM_HEADER: &str = "x-shimkit-dim";

/// The encoding of a request, and so of its answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Json,
    Octet,
    Arrow,
}

impl Encoding {
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, ApiError> {
        let unsupported = |found: &str| {
            ApiError::UnsupportedMediaType(format!(
                "content type {found:?} is not read here: send {JSON}, {OCTET} or {ARROW}"
            ))
        };
        let raw = headers
            .get(CONTENT_TYPE)
            .ok_or_else(|| unsupported("(none)"))?
            .to_str()
            .map_err(|_| unsupported("(not ASCII)"))?;
        let essence = raw
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            JSON => Ok(Encoding::Json),
            OCTET => Ok(Encoding::Octet),
            ARROW => Ok(Encoding::Arrow),
            _ => Err(unsupported(raw)),
        }
    }
}

/// Row vectors, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    pub rows: usize,
    pub dim: usize,
    pub data: Vec<f32>,
}

impl Batch {
    /// The first non-finite value, as a 400 that names its row and column.
    pub fn check_finite(&self) -> Result<(), ApiError> {
        match self.data.iter().position(|v| !v.is_finite()) {
            None => Ok(()),
            Some(i) => Err(ApiError::BadRequest(format!(
                "vector {} has a non-finite value ({}) at index {}",
                i / self.dim.max(1),
                self.data[i],
                i % self.dim.max(1)
            ))),
        }
    }
}

/// Decodes `{"vectors": [[...], ...], "normalize": bool}`.
pub fn decode_json(body: &[u8]) -> Result<(Batch, Option<bool>), ApiError> {
    if let Some((rows, dim, data, normalize)) = super::fast_json::read_request(body) {
        return Ok((Batch { rows, dim, data }, normalize));
    }
    let req: super::types::ProjectRequest = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("malformed JSON body: {e}")))?;
    let super::types::Rows { rows, dim, data } = req.vectors;
    Ok((Batch { rows, dim, data }, req.normalize))
}

/// Decodes little-endian f32 rows; the row count and dimension come from headers.
pub fn decode_octet(headers: &HeaderMap, body: &[u8]) -> Result<Batch, ApiError> {
    let header = |name: &str| -> Result<usize, ApiError> {
        let v = headers.get(name).ok_or_else(|| {
            ApiError::BadRequest(format!("{OCTET} bodies need the {name} header"))
        })?;
        v.to_str()
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .ok_or_else(|| ApiError::BadRequest(format!("header {name} is not a whole number")))
    };
    let rows = header(ROWS_HEADER)?;
    let dim = header(DIM_HEADER)?;
    let expected = rows.checked_mul(dim).and_then(|n| n.checked_mul(4));
    if expected != Some(body.len()) {
        return Err(ApiError::BadRequest(format!(
            "the body has {} bytes; {rows} rows of {dim} f32 need {}",
            body.len(),
            expected.map_or("more than fits in memory".to_owned(), |n| n.to_string())
        )));
    }
    let data = body
        .chunks_exact(4)
        .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .collect();
    Ok(Batch { rows, dim, data })
}

pub fn encode_octet(rows: usize, dim: usize, data: &[f32]) -> Vec<u8> {
    debug_assert_eq!(rows * dim, data.len());
    // One collect over fixed-size arrays runs at memcpy speed; pushing four bytes at a
    // time measured several times slower (BENCHMARKS.md).
    data.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// An Arrow request: its record batches, kept so the answer carries their other columns
/// (ids, say) through unchanged, and the vector column's position.
#[derive(Debug)]
pub struct ArrowRequest {
    pub schema: Arc<Schema>,
    pub batches: Vec<RecordBatch>,
    pub column: usize,
}

/// Decodes an Arrow IPC stream whose vector column is a FixedSizeList, List or LargeList of
/// float16, float32 or float64.
pub fn decode_arrow(body: &[u8], column: Option<&str>) -> Result<(Batch, ArrowRequest), ApiError> {
    let bad = |m: String| ApiError::BadRequest(format!("Arrow IPC stream: {m}"));
    check_framing(body).map_err(bad)?;
    // The IPC reader validates what it decodes; the catch is a last line for a malformed
    // stream it does not foresee, so that no request can take a worker down.
    let read = shimkit_data::catch_decoder_panic(|| -> Result<_, arrow_schema::ArrowError> {
        let reader = arrow_ipc::reader::StreamReader::try_new(Cursor::new(body), None)?;
        let schema = reader.schema();
        let batches = reader.collect::<Result<Vec<_>, _>>()?;
        Ok((schema, batches))
    })
    .map_err(|m| bad(format!("the stream is malformed ({m})")))?;
    let (schema, batches) = read.map_err(|e| bad(e.to_string()))?;
    let index = vector_column(&schema, column).map_err(bad)?;
    let name = schema.field(index).name().clone();
    let mut data = Vec::new();
    let mut dim = None;
    let mut rows = 0;
    for batch in &batches {
        let array = batch.column(index);
        append_vectors(array, &mut data, &mut dim, rows)
            .map_err(|m| bad(format!("column {name:?}: {m}")))?;
        rows += array.len();
    }
    let batch = Batch {
        rows,
        dim: dim.unwrap_or(0),
        data,
    };
    Ok((
        batch,
        ArrowRequest {
            schema,
            batches,
            column: index,
        },
    ))
}

impl ArrowRequest {
    /// Memory of the columns that come back unchanged.
    pub fn other_columns_bytes(&self) -> usize {
        self.batches
            .iter()
            .flat_map(|b| {
                b.columns()
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != self.column)
                    .map(|(_, c)| c.get_array_memory_size())
            })
            .sum()
    }
}

/// Walks the stream's messages before the IPC reader sees them: every message must fit in
/// the body (the reader allocates a message's declared body length before reading it, so
/// a few bytes declaring terabytes would abort the process), and nothing may follow the
/// end-of-stream marker (a second stream appended to the first was silently ignored).
fn check_framing(body: &[u8]) -> Result<(), String> {
    const CONTINUATION: u32 = 0xFFFF_FFFF;
    let word = |at: usize| -> Option<u32> {
        body.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let mut pos = 0usize;
    let mut messages = 0usize;
    while pos < body.len() {
        let first = word(pos).ok_or("the stream ends inside a message's length")?;
        let (meta_len, at) = if first == CONTINUATION {
            let len = word(pos + 4).ok_or("the stream ends inside a message's length")?;
            (len as i32, pos + 8)
        } else {
            (first as i32, pos + 4)
        };
        if meta_len == 0 {
            if at < body.len() {
                return Err(format!(
                    "{} bytes follow the end of the stream (one stream a request)",
                    body.len() - at
                ));
            }
            return Ok(());
        }
        let meta_len = usize::try_from(meta_len).map_err(|_| "a negative message length")?;
        let meta = body
            .get(at..at.saturating_add(meta_len))
            .ok_or_else(|| format!("message {messages} is longer than the body"))?;
        let message = arrow_ipc::root_as_message(meta)
            .map_err(|e| format!("message {messages} is not an Arrow message ({e})"))?;
        let body_len = usize::try_from(message.bodyLength())
            .map_err(|_| format!("message {messages} declares a negative body"))?;
        pos = at + meta_len;
        if body_len > body.len() - pos {
            return Err(format!(
                "message {messages} declares a body of {body_len} bytes, but {} remain",
                body.len() - pos
            ));
        }
        pos += body_len;
        messages += 1;
    }
    Ok(())
}

fn vector_column(schema: &Schema, wanted: Option<&str>) -> Result<usize, String> {
    if let Some(name) = wanted {
        return schema
            .index_of(name)
            .map_err(|_| format!("no column {name:?} (the `column` parameter)"));
    }
    for name in ["embedding", "vector"] {
        if let Ok(i) = schema.index_of(name) {
            return Ok(i);
        }
    }
    let lists: Vec<usize> = (0..schema.fields().len())
        .filter(|&i| {
            matches!(
                schema.field(i).data_type(),
                DataType::FixedSizeList(..) | DataType::List(_) | DataType::LargeList(_)
            )
        })
        .collect();
    match lists.as_slice() {
        [i] => Ok(*i),
        [] => Err("no list column to read vectors from".into()),
        _ => Err("several list columns: name the vector column with ?column=NAME".into()),
    }
}

/// Appends one array of vectors; `first_row` numbers rows across batches for messages.
fn append_vectors(
    array: &ArrayRef,
    out: &mut Vec<f32>,
    dim: &mut Option<usize>,
    first_row: usize,
) -> Result<(), String> {
    let (values, offsets): (ArrayRef, Vec<usize>) = match array.data_type() {
        DataType::FixedSizeList(_, w) => {
            let l = array.as_fixed_size_list();
            let w = *w as usize;
            let start = l.offset() * w;
            (
                l.values().slice(start, l.len() * w),
                (0..=l.len()).map(|i| i * w).collect(),
            )
        }
        DataType::List(_) => {
            let l = array.as_list::<i32>();
            let o = l.value_offsets();
            let base = o[0] as usize;
            let end = o[l.len()] as usize;
            (
                l.values().slice(base, end - base),
                o.iter().map(|&x| x as usize - base).collect(),
            )
        }
        DataType::LargeList(_) => {
            let l = array.as_list::<i64>();
            let o = l.value_offsets();
            let base = o[0] as usize;
            let end = o[l.len()] as usize;
            (
                l.values().slice(base, end - base),
                o.iter().map(|&x| x as usize - base).collect(),
            )
        }
        other => {
            return Err(format!(
                "type {other} is not a FixedSizeList, List or LargeList of floats"
            ));
        }
    };
    if let Some(i) = (0..array.len()).find(|&i| array.is_null(i)) {
        return Err(format!("vector {} is null", first_row + i));
    }
    if values.null_count() > 0 {
        return Err("a vector holds a null value".into());
    }
    for (i, w) in offsets.windows(2).enumerate() {
        let len = w[1] - w[0];
        match *dim {
            None => *dim = Some(len),
            Some(d) if d != len => {
                return Err(format!(
                    "vector {} has {len} values, the first has {d}",
                    first_row + i
                ));
            }
            Some(_) => {}
        }
    }
    match values.data_type() {
        DataType::Float32 => out.extend_from_slice(values.as_primitive::<Float32Type>().values()),
        DataType::Float16 => out.extend(
            values
                .as_primitive::<Float16Type>()
                .values()
                .iter()
                .map(|v| v.to_f32()),
        ),
        DataType::Float64 => out.extend(
            values
                .as_primitive::<Float64Type>()
                .values()
                .iter()
                .map(|&v| v as f32),
        ),
        other => return Err(format!("values of type {other}, not float16/32/64")),
    }
    Ok(())
}

/// The request's batches with the vector column replaced by the projected vectors
/// (FixedSizeList<Float32>), and the shim's name and version in the schema metadata.
/// `data` becomes the arrays' buffer without a copy.
pub fn encode_arrow(
    request: &ArrowRequest,
    dim: usize,
    data: Vec<f32>,
    metadata: &[(&str, &str)],
) -> Result<Vec<u8>, ApiError> {
    let internal = |e: arrow_schema::ArrowError| ApiError::Internal(format!("Arrow encoding: {e}"));
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let mut fields: Vec<Field> = request
        .schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .collect();
    let name = fields[request.column].name().clone();
    fields[request.column] = Field::new(
        name,
        DataType::FixedSizeList(item.clone(), dim as i32),
        false,
    );
    let mut meta = request.schema.metadata().clone();
    for (k, v) in metadata {
        meta.insert((*k).to_owned(), (*v).to_owned());
    }
    let schema = Arc::new(Schema::new_with_metadata(fields, meta));
    // Sized up front: growing by doubling copied the answer ~twice over on its way to 4 MiB.
    let mut out = Vec::with_capacity(data.len() * 4 + 4096);
    let data = ScalarBuffer::from(data);
    {
        let mut writer =
            arrow_ipc::writer::StreamWriter::try_new(&mut out, &schema).map_err(internal)?;
        let mut row = 0;
        for batch in &request.batches {
            let n = batch.num_rows();
            let values = Float32Array::new(data.slice(row * dim, n * dim), None);
            let vectors =
                FixedSizeListArray::try_new(item.clone(), dim as i32, Arc::new(values), None)
                    .map_err(internal)?;
            let mut columns = batch.columns().to_vec();
            columns[request.column] = Arc::new(vectors);
            let out_batch = RecordBatch::try_new(schema.clone(), columns).map_err(internal)?;
            writer.write(&out_batch).map_err(internal)?;
            row += n;
        }
        writer.finish().map_err(internal)?;
    }
    Ok(out)
}

/// An Arrow IPC stream with one `embedding` column, for clients and tests.
pub fn arrow_stream(rows: usize, dim: usize, data: &[f32]) -> Vec<u8> {
    let item = Arc::new(Field::new("item", DataType::Float32, false));
    let values = Float32Array::from(data.to_vec());
    let list = FixedSizeListArray::try_new(item.clone(), dim as i32, Arc::new(values), None)
        .expect("rows × dim values");
    debug_assert_eq!(list.len(), rows);
    let schema = Arc::new(Schema::new(vec![Field::new(
        "embedding",
        DataType::FixedSizeList(item, dim as i32),
        false,
    )]));
    let batch = RecordBatch::try_new(schema.clone(), vec![Arc::new(list)]).expect("one column");
    let mut out = Vec::new();
    let mut w = arrow_ipc::writer::StreamWriter::try_new(&mut out, &schema).expect("schema");
    w.write(&batch).expect("batch");
    w.finish().expect("finish");
    drop(w);
    out
}

/// Decodes an Arrow answer back into rows, for clients and tests.
pub fn arrow_rows(body: &[u8]) -> Result<(Batch, Arc<Schema>), ApiError> {
    let (batch, req) = decode_arrow(body, None)?;
    Ok((batch, req.schema))
}
