//! Two tables that list the same ids in the same order, read side by side as pairs.
//!
//! Embedding jobs usually write the new model's vectors in the order of the old ones, and
//! then pairing them by id needs no join: row i of one table is row i of the other. A hash
//! join would hold one table in memory and copy every vector twice more; reading both
//! tables' rows `lo..hi` together costs what reading them costs. [`AlignedPairs`] (a
//! logical leaf) and [`AlignedPairsExec`] (its plan) do that, each partition a range of
//! rows, and yield `(id, old, new)`. Every row's two ids are compared as they are read: a
//! table that is not aligned, or that changed since the job was planned, fails the
//! partition with [`NOT_ALIGNED`] in its message, and the caller joins instead.

use std::cmp::Ordering;
use std::fmt;
use std::fs::File;
use std::hash::{Hash, Hasher};
use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{Field, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchema, DFSchemaRef, Result, exec_err, internal_err};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{
    Expr, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::{
    ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder, RowSelection, RowSelector,
};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchReceiverStreamBuilder;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties,
};
use datafusion::physical_planner::{ExtensionPlanner, PhysicalPlanner};

use crate::error::{EngineError, Result as EngineResult};
use crate::tables::parquet_files;

/// In the message of a partition that found two different ids in one row.
pub const NOT_ALIGNED: &str = "the tables are not row-aligned";

/// What to read: the files of each table (in order), the columns, and each partition's
/// rows. Carried whole by the cluster's codecs ([`AlignedSpec::encode`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd)]
pub struct AlignedSpec {
    pub old: Vec<PathBuf>,
    pub new: Vec<PathBuf>,
    pub id: String,
    pub vector: String,
    /// Half-open row ranges of the tables, one a partition.
    pub ranges: Vec<(u64, u64)>,
}

const SPEC_MAGIC: &[u8] = b"shimkit-aligned-pairs/1\n";

impl AlignedSpec {
    /// The spec for `partitions` ranges (as equal as whole grid chunks allow) of two tables
    /// (files or directories) whose footers count the same rows; `None` when the counts differ (they cannot be aligned).
    pub fn plan(
        old: &[PathBuf],
        new: &[PathBuf],
        id: &str,
        vector: &str,
        partitions: usize,
    ) -> EngineResult<Option<Self>> {
        let (old, new) = (parquet_files(old)?, parquet_files(new)?);
        let rows = |files: &[PathBuf]| -> EngineResult<u64> {
            files
                .iter()
                .map(|f| Ok(file_row_groups(f)?.iter().sum::<u64>()))
                .sum()
        };
        let total = rows(&old)?;
        if total == 0 || total != rows(&new)? {
            return Ok(None);
        }
        // Each range starts on the accumulator's grid, so that the partitions' statistics
        // are those of one streamed pass (see `shimkit_trainer::GRID_ROWS`).
        let grid = shimkit_trainer::GRID_ROWS as u64;
        let chunks = total.div_ceil(grid);
        let parts = (partitions.max(1) as u64).min(chunks);
        let ranges = (0..parts)
            .map(|p| {
                let edge = |q: u64| (chunks * q / parts * grid).min(total);
                (edge(p), edge(p + 1))
            })
            .collect();
        Ok(Some(AlignedSpec {
            old,
            new,
            id: id.to_owned(),
            vector: vector.to_owned(),
            ranges,
        }))
    }

    /// `(id, old, new)`: the id as the old table has it, each table's vector column.
    pub fn schema(&self) -> EngineResult<SchemaRef> {
        let field = |files: &[PathBuf], name: &str, label: &str| -> EngineResult<Field> {
            let Some(first) = files.first() else {
                return Err(EngineError::Invalid {
                    what: "pairs",
                    message: "a table has no Parquet file".into(),
                });
            };
            let builder = open(first)?;
            let field =
                builder
                    .schema()
                    .field_with_name(name)
                    .map_err(|_| EngineError::Invalid {
                        what: "column",
                        message: format!("{} has no column {name:?}", first.display()),
                    })?;
            Ok(Field::new(label, field.data_type().clone(), true))
        };
        Ok(Arc::new(Schema::new(vec![
            field(&self.old, &self.id, "id")?,
            field(&self.old, &self.vector, "old")?,
            field(&self.new, &self.vector, "new")?,
        ])))
    }

