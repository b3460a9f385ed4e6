//! The functions inside DataFusion against shimkit's own code on the same rows: every
//! vector encoding, NULLs, partitions, and the errors a query can run into.

use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, FixedSizeListArray, Float16Array, Float32Array, Float64Array,
    Int64Array, LargeListArray, ListArray, RecordBatch, StringArray,
};
use datafusion::arrow::buffer::{NullBuffer, OffsetBuffer};
use datafusion::arrow::datatypes::{DataType, Field, Float32Type, Schema};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use ndarray::Array2;
use shimkit_engine::{ShimSet, finish_fit, local_context};
use shimkit_trainer::{Direction, FitConfig, Method, PairAccumulator, Shim, ShimMeta, artifact};

const N: usize = 257;
const D_IN: usize = 12;
const D_OUT: usize = 7;

/// A well-spread value in [-2, 2) from a hash of its place.
fn value(i: usize, j: usize, salt: usize) -> f32 {
    let mut h = (i as u64) << 40 ^ (j as u64) << 20 ^ salt as u64;
    h = (h ^ (h >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    h ^= h >> 31;
    (h >> 40) as f32 / (1u64 << 22) as f32 - 2.0
}

fn matrix(n: usize, d: usize, salt: usize) -> Array2<f32> {
    Array2::from_shape_fn((n, d), |(i, j)| value(i, j, salt))
}

fn shim() -> (Shim, Vec<u8>) {
    let weight = matrix(D_IN, D_OUT, 3);
    let bias = ndarray::Array1::from_shape_fn(D_OUT, |j| j as f32 * 0.01);
    let shim = Shim::new(
        weight,
        bias,
        ShimMeta::new("ridge", Direction::OldToNew, D_IN, D_OUT),
    );
    let bytes = artifact::to_bytes(&shim).unwrap();
    (artifact::from_bytes(&bytes).unwrap(), bytes)
}

fn item(dt: DataType) -> Arc<Field> {
    Arc::new(Field::new("item", dt, false))
}

/// The rows of `x` in one of the encodings shimkit reads.
fn encode(x: &Array2<f32>, encoding: &str, nulls: Option<NullBuffer>) -> ArrayRef {
    let flat: Vec<f32> = x.iter().copied().collect();
    let (n, d) = x.dim();
    let offsets = || OffsetBuffer::from_lengths(std::iter::repeat_n(d, n));
    match encoding {
        "fixed_f32" => Arc::new(
            FixedSizeListArray::try_new(
                item(DataType::Float32),
                d as i32,
                Arc::new(Float32Array::from(flat)),
                nulls,
            )
            .unwrap(),
        ),
        "list_f64" => Arc::new(
            ListArray::try_new(
                item(DataType::Float64),
                offsets(),
                Arc::new(Float64Array::from(
                    flat.iter().map(|&v| v as f64).collect::<Vec<_>>(),
                )),
                nulls,
            )
            .unwrap(),
        ),
        "large_list_f16" => {
            let o: Vec<i64> = (0..=n).map(|i| (i * d) as i64).collect();
            Arc::new(
                LargeListArray::try_new(
                    item(DataType::Float16),
                    OffsetBuffer::new(o.into()),
                    Arc::new(Float16Array::from(
                        flat.iter()
                            .map(|&v| half::f16::from_f32(v))
                            .collect::<Vec<_>>(),
                    )),
                    nulls,
                )
                .unwrap(),
            )
        }
        other => panic!("{other}"),
    }
}

/// A table of `parts` partitions with columns i (int64) and v.
fn table(ctx: &SessionContext, name: &str, v: ArrayRef, parts: usize) {
    let n = v.len();
    let schema = Arc::new(Schema::new(vec![
        Field::new("i", DataType::Int64, false),
        Field::new("v", v.data_type().clone(), true),
    ]));
    let i: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n as i64));
    let batch = RecordBatch::try_new(schema.clone(), vec![i, v]).unwrap();
    let step = n.div_ceil(parts);
    let partitions: Vec<Vec<RecordBatch>> = (0..parts)
        .map(|p| vec![batch.slice((p * step).min(n), step.min(n - (p * step).min(n)))])
        .collect();
    ctx.register_table(
        name,
        Arc::new(MemTable::try_new(schema, partitions).unwrap()),
    )
    .unwrap();
}

async fn rows(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    ctx.sql(sql).await.unwrap().collect().await.unwrap()
}

async fn error(ctx: &SessionContext, sql: &str) -> String {
    let result = match ctx.sql(sql).await {
        Ok(df) => df.collect().await.map(|_| ()),
        Err(e) => Err(e),
    };
    result.expect_err(sql).to_string()
}

