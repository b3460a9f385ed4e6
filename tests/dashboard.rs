//! `shimkit serve --migration SPEC`: the dashboard in headless Chromium shows what
//! `migrate status --json` says, logs no error, and shows a new cycle without a reload;
//! `/v1/migration` is that document. Needs PostgreSQL (tests/common/pg.rs), Chromium and
//! a Python with websocket-client (tests/python/dashboard_check.py drives the browser).

mod common;

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use common::engine::cranfield;
use common::migration::{Docs, cranfield_docs, ok, ridge_shim, spec_full, subset};
use common::{Server, chromium, fails, http, python, root};
use serde_json::{Value, json};

/// A number the page shows ("0.4123", "37.5%", "$12.34") is `want` to the digits shown.
fn shows(text: &str, want: f64, digits: i32) {
    let number: f64 = text
        .trim_start_matches('$')
        .trim_end_matches('%')
        .parse()
        .unwrap_or_else(|_| panic!("not a number: {text:?}"));
    let scale = if text.ends_with('%') { 100.0 } else { 1.0 };
    assert!(
        (number - scale * want).abs() <= 0.5 * 10f64.powi(-digits) + 1e-9,
        "the page shows {text}, the status says {want}"
    );
}

/// Checks what the page shows against the status document.
fn same_as_status(shown: &Value, status: &Value) {
    let cycles = status["cycles"].as_array().unwrap();
    let last = cycles.last().unwrap();
    assert_eq!(
        shown["title"],
        format!("Migration {}", status["migration"].as_str().unwrap())
    );
    shows(
        shown["share"].as_str().unwrap(),
        last["share"].as_f64().unwrap(),
        1,
    );
    assert_eq!(shown["decision"], last["decision"]);
    assert_eq!(shown["error_shown"], false);
    let k = last["k"].as_u64().unwrap();
    let (ndcg, recall, retention, ci) = (
        format!("ndcg@{k}"),
        format!("recall@{k}"),
        format!("retention_ndcg@{k}"),
        format!("ci95_retention_ndcg@{k}"),
    );
    let paths = last["paths"].as_array().unwrap();
    assert_eq!(shown["paths"].as_object().unwrap().len(), paths.len());
    for p in paths {
        let name = p["name"].as_str().unwrap();
        let row = &shown["paths"][name];
        shows(row[&ndcg].as_str().unwrap(), p[&ndcg].as_f64().unwrap(), 4);
        shows(
            row[&recall].as_str().unwrap(),
            p[&recall].as_f64().unwrap(),
            4,
        );
        shows(
            row[&retention].as_str().unwrap(),
            p[&retention].as_f64().unwrap(),
            3,
        );
        let interval = row[&ci].as_str().unwrap();
        let bounds: Vec<&str> = interval
            .trim_matches(|c| c == '[' || c == ']')
            .split(", ")
            .collect();
        assert_eq!(bounds.len(), 2, "{interval}");
        for (i, b) in bounds.iter().enumerate() {
            shows(b, p[&ci][i].as_f64().unwrap(), 3);
        }
    }
    // Every cycle in the table, newest first, and every path on the chart.
    let table = shown["cycles"].as_array().unwrap();
    assert_eq!(table.len(), cycles.len());
    for (row, cycle) in table.iter().zip(cycles.iter().rev()) {
        assert_eq!(row["cycle"], cycle["cycle"]);
        assert_eq!(row["decision"], cycle["decision"]);
        shows(
            row["share"].as_str().unwrap(),
            cycle["share"].as_f64().unwrap(),
            1,
        );
    }
    let names: Vec<&Value> = paths.iter().map(|p| &p["name"]).collect();
    assert_eq!(
        shown["chart_paths"]
            .as_array()
            .unwrap()
            .iter()
            .collect::<Vec<_>>(),
        names
    );
    assert_eq!(shown["gate_line"], status["plan"]["gate"]["target"]);
    let cost = &status["cost"];
    shows(
        shown["cost_spent"].as_str().unwrap(),
        cost["spent"]["usd"].as_f64().unwrap(),
        2,
    );
    let to_go = shown["cost_to_go"].as_str().unwrap();
    shows(
        to_go.split(' ').next().unwrap(),
        cost["to_go"]["usd"].as_f64().unwrap(),
        2,
    );
}

