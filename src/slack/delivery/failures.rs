//! When Slack says no: what a failure means for the message (later, at once again after
//! a rate limit, never), and, given up on, who is told and where.

use rand::Rng;

use super::{Delivery, MAX_BACKOFF_MS, Sent, TOKEN_REFUSED};
use crate::outbox::OutboxRow;
use crate::outbox::{Destination, OutboxBody, OutboxMessage, Place};
use crate::slack::api::{SlackError, SlackErrorKind};

impl Delivery {
    pub(super) fn failed_now(&self, error: &SlackError, row: &OutboxRow) -> Sent {
        let now = self.clock.now_ms();
        match &error.kind {
            SlackErrorKind::RateLimited(after) => {
                self.stats.slack_rate_limited(now);
                let wait = after.map(|d| d.as_millis() as i64).unwrap_or(1_000).max(1_000);
                if let Destination::Post { channel, .. } | Destination::Upload { channel, .. } = &row.message.to {
                    self.pacing.insert(channel.clone(), now + wait);
                }
                tracing::warn!(method = error.method, wait_ms = wait, "Slack asked to slow down");
                Sent::Later(now + wait, false)
            }
            SlackErrorKind::Api(code) if TOKEN_REFUSED.contains(&code.as_str()) => {
                self.stats.slack_error(now);
                let mut refused = self.token_refused.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
                let refusals = refused.map_or(0, |(_, n)| n) + 1;
                let wait = (1_000_i64 << refusals.clamp(0, 10)).min(MAX_BACKOFF_MS);
                *refused = Some((now + wait, refusals));
                tracing::error!(
                    method = error.method,
                    code = %code,
                    retry_in_secs = wait / 1000,
                    "Slack refuses the bot token ({code}): no message is sent until it works. Check SLACK_BOT_TOKEN (a reinstalled app has a new one) and restart; every message is kept and goes out then"
                );
                Sent::Later(now + wait, false)
            }
            _ if error.is_permanent() => {
                self.stats.slack_error(now);
                Sent::Failed(error.to_string())
            }
            _ => {
                self.stats.slack_error(now);
                let base = (1_000_i64 << row.attempts.clamp(0, 10)).min(MAX_BACKOFF_MS);
                let jitter = rand::rng().random_range(0..=base / 5);
                tracing::warn!(%error, attempts = row.attempts + 1, "Slack failed; will retry");
                let on_the_wire = matches!(error.kind, SlackErrorKind::Timeout | SlackErrorKind::Transport | SlackErrorKind::Http(500..));
                Sent::Later(now + base + jitter, on_the_wire && row.message.to.is_post())
            }
        }
    }

    /// A message given up on: dropped quietly when its thread never existed, else
    /// counted, logged, and told to the person it was for where possible.
    pub(super) async fn gave_up(&self, row: &OutboxRow, reason: &str, quiet: bool) {
        if quiet {
            tracing::info!(id = row.id, lane = %row.message.lane, %reason, "dropping a message whose thread was never posted");
            return;
        }
        self.stats.undeliverable();
        tracing::error!(id = row.id, lane = %row.message.lane, %reason, "a Slack message cannot be delivered; giving up on it");
        self.pause_closed(&row.message.lane, reason).await;
        self.tell_requester(row, reason).await;
    }

    /// An expectation's alert or a digest that cannot be posted because the bot is not in
    /// the channel (removed, archived): the expectation or the digest is paused (it is set
    /// again to resume), and the audit says why.
    async fn pause_closed(&self, lane: &str, reason: &str) {
        let Some(code) = ["not_in_channel", "channel_not_found", "is_archived"].into_iter().find(|code| reason.contains(code)) else {
            return;
        };
        let (action, channel, job, paused) = if let Some((channel, job)) = crate::messages::expect::of_lane(lane) {
            let paused = self.store.pause_expectation(channel, job, code).await.map(|p| p.map(|p| p.created_by));
            (crate::domain::Action::Expect, channel, Some(job), paused)
        } else if let Some(channel) = crate::messages::digest::of_lane(lane) {
            let paused = self.store.pause_digest(channel, code).await.map(|p| p.map(|p| p.created_by));
            (crate::domain::Action::Digest, channel, None, paused)
        } else {
            return;
        };
        let created_by = match paused {
            Ok(Some(created_by)) => created_by,
            Ok(None) => return,
            Err(error) => {
                tracing::error!(%error, channel, %action, "cannot pause what cannot be posted in its channel");
                return;
            }
        };
        tracing::warn!(channel, ?job, %action, %reason, "paused: its messages cannot be posted in its channel");
        let what = if job.is_some() { "its alert" } else { "the daily digest" };
        let entry = crate::store::AuditEntry {
            id: 0,
            at: self.clock.now_ms(),
            reference: if job.is_some() { "expectation" } else { "digest" }.to_owned(),
            user_id: created_by,
            channel_id: channel.to_owned(),
            action,
            job: job.map(str::to_owned),
            environment: None,
            outcome: crate::store::AuditOutcome::Failed,
            detail: format!("paused: {what} cannot be posted in this channel ({code})"),
            tailer_answer: None,
        };
        if let Err(error) = self.store.audit(&entry).await {
            tracing::error!(%error, "cannot record a pause in the audit");
        }
    }

