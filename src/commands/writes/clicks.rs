//! Button clicks: what each asks for is read once ([`Press`]), a replayed click is
//! not acted on again, and each button takes the path of the command it stands for, in
//! the place it was clicked. *Confirm* and *Cancel* are `confirm.rs`'s.

use std::sync::Arc;

use tracing::Instrument;

use super::{Write, write};
use crate::bot::{Ack, Answer, Bot, BotError, Context, reference};
use crate::chat::{Click, Interaction};
use crate::domain::{CardButton, ChannelId, Press, PressError, RunId};
use crate::store::{AuditOutcome, ConfirmationState};

/// Answers an interaction. Notes for the clicker go to the click's `response_url`
/// (ephemeral); the HTTP answer is always empty.
/// A modal's submission is answered by the form (its errors, or nothing).
pub async fn interaction(bot: &Arc<Bot>, interaction: Interaction) -> Ack {
    let click = match interaction {
        Interaction::Click(click) => click,
        Interaction::Submission(submission) => return crate::commands::form::submitted(bot, submission).await,
        Interaction::Other { kind, .. } => {
            tracing::info!(%kind, "ignored an interaction the bot does not use");
            return Ack::Empty;
        }
    };
    // Without a channel, only the click's response_url can be answered; from the Home
    // tab, in the person's conversation with the bot.
    let place = place_of(&click).unwrap_or_else(|| ChannelId::parse("C0UNKNOWN").expect("a valid id"));
    let to = clicker(&click, place, reference(), from_home(&click));
    if let Ack::Message(body) = clicked(bot, click).await {
        bot.deliver(&to, body).await;
    }
    Ack::Empty
}

async fn clicked(bot: &Arc<Bot>, click: Click) -> Ack {
    // One reference for what the clicker is told and for the log lines of this click.
    let reference = reference();
    let span = tracing::info_span!("click", reference = %reference, action_id = %click.action_id, user = %click.user_id);
    // Turned into the answer within the span: a failure's log line names who clicked what.
    async { bot.answer_to(act(bot, click, reference).await) }.instrument(span).await
}

