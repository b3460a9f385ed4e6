//! Streamed pairing of row-aligned tables, and its refusal of tables that are not.

mod common;

use common::*;
use shimkit_data::{AlignedItem, AlignedReader, BatchReader, ReadOptions, TableSource};

fn reader(path: &std::path::Path, batch_rows: usize) -> BatchReader {
    BatchReader::open(
        &TableSource::new(path).unwrap(),
        ReadOptions {
            batch_rows,
            ..Default::default()
        },
    )
    .unwrap()
}

fn ids(n: usize, prefix: &str) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}{i}")).collect()
}

fn write(path: &std::path::Path, ids: &[String], m: &[Vec<f32>], row_group: usize) {
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let dim = m[0].len() as i32;
    write_columns(
        path,
        vec![("id", str_ids(&refs)), ("embedding", fsl_f32(dim, rows(m)))],
        Some(row_group),
    );
}

#[test]
fn pairs_rows_across_different_batch_boundaries() {
    let d = tmp();
    let (a, b) = (matrix(1000, 3, 1), matrix(1000, 5, 2));
    let names = ids(1000, "k");
    write(&p(&d, "old.parquet"), &names, &a, 97);
    write(&p(&d, "new.parquet"), &names, &b, 256);
    let mut got_ids = Vec::new();
    let (mut old, mut new) = (Vec::new(), Vec::new());
    for item in AlignedReader::new(
        reader(&p(&d, "old.parquet"), 60),
        reader(&p(&d, "new.parquet"), 333),
    ) {
        match item.unwrap() {
            AlignedItem::Pairs {
                ids,
                old: o,
                new: n,
            } => {
                assert_eq!(o.nrows(), ids.len());
                assert_eq!(n.nrows(), ids.len());
                got_ids.extend(ids);
                old.extend(o.iter().copied());
                new.extend(n.iter().copied());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(got_ids, names);
    assert_eq!(old, a.concat());
    assert_eq!(new, b.concat());
}

#[test]
fn stops_at_the_first_difference_in_ids_or_length() {
    let d = tmp();
    let m = matrix(300, 3, 1);
    let names = ids(300, "k");
    let mut other = names.clone();
    other.swap(150, 151);
    write(&p(&d, "a.parquet"), &names, &m, 64);
    write(&p(&d, "b.parquet"), &other, &m, 64);
    write(&p(&d, "short.parquet"), &names[..200], &m[..200], 64);
    let last = |a: &str, b: &str| {
        AlignedReader::new(reader(&p(&d, a), 50), reader(&p(&d, b), 50))
            .map(|i| i.unwrap())
            .last()
            .unwrap()
    };
    match last("a.parquet", "b.parquet") {
        AlignedItem::Misaligned {
            index,
            old_id,
            new_id,
        } => {
            assert_eq!(
                (index, old_id.as_deref(), new_id.as_deref()),
                (150, Some("k150"), Some("k151"))
            );
        }
        other => panic!("{other:?}"),
    }
    match last("a.parquet", "short.parquet") {
        AlignedItem::Misaligned {
            index,
            old_id,
            new_id,
        } => {
            assert_eq!(
                (index, old_id.as_deref(), new_id),
                (200, Some("k200"), None)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_bad_row_on_either_side_is_an_error() {
    let d = tmp();
    let mut m = matrix(300, 3, 1);
    m[222][1] = f32::NAN;
    let names = ids(300, "k");
    write(&p(&d, "good.parquet"), &names, &matrix(300, 3, 1), 64);
    write(&p(&d, "bad.parquet"), &names, &m, 64);
    let err = AlignedReader::new(
        reader(&p(&d, "good.parquet"), 50),
        reader(&p(&d, "bad.parquet"), 50),
    )
    .find_map(|i| i.err())
    .expect("an error");
    assert!(
        err.to_string()
            .contains("bad.parquet: row 222 (id \"k222\")"),
        "{err}"
    );
}
