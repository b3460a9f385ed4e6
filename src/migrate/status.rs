//! A migration's history as `migrate status` prints it, and the gate read from it.
//!
//! `migrate status --json` prints `{"cycles": [...], "events": [...]}`. Each cycle has
//! `cycle`, `at`, `share` (the re-embedded share of the table), `decision`, `gate_holds`,
//! and `paths`, whose entries use the keys of `eval`'s report (`name`, `ndcg@10`,
//! `recall@10`, `retention_ndcg@10`, `ci95_retention_ndcg@10`). It is a public
//! interface: keys are added, never renamed.

use anyhow::Context;
use serde_json::{Value, json};
use shimkit_postgres::Session;
use shimkit_postgres::migration::{CycleRecord, EventRecord, History};

use super::MigrationSpec;
use super::spec::CostSpec;

/// The history of one migration.
#[derive(Debug, Clone)]
pub struct Status {
    pub key: String,
    /// The spec's plan, as [`plan`] writes it.
    pub plan: Value,
    pub cycles: Vec<CycleRecord>,
    pub events: Vec<EventRecord>,
    pub cost: CostSpec,
}

impl Status {
    /// `spec`'s migration with no cycle and no event.
    pub fn empty(spec: &MigrationSpec) -> Status {
        Status {
            key: spec.key(),
            plan: plan(spec),
            cycles: Vec::new(),
            events: Vec::new(),
            cost: spec.cost,
        }
    }

