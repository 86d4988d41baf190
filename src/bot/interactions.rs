//! Button clicks. *Confirm* and *Cancel* act on a stored confirmation exactly once: the
//! store decides which of two racing clicks wins, whichever replica received them.

use std::sync::Arc;

use tracing::Instrument;

use super::{Ack, Bot, Context, Plan, reference, render};
use crate::access::Verdict;
use crate::config::Job;
use crate::domain::{ChannelId, UserId};
use crate::slack::api::ResponseBody;
use crate::slack::payload::{BlockAction, Interaction};
use crate::store::{AuditOutcome, Confirmation, ConfirmationState, Decision};

impl Bot {
    /// Answers an interaction. Notes for the clicker go to the click's `response_url`
    /// (ephemeral); the HTTP answer is always empty.
    pub async fn interaction(self: &Arc<Self>, interaction: Interaction) -> Ack {
        let to = match &interaction {
            Interaction::BlockAction(click) => Some(Context {
                user: click.user_id.clone(),
                channel: click.channel_id.clone().unwrap_or_else(|| ChannelId::parse("C0UNKNOWN").expect("a valid id")),
                team: click.team_id.to_string(),
                response_url: click.response_url.clone(),
                reference: reference(),
            }),
            Interaction::Other { .. } => None,
        };
        if let (Ack::Message(body), Some(ctx)) = (self.clicked(interaction).await, to) {
            self.deliver(&ctx, body).await;
        }
        Ack::Empty
    }

