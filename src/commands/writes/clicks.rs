//! Button clicks. *Confirm* and *Cancel* act on a stored confirmation exactly once: the
//! store decides which of two racing clicks wins, whichever replica received them.

use std::sync::Arc;

use tracing::Instrument;

use super::execute::{execute, journal, timers_for};
use super::{Plan, write};
use crate::bot::{Ack, Answer, Audit, Bot, BotError, Context, reference};
use crate::commands::Command;
use crate::messages as render;

use crate::config::Job;
use crate::domain::{CardButton, ChannelId, Press, PressError, RunId, UserId};
use crate::slack::api::ResponseBody;
use crate::slack::payload::{BlockAction, Interaction};
use crate::store::{AuditOutcome, Confirmation, ConfirmationState, Decision};

/// Answers an interaction. Notes for the clicker go to the click's `response_url`
/// (ephemeral); the HTTP answer is always empty.
/// A modal's submission is answered by the form (its errors, or nothing).
pub async fn interaction(bot: &Arc<Bot>, interaction: Interaction) -> Ack {
    let click = match interaction {
        Interaction::BlockAction(click) => click,
        Interaction::ViewSubmission(submission) => return crate::commands::form::submitted(bot, submission).await,
        Interaction::Other { kind, .. } => {
            tracing::info!(%kind, "ignored an interaction the bot does not use");
            return Ack::Empty;
        }
    };
    let to = Context {
        user: click.user_id.clone(),
        // Without a channel, only the click's response_url can be answered.
        channel: place_of(&click).unwrap_or_else(|| ChannelId::parse("C0UNKNOWN").expect("a valid id")),
        team: click.team_id.to_string(),
        response_url: click.response_url.clone(),
        reference: reference(),
        thread: None,
        // From the Home tab: answered in the person's conversation with the bot.
        public: from_home(&click),
    };
    if let Ack::Message(body) = clicked(bot, click).await {
        bot.deliver(&to, body).await;
    }
    Ack::Empty
}

async fn clicked(bot: &Arc<Bot>, click: BlockAction) -> Ack {
    // One reference for what the clicker is told and for the log lines of this click.
    let reference = reference();
    let span = tracing::info_span!("click", reference = %reference, action_id = %click.action_id, user = %click.user_id);
    // Turned into the answer within the span: a failure's log line names who clicked what.
    async { bot.answer_to(act(bot, click, reference).await) }.instrument(span).await
}

/// What a click does.
async fn act(bot: &Arc<Bot>, click: BlockAction, reference: String) -> Answer {
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
    if !bot.store.first_time(&trigger, bot.now_ms()).await.map_err(BotError::store(&reference, "cannot record the click"))? {
        tracing::info!("a replayed click (same trigger_id) was not acted on again");
        return Ok(Ack::Empty);
    }
    match press {
        Press::Confirm { confirmation } => decide_confirmation(bot, click, &confirmation, ConfirmationState::Confirmed, reference).await,
        Press::Cancel { confirmation } => decide_confirmation(bot, click, &confirmation, ConfirmationState::Cancelled, reference).await,
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
            card_button(bot, click, run, Command::Launch { job, execution_date }, reference).await
        }
        Press::DisableHour { job, run } => {
            let reason = Some(format!("after run {run} failed"));
            let command =
                Command::Disable { target: super::super::Target::Job(job), duration: Some(crate::messages::cards::DISABLE_FOR), reason };
            card_button(bot, click, run, command, reference).await
        }
        Press::MarkChecked { job, run } => {
            let command = Command::Mark { job, run: run.clone(), status: crate::tailer::RunStatus::Checked };
            card_button(bot, click, run, command, reference).await
        }
        Press::EnableAndLaunch { job, execution_date } => {
            let enable = Command::Enable { target: super::super::Target::Job(job.clone()) };
            switch_button(bot, click, SwitchChoice::EnableThenLaunch(enable, Command::Launch { job, execution_date }), reference).await
        }
        Press::LaunchAnyway { job, execution_date } => {
            switch_button(bot, click, SwitchChoice::Launch(Command::Launch { job, execution_date }), reference).await
        }
        Press::Enable { target } => {
            // The value is read as the command it stands for: a forged one is refused as typed.
            let command = crate::commands::parse(&format!("enable {target}"))
                .map_err(|usage| BotError::user(crate::slack::blocks::escape(&usage.explain())))?;
            switch_button(bot, click, SwitchChoice::Enable(command), reference).await
        }
        Press::OpenInTailer => Ok(Ack::Empty),
    }
}

