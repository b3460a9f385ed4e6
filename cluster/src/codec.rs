//! Ballista's codecs, taught shimkit's parts of a plan.
//!
//! A plan crosses the network twice: the client sends the logical plan to the scheduler,
//! and the scheduler sends each task's physical plan to an executor. DataFusion encodes
//! functions by name and asks the codec for anything else. These codecs wrap Ballista's
//! own (which know its shuffle nodes and file formats) and add:
//! - `shim_project` with its shims by content ([`crate::wire`]), so an executor needs no
//!   copy of the client's files and no registration of its own;
//! - `shim_fit_stats`, which holds nothing and is rebuilt by name;
//! - [`WriteParts`] and [`WritePartsExec`], the write of one file per task, by its
//!   directory;
//! - [`AlignedPairs`] and [`AlignedPairsExec`], two row-aligned tables read side by side,
//!   by their files and each task's rows.
//!
//! Both codecs must be installed on the client, the scheduler and every executor
//! ([`crate::client`], [`crate::scheduler`], [`crate::executor`] do so).

use std::path::PathBuf;
use std::sync::Arc;

use ballista_core::serde::{BallistaLogicalExtensionCodec, BallistaPhysicalExtensionCodec};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::TableProvider;
use datafusion::common::{Result, TableReference, internal_err};
use datafusion::datasource::file_format::FileFormatFactory;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{AggregateUDF, Extension, LogicalPlan, ScalarUDF};
use datafusion::physical_plan::ExecutionPlan;
use datafusion_proto::logical_plan::LogicalExtensionCodec;
use datafusion_proto::physical_plan::{PhysicalExtensionCodec, PhysicalProtoConverterExtension};
use shimkit_engine::{
    AlignedPairs, AlignedPairsExec, AlignedSpec, ShimFitStats, ShimProject, WriteParts,
    WritePartsExec,
};

use crate::wire::{SHIMS_MAGIC, decode_shims, encode_shims};

const WRITE_MAGIC: &[u8] = b"shimkit-write-parts/1\n";
const FIT_STATS_MAGIC: &[u8] = b"shimkit-fit-stats/1\n";

fn encode_dir(dir: &std::path::Path, buf: &mut Vec<u8>) -> Result<()> {
    let Some(text) = dir.to_str() else {
        return internal_err!("output directory {} is not UTF-8", dir.display());
    };
    buf.extend_from_slice(WRITE_MAGIC);
    buf.extend_from_slice(text.as_bytes());
    Ok(())
}

fn decode_dir(buf: &[u8]) -> Option<Result<PathBuf>> {
    let rest = buf.strip_prefix(WRITE_MAGIC)?;
    Some(match std::str::from_utf8(rest) {
        Ok(text) => Ok(PathBuf::from(text)),
        Err(_) => internal_err!("a WriteParts directory is not UTF-8"),
    })
}

fn encode_udf(node: &ScalarUDF, buf: &mut Vec<u8>) -> Option<()> {
    let project = node.inner().downcast_ref::<ShimProject>()?;
    encode_shims(project.shims(), buf);
    Some(())
}

fn decode_udf(buf: &[u8]) -> Option<Result<Arc<ScalarUDF>>> {
    if !buf.starts_with(SHIMS_MAGIC) {
        return None;
    }
    Some(
        decode_shims(buf)
            .map(|shims| Arc::new(ScalarUDF::new_from_impl(ShimProject::new(shims))))
            .map_err(|e| e.into_datafusion()),
    )
}

fn encode_udaf(node: &AggregateUDF, buf: &mut Vec<u8>) -> Option<()> {
    node.inner().downcast_ref::<ShimFitStats>()?;
    buf.extend_from_slice(FIT_STATS_MAGIC);
    Some(())
}

fn decode_udaf(name: &str, buf: &[u8]) -> Option<Arc<AggregateUDF>> {
    (buf == FIT_STATS_MAGIC || (buf.is_empty() && name == shimkit_engine::fit_stats::NAME))
        .then(|| Arc::new(AggregateUDF::new_from_impl(ShimFitStats::default())))
}

/// The codec between client and scheduler.
#[derive(Debug, Default)]
pub struct ShimLogicalCodec {
    inner: BallistaLogicalExtensionCodec,
}