/// What a click does.
async fn act(bot: &Arc<Bot>, click: Click, reference: String) -> Answer {
    let press = match Press::decode(&click.action_id, &click.value) {
        Ok(Press::OpenInTailer) => {
            // A link button: Slack opened the page; the click needs nothing from the bot.
            return Ok(Ack::Empty);
        }
        Ok(press) => press,
        Err(error @ PressError::Unknown(_)) => {
            tracing::warn!(%error, "a click on a button the bot does not know");
            return Ok(Ack::Empty);
        }
        Err(error @ PressError::Value(_)) => {
            tracing::warn!(%error, "a click whose value the bot did not write");
            return Err(BotError::user(":warning: This button's value cannot be read; nothing was done."));
        }
    };
    let trigger = format!("trigger:{}", click.trigger_id);
    if !bot.store().first_time(&trigger, bot.now_ms()).await.map_err(BotError::store(&reference, "cannot record the click"))? {
        tracing::info!("a replayed click (same trigger_id) was not acted on again");
        return Ok(Ack::Empty);
    }
    match press {
        Press::Confirm { confirmation } => super::confirm::decide(bot, click, &confirmation, ConfirmationState::Confirmed, reference).await,
        Press::Cancel { confirmation } => super::confirm::decide(bot, click, &confirmation, ConfirmationState::Cancelled, reference).await,
        Press::HomeLaunch => home_launch(bot, click, reference).await,
        Press::OlderCard { card, job } => {
            // Cards posted before buttons named their run: the run is unknown, so the
            // place cannot be checked.
            tracing::warn!(value = %click.value, "a card button without a run: not acted on");
            let name = job.as_ref().map_or("JOB", |n| n.as_str());
            Err(BotError::user(format!(
                ":warning: This button is from an older card and cannot be used any more; nothing was done. Type `/tailer {}` instead.",
                if card == CardButton::LaunchAgain { format!("launch {name}") } else { format!("mark {name} RUN_ID CHECKED") }
            )))
        }
        Press::LaunchAgain { job, run, execution_date } => {
            card_button(bot, click, run, Write::Launch { job, execution_date }, reference).await
        }
        Press::DisableHour { job, run } => {
            let reason = Some(format!("after run {run} failed"));
            let command =
                Write::Disable { target: super::super::Target::Job(job), duration: Some(crate::messages::cards::DISABLE_FOR), reason };
            card_button(bot, click, run, command, reference).await
        }
        Press::MarkChecked { job, run } => {
            let command = Write::Mark { job, run: run.clone(), status: crate::tailer::RunStatus::Checked };
            card_button(bot, click, run, command, reference).await
        }
        Press::EnableAndLaunch { job, execution_date } => {
            let enable = Write::Enable { target: super::super::Target::Job(job.clone()) };
            switch_button(bot, click, SwitchChoice::EnableThenLaunch(enable, Write::Launch { job, execution_date }), reference).await
        }
        Press::LaunchAnyway { job, execution_date } => {
            switch_button(bot, click, SwitchChoice::Launch(Write::Launch { job, execution_date }), reference).await
        }
        Press::Enable { target } => {
            // The value is read as the command it stands for: a forged one is refused as typed.
            let command = crate::commands::parse(&format!("enable {target}"))
                .map_err(|usage| BotError::user(crate::domain::markup::plain(&usage.explain())))?;
            match command {
                crate::commands::Command::Write(write @ Write::Enable { .. }) => {
                    switch_button(bot, click, SwitchChoice::Enable(write), reference).await
                }
                other => Err(BotError::user(format!("This button cannot `{}`; nothing was done.", other.action()))),
            }
        }
        Press::OpenInTailer => Ok(Ack::Empty),
        Press::ExpectLaunch { job } => {
            let launch = Write::Launch { job, execution_date: None };
            switch_button(bot, click, SwitchChoice::Typed(launch), reference).await
        }
        Press::ExpectLast { job } => typed_here(bot, click, &format!("last {job}"), reference).await,
        Press::ExpectMute { job, day } => {
            let Some(channel) = place_of(&click) else { return Ok(Ack::Empty) };
            let ctx = clicker(&click, channel, reference, false);
            crate::commands::expect::mute(bot, &ctx, &job, day).await
        }
    }
}

/// A read button: the command it stands for, typed by the clicker where they clicked.
async fn typed_here(bot: &Arc<Bot>, click: Click, text: &str, reference: String) -> Answer {
    let Some(channel) = place_of(&click) else { return Ok(Ack::Empty) };
    let command = crate::commands::parse(text).map_err(|usage| BotError::user(crate::domain::markup::plain(&usage.explain())))?;
    crate::commands::run(bot, clicker(&click, channel, reference, false), command).await
}

/// What a switch button asks for.
enum SwitchChoice {
    /// *Enable*: the write as typed (a job or a tag).
    Enable(Write),
    /// *Launch anyway*.
    Launch(Write),
    /// A write as if typed (*Launch* on an expectation's alert): a job that is off is
    /// asked about first.
    Typed(Write),
    /// *Enable and launch*: switch it on, then launch.
    EnableThenLaunch(Write, Write),
}

/// *Enable* (on the answer to `disabled`, on a "Disabled" message), *Launch anyway* and
/// *Enable and launch* (on the question before a launch of a job that is off): the
/// commands they stand for, typed by the clicker where they clicked, under the rules
/// (and confirmation) of that place.
async fn switch_button(bot: &Arc<Bot>, click: Click, choice: SwitchChoice, reference: String) -> Answer {
    let Some(channel) = place_of(&click) else {
        tracing::warn!("a button clicked with no channel: not acted on");
        return Ok(Ack::Empty);
    };
    let ctx = clicker(&click, channel, reference, from_home(&click));
    match choice {
        SwitchChoice::EnableThenLaunch(enable, launch) => {
            super::write_then(bot, ctx, enable, Some(launch), super::IfOff::LaunchAnyway).await
        }
        SwitchChoice::Launch(launch) => super::write_if_off(bot, ctx, launch, super::IfOff::LaunchAnyway).await,
        SwitchChoice::Typed(write) => super::write(bot, ctx, write).await,
        SwitchChoice::Enable(enable) => write(bot, ctx, enable).await,
    }
}

