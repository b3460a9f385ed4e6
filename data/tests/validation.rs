//! Every kind of bad input gets an error that names the file, column, row and id.

mod common;

use common::*;
use shimkit_data::{BatchReader, DataError, ReadOptions, TableSource, read_table};

fn read(path: &std::path::Path) -> Result<shimkit_data::EmbeddingTable, DataError> {
    read_table(&TableSource::new(path)?, &ReadOptions::default())
}

/// The streaming reader must report the same first problem as the whole-table reader.
fn stream(path: &std::path::Path) -> Result<usize, DataError> {
    let mut rows = 0;
    for batch in BatchReader::open(
        &TableSource::new(path)?,
        ReadOptions {
            batch_rows: 2,
            ..Default::default()
        },
    )? {
        rows += batch?.ids.len();
    }
    Ok(rows)
}

fn both(path: &std::path::Path) -> String {
    let whole = read(path)
        .expect_err("whole-table read must fail")
        .to_string();
    let streamed = stream(path)
        .expect_err("streamed read must fail")
        .to_string();
    assert_eq!(whole, streamed, "the two readers disagree");
    whole
}

#[test]
fn missing_id_column_names_the_column_and_lists_what_exists() {
    let d = tmp();
    let f = p(&d, "t.parquet");
    write_columns(
        &f,
        vec![
            ("doc", str_ids(&["a"])),
            ("embedding", fsl_f32(2, rows(&[vec![1.0, 0.0]]))),
        ],
        None,
    );
    let msg = both(&f);
    assert!(msg.contains("t.parquet"), "{msg}");
    assert!(msg.contains("column \"id\" not found"), "{msg}");
    assert!(msg.contains("doc (Utf8)"), "{msg}");
}

#[test]
fn missing_vector_column_and_custom_names() {
    let d = tmp();
    let f = p(&d, "t.parquet");
    write_columns(
        &f,
        vec![
            ("doc", str_ids(&["a"])),
            ("vec", fsl_f32(2, rows(&[vec![1.0, 0.0]]))),
        ],
        None,
    );
    let err = read(&f).unwrap_err().to_string();
    assert!(err.contains("column \"id\" not found"), "{err}");
    let opts = ReadOptions::with_columns(shimkit_data::Columns::new("doc", "embedding"));
    let err = read_table(&TableSource::new(&f).unwrap(), &opts)
        .unwrap_err()
        .to_string();
    assert!(err.contains("column \"embedding\" not found"), "{err}");
    let opts = ReadOptions::with_columns(shimkit_data::Columns::new("doc", "vec"));
    let t = read_table(&TableSource::new(&f).unwrap(), &opts).unwrap();
    assert_eq!(t.ids, vec!["a"]);
}

#[test]
fn vector_column_of_wrong_type() {
    let d = tmp();
    let f = p(&d, "t.parquet");
    write_table(&f, str_ids(&["a"]), str_ids(&["not a vector"]));
    let msg = both(&f);
    assert!(msg.contains("column \"embedding\" has type Utf8"), "{msg}");
    let g = p(&d, "ints.parquet");
    let ints = std::sync::Arc::new(arrow_array::ListArray::from_iter_primitive::<
        arrow_array::types::Int32Type,
        _,
        _,
    >(vec![Some(vec![Some(1)])]));
    write_table(&g, str_ids(&["a"]), ints);
    let msg = both(&g);
    assert!(msg.contains("has type List(Int32"), "{msg}");
}

#[test]
fn vectors_of_no_dimension_are_refused_from_the_type() {
    let d = tmp();
    let f = p(&d, "zero.parquet");
    let item = std::sync::Arc::new(arrow_schema::Field::new(
        "element",
        arrow_schema::DataType::Float32,
        false,
    ));
    let empty = std::sync::Arc::new(arrow_array::Float32Array::from(Vec::<f32>::new()));
    // With width 0 the length comes from the validity buffer.
    let valid = Some(arrow_buffer::NullBuffer::new_valid(2));
    let zero = arrow_array::FixedSizeListArray::try_new(item, 0, empty, valid).unwrap();
    write_table(&f, str_ids(&["a", "b"]), std::sync::Arc::new(zero));
    let msg = both(&f);
    assert!(msg.contains("vectors of 1 to 16777216 dimensions"), "{msg}");
}

#[test]
fn id_column_of_wrong_type() {
    let d = tmp();
    let f = p(&d, "t.parquet");
    let float_ids = std::sync::Arc::new(arrow_array::Float64Array::from(vec![1.5]));
    write_table(&f, float_ids, fsl_f32(2, rows(&[vec![1.0, 0.0]])));
    let msg = both(&f);
    assert!(msg.contains("column \"id\" has type Float64"), "{msg}");
}

