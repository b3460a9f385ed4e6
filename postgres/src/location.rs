//! Where a table lives: a PostgreSQL URL with shimkit's three parameters.
//!
//! ```text
//! postgresql://USER@HOST:PORT/DB?table=SCHEMA.TABLE&id=ID_COLUMN&vector=VECTOR_COLUMN
//! ```
//!
//! `table`, `id` and `vector` are shimkit's and are removed before connecting; every other
//! parameter is the client's (`host=/path/to/socket/dir`, `sslmode`, `connect_timeout`,
//! ...). Names are used exactly as written and quoted in every statement, so mixed case,
//! schemas and reserved words work; a dot separates schema from table unless it is inside
//! double quotes (`table="my.schema"."Docs"`).

use std::str::FromStr;
use std::time::Duration;

use crate::error::{PgError, Result};

/// How long a connection attempt may take when the URL does not say.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A database to connect to, and how to name it in messages (never with its password).
#[derive(Clone)]
pub struct Database {
    config: postgres::Config,
    label: String,
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.label)
    }
}

impl Database {
    /// A database URL that names no table (`eval --search`).
    pub fn parse(url: &str) -> Result<Self> {
        let (db, params) = parse_url(url)?;
        if let Some((key, _)) = params.into_iter().next() {
            return Err(PgError::Url {
                url: db.label,
                message: format!("`{key}=` names a table's parts, but a database is expected here"),
            });
        }
        Ok(db)
    }

    /// The database as messages name it: `postgresql://user@host:port/db`.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Opens a connection. Only unencrypted connections are built in (a Unix socket, or
    /// TCP where `sslmode` allows it).
    pub fn connect(&self) -> Result<postgres::Client> {
        if !matches!(
            self.config.get_ssl_mode(),
            postgres::config::SslMode::Disable | postgres::config::SslMode::Prefer
        ) {
            return Err(PgError::Connect {
                db: self.label.clone(),
                message: "the URL asks for TLS (sslmode), which this build of shimkit does not have; connect through a Unix socket or an SSH tunnel, or drop sslmode".into(),
            });
        }
        self.config
            .connect(postgres::NoTls)
            .map_err(|e| PgError::Connect {
                db: self.label.clone(),
                message: crate::error::server_message(&e),
            })
    }
}

/// A schema-qualified table name, as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TableName {
    pub schema: Option<String>,
    pub name: String,
}

impl TableName {
    pub fn new(schema: Option<&str>, name: &str) -> Self {
        TableName {
            schema: schema.map(str::to_owned),
            name: name.to_owned(),
        }
    }

    /// The name quoted for SQL: `"schema"."table"`.
    pub fn sql(&self) -> String {
        match &self.schema {
            Some(s) => format!("{}.{}", quote_ident(s), quote_ident(&self.name)),
            None => quote_ident(&self.name),
        }
    }

    /// Parses `table`, `schema.table` or either part in double quotes.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let parts = split_qualified(text)?;
        match parts.as_slice() {
            [name] => Ok(TableName::new(None, name)),
            [schema, name] => Ok(TableName::new(Some(schema), name)),
            _ => Err(format!(
                "table {text:?} has more than two dot-separated parts (schema.table; quote a name that holds a dot)"
            )),
        }
    }
}

