//! Where the conversation is: `@tailerbot <text>` in a channel or a thread, and direct
//! messages to the bot (Events API, over HTTP or Socket Mode). Each event is
//! acknowledged at once and handled after; a delivery Slack retries (same `event_id`)
//! is handled once. The text takes the slash-command grammar; in the thread of a run
//! card the run is implied (`status`, `again`, `mark CHECKED`, `unwatch`). Answers go
//! in the thread, refusals only to the person who asked.

mod home;

use std::sync::Arc;

use serde::Deserialize;
use tracing::Instrument;

use crate::bot::{Ack, Answer, Bot, BotError, Context, reference};
use crate::commands::{self, Command};
use crate::domain::markup::plain;
use crate::domain::{ChannelId, JobName, RunId, UserId};
use crate::tailer::RunStatus;

/// The longest text read from a message; longer is answered with a note.
const MAX_TEXT_CHARS: usize = 4_000;

/// An Events API delivery: its id (for retries) and the event inside.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Delivery {
    pub event_id: Option<String>,
    pub team_id: Option<String>,
    pub event: Option<serde_json::Value>,
}

/// The part of an event the bot reads; everything else is ignored.
#[derive(Debug, Deserialize)]
struct Inner {
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    subtype: Option<String>,
    #[serde(default)]
    bot_id: Option<String>,
    #[serde(default)]
    user: Option<String>,
    #[serde(default)]
    text: Option<String>,
    #[serde(default)]
    channel: Option<String>,
    #[serde(default)]
    channel_type: Option<String>,
    #[serde(default)]
    ts: Option<String>,
    #[serde(default)]
    thread_ts: Option<String>,
    /// `app_home_opened`: `home` or `messages`.
    #[serde(default)]
    tab: Option<String>,
}

/// What an event asks of the bot.
#[derive(Debug, Clone)]
enum Asked {
    /// A mention or a direct message.
    Said(Said),
    /// The Home tab opened: it is published for that person.
    Home { user: UserId, channel: ChannelId },
}

/// A message to the bot: who, where, what, and the thread it belongs to.
#[derive(Debug, Clone)]
struct Said {
    user: UserId,
    channel: ChannelId,
    text: String,
    /// Where answers go: the thread the message is in, or a thread under a mention (a
    /// direct message outside a thread is answered in the conversation itself).
    thread: Option<String>,
    /// The thread the message was written in, when it was.
    in_thread: Option<String>,
    /// A direct message (`channel_type` `im`), not a mention in a channel.
    direct: bool,
}

/// Acknowledges an event at once; handles it after.
pub fn event(bot: &Arc<Bot>, delivery: Delivery) -> Ack {
    let worker = bot.clone();
    let span = tracing::info_span!("event", event_id = delivery.event_id.as_deref().unwrap_or("-"));
    bot.tasks.spawn(async move { handle(&worker, delivery).await }.instrument(span));
    Ack::Empty
}

