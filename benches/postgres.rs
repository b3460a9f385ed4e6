//! The PostgreSQL store against the database's own limits, side by side in one run
//! (issue 15):
//!
//! - **write**: `shimkit project` backfilling a new column of a table of ROWS vectors
//!   (the product's whole path: read, apply a 768 → 768 shim, write through the staged
//!   per-batch transactions), against a binary `COPY` of as many vectors of the same
//!   dimension into an equal table (id bigint primary key, vector(768));
//! - **read**: `PgReader` (id-ordered chunks of binary `COPY`, decoded into batches)
//!   against one binary `COPY (SELECT id, embedding ...) TO STDOUT` drained unread;
//! - **memory**: the backfill process's peak resident set, sampled every 20 ms.
//!
//! Each round rebuilds the table, then times COPY, backfill and both reads, with a
//! `CHECKPOINT` (untimed) between steps so no step pays for the previous one's dirty pages.
//!
//!     SHIMKIT_BENCH_PG='postgresql://postgres:@/postgres?host=/tmp/pg' \
//!         ROWS=1000000 ROUNDS=3 cargo bench --bench postgres
//!
//! `WRITERS` and `BATCH_ROWS` set the backfill's `--writers` (2) and `--batch-rows` (4096).
//!
//! The database `shimkit_bench` is dropped and recreated (and kept at the end with `KEEP=1`).

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ndarray::{Array1, Array2};
use postgres::{Client, NoTls};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use shimkit_postgres::{PgReader, PgTable, ReadOptions};
use shimkit_trainer::{Direction, Shim, ShimMeta, artifact};

const DIM: usize = 768;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}={v}")))
        .unwrap_or(default)
}

fn with_database(url: &str, database: &str) -> String {
    let (head, query) = url.split_once('?').unwrap_or((url, ""));
    let base = &head[..=head.rfind('/').unwrap()];
    format!("{base}{database}?{query}")
}

/// Binary COPY of `rows` vectors into `table` (id, embedding), from one seed.
fn copy_in(client: &mut Client, table: &str, rows: usize, seed: u64) -> f64 {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let started = Instant::now();
    let mut w = client
        .copy_in(&format!(
            "COPY {table} (id, embedding) FROM STDIN (FORMAT binary)"
        ))
        .unwrap();
    let mut buf = Vec::with_capacity(4 << 20);
    buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
    buf.extend_from_slice(&0i32.to_be_bytes());
    buf.extend_from_slice(&0i32.to_be_bytes());
    let mut v = vec![0f32; DIM];
    for id in 0..rows as i64 {
        let mut norm = 0f32;
        for x in v.iter_mut() {
            *x = rng.random_range(-1.0f32..1.0);
            norm += *x * *x;
        }
        let scale = norm.sqrt().recip();
        buf.extend_from_slice(&2i16.to_be_bytes());
        buf.extend_from_slice(&8i32.to_be_bytes());
        buf.extend_from_slice(&id.to_be_bytes());
        buf.extend_from_slice(&((4 + 4 * DIM) as i32).to_be_bytes());
        buf.extend_from_slice(&(DIM as u16).to_be_bytes());
        buf.extend_from_slice(&0u16.to_be_bytes());
        for x in &v {
            buf.extend_from_slice(&(x * scale).to_be_bytes());
        }
        if buf.len() > (4 << 20) {
            w.write_all(&buf).unwrap();
            buf.clear();
        }
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
    w.write_all(&buf).unwrap();
    w.finish().unwrap();
    started.elapsed().as_secs_f64()
}

fn fresh_table(client: &mut Client, table: &str) {
    client
        .batch_execute(&format!(
            "DROP TABLE IF EXISTS {table}; CREATE TABLE {table} (id bigint PRIMARY KEY, embedding vector({DIM}))"
        ))
        .unwrap();
}

fn checkpoint(client: &mut Client) {
    client.batch_execute("CHECKPOINT").unwrap();
}

/// Runs the shimkit binary; (seconds, peak resident set in MiB).
fn backfill(shim: &str, db: &str) -> (f64, f64) {
    let table = format!("{db}&table=src");
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_shimkit"))
        .args(["project", "-q", "--shim", shim, "--input", &table])
        .args(["--output", &format!("{table}&vector=embedding_next")])
        .args(["--writers", &env("WRITERS", 2).to_string()])
        .args(["--batch-rows", &env("BATCH_ROWS", 4096).to_string()])
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let status = format!("/proc/{}/status", child.id());
    let mut peak_kib = 0u64;
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            assert!(s.success(), "shimkit project failed");
            break;
        }
        let kib = std::fs::read_to_string(&status).ok().and_then(|text| {
            text.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        });
        peak_kib = peak_kib.max(kib.unwrap_or(0));
        std::thread::sleep(Duration::from_millis(20));
    }
    (started.elapsed().as_secs_f64(), peak_kib as f64 / 1024.0)
}

