//! The one error type of the PostgreSQL store.
//!
//! Every message names the database (without its password) and, where they apply, the
//! table, the column and the row's id. Errors from the server are turned into text here
//! (its message, detail and hint), so that a message printed with its causes says each
//! thing once.

/// Shorthand for results of this crate.
pub type Result<T, E = PgError> = std::result::Result<T, E>;

/// What went wrong talking to PostgreSQL, or with what it holds.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("{url}: not a PostgreSQL table URL: {message}")]
    Url { url: String, message: String },

    #[error("{db}: cannot connect: {message}")]
    Connect { db: String, message: String },

    #[error("{db}: {what}: {message}")]
    Query {
        db: String,
        what: String,
        message: String,
        /// The connection is gone (dropped, or the server restarted): a rerun resumes.
        lost: bool,
    },

    #[error(
        "{db}: the pgvector extension is not installed in this database (run CREATE EXTENSION vector; shimkit needs pgvector 0.5 or later)"
    )]
    NoExtension { db: String },

    #[error("{db}: pgvector {found} is installed; shimkit needs 0.5 or later")]
    OldExtension { db: String, found: String },

    #[error("{db}: table {table} does not exist")]
    NoTable { db: String, table: String },

    #[error("{db}: table {table} has no column \"{column}\" (it has: {available})")]
    NoColumn {
        db: String,
        table: String,
        column: String,
        available: String,
    },

    #[error("{db}: table {table}, column \"{column}\" is {found}; {expected}")]
    ColumnType {
        db: String,
        table: String,
        column: String,
        found: String,
        expected: String,
    },

    #[error("{db}: table {table}, {row}: {message}")]
    Row {
        db: String,
        table: String,
        /// `id 42`, or `row 7` where there is no id to name.
        row: String,
        message: String,
    },

    #[error("{db}: table {table}: {message}")]
    Table {
        db: String,
        table: String,
        message: String,
    },

    #[error(transparent)]
    Data(#[from] shimkit_data::DataError),
}

impl PgError {
    /// Whether the connection was lost: the run can be resumed by running it again.
    pub fn is_connection_lost(&self) -> bool {
        matches!(self, PgError::Query { lost: true, .. })
    }

    /// An error from the server or the connection, while doing `what`.
    pub(crate) fn query(db: &str, what: impl Into<String>, e: &postgres::Error) -> Self {
        let lost = e.is_closed()
            || e.code()
                .is_some_and(|c| c.code().starts_with("57P") || c.code().starts_with("08"))
            || e.as_db_error().is_none()
                && (e.to_string().contains("connection") || has_io_cause(e));
        let mut message = server_message(e);
        if lost {
            message.push_str(
                " (the connection was lost: everything committed is kept, and running the same command again continues from there)",
            );
        }
        PgError::Query {
            db: db.to_owned(),
            what: what.into(),
            message,
            lost,
        }
    }
}

/// Whether the client's error comes from the socket (a reset, a broken pipe): the
/// client calls that "error communicating with the server", without the word connection.
fn has_io_cause(e: &postgres::Error) -> bool {
    let mut cause = std::error::Error::source(e);
    while let Some(c) = cause {
        if c.is::<std::io::Error>() {
            return true;
        }
        cause = c.source();
    }
    false
}

/// The server's own words (message, detail, hint), or the client's when there are none.
pub(crate) fn server_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut text = db.message().to_owned();
            if let Some(detail) = db.detail() {
                text.push_str(&format!(" ({detail})"));
            }
            if let Some(hint) = db.hint() {
                text.push_str(&format!("; hint: {hint}"));
            }
            text
        }
        // The client's own error says its kind; its causes say why.
        None => {
            let mut text = e.to_string();
            let mut cause = std::error::Error::source(e);
            while let Some(c) = cause {
                let said = c.to_string();
                if !text.contains(&said) {
                    text.push_str(&format!(": {said}"));
                }
                cause = c.source();
            }
            text
        }
    }
}