    pub fn encode(&self, buf: &mut Vec<u8>) -> Result<()> {
        buf.extend_from_slice(SPEC_MAGIC);
        let mut text = |s: &str| {
            buf.extend_from_slice(&(s.len() as u64).to_le_bytes());
            buf.extend_from_slice(s.as_bytes());
        };
        let path_text = |p: &PathBuf| -> Result<String> {
            match p.to_str() {
                Some(s) => Ok(s.to_owned()),
                None => internal_err!("{} is not UTF-8", p.display()),
            }
        };
        let (old, new) = (
            self.old.iter().map(path_text).collect::<Result<Vec<_>>>()?,
            self.new.iter().map(path_text).collect::<Result<Vec<_>>>()?,
        );
        text(&old.len().to_string());
        old.iter().for_each(|p| text(p));
        text(&new.len().to_string());
        new.iter().for_each(|p| text(p));
        text(&self.id);
        text(&self.vector);
        text(&self.ranges.len().to_string());
        for (lo, hi) in &self.ranges {
            text(&format!("{lo}-{hi}"));
        }
        Ok(())
    }

    /// `None` when `buf` is not a spec.
    pub fn decode(buf: &[u8]) -> Option<Result<Self>> {
        let mut rest = buf.strip_prefix(SPEC_MAGIC)?;
        let mut text = || -> Option<String> {
            let len = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?) as usize;
            let s = std::str::from_utf8(rest.get(8..8usize.checked_add(len)?)?).ok()?;
            rest = &rest[8 + len..];
            Some(s.to_owned())
        };
        let mut decode = || -> Option<AlignedSpec> {
            let paths = |text: &mut dyn FnMut() -> Option<String>| -> Option<Vec<PathBuf>> {
                let n: usize = text()?.parse().ok()?;
                (0..n).map(|_| text().map(PathBuf::from)).collect()
            };
            let old = paths(&mut text)?;
            let new = paths(&mut text)?;
            let id = text()?;
            let vector = text()?;
            let n: usize = text()?.parse().ok()?;
            let ranges = (0..n)
                .map(|_| {
                    let t = text()?;
                    let (lo, hi) = t.split_once('-')?;
                    Some((lo.parse().ok()?, hi.parse().ok()?))
                })
                .collect::<Option<Vec<_>>>()?;
            Some(AlignedSpec {
                old,
                new,
                id,
                vector,
                ranges,
            })
        };
        Some(match decode() {
            Some(spec) => Ok(spec),
            None => internal_err!("a malformed AlignedPairs spec"),
        })
    }
}

fn open(path: &PathBuf) -> EngineResult<ParquetRecordBatchReaderBuilder<File>> {
    let file = File::open(path).map_err(|e| shimkit_data::DataError::io(path, e))?;
    ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| {
        EngineError::Data(shimkit_data::DataError::Parquet {
            path: path.clone(),
            source: e,
        })
    })
}

fn file_row_groups(path: &PathBuf) -> EngineResult<Vec<u64>> {
    Ok(open(path)?
        .metadata()
        .row_groups()
        .iter()
        .map(|rg| rg.num_rows().max(0) as u64)
        .collect())
}

/// The logical leaf: the pairs of a spec.
#[derive(Debug, Clone)]
pub struct AlignedPairs {
    pub spec: AlignedSpec,
    schema: DFSchemaRef,
}

impl AlignedPairs {
    pub fn new(spec: AlignedSpec) -> EngineResult<Self> {
        let schema = Arc::new(DFSchema::try_from(spec.schema()?.as_ref().clone())?);
        Ok(AlignedPairs { spec, schema })
    }
}

impl PartialEq for AlignedPairs {
    fn eq(&self, other: &Self) -> bool {
        self.spec == other.spec
    }
}

