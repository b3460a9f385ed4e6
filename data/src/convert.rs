//! Turning Arrow columns into ids and a row-major f32 matrix, validating every row.
//!
//! Accepted encodings: ids as utf8, large_utf8, int32 or int64; vectors as FixedSizeList,
//! List or LargeList of float16, float32 or float64. Everything becomes `String` ids and
//! `f32` values, because that is what the shims compute on and what shimkit writes.

use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float16Type, Float32Type, Float64Type, Int32Type, Int64Type};
use arrow_array::{Array, ArrayRef, OffsetSizeTrait, PrimitiveArray};
use arrow_schema::DataType;

use crate::error::{DataError, Result};

/// Checks that an Arrow type can hold ids.
pub(crate) fn check_id_type(path: &Path, column: &str, dt: &DataType) -> Result<()> {
    match dt {
        DataType::Utf8
        | DataType::LargeUtf8
        | DataType::Utf8View
        | DataType::Int32
        | DataType::Int64 => Ok(()),
        other => Err(wrong_id_type(path, column, other)),
    }
}

fn wrong_id_type(path: &Path, column: &str, found: &DataType) -> DataError {
    DataError::WrongType {
        path: path.to_path_buf(),
        column: column.to_owned(),
        found: found.to_string(),
        expected: "utf8, large_utf8, int32 or int64 ids",
    }
}

/// Checks that an Arrow type can hold vectors and returns the fixed width, if the type has one.
/// Widest vector read: far above any embedding model, and a bound on what a footer can
/// make a reader allocate per row.
pub const MAX_DIM: usize = 1 << 24;

pub(crate) fn check_vector_type(path: &Path, column: &str, dt: &DataType) -> Result<Option<usize>> {
    let wrong = || DataError::WrongType {
        path: path.to_path_buf(),
        column: column.to_owned(),
        found: dt.to_string(),
        expected: "a FixedSizeList, List or LargeList of float16, float32 or float64",
    };
    let (item, width) = match dt {
        DataType::FixedSizeList(f, n) => (
            f.data_type(),
            Some(usize::try_from(*n).map_err(|_| wrong())?),
        ),
        DataType::List(f) | DataType::LargeList(f) => (f.data_type(), None),
        _ => return Err(wrong()),
    };
    if width.is_some_and(|w| w == 0 || w > MAX_DIM) {
        return Err(DataError::WrongType {
            path: path.to_path_buf(),
            column: column.to_owned(),
            found: dt.to_string(),
            expected: "vectors of 1 to 16777216 dimensions",
        });
    }
    match item {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Ok(width),
        _ => Err(wrong()),
    }
}

/// Reads the id column into strings. `first_row` is the file row of element 0, for messages.
pub(crate) fn ids_to_strings(
    path: &Path,
    column: &str,
    array: &ArrayRef,
    first_row: u64,
    out: &mut Vec<String>,
) -> Result<()> {
    if array.null_count() > 0 {
        let i = (0..array.len()).find(|&i| array.is_null(i)).unwrap_or(0);
        return Err(DataError::NullId {
            path: path.to_path_buf(),
            row: first_row + i as u64,
            column: column.to_owned(),
        });
    }
    out.reserve(array.len());
    match array.data_type() {
        DataType::Utf8 => out.extend(
            array
                .as_string::<i32>()
                .iter()
                .map(|s| s.unwrap_or_default().to_owned()),
        ),
        DataType::LargeUtf8 => out.extend(
            array
                .as_string::<i64>()
                .iter()
                .map(|s| s.unwrap_or_default().to_owned()),
        ),
        DataType::Utf8View => out.extend(
            array
                .as_string_view()
                .iter()
                .map(|s| s.unwrap_or_default().to_owned()),
        ),
        DataType::Int32 => out.extend(
            array
                .as_primitive::<Int32Type>()
                .values()
                .iter()
                .map(|v| v.to_string()),
        ),
        DataType::Int64 => out.extend(
            array
                .as_primitive::<Int64Type>()
                .values()
                .iter()
                .map(|v| v.to_string()),
        ),
        other => return Err(wrong_id_type(path, column, other)),
    }
    Ok(())
}

