//! One call to Tailer for all the watched runs of a job: its latest runs
//! (`get_last_status`), asked once per pass for a job with several runs due, answers
//! each run found in it. A new run missing among older ones listed is not shown yet. A
//! run the answer does not reach (a busy job launched more since) is asked about on its
//! own (`check_run_status`), never dropped; a lone run is asked about on its own too
//! (one call either way, and the exact one). A failed answer holds back that job's runs
//! only.

use std::collections::HashMap;

use super::UNKNOWN_RUN_GRACE_MS;
use crate::domain::RunId;
use crate::store::WatchRow;
use crate::tailer::RunItem;

/// The most runs one answer is asked for: a job's answer reaches this far back at most.
pub const REACH: u32 = 200;
/// The fewest asked for: room for the runs launched since that nobody follows.
const LEAST: u32 = 20;

/// The runs due in a pass, by job, each job where its first run was; the runs of a job
/// in the order they came.
pub fn by_job(due: Vec<WatchRow>) -> Vec<Vec<WatchRow>> {
    let mut place: HashMap<String, usize> = HashMap::new();
    let mut groups: Vec<Vec<WatchRow>> = Vec::new();
    for w in due {
        match place.get(&w.job) {
            Some(&i) => groups[i].push(w),
            None => {
                place.insert(w.job.clone(), groups.len());
                groups.push(vec![w]);
            }
        }
    }
    groups
}

/// Of the runs due in a pass (in the order they came), those of the jobs polled in it
/// whole, and those given back for the next pass. Jobs are taken in the order their first
/// run due came, as many as fit in `room` runs (always the first): a job whose other
/// runs are taken with it ([`takes_companions`]) counts for every run it has followed,
/// any other for its runs due. A job split between two passes would cost a call to
/// Tailer in each.
pub fn whole_jobs(due: Vec<WatchRow>, followed: &HashMap<String, usize>, room: usize) -> (Vec<WatchRow>, Vec<WatchRow>) {
    let groups = by_job(due);
    let mut taken = Vec::new();
    let mut left = Vec::new();
    let mut used = 0;
    for group in groups {
        let size = followed.get(group[0].job.as_str()).copied().filter(|n| takes_companions(*n)).unwrap_or(0).max(group.len());
        if used == 0 || used + size <= room {
            used += size;
            taken.extend(group);
        } else {
            left.extend(group);
        }
    }
    (taken, left)
}

/// Whether a job with `followed` runs followed has its other runs due soon taken with
/// one due: with more than one answer reaches, most of its runs are asked about on their
/// own anyway, and would only be asked earlier.
pub fn takes_companions(followed: usize) -> bool {
    (2..=REACH as usize).contains(&followed)
}

/// How many of a job's latest runs to ask for when `watched` of them are followed: twice
/// as many (the others are runs nobody follows, launched meanwhile), within
/// [`LEAST`]..=[`REACH`].
pub fn reach(watched: usize) -> u32 {
    u32::try_from(watched.saturating_mul(2)).unwrap_or(u32::MAX).clamp(LEAST, REACH)
}

/// How many of a job's latest runs to ask for when `watched` of them are followed and
/// its last answer had to go `depth` runs deep to reach the oldest of them listed: the
/// job's own runs that ended meanwhile stay among its latest, so twice the runs followed
/// may not reach the oldest one still followed. Half again as deep as last time, for the
/// runs launched since.
pub fn reach_after(watched: usize, depth: Option<u32>) -> u32 {
    let deep = depth.map_or(0, |d| d.saturating_add(d / 2)).min(REACH);
    reach(watched).max(deep)
}

/// How deep into `answer` (newest first, counted from 1) the oldest of `watched` listed
/// is, if any is.
pub fn depth(watched: &[WatchRow], answer: &[RunItem]) -> Option<u32> {
    let runs: std::collections::HashSet<&str> = watched.iter().map(|w| w.run_id.as_str()).collect();
    let last = answer.iter().rposition(|item| runs.contains(item.run_id.as_str()))?;
    u32::try_from(last + 1).ok()
}