/// What a switch button asks for.
enum SwitchChoice {
    /// *Enable*: the command as typed (a job or a tag).
    Enable(Command),
    /// *Launch anyway*.
    Launch(Command),
    /// *Enable and launch*: switch it on, then launch.
    EnableThenLaunch(Command, Command),
}

async fn decide_confirmation(bot: &Arc<Bot>, click: BlockAction, id: &str, to: ConfirmationState, reference: String) -> Answer {
    let confirmation = bot
        .store
        .confirmation(id)
        .await
        .map_err(BotError::store(&reference, "cannot read the confirmation"))?
        .ok_or_else(|| BotError::user("This confirmation does not exist (any more)."))?;
    let request = &confirmation.request;
    let plan = Plan::from_json(&request.plan);
    let Ok(plan) = plan.inspect_err(|error| tracing::error!(id = %request.id, %error, "a stored plan cannot be read")) else {
        return Err(BotError::user(":warning: This confirmation cannot be read any more; nothing was done."));
    };
    let jobs: Vec<Job> = plan.jobs.iter().filter_map(|n| bot.config.job(n).cloned()).collect();
    let job_refs: Vec<&Job> = jobs.iter().collect();
    let channel = ChannelId::parse(&request.channel_id)
        .unwrap_or_else(|_| click.channel_id.clone().unwrap_or_else(|| ChannelId::parse("C0UNKNOWN").expect("a valid id")));
    let requester = UserId::parse(&request.requester).unwrap_or_else(|_| click.user_id.clone());
    // The context of the original request, so the audit and the outcome name the requester.
    let ctx = Context {
        user: requester.clone(),
        channel: channel.clone(),
        team: request.team_id.clone(),
        response_url: click.response_url.clone(),
        reference,
        thread: None,
        public: false,
    };
    let action = plan.action();
    let clicker = &click.user_id;
    // The clicker is the actor of the audit entries of this click.
    let clicker_ctx = Context { user: clicker.clone(), ..ctx.clone() };
    // A confirmation acts only where it was asked: its workspace, and its channel.
    if let Some(elsewhere) = misplaced(&click, &request.team_id, &request.channel_id) {
        let detail = format!("{} a confirmation of: {} — clicked {elsewhere}", verb(to), plan_detail(&plan));
        for job in &jobs {
            bot.audit(bot.entry(&clicker_ctx, action, Some(job), AuditOutcome::Denied, detail.clone(), None)).await;
        }
        tracing::warn!(clicked = %elsewhere, confirmation = %request.id, "refused a confirmation click from another place");
        let done = if to == ConfirmationState::Cancelled { "cancelled" } else { "confirmed" };
        return Err(BotError::user(if click.team_id.as_str() == request.team_id {
            format!(
                ":no_entry: This confirmation was asked in <#{}>; it can only be {done} there, so nothing was done.",
                request.channel_id
            )
        } else {
            format!(
                ":no_entry: This confirmation was asked in another workspace; it can only be {done} from that workspace, so nothing was done."
            )
        }));
    }
    if jobs.len() != plan.jobs.len() {
        bot.audit(bot.entry(
            &clicker_ctx,
            action,
            None,
            AuditOutcome::Failed,
            format!("{} — the catalog changed since it was asked", plan_detail(&plan)),
            None,
        ))
        .await;
        return Err(BotError::user(":warning: The catalog changed since this was asked, so nothing was done. Please ask again."));
    }

    if !(to == ConfirmationState::Cancelled && clicker == &requester) {
        if to == ConfirmationState::Confirmed && request.second_person && clicker == &requester {
            return Err(BotError::user(
                ":raised_hand: This needs a second person: someone other than you, whom the rules allow, must confirm it.",
            ));
        }
        let detail = format!("{} a confirmation of: {}", verb(to), plan_detail(&plan));
        if let Err(mut denial) = bot.authorize(&clicker_ctx, action, &job_refs, Audit::Denials { detail: &detail }).await {
            denial.what = format!("{} (so you cannot {} it)", denial.what, verb(to));
            return Err(denial.into());
        }
    }

    let summary = plan.summary(&job_refs);
    // A confirmed write is noted with the decision, in one transaction: a crash after
    // the click cannot leave it confirmed and never done.
    let journal = journal(bot, &ctx, &plan, Some(clicker), click.message_ts.clone());
    let decision = match to {
        ConfirmationState::Confirmed => {
            let timers = timers_for(&journal, &plan);
            bot.store.confirm_and_begin(&request.id, clicker.as_str(), bot.now_ms(), &journal, &timers).await
        }
        _ => bot.store.decide(&request.id, to, clicker.as_str(), bot.now_ms()).await,
    };
    Ok(match decision.map_err(BotError::store(&ctx.reference, "cannot record the decision"))? {
        Decision::NotFound => return Err(BotError::user("This confirmation does not exist (any more).")),
        Decision::AlreadyDecided(c) => return Err(BotError::user(already(&c))),
        Decision::Expired(_) => {
            for job in &jobs {
                bot.audit(bot.entry(&ctx, action, Some(job), AuditOutcome::Expired, plan_detail(&plan), None)).await;
            }
            let body = ResponseBody::in_channel(render::note(&format!(
                ":hourglass: Expired: nobody confirmed *{summary}* within 10 minutes, so nothing was done. Ask again if it is still needed."
            )))
            .replacing();
            bot.after_ack(ctx, async move { body });
            Ack::Empty
        }
        Decision::Decided(_) if to == ConfirmationState::Cancelled => {
            for job in &jobs {
                bot.audit(bot.entry(
                    &clicker_ctx,
                    action,
                    Some(job),
                    AuditOutcome::Cancelled,
                    format!("{} (asked by {requester})", plan_detail(&plan)),
                    None,
                ))
                .await;
            }
            let body =
                ResponseBody::in_channel(render::note(&format!(":no_entry_sign: Cancelled by <@{clicker}>: {summary}. Nothing was done.")))
                    .replacing();
            bot.after_ack(ctx, async move { body });
            Ack::Empty
        }
        Decision::Decided(_) => {
            for job in &jobs {
                bot.audit(bot.entry(
                    &clicker_ctx,
                    action,
                    Some(job),
                    AuditOutcome::Confirmed,
                    format!("{} (asked by {requester})", plan_detail(&plan)),
                    None,
                ))
                .await;
            }
            let later = bot.clone();
            let confirmer = clicker.clone();
            let progress =
                ResponseBody::in_channel(render::note(&format!(":hourglass_flowing_sand: Confirmed by <@{confirmer}>: {summary}…")))
                    .replacing();
            let span = tracing::info_span!("write", reference = %ctx.reference, user = %ctx.user, confirmed_by = %confirmer, action = %plan.action(), target = %plan.target());
            crate::crash::point(crate::crash::AFTER_CONFIRMATION);
            bot.tasks.spawn(
                async move {
                    later.deliver(&ctx, progress).await;
                    execute(&later, ctx, plan, journal, false).await;
                }
                .instrument(span),
            );
            Ack::Empty
        }
    })
}

