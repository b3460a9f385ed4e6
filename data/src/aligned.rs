//! Pairing two tables in one streamed pass, when they list the same ids in the same order.
//!
//! Exports of one corpus by two models usually are row-aligned. Then pairs can be formed
//! batch by batch, in memory that does not grow with the table, instead of holding both
//! tables for a join. The first difference in ids (or in length) ends the stream with
//! [`AlignedItem::Misaligned`], and the caller joins in memory instead ([`crate::pair_tables`]).

use ndarray::{Array2, s};

use crate::error::Result;
use crate::prefetch::Prefetch;
use crate::reader::BatchReader;
use crate::table::EmbeddingBatch;

/// One step of an aligned read.
#[derive(Debug)]
pub enum AlignedItem {
    /// Rows that name the same ids on both sides, in order.
    Pairs {
        ids: Vec<String>,
        old: Array2<f32>,
        new: Array2<f32>,
    },
    /// The tables differ at this pair index (ids or length): they are not row-aligned.
    Misaligned {
        index: u64,
        old_id: Option<String>,
        new_id: Option<String>,
    },
}

/// Reads two tables side by side, each decoded on its own thread.
pub struct AlignedReader {
    old: Prefetch<Result<EmbeddingBatch>>,
    new: Prefetch<Result<EmbeddingBatch>>,
    head_old: Option<EmbeddingBatch>,
    head_new: Option<EmbeddingBatch>,
    index: u64,
    done: bool,
}

impl AlignedReader {
    pub fn new(old: BatchReader, new: BatchReader) -> Self {
        AlignedReader {
            old: Prefetch::new(old, 2),
            new: Prefetch::new(new, 2),
            head_old: None,
            head_new: None,
            index: 0,
            done: false,
        }
    }

    fn fill(
        slot: &mut Option<EmbeddingBatch>,
        source: &mut Prefetch<Result<EmbeddingBatch>>,
    ) -> Result<()> {
        if slot.as_ref().is_none_or(|b| b.ids.is_empty()) {
            *slot = source.next().transpose()?;
        }
        Ok(())
    }

    fn step(&mut self) -> Result<Option<AlignedItem>> {
        Self::fill(&mut self.head_old, &mut self.old)?;
        Self::fill(&mut self.head_new, &mut self.new)?;
        let (a, b) = match (&mut self.head_old, &mut self.head_new) {
            (None, None) => return Ok(None),
            (Some(a), Some(b)) => (a, b),
            (a, b) => {
                return Ok(Some(AlignedItem::Misaligned {
                    index: self.index,
                    old_id: a.as_ref().and_then(|x| x.ids.first().cloned()),
                    new_id: b.as_ref().and_then(|x| x.ids.first().cloned()),
                }));
            }
        };
        let k = a.ids.len().min(b.ids.len());
        if let Some(i) = (0..k).find(|&i| a.ids[i] != b.ids[i]) {
            return Ok(Some(AlignedItem::Misaligned {
                index: self.index + i as u64,
                old_id: Some(a.ids[i].clone()),
                new_id: Some(b.ids[i].clone()),
            }));
        }
        let (ids, old) = take_front(a, k);
        let (_, new) = take_front(b, k);
        self.index += k as u64;
        Ok(Some(AlignedItem::Pairs { ids, old, new }))
    }
}

/// Splits the first `k` rows off a batch (without a copy when it is the whole batch).
fn take_front(batch: &mut EmbeddingBatch, k: usize) -> (Vec<String>, Array2<f32>) {
    if k == batch.ids.len() {
        let ids = std::mem::take(&mut batch.ids);
        let dim = batch.vectors.ncols();
        let vectors = std::mem::replace(&mut batch.vectors, Array2::zeros((0, dim)));
        return (ids, vectors);
    }
    let rest_ids = batch.ids.split_off(k);
    let ids = std::mem::replace(&mut batch.ids, rest_ids);
    let front = batch.vectors.slice(s![..k, ..]).to_owned();
    batch.vectors = batch.vectors.slice(s![k.., ..]).to_owned();
    batch.first_row += k as u64;
    (ids, front)
}

impl Iterator for AlignedReader {
    type Item = Result<AlignedItem>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let item = self.step().transpose();
        if !matches!(item, Some(Ok(AlignedItem::Pairs { .. }))) {
            self.done = true;
        }
        item
    }
}
