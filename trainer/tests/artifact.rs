//! The shim artifact: round trip, and a clear refusal of anything that is not a shim.

use std::collections::HashMap;

use ndarray::{Array1, Array2};
use safetensors::tensor::{Dtype, TensorView};
use shimkit_trainer::{Direction, Shim, ShimMeta, TrainError, artifact};

fn shim() -> Shim {
    let weight = Array2::from_shape_fn((3, 5), |(i, j)| (i * 5 + j) as f32 * 0.25 - 1.0);
    let mut meta = ShimMeta::new("ridge", Direction::NewToOld, 3, 5);
    meta.lambda = Some(0.5);
    meta.source_model = "a".into();
    meta.target_model = "b".into();
    meta.heldout_cosine = Some(0.9);
    Shim::new(
        weight,
        Array1::from(vec![0.5f32, -0.5, 0.0, 1.0, 2.0]),
        meta,
    )
}

fn err(bytes: &[u8]) -> String {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("x.safetensors");
    std::fs::write(&path, bytes).unwrap();
    match artifact::load(&path) {
        Err(e @ TrainError::Artifact { .. }) => e.to_string(),
        other => panic!("expected an artifact error, got {other:?}"),
    }
}

fn raw(tensors: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)>, meta: HashMap<String, String>) -> Vec<u8> {
    let views: Vec<(&str, TensorView<'_>)> = tensors
        .iter()
        .map(|(n, dt, shape, data)| (*n, TensorView::new(*dt, shape.clone(), data).unwrap()))
        .collect();
    safetensors::serialize(views, Some(meta)).unwrap()
}

fn good_meta() -> HashMap<String, String> {
    HashMap::from([
        ("format".into(), "shimkit.shim".into()),
        ("format_version".into(), "1".into()),
        ("shim".into(), serde_json::to_string(&shim().meta).unwrap()),
    ])
}

/// Landmarks and centroids are unit vectors; the loader checks it.
fn unit_rows(mut a: Array2<f32>) -> Array2<f32> {
    for mut row in a.rows_mut() {
        let n = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        row.mapv_inplace(|v| v / n);
    }
    a
}

fn le(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

fn f32s(n: usize) -> Vec<u8> {
    (0..n).flat_map(|i| (i as f32).to_le_bytes()).collect()
}

#[test]
fn round_trip_is_exact() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("s.safetensors");
    let s = shim();
    artifact::save(&s, &path).unwrap();
    let back = artifact::load(&path).unwrap();
    assert_eq!(back, s);
    // Written atomically: nothing else in the directory.
    assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
}

/// A shim's version is the hash of its file, so the same shim must always make the same
/// bytes (safetensors writes its metadata map in HashMap order, which changes per call).
#[test]
fn the_same_shim_always_makes_the_same_bytes() {
    let s = shim();
    let first = artifact::to_bytes(&s).unwrap();
    for _ in 0..20 {
        assert_eq!(artifact::to_bytes(&s).unwrap(), first);
    }
    let d = tempfile::tempdir().unwrap();
    artifact::save(&s, &d.path().join("a.safetensors")).unwrap();
    assert_eq!(
        std::fs::read(d.path().join("a.safetensors")).unwrap(),
        first
    );
}

#[test]
fn files_that_are_not_shims_are_named_and_explained() {
    assert!(err(b"not a safetensors file at all").contains("not a safetensors file"));
    let no_format = raw(
        vec![("weight", Dtype::F32, vec![3, 5], f32s(15))],
        HashMap::new(),
    );
    assert!(err(&no_format).contains("without shimkit metadata"));
    let mut m = good_meta();
    m.insert("format".into(), "something.else".into());
    assert!(err(&raw(vec![], m)).contains("\"something.else\""));
    let mut m = good_meta();
    m.insert("format_version".into(), "9".into());
    assert!(err(&raw(vec![], m)).contains("format version 9 is newer"));
    let bias = ("bias", Dtype::F32, vec![5], f32s(5));
    assert!(err(&raw(vec![bias.clone()], good_meta())).contains("tensor \"weight\" is missing"));
    let f64_weight = ("weight", Dtype::F64, vec![3, 5], vec![0u8; 120]);
    assert!(err(&raw(vec![bias.clone(), f64_weight], good_meta())).contains("expected F32"));
    // Transposed weight (and a bias to match it): the metadata's dimensions catch it.
    let transposed = vec![
        ("bias", Dtype::F32, vec![3], f32s(3)),
        ("weight", Dtype::F32, vec![5, 3], f32s(15)),
    ];
    let e = err(&raw(transposed, good_meta()));
    assert!(e.contains("weight is 5×3 but the metadata says 3→5"), "{e}");
    let short_bias = ("bias", Dtype::F32, vec![4], f32s(4));
    assert!(
        err(&raw(
            vec![short_bias, ("weight", Dtype::F32, vec![3, 5], f32s(15))],
            good_meta()
        ))
        .contains("bias has 4 values")
    );
    let mut nan = f32s(15);
    nan[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
    assert!(
        err(&raw(
            vec![bias, ("weight", Dtype::F32, vec![3, 5], nan)],
            good_meta()
        ))
        .contains("not finite")
    );
    let e = artifact::load(std::path::Path::new("/nonexistent/s.safetensors"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("/nonexistent/s.safetensors"), "{e}");
}

#[test]
fn apply_checks_the_input_dimension() {
    let s = shim();
    let e = s
        .apply(Array2::<f32>::ones((2, 4)).view(), true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("4 dimensions, the shim maps 3"), "{e}");
    let e = s
        .apply_owned(Array2::<f32>::ones((2, 4)), true)
        .unwrap_err()
        .to_string();
    assert!(e.contains("4 dimensions, the shim maps 3"), "{e}");
}

#[test]
fn adapter_shims_round_trip_bit_exact_as_format_version_2() {
    use shimkit_trainer::adapter::{Adapter, AdapterParams};
    use shimkit_trainer::cluster::ClusterMaps;
    use shimkit_trainer::kernel::KernelResidual;
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("k.safetensors");
    let kernel = Adapter::Kernel(KernelResidual {
        landmarks: unit_rows(Array2::from_shape_fn((4, 3), |(i, j)| {
            ((i + j) as f32).sin() + 0.1
        })),
        coef: Array2::from_shape_fn((4, 5), |(i, j)| (i as f32 - j as f32) * 1e-3 + 1e-7),
        gamma: 1.5,
    });
    let cluster = Adapter::Cluster(ClusterMaps {
        centroids: unit_rows(Array2::from_shape_fn((2, 3), |(i, j)| {
            (i * 3 + j) as f32 * 0.1 + 0.1
        })),
        weights: ndarray::Array3::from_shape_fn((2, 3, 5), |(c, i, j)| (c + i * j) as f32 * 0.01),
        biases: Array2::from_shape_fn((2, 5), |(c, j)| c as f32 - j as f32 * 0.5),
        temperature: 10.0,
    });
    let base = shim();
    let mlp = Adapter::Mlp(shimkit_trainer::mlp::MlpResidual {
        weight: base.weight.clone(),
        bias: base.bias.clone(),
        w1: Array2::from_shape_fn((3, 2), |(i, j)| (i + 2 * j) as f32 * 0.3),
        c: ndarray::Array1::from(vec![0.1f32, -0.2]),
        w2: Array2::from_shape_fn((2, 5), |(i, j)| (i as f32 - j as f32) * 0.05),
    });
    let params: [AdapterParams; 3] = [
        shimkit_trainer::kernel::KernelParams {
            gamma: 1.5,
            lambda: 0.01,
            landmarks: 4,
        }
        .into(),
        shimkit_trainer::cluster::ClusterParams {
            clusters: 2,
            temperature: 10.0,
        }
        .into(),
        shimkit_trainer::mlp::MlpConfig::default()
            .params(3, None)
            .into(),
    ];
    for (adapter, params) in [kernel, cluster, mlp].into_iter().zip(params) {
        let mut s = shim();
        s.meta.method = adapter.method().to_string();
        s.meta.adapter = Some(params);
        s.adapter = Some(adapter);
        artifact::save(&s, &path).unwrap();
        let back = artifact::load(&path).unwrap();
        assert_eq!(back, s, "weights, adapter tensors and metadata bit for bit");
        // A caller's own rows (normalised in place) map exactly as a borrowed view does.
        let x = Array2::from_shape_fn((4, 3), |(i, j)| (i as f32 - j as f32) * 0.7 + 0.1);
        for normalize in [true, false] {
            assert_eq!(
                back.apply_owned(x.clone(), normalize).unwrap(),
                back.apply(x.view(), normalize).unwrap()
            );
        }
        let bytes = std::fs::read(&path).unwrap();
        let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
        assert_eq!(header.metadata().as_ref().unwrap()["format_version"], "2");
    }
    // The affine shim stays version 1, readable by the shimkit that wrote version 1 only.
    artifact::save(&shim(), &path).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    assert_eq!(header.metadata().as_ref().unwrap()["format_version"], "1");
}

#[test]
fn a_kernel_shim_missing_a_tensor_is_refused() {
    let tensors = vec![
        ("weight", Dtype::F32, vec![3, 5], f32s(15)),
        ("bias", Dtype::F32, vec![5], f32s(5)),
        ("kernel.landmarks", Dtype::F32, vec![2, 3], f32s(6)),
        ("kernel.gamma", Dtype::F32, vec![1], f32s(1)),
    ];
    let msg = err(&raw(tensors, good_meta()));
    assert!(msg.contains("kernel") && msg.contains("missing"), "{msg}");
    let tensors = vec![
        ("weight", Dtype::F32, vec![3, 5], f32s(15)),
        ("bias", Dtype::F32, vec![5], f32s(5)),
        ("kernel.landmarks", Dtype::F32, vec![2, 4], f32s(8)),
        ("kernel.coef", Dtype::F32, vec![2, 5], f32s(10)),
        ("kernel.gamma", Dtype::F32, vec![1], f32s(1)),
    ];
    let msg = err(&raw(tensors, good_meta()));
    assert!(msg.contains("do not fit a 3→5 shim"), "{msg}");
}

#[test]
fn drop_bias_zeroes_the_affine_bias_of_an_mlp_shim_too_and_it_still_saves() {
    use shimkit_trainer::adapter::Adapter;
    let mut s = shim();
    s.adapter = Some(Adapter::Mlp(shimkit_trainer::mlp::MlpResidual {
        weight: s.weight.clone(),
        bias: s.bias.clone(),
        w1: Array2::from_elem((3, 2), 0.5),
        c: ndarray::Array1::zeros(2),
        w2: Array2::from_elem((2, 5), 0.1),
    }));
    s.drop_bias();
    assert!(s.bias.iter().all(|&b| b == 0.0) && s.meta.bias_dropped);
    let Some(Adapter::Mlp(m)) = &s.adapter else {
        unreachable!()
    };
    assert!(m.bias.iter().all(|&b| b == 0.0));
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("m.safetensors");
    artifact::save(&s, &path).unwrap();
    assert_eq!(artifact::load(&path).unwrap(), s);
}

/// Each adapter checks, on load, every invariant its `apply` relies on: a cluster shim with
/// no clusters used to load and answer all-zero vectors.
#[test]
fn adapters_that_break_what_apply_relies_on_are_refused() {
    let meta = |method: &str, version: &str| {
        let mut m = shim().meta;
        m.method = method.into();
        HashMap::from([
            ("format".to_owned(), "shimkit.shim".to_owned()),
            ("format_version".to_owned(), version.to_owned()),
            ("shim".to_owned(), serde_json::to_string(&m).unwrap()),
        ])
    };
    let affine = || {
        vec![
            ("weight", Dtype::F32, vec![3, 5], f32s(15)),
            ("bias", Dtype::F32, vec![5], f32s(5)),
        ]
    };
    let unit3 = le(&[1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);
    let cluster = |k: usize, centroids: Vec<u8>, temperature: f32| {
        let mut t = affine();
        t.push(("cluster.centroids", Dtype::F32, vec![k, 3], centroids));
        t.push(("cluster.weights", Dtype::F32, vec![k, 3, 5], f32s(k * 15)));
        t.push(("cluster.biases", Dtype::F32, vec![k, 5], f32s(k * 5)));
        t.push((
            "cluster.temperature",
            Dtype::F32,
            vec![1],
            le(&[temperature]),
        ));
        raw(t, meta("cluster", "2"))
    };
    let kernel = |m: usize, landmarks: Vec<u8>, gamma: f32| {
        let mut t = affine();
        t.push(("kernel.landmarks", Dtype::F32, vec![m, 3], landmarks));
        t.push(("kernel.coef", Dtype::F32, vec![m, 5], f32s(m * 5)));
        t.push(("kernel.gamma", Dtype::F32, vec![1], le(&[gamma])));
        raw(t, meta("kernel", "2"))
    };
    let d = tempfile::tempdir().unwrap();
    let ok = |bytes: Vec<u8>| {
        let p = d.path().join("ok.safetensors");
        std::fs::write(&p, bytes).unwrap();
        artifact::load(&p).unwrap();
    };
    // The well-formed ones load, so each refusal below is about its one flaw.
    ok(cluster(2, unit3.clone(), 10.0));
    ok(kernel(2, unit3.clone(), 1.0));
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (cluster(0, vec![], 10.0), "at least one cluster"),
        (cluster(2, unit3.clone(), 0.0), "sharpness"),
        (cluster(2, unit3.clone(), -3.0), "sharpness"),
        (cluster(2, f32s(6), 10.0), "not 1"),
        (kernel(0, vec![], 1.0), "at least one landmark"),
        (kernel(2, unit3.clone(), 0.0), "kernel width"),
        (kernel(2, unit3.clone(), f32::MAX), "overflow"),
        (kernel(2, f32s(6), 1.0), "not 1"),
        (
            {
                let mut t = affine();
                t.push(("mlp.w1", Dtype::F32, vec![3, 0], vec![]));
                t.push(("mlp.c", Dtype::F32, vec![0], vec![]));
                t.push(("mlp.w2", Dtype::F32, vec![0, 5], vec![]));
                raw(t, meta("mlp", "2"))
            },
            "at least one hidden unit",
        ),
        (
            {
                let mut t = affine();
                t.push(("kernel.landmarks", Dtype::F32, vec![2, 3], unit3.clone()));
                t.push(("kernel.coef", Dtype::F32, vec![2, 5], f32s(10)));
                t.push(("kernel.gamma", Dtype::F32, vec![1], le(&[1.0])));
                raw(t, meta("kernel", "1"))
            },
            "version 1 holds no adapter",
        ),
        (raw(affine(), meta("cluster", "2")), "no adapter"),
        (
            {
                let mut t = affine();
                t[0].3 = le(&[1e35; 15]);
                raw(t, meta("ridge", "1"))
            },
            "overflow",
        ),
        (
            {
                let mut m = shim().meta;
                m.source_dim = 0;
                let t = vec![
                    ("weight", Dtype::F32, vec![0, 5], vec![]),
                    ("bias", Dtype::F32, vec![5], f32s(5)),
                ];
                let mut meta = good_meta();
                meta.insert("shim".into(), serde_json::to_string(&m).unwrap());
                raw(t, meta)
            },
            "at least one dimension",
        ),
    ];
    for (bytes, why) in cases {
        let msg = err(&bytes);
        assert!(msg.contains(why), "expected {why:?} in: {msg}");
    }
}

/// Found by the fuzz target `artifact`: an MLP shim whose values are each finite and in
/// range, but whose two layers multiply past float32 (4.7e29 in W₁, 7.2e22 in W₂). It
/// loads; applying it is an error, not an answer of infinities.
#[test]
fn fuzz_finding_a_shim_whose_layers_overflow_answers_an_error() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz-mlp-overflow.safetensors");
    let shim = artifact::load(&path).unwrap();
    let x = Array2::from_shape_fn((3, shim.source_dim()), |(i, j)| {
        ((i * 31 + j * 7) % 11) as f32 - 5.0
    });
    for normalize in [false, true] {
        let e = shim.apply(x.view(), normalize).unwrap_err().to_string();
        assert!(e.contains("not finite"), "{e}");
        let e = shim
            .apply_owned(x.clone(), normalize)
            .unwrap_err()
            .to_string();
        assert!(e.contains("not finite"), "{e}");
    }
}
