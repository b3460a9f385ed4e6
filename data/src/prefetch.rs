//! Reading ahead on another thread, so decoding the next batch overlaps the work on this one.

use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

use crate::error::DataError;

/// An item that can say the producer failed: the last item a [`Prefetch`] yields when its
/// thread panicked, so that the consumer sees an error where it would otherwise see the end
/// of the input (and, say, publish a truncated table).
pub trait FromPanic {
    fn from_panic(message: String) -> Self;
}

impl<T> FromPanic for Result<T, DataError> {
    fn from_panic(message: String) -> Self {
        Err(DataError::Invalid {
            what: "input",
            message: format!("reading stopped: the decoder failed ({message})"),
        })
    }
}

/// Runs `iter` on its own thread, `depth` items ahead of the consumer.
///
/// Dropping the `Prefetch` stops the producer at its next item (its channel closes), so an
/// error downstream never leaves a thread decoding a file nobody reads.
pub struct Prefetch<T> {
    rx: Option<Receiver<T>>,
    handle: Option<JoinHandle<()>>,
}

impl<T: FromPanic + Send + 'static> Prefetch<T> {
    pub fn new<I>(iter: I, depth: usize) -> Self
    where
        I: Iterator<Item = T> + Send + 'static,
    {
        let (tx, rx) = sync_channel(depth.max(1));
        let handle = std::thread::spawn(move || {
            let mut iter = iter;
            let produced = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                for item in iter.by_ref() {
                    if tx.send(item).is_err() {
                        break;
                    }
                }
            }));
            if let Err(panic) = produced {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic".into());
                let _ = tx.send(T::from_panic(message));
            }
        });
        Prefetch {
            rx: Some(rx),
            handle: Some(handle),
        }
    }
}

impl<T> Iterator for Prefetch<T> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        self.rx.as_ref()?.recv().ok()
    }
}

impl<T> Drop for Prefetch<T> {
    fn drop(&mut self) {
        // Close the channel first so a blocked producer wakes up and ends.
        self.rx.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Item = Result<u64, DataError>;

    #[test]
    fn yields_everything_in_order_and_stops_early_on_drop() {
        let all: Vec<u64> = Prefetch::new((0..1000u64).map(Ok), 3)
            .map(|r: Item| r.unwrap())
            .collect();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        let mut p = Prefetch::new((0..u64::MAX).map(Ok), 2);
        assert_eq!(p.next().unwrap().unwrap(), 0);
        drop(p); // must return, not run to u64::MAX
    }

    #[test]
    fn a_panic_in_the_producer_is_an_error_not_the_end() {
        let items: Vec<Item> = Prefetch::new(
            (0..10u64).map(|i| if i == 3 { panic!("bad page") } else { Ok(i) }),
            2,
        )
        .collect();
        assert_eq!(items.len(), 4, "three rows, then the failure");
        let e = items[3].as_ref().unwrap_err().to_string();
        assert!(e.contains("bad page"), "{e}");
    }
}
