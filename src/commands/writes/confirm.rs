//! *Confirm* and *Cancel* on a stored confirmation: each acts exactly once, the store
//! deciding which of two racing clicks wins, whichever replica received them; only in the
//! workspace and channel where it was asked, by whom the rules allow (a second person
//! when they say so).

use std::sync::Arc;

use tracing::Instrument;

use super::Plan;
use super::execute::{execute, journal, timers_for};
use crate::bot::{Ack, Answer, Audit, Bot, BotError, Context};
use crate::chat::Click;
use crate::chat::Reply;
use crate::config::Job;
use crate::domain::{ChannelId, UserId};
use crate::messages as render;
use crate::store::{AuditOutcome, Confirmation, ConfirmationState, Decision};

/// Decides a confirmation (`id`) as the click asks: `to` confirmed or cancelled.
pub(super) async fn decide(bot: &Arc<Bot>, click: Click, id: &str, to: ConfirmationState, reference: String) -> Answer {
    let confirmation = bot
        .store()
        .confirmation(id)
        .await
        .map_err(BotError::store(&reference, "cannot read the confirmation"))?
        .ok_or_else(|| BotError::user("This confirmation does not exist (any more)."))?;
    let request = &confirmation.request;
    let plan = Plan::from_json(&request.plan);
    let Ok(plan) = plan.inspect_err(|error| tracing::error!(id = %request.id, %error, "a stored plan cannot be read")) else {
        return Err(BotError::user(":warning: This confirmation cannot be read any more; nothing was done."));
    };
    let jobs: Vec<Job> = plan.jobs.iter().filter_map(|n| bot.config().job(n).cloned()).collect();
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
        // Where the question was asked and clicked (a click elsewhere is refused below).
        direct: click.direct,
    };
    let action = plan.action();
    let clicker = &click.user_id;
    // The clicker is the actor of the audit entries of this click.
    let clicker_ctx = Context { user: clicker.clone(), ..ctx.clone() };
    let decided = format!("{} (asked by {requester})", plan_detail(&plan));
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
                ":no_entry: This confirmation was asked in {}; it can only be {done} there, so nothing was done.",
                crate::domain::markup::channel(&request.channel_id)
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
            bot.store().confirm_and_begin(&request.id, clicker.as_str(), bot.now_ms(), &journal, &timers).await
        }
        _ => bot.store().decide(&request.id, to, clicker.as_str(), bot.now_ms()).await,
    };
    Ok(match decision.map_err(BotError::store(&ctx.reference, "cannot record the decision"))? {
        Decision::NotFound => return Err(BotError::user("This confirmation does not exist (any more).")),
        Decision::AlreadyDecided(c) => return Err(BotError::user(already(&c))),
        Decision::Expired(_) => {
            audit_each(bot, &ctx, action, &jobs, AuditOutcome::Expired, &plan_detail(&plan)).await;
            let body = Reply::in_channel(render::note(&format!(
                ":hourglass: Expired: nobody confirmed *{summary}* within 10 minutes, so nothing was done. Ask again if it is still needed."
            )))
            .replacing();
            bot.after_ack(ctx, async move { body });
            Ack::Empty
        }
        Decision::Decided(_) if to == ConfirmationState::Cancelled => {
            audit_each(bot, &clicker_ctx, action, &jobs, AuditOutcome::Cancelled, &decided).await;
            let body = Reply::in_channel(render::note(&format!(
                ":no_entry_sign: Cancelled by {}: {summary}. Nothing was done.",
                crate::domain::markup::mention(clicker)
            )))
            .replacing();
            bot.after_ack(ctx, async move { body });
            Ack::Empty
        }
        Decision::Decided(_) => {
            audit_each(bot, &clicker_ctx, action, &jobs, AuditOutcome::Confirmed, &decided).await;
            let later = bot.clone();
            let confirmer = clicker.clone();
            let progress = Reply::in_channel(render::note(&format!(
                ":hourglass_flowing_sand: Confirmed by {}: {summary}…",
                crate::domain::markup::mention(&confirmer)
            )))
            .replacing();
            let span = tracing::info_span!("write", reference = %ctx.reference, user = %ctx.user, confirmed_by = %confirmer, action = %plan.action(), target = %plan.target());
            crate::crash::point(crate::crash::AFTER_CONFIRMATION);
            bot.tasks().spawn(
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

/// Where a click came from when it is not where its confirmation was asked: another
/// workspace, or another channel.
fn misplaced(click: &Click, team: &str, channel: &str) -> Option<String> {
    if click.team_id.as_str() != team {
        return Some(format!("from workspace {}", click.team_id));
    }
    match &click.channel_id {
        Some(from) if from.as_str() == channel => None,
        Some(from) => Some(format!("in channel {from}")),
        None => Some("outside any channel".to_owned()),
    }
}

/// The same audit entry for each job of the confirmation.
async fn audit_each(bot: &Bot, ctx: &Context, action: crate::domain::Action, jobs: &[Job], outcome: AuditOutcome, detail: &str) {
    for job in jobs {
        bot.audit(bot.entry(ctx, action, Some(job), outcome, detail.to_owned(), None)).await;
    }
}

fn verb(to: ConfirmationState) -> &'static str {
    if to == ConfirmationState::Cancelled { "cancel" } else { "confirm" }
}

fn plan_detail(plan: &Plan) -> String {
    format!("{} {}", plan.action(), plan.target())
}

fn already(c: &Confirmation) -> String {
    let by = c.decided_by.as_deref().map(|u| format!(" by {}", crate::domain::markup::mention(u))).unwrap_or_default();
    match c.state {
        ConfirmationState::Confirmed => format!("This was already confirmed{by}; it is done once."),
        ConfirmationState::Cancelled => format!("This was already cancelled{by}."),
        ConfirmationState::Expired => "This confirmation expired.".to_owned(),
        ConfirmationState::Pending => "This confirmation is still pending.".to_owned(),
    }
}
