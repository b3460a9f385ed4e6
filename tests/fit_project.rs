//! `shimkit fit` and `shimkit project` end to end: real data, both directions, every
//! rejected input, and inputs that must be accepted and handled right.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use ndarray::{Array2, s};
use shimkit_data::{EmbeddingWriter, ReadOptions, TableSource, read_table};

fn shimkit(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_shimkit"))
        .args(args)
        .output()
        .expect("run shimkit")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn cranfield(file: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data/cranfield")
        .join(file)
        .to_string_lossy()
        .into_owned()
}

/// The bundled minilm and mpnet corpora (old, new).
fn cranfield_pair() -> (String, String) {
    (
        cranfield("corpus.minilm.parquet"),
        cranfield("corpus.mpnet.parquet"),
    )
}

fn table(path: &str) -> shimkit_data::EmbeddingTable {
    read_table(&TableSource::new(path).unwrap(), &ReadOptions::default()).unwrap()
}

fn write(path: &Path, ids: &[String], m: &Array2<f32>) {
    let mut w = EmbeddingWriter::create(path, m.ncols()).unwrap();
    w.write(ids, m.view()).unwrap();
    w.finish().unwrap();
}

fn p(dir: &tempfile::TempDir, name: &str) -> PathBuf {
    dir.path().join(name)
}

fn fit_json(args: &[&str]) -> serde_json::Value {
    let mut all = vec!["fit", "--json"];
    all.extend_from_slice(args);
    let out = shimkit(&all);
    assert!(out.status.success(), "{}", stderr(&out));
    serde_json::from_str(&stdout(&out)).unwrap()
}

#[test]
fn fit_and_project_cranfield_in_both_directions() {
    let d = tempfile::tempdir().unwrap();
    let (old, new) = cranfield_pair();
    for (direction, input, source_dim, target_dim) in [
        ("old-to-new", &old, 384, 768),
        ("new-to-old", &new, 768, 384),
    ] {
        let shim = p(&d, &format!("{direction}.safetensors"));
        let r = fit_json(&[
            "--old",
            &old,
            "--new",
            &new,
            "--direction",
            direction,
            "--out",
            shim.to_str().unwrap(),
        ]);
        assert_eq!(r["pairs"], 1400);
        assert_eq!(r["source"]["dim"], source_dim);
        assert_eq!(
            r["candidates"].as_array().unwrap().len(),
            6,
            "ridge, procrustes, lowrank, kernel, cluster, mlp"
        );
        let best = r["candidates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["heldout_cosine"].as_f64().unwrap())
            .fold(0.0, f64::max);
        let chosen = r["chosen"]["heldout_cosine"].as_f64().unwrap();
        assert!(
            chosen >= best - 0.002,
            "auto chose {chosen} with {best} available"
        );
        assert!(chosen > 0.8, "held-out cosine {chosen}");
        // `inspect` reads the artifact back: the same choice, dimensions and candidates.
        let out = shimkit(&["inspect", shim.to_str().unwrap(), "--json"]);
        assert!(out.status.success(), "{}", stderr(&out));
        let meta: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(meta["method"], r["chosen"]["method"]);
        assert_eq!(meta["source_dim"], source_dim);
        assert_eq!(meta["target_dim"], target_dim);
        assert_eq!(meta["pairs"], 1400);
        assert_eq!(meta["candidates"].as_array().unwrap().len(), 6);
        assert_eq!(meta["heldout_cosine"].as_f64(), Some(chosen));
        assert!(meta["stored_values"].as_u64().unwrap() >= (source_dim * target_dim) as u64);
        let text = stdout(&shimkit(&["inspect", shim.to_str().unwrap()]));
        assert!(text.contains(&format!("direction   {direction}")), "{text}");
        assert_eq!(text.matches("<- chosen").count(), 1, "{text}");

        let out_path = p(&d, &format!("{direction}.parquet"));
        let out = shimkit(&[
            "project",
            "--shim",
            shim.to_str().unwrap(),
            "--input",
            input,
            "--output",
            out_path.to_str().unwrap(),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let projected = table(out_path.to_str().unwrap());
        let original = table(input);
        assert_eq!(projected.ids, original.ids);
        assert_eq!(projected.dim(), target_dim);
        for row in projected.vectors.rows() {
            let n: f64 = row.iter().map(|&v| (v as f64).powi(2)).sum::<f64>().sqrt();
            assert!((n - 1.0).abs() < 1e-5);
        }
        // The artifact applied through the library gives the same vectors.
        let shim = shimkit_trainer::artifact::load(&shim).unwrap();
        assert_eq!(shim.meta.direction.to_string(), direction);
        assert_eq!(
            shim.apply(original.vectors.view(), true).unwrap(),
            projected.vectors
        );
    }
}

#[test]
fn row_order_one_sided_ids_and_vector_length_do_not_change_the_fit() {
    let d = tempfile::tempdir().unwrap();
    let old = table(&cranfield("corpus.minilm.parquet"));
    let new = table(&cranfield("corpus.mpnet.parquet"));
    // Old side: rows scaled by 0.5..3 (not unit length) and 100 extra ids; new side reversed.
    let mut scaled = old.vectors.clone();
    for (i, mut row) in scaled.rows_mut().into_iter().enumerate() {
        row *= 0.5 + (i % 11) as f32 * 0.25;
    }
    let mut old_ids = old.ids.clone();
    let extra: Array2<f32> = old.vectors.slice(s![..100, ..]).to_owned();
    old_ids.extend((0..100).map(|i| format!("extra-{i}")));
    let old_all = ndarray::concatenate![ndarray::Axis(0), scaled, extra];
    write(&p(&d, "old.parquet"), &old_ids, &old_all);
    let rev: Vec<usize> = (0..new.len()).rev().collect();
    let new_ids: Vec<String> = rev.iter().map(|&i| new.ids[i].clone()).collect();
    write(
        &p(&d, "new.parquet"),
        &new_ids,
        &new.vectors.select(ndarray::Axis(0), &rev),
    );

    let args = |o: &str, n: &str, out: &str| -> Vec<String> {
        [
            "--old", o, "--new", n, "--method", "ridge", "--lambda", "0.5", "--out", out,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    };
    let a_out = p(&d, "a.safetensors");
    let b_out = p(&d, "b.safetensors");
    let a = args(
        &cranfield("corpus.minilm.parquet"),
        &cranfield("corpus.mpnet.parquet"),
        a_out.to_str().unwrap(),
    );
    let b = args(
        p(&d, "old.parquet").to_str().unwrap(),
        p(&d, "new.parquet").to_str().unwrap(),
        b_out.to_str().unwrap(),
    );
    let ra = fit_json(&a.iter().map(String::as_str).collect::<Vec<_>>());
    let rb = fit_json(&b.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(rb["only_old"], 100);
    assert_eq!(rb["only_new"], 0);
    assert_eq!(rb["pairs"], 1400);
    let (sa, sb) = (
        shimkit_trainer::artifact::load(&a_out).unwrap(),
        shimkit_trainer::artifact::load(&b_out).unwrap(),
    );
    let diff = (&sa.weight - &sb.weight)
        .iter()
        .fold(0f32, |m, v| m.max(v.abs()));
    assert!(diff < 1e-4, "weights differ by {diff}");
    assert_eq!(sa.meta.train_ids_fingerprint, sb.meta.train_ids_fingerprint);
    // Same split (it follows ids, not rows); sums in another order differ in the last digits.
    let (ca, cb) = (
        ra["chosen"]["heldout_cosine"].as_f64().unwrap(),
        rb["chosen"]["heldout_cosine"].as_f64().unwrap(),
    );
    assert!((ca - cb).abs() < 1e-6, "{ca} vs {cb}");
}

#[test]
fn bad_inputs_fail_with_the_row_named_and_leave_no_artifact() {
    let d = tempfile::tempdir().unwrap();
    let old = table(&cranfield("corpus.minilm.parquet"));
    let mut bad = old.vectors.clone();
    bad[[7, 3]] = f32::NAN;
    write(&p(&d, "nan.parquet"), &old.ids, &bad);
    let out = p(&d, "s.safetensors");
    let new = cranfield("corpus.mpnet.parquet");
    let o = shimkit(&[
        "fit",
        "--old",
        p(&d, "nan.parquet").to_str().unwrap(),
        "--new",
        &new,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("nan.parquet: row 7 (id \"8\")") && stderr(&o).contains("NaN"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());

    // Too few pairs.
    let ids: Vec<String> = old.ids[..30].to_vec();
    write(
        &p(&d, "few.parquet"),
        &ids,
        &old.vectors.slice(s![..30, ..]).to_owned(),
    );
    let o = shimkit(&[
        "fit",
        "--old",
        p(&d, "few.parquet").to_str().unwrap(),
        "--new",
        &new,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("30 pairs are too few") && stderr(&o).contains("--min-pairs"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());

    // No common ids.
    let other: Vec<String> = old.ids.iter().map(|i| format!("doc-{i}")).collect();
    write(&p(&d, "other.parquet"), &other, &old.vectors);
    let o = shimkit(&[
        "fit",
        "--old",
        p(&d, "other.parquet").to_str().unwrap(),
        "--new",
        &new,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("no id is in both tables") && stderr(&o).contains("\"doc-1\""),
        "{}",
        stderr(&o)
    );

    // Bad flags.
    let o = shimkit(&[
        "fit",
        "--old",
        &new,
        "--new",
        &new,
        "--lambda",
        "big",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("--lambda must be auto or a number"),
        "{}",
        stderr(&o)
    );
    let o = shimkit(&[
        "fit",
        "--old",
        &new,
        "--new",
        &new,
        "--method",
        "magic",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!out.exists());
}

#[test]
fn project_rejects_wrong_dimensions_non_shims_and_bad_rows_without_output() {
    let d = tempfile::tempdir().unwrap();
    let shim = p(&d, "s.safetensors");
    let (old, new) = cranfield_pair();
    let o = shimkit(&[
        "-q",
        "fit",
        "--old",
        &old,
        "--new",
        &new,
        "--method",
        "procrustes",
        "--out",
        shim.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = p(&d, "out.parquet");
    let run = |input: &str, shim: &Path| {
        shimkit(&[
            "project",
            "--shim",
            shim.to_str().unwrap(),
            "--input",
            input,
            "--output",
            out.to_str().unwrap(),
        ])
    };

    let o = run(&new, &shim);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("corpus.mpnet.parquet: column \"embedding\" holds 768-dimensional")
            && stderr(&o).contains("maps 384-dimensional vectors"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());

    let o = run(&old, Path::new(&new));
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("not a shimkit shim"), "{}", stderr(&o));
    // `inspect` on a file named like a shim that is not one names the file and why.
    let fake = d.path().join("fake.safetensors");
    std::fs::copy(&new, &fake).unwrap();
    let o = shimkit(&["inspect", fake.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("fake.safetensors") && stderr(&o).contains("not a shimkit shim"),
        "{}",
        stderr(&o)
    );

    let o = shimkit(&[
        "project",
        "--shim",
        shim.to_str().unwrap(),
        "--input",
        &old,
        "--output",
        &old,
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("is the --input file"), "{}", stderr(&o));

    // A bad row far into the input: the error names it and no output appears.
    let t = table(&old);
    let mut m = ndarray::concatenate![
        ndarray::Axis(0),
        t.vectors.clone(),
        t.vectors.clone(),
        t.vectors.clone()
    ];
    let ids: Vec<String> = (0..m.nrows()).map(|i| format!("r{i}")).collect();
    m[[3500, 0]] = f32::INFINITY;
    write(&p(&d, "big.parquet"), &ids, &m);
    let o = shimkit(&[
        "project",
        "--shim",
        shim.to_str().unwrap(),
        "--input",
        p(&d, "big.parquet").to_str().unwrap(),
        "--output",
        out.to_str().unwrap(),
        "--batch-rows",
        "500",
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("row 3500 (id \"r3500\")"),
        "{}",
        stderr(&o)
    );
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(d.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .filter(|n| n.to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn recovers_the_known_map_of_generated_data() {
    // With no per-item error and no non-linear term, `gen`'s two models are linear images
    // of one 16-d latent space (plus 10% output noise): ridge should recover the map nearly
    // perfectly, and reduced-rank regression should find the hidden rank itself.
    let d = tempfile::tempdir().unwrap();
    let set = p(&d, "lin");
    let generate = |noise: &str, nonlinearity: &str, out: &Path| {
        let o = shimkit(&[
            "-q",
            "gen",
            "--docs",
            "3000",
            "--queries",
            "20",
            "--old-dim",
            "48",
            "--new-dim",
            "64",
            "--latent-dim",
            "16",
            "--noise",
            noise,
            "--nonlinearity",
            nonlinearity,
            "--seed",
            "9",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
    };
    generate("0", "0", &set);
    let fit = |set: &Path, method: &str| {
        let out = p(&d, &format!("{method}.safetensors"));
        fit_json(&[
            "--old",
            set.join("corpus.old.parquet").to_str().unwrap(),
            "--new",
            set.join("corpus.new.parquet").to_str().unwrap(),
            "--method",
            method,
            "--out",
            out.to_str().unwrap(),
        ])
    };
    let ridge = fit(&set, "ridge");
    assert!(
        ridge["chosen"]["heldout_cosine"].as_f64().unwrap() > 0.98,
        "{}",
        ridge["chosen"]
    );
    let lowrank = fit(&set, "lowrank");
    assert_eq!(lowrank["chosen"]["rank"], 16, "{}", lowrank["chosen"]);
    // The same test on data with per-item error and a non-linear term must not pass.
    let noisy = p(&d, "noisy");
    generate("0.3", "0.5", &noisy);
    let r = fit(&noisy, "ridge");
    assert!(
        r["chosen"]["heldout_cosine"].as_f64().unwrap() < 0.95,
        "{}",
        r["chosen"]
    );
}

#[test]
fn drop_bias_writes_a_shim_without_its_bias_and_says_so() {
    let d = tempfile::tempdir().unwrap();
    let shim = p(&d, "q.safetensors");
    let r = fit_json(&[
        "--old",
        &cranfield("corpus.minilm.parquet"),
        "--new",
        &cranfield("corpus.mpnet.parquet"),
        "--direction",
        "new-to-old",
        "--method",
        "ridge",
        "--drop-bias",
        "--out",
        shim.to_str().unwrap(),
    ]);
    assert_eq!(r["chosen"]["method"], "ridge");
    let loaded = shimkit_trainer::artifact::load(&shim).unwrap();
    assert!(loaded.bias.iter().all(|&b| b == 0.0));
    assert!(loaded.meta.bias_dropped);
    assert!(loaded.weight.iter().any(|&w| w != 0.0));
}

#[test]
fn landmarks_flag_fixes_the_kernel_landmark_count() {
    let d = tempfile::tempdir().unwrap();
    let shim = p(&d, "k.safetensors");
    let (old, new) = cranfield_pair();
    let r = fit_json(&[
        "--old",
        &old,
        "--new",
        &new,
        "--method",
        "kernel",
        "--landmarks",
        "64",
        "--out",
        shim.to_str().unwrap(),
    ]);
    assert_eq!(r["chosen"]["adapter"]["landmarks"], 64, "{r}");
    let loaded = shimkit_trainer::artifact::load(&shim).unwrap();
    match loaded.adapter {
        Some(shimkit_trainer::adapter::Adapter::Kernel(k)) => assert_eq!(k.landmarks(), 64),
        other => panic!("not a kernel shim: {other:?}"),
    }
    let bad = shimkit(&[
        "fit",
        "--old",
        &old,
        "--new",
        &new,
        "--method",
        "kernel",
        "--landmarks",
        "many",
        "--out",
        p(&d, "bad.safetensors").to_str().unwrap(),
    ]);
    assert_eq!(bad.status.code(), Some(1), "{}", stderr(&bad));
    assert!(stderr(&bad).contains("--landmarks"), "{}", stderr(&bad));
    assert!(!p(&d, "bad.safetensors").exists());
}

#[test]
fn query_pairs_fit_a_query_side_shim_with_or_without_documents() {
    let d = tempfile::tempdir().unwrap();
    let shim = p(&d, "q.safetensors");
    let (q_old, q_new) = (
        cranfield("queries.minilm.parquet"),
        cranfield("queries.mpnet.parquet"),
    );
    let (old, new) = cranfield_pair();
    let r = fit_json(&[
        "--old",
        &old,
        "--new",
        &new,
        "--direction",
        "new-to-old",
        "--method",
        "ridge",
        "--query-pairs",
        &q_old,
        &q_new,
        "--out",
        shim.to_str().unwrap(),
    ]);
    let q = &r["query_pairs"];
    assert_eq!(q["query_pairs"], 225);
    assert_eq!(q["doc_pairs"], 1400);
    assert_eq!(q["folds"], 5);
    assert_eq!(q["scores"].as_array().unwrap().len(), 5);
    let share = q["share"].as_f64().unwrap();
    let best = q["scores"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["heldout_cosine"].as_f64().unwrap())
        .fold(f64::MIN, f64::max);
    let chosen = q["scores"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["share"].as_f64() == Some(share))
        .unwrap();
    assert_eq!(chosen["heldout_cosine"].as_f64().unwrap(), best);
    // The repeats give the share: query rows over all rows.
    let (qr, dr) = (
        q["query_repeat"].as_f64().unwrap(),
        q["doc_repeat"].as_f64().unwrap(),
    );
    let achieved = 225.0 * qr / (225.0 * qr + 1400.0 * dr);
    assert!((q["achieved"].as_f64().unwrap() - achieved).abs() < 1e-12);
    let loaded = shimkit_trainer::artifact::load(&shim).unwrap();
    assert_eq!((loaded.source_dim(), loaded.target_dim()), (768, 384));
    assert_eq!(loaded.meta.source_model, "mpnet");

    // The query pairs alone: all the weight, nothing to choose; the models named from them.
    let alone = p(&d, "alone.safetensors");
    let r = fit_json(&[
        "--direction",
        "new-to-old",
        "--method",
        "ridge",
        "--query-pairs",
        &q_old,
        &q_new,
        "--out",
        alone.to_str().unwrap(),
    ]);
    assert_eq!(r["query_pairs"]["share"], 1.0);
    assert_eq!(r["query_pairs"]["folds"], 0);
    assert_eq!(r["source"]["model"], "mpnet");
    assert!(alone.exists());

    // Refused, with nothing written: the doc side, query tables the wrong way round, query
    // tables that share no id.
    let refused = p(&d, "refused.safetensors");
    let strangers = p(&d, "strangers.parquet");
    let ids: Vec<String> = (0..60).map(|i| format!("log-{i}")).collect();
    write(&strangers, &ids, &Array2::from_elem((60, 768), 0.1));
    let strangers = strangers.to_str().unwrap();
    for (args, says) in [
        (
            vec![
                "--old",
                &old,
                "--new",
                &new,
                "--query-pairs",
                &q_old,
                &q_new,
            ],
            "add --direction new-to-old",
        ),
        (
            vec![
                "--old",
                &old,
                "--new",
                &new,
                "--direction",
                "new-to-old",
                "--query-pairs",
                &q_new,
                &q_old,
            ],
            "the query pairs are 384-d → 768-d but the document pairs 768-d → 384-d",
        ),
        (
            vec![
                "--old",
                &old,
                "--new",
                &new,
                "--direction",
                "new-to-old",
                "--query-pairs",
                &q_old,
                strangers,
            ],
            "no id is in both tables",
        ),
    ] {
        let mut all = vec![
            "fit",
            "--method",
            "ridge",
            "--out",
            refused.to_str().unwrap(),
        ];
        all.extend(args);
        let out = shimkit(&all);
        assert!(!out.status.success());
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
        assert!(!refused.exists());
    }
}