    async fn clicked(self: &Arc<Self>, interaction: Interaction) -> Ack {
        let click = match interaction {
            Interaction::BlockAction(click) => click,
            Interaction::Other { kind, .. } => {
                tracing::info!(%kind, "ignored an interaction the bot does not use");
                return Ack::Empty;
            }
        };
        let span = tracing::info_span!("click", action_id = %click.action_id, user = %click.user_id);
        async {
            match self.store.first_time(&format!("trigger:{}", click.trigger_id), self.now_ms()).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!("a replayed click (same trigger_id) was not acted on again");
                    return Ack::Empty;
                }
                Err(error) => {
                    tracing::error!(%error, "cannot record the click");
                    return Ack::note(":warning: I cannot reach my database right now, so I did nothing. Please try again in a minute.");
                }
            }
            match click.action_id.as_str() {
                "confirm" => self.decide_confirmation(click, ConfirmationState::Confirmed).await,
                "cancel" => self.decide_confirmation(click, ConfirmationState::Cancelled).await,
                "launch_again" | "mark_checked" => self.card_button(click).await,
                other => {
                    tracing::warn!(action_id = %other, "a click on a button the bot does not know");
                    Ack::Empty
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn decide_confirmation(self: &Arc<Self>, click: BlockAction, to: ConfirmationState) -> Ack {
        let confirmation = match self.store.confirmation(&click.value).await {
            Ok(Some(c)) => c,
            Ok(None) => return Ack::note("This confirmation does not exist (any more)."),
            Err(error) => {
                tracing::error!(%error, "cannot read the confirmation");
                return Ack::note(":warning: I cannot reach my database right now, so I did nothing.");
            }
        };
        let request = &confirmation.request;
        let Ok(plan) = serde_json::from_str::<Plan>(&request.plan) else {
            tracing::error!(id = %request.id, "a stored plan cannot be read");
            return Ack::note(":warning: This confirmation cannot be read any more; nothing was done.");
        };
        let jobs: Vec<Job> = plan.jobs.iter().filter_map(|n| self.config.job(n).cloned()).collect();
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
            reference: reference(),
        };
        let Some(action) = plan.action() else {
            return Ack::Empty;
        };
        let clicker = &click.user_id;
        // The clicker is the actor of the audit entries of this click.
        let clicker_ctx = Context { user: clicker.clone(), ..ctx.clone() };
        if jobs.len() != plan.jobs.len() {
            self.audit(self.entry(
                &clicker_ctx,
                action,
                None,
                AuditOutcome::Failed,
                format!("{} — the catalog changed since it was asked", plan_detail(&plan)),
                None,
            ))
            .await;
            return Ack::note(":warning: The catalog changed since this was asked, so nothing was done. Please ask again.");
        }

        if !(to == ConfirmationState::Cancelled && clicker == &requester) {
            if to == ConfirmationState::Confirmed && request.second_person && clicker == &requester {
                return Ack::note(
                    ":raised_hand: This needs a second person: someone other than you, whom the rules allow, must confirm it.",
                );
            }
            for job in &jobs {
                if !matches!(self.decide(clicker, &channel, action, Some(job)).await, Verdict::Allow { .. }) {
                    self.audit(self.entry(
                        &clicker_ctx,
                        action,
                        Some(job),
                        AuditOutcome::Denied,
                        format!("{} a confirmation of: {}", verb(to), plan_detail(&plan)),
                        None,
                    ))
                    .await;
                    return self.denial(action, &format!("{} (so you cannot {} it)", render::job_label(job), verb(to)));
                }
            }
        }

        let summary = plan.summary(&job_refs);
        // A confirmed write is noted with the decision, in one transaction: a crash after
        // the click cannot leave it confirmed and never done.
        let journal = self.journal(&ctx, &plan, Some(clicker), click.message_ts.clone());
        let decision = match to {
            ConfirmationState::Confirmed => {
                let timers = self.timers_for(&journal, &plan);
                self.store.confirm_and_begin(&request.id, clicker.as_str(), self.now_ms(), &journal, &timers).await
            }
            _ => self.store.decide(&request.id, to, clicker.as_str(), self.now_ms()).await,
        };
        match decision {
            Err(error) => {
                tracing::error!(%error, "cannot record the decision");
                Ack::note(":warning: I cannot reach my database right now, so I did nothing.")
            }
            Ok(Decision::NotFound) => Ack::note("This confirmation does not exist (any more)."),
            Ok(Decision::AlreadyDecided(c)) => Ack::note(&already(&c)),
            Ok(Decision::Expired(_)) => {
                for job in &jobs {
                    self.audit(self.entry(&ctx, action, Some(job), AuditOutcome::Expired, plan_detail(&plan), None)).await;
                }
                let body = ResponseBody::in_channel(render::note(&format!(":hourglass: Expired: nobody confirmed *{summary}* within 10 minutes, so nothing was done. Ask again if it is still needed."))).replacing();
                self.after_ack(ctx, async move { body });
                Ack::Empty
            }
            Ok(Decision::Decided(_)) if to == ConfirmationState::Cancelled => {
                for job in &jobs {
                    self.audit(self.entry(
                        &clicker_ctx,
                        action,
                        Some(job),
                        AuditOutcome::Cancelled,
                        format!("{} (asked by {requester})", plan_detail(&plan)),
                        None,
                    ))
                    .await;
                }
                let body = ResponseBody::in_channel(render::note(&format!(
                    ":no_entry_sign: Cancelled by <@{clicker}>: {summary}. Nothing was done."
                )))
                .replacing();
                self.after_ack(ctx, async move { body });
                Ack::Empty
            }
            Ok(Decision::Decided(_)) => {
                for job in &jobs {
                    self.audit(self.entry(
                        &clicker_ctx,
                        action,
                        Some(job),
                        AuditOutcome::Confirmed,
                        format!("{} (asked by {requester})", plan_detail(&plan)),
                        None,
                    ))
                    .await;
                }
                let bot = self.clone();
                let confirmer = clicker.clone();
                let progress =
                    ResponseBody::in_channel(render::note(&format!(":hourglass_flowing_sand: Confirmed by <@{confirmer}>: {summary}…")))
                        .replacing();
                let span = tracing::info_span!("write", reference = %ctx.reference, user = %ctx.user, confirmed_by = %confirmer, action = %plan.action, target = %plan.target);
                crate::crash::point(crate::crash::AFTER_CONFIRMATION);
                self.tasks.spawn(
                    async move {
                        bot.deliver(&ctx, progress).await;
                        bot.execute(ctx, plan, journal, false).await;
                    }
                    .instrument(span),
                );
                Ack::Empty
            }
        }
    }
}

impl Bot {
    /// The buttons of a finished run card: the same path, rules and confirmation as the
    /// commands they stand for.
    async fn card_button(self: &Arc<Self>, click: BlockAction) -> Ack {
        let mut words = click.value.split_whitespace();
        let job = words.next().and_then(|j| crate::domain::JobName::parse(j).ok());
        let command = match (click.action_id.as_str(), job, words.next().and_then(|r| crate::domain::RunId::parse(r).ok())) {
            ("launch_again", Some(job), None) => crate::commands::Command::Launch { job, execution_date: None },
            ("mark_checked", Some(job), Some(run)) => {
                crate::commands::Command::Mark { job, run, status: crate::tailer::RunStatus::Checked }
            }
            _ => {
                tracing::warn!(value = %click.value, "a card button with a value the bot did not write");
                return Ack::Empty;
            }
        };
        let Some(channel) = click.channel_id.clone() else { return Ack::Empty };
        let ctx = Context {
            user: click.user_id.clone(),
            channel,
            team: click.team_id.to_string(),
            response_url: click.response_url.clone(),
            reference: reference(),
        };
        self.write(ctx, command).await
    }
}

fn verb(to: ConfirmationState) -> &'static str {
    if to == ConfirmationState::Cancelled { "cancel" } else { "confirm" }
}

fn plan_detail(plan: &Plan) -> String {
    format!("{} {}", plan.action, plan.target)
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
