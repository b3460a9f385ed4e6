//! `shim_project('NAME', embedding)`: a shim applied to whole record batches.
//!
//! The vectors of a batch become one row-major f32 matrix (whatever their encoding:
//! FixedSizeList, List or LargeList of float16, float32 or float64), go through the shim's
//! own kernels in one product, as `shimkit project` does, and come back as a
//! FixedSizeList<float32> of the shim's output dimension, L2-normalised unless the shim
//! was registered without. A NULL vector gives NULL, as SQL functions do; every other
//! row is checked as shimkit's readers check it (its length, NaN, infinities, all zeros).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use datafusion::prelude::*;
//! use shimkit_engine::{ShimSet, register};
//!
//! let ctx = SessionContext::new();
//! let shims = ShimSet::new().with_file("bridge", "bridge.safetensors".as_ref(), true)?;
//! register(&ctx, &shims);
//! ctx.register_parquet("corpus", "corpus.parquet", ParquetReadOptions::default()).await?;
//! ctx.sql("SELECT id, shim_project('bridge', embedding) AS embedding FROM corpus").await?.show().await?;
//! # Ok(()) }
//! ```

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, FixedSizeListArray, Float32Array};
use datafusion::arrow::buffer::NullBuffer;
use datafusion::arrow::compute::{filter, is_not_null};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, internal_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDFImpl, Signature, Volatility,
};

use crate::shims::{NamedShim, ShimSet};

pub const NAME: &str = "shim_project";

/// The scalar function, holding the shims it may be asked for by name.
#[derive(Debug)]
pub struct ShimProject {
    shims: ShimSet,
    signature: Signature,
}

impl ShimProject {
    pub fn new(shims: ShimSet) -> Self {
        ShimProject {
            shims,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }

    pub fn shims(&self) -> &ShimSet {
        &self.shims
    }

    fn shim_named(&self, name: &str) -> Result<&Arc<NamedShim>> {
        self.shims.get(name).map_err(|e| e.into_datafusion())
    }
}

// Two instances are the same function when they hold the same shims (by version).
impl PartialEq for ShimProject {
    fn eq(&self, other: &Self) -> bool {
        versions(&self.shims) == versions(&other.shims)
    }
}

impl Eq for ShimProject {}

impl std::hash::Hash for ShimProject {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        versions(&self.shims).hash(state);
    }
}

fn versions(shims: &ShimSet) -> Vec<(String, String, bool)> {
    shims
        .iter()
        .map(|s| (s.name.clone(), s.version.clone(), s.normalize))
        .collect()
}

/// The shim's name from the first argument, which must be a string literal.
fn literal_name(value: Option<&ScalarValue>) -> Result<&str> {
    match value {
        Some(ScalarValue::Utf8(Some(s)))
        | Some(ScalarValue::LargeUtf8(Some(s)))
        | Some(ScalarValue::Utf8View(Some(s))) => Ok(s),
        _ => plan_err!(
            "{NAME}'s first argument is a shim's name as a string literal, as in {NAME}('bridge', embedding)"
        ),
    }
}

/// The width a vector type fixes, if any, after checking that it holds floats.
fn vector_width(dt: &DataType) -> Result<Option<usize>> {
    let (item, width) = match dt {
        DataType::FixedSizeList(f, n) => (f.data_type(), Some(*n as usize)),
        DataType::List(f) | DataType::LargeList(f) => (f.data_type(), None),
        other => {
            return plan_err!(
                "{NAME}'s second argument is a vector (a FixedSizeList, List or LargeList of float16, float32 or float64), not {other}"
            );
        }
    };
    match item {
        DataType::Float16 | DataType::Float32 | DataType::Float64 => Ok(width),
        other => plan_err!("{NAME}'s vectors hold floats, not {other}"),
    }
}

/// The type `project` writes: FixedSizeList of non-null float32 named `element`.
pub fn output_type(dim: usize) -> DataType {
    DataType::FixedSizeList(
        Arc::new(Field::new("element", DataType::Float32, false)),
        dim as i32,
    )
}

impl ScalarUDFImpl for ShimProject {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        internal_err!("{NAME}'s type comes from return_field_from_args")
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        let name = literal_name(args.scalar_arguments.first().copied().flatten())?;
        let named = self.shim_named(name)?;
        let Some(vectors) = args.arg_fields.get(1) else {
            return plan_err!("{NAME} takes a shim's name and a vector");
        };
        if let Some(width) = vector_width(vectors.data_type())?
            && width != named.shim.source_dim()
        {
            return plan_err!(
                "{NAME}: shim {name:?} maps {}-dimensional vectors; column {:?} has {width}",
                named.shim.source_dim(),
                vectors.name()
            );
        }
        Ok(Arc::new(Field::new(
            NAME,
            output_type(named.shim.target_dim()),
            vectors.is_nullable(),
        )))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let name = match &args.args[0] {
            ColumnarValue::Scalar(s) => literal_name(Some(s))?,
            ColumnarValue::Array(_) => {
                return exec_err!("{NAME}'s first argument is a string literal, not a column");
            }
        };
        let named = self.shim_named(name)?;
        let column = args
            .arg_fields
            .get(1)
            .map(|f| f.name().clone())
            .unwrap_or_default();
        let vectors = args.args[1].to_array(args.number_rows)?;
        let out = project_array(named, &vectors, &column)?;
        Ok(ColumnarValue::Array(out))
    }
}

/// Projects every non-null row of `vectors`; NULL rows stay NULL.
pub fn project_array(named: &NamedShim, vectors: &ArrayRef, column: &str) -> Result<ArrayRef> {
    let shim = &named.shim;
    let d_out = shim.target_dim();
    let rows = vectors.len();
    let nulls = vectors.logical_nulls();
    let valid = match &nulls {
        Some(n) if n.null_count() > 0 => Some(filter(vectors, &is_not_null(vectors)?)?),
        _ => None,
    };
    let input = valid.as_ref().unwrap_or(vectors);
    let source = format!("{NAME}('{}', {column})", named.name);
    let x = shimkit_data::vectors_from_arrow(
        input,
        Path::new(&source),
        column,
        0,
        &[],
        Some(shim.source_dim()),
    )
    .map_err(|e| crate::EngineError::from(e).into_datafusion())?;
    let y = shim
        .apply_owned(x, named.normalize)
        .map_err(|e| crate::EngineError::from(e).into_datafusion())?;
    let values: Vec<f32> = match (&nulls, y.is_standard_layout()) {
        (Some(n), _) if n.null_count() > 0 => {
            // Projected rows go back to their places; NULL rows hold zeros under the mask.
            let mut values = vec![0.0f32; rows * d_out];
            let mut projected = y.rows().into_iter();
            for i in 0..rows {
                if n.is_valid(i)
                    && let Some(row) = projected.next()
                {
                    values[i * d_out..(i + 1) * d_out]
                        .iter_mut()
                        .zip(row.iter())
                        .for_each(|(v, &p)| *v = p);
                }
            }
            values
        }
        (_, true) => y.into_raw_vec_and_offset().0,
        (_, false) => y.iter().copied().collect(),
    };
    let item = Arc::new(Field::new("element", DataType::Float32, false));
    let nulls: Option<NullBuffer> = nulls.filter(|n| n.null_count() > 0);
    let list = FixedSizeListArray::try_new(
        item,
        d_out as i32,
        Arc::new(Float32Array::from(values)),
        nulls,
    )?;
    Ok(Arc::new(list))
}