impl Eq for AlignedPairs {}

impl Hash for AlignedPairs {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.spec.hash(state);
    }
}

impl PartialOrd for AlignedPairs {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        self.spec.partial_cmp(&other.spec)
    }
}

impl UserDefinedLogicalNodeCore for AlignedPairs {
    fn name(&self) -> &str {
        "AlignedPairs"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "AlignedPairs: {} + {} files, {} partitions",
            self.spec.old.len(),
            self.spec.new.len(),
            self.spec.ranges.len()
        )
    }

    fn with_exprs_and_inputs(&self, _exprs: Vec<Expr>, inputs: Vec<LogicalPlan>) -> Result<Self> {
        if !inputs.is_empty() {
            return internal_err!("AlignedPairs has no input");
        }
        Ok(self.clone())
    }
}

/// The plan: partition p reads rows `spec.ranges[p]` of both tables.
#[derive(Debug)]
pub struct AlignedPairsExec {
    spec: AlignedSpec,
    schema: SchemaRef,
    properties: Arc<PlanProperties>,
}

impl AlignedPairsExec {
    pub fn new(spec: AlignedSpec) -> EngineResult<Self> {
        let schema = spec.schema()?;
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(schema.clone()),
            Partitioning::UnknownPartitioning(spec.ranges.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Ok(AlignedPairsExec {
            spec,
            schema,
            properties,
        })
    }

    pub fn spec(&self) -> &AlignedSpec {
        &self.spec
    }
}

impl DisplayAs for AlignedPairsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "AlignedPairsExec: ranges={:?}", self.spec.ranges)
    }
}

impl ExecutionPlan for AlignedPairsExec {
    fn name(&self) -> &str {
        "AlignedPairsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    #[allow(deprecated)]
    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !children.is_empty() {
            return internal_err!("AlignedPairsExec has no children");
        }
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let Some(&(lo, hi)) = self.spec.ranges.get(partition) else {
            return internal_err!("AlignedPairsExec has no partition {partition}");
        };
        let batch_rows = context.session_config().batch_size().max(1);
        let (spec, schema) = (self.spec.clone(), self.schema.clone());
        let mut builder = RecordBatchReceiverStreamBuilder::new(schema.clone(), 2);
        let tx = builder.tx();
        builder.spawn_blocking(move || {
            let pairs = read_pairs(&spec, schema, lo, hi, batch_rows)
                .map_err(EngineError::into_datafusion)?;
            for batch in pairs {
                if tx.blocking_send(batch).is_err() {
                    break; // the consumer is gone
                }
            }
            Ok(())
        });
        Ok(builder.build())
    }
}

/// One table's rows `lo..hi`, as batches of its id and vector columns.
struct RangeReader {
    files: Vec<PathBuf>,
    columns: [String; 2],
    /// The rows still to read, counted from the table's first row.
    lo: u64,
    hi: u64,
    /// The table's row at which `files[next]` starts.
    file_start: u64,
    next: usize,
    current: Option<(PathBuf, ParquetRecordBatchReader)>,
    batch_rows: usize,
}

impl RangeReader {
    fn new(files: &[PathBuf], columns: [&str; 2], lo: u64, hi: u64, batch_rows: usize) -> Self {
        RangeReader {
            files: files.to_vec(),
            columns: columns.map(str::to_owned),
            lo,
            hi,
            file_start: 0,
            next: 0,
            current: None,
            batch_rows,
        }
    }

