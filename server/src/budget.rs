//! How much memory requests may hold at once.
//!
//! One request can ask for far more memory than it sends: 48 MB of JSON (65,536 vectors of
//! 384 values) through a 384 → 768 shim makes a 600 MB JSON answer, and four such requests
//! from slow readers held 3.4 GB. Each large request therefore reserves its share of one
//! budget (its decoded batch, the projected rows and the encoded answer) before it builds
//! anything, and keeps it until its answer has been handed to the connection. A request
//! that would need more than the whole budget is refused; one that must wait longer than
//! [`WAIT`] for its share is answered 503.
//!
//! When the last large request lets go of its share, the allocator is asked to return
//! freed memory to the kernel ([`crate::heap::release_freed`]), so a burst does not leave
//! the process holding its peak.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The budget is counted in units of this many bytes.
const UNIT: usize = 64 << 10;
/// Requests that hold less than this skip the budget: single vectors and small batches
/// should not pay for a semaphore.
pub const SMALL: usize = 1 << 20;
/// Longest a request waits for its share before it is answered 503.
pub const WAIT: Duration = Duration::from_secs(30);

/// The memory all requests may hold at once.
#[derive(Debug, Clone)]
pub struct MemoryBudget {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    permits: Arc<Semaphore>,
    units: usize,
    /// Units held now, to know when the last large request has finished.
    held: AtomicUsize,
}

/// Why a request cannot have its share. Free of HTTP: the API maps each to a status.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    #[error(
        "this request would hold {} MiB at once; the server holds at most {} MiB for all requests (max_inflight_bytes): send fewer vectors per request",
        bytes >> 20, budget >> 20
    )]
    TooLarge { bytes: usize, budget: usize },
    #[error(
        "the server is busy with large batches (waited {} s for {} MiB of memory); try again later",
        waited.as_secs(), bytes >> 20
    )]
    Busy { bytes: usize, waited: Duration },
}

/// A request's share of the budget; dropping it gives the share back.
#[derive(Debug)]
pub struct Reservation {
    _permit: Option<OwnedSemaphorePermit>,
    units: usize,
    inner: Arc<Inner>,
}

impl MemoryBudget {
    pub fn new(bytes: usize) -> Self {
        let units = bytes.div_ceil(UNIT).clamp(1, u32::MAX as usize);
        MemoryBudget {
            inner: Arc::new(Inner {
                permits: Arc::new(Semaphore::new(units)),
                units,
                held: AtomicUsize::new(0),
            }),
        }
    }

    /// The whole budget, in bytes.
    pub fn bytes(&self) -> usize {
        self.inner.units * UNIT
    }

    /// Bytes held by requests now.
    pub fn held_bytes(&self) -> usize {
        self.inner.held.load(Ordering::Relaxed) * UNIT
    }

    /// Waits (up to `wait`) for `bytes` of the budget. Refuses with 413 what the whole
    /// budget could never hold, and with 503 a wait that runs out.
    pub async fn reserve(&self, bytes: usize, wait: Duration) -> Result<Reservation, BudgetError> {
        if bytes < SMALL {
            return Ok(Reservation {
                _permit: None,
                units: 0,
                inner: self.inner.clone(),
            });
        }
        let units = bytes.div_ceil(UNIT);
        if units > self.inner.units {
            return Err(BudgetError::TooLarge {
                bytes,
                budget: self.bytes(),
            });
        }
        let acquire = self.inner.permits.clone().acquire_many_owned(units as u32);
        // The semaphore is never closed, so only the wait can run out.
        match tokio::time::timeout(wait, acquire).await {
            Ok(Ok(permit)) => {
                self.inner.held.fetch_add(units, Ordering::Relaxed);
                Ok(Reservation {
                    _permit: Some(permit),
                    units,
                    inner: self.inner.clone(),
                })
            }
            Ok(Err(_)) | Err(_) => Err(BudgetError::Busy {
                bytes,
                waited: wait,
            }),
        }
    }
}

impl Reservation {
    /// Gives back what is reserved beyond `bytes` (a reservation made on an upper bound,
    /// once the exact need is known).
    pub fn shrink_to(&mut self, bytes: usize) {
        let keep = if bytes < SMALL {
            0
        } else {
            bytes.div_ceil(UNIT)
        };
        if keep >= self.units {
            return;
        }
        let give_back = self.units - keep;
        if let Some(permit) = self._permit.as_mut() {
            drop(permit.split(give_back));
        }
        self.units = keep;
        let before = self.inner.held.fetch_sub(give_back, Ordering::Relaxed);
        if before == give_back {
            self._permit = None;
        }
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if self.units == 0 {
            return;
        }
        let before = self.inner.held.fetch_sub(self.units, Ordering::Relaxed);
        if before == self.units {
            // The last large request is done: give its freed memory back to the kernel,
            // off the async workers.
            match tokio::runtime::Handle::try_current() {
                Ok(runtime) => drop(runtime.spawn_blocking(crate::heap::release_freed)),
                Err(_) => crate::heap::release_freed(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn shares_are_bounded_refused_and_returned() {
        let budget = MemoryBudget::new(8 << 20);
        let small = budget.reserve(1000, WAIT).await.unwrap();
        assert_eq!(budget.held_bytes(), 0, "small requests skip the budget");
        drop(small);
        let a = budget.reserve(6 << 20, WAIT).await.unwrap();
        assert_eq!(budget.held_bytes(), 6 << 20);
        // The rest does not hold 4 MiB: a short wait runs out.
        let e = budget
            .reserve(4 << 20, Duration::from_millis(20))
            .await
            .unwrap_err();
        assert!(matches!(e, BudgetError::Busy { .. }), "{e}");
        assert!(matches!(
            budget.reserve(9 << 20, WAIT).await,
            Err(BudgetError::TooLarge { .. })
        ));
        let mut a = a;
        a.shrink_to(2 << 20);
        assert_eq!(
            budget.held_bytes(),
            2 << 20,
            "an upper bound shrinks to the need"
        );
        let c = budget
            .reserve(6 << 20, Duration::from_millis(20))
            .await
            .unwrap();
        drop((a, c));
        assert_eq!(budget.held_bytes(), 0);
        let b = budget.reserve(8 << 20, Duration::from_millis(20)).await;
        assert!(b.is_ok(), "the whole budget is free again");
    }
}