#[tokio::test]
async fn shim_project_equals_the_shims_own_apply_in_every_encoding() {
    let (shim, bytes) = shim();
    let shims = ShimSet::new().with_bytes("s", bytes, true).unwrap();
    let x = matrix(N, D_IN, 0);
    let nulls = NullBuffer::from_iter((0..N).map(|i| i != 3 && i != 100));
    for encoding in ["fixed_f32", "list_f64", "large_list_f16"] {
        for with_nulls in [false, true] {
            let ctx = local_context(Some(3), &shims).unwrap();
            let v = encode(&x, encoding, with_nulls.then(|| nulls.clone()));
            table(&ctx, "t", v.clone(), 3);
            let batches = rows(
                &ctx,
                "SELECT i, shim_project('s', v) AS p FROM t ORDER BY i",
            )
            .await;
            // The reference: the same values as shimkit's readers decode them.
            let decoded = shimkit_data::vectors_from_arrow(
                &(if with_nulls {
                    datafusion::arrow::compute::filter(
                        &v,
                        &datafusion::arrow::compute::is_not_null(&v).unwrap(),
                    )
                    .unwrap()
                } else {
                    v.clone()
                }),
                "reference".as_ref(),
                "v",
                0,
                &[],
                Some(D_IN),
            )
            .unwrap();
            let expected = shim.apply(decoded.view(), true).unwrap();
            let mut next = expected.rows().into_iter();
            let mut seen = 0;
            for b in &batches {
                let p = b.column(1).as_fixed_size_list();
                assert_eq!(p.value_length() as usize, D_OUT);
                for r in 0..b.num_rows() {
                    let i = b
                        .column(0)
                        .as_primitive::<datafusion::arrow::datatypes::Int64Type>()
                        .value(r) as usize;
                    assert_eq!(i, seen, "{encoding}: rows in order");
                    seen += 1;
                    if with_nulls && (i == 3 || i == 100) {
                        assert!(p.is_null(r), "{encoding}: row {i} is NULL in, NULL out");
                        continue;
                    }
                    let got = p.value(r);
                    let got = got.as_primitive::<Float32Type>().values();
                    let want = next.next().unwrap();
                    for (g, w) in got.iter().zip(want.iter()) {
                        assert!((g - w).abs() <= 1e-6, "{encoding}: row {i}: {g} vs {w}");
                    }
                }
            }
            assert_eq!(seen, N);
            assert!(next.next().is_none());
        }
    }
}

#[tokio::test]
async fn shim_project_refuses_what_it_cannot_project_with_a_message_that_says_why() {
    let (_, bytes) = shim();
    let shims = ShimSet::new().with_bytes("s", bytes, true).unwrap();
    let ctx = local_context(Some(2), &shims).unwrap();
    table(
        &ctx,
        "t",
        encode(&matrix(20, D_IN, 0), "fixed_f32", None),
        2,
    );
    table(
        &ctx,
        "wide",
        encode(&matrix(20, D_IN + 1, 0), "fixed_f32", None),
        1,
    );
    let mut bad = matrix(20, D_IN, 0);
    bad[[7, 4]] = f32::NAN;
    table(&ctx, "nan", encode(&bad, "list_f64", None), 1);
    let mut zero = matrix(20, D_IN, 0);
    zero.row_mut(5).fill(0.0);
    table(&ctx, "zero", encode(&zero, "fixed_f32", None), 1);
    let ragged = ListArray::try_new(
        item(DataType::Float32),
        OffsetBuffer::from_lengths([D_IN, D_IN - 1]),
        Arc::new(Float32Array::from(vec![0.5f32; 2 * D_IN - 1])),
        None,
    )
    .unwrap();
    table(&ctx, "ragged", Arc::new(ragged), 1);
    let cases = [
        (
            "SELECT shim_project('nope', v) FROM t",
            "no shim named \"nope\"",
        ),
        ("SELECT shim_project('nope', v) FROM t", "registered: s"),
        ("SELECT shim_project(v, v) FROM t", "string literal"),
        ("SELECT shim_project('s', i) FROM t", "is a vector"),
        (
            "SELECT shim_project('s', v) FROM wide",
            "maps 12-dimensional vectors; column \"v\" has 13",
        ),
        (
            "SELECT shim_project('s', v) FROM nan",
            "not a finite float32",
        ),
        ("SELECT shim_project('s', v) FROM zero", "all zeros"),
        (
            "SELECT shim_project('s', v) FROM ragged",
            "has 11 values, expected 12",
        ),
    ];
    for (sql, expected) in cases {
        let e = error(&ctx, sql).await;
        assert!(e.contains(expected), "{sql}: {e}");
    }
}

