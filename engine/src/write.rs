//! Writing a query's result as Parquet, one file per partition, by the task that computes
//! the partition.
//!
//! DataFusion's own sink wants its input in one partition, so on a cluster the whole
//! result would cross the network to one task and be written by it. [`WriteParts`] (a
//! logical node) and [`WritePartsExec`] (its plan) keep the query's partitioning instead:
//! every partition's task writes its own Parquet file into the directory it is given and
//! returns one row, the file's name and its row count. A file is written under a hidden
//! temporary name and renamed when complete, and its name is the task attempt's own (on a
//! cluster, Ballista's task identity; in one process, the partition), so two attempts at
//! one task never write into one file. Whoever planned the write ([`write_parts`]) keeps
//! the files of the attempts whose rows it received, removes any other (an attempt on an
//! executor that was lost), and checks the rest before publishing.
//!
//! The directory must be one every task can reach at the same path: on one machine any
//! directory, on a cluster a shared filesystem.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use datafusion::arrow::array::{Array, RecordBatch, StringArray, UInt64Array};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DFSchema, DFSchemaRef, Result, internal_err};
use datafusion::execution::context::{QueryPlanner, SessionState};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::{
    Expr, Extension, LogicalPlan, UserDefinedLogicalNode, UserDefinedLogicalNodeCore,
};
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties,
};
use datafusion::physical_planner::{DefaultPhysicalPlanner, ExtensionPlanner, PhysicalPlanner};
use datafusion::prelude::{DataFrame, SessionContext};
use futures::StreamExt;

use crate::error::EngineError;

/// The rows a write returns: one per partition.
pub fn parts_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        Arc::new(Schema::new(vec![
            Field::new("file", DataType::Utf8, true),
            Field::new("rows", DataType::UInt64, false),
        ]))
    });
    SCHEMA.clone()
}

/// The file of partition `partition` written by the task attempt `task` (a cluster's task
/// identity, such as `TID 7Kq2/1.0/3.1`; `None` in one process).
pub fn part_name(task: Option<&str>, partition: usize) -> String {
    match task {
        None => format!("part-{partition:05}.parquet"),
        Some(task) => {
            let task: String = task
                .trim_start_matches("TID ")
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '.' {
                        c
                    } else {
                        '-'
                    }
                })
                .collect();
            format!("part-{task}-{partition:05}.parquet")
        }
    }
}

/// The logical node: write `input` into `dir`, one file per partition.
#[derive(Debug, Clone)]
pub struct WriteParts {
    pub input: LogicalPlan,
    pub dir: PathBuf,
    schema: DFSchemaRef,
}

impl WriteParts {
    pub fn new(input: LogicalPlan, dir: PathBuf) -> Result<Self> {
        let schema = Arc::new(DFSchema::try_from(parts_schema().as_ref().clone())?);
        Ok(WriteParts { input, dir, schema })
    }
}

// Two writes are the same node when they write the same input to the same place.
impl PartialEq for WriteParts {
    fn eq(&self, other: &Self) -> bool {
        self.dir == other.dir && self.input == other.input
    }
}

impl Eq for WriteParts {}

impl Hash for WriteParts {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.dir.hash(state);
        self.input.hash(state);
    }
}

impl PartialOrd for WriteParts {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        match self.dir.cmp(&other.dir) {
            Ordering::Equal => (self == other).then_some(Ordering::Equal),
            o => Some(o),
        }
    }
}

impl UserDefinedLogicalNodeCore for WriteParts {
    fn name(&self) -> &str {
        "WriteParts"
    }

    fn inputs(&self) -> Vec<&LogicalPlan> {
        vec![&self.input]
    }

    fn schema(&self) -> &DFSchemaRef {
        &self.schema
    }

    fn expressions(&self) -> Vec<Expr> {
        vec![]
    }

    fn fmt_for_explain(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "WriteParts: dir={}", self.dir.display())
    }

    fn with_exprs_and_inputs(
        &self,
        _exprs: Vec<Expr>,
        mut inputs: Vec<LogicalPlan>,
    ) -> Result<Self> {
        if inputs.len() != 1 {
            return internal_err!("WriteParts has one input, not {}", inputs.len());
        }
        WriteParts::new(inputs.swap_remove(0), self.dir.clone())
    }
}