impl LogicalExtensionCodec for ShimLogicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[LogicalPlan],
        ctx: &TaskContext,
    ) -> Result<Extension> {
        if let Some(spec) = AlignedSpec::decode(buf) {
            let pairs = AlignedPairs::new(spec?).map_err(|e| e.into_datafusion())?;
            return Ok(Extension {
                node: Arc::new(pairs),
            });
        }
        match decode_dir(buf) {
            Some(dir) => {
                let [input] = inputs else {
                    return internal_err!("WriteParts has one input, not {}", inputs.len());
                };
                Ok(Extension {
                    node: Arc::new(WriteParts::new(input.clone(), dir?)?),
                })
            }
            None => self.inner.try_decode(buf, inputs, ctx),
        }
    }

    fn try_encode(&self, node: &Extension, buf: &mut Vec<u8>) -> Result<()> {
        if let Some(pairs) = node.node.as_any().downcast_ref::<AlignedPairs>() {
            return pairs.spec.encode(buf);
        }
        match node.node.as_any().downcast_ref::<WriteParts>() {
            Some(write) => encode_dir(&write.dir, buf),
            None => self.inner.try_encode(node, buf),
        }
    }

    fn try_decode_table_provider(
        &self,
        buf: &[u8],
        table_ref: &TableReference,
        schema: SchemaRef,
        ctx: &TaskContext,
    ) -> Result<Arc<dyn TableProvider>> {
        self.inner
            .try_decode_table_provider(buf, table_ref, schema, ctx)
    }

    fn try_encode_table_provider(
        &self,
        table_ref: &TableReference,
        node: Arc<dyn TableProvider>,
        buf: &mut Vec<u8>,
    ) -> Result<()> {
        self.inner.try_encode_table_provider(table_ref, node, buf)
    }

    fn try_decode_file_format(
        &self,
        buf: &[u8],
        ctx: &TaskContext,
    ) -> Result<Arc<dyn FileFormatFactory>> {
        self.inner.try_decode_file_format(buf, ctx)
    }

    fn try_encode_file_format(
        &self,
        buf: &mut Vec<u8>,
        node: Arc<dyn FileFormatFactory>,
    ) -> Result<()> {
        self.inner.try_encode_file_format(buf, node)
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_udf(buf).unwrap_or_else(|| self.inner.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udf(node, buf).map_or_else(|| self.inner.try_encode_udf(node, buf), Ok)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        decode_udaf(name, buf).map_or_else(|| self.inner.try_decode_udaf(name, buf), Ok)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udaf(node, buf).map_or_else(|| self.inner.try_encode_udaf(node, buf), Ok)
    }
}

/// The codec between scheduler and executors.
#[derive(Debug, Default)]
pub struct ShimPhysicalCodec {
    inner: BallistaPhysicalExtensionCodec,
}

impl PhysicalExtensionCodec for ShimPhysicalCodec {
    fn try_decode(
        &self,
        buf: &[u8],
        inputs: &[Arc<dyn ExecutionPlan>],
        ctx: &TaskContext,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if let Some(spec) = AlignedSpec::decode(buf) {
            let exec = AlignedPairsExec::new(spec?).map_err(|e| e.into_datafusion())?;
            return Ok(Arc::new(exec));
        }
        match decode_dir(buf) {
            Some(dir) => {
                let [input] = inputs else {
                    return internal_err!("WritePartsExec has one input, not {}", inputs.len());
                };
                Ok(Arc::new(WritePartsExec::new(input.clone(), dir?)))
            }
            None => self.inner.try_decode(buf, inputs, ctx, converter),
        }
    }

    fn try_encode(
        &self,
        node: Arc<dyn ExecutionPlan>,
        buf: &mut Vec<u8>,
        converter: &dyn PhysicalProtoConverterExtension,
    ) -> Result<()> {
        if let Some(pairs) = node.downcast_ref::<AlignedPairsExec>() {
            return pairs.spec().encode(buf);
        }
        match node.downcast_ref::<WritePartsExec>() {
            Some(write) => encode_dir(write.dir(), buf),
            None => self.inner.try_encode(node, buf, converter),
        }
    }

    fn try_decode_udf(&self, name: &str, buf: &[u8]) -> Result<Arc<ScalarUDF>> {
        decode_udf(buf).unwrap_or_else(|| self.inner.try_decode_udf(name, buf))
    }

    fn try_encode_udf(&self, node: &ScalarUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udf(node, buf).map_or_else(|| self.inner.try_encode_udf(node, buf), Ok)
    }

    fn try_decode_udaf(&self, name: &str, buf: &[u8]) -> Result<Arc<AggregateUDF>> {
        decode_udaf(name, buf).map_or_else(|| self.inner.try_decode_udaf(name, buf), Ok)
    }

    fn try_encode_udaf(&self, node: &AggregateUDF, buf: &mut Vec<u8>) -> Result<()> {
        encode_udaf(node, buf).map_or_else(|| self.inner.try_encode_udaf(node, buf), Ok)
    }
}
