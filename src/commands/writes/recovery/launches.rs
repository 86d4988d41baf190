//! Launches interrupted by the death of the replica making them: noted `calling` before
//! Tailer was asked, never settled. Another replica (or this one after a restart) takes
//! each over once its claim runs out, looks for the run it started, and follows it on a
//! card in the channel it was asked from; when no run can be told apart, the channel is
//! told to check before launching again. Nothing is ever launched again.

use std::sync::Arc;

use crate::bot::{Bot, Follower};
use crate::commands::writes::apart::{Looking, own_run};
use crate::domain::{Action, ChannelId, UserId};
use crate::messages as render;
use crate::outbox::OutboxMessage;
use crate::store::{AuditEntry, AuditOutcome, LaunchRow, NearLaunch};

/// How long before Tailer is asked again about a launch it could not answer for.
const RETRY_MS: i64 = 30_000;
/// An interrupted launch whose run is not named is looked for once it is this old: right
/// after a launch Tailer may not show its run yet, while it may already show a run
/// someone else launched at the same moment, not yet noted as theirs; looking earlier
/// could take that run for this one.
const LOOK_AFTER_MS: i64 = 10_000;
/// A launch younger than this whose run is still not seen is looked at again (every
/// [`UNSEEN_RETRY_MS`]) before the channel is told that no run can be told apart.
const UNSEEN_MS: i64 = 30_000;
const UNSEEN_RETRY_MS: i64 = 3_000;
/// How long an interrupted launch waits, at most, for other launches of its job still
/// held by a replica (being made, or held by one that died with them until its claim
/// runs out) when their runs keep it from telling its own apart.
const OTHERS_MS: i64 = 10 * 60_000;
/// The other launches of the job whose runs compete with an interrupted launch's: those
/// made this long before or after it (a run is stamped when Tailer takes the launch,
/// well within this of its asking).
const NEAR_MS: i64 = 60_000;

/// Settles interrupted launches.
pub struct Launches {
    bot: Arc<Bot>,
}

impl Launches {
    pub fn new(bot: Arc<Bot>) -> Launches {
        Launches { bot }
    }

    /// One pass; returns how many launches were settled or put off.
    pub async fn run_once(&self) -> usize {
        // One configuration for the whole pass.
        Launches { bot: self.bot.current() }.pass().await
    }

    async fn pass(&self) -> usize {
        let claimed = self.bot.store().claim_interrupted_launches(self.bot.now_ms(), 20).await;
        let interrupted = match self.bot.store().claimed(claimed) {
            Ok(rows) => rows,
            Err(error) => {
                if let Some(repeats) = crate::telemetry::store_failure("launch_recovery", &error) {
                    tracing::error!(%error, repeats, "cannot claim the launches in progress; trying again after a pause");
                }
                return 0;
            }
        };
        let batch: Vec<&str> = interrupted.iter().map(|l| l.key.as_str()).collect();
        for launch in &interrupted {
            let span = tracing::info_span!("recover_launch", job = %launch.job, reference = %launch.reference);
            tracing::Instrument::instrument(self.settle(launch, &batch), span).await;
        }
        if !interrupted.is_empty() {
            self.bot.outbox().wake();
        }
        interrupted.len()
    }