    /// Whether the last cycle found the gate holding (no cycle: it does not).
    pub fn gate_holds(&self) -> bool {
        self.cycles
            .last()
            .and_then(|c| c.report.get("gate_holds"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }

    /// Whether the last recorded cutover has not been rolled back.
    pub fn cut_over(&self) -> bool {
        self.events
            .iter()
            .rev()
            .find(|e| e.kind == "cutover" || e.kind == "rollback")
            .is_some_and(|e| e.kind == "cutover")
    }

    pub fn to_json(&self) -> Value {
        let cycles: Vec<Value> = self
            .cycles
            .iter()
            .map(|c| {
                let mut v = match &c.report {
                    Value::Object(m) => Value::Object(m.clone()),
                    _ => json!({}),
                };
                v["cycle"] = json!(c.cycle);
                v["at"] = json!(c.at);
                v["share"] = json!(c.share);
                v["decision"] = json!(c.decision);
                v
            })
            .collect();
        json!({
            "migration": self.key,
            "plan": self.plan,
            "cycles": cycles,
            "events": self.events,
            "cut_over": self.cut_over(),
            "cost": self.cost_so_far(),
        })
    }

    /// The re-embed's cost spent and to go, at the last cycle's row counts, by the cost
    /// model of `shimkit eval` (`null` before the first cycle).
    pub fn cost_so_far(&self) -> Value {
        let Some(last) = self.cycles.last() else {
            return Value::Null;
        };
        let count = |key: &str| last.report.get(key).and_then(Value::as_i64);
        let (Some(done), Some(rows)) = (count("reembedded_rows"), count("rows")) else {
            return Value::Null;
        };
        let inputs = self.cost.inputs(rows.max(0) as u64);
        let of =
            |docs: i64| shimkit_trainer::eval::ReembedCost::of_docs(&inputs, docs.max(0) as f64);
        json!({
            "inputs": self.cost,
            "rows": rows,
            "spent": of(done),
            "to_go": of(rows - done),
        })
    }

    /// The history as a table: one line a cycle, each path's nDCG and retention interval.
    pub fn render(&self) -> String {
        let mut out = format!("migration {}\n", self.key);
        let p = &self.plan;
        out.push_str(&format!(
            "plan       {} -> {}, eval set {}; re-embedded vectors from {}; gate: retention >= {} at the {}% lower bound; cutover {}\n",
            p["old_model"].as_str().unwrap_or("?"),
            p["new_model"].as_str().unwrap_or("?"),
            p["eval_dataset"].as_str().unwrap_or("?"),
            p["incoming"].as_str().unwrap_or("?"),
            p["gate"]["target"],
            p["gate"]["confidence"].as_f64().map_or(f64::NAN, |c| 100.0 * c),
            p["cutover_date"].as_str().unwrap_or("?"),
        ));
        if self.cycles.is_empty() {
            out.push_str("no cycle has run yet (shimkit migrate run SPEC)\n");
        }
        for c in &self.cycles {
            out.push_str(&format!(
                "cycle {:>3}  {}  re-embedded {:>5.1}%  {}\n",
                c.cycle,
                c.at,
                100.0 * c.share,
                c.decision
            ));
            let paths = c.report.get("paths").and_then(Value::as_array);
            for p in paths.into_iter().flatten() {
                let name = p.get("name").and_then(Value::as_str).unwrap_or("?");
                let ndcg = first_number(p, "ndcg@");
                let retention = first_number(p, "retention_ndcg@");
                let ci = p
                    .as_object()
                    .and_then(|m| m.iter().find(|(k, _)| k.starts_with("ci95_retention")))
                    .and_then(|(_, v)| v.as_array())
                    .map(|a| {
                        let f = |i: usize| a.get(i).and_then(Value::as_f64).unwrap_or(f64::NAN);
                        format!("[{:.3}, {:.3}]", f(0), f(1))
                    })
                    .unwrap_or_default();
                let ann = first_number(p, "ann_recall@")
                    .map(|r| format!("  ANN recall {r:.3}"))
                    .unwrap_or_default();
                out.push_str(&format!(
                    "    {name:<28} nDCG {:.4}  retention {:.3} {ci}{ann}\n",
                    ndcg.unwrap_or(f64::NAN),
                    retention.unwrap_or(f64::NAN)
                ));
            }
        }
        let cost = self.cost_so_far();
        if !cost.is_null() {
            let f = |side: &str, key: &str| cost[side][key].as_f64().unwrap_or(f64::NAN);
            out.push_str(&format!(
                "cost       spent ${:.2} ({:.1} h of embedding); to go ${:.2} ({:.1} h)\n",
                f("spent", "usd"),
                f("spent", "hours"),
                f("to_go", "usd"),
                f("to_go", "hours")
            ));
        }
        for e in &self.events {
            out.push_str(&format!(
                "{}  {}{}\n",
                e.at,
                e.kind,
                if e.forced {
                    " (forced: the gate did not hold)"
                } else {
                    ""
                }
            ));
        }
        out
    }
}

/// What `spec` plans, for the history's readers (`status --json`'s `plan`).
pub fn plan(spec: &MigrationSpec) -> Value {
    json!({
        "table": spec.store.old.table.to_string(),
        "old_column": spec.store.old.vector,
        "new_column": spec.store.new.vector,
        "old_model": spec.eval.old_model,
        "new_model": spec.eval.new_model,
        "eval_dataset": spec.eval.dataset.display().to_string(),
        "k": spec.eval.k,
        "resamples": spec.eval.resamples,
        "seed": spec.eval.seed,
        "search": spec.eval.search.to_string(),
        "incoming": spec.backfill.incoming.display().to_string(),
        "rows_per_second": spec.backfill.rows_per_second,
        "shim": spec.backfill.shim.as_ref().map(|p| p.display().to_string()),
        "method": spec.backfill.method.to_string(),
        "gate": spec.gate,
        "cutover_date": spec.cutover.to_string(),
    })
}

/// The value of the first key of `path` starting with `prefix`.
fn first_number(path: &Value, prefix: &str) -> Option<f64> {
    path.as_object()?
        .iter()
        .find(|(k, _)| k.starts_with(prefix))
        .and_then(|(_, v)| v.as_f64())
}

/// The migration's history in its database, and what it says.
pub fn open(spec: &MigrationSpec) -> anyhow::Result<(History, Status)> {
    let session = Session::open(&spec.store.old.db)
        .with_context(|| format!("opening the database of {}", spec.path.display()))?;
    let mut history = History::open(session, &spec.key())?;
    let status = Status {
        cycles: history.cycles()?,
        events: history.events()?,
        ..Status::empty(spec)
    };
    Ok((history, status))
}