/// The plan: runs each partition of `input` into its own file.
#[derive(Debug)]
pub struct WritePartsExec {
    input: Arc<dyn ExecutionPlan>,
    dir: PathBuf,
    properties: Arc<PlanProperties>,
}

impl WritePartsExec {
    pub fn new(input: Arc<dyn ExecutionPlan>, dir: PathBuf) -> Self {
        let partitions = input.output_partitioning().partition_count();
        let properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new(parts_schema()),
            Partitioning::UnknownPartitioning(partitions),
            EmissionType::Final,
            Boundedness::Bounded,
        ));
        WritePartsExec {
            input,
            dir,
            properties,
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn input(&self) -> &Arc<dyn ExecutionPlan> {
        &self.input
    }
}

impl DisplayAs for WritePartsExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "WritePartsExec: dir={}", self.dir.display())
    }
}

impl ExecutionPlan for WritePartsExec {
    fn name(&self) -> &str {
        "WritePartsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    // Every partition already has a task of its own; more partitions would mean a shuffle
    // of the whole result, which is what this node is for avoiding.
    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
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
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.len() != 1 {
            return internal_err!("WritePartsExec has one child, not {}", children.len());
        }
        Ok(Arc::new(WritePartsExec::new(
            children.swap_remove(0),
            self.dir.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let name = part_name(context.task_id().as_deref(), partition);
        let input = self.input.execute(partition, context)?;
        let dir = self.dir.clone();
        let written = futures::stream::once(async move {
            let (file, rows) = write_part(input, &dir, name).await?;
            Ok(RecordBatch::try_new(
                parts_schema(),
                vec![
                    Arc::new(StringArray::from(vec![file])),
                    Arc::new(UInt64Array::from(vec![rows])),
                ],
            )?)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            parts_schema(),
            written,
        )))
    }
}

/// Streams one partition into `dir/name` (no file for no rows).
async fn write_part(
    mut input: SendableRecordBatchStream,
    dir: &Path,
    name: String,
) -> Result<(Option<String>, u64)> {
    let dest = dir.join(&name);
    let temp = dir.join(format!(
        ".{name}.{}-{:x}.tmp",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    ));
    let io =
        |e: std::io::Error, path: &Path| EngineError::Data(shimkit_data::DataError::io(path, e));
    let mut writer: Option<ArrowWriter<std::fs::File>> = None;
    let mut rows = 0u64;
    let result: Result<()> = async {
        while let Some(batch) = input.next().await {
            let batch = batch?;
            if batch.num_rows() == 0 {
                continue;
            }
            if writer.is_none() {
                let file =
                    std::fs::File::create(&temp).map_err(|e| io(e, &temp).into_datafusion())?;
                writer = Some(ArrowWriter::try_new(
                    file,
                    batch.schema(),
                    Some(properties(&batch.schema())),
                )?);
            }
            if let Some(w) = writer.as_mut() {
                w.write(&batch)?;
            }
            rows += batch.num_rows() as u64;
        }
        if let Some(w) = writer.take() {
            w.close()?;
            std::fs::rename(&temp, &dest).map_err(|e| io(e, &dest).into_datafusion())?;
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    result?;
    Ok(((rows > 0).then_some(name), rows))
}

/// As shimkit's own writer writes: zstd, no dictionary (ids are unique and vectors are
/// noise to one), row groups of about 64 MiB, and column-chunk statistics, whose NULL
/// counts let a job check its output without reading it back.
fn properties(schema: &Schema) -> WriterProperties {
    let row_bytes: usize = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::FixedSizeList(item, n) => {
                item.data_type().primitive_width().unwrap_or(8) * (*n).max(1) as usize
            }
            other => other.primitive_width().unwrap_or(16),
        })
        .sum();
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_dictionary_enabled(false)
        .set_statistics_enabled(EnabledStatistics::Chunk)
        .set_max_row_group_row_count(Some(
            ((64usize << 20) / row_bytes.max(1)).clamp(1024, 1 << 20),
        ))
        .set_created_by(format!("shimkit {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Plans [`WriteParts`] nodes.
#[derive(Debug, Default)]
pub struct WritePartsPlanner;

#[async_trait]
impl ExtensionPlanner for WritePartsPlanner {
    async fn plan_extension(
        &self,
        _planner: &dyn PhysicalPlanner,
        node: &dyn UserDefinedLogicalNode,
        _logical_inputs: &[&LogicalPlan],
        physical_inputs: &[Arc<dyn ExecutionPlan>],
        _session: &dyn datafusion::catalog::Session,
        _planning_ctx: &datafusion::logical_expr::physical_planning_context::PhysicalPlanningContext,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(node) = node.as_any().downcast_ref::<WriteParts>() else {
            return Ok(None);
        };
        let [input] = physical_inputs else {
            return internal_err!("WriteParts has one input");
        };
        Ok(Some(Arc::new(WritePartsExec::new(
            input.clone(),
            node.dir.clone(),
        ))))
    }
}

/// DataFusion's planner, knowing [`WriteParts`] and [`crate::AlignedPairs`]: the query planner of every session that
/// plans shimkit's jobs (a local session, a cluster's scheduler).
#[derive(Debug, Default)]
pub struct ShimQueryPlanner;

#[async_trait]
impl QueryPlanner for ShimQueryPlanner {
    async fn create_physical_plan(
        &self,
        logical_plan: &LogicalPlan,
        session: &dyn datafusion::catalog::Session,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        DefaultPhysicalPlanner::with_extension_planners(vec![
            Arc::new(WritePartsPlanner),
            Arc::new(crate::aligned::AlignedPairsPlanner),
        ])
        .create_physical_plan(logical_plan, session)
        .await
    }
}

/// `state` planning with [`ShimQueryPlanner`].
pub fn with_write_planner(state: SessionState) -> SessionState {
    datafusion::execution::SessionStateBuilder::new_from_existing(state)
        .with_query_planner(Arc::new(ShimQueryPlanner))
        .build()
}

/// A file a write reported, with its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenPart {
    pub file: String,
    pub rows: u64,
}

/// Runs `df` into `dir` (which must exist and be empty), one file per partition, and
/// checks what the tasks report against what the directory holds: every reported file is
/// there, no file is reported twice, and nothing else is left (a failed attempt's
/// temporary file is removed).
pub async fn write_parts(
    ctx: &SessionContext,
    df: DataFrame,
    dir: &Path,
) -> crate::Result<Vec<WrittenPart>> {
    let plan = LogicalPlan::Extension(Extension {
        node: Arc::new(WriteParts::new(
            df.into_unoptimized_plan(),
            dir.to_path_buf(),
        )?),
    });
    let batches = DataFrame::new(ctx.state(), plan).collect().await?;
    let mut parts = Vec::new();
    for batch in &batches {
        let (Some(files), Some(rows)) = (
            batch.column(0).as_any().downcast_ref::<StringArray>(),
            batch.column(1).as_any().downcast_ref::<UInt64Array>(),
        ) else {
            return Err(EngineError::Invalid {
                what: "write",
                message: format!("the write returned columns {:?}", batch.schema()),
            });
        };
        for i in 0..batch.num_rows() {
            if !files.is_null(i) {
                parts.push(WrittenPart {
                    file: files.value(i).to_owned(),
                    rows: rows.value(i),
                });
            }
        }
    }
    parts.sort_by(|a, b| a.file.cmp(&b.file));
    if let Some(w) = parts.windows(2).find(|w| w[0].file == w[1].file) {
        return Err(EngineError::Invalid {
            what: "write",
            message: format!("{} was reported twice: nothing was published", w[0].file),
        });
    }
    let entries = std::fs::read_dir(dir).map_err(|e| shimkit_data::DataError::io(dir, e))?;
    let mut found = std::collections::BTreeSet::new();
    for entry in entries {
        let entry = entry.map_err(|e| shimkit_data::DataError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if parts.iter().any(|p| p.file == name) {
            found.insert(name);
        } else {
            // An attempt that did not finish (a task whose executor was lost).
            let path = entry.path();
            std::fs::remove_file(&path).map_err(|e| shimkit_data::DataError::io(&path, e))?;
        }
    }
    if let Some(missing) = parts.iter().find(|p| !found.contains(&p.file)) {
        return Err(EngineError::Invalid {
            what: "write",
            message: format!(
                "a task wrote {} but it is not in {}: on a cluster the output directory must be on a filesystem every executor and this client share",
                missing.file,
                dir.display()
            ),
        });
    }
    Ok(parts)
}