impl std::fmt::Display for TableName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.schema {
            Some(s) => write!(f, "{s}.{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// An embedding table in a database: the table, its id column and its vector column.
#[derive(Debug, Clone)]
pub struct PgTable {
    pub db: Database,
    pub table: TableName,
    pub id: String,
    pub vector: String,
}

impl PgTable {
    /// Parses a table URL; `table=` is required, `id` defaults to `id` and `vector` to
    /// `embedding`.
    pub fn parse(url: &str) -> Result<Self> {
        let (db, params) = parse_url(url)?;
        let bad = |message: String| PgError::Url {
            url: db.label.clone(),
            message,
        };
        let mut table = None;
        let mut id = None;
        let mut vector = None;
        for (key, value) in params {
            let slot = match key.as_str() {
                "table" => &mut table,
                "id" => &mut id,
                _ => &mut vector,
            };
            if slot.replace(value).is_some() {
                return Err(bad(format!("`{key}=` is given twice")));
            }
        }
        let table = table.ok_or_else(|| {
            bad(
                "no `table=` parameter (postgresql://...?table=SCHEMA.TABLE&id=ID&vector=COLUMN)"
                    .into(),
            )
        })?;
        let table = TableName::parse(&table).map_err(bad)?;
        let id = id.unwrap_or_else(|| "id".to_owned());
        let vector = vector.unwrap_or_else(|| "embedding".to_owned());
        for (what, name) in [("id", &id), ("vector", &vector), ("table", &table.name)] {
            check_name(what, name).map_err(bad)?;
        }
        if let Some(schema) = &table.schema {
            check_name("schema", schema).map_err(bad)?;
        }
        Ok(PgTable {
            db,
            table,
            id,
            vector,
        })
    }

    /// The same table with another vector column.
    pub fn with_vector(&self, column: &str) -> Self {
        PgTable {
            vector: column.to_owned(),
            ..self.clone()
        }
    }

    /// `postgresql://user@host/db table public.docs`: what messages say.
    pub fn label(&self) -> String {
        format!("{} table {}", self.db.label, self.table)
    }
}

impl std::fmt::Display for PgTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}.{}, id {})",
            self.db.label, self.table, self.vector, self.id
        )
    }
}

/// Whether a command-line argument names a PostgreSQL location rather than a file.
pub fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgresql://") || text.starts_with("postgres://")
}

/// Quotes an identifier for SQL, doubling any quote inside it.
pub fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Splits the connection URL from shimkit's parameters (`table`, `id`, `vector`).
fn parse_url(url: &str) -> Result<(Database, Vec<(String, String)>)> {
    let invalid = |message: String| PgError::Url {
        url: redact(url),
        message,
    };
    if !is_postgres_url(url) {
        return Err(invalid(
            "it must start with postgresql:// or postgres://".into(),
        ));
    }
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(key).map_err(&invalid)?;
        if matches!(key.as_str(), "table" | "id" | "vector") {
            ours.push((key, percent_decode(value).map_err(&invalid)?));
        } else {
            theirs.push(pair);
        }
    }
    let rebuilt = if theirs.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", theirs.join("&"))
    };
    let mut config = postgres::Config::from_str(&rebuilt)
        .map_err(|e| invalid(crate::error::server_message(&e)))?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(DEFAULT_CONNECT_TIMEOUT);
    }
    // As libpq does: a password from the environment keeps it out of the URL (and `ps`).
    if config.get_password().is_none()
        && let Ok(password) = std::env::var("PGPASSWORD")
    {
        config.password(password);
    }
    config.application_name("shimkit");
    let label = label(&config);
    Ok((Database { config, label }, ours))
}

/// `postgresql://user@host:port/db`, from what the client will use (no password).
fn label(config: &postgres::Config) -> String {
    let user = config.get_user().unwrap_or("");
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let ports: Vec<String> = config.get_ports().iter().map(|p| p.to_string()).collect();
    let host = match (hosts.as_slice(), ports.as_slice()) {
        ([], _) => "localhost".to_owned(),
        (h, []) => h.join(","),
        (h, p) => format!("{}:{}", h.join(","), p.join(",")),
    };
    let db = config.get_dbname().unwrap_or(user);
    if user.is_empty() {
        format!("postgresql://{host}/{db}")
    } else {
        format!("postgresql://{user}@{host}/{db}")
    }
}

/// The URL without its password, for messages about a URL that does not parse.
fn redact(url: &str) -> String {
    let Some(rest) = url.split_once("://").map(|(_, r)| r) else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or("");
            let scheme = &url[..url.len() - rest.len()];
            let tail = &rest[authority_end..];
            let tail = tail.split('?').next().unwrap_or("");
            format!("{scheme}{user}@{host}{tail}")
        }
        None => {
            let scheme = &url[..url.len() - rest.len()];
            format!("{scheme}{}", rest.split('?').next().unwrap_or(""))
        }
    }
}

fn percent_decode(text: &str) -> std::result::Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| format!("bad percent-escape in {text:?}"))?;
                out.push(hex);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| format!("{text:?} is not UTF-8 once decoded"))
}

