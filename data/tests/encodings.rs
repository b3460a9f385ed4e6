//! Every accepted encoding reads to the same ids and values; written files round-trip bit
//! for bit; streamed and whole reads agree.

mod common;

use common::*;
use shimkit_data::{BatchReader, EmbeddingWriter, ReadOptions, TableSource, read_ids, read_table};

fn read(path: &std::path::Path) -> shimkit_data::EmbeddingTable {
    read_table(&TableSource::new(path).unwrap(), &ReadOptions::default()).unwrap()
}

fn flat(m: &[Vec<f32>]) -> Vec<f32> {
    m.iter().flatten().copied().collect()
}

#[test]
fn id_types_utf8_large_utf8_int32_int64() {
    let d = tmp();
    let m = matrix(3, 4, 3);
    let cases: Vec<(&str, arrow_array::ArrayRef, Vec<&str>)> = vec![
        ("utf8", str_ids(&["x", "y", "z"]), vec!["x", "y", "z"]),
        ("large", large_utf8(&["x", "y", "z"]), vec!["x", "y", "z"]),
        (
            "i32",
            int32(&[7, -1, 2147483647]),
            vec!["7", "-1", "2147483647"],
        ),
        (
            "i64",
            int64(&[1, 2, 9007199254740993]),
            vec!["1", "2", "9007199254740993"],
        ),
    ];
    for (name, ids, want) in cases {
        let f = p(&d, &format!("{name}.parquet"));
        write_table(&f, ids, fsl_f32(4, rows(&m)));
        let t = read(&f);
        assert_eq!(t.ids, want, "{name}");
        assert_eq!(t.vectors.as_slice().unwrap(), flat(&m).as_slice(), "{name}");
    }
}

#[test]
fn vector_types_fixed_list_large_list_and_element_widths() {
    let d = tmp();
    // Values exactly representable in f16, so all encodings must give identical f32s.
    let m: Vec<Vec<f32>> = vec![vec![0.5, -0.25, 1.0], vec![0.125, 2.0, -1.5]];
    let m64: Vec<Option<Vec<Option<f64>>>> = m
        .iter()
        .map(|r| Some(r.iter().map(|&x| Some(x as f64)).collect()))
        .collect();
    let cases: Vec<(&str, arrow_array::ArrayRef)> = vec![
        ("fsl32", fsl_f32(3, rows(&m))),
        ("fsl16", fsl_f16(3, rows(&m))),
        ("list32", list_f32(rows(&m))),
        ("list64", list_f64(m64.clone())),
        ("large64", large_list_f64(m64)),
    ];
    for (name, vecs) in cases {
        let f = p(&d, &format!("{name}.parquet"));
        write_table(&f, str_ids(&["a", "b"]), vecs);
        let t = read(&f);
        assert_eq!(t.dim(), 3, "{name}");
        assert_eq!(t.vectors.as_slice().unwrap(), flat(&m).as_slice(), "{name}");
    }
}

#[test]
fn float64_values_are_rounded_to_nearest_f32() {
    let d = tmp();
    let f = p(&d, "t.parquet");
    let v = 0.1f64;
    write_table(
        &f,
        str_ids(&["a"]),
        list_f64(vec![Some(vec![Some(v), Some(1.0)])]),
    );
    assert_eq!(read(&f).vectors[[0, 0]], 0.1f32);
}

#[test]
fn many_row_groups_several_files_and_directories_read_as_one_table() {
    let d = tmp();
    let m = matrix(250, 8, 5);
    let ids: Vec<String> = (0..250).map(|i| format!("r{i:03}")).collect();
    let refs: Vec<&str> = ids.iter().map(|s| s.as_str()).collect();
    let dir = d.path().join("parts");
    std::fs::create_dir(&dir).unwrap();
    // Three files, split into row groups of 17 rows; a hidden file and a non-Parquet file are ignored.
    for (k, range) in [(0usize, 0..100), (1, 100..180), (2, 180..250)] {
        let f = dir.join(format!("part-{k}.parquet"));
        write_columns(
            &f,
            vec![
                ("id", str_ids(&refs[range.clone()])),
                ("embedding", fsl_f32(8, rows(&m[range]))),
            ],
            Some(17),
        );
    }
    std::fs::write(dir.join("_SUCCESS"), "").unwrap();
    std::fs::write(dir.join(".part-9.parquet.tmp"), "garbage").unwrap();
    let t = read(&dir);
    assert_eq!(t.ids, ids);
    assert_eq!(t.vectors.as_slice().unwrap(), flat(&m).as_slice());
    assert!(t.vectors.is_standard_layout());

    // Several explicit paths read in the order given.
    let src =
        TableSource::from_paths(&[dir.join("part-2.parquet"), dir.join("part-0.parquet")]).unwrap();
    let t2 = read_table(&src, &ReadOptions::default()).unwrap();
    assert_eq!(t2.ids[0], "r180");
    assert_eq!(t2.len(), 170);

    // The stream yields bounded batches with the same content.
    let mut streamed_ids = Vec::new();
    let mut streamed = Vec::new();
    for batch in BatchReader::open(
        &TableSource::new(&dir).unwrap(),
        ReadOptions {
            batch_rows: 13,
            ..Default::default()
        },
    )
    .unwrap()
    {
        let batch = batch.unwrap();
        assert!(batch.ids.len() <= 13);
        assert_eq!(batch.vectors.nrows(), batch.ids.len());
        streamed_ids.extend(batch.ids);
        streamed.extend(batch.vectors.iter().copied());
    }
    assert_eq!(streamed_ids, ids);
    assert_eq!(streamed, flat(&m));
    assert_eq!(
        read_ids(&TableSource::new(&dir).unwrap(), &Default::default()).unwrap(),
        ids
    );
}

