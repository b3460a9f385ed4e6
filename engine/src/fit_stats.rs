//! `shim_fit_stats(id, old, new [, 'OPTIONS'])`: the sufficient statistics of the linear
//! fits, gathered by the engine and finished by the client.
//!
//! Its state is a [`PairAccumulator`] as bytes: per tuning fold and for the held-out split,
//! n, Σx, Σy, XᵀX, XᵀY and Σ‖y‖² in f64, and the held-out pairs of lowest id hash that the
//! candidates are scored on. Partitions merge by adding the statistics, so the result does
//! not depend on how the rows were spread. [`finish_fit`] then tunes λ and rank, scores,
//! chooses and refits exactly as `shimkit fit` does. The id is an argument because the
//! split is made by id hash: the same pairs are held out as in a local fit.
//!
//! OPTIONS (`seed=0,val_frac=0.2,folds=5,max_heldout=20000`, each optional) must be those
//! of the fit that finishes the statistics; [`options`] writes them from a [`FitConfig`].

use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDFImpl, Signature, TypeSignature, Volatility,
};
use datafusion::physical_expr::expressions::Literal;
use shimkit_trainer::{FitConfig, FitOutcome, Method, PairAccumulator};

use crate::error::EngineError;

pub const NAME: &str = "shim_fit_stats";

/// The aggregate function.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct ShimFitStats {
    signature: Signature,
}

impl Default for ShimFitStats {
    fn default() -> Self {
        ShimFitStats {
            signature: Signature::one_of(
                vec![TypeSignature::Any(3), TypeSignature::Any(4)],
                Volatility::Immutable,
            ),
        }
    }
}

/// The OPTIONS literal for `cfg`'s split.
pub fn options(cfg: &FitConfig) -> String {
    format!(
        "seed={},val_frac={},folds={},max_heldout={}",
        cfg.seed, cfg.val_frac, cfg.folds, cfg.max_heldout
    )
}

/// A linear fit's settings with the split of an OPTIONS literal.
fn parse_options(text: &str) -> Result<FitConfig> {
    let mut cfg = FitConfig {
        method: Method::Auto,
        linear_only: true,
        ..FitConfig::default()
    };
    for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let Some((key, value)) = item.split_once('=') else {
            return plan_err!("{NAME} options: {item:?} is not KEY=VALUE");
        };
        let bad = || format!("{NAME} options: {key}={value:?} is not a valid value");
        match key.trim() {
            "seed" => cfg.seed = value.trim().parse().map_err(|_| plan_error(bad()))?,
            "val_frac" => cfg.val_frac = value.trim().parse().map_err(|_| plan_error(bad()))?,
            "folds" => cfg.folds = value.trim().parse().map_err(|_| plan_error(bad()))?,
            "max_heldout" => {
                cfg.max_heldout = value.trim().parse().map_err(|_| plan_error(bad()))?
            }
            other => {
                return plan_err!(
                    "{NAME} options: unknown option {other:?} (seed, val_frac, folds, max_heldout)"
                );
            }
        }
    }
    cfg.validate()
        .map_err(|e| EngineError::from(e).into_datafusion())?;
    Ok(cfg)
}

fn plan_error(message: String) -> datafusion::error::DataFusionError {
    datafusion::error::DataFusionError::Plan(message)
}

/// The fit the statistics in `bytes` give under `cfg` (whose split must be theirs).
pub fn finish_fit(bytes: &[u8], cfg: FitConfig) -> crate::Result<FitOutcome> {
    Ok(PairAccumulator::from_bytes(bytes, cfg)?.finish()?)
}

impl AggregateUDFImpl for ShimFitStats {
    fn name(&self) -> &str {
        NAME
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::LargeBinary)
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let cfg = match args.exprs.get(3) {
            None => parse_options("")?,
            Some(expr) => match expr.downcast_ref::<Literal>().map(|l| l.value()) {
                Some(ScalarValue::Utf8(Some(s)))
                | Some(ScalarValue::LargeUtf8(Some(s)))
                | Some(ScalarValue::Utf8View(Some(s))) => parse_options(s.as_str())?,
                _ => return plan_err!("{NAME}'s fourth argument is a string literal of options"),
            },
        };
        let label = |i: usize| {
            args.expr_fields
                .get(i)
                .map(|f| f.name().clone())
                .unwrap_or_default()
        };
        Ok(Box::new(FitStatsAccumulator {
            cfg,
            acc: None,
            columns: [label(0), label(1), label(2)],
        }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![Arc::new(Field::new(
            format_state_name(args.name, "stats"),
            DataType::LargeBinary,
            true,
        ))])
    }
}

struct FitStatsAccumulator {
    cfg: FitConfig,
    acc: Option<PairAccumulator>,
    /// The argument columns' names, for messages.
    columns: [String; 3],
}

impl std::fmt::Debug for FitStatsAccumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FitStatsAccumulator")
            .field("pairs", &self.acc.as_ref().map_or(0, |a| a.pairs()))
            .finish()
    }
}

fn engine(e: impl Into<EngineError>) -> datafusion::error::DataFusionError {
    e.into().into_datafusion()
}

impl FitStatsAccumulator {
    fn bytes(&mut self) -> Result<ScalarValue> {
        match self.acc.as_mut() {
            None => Ok(ScalarValue::LargeBinary(None)),
            Some(acc) => Ok(ScalarValue::LargeBinary(Some(
                acc.to_bytes().map_err(engine)?,
            ))),
        }
    }

    fn absorb(&mut self, other: PairAccumulator) -> Result<()> {
        match self.acc.as_mut() {
            None => self.acc = Some(other),
            Some(acc) => acc.merge(other).map_err(engine)?,
        }
        Ok(())
    }
}

impl Accumulator for FitStatsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let [ids, old, new] = &values[..3] else {
            return exec_err!("{NAME} takes an id, an input vector and a target vector");
        };
        if ids.is_empty() {
            return Ok(());
        }
        let source = Path::new(NAME);
        let ids = shimkit_data::ids_from_arrow(ids, source, &self.columns[0], 0).map_err(engine)?;
        let x = shimkit_data::vectors_view_from_arrow(
            old,
            source,
            &self.columns[1],
            0,
            &ids,
            self.acc.as_ref().map(|a| a.d_in()),
        )
        .map_err(engine)?;
        let y = shimkit_data::vectors_view_from_arrow(
            new,
            source,
            &self.columns[2],
            0,
            &ids,
            self.acc.as_ref().map(|a| a.d_out()),
        )
        .map_err(engine)?;
        if self.acc.is_none() {
            self.acc =
                Some(PairAccumulator::new(x.ncols(), y.ncols(), self.cfg.clone()).map_err(engine)?);
        }
        if let Some(acc) = self.acc.as_mut() {
            acc.add(&ids, x.view(), y.view()).map_err(engine)?;
        }
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let Some(states) = states.first() else {
            return Ok(());
        };
        let states = states.as_binary::<i64>();
        for i in 0..states.len() {
            if states.is_valid(i) {
                let other = PairAccumulator::from_bytes(states.value(i), self.cfg.clone())
                    .map_err(engine)?;
                self.absorb(other)?;
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.bytes()?])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        self.bytes()
    }

    fn size(&self) -> usize {
        let stats = self.acc.as_ref().map_or(0, |a| {
            let (i, o) = (a.d_in(), a.d_out());
            8 * (self.cfg.folds.max(2) + 1) * (i * i + i * o) + 4 * self.cfg.max_heldout * (i + o)
        });
        std::mem::size_of::<Self>() + stats
    }
}