    /// Opens the next file holding rows of the range, reading only those rows.
    fn open_next(&mut self) -> EngineResult<bool> {
        while self.lo < self.hi && self.next < self.files.len() {
            let path = self.files[self.next].clone();
            self.next += 1;
            let builder = open(&path)?;
            let groups: Vec<u64> = builder
                .metadata()
                .row_groups()
                .iter()
                .map(|rg| rg.num_rows().max(0) as u64)
                .collect();
            let start = self.file_start;
            self.file_start += groups.iter().sum::<u64>();
            if self.file_start <= self.lo {
                continue;
            }
            // The row groups overlapping [lo, hi), and the rows of them to skip and keep.
            let (mut chosen, mut at, mut first) = (Vec::new(), start, None);
            for (g, n) in groups.iter().enumerate() {
                if at + n > self.lo && at < self.hi {
                    chosen.push(g);
                    first.get_or_insert(at);
                }
                at += n;
            }
            let first = first.unwrap_or(start);
            let keep = self.hi.min(self.file_start) - self.lo;
            let selection = RowSelection::from(vec![
                RowSelector::skip((self.lo - first) as usize),
                RowSelector::select(keep as usize),
            ]);
            let arrow = builder.schema().clone();
            let mut roots = Vec::with_capacity(2);
            for name in &self.columns {
                match arrow.index_of(name) {
                    Ok(i) => roots.push(i),
                    Err(_) => {
                        return Err(EngineError::Invalid {
                            what: "column",
                            message: format!("{} has no column {name:?}", path.display()),
                        });
                    }
                }
            }
            let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
            let reader = builder
                .with_projection(mask)
                .with_row_groups(chosen)
                .with_row_selection(selection)
                .with_batch_size(self.batch_rows)
                .build()
                .map_err(|e| {
                    EngineError::Data(shimkit_data::DataError::Parquet {
                        path: path.clone(),
                        source: e,
                    })
                })?;
            self.lo += keep;
            self.current = Some((path, reader));
            return Ok(true);
        }
        Ok(false)
    }

    /// The next batch's `[id, vector]` columns, and its file.
    fn next_batch(&mut self) -> EngineResult<Option<(PathBuf, [ArrayRef; 2])>> {
        loop {
            if let Some((path, reader)) = self.current.as_mut() {
                match reader.next() {
                    Some(Ok(batch)) => {
                        // The projection keeps the file's column order.
                        let index = |name: &str| batch.schema().index_of(name).ok();
                        let (Some(i), Some(v)) = (index(&self.columns[0]), index(&self.columns[1]))
                        else {
                            return Err(EngineError::Invalid {
                                what: "column",
                                message: format!("{} lost a column", path.display()),
                            });
                        };
                        let columns = [batch.column(i).clone(), batch.column(v).clone()];
                        return Ok(Some((path.clone(), columns)));
                    }
                    Some(Err(e)) => {
                        return Err(EngineError::Invalid {
                            what: "read",
                            message: format!("{}: {e}", path.display()),
                        });
                    }
                    None => self.current = None,
                }
            }
            if !self.open_next()? {
                return Ok(None);
            }
        }
    }
}

