//! One connection, checked: pgvector is there and new enough, and string literals mean
//! what they say.

use postgres::Client;

use crate::catalog::{self, TableInfo};
use crate::error::{PgError, Result};
use crate::location::{Database, PgTable};

/// A connection and the name of its database, for messages.
pub struct Session {
    pub client: Client,
    pub db: String,
    /// The installed pgvector version.
    pub pgvector: String,
}

impl Session {
    /// Connects and checks the extension.
    pub fn open(database: &Database) -> Result<Session> {
        let mut client = database.connect()?;
        let db = database.label().to_owned();
        // Literals in COPY statements (which take no parameters) rely on this.
        client
            .batch_execute("SET standard_conforming_strings = on")
            .map_err(|e| PgError::query(&db, "setting up the session", &e))?;
        let pgvector = catalog::check_pgvector(&mut client, &db)?;
        Ok(Session {
            client,
            db,
            pgvector,
        })
    }

    /// The table's catalog entry, or an error saying it does not exist.
    pub fn table(&mut self, location: &PgTable) -> Result<TableInfo> {
        catalog::table(&mut self.client, location)
    }

    /// Maps a client error met while doing `what`.
    pub fn err<W: Into<String>>(
        &self,
        what: W,
    ) -> impl FnOnce(postgres::Error) -> PgError + use<W> {
        let db = self.db.clone();
        let what = what.into();
        move |e| PgError::query(&db, what, &e)
    }

    /// Runs statements with no result.
    pub fn batch(&mut self, what: &str, sql: &str) -> Result<()> {
        let db = self.db.clone();
        self.client
            .batch_execute(sql)
            .map_err(|e| PgError::query(&db, what, &e))
    }
}

/// A SQL literal for an id, for statements that take no parameters (COPY).
pub fn id_literal(id: &str, kind: catalog::IdType) -> std::result::Result<String, String> {
    match kind {
        catalog::IdType::Text => {
            if id.contains('\0') {
                return Err(format!("the id {id:?} holds a NUL byte"));
            }
            Ok(format!("'{}'", id.replace('\'', "''")))
        }
        catalog::IdType::Int4 | catalog::IdType::Int8 => id
            .parse::<i64>()
            .map(|v| v.to_string())
            .map_err(|_| format!("the id {id:?} is not an integer")),
    }
}