#[test]
fn null_id_names_the_row() {
    let d = tmp();
    let f = p(&d, "t.parquet");
    write_table(
        &f,
        utf8(&[Some("a"), Some("b"), None]),
        fsl_f32(2, rows(&[vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]])),
    );
    let msg = both(&f);
    assert!(
        msg.contains("row 2: column \"id\": the id is null"),
        "{msg}"
    );
}

#[test]
fn null_vector_names_row_and_id() {
    let d = tmp();
    let f = p(&d, "t.parquet");
    let mut r = rows(&[vec![1.0, 0.0], vec![0.0, 1.0], vec![1.0, 1.0]]);
    r[1] = None;
    write_table(&f, str_ids(&["a", "b", "c"]), fsl_f32(2, r.clone()));
    let msg = both(&f);
    assert!(
        msg.contains("row 1 (id \"b\"): column \"embedding\": the vector is null"),
        "{msg}"
    );
    let g = p(&d, "list.parquet");
    write_table(&g, str_ids(&["a", "b", "c"]), list_f32(r));
    assert!(both(&g).contains("row 1 (id \"b\")"));
}

#[test]
fn null_element_inside_a_vector() {
    let d = tmp();
    let f = p(&d, "t.parquet");
    let mut r = rows(&[
        vec![1.0, 0.0, 2.0],
        vec![0.0, 1.0, 2.0],
        vec![1.0, 1.0, 2.0],
    ]);
    r[2].as_mut().unwrap()[1] = None;
    write_table(&f, str_ids(&["a", "b", "c"]), fsl_f32(3, r));
    let msg = both(&f);
    assert!(msg.contains("row 2 (id \"c\")"), "{msg}");
    assert!(msg.contains("value 1 of the vector is null"), "{msg}");
}

#[test]
fn rows_of_unequal_length() {
    let d = tmp();
    let f = p(&d, "t.parquet");
    write_table(
        &f,
        str_ids(&["a", "b", "c", "d"]),
        list_f32(rows(&[
            vec![1.0, 0.0],
            vec![0.0, 1.0],
            vec![1.0, 1.0],
            vec![1.0, 2.0, 3.0],
        ])),
    );
    let msg = both(&f);
    assert!(msg.contains("row 3 (id \"d\")"), "{msg}");
    assert!(msg.contains("has 3 values, expected 2"), "{msg}");
}

#[test]
fn nan_and_infinity_name_the_position() {
    let d = tmp();
    let f = p(&d, "nan.parquet");
    write_table(
        &f,
        str_ids(&["a", "b"]),
        fsl_f32(3, rows(&[vec![1.0, 0.0, 0.0], vec![0.0, f32::NAN, 1.0]])),
    );
    let msg = both(&f);
    assert!(msg.contains("row 1 (id \"b\")"), "{msg}");
    assert!(msg.contains("value 1 of the vector is NaN"), "{msg}");
    let g = p(&d, "inf.parquet");
    write_table(
        &g,
        str_ids(&["a", "b"]),
        fsl_f32(
            3,
            rows(&[vec![f32::NEG_INFINITY, 0.0, 0.0], vec![0.0, 1.0, 1.0]]),
        ),
    );
    let msg = both(&g);
    assert!(
        msg.contains("row 0 (id \"a\")") && msg.contains("value 0 of the vector is -inf"),
        "{msg}"
    );
}

#[test]
fn float64_too_large_for_f32_is_reported_with_its_value() {
    let d = tmp();
    let f = p(&d, "t.parquet");
    write_table(
        &f,
        str_ids(&["a", "b"]),
        list_f64(vec![
            Some(vec![Some(1.0), Some(0.0)]),
            Some(vec![Some(1e300), Some(1.0)]),
        ]),
    );
    let msg = both(&f);
    assert!(
        msg.contains("row 1 (id \"b\")") && msg.contains("is 1e300"),
        "{msg}"
    );
}

#[test]
fn all_zero_vector_is_rejected_but_tiny_values_are_not() {
    let d = tmp();
    let f = p(&d, "t.parquet");
    write_table(
        &f,
        str_ids(&["a", "b"]),
        fsl_f32(2, rows(&[vec![1.0, 0.0], vec![0.0, 0.0]])),
    );
    let msg = both(&f);
    assert!(
        msg.contains("row 1 (id \"b\")") && msg.contains("all zeros"),
        "{msg}"
    );
    // Squares underflow f32 here, but the vector is not zero and can be normalised in f64.
    let g = p(&d, "tiny.parquet");
    write_table(&g, str_ids(&["a"]), fsl_f32(2, rows(&[vec![1e-30, 0.0]])));
    assert_eq!(read(&g).unwrap().vectors[[0, 0]], 1e-30);
}