/// What a job's latest runs say of one of its watched runs.
#[derive(Debug, Clone, PartialEq)]
pub enum Said {
    /// Listed: its item (the first listing, should Tailer list it twice).
    Listed(Box<RunItem>),
    /// Not listed, never seen, launched after the oldest run listed and followed for
    /// less than [`UNKNOWN_RUN_GRACE_MS`]: Tailer does not show it yet (right after a
    /// launch), as its own call would have said.
    NotYet,
    /// Not listed otherwise: the answer may not reach it, so it is asked about on its own.
    Beyond,
}

/// What a job's latest runs (`answer`) say of each of its watched runs, in their order.
pub fn cover(watched: &[WatchRow], answer: Vec<RunItem>, now_ms: i64) -> Vec<Said> {
    let oldest = oldest_launch(&answer);
    let mut items: HashMap<String, RunItem> = HashMap::with_capacity(answer.len());
    for item in answer {
        items.entry(item.run_id.to_string()).or_insert(item);
    }
    watched
        .iter()
        .map(|w| match items.remove(&w.run_id) {
            Some(item) => Said::Listed(Box::new(item)),
            None if not_yet(w, oldest, now_ms) => Said::NotYet,
            None => Said::Beyond,
        })
        .collect()
}

/// Whether `answer` leaves any of `watched` to be asked about on its own
/// ([`Said::Beyond`]), as [`cover`] would.
pub fn falls_short(watched: &[WatchRow], answer: &[RunItem], now_ms: i64) -> bool {
    let oldest = oldest_launch(answer);
    let listed: std::collections::HashSet<&str> = answer.iter().map(|item| item.run_id.as_str()).collect();
    watched.iter().any(|w| !listed.contains(w.run_id.as_str()) && !not_yet(w, oldest, now_ms))
}

fn oldest_launch(answer: &[RunItem]) -> Option<chrono::NaiveDateTime> {
    answer.iter().filter_map(|item| item.run_id.launched_at()).min()
}

