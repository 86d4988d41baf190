//! Identical reads made once. While a read of Tailer is on its way, the same read asked
//! again (twenty people typing `/tailer last sales-daily` in an incident, a Home tab and
//! the watcher asking for the same run) waits for that one answer instead of sending its
//! own; an answer may then be kept a few seconds (`last`, `running`, and a run that has
//! ended, whose status only a write changes). A write through the client forgets what
//! was kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};
use tailerbot_clock::{SharedClock, SystemClock};

use super::error::{ErrorKind, TailerError};
use super::request::TailerAction;
use super::types::RunItem;

/// How long an answer is kept, at most.
pub const KEEP_FOR: Duration = Duration::from_secs(3);
/// Kept answers beyond which the expired ones are swept on the next insert.
const SWEEP_ABOVE: usize = 4_096;

type Answer = Result<Arc<Vec<RunItem>>, TailerError>;
type Flight = Shared<BoxFuture<'static, Answer>>;

enum Slot {
    /// On its way; the number tells this flight from a later one of the same read.
    Flying(Flight, u64),
    Kept {
        until_ms: i64,
        items: Arc<Vec<RunItem>>,
    },
}

/// The reads on their way and the answers kept, by request.
pub struct Reads {
    slots: Mutex<HashMap<String, Slot>>,
    clock: SharedClock,
    flights: AtomicU64,
}

impl std::fmt::Debug for Reads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reads").field("slots", &self.lock().len()).finish()
    }
}

impl Default for Reads {
    fn default() -> Reads {
        Reads::new(Arc::new(SystemClock))
    }
}

/// How a read was served, for `/metrics`.
fn count(how: &'static str) {
    metrics::counter!("tailerbot_tailer_reads_shared_total", "how" => how).increment(1);
}