fn read_raw(client: &mut Client) -> (f64, u64) {
    let started = Instant::now();
    let mut r = client
        .copy_out("COPY (SELECT id, embedding FROM src) TO STDOUT (FORMAT binary)")
        .unwrap();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        bytes += n as u64;
    }
    (started.elapsed().as_secs_f64(), bytes)
}

fn read_shimkit(db: &str) -> (f64, usize) {
    let table = PgTable::parse(&format!("{db}&table=src")).unwrap();
    let started = Instant::now();
    let mut rows = 0;
    for batch in PgReader::open(&table, ReadOptions::default()).unwrap() {
        rows += batch.unwrap().ids.len();
    }
    (started.elapsed().as_secs_f64(), rows)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let Ok(server) = std::env::var("SHIMKIT_BENCH_PG") else {
        eprintln!(
            "set SHIMKIT_BENCH_PG to a PostgreSQL URL (tests/python/pg_server.py start DIR prints one)"
        );
        return;
    };
    let rows = env("ROWS", 1_000_000);
    let rounds = env("ROUNDS", 3);
    let mut admin = Client::connect(&server, NoTls).unwrap();
    admin
        .batch_execute("DROP DATABASE IF EXISTS shimkit_bench WITH (FORCE)")
        .unwrap();
    admin
        .batch_execute("CREATE DATABASE shimkit_bench")
        .unwrap();
    let db = with_database(&server, "shimkit_bench");
    let mut client = Client::connect(&db, NoTls).unwrap();
    client.batch_execute("CREATE EXTENSION vector").unwrap();
    for setting in [
        "shared_buffers",
        "max_wal_size",
        "synchronous_commit",
        "wal_level",
    ] {
        let value: String = client
            .query_one(&format!("SHOW {setting}"), &[])
            .unwrap()
            .get(0);
        println!("{setting} = {value}");
    }

    let dir = tempfile::tempdir().unwrap();
    let shim_path = dir.path().join("shim.safetensors");
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let w = Array2::from_shape_fn((DIM, DIM), |_| rng.random_range(-1.0f32..1.0));
    let shim = Shim::new(
        w,
        Array1::zeros(DIM),
        ShimMeta::new("ridge", Direction::OldToNew, DIM, DIM),
    );
    artifact::save(&shim, &shim_path).unwrap();
    let shim_path = shim_path.to_str().unwrap().to_owned();

    let (mut copy_s, mut backfill_s, mut raw_s, mut reader_s, mut peaks) =
        (vec![], vec![], vec![], vec![], vec![]);
    for round in 0..rounds {
        fresh_table(&mut client, "src");
        let setup = copy_in(&mut client, "src", rows, round as u64);
        client.batch_execute("VACUUM ANALYZE src").unwrap();
        checkpoint(&mut client);

        fresh_table(&mut client, "copy_target");
        let copy = copy_in(&mut client, "copy_target", rows, round as u64);
        checkpoint(&mut client);
        client.batch_execute("DROP TABLE copy_target").unwrap();
        checkpoint(&mut client);

        let (fill, peak) = backfill(&shim_path, &db);
        let filled: i64 = client
            .query_one("SELECT count(embedding_next) FROM src", &[])
            .unwrap()
            .get(0);
        assert_eq!(filled as usize, rows);
        checkpoint(&mut client);

        let (raw, bytes) = read_raw(&mut client);
        let (reader, read_rows) = read_shimkit(&db);
        assert_eq!(read_rows, rows);
        println!(
            "round {round}: setup COPY {setup:.1} s; COPY into an equal table {copy:.1} s ({:.0} rows/s); \
             backfill {fill:.1} s ({:.0} rows/s, {:.0}% of COPY, peak RSS {peak:.0} MiB); \
             read: COPY TO {raw:.1} s ({} MiB), PgReader {reader:.1} s ({:.0}% of COPY TO)",
            rows as f64 / copy,
            rows as f64 / fill,
            100.0 * copy / fill,
            bytes >> 20,
            100.0 * raw / reader,
        );
        copy_s.push(copy);
        backfill_s.push(fill);
        raw_s.push(raw);
        reader_s.push(reader);
        peaks.push(peak);
    }
    let (copy, fill, raw, reader) = (
        median(copy_s),
        median(backfill_s),
        median(raw_s),
        median(reader_s),
    );
    println!(
        "median of {rounds} rounds, {rows} x {DIM}: COPY {:.0} rows/s, backfill {:.0} rows/s = {:.0}% of COPY; \
         COPY TO {:.0} rows/s, PgReader {:.0} rows/s = {:.0}% of COPY TO; backfill peak RSS {:.0} MiB",
        rows as f64 / copy,
        rows as f64 / fill,
        100.0 * copy / fill,
        rows as f64 / raw,
        rows as f64 / reader,
        100.0 * raw / reader,
        median(peaks),
    );
    drop(client);
    if std::env::var_os("KEEP").is_none() {
        admin
            .batch_execute("DROP DATABASE shimkit_bench WITH (FORCE)")
            .unwrap();
    }
}