/// A run not listed that Tailer does not show yet: never seen, launched after the oldest
/// run listed, followed for less than [`UNKNOWN_RUN_GRACE_MS`].
fn not_yet(w: &WatchRow, oldest: Option<chrono::NaiveDateTime>, now_ms: i64) -> bool {
    let launched = RunId::parse(&w.run_id).ok().and_then(|run| run.launched_at());
    let new = w.first_seen_at.is_none() && now_ms - w.started_at < UNKNOWN_RUN_GRACE_MS;
    matches!((launched, oldest), (Some(launched), Some(oldest)) if new && launched > oldest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn watched(run: &str, job: &str) -> WatchRow {
        WatchRow::fresh(run, job)
    }

    fn run(n: u32) -> String {
        format!("20261207-1000{n:02}-1fb692b0-3531-4578-9919-acf6fdb0a5b1")
    }

    fn item(run: &str, status: &str) -> RunItem {
        serde_json::from_value(serde_json::json!({"run_id": run, "status": status})).unwrap()
    }

    #[test]
    fn the_runs_due_are_grouped_by_job_in_the_order_they_came() {
        let due = vec![watched(&run(1), "a"), watched(&run(2), "b"), watched(&run(3), "a"), watched(&run(4), "c")];
        let groups: Vec<Vec<String>> = by_job(due).into_iter().map(|g| g.into_iter().map(|w| w.run_id).collect()).collect();
        assert_eq!(groups, vec![vec![run(1), run(3)], vec![run(2)], vec![run(4)]]);
    }

    #[test]
    fn a_pass_takes_whole_jobs_in_the_order_they_came_as_many_as_fit_and_always_the_first() {
        let due = vec![watched(&run(1), "a"), watched(&run(2), "b"), watched(&run(3), "a"), watched(&run(4), "c"), watched(&run(5), "d")];
        // a takes its 5 runs followed, b its 3, c more than an answer reaches (its due
        // run only), d its due one.
        let followed = HashMap::from([("a".into(), 5), ("b".into(), 3), ("c".into(), 10_000), ("d".into(), 1)]);
        let runs = |rows: Vec<WatchRow>| rows.into_iter().map(|w| w.run_id).collect::<Vec<_>>();
        let (taken, left) = whole_jobs(due.clone(), &followed, 9);
        assert_eq!((runs(taken), runs(left)), (vec![run(1), run(3), run(2), run(4)], vec![run(5)]), "5 + 3 + 1 fit in 9; d does not");
        let (taken, left) = whole_jobs(due.clone(), &followed, 7);
        assert_eq!((runs(taken), runs(left)), (vec![run(1), run(3), run(4), run(5)], vec![run(2)]), "b does not fit after a; c and d do");
        let (taken, left) = whole_jobs(due, &followed, 1);
        assert_eq!(
            (runs(taken), runs(left)),
            (vec![run(1), run(3)], vec![run(2), run(4), run(5)]),
            "the first job even when it does not fit"
        );
    }

    #[test]
    fn an_answer_is_asked_for_twice_the_runs_followed_within_its_bounds() {
        assert_eq!(reach(2), LEAST);
        assert_eq!(reach(30), 60);
        assert_eq!(reach(100), REACH);
        assert_eq!(reach(usize::MAX), REACH);
    }

    #[test]
    fn an_answer_is_asked_for_half_again_as_deep_as_the_last_one_had_to_go_within_its_bound() {
        assert_eq!(reach_after(30, None), 60, "twice the runs followed, knowing nothing else");
        assert_eq!(reach_after(30, Some(100)), 150, "the oldest followed was 100 runs deep");
        assert_eq!(reach_after(30, Some(20)), 60, "never less than twice the runs followed");
        assert_eq!(reach_after(2, Some(190)), REACH);
    }

    #[test]
    fn the_depth_of_an_answer_is_where_its_oldest_followed_run_is_listed() {
        let group = vec![watched(&run(1), "a"), watched(&run(3), "a")];
        let answer = vec![
            item(&run(9), "SUCCESS"),
            item(&run(3), "RUNNING"),
            item(&run(2), "SUCCESS"),
            item(&run(1), "RUNNING"),
            item(&run(0), "SUCCESS"),
        ];
        assert_eq!(depth(&group, &answer), Some(4));
        assert_eq!(depth(&group[1..], &answer), Some(2));
        assert_eq!(depth(&group, &answer[..1]), None, "none listed");
    }

    #[test]
    fn a_run_the_answer_does_not_reach_is_left_to_its_own_call_and_one_listed_twice_counts_once() {
        let group = vec![watched(&run(1), "a"), watched(&run(2), "a"), watched(&run(3), "a")];
        // Newest first; run 2 twice (its first listing is the one kept); run 1 beyond
        // the answer; run 9 nobody follows.
        let answer = vec![item(&run(9), "RUNNING"), item(&run(3), "RUNNING"), item(&run(2), "SUCCESS"), item(&run(2), "RUNNING")];
        let said = cover(&group, answer, 0);
        assert_eq!(
            said,
            vec![Said::Beyond, Said::Listed(Box::new(item(&run(2), "SUCCESS"))), Said::Listed(Box::new(item(&run(3), "RUNNING")))]
        );
    }

    #[test]
    fn a_new_run_missing_among_older_ones_is_not_shown_yet_unless_seen_before_or_followed_long() {
        let answer = || vec![item(&run(5), "RUNNING"), item(&run(3), "RUNNING")];
        let new = watched(&run(4), "a");
        assert_eq!(cover(std::slice::from_ref(&new), answer(), 1_000), vec![Said::NotYet], "right after its launch");
        let seen = WatchRow { first_seen_at: Some(1), ..new.clone() };
        assert_eq!(cover(&[seen], answer(), 1_000), vec![Said::Beyond], "seen before: asked about on its own");
        assert_eq!(cover(std::slice::from_ref(&new), answer(), UNKNOWN_RUN_GRACE_MS), vec![Said::Beyond], "after the grace");
        let older = watched(&run(2), "a");
        assert_eq!(cover(&[older], answer(), 1_000), vec![Said::Beyond], "older than the answer reaches");
        assert_eq!(cover(&[new], Vec::new(), 1_000), vec![Said::Beyond], "an empty answer says nothing");
    }
}
