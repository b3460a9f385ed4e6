//! Reading ahead on another thread, so decoding the next batch overlaps the work on this one.

use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

/// Runs `iter` on its own thread, `depth` items ahead of the consumer.
///
/// Dropping the `Prefetch` stops the producer at its next item (its channel closes), so an
/// error downstream never leaves a thread decoding a file nobody reads.
pub struct Prefetch<T> {
    rx: Option<Receiver<T>>,
    handle: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Prefetch<T> {
    pub fn new<I>(iter: I, depth: usize) -> Self
    where
        I: Iterator<Item = T> + Send + 'static,
    {
        let (tx, rx) = sync_channel(depth.max(1));
        let handle = std::thread::spawn(move || {
            for item in iter {
                if tx.send(item).is_err() {
                    break;
                }
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

    #[test]
    fn yields_everything_in_order_and_stops_early_on_drop() {
        let all: Vec<u32> = Prefetch::new(0..1000u32, 3).collect();
        assert_eq!(all, (0..1000).collect::<Vec<_>>());
        let mut p = Prefetch::new(0..u64::MAX, 2);
        assert_eq!(p.next(), Some(0));
        drop(p); // must return, not run to u64::MAX
    }
}
