//! The evaluation's searches in PostgreSQL: [`Searcher`] over [`SearchIndex`].

use std::sync::{Arc, Mutex};

use anyhow::Context;
use shimkit_postgres::{SearchIndex, SearchMode};
use shimkit_trainer::eval::{Docs, Hit, Ranking, Searcher};

/// The evaluation's searches, run in PostgreSQL.
pub struct PgSearcher {
    index: Arc<Mutex<SearchIndex>>,
    mode: SearchMode,
}

impl PgSearcher {
    pub fn open(url: &str) -> anyhow::Result<Arc<Mutex<SearchIndex>>> {
        let db = shimkit_postgres::Database::parse(url).context("--search")?;
        Self::open_db(&db)
    }

    pub fn open_db(db: &shimkit_postgres::Database) -> anyhow::Result<Arc<Mutex<SearchIndex>>> {
        Ok(Arc::new(Mutex::new(SearchIndex::open(db)?)))
    }

    pub fn new(index: Arc<Mutex<SearchIndex>>, mode: SearchMode) -> Self {
        PgSearcher { index, mode }
    }
}

impl Searcher for PgSearcher {
    fn search(
        &self,
        queries: ndarray::ArrayView2<'_, f32>,
        docs: Docs<'_>,
        k: usize,
    ) -> shimkit_trainer::Result<Vec<Ranking>> {
        let mut index = self
            .index
            .lock()
            .map_err(|_| shimkit_trainer::TrainError::Invalid {
                what: "search",
                message: "an earlier search failed mid-way".into(),
            })?;
        let found = index
            .search(
                queries,
                shimkit_postgres::DocSet {
                    vectors: docs.vectors,
                    rows: docs.rows,
                    offsets: docs.offsets,
                },
                k,
                self.mode,
            )
            .map_err(|e| shimkit_data::DataError::Store(Box::new(e)))?;
        Ok(found
            .into_iter()
            .map(|list| {
                list.into_iter()
                    .map(|n| Hit {
                        doc: n.row,
                        score: n.score,
                    })
                    .collect()
            })
            .collect())
    }
}