/// *Enable* (on the answer to `disabled`, on a "Disabled" message), *Launch anyway* and
/// *Enable and launch* (on the question before a launch of a job that is off): the
/// commands they stand for, typed by the clicker where they clicked, under the rules
/// (and confirmation) of that place.
async fn switch_button(bot: &Arc<Bot>, click: BlockAction, choice: SwitchChoice, reference: String) -> Answer {
    let Some(channel) = place_of(&click) else {
        tracing::warn!("a button clicked with no channel: not acted on");
        return Ok(Ack::Empty);
    };
    let ctx = Context {
        user: click.user_id.clone(),
        channel,
        team: click.team_id.to_string(),
        response_url: click.response_url.clone(),
        reference,
        thread: None,
        public: from_home(&click),
    };
    match choice {
        SwitchChoice::EnableThenLaunch(enable, launch) => {
            super::write_then(bot, ctx, enable, Some(launch), super::IfOff::LaunchAnyway).await
        }
        SwitchChoice::Launch(launch) => super::write_if_off(bot, ctx, launch, super::IfOff::LaunchAnyway).await,
        SwitchChoice::Enable(command @ Command::Enable { .. }) => write(bot, ctx, command).await,
        SwitchChoice::Enable(other) => Err(BotError::user(format!("This button cannot `{}`; nothing was done.", other.action()))),
    }
}

