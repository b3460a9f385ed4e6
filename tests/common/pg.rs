//! A real PostgreSQL with pgvector for the tests: the one `SHIMKIT_TEST_PG` names (CI
//! starts it with `tests/python/pg_server.py start`), else a private one started here from
//! PyPI's `pgserver` with `SHIMKIT_PYTHON`. Each test works in its own database.
//!
//! Without either, a test says so and passes, unless `SHIMKIT_REQUIRE_PG=1` (CI sets it).

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::OnceLock;

use super::{python, root};

/// A server: its URL (to the `postgres` database) and, when started here, the process
/// that keeps it up.
pub struct PgServer {
    pub url: String,
    control: Option<Control>,
}

struct Control {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

impl PgServer {
    /// The server shared by the tests of one binary.
    pub fn shared() -> Option<&'static PgServer> {
        static SHARED: OnceLock<Option<PgServer>> = OnceLock::new();
        SHARED
            .get_or_init(|| match std::env::var("SHIMKIT_TEST_PG") {
                Ok(url) if !url.is_empty() => Some(PgServer { url, control: None }),
                _ => PgServer::private(),
            })
            .as_ref()
    }

    /// A server of the test's own, which it may restart; stopped and removed when dropped,
    /// or when the test binary exits (pg_server.py sees its stdin close).
    pub fn private() -> Option<PgServer> {
        let Some(python) = python().filter(|p| has_pgserver(p)) else {
            if required() {
                panic!("SHIMKIT_REQUIRE_PG=1 but no Python with pgserver (SHIMKIT_PYTHON)");
            }
            eprintln!(
                "skipped: no PostgreSQL (set SHIMKIT_TEST_PG, or SHIMKIT_PYTHON with pgserver)"
            );
            return None;
        };
        let dir = tempfile::Builder::new()
            .prefix("shimkit-pg-")
            .tempdir()
            .unwrap()
            .keep();
        let mut child = Command::new(python)
            .arg(root().join("tests/python/pg_server.py"))
            .arg("serve")
            .arg(&dir)
            .arg("--remove")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start tests/python/pg_server.py");
        let stdin = child.stdin.take().unwrap();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        stdout.read_line(&mut line).unwrap();
        let info: serde_json::Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("pg_server.py printed {line:?}: {e}"));
        Some(PgServer {
            url: info["url"].as_str().unwrap().to_owned(),
            control: Some(Control {
                child,
                stdin,
                stdout,
            }),
        })
    }

    /// `restart`, `stop` or `start` a private server, waiting until it is done.
    pub fn order(&mut self, order: &str) {
        let control = self.control.as_mut().expect("only a private server obeys");
        writeln!(control.stdin, "{order}").unwrap();
        let mut line = String::new();
        control.stdout.read_line(&mut line).unwrap();
        assert_eq!(line.trim(), "ok", "pg_server.py {order}");
    }

    /// A new, empty database with pgvector, named after the test; its URL.
    pub fn database(&self, name: &str) -> String {
        let name = format!("t_{name}_{}", std::process::id());
        let mut admin = connect(&self.url);
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        let url = with_database(&self.url, &name);
        connect(&url)
            .batch_execute("CREATE EXTENSION vector")
            .unwrap();
        url
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if let Some(mut control) = self.control.take() {
            // Closing stdin stops the server and removes its directory.
            drop(control.stdin);
            let _ = control.child.wait();
        }
    }
}

/// A connection for the test's own checks.
pub fn connect(url: &str) -> postgres::Client {
    postgres::Client::connect(url, postgres::NoTls)
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// `url` with its database replaced.
pub fn with_database(url: &str, database: &str) -> String {
    let (head, query) = url.split_once('?').unwrap_or((url, ""));
    let base = &head[..=head.rfind('/').unwrap()];
    if query.is_empty() {
        format!("{base}{database}")
    } else {
        format!("{base}{database}?{query}")
    }
}

/// `url` naming a table and a column: shimkit's own parameters.
pub fn table(url: &str, table: &str, vector: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}table={table}&vector={vector}")
}

fn required() -> bool {
    std::env::var("SHIMKIT_REQUIRE_PG").is_ok_and(|v| v == "1")
}

fn has_pgserver(python: &Path) -> bool {
    Command::new(python)
        .args(["-c", "import pgserver"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The id and vector of every row of `table`'s `column`, ordered by the id's text (NULL
/// vectors left out), read as text so that the test does not share shimkit's binary
/// decoding.
pub fn column(client: &mut postgres::Client, table: &str, column: &str) -> Vec<(String, Vec<f32>)> {
    column_by(client, table, "id", column)
}

/// [`column`] of a table whose id column is `id`.
pub fn column_by(
    client: &mut postgres::Client,
    table: &str,
    id: &str,
    column: &str,
) -> Vec<(String, Vec<f32>)> {
    let mut rows: Vec<(String, Vec<f32>)> = client
        .query(
            &format!(
                "SELECT \"{id}\"::text, \"{column}\"::text FROM {table} WHERE \"{column}\" IS NOT NULL"
            ),
            &[],
        )
        .unwrap()
        .iter()
        .map(|row| {
            let text: String = row.get(1);
            let values = text
                .trim_matches(|c| c == '[' || c == ']')
                .split(',')
                .map(|v| v.parse::<f32>().unwrap())
                .collect();
            (row.get(0), values)
        })
        .collect();
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    rows
}