    /// When Slack refused for good, the person who asked hears why, where possible.
    async fn tell_requester(&self, row: &OutboxRow, reason: &str) {
        let m = &row.message;
        // A fallback for an expired or refused response_url: the channel itself, or
        // only its asker there when the answer was for them alone.
        if let Destination::Respond { channel: Some(channel), user, .. } = &m.to {
            let in_channel = m.body.response_type == Some(crate::domain::Visibility::InChannel);
            let to = match (in_channel, user) {
                (true, _) => Destination::Post { channel: channel.clone(), place: Place::Channel, asked_by: user.clone() },
                (false, Some(user)) => Destination::Ephemeral { channel: channel.clone(), user: user.clone(), thread_ts: None },
                (false, None) => return,
            };
            let body = OutboxBody { replace_original: false, response_type: None, ..m.body.clone() };
            self.outbox.enqueue(vec![OutboxMessage::new(format!("{}:fallback", m.lane), to, body)]).await;
            return;
        }
        // A file Slack will not take: the words go out alone, with what to grant.
        if let Destination::Upload { channel, asked_by, in_lane, .. } = &m.to {
            // Blocks Slack refused would be refused again: then the note alone.
            let blocks_refused = ["invalid_blocks", "msg_too_long"].iter().any(|code| reason.contains(code));
            let mut blocks = if blocks_refused { Vec::new() } else { m.body.blocks.clone() };
            blocks.push(serde_json::json!({"type": "context", "elements": [{"type": "mrkdwn", "text": upload_refused(reason)}]}));
            // Where the file was to go: under its lane's root (a digest's chart), or in the channel.
            let (lane, place) = match in_lane {
                true => (m.lane.clone(), Place::Thread { broadcast: false }),
                false => (format!("{}:fallback", m.lane), Place::Channel),
            };
            let to = Destination::Post { channel: channel.clone(), place, asked_by: asked_by.clone() };
            let body = OutboxBody::plain(m.body.text.clone(), blocks);
            self.outbox.enqueue(vec![OutboxMessage::new(lane, to, body)]).await;
            return;
        }
        let channel_problem =
            ["not_in_channel", "channel_not_found", "is_archived", "restricted_action"].iter().any(|code| reason.contains(code));
        let (Some(user), Some(channel), true) = (m.to.person(), m.to.channel(), channel_problem) else {
            return;
        };
        if m.to.is_post() && channel.starts_with('U') {
            return;
        }
        let text = if reason.contains("not_in_channel") {
            format!(":wave: I could not post in <#{channel}>: I am not a member. Invite me with `/invite @tailerbot`, then try again.")
        } else if reason.contains("channel_not_found") {
            // What Slack says of a private channel the bot is not in (or of one deleted).
            format!(
                ":wave: I could not post in <#{channel}>: Slack does not show me that channel. If it is private, invite me with `/invite @tailerbot`, then try again."
            )
        } else {
            format!(":warning: I could not post in <#{channel}>: {}.", crate::slack::blocks::escape(reason))
        };
        self.outbox
            .enqueue(vec![OutboxMessage::post(format!("notice:{user}"), user, crate::chat::Rendered { text, blocks: Vec::new() })])
            .await;
    }
}

/// What to grant when Slack refuses a file, in words for the channel.
fn upload_refused(reason: &str) -> String {
    let why = if reason.contains("missing_scope") || reason.contains("no_permission") {
        "the app may not upload files: an admin adds the `files:write` scope (the app's manifest has it) and reinstalls the app".to_owned()
    } else if ["not_in_channel", "channel_not_found"].iter().any(|code| reason.contains(code)) {
        "I am not a member of this channel: invite me with `/invite @tailerbot`".to_owned()
    } else {
        format!("Slack refused it ({})", crate::slack::blocks::escape(reason))
    };
    format!(":warning: I could not upload the chart: {why}.")
}
