//! Telling a launch's run apart when Tailer's answer to it was lost (a timeout, or the
//! replica died while asking). Nothing Tailer returns says who launched a run: only its
//! id's second. So a run is a launch's when the bot noted it for that person and channel
//! at that launch, or when the runs nobody noted can be shared out between the launches
//! not settled in one way only. Otherwise none is taken, and the person is told to check.

use crate::bot::Bot;
use crate::config::Job;
use crate::domain::RunId;
use crate::store::KnownRun;
use crate::tailer::TailerError;

/// A launch looking for its run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Looking<'a> {
    pub started_ms: i64,
    pub channel: &'a str,
    pub user: &'a str,
}

impl Looking<'_> {
    /// The first second its run's id may carry: Tailer stamps whole seconds, and clocks
    /// differ by up to two.
    fn first_second(&self) -> i64 {
        self.started_ms.div_euclid(1_000) - 2
    }

    /// Whether the bot noted `run` for this launch: for its person and channel, since it
    /// was made.
    fn noted(&self, run: &KnownRun) -> bool {
        run.created_at >= self.started_ms - 2_000
            && run.channel_id.as_deref() == Some(self.channel)
            && run.launched_by.as_deref() == Some(self.user)
    }
}

/// The run `me` made, among the job's runs: the one the bot noted for it, else the one
/// the runs nobody noted leave it. `others` are the job's other launches not settled
/// whose runs are not known (their runs compete with its own), `named` the runs of those
/// whose runs are; the live path of a launch passes none.
pub(crate) async fn own_run(
    bot: &Bot,
    job: &Job,
    me: Looking<'_>,
    others: &[Looking<'_>],
    named: &[&str],
) -> Result<Option<RunId>, TailerError> {
    let earliest = others.iter().map(|o| o.started_ms).fold(me.started_ms, i64::min);
    // Tailer's side reaches back a few seconds before a launch: every run noted since
    // well before that is someone else's, unless noted for this launch.
    let noted = match bot.store().runs_launched_since(job.name.as_str(), earliest - 60_000).await {
        Ok(noted) => noted,
        Err(error) => {
            tracing::error!(%error, "cannot read the runs the bot launched; telling runs apart by Tailer alone");
            Vec::new()
        }
    };
    match noted.iter().filter(|r| me.noted(r)).collect::<Vec<_>>().as_slice() {
        [run] => return Ok(RunId::parse(&run.run_id).ok()),
        [] => {}
        // The same person launched the job twice from here just now: which is which?
        _ => return Ok(None),
    }
    // A launch whose run was noted is out of the sharing.
    let rivals: Vec<i64> = others.iter().filter(|o| !noted.iter().any(|r| o.noted(r))).map(Looking::first_second).collect();
    let from = rivals.iter().copied().fold(me.first_second(), i64::min);
    let Some(runs) = bot.tailer().runs_launched_since(&job.job, from).await? else {
        return Ok(None);
    };
    let unnoted: Vec<(RunId, i64)> = runs
        .into_iter()
        .filter(|run| !noted.iter().any(|r| r.run_id == run.run_id.as_str()) && !named.contains(&run.run_id.as_str()))
        .filter_map(|run| {
            let second = run.run_id.launched_at()?.and_utc().timestamp();
            Some((run.run_id, second))
        })
        .collect();
    let seconds: Vec<i64> = unnoted.iter().map(|(_, s)| *s).collect();
    let found = share_out(me.first_second(), &rivals, &seconds);
    if found.is_none() {
        tracing::info!(
            runs = unnoted.len(),
            noted = noted.len(),
            rivals = rivals.len(),
            "the runs of the job nobody noted cannot be told apart between the launches not settled"
        );
    }
    Ok(found.map(|i| unnoted[i].0.clone()))
}

/// Which of the runs (by the second each was stamped) is the one made by the launch that
/// can own runs from second `mine`, beside `rivals` (the same second for each other
/// launch not settled; a launch can own a run stamped from its second on): the only run
/// it can own that no rival can; or, when there are as many runs as launches, its run in
/// the only way of giving each launch one run it can own. `None` otherwise.
pub(crate) fn share_out(mine: i64, rivals: &[i64], runs: &[i64]) -> Option<usize> {
    let earliest = rivals.iter().copied().fold(mine, i64::min);
    // Older runs are no launch's here.
    let theirs: Vec<usize> = (0..runs.len()).filter(|&i| runs[i] >= earliest).collect();
    let its: Vec<usize> = theirs.iter().copied().filter(|&i| runs[i] >= mine).collect();
    if let [only] = its[..]
        && rivals.iter().all(|&rival| runs[only] < rival)
    {
        return Some(only);
    }
    if theirs.len() != rivals.len() + 1 {
        return None;
    }
    // The latest launch can own the fewest runs: from it back, each must be left exactly
    // one. With two left, the launches before it could swap theirs with it.
    let mut launches: Vec<(i64, bool)> = rivals.iter().map(|&rival| (rival, false)).chain([(mine, true)]).collect();
    launches.sort_by_key(|&(from, _)| std::cmp::Reverse(from));
    let mut left = theirs;
    let mut found = None;
    for (from, me) in launches {
        let can: Vec<usize> = left.iter().copied().filter(|&i| runs[i] >= from).collect();
        let [run] = can[..] else { return None };
        left.retain(|&i| i != run);
        if me {
            found = Some(run);
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::share_out;

    #[test]
    fn a_lone_launch_takes_the_only_run_since_it_and_nothing_when_there_are_more() {
        assert_eq!(share_out(10, &[], &[9, 12]), Some(1), "the older run is not its own");
        assert_eq!(share_out(10, &[], &[12, 13]), None);
        assert_eq!(share_out(10, &[], &[5]), None);
    }

    #[test]
    fn a_run_either_of_two_launches_can_own_is_neither_s() {
        // One launch reached Tailer, the other did not: which one is unknown.
        assert_eq!(share_out(10, &[11], &[12]), None);
        assert_eq!(share_out(11, &[10], &[12]), None);
        // A launch can own a run stamped in its very first second.
        assert_eq!(share_out(10, &[12], &[12]), None);
    }

    #[test]
    fn a_run_stamped_before_a_later_launch_is_the_earlier_one_s() {
        assert_eq!(share_out(10, &[20], &[11]), Some(0));
        assert_eq!(share_out(20, &[10], &[11]), None);
    }

    #[test]
    fn as_many_runs_as_launches_are_shared_out_when_only_one_way_fits() {
        // The later launch can own only the later run; the earlier takes the other.
        assert_eq!(share_out(10, &[15], &[10, 15]), Some(0));
        assert_eq!(share_out(15, &[10], &[10, 15]), Some(1));
        // Three launches, three runs, each later than the one before.
        assert_eq!(share_out(20, &[10, 30], &[31, 10, 21]), Some(2));
        // Within the same seconds: either way fits.
        assert_eq!(share_out(10, &[10], &[10, 11]), None);
        assert_eq!(share_out(10, &[11], &[12, 13]), None);
        // More runs than launches: one may be someone else's.
        assert_eq!(share_out(10, &[15], &[10, 15, 16]), None);
    }
}