/// Context for validating one batch of vectors.
pub(crate) struct VectorCheck<'a> {
    pub path: &'a Path,
    pub column: &'a str,
    /// File row of element 0 of this batch.
    pub first_row: u64,
    /// Ids of this batch, same length as the vector array.
    pub ids: &'a [String],
    /// Dimension every row must have: fixed by an earlier row or file, or learnt from row 0.
    pub dim: &'a mut Option<(usize, String)>,
}

impl VectorCheck<'_> {
    fn id(&self, i: usize) -> String {
        self.ids.get(i).cloned().unwrap_or_default()
    }

    fn row(&self, i: usize) -> u64 {
        self.first_row + i as u64
    }

    fn null_vector(&self, i: usize) -> DataError {
        DataError::NullVector {
            path: self.path.to_path_buf(),
            row: self.row(i),
            id: self.id(i),
            column: self.column.to_owned(),
        }
    }

    /// Fixes the dimension on first sight, or checks a row's length against it.
    fn expect_len(&mut self, i: usize, len: usize) -> Result<usize> {
        if matches!(self.dim, Some((d, _)) if *d == len) {
            return Ok(len);
        }
        match self.dim.clone() {
            Some((d, _)) if d == len => Ok(len),
            Some((d, why)) => Err(DataError::DimMismatch {
                path: self.path.to_path_buf(),
                row: self.row(i),
                id: self.id(i),
                column: self.column.to_owned(),
                found: len,
                expected: d,
                why,
            }),
            None => {
                *self.dim = Some((
                    len,
                    format!(
                        "the length of row {} of {}",
                        self.row(i),
                        self.path.display()
                    ),
                ));
                Ok(len)
            }
        }
    }
}

/// Appends the batch's vectors to `out` as f32, row-major, checking nulls, lengths,
/// finiteness and all-zero rows. Returns the dimension.
pub(crate) fn vectors_to_f32(
    array: &ArrayRef,
    check: &mut VectorCheck<'_>,
    out: &mut Vec<f32>,
) -> Result<usize> {
    match array.data_type() {
        DataType::FixedSizeList(_, width) => {
            let list = array.as_fixed_size_list();
            let width = *width as usize;
            if list.null_count() > 0 {
                let i = (0..list.len()).find(|&i| list.is_null(i)).unwrap_or(0);
                return Err(check.null_vector(i));
            }
            if !list.is_empty() {
                check.expect_len(0, width)?;
            } else if check.dim.is_none() {
                return Ok(width);
            }
            let start = list.offset() * width;
            let values = list.values().slice(start, list.len() * width);
            let offsets: Vec<usize> = (0..=list.len()).map(|i| i * width).collect();
            append_values(&values, &offsets, check, out)?;
            Ok(width)
        }
        DataType::List(_) => list_to_f32::<i32>(array, check, out),
        DataType::LargeList(_) => list_to_f32::<i64>(array, check, out),
        other => Err(DataError::WrongType {
            path: check.path.to_path_buf(),
            column: check.column.to_owned(),
            found: other.to_string(),
            expected: "a FixedSizeList, List or LargeList of float16, float32 or float64",
        }),
    }
}

