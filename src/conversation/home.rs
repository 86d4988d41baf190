//! The Home tab: published (`views.publish`, through the outbox) when a person opens it:
//! what is switched off (each with *Enable*), the runs being followed in the channels the
//! person is in, the runs that failed in the last 24 h, and what the person asked that
//! waits for a confirmation, all among the jobs the rules let them read.

use chrono::{DateTime, Utc};

use crate::bot::{Bot, BotError, Context};
use crate::chat::{Button, Message};
use crate::config::Job;
use crate::domain::markup::plain;
use crate::domain::{Action, ChannelId, Press};
use crate::messages::{self as render, Links};
use crate::outbox::OutboxMessage;
use crate::store::Confirmation;
use crate::tailer::RunStatus;

/// How far back failed runs are shown.
const FAILED_WITHIN_MS: i64 = 24 * 3_600_000;
/// The most lines of each part (the view's blocks stay within Slack's limits; longer
/// lists end with "…and N more").
const MOST: u32 = 20;

/// The person's Home tab, queued for publishing.
pub(super) async fn publish(bot: &Bot, ctx: &Context) -> Result<(), BotError> {
    let view = render_home(bot, ctx).await?;
    bot.outbox().enqueue(vec![OutboxMessage::home(ctx.user.to_string(), Some(ctx.channel.to_string()), bot.outbox().render(&view))]).await;
    Ok(())
}