/// A Python that can drive Chromium (websocket-client), if there is one.
fn browser_python() -> Option<std::path::PathBuf> {
    let python = python()?;
    let ok = Command::new(&python)
        .args(["-c", "import websocket"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        if std::env::var("SHIMKIT_REQUIRE_PYTHON").is_ok_and(|v| v == "1") {
            panic!(
                "SHIMKIT_REQUIRE_PYTHON=1 but {} lacks websocket-client",
                python.display()
            );
        }
        eprintln!("skipped: {} lacks websocket-client", python.display());
        return None;
    }
    Some(python)
}

fn status(spec: &str) -> Value {
    serde_json::from_str(&ok(&["migrate", "status", spec, "--json"])).unwrap()
}

#[test]
fn the_dashboard_shows_the_status_and_each_new_cycle_without_a_reload() {
    let Some(chromium) = chromium() else { return };
    let Some(python) = browser_python() else {
        return;
    };
    let Some(Docs { spec_url, .. }) = cranfield_docs("dashboard") else {
        return;
    };
    let d = tempfile::tempdir().unwrap();
    let shim = ridge_shim(d.path());
    let spec = spec_full(
        d.path(),
        &spec_url,
        0.9,
        100_000,
        "2026-12-15",
        &format!("shim = {shim:?}"),
    );
    let mpnet = cranfield("corpus.mpnet.parquet");
    let all = shimkit_data::read_table(
        &shimkit_data::TableSource::new(&mpnet).unwrap(),
        &shimkit_data::ReadOptions::default(),
    )
    .unwrap();
    let arrive = |i: usize| {
        let ids = all.ids[350 * i..350 * (i + 1)].to_vec();
        subset(
            &mpnet,
            &ids,
            &d.path().join(format!("incoming/batch-{i}.parquet")),
        );
        ok(&["migrate", "run", &spec, "--once"]);
    };
    arrive(0);
    arrive(1);

    let server = Server::start(&["--migration", &spec]);
    let (code, _, body) = http(&server.addr, "GET", "/v1/migration", &[], b"");
    assert_eq!(code, 200);
    let served: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(
        served,
        status(&spec),
        "/v1/migration is `migrate status --json`"
    );
    let (code, headers, page) = http(&server.addr, "GET", "/dashboard", &[], b"");
    assert_eq!(code, 200);
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert!(header("content-type").starts_with("text/html"));
    assert!(header("content-security-policy").contains("default-src 'none'"));
    // Self-contained: nothing on the page comes from another host.
    let page = String::from_utf8(page).unwrap();
    for outside in [
        "src=",
        "href=\"http",
        "url(",
        "@import",
        "<link rel=\"stylesheet",
    ] {
        assert!(
            !page.contains(outside),
            "the page loads something: {outside}"
        );
    }
    assert_eq!(http(&server.addr, "GET", "/readyz", &[], b"").0, 200);

    let mut driver = Command::new(&python)
        .arg(root().join("tests/python/dashboard_check.py"))
        .args(["--chromium", chromium.to_str().unwrap()])
        .args([
            "--url",
            &format!("http://{}/dashboard?refresh=0.3", server.addr),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut to_page = driver.stdin.take().unwrap();
    let mut from_page = BufReader::new(driver.stdout.take().unwrap()).lines();
    let mut ask = |request: Value| -> Value {
        writeln!(to_page, "{request}").unwrap();
        let line = from_page.next().expect("the driver stopped").unwrap();
        serde_json::from_str(&line).unwrap()
    };

    let shown = ask(json!({"cycles": 2}));
    same_as_status(&shown["shown"], &status(&spec));

    // A new cycle appears on the open page: the mark set after the first load survives.
    arrive(2);
    let shown = ask(json!({"cycles": 3}));
    assert_eq!(shown["shown"]["mark"], "no reload since");
    let now = status(&spec);
    same_as_status(&shown["shown"], &now);
    assert_eq!(now["cycles"].as_array().unwrap().len(), 3);

    // The backfill completes; a cutover and a rollback show as they happen.
    arrive(3);
    let shown = ask(json!({"cycles": 4}));
    same_as_status(&shown["shown"], &status(&spec));
    ok(&["migrate", "cutover", &spec, "--force"]);
    let shown = ask(json!({"cycles": 4, "cut_over": true}));
    assert!(
        shown["shown"]["cutover"]
            .as_str()
            .unwrap()
            .starts_with("cut over")
    );
    // The new column's name now holds the old vectors: no cycle may write into it.
    let e = fails(&["migrate", "run", &spec, "--once"]);
    assert!(e.contains("has cut over") && e.contains("rollback"), "{e}");
    ok(&["migrate", "rollback", &spec]);
    let shown = ask(json!({"cycles": 4, "cut_over": false}));
    assert_eq!(shown["shown"]["cutover"], "not cut over");
    if let Some(path) = std::env::var_os("SHIMKIT_DASHBOARD_SCREENSHOT") {
        ask(json!({"screenshot": path.to_string_lossy()}));
    }

    drop(to_page);
    let last: Value = serde_json::from_str(&from_page.next().unwrap().unwrap()).unwrap();
    assert_eq!(last["console_errors"], json!([]), "the page logged errors");
    assert!(driver.wait().unwrap().success());
}

#[test]
fn without_a_migration_the_data_route_says_how_to_start_one() {
    let d = tempfile::tempdir().unwrap();
    let server = Server::start(&["--shims", d.path().to_str().unwrap()]);
    let (code, _, body) = http(&server.addr, "GET", "/v1/migration", &[], b"");
    assert_eq!(code, 404);
    let body = String::from_utf8_lossy(&body);
    assert!(body.contains("--migration"), "{body}");
}

#[test]
fn a_bad_migration_spec_stops_the_server_before_it_listens() {
    let d = tempfile::tempdir().unwrap();
    let path = d.path().join("nope.toml");
    std::fs::write(&path, "[store]\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_shimkit"))
        .args(["serve", "--addr", "127.0.0.1:0", "--migration"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1));
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("nope.toml"), "{e}");
}