fn list_to_f32<O: OffsetSizeTrait>(
    array: &ArrayRef,
    check: &mut VectorCheck<'_>,
    out: &mut Vec<f32>,
) -> Result<usize> {
    let list = array.as_list::<O>();
    let raw = list.value_offsets();
    let base = raw.first().map(|o| o.as_usize()).unwrap_or(0);
    let mut offsets = Vec::with_capacity(list.len() + 1);
    offsets.push(0);
    for i in 0..list.len() {
        if list.is_null(i) {
            return Err(check.null_vector(i));
        }
        let len = (raw[i + 1] - raw[i]).as_usize();
        check.expect_len(i, len)?;
        offsets.push(raw[i + 1].as_usize() - base);
    }
    let end = *offsets.last().unwrap_or(&0);
    let values = list.values().slice(base, end);
    append_values(&values, &offsets, check, out)?;
    Ok(check.dim.as_ref().map(|(d, _)| *d).unwrap_or(0))
}

/// Converts the flat child values to f32 and validates them row by row; `offsets` are the
/// row boundaries within `values`.
fn append_values(
    values: &ArrayRef,
    offsets: &[usize],
    check: &VectorCheck<'_>,
    out: &mut Vec<f32>,
) -> Result<()> {
    if values.null_count() > 0 {
        let j = (0..values.len()).find(|&j| values.is_null(j)).unwrap_or(0);
        let i = offsets.partition_point(|&o| o <= j).saturating_sub(1);
        return Err(DataError::NullElement {
            path: check.path.to_path_buf(),
            row: check.row(i),
            id: check.id(i),
            column: check.column.to_owned(),
            index: j - offsets[i],
        });
    }
    let start = out.len();
    match values.data_type() {
        DataType::Float32 => out.extend_from_slice(values.as_primitive::<Float32Type>().values()),
        DataType::Float16 => {
            extend_converted(out, values.as_primitive::<Float16Type>(), |v| v.to_f32())
        }
        DataType::Float64 => {
            extend_converted(out, values.as_primitive::<Float64Type>(), |v| v as f32)
        }
        other => {
            return Err(DataError::WrongType {
                path: check.path.to_path_buf(),
                column: check.column.to_owned(),
                found: format!("list of {other}"),
                expected: "a FixedSizeList, List or LargeList of float16, float32 or float64",
            });
        }
    }
    let written = &out[start..];
    for (i, w) in offsets.windows(2).enumerate() {
        let row = &written[w[0]..w[1]];
        validate_row(row, i, check, Some(values))?;
    }
    Ok(())
}

/// Validates rows already in a row-major slice (the direct leaf path: float32 on disk, so
/// there is no wider original value to report).
pub(crate) fn validate_rows(data: &[f32], dim: usize, check: &VectorCheck<'_>) -> Result<()> {
    for (i, row) in data.chunks_exact(dim.max(1)).enumerate() {
        validate_row(row, i, check, None)?;
    }
    Ok(())
}

fn extend_converted<T: arrow_array::ArrowPrimitiveType>(
    out: &mut Vec<f32>,
    values: &PrimitiveArray<T>,
    f: impl Fn(T::Native) -> f32,
) {
    out.extend(values.values().iter().map(|&v| f(v)));
}

/// One Arrow column of vectors, in any encoding the readers accept, as a row-major f32
/// matrix, each row validated as a file's rows are (nulls, lengths, NaN and infinities,
/// all-zero rows). `source` and `column` name it in errors (a file, or a query's
/// argument); `ids`, where the caller has them, name the rows; `dim`, where known, is the
/// length every row must have.
pub fn vectors_from_arrow(
    array: &ArrayRef,
    source: &Path,
    column: &str,
    first_row: u64,
    ids: &[String],
    dim: Option<usize>,
) -> Result<ndarray::Array2<f32>> {
    let mut known = dim.map(|d| (d, "the dimension expected".to_owned()));
    let mut check = VectorCheck {
        path: source,
        column,
        first_row,
        ids,
        dim: &mut known,
    };
    let mut out = Vec::new();
    let width = vectors_to_f32(array, &mut check, &mut out)?;
    let width = known.map(|(d, _)| d).unwrap_or(width);
    let rows = array.len();
    ndarray::Array2::from_shape_vec((rows, out.len().checked_div(rows).unwrap_or(width)), out)
        .map_err(|e| DataError::Invalid {
            what: "vectors",
            message: e.to_string(),
        })
}