    /// `batch`: the launches this pass settles (held by this replica for that alone).
    async fn settle(&self, l: &LaunchRow, batch: &[&str]) {
        let (Some(job), Ok(channel), Ok(user)) =
            (self.bot.config().job(&l.job).cloned(), ChannelId::parse(&l.channel_id), UserId::parse(&l.user_id))
        else {
            tracing::warn!("an interrupted launch names a job, channel or user no longer valid; dropping it");
            self.end(l, None).await;
            return;
        };
        let label = render::job_label(&job);
        let named = l.run_id.as_deref().and_then(|r| crate::domain::RunId::parse(r).ok());
        let age = self.bot.now_ms() - l.started_at;
        if named.is_none() && age < LOOK_AFTER_MS {
            self.put_off(l, None, LOOK_AFTER_MS - age).await;
            return;
        }
        let mut others_held = false;
        let found = match named {
            Some(run) => Ok(Some(run)),
            None => {
                // The job's other launches made about then whose runs are not known share
                // out the runs nobody noted with this one.
                let near = self.bot.store().launches_near(&l.job, l.started_at - NEAR_MS, l.started_at + NEAR_MS).await;
                let near = match near {
                    Ok(near) => near,
                    Err(error) => {
                        tracing::error!(%error, "cannot read the job's other launches in progress; trying again later");
                        self.retry(l, None).await;
                        return;
                    }
                };
                let others: Vec<&NearLaunch> = near.iter().filter(|u| u.key != l.key).collect();
                let now = self.bot.now_ms();
                others_held = others.iter().any(|u| u.held(now) && !batch.contains(&u.key.as_str()));
                let theirs: Vec<&str> = others.iter().filter_map(|u| u.run_id.as_deref()).collect();
                let rivals: Vec<Looking> = others
                    .iter()
                    .filter(|u| u.run_id.is_none())
                    .map(|u| Looking { started_ms: u.started_at, channel: &u.channel_id, user: &u.user_id })
                    .collect();
                let me = Looking { started_ms: l.started_at, channel: &l.channel_id, user: &l.user_id };
                own_run(&self.bot, &job, me, &rivals, &theirs).await
            }
        };
        let followed;
        match found {
            Ok(Some(run_id)) => {
                tracing::warn!(run = %run_id, "a launch was interrupted after Tailer started its run; following the run");
                let known = crate::store::KnownRun {
                    run_id: run_id.to_string(),
                    job: job.name.to_string(),
                    channel_id: Some(l.channel_id.clone()),
                    launched_by: Some(l.user_id.clone()),
                    created_at: self.bot.now_ms(),
                };
                if let Err(error) = self.bot.store().remember_run(&known).await {
                    tracing::error!(%error, "cannot remember the recovered run");
                }
                // A launch that got as far as its card has its run followed (or told to its
                // end): a second card would tell it twice. Either way the launch's audit
                // entry is this one (its write leaves it to this recovery).
                let carded = match self.bot.store().card_posted_in(run_id.as_str(), channel.as_str()).await {
                    Ok(carded) => carded.is_some(),
                    Err(error) => {
                        tracing::error!(%error, "cannot read whether the recovered run has its card; trying again later");
                        self.retry(l, Some(run_id.as_str())).await;
                        return;
                    }
                };
                let date = l.execution_date.as_deref().and_then(|d| d.parse::<chrono::NaiveDate>().ok());
                let followed_now = if carded {
                    Ok(false)
                } else {
                    self.bot.start_watching(&job, run_id.as_str(), &channel, Follower::Launcher(&user), date, None).await
                };
                match followed_now {
                    Ok(_) => {
                        self.audit(l, &job, AuditOutcome::Succeeded, run_id.to_string()).await;
                        followed = Some(run_id.to_string());
                    }
                    Err(error) => {
                        tracing::error!(%error, "cannot follow the recovered run; trying again later");
                        self.retry(l, Some(run_id.as_str())).await;
                        return;
                    }
                }
            }
            Ok(None) if age < UNSEEN_MS => {
                tracing::info!("an interrupted launch's run is not seen in Tailer yet; looking again shortly");
                self.put_off(l, None, UNSEEN_RETRY_MS).await;
                return;
            }
            // Another launch of the job is held by a replica (being made, or its replica
            // died too and holds it until its claim runs out): once it is settled, or put
            // among those waiting, the runs may be told apart. Launches that all wait
            // decide together now: waiting longer would not change what they see.
            Ok(None) if age < OTHERS_MS && others_held => {
                tracing::info!("an interrupted launch waits for another launch of the job held by a replica before telling its run apart");
                self.put_off(l, None, UNSEEN_RETRY_MS).await;
                return;
            }
            Ok(None) => {
                tracing::warn!("a launch was interrupted and no run of it can be told apart; telling the channel");
                self.audit(l, &job, AuditOutcome::Unknown, "interrupted; no run found".into()).await;
                let text = render::outcomes::launch_interrupted(&label, &l.user_id, job.name.as_str(), &l.reference);
                let message = render::note(&text);
                let post = OutboxMessage::post(format!("write:{}", l.reference), l.channel_id.clone(), self.bot.outbox().render(&message))
                    .asked_by(Some(l.user_id.clone()));
                self.bot.outbox().enqueue(vec![post]).await;
                if let Err(error) = self.bot.store().end_launch_unknown(&l.key).await {
                    tracing::error!(%error, "cannot settle an interrupted launch; it will be looked at again (never relaunched)");
                }
                return;
            }
            Err(error) => {
                self.bot.stats().tailer_error(self.bot.now_ms());
                tracing::warn!(%error, "cannot ask Tailer about an interrupted launch; asking again later");
                self.retry(l, None).await;
                return;
            }
        }
        self.end(l, followed.as_deref()).await;
    }

    async fn end(&self, l: &LaunchRow, run: Option<&str>) {
        if let Err(error) = self.bot.store().end_launch(&l.key, run).await {
            tracing::error!(%error, "cannot settle an interrupted launch; it will be looked at again (never relaunched)");
        }
    }

    async fn retry(&self, l: &LaunchRow, run: Option<&str>) {
        self.put_off(l, run, RETRY_MS).await;
    }

    async fn put_off(&self, l: &LaunchRow, run: Option<&str>, after_ms: i64) {
        if let Err(error) = self.bot.store().retry_launch(&l.key, run, self.bot.now_ms() + after_ms).await {
            tracing::error!(%error, "cannot put an interrupted launch off");
        }
    }

    async fn audit(&self, l: &LaunchRow, job: &crate::config::Job, outcome: AuditOutcome, answer: String) {
        let entry = AuditEntry {
            id: 0,
            at: self.bot.now_ms(),
            reference: l.reference.clone(),
            user_id: l.user_id.clone(),
            channel_id: l.channel_id.clone(),
            action: Action::Launch,
            job: Some(job.name.to_string()),
            environment: Some(job.job.environment.to_string()),
            outcome,
            detail: "launch (taken over after the replica making it stopped)".into(),
            tailer_answer: Some(answer),
        };
        if let Err(error) = self.bot.store().audit(&entry).await {
            tracing::error!(%error, "cannot audit a recovered launch");
        }
    }
}