/// Rows `lo..hi` of both tables as `(id, old, new)` batches, checking every row's ids.
fn read_pairs(
    spec: &AlignedSpec,
    schema: SchemaRef,
    lo: u64,
    hi: u64,
    batch_rows: usize,
) -> EngineResult<impl Iterator<Item = Result<RecordBatch>>> {
    let cols = [spec.id.as_str(), spec.vector.as_str()];
    let mut old = RangeReader::new(&spec.old, cols, lo, hi, batch_rows);
    let mut new = RangeReader::new(&spec.new, cols, lo, hi, batch_rows);
    // The unconsumed rest of each side's current batch: their boundaries differ when the
    // files' row groups do, so a pair batch is as long as the shorter rest.
    let mut old_rest: Option<(PathBuf, [ArrayRef; 2])> = None;
    let mut new_rest: Option<(PathBuf, [ArrayRef; 2])> = None;
    let mut row = lo;
    let mut done = false;
    Ok(std::iter::from_fn(move || {
        if done {
            return None;
        }
        let mut step = || -> EngineResult<Option<RecordBatch>> {
            for (rest, reader) in [(&mut old_rest, &mut old), (&mut new_rest, &mut new)] {
                if rest.as_ref().is_none_or(|(_, c)| c[0].is_empty()) {
                    *rest = reader.next_batch()?;
                }
            }
            let (Some((old_file, o)), Some((new_file, n))) = (&old_rest, &new_rest) else {
                if old_rest.is_some() || new_rest.is_some() || row < hi {
                    return Err(EngineError::Invalid {
                        what: "pairs",
                        message: format!(
                            "{NOT_ALIGNED}: a table ended at row {row} of {hi}; did it change during the job?"
                        ),
                    });
                }
                return Ok(None);
            };
            let len = o[0].len().min(n[0].len());
            let (old_ids, new_ids) = (o[0].slice(0, len), n[0].slice(0, len));
            if let Some(i) = first_difference(&old_ids, &new_ids)? {
                return Err(EngineError::Invalid {
                    what: "pairs",
                    message: format!(
                        "{NOT_ALIGNED}: row {} is id {} in {} and id {} in {}",
                        row + i as u64,
                        display(&old_ids, i),
                        old_file.display(),
                        display(&new_ids, i),
                        new_file.display()
                    ),
                });
            }
            let batch = RecordBatch::try_new(
                schema.clone(),
                vec![old_ids, o[1].slice(0, len), n[1].slice(0, len)],
            )
            .map_err(|e| EngineError::Invalid {
                what: "pairs",
                message: format!(
                    "{} and {}: {e} (every file of a table has the same column types)",
                    old_file.display(),
                    new_file.display()
                ),
            })?;
            for rest in [&mut old_rest, &mut new_rest] {
                if let Some((_, c)) = rest.as_mut() {
                    let left = c[0].len() - len;
                    *c = [c[0].slice(len, left), c[1].slice(len, left)];
                }
            }
            row += len as u64;
            Ok(Some(batch))
        };
        match step() {
            Ok(Some(batch)) => Some(Ok(batch)),
            Ok(None) => {
                done = true;
                None
            }
            Err(e) => {
                done = true;
                Some(Err(e.into_datafusion()))
            }
        }
    }))
}

/// The first row whose ids differ, comparing as the readers do (integers in decimal).
fn first_difference(old: &ArrayRef, new: &ArrayRef) -> EngineResult<Option<usize>> {
    if old.data_type() == new.data_type() && old.null_count() == 0 && old == new {
        return Ok(None);
    }
    let source = std::path::Path::new("pairs");
    let a = shimkit_data::ids_from_arrow(old, source, "id", 0)?;
    let b = shimkit_data::ids_from_arrow(new, source, "id", 0)?;
    Ok(a.iter().zip(&b).position(|(x, y)| x != y))
}

fn display(ids: &ArrayRef, i: usize) -> String {
    datafusion::arrow::util::display::array_value_to_string(ids, i)
        .map(|s| format!("{s:?}"))
        .unwrap_or_default()
}

/// Plans [`AlignedPairs`] nodes.
#[derive(Debug, Default)]
pub struct AlignedPairsPlanner;