/// The buttons of a finished run card: the same path, rules and confirmation as the
/// commands they stand for.
///
/// A button acts only in the channel of the card it belongs to: its value names the
/// run, and the bot must have posted that run's card in the click's channel.
async fn card_button(bot: &Arc<Bot>, click: BlockAction, run: RunId, command: Command, reference: String) -> Answer {
    let Some(channel) = click.channel_id.clone() else {
        tracing::warn!("a card button clicked with no channel: not acted on");
        return Ok(Ack::Empty);
    };
    let ctx = Context {
        user: click.user_id.clone(),
        channel: channel.clone(),
        team: click.team_id.to_string(),
        response_url: click.response_url.clone(),
        reference,
        thread: None,
        public: false,
    };
    // The card names the run's job as the bot knows it; the button's word must agree.
    let posted = bot
        .store
        .card_posted_in(run.as_str(), channel.as_str())
        .await
        .map_err(BotError::store(&ctx.reference, "cannot check where the card was posted"))?;
    // Or the end of that run was announced here (a subscription alert).
    let announced = posted.is_none()
        && bot
            .store
            .announced_in(channel.as_str(), run.as_str())
            .await
            .map_err(BotError::store(&ctx.reference, "cannot check where the run was announced"))?;
    match posted {
        Some(card_job) if card_job == command_job(&command) => write(bot, ctx, command).await,
        None if announced => write(bot, ctx, command).await,
        _ => {
            let action = command.action();
            let job = bot.config.job(command_job(&command)).cloned();
            let detail = format!("{} — a card button for run {run} clicked where the bot posted no card of it", click.action_id);
            bot.audit(bot.entry(&ctx, action, job.as_ref(), AuditOutcome::Denied, detail, None)).await;
            tracing::warn!(%run, %channel, "refused a card button clicked outside the card's channel");
            Err(BotError::user(
                ":no_entry: This button belongs to a message about this run in another channel; it only works there, so nothing was done.",
            ))
        }
    }
}

/// Where a click acts and is answered: the channel of the message that carried the
/// button, or, for the Home tab, the person's conversation with the bot (the tab's
/// `private_metadata`).
fn place_of(click: &BlockAction) -> Option<ChannelId> {
    click.channel_id.clone().or_else(|| {
        let view = click.view.as_ref().filter(|v| v.callback_id == crate::slack::api::HOME_VIEW)?;
        crate::slack::api::metadata_channel(&view.private_metadata, &click.user_id)
    })
}

/// Whether a click came from the Home tab (its answers are posted in the person's
/// conversation with the bot, which only they read).
fn from_home(click: &BlockAction) -> bool {
    click.channel_id.is_none() && place_of(click).is_some()
}

/// *Launch* on the Home tab: the launch modal, opened with the click's `trigger_id`.
async fn home_launch(bot: &Arc<Bot>, click: BlockAction, reference: String) -> Answer {
    let Some(channel) = place_of(&click) else {
        tracing::warn!("*Launch* clicked outside the Home tab: not acted on");
        return Ok(Ack::Empty);
    };
    let ctx = Context {
        user: click.user_id.clone(),
        channel,
        team: click.team_id.to_string(),
        response_url: None,
        reference,
        thread: None,
        public: true,
    };
    crate::commands::form::open_launch(bot, &ctx, &click.trigger_id, None).await
}

/// Where a click came from when it is not where its confirmation was asked: another
/// workspace, or another channel.
fn misplaced(click: &BlockAction, team: &str, channel: &str) -> Option<String> {
    if click.team_id.as_str() != team {
        return Some(format!("from workspace {}", click.team_id));
    }
    match &click.channel_id {
        Some(from) if from.as_str() == channel => None,
        Some(from) => Some(format!("in channel {from}")),
        None => Some("outside any channel".to_owned()),
    }
}

fn command_job(command: &Command) -> &str {
    match command {
        Command::Launch { job, .. } | Command::Mark { job, .. } | Command::Disable { target: super::super::Target::Job(job), .. } => {
            job.as_str()
        }
        _ => "",
    }
}

fn verb(to: ConfirmationState) -> &'static str {
    if to == ConfirmationState::Cancelled { "cancel" } else { "confirm" }
}

fn plan_detail(plan: &Plan) -> String {
    format!("{} {}", plan.action(), plan.target())
}

fn already(c: &Confirmation) -> String {
    let by = c.decided_by.as_deref().map(|u| format!(" by <@{u}>")).unwrap_or_default();
    match c.state {
        ConfirmationState::Confirmed => format!("This was already confirmed{by}; it is done once."),
        ConfirmationState::Cancelled => format!("This was already cancelled{by}."),
        ConfirmationState::Expired => "This confirmation expired.".to_owned(),
        ConfirmationState::Pending => "This confirmation is still pending.".to_owned(),
    }
}