impl Reads {
    pub fn new(clock: SharedClock) -> Reads {
        Reads { slots: Mutex::new(HashMap::new()), clock, flights: AtomicU64::new(0) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer to the read `key`: kept, on its way, or fetched now with `fetch` (on
    /// a task of its own, which settles what is kept even if every asker went away).
    /// `keep` says how long an answer may be kept (none: not at all).
    pub async fn read(
        self: &Arc<Self>,
        action: TailerAction,
        key: String,
        keep: impl Fn(&[RunItem]) -> Option<Duration> + Send + 'static,
        fetch: impl Future<Output = Result<Vec<RunItem>, TailerError>> + Send + 'static,
    ) -> Answer {
        let flight = {
            let mut slots = self.lock();
            match slots.get(&key) {
                Some(Slot::Kept { until_ms, items }) if *until_ms > self.clock.now_ms() => {
                    count("kept");
                    return Ok(items.clone());
                }
                Some(Slot::Flying(flight, _)) => {
                    count("joined");
                    flight.clone()
                }
                _ => {
                    count("fetched");
                    let number = self.flights.fetch_add(1, Ordering::Relaxed);
                    let (reads, settled) = (Arc::clone(self), key.clone());
                    let task = tokio::spawn(async move {
                        let answer = fetch.await.map(Arc::new);
                        reads.settle(settled, number, &answer, keep);
                        answer
                    });
                    let flight = async move {
                        task.await.unwrap_or_else(|stopped| {
                            Err(TailerError::new(action, ErrorKind::Timeout, None, format!("the read stopped: {stopped}")))
                        })
                    }
                    .boxed()
                    .shared();
                    slots.insert(key, Slot::Flying(flight.clone(), number));
                    flight
                }
            }
        };
        flight.await
    }

    /// Once a read is answered: kept for a while, or forgotten, unless a write made it
    /// stale meanwhile (its slot is gone or another read's).
    fn settle(&self, key: String, number: u64, answer: &Answer, keep: impl Fn(&[RunItem]) -> Option<Duration>) {
        let mut slots = self.lock();
        if !matches!(slots.get(&key), Some(Slot::Flying(_, n)) if *n == number) {
            return;
        }
        match answer.as_ref().ok().and_then(|items| keep(items).map(|d| (items, d))) {
            Some((items, kept)) if !kept.is_zero() => {
                if slots.len() > SWEEP_ABOVE {
                    let now = self.clock.now_ms();
                    slots.retain(|_, slot| !matches!(slot, Slot::Kept { until_ms, .. } if *until_ms <= now));
                }
                let until_ms = self.clock.now_ms() + i64::try_from(kept.as_millis()).unwrap_or(i64::MAX);
                slots.insert(key, Slot::Kept { until_ms, items: items.clone() });
            }
            _ => {
                slots.remove(&key);
            }
        }
    }

    /// Forgets every answer, kept or on its way (after a write, which may have changed
    /// them): a read asked from now on is asked afresh, and one already on its way is
    /// not kept.
    pub fn forget(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use tailerbot_clock::AdjustableClock;

    fn fetcher(
        calls: &Arc<AtomicUsize>,
        gate: &Arc<tokio::sync::Notify>,
    ) -> impl Future<Output = Result<Vec<RunItem>, TailerError>> + Send + 'static {
        let (calls, gate) = (calls.clone(), gate.clone());
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            gate.notified().await;
            Ok(Vec::new())
        }
    }

    #[tokio::test]
    async fn the_same_read_asked_while_one_is_on_its_way_waits_for_that_one() {
        let reads = Arc::new(Reads::default());
        let (calls, gate) = (Arc::new(AtomicUsize::new(0)), Arc::new(tokio::sync::Notify::new()));
        let mut waiting = Vec::new();
        for _ in 0..50 {
            let (reads, fetch) = (reads.clone(), fetcher(&calls, &gate));
            waiting.push(tokio::spawn(
                async move { reads.read(TailerAction::GetLastStatus, "last sales-daily".into(), |_| None, fetch).await },
            ));
        }
        // Every reader is waiting on the one fetch before it is let go.
        while calls.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        for _ in 0..100 {
            tokio::task::yield_now().await;
        }
        gate.notify_waiters();
        for reader in waiting {
            assert!(reader.await.unwrap().is_ok());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "one fetch for fifty readers");
        // Nothing kept (keep said none): the next read fetches again.
        let (reads2, fetch) = (reads.clone(), fetcher(&calls, &gate));
        let next = tokio::spawn(async move { reads2.read(TailerAction::GetLastStatus, "last sales-daily".into(), |_| None, fetch).await });
        while calls.load(Ordering::SeqCst) == 1 {
            tokio::task::yield_now().await;
        }
        gate.notify_waiters();
        next.await.unwrap().unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn an_answer_is_kept_for_its_time_by_the_bots_clock_and_forgotten_after_a_write() {
        let clock = AdjustableClock::new();
        let reads = Arc::new(Reads::new(clock.clone()));
        let calls = Arc::new(AtomicUsize::new(0));
        let fetch = || {
            let calls = calls.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                Ok(Vec::new())
            }
        };
        let keep = |_: &[RunItem]| Some(KEEP_FOR);
        reads.read(TailerAction::GetLastStatus, "k".into(), keep, fetch()).await.unwrap();
        reads.read(TailerAction::GetLastStatus, "k".into(), keep, fetch()).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "kept");
        clock.advance(Duration::from_secs(4));
        reads.read(TailerAction::GetLastStatus, "k".into(), keep, fetch()).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "expired after its time");
        reads.forget();
        reads.read(TailerAction::GetLastStatus, "k".into(), keep, fetch()).await.unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3, "forgotten after a write");
    }

    #[tokio::test]
    async fn a_failed_read_is_shared_but_not_kept() {
        let reads = Arc::new(Reads::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let failing = || {
            let calls = calls.clone();
            async move {
                calls.fetch_add(1, Ordering::SeqCst);
                Err(TailerError::new(crate::tailer::TailerAction::GetLastStatus, crate::tailer::ErrorKind::Server, Some(500), "boom"))
            }
        };
        assert!(reads.read(TailerAction::GetLastStatus, "k".into(), |_| Some(KEEP_FOR), failing()).await.is_err());
        assert!(reads.read(TailerAction::GetLastStatus, "k".into(), |_| Some(KEEP_FOR), failing()).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2, "an error is asked again");
    }

    #[tokio::test]
    async fn a_read_whose_first_asker_went_away_still_settles() {
        let reads = Arc::new(Reads::default());
        let (calls, gate) = (Arc::new(AtomicUsize::new(0)), Arc::new(tokio::sync::Notify::new()));
        let (first_reads, fetch) = (reads.clone(), fetcher(&calls, &gate));
        let first = tokio::spawn(async move { first_reads.read(TailerAction::GetLastStatus, "k".into(), |_| None, fetch).await });
        while calls.load(Ordering::SeqCst) == 0 {
            tokio::task::yield_now().await;
        }
        let (second_reads, fetch) = (reads.clone(), fetcher(&calls, &gate));
        let second = tokio::spawn(async move { second_reads.read(TailerAction::GetLastStatus, "k".into(), |_| None, fetch).await });
        for _ in 0..50 {
            tokio::task::yield_now().await;
        }
        first.abort();
        let _ = first.await;
        gate.notify_waiters();
        second.await.unwrap().unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert!(reads.lock().is_empty(), "the slot is settled by the one who saw the answer");
    }
}
