//! Where the conversation is: `@tailerbot <text>` in a channel or a thread, and direct
//! messages to the bot (Events API, over HTTP or Socket Mode). Each event is
//! acknowledged at once and handled after; a delivery Slack retries (same `event_id`)
//! is handled once. The text takes the slash-command grammar; in the thread of a run
//! card the run is implied (`status`, `again`, `mark CHECKED`, `unwatch`). Answers go
//! in the thread, refusals only to the person who asked.

mod home;

use std::sync::Arc;

use tracing::Instrument;

use crate::bot::{Ack, Answer, Bot, BotError, Context, reference};
use crate::chat::{Asked, Delivery, Said};
use crate::commands::writes::Write;
use crate::commands::{self, Command};
use crate::domain::markup::plain;
use crate::domain::{JobName, RunId};
use crate::tailer::RunStatus;

/// The longest text read from a message; longer is answered with a note.
const MAX_TEXT_CHARS: usize = 4_000;

/// Acknowledges an event at once; handles it after.
pub fn event(bot: &Arc<Bot>, delivery: Delivery) -> Ack {
    let worker = bot.clone();
    let span = tracing::info_span!("event", event_id = delivery.event_id.as_deref().unwrap_or("-"));
    bot.tasks().spawn(async move { handle(&worker, delivery).await }.instrument(span));
    Ack::Empty
}

async fn handle(bot: &Arc<Bot>, delivery: Delivery) {
    let Some(asked) = delivery.asked.clone() else {
        return;
    };
    // What the bot itself said, whatever else the payload claims (no `bot_id`, no
    // subtype): answering it could make the bot talk to itself.
    if let Asked::Said(said) = &asked {
        if bot.surface().own_user().await.is_some_and(|own| own == said.user) {
            tracing::info!("ignored a message of the bot's own user");
            return;
        }
    }
    // Once per event, however often Slack delivers it.
    if let Some(id) = &delivery.event_id {
        match bot.store().first_time(&format!("event:{id}"), bot.now_ms()).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!("an event delivered again (same event_id) was not handled again");
                return;
            }
            Err(error) => {
                let reference = reference();
                tracing::error!(%error, %reference, "cannot record an event; not acting on it");
                if let Asked::Said(said) = &asked {
                    let ctx = Context { public: false, ..context(said, &delivery, reference.clone()) };
                    bot.deliver(&ctx, ephemeral(&crate::messages::store_unavailable(&reference))).await;
                }
                return;
            }
        }
    }
    let said = match asked {
        Asked::Said(said) => said,
        Asked::Home { user, channel } => {
            let ctx = Context {
                user,
                channel,
                team: delivery.team_id.clone().unwrap_or_default(),
                response_url: None,
                reference: reference(),
                thread: None,
                public: false,
                // The Home tab's channel is the person's conversation with the bot.
                direct: true,
            };
            if let Err(error) = home::publish(bot, &ctx).await {
                // The tab shows what it showed before; the next opening tries again.
                tracing::error!(?error, reference = %ctx.reference, "cannot publish a Home tab");
            }
            return;
        }
    };
    let ctx = context(&said, &delivery, reference());
    let span = tracing::info_span!("mention", reference = %ctx.reference, user = %ctx.user, channel = %ctx.channel);
    async {
        let outcome = converse(bot, &ctx, &said).await;
        // An answer is for the thread; a refusal for its asker alone.
        let public = outcome.is_ok();
        if let Ack::Message(body) = bot.answer_to(outcome) {
            bot.deliver(&Context { public, ..ctx.clone() }, body).await;
        }
    }
    .instrument(span)
    .await;
}

fn ephemeral(text: &str) -> crate::chat::Reply {
    crate::chat::Reply::ephemeral(crate::messages::note(text))
}

fn context(said: &Said, delivery: &Delivery, reference: String) -> Context {
    Context {
        user: said.user.clone(),
        channel: said.channel.clone(),
        team: delivery.team_id.clone().unwrap_or_default(),
        response_url: None,
        reference,
        thread: said.thread.clone(),
        public: true,
        direct: said.direct,
    }
}

