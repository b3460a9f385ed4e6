//! Switching which column the application reads, and back.
//!
//! A cutover renames columns in one transaction: the column the application reads
//! (`embedding`) becomes `embedding_previous`, and the filled column (`embedding_next`)
//! takes its name, each with its provenance column. The application's queries, and the
//! indexes (which follow columns, not names), need no change. The renames are recorded in
//! `shimkit.cutovers`; a rollback applies their inverses in reverse order, so the table is
//! exactly as it was, indexes included. Views read columns by position, not name, so a
//! rename under a view would silently change what it returns: a column a view reads is
//! refused.

use crate::backfill::provenance_column;
use crate::catalog::{self, TableInfo};
use crate::error::{PgError, Result};
use crate::location::{PgTable, quote_ident};
use crate::session::Session;
use crate::state;

/// A cutover as recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Cutover {
    pub table: String,
    /// The column name the application reads.
    pub reads: String,
    /// The column that was renamed to it.
    pub switched_to: String,
    /// `(from, to)`, in the order applied.
    pub renames: Vec<(String, String)>,
    pub at: String,
}

/// What a cutover checks before it renames.
#[derive(Debug, Clone, Copy, Default)]
pub struct CutoverOptions {
    /// Cut over even though some rows have no vector in the new column.
    pub allow_missing: bool,
}

/// Makes `to` the column named `location.vector`.
pub fn cutover(location: &PgTable, to: &str, options: CutoverOptions) -> Result<Cutover> {
    let mut session = Session::open(&location.db)?;
    state::ensure(&mut session)?;
    let info = session.table(location)?;
    let key = info.name.to_string();
    let db = session.db.clone();
    let fail = |message: String| PgError::Table {
        db: db.clone(),
        table: key.clone(),
        message,
    };
    if let Some(c) = recorded(&mut session, &key)? {
        return Err(fail(format!(
            "already cut over to \"{}\" (at {}); roll back first",
            c.switched_to, c.at
        )));
    }
    let reads = location.vector.as_str();
    if reads == to {
        return Err(fail(format!(
            "\"{to}\" is already the column the application reads"
        )));
    }
    info.vector_column(&db, reads)?;
    info.vector_column(&db, to)?;
    let previous = format!("{reads}_previous");
    let mut renames = vec![(reads.to_owned(), previous.clone())];
    if info.column(&provenance_column(reads)).is_some() {
        renames.push((provenance_column(reads), provenance_column(&previous)));
    }
    renames.push((to.to_owned(), reads.to_owned()));
    if info.column(&provenance_column(to)).is_some() {
        renames.push((provenance_column(to), provenance_column(reads)));
    }
    check_renames(&info, &renames).map_err(&fail)?;
    for column in [reads, to] {
        let views = catalog::dependents_of(&mut session.client, &db, &info, column)?;
        if !views.is_empty() {
            return Err(fail(format!(
                "{} read{} column \"{column}\" by position; a rename would change what {} return. Recreate {} after the cutover, or drop {} first",
                views.join(", "),
                if views.len() == 1 { "s" } else { "" },
                if views.len() == 1 {
                    "it would"
                } else {
                    "they would"
                },
                if views.len() == 1 { "it" } else { "them" },
                if views.len() == 1 { "it" } else { "them" },
            )));
        }
    }
    if !options.allow_missing {
        let missing = missing_rows(&mut session, &info, reads, to)?;
        if missing > 0 {
            return Err(fail(format!(
                "{missing} rows have a vector in \"{reads}\" but none in \"{to}\": the backfill is not finished (--allow-missing cuts over anyway)"
            )));
        }
    }
    let renames_json = serde_json::to_string(&renames).unwrap_or_default();
    let db2 = db.clone();
    let err = move |e: postgres::Error| PgError::query(&db2, "cutting over", &e);
    let mut tx = session.client.transaction().map_err(err.clone())?;
    rename_columns(&mut tx, &info, &renames).map_err(err.clone())?;
    let at: String = tx
        .query_one(
            "INSERT INTO shimkit.cutovers (target_table, reads, switched_to, renames)
             VALUES ($1, $2, $3, $4) RETURNING at::text",
            &[&key, &reads, &to, &renames_json],
        )
        .map_err(err.clone())?
        .get(0);
    tx.commit().map_err(err)?;
    Ok(Cutover {
        table: key,
        reads: reads.to_owned(),
        switched_to: to.to_owned(),
        renames,
        at,
    })
}