#[test]
fn written_files_round_trip_bit_for_bit() {
    let d = tmp();
    let f = p(&d, "out.parquet");
    let n = 3000;
    let dim = 7;
    // Include values whose bits matter: subnormals, negative zero, extremes.
    let mut values: Vec<f32> = (0..n * dim).map(|i| ((i as f32) * 0.37).sin()).collect();
    values[3] = f32::MIN_POSITIVE / 4.0;
    values[4] = -0.0;
    values[5] = f32::MAX;
    let m = ndarray::Array2::from_shape_vec((n, dim), values).unwrap();
    let ids: Vec<String> = (0..n).map(|i| format!("id-{i}")).collect();
    let mut w = EmbeddingWriter::create(&f, dim).unwrap();
    // Several writes, to exercise batching in the writer.
    for start in (0..n).step_by(1000) {
        let end = (start + 1000).min(n);
        w.write(&ids[start..end], m.slice(ndarray::s![start..end, ..]))
            .unwrap();
    }
    assert_eq!(w.finish().unwrap(), n as u64);
    let t = read(&f);
    assert_eq!(t.ids, ids);
    let got: Vec<u32> = t.vectors.iter().map(|v| v.to_bits()).collect();
    let want: Vec<u32> = m.iter().map(|v| v.to_bits()).collect();
    assert_eq!(got, want);
    let layout =
        &shimkit_data::layouts(&TableSource::new(&f).unwrap(), &Default::default()).unwrap()[0];
    assert_eq!(layout.id_type, arrow_schema::DataType::Utf8);
    assert_eq!(layout.fixed_dim, Some(dim));
    assert!(
        layout.compression.iter().all(|c| c.starts_with("ZSTD")),
        "{:?}",
        layout.compression
    );
}

#[test]
fn an_unfinished_writer_leaves_nothing_behind() {
    let d = tmp();
    let f = p(&d, "out.parquet");
    std::fs::write(&f, "previous content").unwrap();
    {
        let mut w = EmbeddingWriter::create(&f, 2).unwrap();
        w.write(&["a"], ndarray::array![[1.0f32, 2.0]].view())
            .unwrap();
        // Dropped without finish, as when an error stops a projection midway.
    }
    assert_eq!(std::fs::read_to_string(&f).unwrap(), "previous content");
    let names: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "temporary file left: {names:?}");
}

#[test]
fn writer_rejects_mismatched_shapes() {
    let d = tmp();
    let mut w = EmbeddingWriter::create(p(&d, "o.parquet"), 3).unwrap();
    let err = w
        .write(&["a", "b"], ndarray::array![[1.0f32, 2.0, 3.0]].view())
        .unwrap_err()
        .to_string();
    assert!(err.contains("2 ids with a 1x3 matrix"), "{err}");
    let err = w
        .write(&["a"], ndarray::array![[1.0f32, 2.0]].view())
        .unwrap_err()
        .to_string();
    assert!(err.contains("3-dimensional"), "{err}");
}

#[test]
fn pairing_joins_by_id_whatever_the_order() {
    use shimkit_data::pair_tables;
    let d = tmp();
    let old_m = matrix(5, 3, 1);
    let new_m = matrix(4, 6, 2);
    write_table(
        &p(&d, "old.parquet"),
        str_ids(&["a", "b", "c", "d", "e"]),
        fsl_f32(3, rows(&old_m)),
    );
    // New side: different order, one id missing ("b"), one extra ("z").
    write_table(
        &p(&d, "new.parquet"),
        str_ids(&["e", "z", "a", "c"]),
        fsl_f32(6, rows(&new_m)),
    );
    let old = read(&p(&d, "old.parquet"));
    let new = read(&p(&d, "new.parquet"));
    let pairs = pair_tables(&old, &new).unwrap();
    assert_eq!(pairs.ids, vec!["a", "c", "e"]);
    assert_eq!(pairs.only_old, 2);
    assert_eq!(pairs.only_new, 1);
    assert_eq!(pairs.old.row(1).to_vec(), old_m[2]);
    assert_eq!(pairs.new.row(1).to_vec(), new_m[3]);
    assert_eq!(pairs.new.row(2).to_vec(), new_m[0]);

    write_table(
        &p(&d, "other.parquet"),
        str_ids(&["doc-1", "doc-2"]),
        fsl_f32(6, rows(&matrix(2, 6, 3))),
    );
    let other = read(&p(&d, "other.parquet"));
    let err = pair_tables(&old, &other).unwrap_err().to_string();
    assert!(
        err.contains("no id is in both tables")
            && err.contains("\"a\"")
            && err.contains("\"doc-1\""),
        "{err}"
    );
}