/// What the message asks, carried out like the slash command.
async fn converse(bot: &Arc<Bot>, ctx: &Context, said: &Said) -> Answer {
    let text = said.text.as_str();
    if text.chars().count() > MAX_TEXT_CHARS {
        return Err(BotError::user(format!("That message is longer than the {MAX_TEXT_CHARS} characters I read.")));
    }
    let card = match &said.in_thread {
        Some(root) => card_of_thread(bot, ctx, root).await?,
        None => None,
    };
    let command = match implied(text, card.as_ref()) {
        Some(command) => command?,
        None => commands::parse(text).map_err(|usage| BotError::user(plain(&usage.explain())))?,
    };
    tracing::info!(action = %command.action(), "mention");
    commands::run(bot, ctx.clone(), command).await
}

/// The run of the card whose thread this is.
#[derive(Debug, Clone)]
struct CardRun {
    job: JobName,
    run: RunId,
    execution_date: Option<chrono::NaiveDate>,
}

async fn card_of_thread(bot: &Bot, ctx: &Context, root: &str) -> Result<Option<CardRun>, BotError> {
    let store = |what: &'static str| BotError::store(&ctx.reference, what);
    let Some(lane) = bot.store().lane_of_thread(ctx.channel.as_str(), root).await.map_err(store("cannot read the thread"))? else {
        return Ok(None);
    };
    let Some(run) = lane.strip_prefix("card:").and_then(|rest| rest.rsplit_once(':')).map(|(run, _)| run.to_owned()) else {
        return Ok(None);
    };
    let cards = bot.store().all_cards(&run).await.map_err(store("cannot read the run's card"))?;
    let card = cards.into_iter().find(|c| c.channel_id == ctx.channel.as_str());
    let job = bot.store().job_of_run(&run).await.map_err(store("cannot read which job a run belongs to"))?;
    let (Some(job), Ok(run)) = (job.and_then(|j| JobName::parse(&j).ok()), RunId::parse(&run)) else {
        return Ok(None);
    };
    let execution_date = card.and_then(|c| c.execution_date).and_then(|d| d.parse().ok());
    Ok(Some(CardRun { job, run, execution_date }))
}

/// The short forms a run card's thread takes: the run is implied.
fn implied(text: &str, card: Option<&CardRun>) -> Option<Result<Command, BotError>> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let verb = words.first()?.to_ascii_lowercase();
    let Some(card) = card else {
        return (verb == "again" && words.len() == 1)
            .then(|| Err(BotError::user("`again` works in the thread of a run card: it launches that run's job again.")));
    };
    let (job, run) = (card.job.clone(), card.run.clone());
    Some(Ok(match (verb.as_str(), &words[1..]) {
        ("status", []) => Command::Status { job: Some(job), run },
        ("again", []) => Command::Write(Write::Launch { job, execution_date: card.execution_date }),
        ("unwatch", []) => Command::Unwatch { run },
        ("mark", [status]) => match RunStatus::parse(&status.to_ascii_uppercase()) {
            status if status.settable() => Command::Write(Write::Mark { job, run, status }),
            _ => {
                return Some(Err(BotError::user(format!(
                    "`{}` is not a status a run can be marked with: SUCCESS, FAILED, RUNNING, NO_MATCH or CHECKED.",
                    plain(status)
                ))));
            }
        },
        _ => return None,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_cards_thread_implies_its_run() {
        let card = CardRun {
            job: JobName::parse("sales-daily").unwrap(),
            run: RunId::parse("20261201-060000-abc").unwrap(),
            execution_date: chrono::NaiveDate::from_ymd_opt(2026, 11, 30),
        };
        let implied = |text: &str| implied(text, Some(&card)).map(|r| r.map(|c| c.to_string()).map_err(|e| format!("{e:?}")));
        assert_eq!(implied("status"), Some(Ok("status sales-daily 20261201-060000-abc".into())));
        assert_eq!(implied("again"), Some(Ok("launch sales-daily 2026-11-30".into())));
        assert_eq!(implied("mark checked"), Some(Ok("mark sales-daily 20261201-060000-abc CHECKED".into())));
        assert_eq!(implied("unwatch"), Some(Ok("unwatch 20261201-060000-abc".into())));
        assert!(implied("mark WAITING").is_some_and(|r| r.is_err()));
        assert_eq!(implied("status sales-daily"), None, "a full command is read as written");
        assert!(super::implied("again", None).is_some_and(|r| r.is_err()), "`again` needs a card's thread");
        assert!(super::implied("status", None).is_none());
    }
}