/// [`vectors_from_arrow`] without the copy where there is nothing to convert: a
/// FixedSizeList of float32 without NULLs is validated and viewed in place.
pub fn vectors_view_from_arrow<'a>(
    array: &'a ArrayRef,
    source: &Path,
    column: &str,
    first_row: u64,
    ids: &[String],
    dim: Option<usize>,
) -> Result<ndarray::CowArray<'a, f32, ndarray::Ix2>> {
    if let DataType::FixedSizeList(item, width) = array.data_type()
        && item.data_type() == &DataType::Float32
        && array.null_count() == 0
        && dim.is_none_or(|d| d as i32 == *width)
    {
        let list = array.as_fixed_size_list();
        let width = *width as usize;
        let values = list.values().as_primitive::<Float32Type>();
        if values.null_count() == 0 && width > 0 {
            let start = list.offset() * width;
            let data = &values.values()[start..start + list.len() * width];
            let mut known = Some((width, String::new()));
            let check = VectorCheck {
                path: source,
                column,
                first_row,
                ids,
                dim: &mut known,
            };
            validate_rows(data, width, &check)?;
            let view = ndarray::ArrayView2::from_shape((list.len(), width), data).map_err(|e| {
                DataError::Invalid {
                    what: "vectors",
                    message: e.to_string(),
                }
            })?;
            return Ok(view.into());
        }
    }
    Ok(vectors_from_arrow(array, source, column, first_row, ids, dim)?.into())
}

/// An Arrow column of ids (utf8, large_utf8, utf8view, int32 or int64) as strings, the way
/// the readers turn ids into strings (integers in decimal); `source` and `column` name it
/// in errors.
pub fn ids_from_arrow(
    array: &ArrayRef,
    source: &Path,
    column: &str,
    first_row: u64,
) -> Result<Vec<String>> {
    let mut out = Vec::new();
    ids_to_strings(source, column, array, first_row, &mut out)?;
    Ok(out)
}

/// Rejects non-finite values and all-zero rows. A float64 too large for f32 turns into an
/// infinity on conversion and is reported with its original value.
fn validate_row(
    row: &[f32],
    i: usize,
    check: &VectorCheck<'_>,
    original: Option<&ArrayRef>,
) -> Result<()> {
    // Summing squares finds both problems in one pass: NaN and inf propagate into the sum.
    let sum = crate::vector::squared_norm(row);
    if sum.is_finite() && sum > 0.0 {
        return Ok(());
    }
    if let Some(index) = row.iter().position(|v| !v.is_finite()) {
        let value = original
            .and_then(|values| original_value(values, i, row.len(), index))
            .unwrap_or(row[index] as f64);
        return Err(DataError::NonFinite {
            path: check.path.to_path_buf(),
            row: check.row(i),
            id: check.id(i),
            column: check.column.to_owned(),
            index,
            value: format_value(value),
        });
    }
    if row.iter().all(|&v| v == 0.0) {
        return Err(DataError::ZeroVector {
            path: check.path.to_path_buf(),
            row: check.row(i),
            id: check.id(i),
            column: check.column.to_owned(),
        });
    }
    // Finite values whose squares overflow or underflow f32: the vector itself is fine.
    Ok(())
}

/// Shortest readable form: `1e300`, not three hundred digits.
fn format_value(v: f64) -> String {
    if v.is_finite() && v != 0.0 && !(1e-4..1e16).contains(&v.abs()) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

fn original_value(values: &ArrayRef, row: usize, dim: usize, index: usize) -> Option<f64> {
    let j = row * dim + index;
    match values.data_type() {
        DataType::Float64 => values
            .as_primitive::<Float64Type>()
            .values()
            .get(j)
            .copied(),
        _ => None,
    }
}
