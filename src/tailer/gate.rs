//! The way to Tailer, bounded. At most `max_in_flight` calls are on their way at once,
//! at most `max_waiting` more wait for a place, and every call (a command's, a Home
//! tab's, the watcher's) counts against `max_requests_per_second`. A call that would
//! wait beyond that is refused at once as [`ErrorKind::Busy`]: the person is told to try
//! again in a moment, instead of the process piling up connections and memory.

use std::sync::Arc;

use tokio::sync::SemaphorePermit;

use crate::http_limits::Places;

use super::error::{ErrorKind, TailerError};
use super::request::TailerAction;

/// The ceiling on requests per second: evenly spaced, no burst on top.
pub type Pace = governor::DefaultDirectRateLimiter;

/// Places on the way to Tailer, the queue behind them, and the pace.
#[derive(Debug)]
pub struct Gate {
    places: Places,
    pace: Option<Arc<Pace>>,
}

impl Gate {
    pub fn new(max_in_flight: usize, max_waiting: usize, pace: Option<Arc<Pace>>) -> Gate {
        Gate { places: Places::new(max_in_flight, max_waiting), pace }
    }

    /// A place for one call of `action`, once the pace allows it; a read is refused at
    /// once when the queue is full. A write waits for its place however long the queue:
    /// people asked for it (a refusal between two attempts would misreport one that may
    /// have reached Tailer), and there are few.
    pub async fn enter(&self, action: TailerAction) -> Result<SemaphorePermit<'_>, TailerError> {
        let Some(permit) = self.places.enter_or_wait(!action.is_read()).await else {
            metrics::counter!("tailerbot_busy_total", "upstream" => "tailer").increment(1);
            return Err(TailerError::new(
                action,
                ErrorKind::Busy,
                None,
                format!("{} calls to Tailer are waiting already", self.places.max_waiting()),
            ));
        };
        if let Some(pace) = &self.pace {
            pace.until_ready().await;
        }
        Ok(permit)
    }

    /// Calls waiting for a place now.
    pub fn waiting(&self) -> usize {
        self.places.waiting()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn beyond_the_places_and_the_queue_a_call_is_refused_at_once_as_busy() {
        let gate = Arc::new(Gate::new(2, 3, None));
        let first = gate.enter(TailerAction::GetLastStatus).await.unwrap();
        let _second = gate.enter(TailerAction::GetLastStatus).await.unwrap();
        let mut queued = Vec::new();
        for _ in 0..3 {
            let gate = gate.clone();
            queued.push(tokio::spawn(async move { gate.enter(TailerAction::GetLastStatus).await.map(drop) }));
        }
        while gate.waiting() < 3 {
            tokio::task::yield_now().await;
        }
        let refused = gate.enter(TailerAction::CheckRunStatus).await.unwrap_err();
        assert_eq!(refused.kind, ErrorKind::Busy);
        assert!(refused.certainly_not_applied() && !refused.is_retryable());
        // A write is not refused: it waits its turn.
        let write = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.enter(TailerAction::SetConfigurationStatus).await.map(drop) })
        };
        // A place freed: the queue moves on, and every waiting call gets through.
        drop(first);
        drop(_second);
        for call in queued {
            call.await.unwrap().unwrap();
        }
        write.await.unwrap().unwrap();
        assert_eq!(gate.waiting(), 0);
        drop(gate.enter(TailerAction::GetLastStatus).await.unwrap());
    }

    #[tokio::test]
    async fn a_waiting_call_given_up_leaves_the_queue() {
        let gate = Arc::new(Gate::new(1, 1, None));
        let _held = gate.enter(TailerAction::GetLastStatus).await.unwrap();
        let waiter = {
            let gate = gate.clone();
            tokio::spawn(async move { gate.enter(TailerAction::GetLastStatus).await.map(drop) })
        };
        while gate.waiting() < 1 {
            tokio::task::yield_now().await;
        }
        waiter.abort();
        let _ = waiter.await;
        assert_eq!(gate.waiting(), 0, "the queue is not left counting a call that went away");
    }
}