async fn handle(bot: &Arc<Bot>, delivery: Delivery) {
    let Some(asked) = read(&delivery) else {
        return;
    };
    // What the bot itself said, whatever else the payload claims (no `bot_id`, no
    // subtype): answering it could make the bot talk to itself.
    if let Asked::Said(said) = &asked {
        if bot.surface.own_user().await.is_some_and(|own| own == said.user) {
            tracing::info!("ignored a message of the bot's own user");
            return;
        }
    }
    // Once per event, however often Slack delivers it.
    if let Some(id) = &delivery.event_id {
        match bot.store.first_time(&format!("event:{id}"), bot.now_ms()).await {
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

/// The message an event carries, when it is one the bot answers: a mention, or a
/// direct message from a person (not from a bot, this one included; not an edit).
fn read(delivery: &Delivery) -> Option<Asked> {
    let inner: Inner = serde_json::from_value(delivery.event.clone()?).ok()?;
    if inner.kind == "app_home_opened" {
        if inner.tab.as_deref() != Some("home") {
            return None;
        }
        let user = UserId::parse(inner.user.as_deref()?).ok()?;
        let channel = ChannelId::parse(inner.channel.as_deref()?).ok()?;
        return Some(Asked::Home { user, channel });
    }
    let direct = inner.kind == "message" && inner.channel_type.as_deref() == Some("im");
    if !(inner.kind == "app_mention" || direct) {
        return None;
    }
    if inner.bot_id.is_some() || inner.subtype.is_some() {
        return None;
    }
    let user = UserId::parse(inner.user.as_deref()?).ok()?;
    let channel = ChannelId::parse(inner.channel.as_deref()?).ok()?;
    let ts = inner.ts.filter(|ts| plausible_ts(ts))?;
    let in_thread = inner.thread_ts.filter(|ts| plausible_ts(ts));
    let text = inner.text.unwrap_or_default();
    let thread = if direct { in_thread.clone() } else { Some(in_thread.clone().unwrap_or(ts)) };
    Some(Asked::Said(Said { user, channel, thread, in_thread, text, direct }))
}

/// A Slack message timestamp: digits, a dot, digits.
fn plausible_ts(ts: &str) -> bool {
    ts.len() <= 32
        && ts
            .split_once('.')
            .is_some_and(|(s, f)| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && f.bytes().all(|b| b.is_ascii_digit()))
}

/// The text without the mentions that start it (`<@U0BOT> status` → `status`).
fn without_mentions(text: &str) -> &str {
    let mut rest = text.trim_start();
    while let Some(after) = rest.strip_prefix("<@") {
        match after.find('>') {
            Some(end) => rest = after[end + 1..].trim_start(),
            None => break,
        }
    }
    rest.trim()
}

/// What the message asks, carried out like the slash command.
async fn converse(bot: &Arc<Bot>, ctx: &Context, said: &Said) -> Answer {
    let text = without_mentions(&said.text);
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
    let Some(lane) = bot.store.lane_of_thread(ctx.channel.as_str(), root).await.map_err(store("cannot read the thread"))? else {
        return Ok(None);
    };
    let Some(run) = lane.strip_prefix("card:").and_then(|rest| rest.rsplit_once(':')).map(|(run, _)| run.to_owned()) else {
        return Ok(None);
    };
    let cards = bot.store.all_cards(&run).await.map_err(store("cannot read the run's card"))?;
    let card = cards.into_iter().find(|c| c.channel_id == ctx.channel.as_str());
    let job = bot.job_of_run(&run).await.map_err(store("cannot read which job a run belongs to"))?;
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
        ("again", []) => Command::Launch { job, execution_date: card.execution_date },
        ("unwatch", []) => Command::Unwatch { run },
        ("mark", [status]) => match RunStatus::parse(&status.to_ascii_uppercase()) {
            status if status.settable() => Command::Mark { job, run, status },
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
    fn the_mentions_that_start_a_message_are_not_part_of_the_command() {
        assert_eq!(without_mentions("<@U0TAILERBOT> status"), "status");
        assert_eq!(without_mentions("  <@U0TAILERBOT>   <@U0OTHER> last sales-daily "), "last sales-daily");
        assert_eq!(without_mentions("last <@U0X>"), "last <@U0X>");
        assert_eq!(without_mentions("<@U0TAILERBOT"), "<@U0TAILERBOT");
    }

    #[test]
    fn only_mentions_and_direct_messages_from_people_are_read() {
        let delivery = |event: serde_json::Value| Delivery { event: Some(event), ..Delivery::default() };
        let mention = serde_json::json!({"type": "app_mention", "user": "U0ANALYST", "channel": "C0DATA", "ts": "1700000000.000100", "text": "<@U0BOT> jobs"});
        let said = |d: Delivery| match read(&d) {
            Some(Asked::Said(said)) => Some(said),
            _ => None,
        };
        let said_now = said(delivery(mention.clone())).unwrap();
        assert_eq!(
            (said_now.thread.as_deref(), said_now.in_thread.as_deref()),
            (Some("1700000000.000100"), None),
            "answered under the mention"
        );
        let mut in_thread = mention.clone();
        in_thread["thread_ts"] = "1700000000.000001".into();
        assert_eq!(said(delivery(in_thread)).unwrap().thread.as_deref(), Some("1700000000.000001"));
        let mut from_a_bot = mention.clone();
        from_a_bot["bot_id"] = "B0TAILERBOT".into();
        assert!(read(&delivery(from_a_bot)).is_none(), "the bot's own messages, and other bots', are not read");
        let dm = serde_json::json!({"type": "message", "channel_type": "im", "user": "U0ANALYST", "channel": "D0ANALYST", "ts": "1700000000.000200", "text": "jobs"});
        assert_eq!(said(delivery(dm.clone())).unwrap().thread, None, "a direct message is answered in the conversation");
        let mut edited = dm.clone();
        edited["subtype"] = "message_changed".into();
        assert!(read(&delivery(edited)).is_none());
        let in_channel = serde_json::json!({"type": "message", "channel_type": "channel", "user": "U0ANALYST", "channel": "C0DATA", "ts": "1.2", "text": "jobs"});
        assert!(read(&delivery(in_channel)).is_none(), "a channel message that does not mention the bot");
        let mut bad_ts = mention;
        bad_ts["ts"] = "<!channel>".into();
        assert!(read(&delivery(bad_ts)).is_none());
    }

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