#[test]
fn duplicate_ids_name_both_rows() {
    let d = tmp();
    let f = p(&d, "t.parquet");
    write_table(
        &f,
        str_ids(&["a", "b", "c", "b"]),
        fsl_f32(2, rows(&matrix(4, 2, 1))),
    );
    let msg = both(&f);
    assert!(msg.contains("row 3: duplicate id \"b\""), "{msg}");
    assert!(msg.contains("at row 1"), "{msg}");
}

#[test]
fn duplicate_ids_across_files_of_a_directory() {
    let d = tmp();
    write_table(
        &p(&d, "part-0.parquet"),
        str_ids(&["a", "b"]),
        fsl_f32(2, rows(&matrix(2, 2, 1))),
    );
    write_table(
        &p(&d, "part-1.parquet"),
        str_ids(&["c", "a"]),
        fsl_f32(2, rows(&matrix(2, 2, 2))),
    );
    let msg = both(d.path());
    assert!(
        msg.contains("part-1.parquet: row 1: duplicate id \"a\""),
        "{msg}"
    );
    assert!(msg.contains("part-0.parquet at row 0"), "{msg}");
    // Switched off, the table reads.
    let opts = ReadOptions {
        check_duplicates: false,
        ..Default::default()
    };
    assert_eq!(
        read_table(&TableSource::new(d.path()).unwrap(), &opts)
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn empty_table() {
    let d = tmp();
    let f = p(&d, "t.parquet");
    write_table(&f, str_ids(&[]), fsl_f32(2, vec![]));
    let msg = both(&f);
    assert!(msg.contains("t.parquet: the table is empty"), "{msg}");
}

#[test]
fn not_parquet_and_truncated_files() {
    let d = tmp();
    let f = p(&d, "notes.parquet");
    std::fs::write(&f, "id,embedding\na,1 2 3\n").unwrap();
    let msg = both(&f);
    assert!(
        msg.contains("notes.parquet: not a readable Parquet file"),
        "{msg}"
    );

    let good = p(&d, "good.parquet");
    write_table(
        &good,
        str_ids(&["a", "b"]),
        fsl_f32(2, rows(&matrix(2, 2, 1))),
    );
    let bytes = std::fs::read(&good).unwrap();
    for cut in [bytes.len() / 2, bytes.len() - 3, 10] {
        let t = p(&d, "cut.parquet");
        std::fs::write(&t, &bytes[..cut]).unwrap();
        let msg = both(&t);
        assert!(
            msg.contains("cut.parquet: not a readable Parquet file"),
            "cut at {cut}: {msg}"
        );
    }
    let missing = p(&d, "absent.parquet");
    let err = read(&missing).unwrap_err().to_string();
    assert!(err.contains("absent.parquet"), "{err}");
}

#[test]
fn directory_without_parquet_files() {
    let d = tmp();
    std::fs::write(p(&d, "readme.txt"), "x").unwrap();
    let err = read(d.path()).unwrap_err().to_string();
    assert!(err.contains("no Parquet files found"), "{err}");
}

#[test]
fn files_of_different_dimensions_in_one_table() {
    let d = tmp();
    write_table(
        &p(&d, "a.parquet"),
        str_ids(&["a"]),
        fsl_f32(2, rows(&[vec![1.0, 0.0]])),
    );
    write_table(
        &p(&d, "b.parquet"),
        str_ids(&["b"]),
        fsl_f32(3, rows(&[vec![1.0, 0.0, 0.0]])),
    );
    let msg = both(d.path());
    assert!(
        msg.contains("b.parquet: vectors have 3 dimensions") && msg.contains("a.parquet has 2"),
        "{msg}"
    );
}

#[test]
fn problems_deep_in_a_later_row_group_name_the_file_row() {
    let d = tmp();
    let f = p(&d, "t.parquet");
    let n = 1000;
    let mut m = matrix(n, 4, 9);
    m[777][2] = f32::INFINITY;
    let ids: Vec<String> = (0..n).map(|i| format!("doc-{i}")).collect();
    let id_refs: Vec<&str> = ids.iter().map(|s| s.as_str()).collect();
    write_columns(
        &f,
        vec![
            ("id", str_ids(&id_refs)),
            ("embedding", fsl_f32(4, rows(&m))),
        ],
        Some(100),
    );
    let msg = both(&f);
    assert!(
        msg.contains("row 777 (id \"doc-777\")") && msg.contains("value 2 of the vector is inf"),
        "{msg}"
    );
}

/// Found by the fuzz target `parquet_table`: a footer whose embedded Arrow schema
/// (`ARROW:schema`) makes arrow-ipc 59.3 unwrap a missing field. A decoder panic is an
/// error naming the file.
#[test]
fn fuzz_finding_a_malformed_embedded_arrow_schema_is_not_a_panic() {
    let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz-arrow-schema-unwrap.parquet");
    let msg = both(&f);
    assert!(
        msg.contains("fuzz-arrow-schema-unwrap.parquet") && msg.contains("the decoder failed"),
        "{msg}"
    );
}