/// Undoes the recorded cutover of `location`'s table.
pub fn rollback(location: &PgTable) -> Result<Cutover> {
    let mut session = Session::open(&location.db)?;
    state::ensure(&mut session)?;
    let info = session.table(location)?;
    let key = info.name.to_string();
    let db = session.db.clone();
    let Some(cut) = recorded(&mut session, &key)? else {
        return Err(PgError::Table {
            db,
            table: key,
            message: "no cutover is recorded for this table; nothing to roll back".into(),
        });
    };
    let inverse: Vec<(String, String)> = cut
        .renames
        .iter()
        .rev()
        .map(|(from, to)| (to.clone(), from.clone()))
        .collect();
    check_renames(&info, &inverse).map_err(|message| PgError::Table {
        db: db.clone(),
        table: key.clone(),
        message: format!("the table changed since the cutover: {message}"),
    })?;
    let db2 = db.clone();
    let err = move |e: postgres::Error| PgError::query(&db2, "rolling back", &e);
    let mut tx = session.client.transaction().map_err(err.clone())?;
    rename_columns(&mut tx, &info, &inverse).map_err(err.clone())?;
    tx.execute(
        "DELETE FROM shimkit.cutovers WHERE target_table = $1",
        &[&key],
    )
    .map_err(err.clone())?;
    tx.commit().map_err(err)?;
    Ok(cut)
}

/// The cutover recorded for a table, if any.
pub fn recorded(session: &mut Session, key: &str) -> Result<Option<Cutover>> {
    let err = session.err("reading the recorded cutover");
    let row = session
        .client
        .query_opt(
            "SELECT reads, switched_to, renames, at::text FROM shimkit.cutovers WHERE target_table = $1",
            &[&key],
        )
        .map_err(err)?;
    Ok(row.map(|r| {
        let renames: String = r.get(2);
        Cutover {
            table: key.to_owned(),
            reads: r.get(0),
            switched_to: r.get(1),
            renames: serde_json::from_str(&renames).unwrap_or_default(),
            at: r.get(3),
        }
    }))
}

/// Each rename's source exists, and its target is free once the earlier renames are done.
fn check_renames(
    info: &TableInfo,
    renames: &[(String, String)],
) -> std::result::Result<(), String> {
    let mut names: Vec<String> = info.columns.iter().map(|c| c.name.clone()).collect();
    for (from, to) in renames {
        if to.len() > 63 {
            return Err(format!("the column name \"{to}\" is over 63 bytes"));
        }
        let Some(i) = names.iter().position(|n| n == from) else {
            return Err(format!("column \"{from}\" is missing"));
        };
        if names.iter().any(|n| n == to) {
            return Err(format!(
                "column \"{to}\" already exists (left by an earlier migration?); drop or rename it first"
            ));
        }
        names[i] = to.clone();
    }
    Ok(())
}

fn missing_rows(session: &mut Session, info: &TableInfo, reads: &str, to: &str) -> Result<i64> {
    let err = session.err("counting rows without a new vector");
    Ok(session
        .client
        .query_one(
            &format!(
                "SELECT count(*) FROM {} WHERE {} IS NOT NULL AND {} IS NULL",
                info.name.sql(),
                quote_ident(reads),
                quote_ident(to)
            ),
            &[],
        )
        .map_err(err)?
        .get(0))
}

/// The renames, in order, inside the caller's transaction.
fn rename_columns(
    tx: &mut postgres::Transaction<'_>,
    info: &TableInfo,
    renames: &[(String, String)],
) -> std::result::Result<(), postgres::Error> {
    for (from, to) in renames {
        tx.batch_execute(&format!(
            "ALTER TABLE {} RENAME COLUMN {} TO {}",
            info.name.sql(),
            quote_ident(from),
            quote_ident(to)
        ))?;
    }
    Ok(())
}