#[async_trait]
impl ExtensionPlanner for AlignedPairsPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        _physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn datafusion::catalog::Session,
        _planning_ctx: &datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(node) = node.as_any().downcast_ref::<AlignedPairs>() else {
            return Ok(None);
        };
        match AlignedPairsExec::new(node.spec.clone()) {
            Ok(exec) => Ok(Some(Arc::new(exec))),
            Err(e) => exec_err!("{e}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;
    use shimkit_data::EmbeddingWriter;

    fn table(path: &std::path::Path, rows: usize) {
        let ids: Vec<String> = (0..rows).map(|i| format!("d{i}")).collect();
        let vectors = Array2::from_shape_fn((rows, 4), |(i, j)| (i + j + 1) as f32);
        let mut w = EmbeddingWriter::create(path, 4).unwrap();
        w.write(&ids, vectors.view()).unwrap();
        w.finish().unwrap();
    }

    #[test]
    fn ranges_start_on_the_grid_and_cover_the_table() {
        let d = tempfile::tempdir().unwrap();
        let grid = shimkit_trainer::GRID_ROWS as u64;
        let rows = 3 * grid as usize + 17;
        let (old, new) = (d.path().join("old.parquet"), d.path().join("new.parquet"));
        table(&old, rows);
        table(&new, rows);
        for partitions in [1, 2, 3, 4, 9] {
            let spec = AlignedSpec::plan(
                std::slice::from_ref(&old),
                std::slice::from_ref(&new),
                "id",
                "embedding",
                partitions,
            )
            .unwrap()
            .unwrap();
            assert_eq!(spec.ranges.len(), partitions.min(4));
            assert_eq!(spec.ranges[0].0, 0);
            assert_eq!(spec.ranges.last().unwrap().1, rows as u64);
            for w in spec.ranges.windows(2) {
                assert_eq!(w[0].1, w[1].0);
                assert_eq!(w[1].0 % grid, 0, "{:?}", spec.ranges);
                assert!(w[0].0 < w[0].1);
            }
            let mut buf = Vec::new();
            spec.encode(&mut buf).unwrap();
            assert_eq!(AlignedSpec::decode(&buf).unwrap().unwrap(), spec);
            assert!(AlignedSpec::decode(&buf[..buf.len() - 3]).unwrap().is_err());
        }
        assert!(AlignedSpec::decode(b"shimkit-write-parts/1\n/tmp").is_none());
        table(&new, rows - 1);
        let spec = AlignedSpec::plan(&[old], &[new], "id", "embedding", 2).unwrap();
        assert!(spec.is_none(), "different row counts cannot be aligned");
    }

    #[test]
    fn a_range_reads_its_rows_across_files_and_names_a_differing_row() {
        let d = tempfile::tempdir().unwrap();
        let (old, new) = (d.path().join("old"), d.path().join("new"));
        std::fs::create_dir_all(&old).unwrap();
        std::fs::create_dir_all(&new).unwrap();
        table(&old.join("a.parquet"), 30);
        table(&new.join("a.parquet"), 30);
        let spec = AlignedSpec::plan(
            std::slice::from_ref(&old),
            std::slice::from_ref(&new),
            "id",
            "embedding",
            1,
        )
        .unwrap()
        .unwrap();
        let schema = spec.schema().unwrap();
        let batches: Vec<RecordBatch> = read_pairs(&spec, schema.clone(), 7, 23, 4)
            .unwrap()
            .collect::<Result<_>>()
            .unwrap();
        let ids: Vec<String> = batches
            .iter()
            .flat_map(|b| shimkit_data::ids_from_arrow(b.column(0), "t".as_ref(), "id", 0).unwrap())
            .collect();
        assert_eq!(ids, (7..23).map(|i| format!("d{i}")).collect::<Vec<_>>());
        assert!(batches.iter().all(|b| b.num_rows() <= 4));

        // The new table's rows 20.. in another file, and row 25 different.
        let ids: Vec<String> = (0..20).map(|i| format!("d{i}")).collect();
        let v = Array2::from_shape_fn((20, 4), |(i, j)| (i + j + 1) as f32);
        let mut w = EmbeddingWriter::create(new.join("a.parquet"), 4).unwrap();
        w.write(&ids, v.view()).unwrap();
        w.finish().unwrap();
        let ids: Vec<String> = (20..30)
            .map(|i| if i == 25 { "x".into() } else { format!("d{i}") })
            .collect();
        let v = Array2::from_shape_fn((10, 4), |(i, j)| (i + j + 21) as f32);
        let mut w = EmbeddingWriter::create(new.join("b.parquet"), 4).unwrap();
        w.write(&ids, v.view()).unwrap();
        w.finish().unwrap();
        let spec = AlignedSpec::plan(&[old], &[new], "id", "embedding", 1)
            .unwrap()
            .unwrap();
        let read: Vec<Result<RecordBatch>> = read_pairs(&spec, schema, 0, 30, 8).unwrap().collect();
        let e = read.last().unwrap().as_ref().unwrap_err().to_string();
        assert!(
            e.contains(NOT_ALIGNED) && e.contains("row 25") && e.contains("b.parquet"),
            "{e}"
        );
        let good: usize = read
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .map(|b| b.num_rows())
            .sum();
        assert_eq!(good, 24, "the rows before the difference come through");
    }
}
