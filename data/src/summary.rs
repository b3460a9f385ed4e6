//! What `shimkit inspect` reports about a table: footer facts, then one streamed pass that
//! validates every row and gathers norm statistics.

use std::path::PathBuf;

use arrow_schema::DataType;
use serde::Serialize;

use crate::error::Result;
use crate::reader::{BatchReader, ReadOptions};
use crate::source::TableSource;

/// Norm statistics over every row, accumulated in f64.
#[derive(Debug, Clone, Serialize, Default)]
pub struct NormStats {
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    pub std: f64,
    /// Rows whose norm is within 1e-3 of 1.
    pub unit_rows: u64,
}

/// One file's footer facts.
#[derive(Debug, Clone, Serialize)]
pub struct FileSummary {
    pub path: PathBuf,
    pub rows: u64,
    pub row_groups: usize,
    pub bytes: u64,
    pub compression: Vec<String>,
}

/// The whole report on one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableSummary {
    pub path: PathBuf,
    pub rows: u64,
    pub dim: Option<usize>,
    pub id_type: String,
    pub vector_type: String,
    pub element_type: String,
    pub files: Vec<FileSummary>,
    /// Rows read before a validation problem stopped the pass (all rows when none did).
    pub rows_checked: u64,
    pub norms: Option<NormStats>,
    /// The first validation problem, if any; the table is usable only when this is empty.
    pub problem: Option<String>,
}

/// Summarises a table. Errors that prevent reading the footers (missing file, not Parquet,
/// wrong column types) are returned as `Err`; a bad row is reported in `problem`.
pub fn summarize(
    source: &TableSource,
    options: ReadOptions,
    progress: &(dyn Fn(u64) + Sync),
) -> Result<TableSummary> {
    let reader = BatchReader::open(source, options)?;
    let layouts = reader.layouts().to_vec();
    let first = &layouts[0];
    let element_type = match &first.vector_type {
        DataType::FixedSizeList(f, _) | DataType::List(f) | DataType::LargeList(f) => {
            type_name(f.data_type())
        }
        other => type_name(other),
    };
    let mut summary = TableSummary {
        path: source.label().to_path_buf(),
        rows: reader.total_rows(),
        dim: reader.dim(),
        id_type: type_name(&first.id_type),
        vector_type: type_name(&first.vector_type),
        element_type,
        files: layouts
            .iter()
            .map(|l| FileSummary {
                path: l.path.clone(),
                rows: l.rows,
                row_groups: l.row_group_rows.len(),
                bytes: l.bytes,
                compression: l.compression.clone(),
            })
            .collect(),
        rows_checked: 0,
        norms: None,
        problem: None,
    };
    let mut acc = NormAccumulator::default();
    for batch in reader {
        match batch {
            Ok(batch) => {
                summary.dim = Some(batch.vectors.ncols());
                for row in batch.vectors.rows() {
                    acc.push(
                        row.iter()
                            .map(|&v| (v as f64) * (v as f64))
                            .sum::<f64>()
                            .sqrt(),
                    );
                }
                summary.rows_checked += batch.ids.len() as u64;
                progress(batch.ids.len() as u64);
            }
            Err(e) => {
                summary.problem = Some(e.to_string());
                break;
            }
        }
    }
    summary.norms = acc.finish();
    Ok(summary)
}

/// Welford's running mean and variance: stable over billions of rows.
#[derive(Default)]
struct NormAccumulator {
    n: u64,
    mean: f64,
    m2: f64,
    min: f64,
    max: f64,
    unit: u64,
}

impl NormAccumulator {
    fn push(&mut self, norm: f64) {
        if self.n == 0 {
            self.min = norm;
            self.max = norm;
        }
        self.n += 1;
        let delta = norm - self.mean;
        self.mean += delta / self.n as f64;
        self.m2 += delta * (norm - self.mean);
        self.min = self.min.min(norm);
        self.max = self.max.max(norm);
        if (norm - 1.0).abs() <= 1e-3 {
            self.unit += 1;
        }
    }

    fn finish(self) -> Option<NormStats> {
        (self.n > 0).then(|| NormStats {
            min: self.min,
            max: self.max,
            mean: self.mean,
            std: (self.m2 / self.n as f64).sqrt(),
            unit_rows: self.unit,
        })
    }
}

/// Arrow types the way pyarrow prints them, with explicit float widths:
/// `fixed_size_list<float32>[768]`, `large_utf8`.
pub fn type_name(dt: &DataType) -> String {
    match dt {
        DataType::Utf8 => "utf8".into(),
        DataType::LargeUtf8 => "large_utf8".into(),
        DataType::Utf8View => "utf8_view".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::Float16 => "float16".into(),
        DataType::Float32 => "float32".into(),
        DataType::Float64 => "float64".into(),
        DataType::FixedSizeList(f, n) => {
            format!("fixed_size_list<{}>[{n}]", type_name(f.data_type()))
        }
        DataType::List(f) => format!("list<{}>", type_name(f.data_type())),
        DataType::LargeList(f) => format!("large_list<{}>", type_name(f.data_type())),
        other => other.to_string().to_lowercase(),
    }
}