/// The buttons of a finished run card: the same path, rules and confirmation as the
/// commands they stand for.
///
/// A button acts only in the channel of the card it belongs to: its value names the
/// run, and the bot must have posted that run's card in the click's channel.
async fn card_button(bot: &Arc<Bot>, click: Click, run: RunId, command: Write, reference: String) -> Answer {
    let Some(channel) = click.channel_id.clone() else {
        tracing::warn!("a card button clicked with no channel: not acted on");
        return Ok(Ack::Empty);
    };
    let ctx = clicker(&click, channel.clone(), reference, false);
    // The card names the run's job as the bot knows it; the button's word must agree.
    let posted = bot
        .store()
        .card_posted_in(run.as_str(), channel.as_str())
        .await
        .map_err(BotError::store(&ctx.reference, "cannot check where the card was posted"))?;
    // Or the end of that run was announced here (a subscription alert).
    let announced = posted.is_none()
        && bot
            .store()
            .announced_in(channel.as_str(), run.as_str())
            .await
            .map_err(BotError::store(&ctx.reference, "cannot check where the run was announced"))?;
    match posted {
        Some(card_job) if card_job == command_job(&command) => super::write_from_card(bot, ctx, command, &run).await,
        None if announced => super::write_from_card(bot, ctx, command, &run).await,
        _ => {
            let action = command.action();
            let job = bot.config().job(command_job(&command)).cloned();
            let detail = format!("{} — a card button for run {run} clicked where the bot posted no card of it", click.action_id);
            bot.audit(bot.entry(&ctx, action, job.as_ref(), AuditOutcome::Denied, detail, None)).await;
            tracing::warn!(%run, %channel, "refused a card button clicked outside the card's channel");
            Err(BotError::user(
                ":no_entry: This button belongs to a message about this run in another channel; it only works there, so nothing was done.",
            ))
        }
    }
}

/// The clicker's context in `channel`: answered at the click's `response_url`, in the
/// conversation with the bot when the click came from the Home tab.
fn clicker(click: &Click, channel: ChannelId, reference: String, public: bool) -> Context {
    Context {
        user: click.user_id.clone(),
        channel,
        team: click.team_id.to_string(),
        response_url: click.response_url.clone(),
        reference,
        thread: None,
        public,
        direct: click.direct || from_home(click),
    }
}

/// Where a click acts and is answered: the channel of the message that carried the
/// button, or, for the Home tab, the person's conversation with the bot (the tab's
/// `private_metadata`).
fn place_of(click: &Click) -> Option<ChannelId> {
    click.channel_id.clone().or_else(|| {
        let view = click.view.as_ref().filter(|v| v.callback_id == crate::chat::HOME_VIEW)?;
        crate::chat::metadata_channel(&view.private_metadata, &click.user_id)
    })
}

/// Whether a click came from the Home tab (its answers are posted in the person's
/// conversation with the bot, which only they read).
fn from_home(click: &Click) -> bool {
    click.channel_id.is_none() && place_of(click).is_some()
}

/// *Launch* on the Home tab: the launch modal, opened with the click's `trigger_id`.
async fn home_launch(bot: &Arc<Bot>, click: Click, reference: String) -> Answer {
    let Some(channel) = place_of(&click) else {
        tracing::warn!("*Launch* clicked outside the Home tab: not acted on");
        return Ok(Ack::Empty);
    };
    let ctx = Context { response_url: None, ..clicker(&click, channel, reference, true) };
    crate::commands::form::open_launch(bot, &ctx, &click.trigger_id, None).await
}

fn command_job(command: &Write) -> &str {
    match command {
        Write::Launch { job, .. } | Write::Mark { job, .. } | Write::Disable { target: super::super::Target::Job(job), .. } => job.as_str(),
        _ => "",
    }
}
