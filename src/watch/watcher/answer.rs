//! A job's answer: its latest runs, asked for deep enough to reach the runs followed
//! ([`latest::reach_after`]), asked again once as deep as an answer goes when a full
//! answer fell short; what it says of each run, and which runs are left to a call of
//! their own, counted by why.

use super::{Observation, Watcher, latest};
use crate::config::Job;
use crate::store::WatchRow;
use crate::tailer::{ErrorKind, LastStatusQuery, RunItem, TailerError};

/// Counts the runs about to be asked about on their own, and why: `alone` (the only run
/// of its job due), `beyond` (its job's answer did not reach it), `job_unknown` (Tailer
/// has no latest runs of the job).
pub(super) fn own_calls(why: &'static str, runs: usize) {
    if runs > 0 {
        metrics::counter!("tailerbot_watch_own_polls_total", "why" => why).increment(runs as u64);
    }
}

impl Watcher {
    /// What a job's latest runs say of each of `group` (`None`: ask on its own), the job
    /// having `watched` runs followed in all.
    pub(super) async fn latest(&self, job: &Job, group: &[WatchRow], watched: usize) -> Vec<Option<Observation>> {
        let name = job.name.as_str();
        let reach = latest::reach_after(watched, self.depth.get(name).map(|d| *d));
        let mut asked = self.ask(job, reach).await;
        // A full answer that fell short of some runs: the job's runs that ended are still
        // among its latest. Asked again, once, as deep as an answer goes, rather than
        // each run on its own.
        let now = self.p.clock.now_ms();
        if let Ok(items) = &asked {
            if items.len() >= reach as usize && reach < latest::REACH && latest::falls_short(group, items, now) {
                asked = self.ask(job, latest::REACH).await;
            }
        }
        match asked {
            Ok(items) => {
                let (listed, deepest) = (items.len(), latest::depth(group, &items));
                let seen: Vec<Option<Observation>> = latest::cover(group, items, now)
                    .into_iter()
                    .map(|said| match said {
                        latest::Said::Listed(item) => Some(Observation::Item(*item)),
                        latest::Said::NotYet => Some(Observation::NotYet),
                        latest::Said::Beyond => None,
                    })
                    .collect();
                let beyond = seen.iter().filter(|s| s.is_none()).count();
                own_calls("beyond", beyond);
                // How deep the next answer must go: as deep as this one went when it fell
                // short, else to the oldest run it listed.
                match (beyond, deepest) {
                    (0, None) => self.depth.remove(name).map(|(_, d)| d),
                    (0, Some(depth)) => self.depth.insert(name.to_owned(), depth),
                    _ => self.depth.insert(name.to_owned(), u32::try_from(listed).unwrap_or(latest::REACH)),
                };
                seen
            }
            // Tailer does not know the job's runs this way: each run is asked about.
            Err(error) if error.kind == ErrorKind::NotFound => {
                own_calls("job_unknown", group.len());
                vec![None; group.len()]
            }
            Err(error) => {
                if error.kind == ErrorKind::Busy {
                    tracing::debug!(job = %job.name, "a job's poll waited for the queue to Tailer; polling again soon");
                } else {
                    self.p.stats.tailer_error(now);
                    tracing::warn!(%error, job = %job.name, runs = group.len(), "a job's poll failed; its runs are polled again later");
                }
                vec![Some(Observation::Failed(error)); group.len()]
            }
        }
    }

    async fn ask(&self, job: &Job, reach: u32) -> Result<Vec<RunItem>, TailerError> {
        let query = LastStatusQuery { limit: Some(reach), ..LastStatusQuery::default() };
        self.p.tailer.get_last_status_now(&job.job, &query).await
    }
}