/// `a.b` → [a, b]; `"a.b"` → [a.b]; `""` inside quotes is a quote.
fn split_qualified(text: &str) -> std::result::Result<Vec<String>, String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    let mut quoted = false;
    let mut was_quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) if current.is_empty() && !was_quoted => {
                quoted = true;
                was_quoted = true;
            }
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                current.push('"');
            }
            ('"', true) => quoted = false,
            ('.', false) => {
                parts.push(std::mem::take(&mut current));
                was_quoted = false;
            }
            (c, true) => current.push(c),
            ('"', false) => return Err(format!("{text:?}: a quote in the middle of a name")),
            (c, false) => current.push(c),
        }
    }
    if quoted {
        return Err(format!("{text:?}: an unclosed double quote"));
    }
    parts.push(current);
    if parts.iter().any(|p| p.is_empty()) {
        return Err(format!("{text:?}: an empty name"));
    }
    Ok(parts)
}

fn check_name(what: &str, name: &str) -> std::result::Result<(), String> {
    if name.is_empty() {
        return Err(format!("the {what} name is empty"));
    }
    if name.contains('\0') {
        return Err(format!("the {what} name {name:?} holds a NUL byte"));
    }
    // PostgreSQL truncates longer names silently; a truncated name is another column.
    if name.len() > 63 {
        return Err(format!(
            "the {what} name {name:?} is {} bytes; PostgreSQL names have at most 63",
            name.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shimkit_parameters_are_taken_out_and_the_rest_is_the_clients() {
        let t = PgTable::parse(
            "postgresql://app:secret@db.example:6543/prod?sslmode=disable&table=search.Docs&id=doc_id&vector=emb%20v1",
        )
        .unwrap();
        assert_eq!(t.table, TableName::new(Some("search"), "Docs"));
        assert_eq!((t.id.as_str(), t.vector.as_str()), ("doc_id", "emb v1"));
        assert_eq!(t.db.label(), "postgresql://app@db.example:6543/prod");
        assert!(!format!("{t} {:?}", t.db).contains("secret"));
    }

    #[test]
    fn defaults_and_a_unix_socket() {
        let t = PgTable::parse("postgresql://postgres:@/postgres?host=/tmp/pg&table=docs").unwrap();
        assert_eq!((t.id.as_str(), t.vector.as_str()), ("id", "embedding"));
        assert_eq!(t.table.sql(), "\"docs\"");
        assert!(t.db.label().contains("/tmp/pg"), "{}", t.db.label());
    }

    #[test]
    fn names_are_quoted_and_dots_in_quotes_stay() {
        let n = TableName::parse(r#""my.schema"."Od""d""#).unwrap();
        assert_eq!(n, TableName::new(Some("my.schema"), "Od\"d"));
        assert_eq!(n.sql(), r#""my.schema"."Od""d""#);
        assert_eq!(TableName::parse("select").unwrap().sql(), "\"select\"");
        for bad in ["a.b.c", "a.", "\"open", "a\"b", ""] {
            assert!(TableName::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn tls_is_refused_before_connecting_with_what_to_do() {
        let t = PgTable::parse("postgresql://u:pw@/db?host=/nonexistent&sslmode=require&table=t")
            .unwrap();
        let e = t.db.connect().err().unwrap().to_string();
        assert!(e.contains("TLS") && e.contains("Unix socket"), "{e}");
        assert!(!e.contains("pw"), "{e}");
    }

    #[test]
    fn bad_urls_say_why_without_the_password() {
        for (url, want) in [
            ("mysql://x/y?table=t", "must start with postgresql://"),
            ("postgresql://u:pw@h/db", "no `table=`"),
            ("postgresql://u:pw@h/db?table=t&table=u", "given twice"),
            ("postgresql://u:pw@h/db?table=t&id=%zz", "percent-escape"),
            (
                "postgresql://u:pw@h/db?table=t&bogus_option=1",
                "bogus_option",
            ),
        ] {
            let e = PgTable::parse(url).unwrap_err().to_string();
            assert!(e.contains(want), "{url}: {e}");
            assert!(!e.contains("pw"), "{url}: {e}");
        }
        let e = Database::parse("postgresql://u@h/db?table=t")
            .unwrap_err()
            .to_string();
        assert!(e.contains("a database is expected"), "{e}");
    }
}