fn pair_table(
    ctx: &SessionContext,
    ids: ArrayRef,
    x: &Array2<f32>,
    y: &Array2<f32>,
    parts: usize,
    order: &[usize],
) {
    let take = |a: &ArrayRef| -> ArrayRef {
        let idx = datafusion::arrow::array::UInt32Array::from(
            order.iter().map(|&i| i as u32).collect::<Vec<_>>(),
        );
        datafusion::arrow::compute::take(a.as_ref(), &idx, None).unwrap()
    };
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", ids.data_type().clone(), false),
        Field::new("x", encode(x, "fixed_f32", None).data_type().clone(), false),
        Field::new("y", encode(y, "list_f64", None).data_type().clone(), false),
    ]));
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            take(&ids),
            take(&encode(x, "fixed_f32", None)),
            take(&encode(y, "list_f64", None)),
        ],
    )
    .unwrap();
    let n = batch.num_rows();
    let step = n.div_ceil(parts);
    let partitions: Vec<Vec<RecordBatch>> = (0..parts)
        .map(|p| {
            let start = (p * step).min(n);
            vec![batch.slice(start, step.min(n - start))]
        })
        .collect();
    ctx.register_table(
        "pairs",
        Arc::new(MemTable::try_new(schema, partitions).unwrap()),
    )
    .unwrap();
}

#[tokio::test]
async fn shim_fit_stats_over_any_partitioning_finishes_as_the_fit_of_one_pass() {
    let n = 3000;
    let (d_in, d_out) = (16, 10);
    let x = matrix(n, d_in, 1);
    let noise = matrix(n, d_out, 2);
    let w = matrix(d_in, d_out, 4);
    let y = x.dot(&w) + noise * 0.3;
    let names: Vec<String> = (0..n).map(|i| (i as i64 * 7919).to_string()).collect();
    for method in [
        Method::Ridge,
        Method::Procrustes,
        Method::Lowrank,
        Method::Auto,
    ] {
        let cfg = FitConfig {
            method,
            seed: 3,
            linear_only: true,
            max_heldout: 200,
            ..FitConfig::default()
        };
        let mut local = PairAccumulator::new(d_in, d_out, cfg.clone()).unwrap();
        local.add(&names, x.view(), y.view()).unwrap();
        let local = local.finish().unwrap();
        // Int64 ids: the readers' decimal strings decide the split, as in a local fit.
        let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(
            (0..n).map(|i| i as i64 * 7919),
        ));
        let text: ArrayRef = Arc::new(StringArray::from(names.clone()));
        for (ids, parts) in [(ids.clone(), 1), (ids, 4), (text, 3)] {
            let ctx = local_context(Some(parts), &ShimSet::new()).unwrap();
            let order: Vec<usize> = (0..n).map(|i| (i * 1237) % n).collect();
            pair_table(&ctx, ids, &x, &y, parts, &order);
            let sql = format!(
                "SELECT shim_fit_stats(id, x, y, '{}') FROM pairs",
                shimkit_engine::fit_stats::options(&cfg)
            );
            let batches = rows(&ctx, &sql).await;
            let bytes = batches[0].column(0).as_binary::<i64>().value(0).to_vec();
            let engine = finish_fit(&bytes, cfg.clone()).unwrap();
            assert_eq!(engine.pairs, n);
            assert_eq!(engine.ids_fingerprint, local.ids_fingerprint);
            assert_eq!(engine.chosen.method, local.chosen.method, "{method}");
            // λ is searched on a continuous scale: the same to 1e-6, relative.
            match (engine.chosen.lambda, local.chosen.lambda) {
                (Some(a), Some(b)) => {
                    assert!((a - b).abs() <= 1e-6 * b.abs(), "{method}: λ {a} vs {b}")
                }
                (a, b) => assert_eq!(a, b, "{method}"),
            }
            assert_eq!(engine.chosen.rank, local.chosen.rank, "{method}");
            let scale = local.map.weight.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            let diff = (&engine.map.weight - &local.map.weight)
                .iter()
                .fold(0.0f64, |m, v| m.max(v.abs()));
            assert!(
                diff <= 1e-6 * scale,
                "{method}, {parts} partitions: {diff} against {scale}"
            );
        }
    }
}

#[tokio::test]
async fn shim_fit_stats_refuses_bad_options_and_bad_rows() {
    let ctx = local_context(Some(2), &ShimSet::new()).unwrap();
    let x = matrix(100, 4, 1);
    let mut y = matrix(100, 3, 2);
    y[[42, 1]] = f32::INFINITY;
    let ids: ArrayRef = Arc::new(StringArray::from(
        (0..100).map(|i| format!("d{i}")).collect::<Vec<_>>(),
    ));
    pair_table(&ctx, ids, &x, &y, 2, &(0..100).collect::<Vec<_>>());
    let e = error(&ctx, "SELECT shim_fit_stats(id, x, y) FROM pairs").await;
    assert!(
        e.contains("id \"d42\"") && e.contains("not a finite"),
        "{e}"
    );
    for (opts, expected) in [
        ("seed=x", "not a valid value"),
        ("colour=blue", "unknown option"),
        ("val_frac=1.5", "not in (0, 1)"),
        ("seed", "KEY=VALUE"),
    ] {
        let e = error(
            &ctx,
            &format!("SELECT shim_fit_stats(id, x, x, '{opts}') FROM pairs"),
        )
        .await;
        assert!(e.contains(expected), "{opts}: {e}");
    }
}