async fn render_home(bot: &Bot, ctx: &Context) -> Result<Message, BotError> {
    let links = Links::of(bot.config());
    let mut m = Message::new("tailerbot");
    m.section(&format!(":house: *tailerbot* · what you may see, as of {}", render::when(bot.clock().now())));
    m.context("Type `/tailer help` anywhere, or mention @tailerbot. What the buttons here do is answered in our conversation.");
    if !crate::commands::form::launchable(bot, ctx).await.is_empty() {
        m.actions("home", &[Button::press("Launch…", &Press::HomeLaunch).primary()]);
    }

    // Switched off, each with *Enable* where the rules let this person switch it on
    // here (in their conversation with the bot, as if typed there).
    let off = crate::commands::operate::switched_off_visible(bot, ctx).await?;
    m.divider();
    m.section(&format!("*Switched off* ({})", off.len()));
    if off.is_empty() {
        m.context("Nothing you may see is switched off, as far as I know.");
    } else {
        m.lines(&off.iter().map(|(job, switch)| format!("• {}", render::switched_off(job, switch))).collect::<Vec<_>>(), 13);
        let mut enabled: Vec<&Job> = Vec::new();
        for (job, _) in &off {
            if bot.allowed_alone(ctx, Action::Enable, job).await {
                enabled.push(job);
            }
        }
        let buttons: Vec<Button> = enabled
            .iter()
            .take(render::ENABLE_BUTTONS)
            .map(|job| Button { label: format!("Enable {}", job.name), ..render::enable_button(job.name.as_str()) })
            .collect();
        if !buttons.is_empty() {
            m.actions("home_enable", &buttons);
        }
        if enabled.len() < off.len() || enabled.len() > render::ENABLE_BUTTONS {
            m.context(&format!("`/tailer enable {}` in a channel switches on the others, under that channel's rules.", plain("<job>")));
        }
    }

    // Followed runs, in the channels the reader is in and in their own conversation with
    // the bot. When Slack cannot say which channels those are, only the latter.
    let readable: Vec<&Job> = bot.visible(ctx, Action::Status, &bot.config().jobs).await;
    let followed = bot.store().followed_runs(MOST * 5).await.map_err(BotError::store(&ctx.reference, "cannot read the followed runs"))?;
    let followed: Vec<_> = followed
        .iter()
        .filter_map(|(run, job, status, channel)| Some((run, readable.iter().find(|j| j.name.as_str() == job)?, status, channel)))
        .collect();
    // Slack is asked only when a run is followed somewhere else than this conversation.
    let elsewhere = followed.iter().any(|(_, _, _, channel)| channel.as_str() != ctx.channel.as_str());
    let member_of = if elsewhere {
        match bot.channels_of().get(&ctx.user, bot.surface().conversations_of(&ctx.user)).await {
            Ok(channels) => Ok(channels),
            Err(error) => {
                tracing::warn!(%error, user = %ctx.user, "cannot read which channels a person is in: their Home tab shows no run followed in a channel");
                Err(error)
            }
        }
    } else {
        Ok(Default::default())
    };
    let seen = |channel: &str| {
        channel == ctx.channel.as_str() || member_of.as_ref().is_ok_and(|of| ChannelId::parse(channel).is_ok_and(|c| of.contains(&c)))
    };
    let lines: Vec<String> = followed
        .iter()
        .filter_map(|(run, job, status, channel)| {
            if !seen(channel) {
                return None;
            }
            let status =
                status.as_deref().map(|s| render::status(&RunStatus::parse(s))).unwrap_or_else(|| ":hourglass: not shown yet".into());
            Some(format!(
                "• {} · run {} · {status} · in {}",
                render::job_label(job),
                links.run(job, run),
                crate::domain::markup::channel(channel)
            ))
        })
        .collect();
    m.divider();
    m.section(&format!("*Runs being followed* ({})", lines.len()));
    if lines.is_empty() {
        m.context("No run is being followed where you are.");
    } else {
        m.lines(&lines, 8);
    }
    if let Err(error) = &member_of {
        m.context(&format!(
            ":warning: I cannot tell which channels you are in ({}), so runs followed in channels are not shown. \
             The app needs the scopes `channels:read` and `groups:read`.",
            plain(&error.to_string())
        ));
    }

    // Failed in the last 24 h: one read per account and type of the readable jobs.
    let owned: Vec<Job> = readable.iter().map(|j| (*j).clone()).collect();
    m.divider();
    match crate::commands::runs::runs_in(bot, &owned, None, RunStatus::Failed).await {
        Ok(failed) => {
            let since = bot.clock().now().timestamp_millis() - FAILED_WITHIN_MS;
            let recent: Vec<String> = failed
                .iter()
                .filter(|(_, item)| ended(item).is_some_and(|t| t.timestamp_millis() >= since))
                .map(|(job, item)| {
                    let when = ended(item).map(|t| format!(" · {}", render::when(t))).unwrap_or_default();
                    format!("• {} · run {}{when}", render::job_label(job), links.item(Some(job), item))
                })
                .collect();
            m.section(&format!("*Failed in the last 24 h* ({})", recent.len()));
            if recent.is_empty() {
                m.context("No run of the jobs you may see failed in the last 24 h.");
            } else {
                m.lines(&recent, 4);
            }
        }
        Err(error) => {
            tracing::warn!(%error, "a Tailer read for a Home tab failed");
            m.section("*Failed in the last 24 h*");
            m.context(&format!(":warning: {} (ref `{}`)", plain(&error.to_string()), ctx.reference));
        }
    }

    // What this person asked that waits for someone's confirmation.
    let pending = bot
        .store()
        .pending_confirmations_of(ctx.user.as_str(), bot.now_ms(), MOST)
        .await
        .map_err(BotError::store(&ctx.reference, "cannot read the confirmations"))?;
    m.divider();
    m.section(&format!("*Waiting for a confirmation* ({})", pending.len()));
    if pending.is_empty() {
        m.context("Nothing you asked waits for a confirmation.");
    } else {
        m.lines(&pending.iter().map(asked).collect::<Vec<_>>(), 0);
    }
    Ok(m)
}

/// When a run ended, as far as its item tells.
fn ended(item: &crate::tailer::RunItem) -> Option<DateTime<Utc>> {
    item.ended_at()
}

/// One pending confirmation: what, where, until when.
fn asked(c: &Confirmation) -> String {
    let what =
        crate::commands::writes::Plan::from_json(&c.request.plan).map(|p| p.detail()).unwrap_or_else(|_| c.request.action.to_string());
    let until = DateTime::from_timestamp_millis(c.request.expires_at).map(render::when).unwrap_or_default();
    format!("• `{}` in {} · until {until}", plain(&what), crate::domain::markup::channel(&c.request.channel_id))
}
