//! `inspect` of a PostgreSQL table: the report, printed.

use shimkit_postgres::PgTable;
use shimkit_postgres::inspect::TableReport;

/// Prints `inspect`'s report of a table.
pub fn inspect(location: &PgTable, json: bool) -> anyhow::Result<bool> {
    let report = shimkit_postgres::inspect::inspect(location)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_report(&report);
    }
    Ok(report.problems.is_empty())
}

fn print_report(r: &TableReport) {
    println!(
        "{} table {}  (pgvector {})",
        r.database, r.table, r.pgvector
    );
    println!(
        "  rows        {}  ({} on disk)",
        r.rows,
        shimkit_trainer::human_bytes(r.size_bytes as f64)
    );
    println!(
        "  id          \"{}\" {}, {}{}",
        r.id.column,
        r.id.sql_type,
        if r.id.unique_index {
            "unique index"
        } else {
            "no unique index"
        },
        if r.id.null_ids > 0 {
            format!(", {} NULL", r.id.null_ids)
        } else {
            String::new()
        }
    );
    println!(
        "  vector      \"{}\" {}{}, {} NULL",
        r.vector.column,
        r.vector.sql_type,
        r.vector
            .dim
            .map(|d| format!(" ({d} dimensions)"))
            .unwrap_or_default(),
        r.vector.null_vectors
    );
    if let Some(p) = &r.vector.provenance {
        let parts: Vec<String> = p.iter().map(|(k, n)| format!("{n} {k}")).collect();
        println!("  provenance  {}", parts.join(", "));
    }
    for i in &r.vector.indexes {
        println!("  index       {} ({}): {}", i.name, i.method, i.definition);
    }
    for c in &r.vector_columns {
        println!(
            "  column      \"{}\" {}: {} filled",
            c.column, c.sql_type, c.filled
        );
    }
    if let Some(b) = &r.backfill {
        println!(
            "  backfill    {} rows written{} (from {}; updated {})",
            b.rows_written,
            if b.finished {
                ", finished"
            } else {
                ", not finished"
            },
            b.input,
            b.updated_at
        );
    }
    if let Some(c) = &r.cutover {
        println!(
            "  cutover     \"{}\" reads what was \"{}\" (since {})",
            c.reads, c.switched_to, c.at
        );
    }
    for p in &r.problems {
        println!("  problem     {p}");
    }
}
