//! The launch modal: `/tailer launch` without a job, or *Launch* on the Home tab, opens a
//! form (`views.open`, with the request's `trigger_id`) listing the jobs the person may
//! launch, an optional execution date and the channel for the run card. Its submission
//! takes the path of `launch` (rules, confirmation, card); what cannot be done is said
//! under the field it is about, and the form stays open.

use std::sync::Arc;

use serde_json::{Value, json};
use tracing::Instrument;

use crate::bot::{Ack, Answer, Audit, Bot, BotError, Context, reference};
use crate::commands::Command;
use crate::config::{Job, Matcher};
use crate::domain::{Action, ChannelId};
use crate::slack::api::{metadata_channel, view_metadata};
use crate::slack::blocks::{escape, truncate};
use crate::slack::payload::ViewSubmission;

/// The `callback_id` of the launch modal.
pub const LAUNCH_VIEW: &str = "launch";
/// The input blocks of the launch modal (each block's only element has the same id).
pub const JOB: &str = "job";
pub const DATE: &str = "date";
pub const CHANNEL: &str = "channel";
/// The most options a `static_select` takes.
const MAX_OPTIONS: usize = 100;
/// An option's text.
const MAX_OPTION_TEXT: usize = 75;

/// Opens the launch modal for `ctx.user` with `trigger` (the request's `trigger_id`); the
/// run card goes to `origin` unless another channel is chosen.
pub async fn open_launch(bot: &Arc<Bot>, ctx: &Context, trigger: &str, origin: Option<&ChannelId>) -> Answer {
    let jobs = launchable(bot, ctx).await;
    if jobs.is_empty() {
        return Err(BotError::user(
            "The rules let you launch no job, here or in any channel, so there is nothing to choose from. `/tailer jobs` lists the jobs you may see.",
        ));
    }
    let view = launch_view(&jobs, origin);
    match bot.slack.open_view(trigger, &view).await {
        Ok(()) => {
            tracing::info!(jobs = jobs.len(), "opened the launch modal");
            Ok(Ack::Empty)
        }
        Err(error) => {
            tracing::warn!(%error, reference = %ctx.reference, "cannot open the launch modal");
            Err(BotError::user(format!(
                ":warning: I could not open the launch form (Slack said: {}). Type `/tailer launch &lt;job&gt; [YYYY-MM-DD]` instead. (ref `{}`)",
                escape(&error.to_string()),
                ctx.reference
            )))
        }
    }
}

/// The jobs `ctx.user` may launch in at least one channel. Rules name channels or any,
/// so each channel a rule names, and one no rule names, stand for every channel.
pub(crate) async fn launchable<'j>(bot: &'j Bot, ctx: &Context) -> Vec<&'j Job> {
    let places = places(bot);
    let mut jobs = Vec::new();
    for job in &bot.config.jobs {
        if launchable_somewhere(bot, ctx, job, &places).await {
            jobs.push(job);
        }
    }
    jobs
}

/// Whether the rules let `ctx.user` launch `job` in one of `places`.
async fn launchable_somewhere(bot: &Bot, ctx: &Context, job: &Job, places: &[ChannelId]) -> bool {
    for place in places {
        let there = Context { channel: place.clone(), ..ctx.clone() };
        if !bot.visible(&there, Action::Launch, [job]).await.is_empty() {
            return true;
        }
    }
    false
}

/// A channel for each that a rule names, and one that no rule names.
fn places(bot: &Bot) -> Vec<ChannelId> {
    let mut places: Vec<ChannelId> = Vec::new();
    for rule in &bot.config.rules {
        if let Matcher::Only(channels) = &rule.channels {
            for channel in channels {
                if !places.contains(channel) {
                    places.push(channel.clone());
                }
            }
        }
    }
    let unnamed = (0u32..)
        .filter_map(|n| ChannelId::parse(&format!("C0UNNAMED{n}")).ok())
        .find(|c| !places.contains(c))
        .expect("a channel no rule names");
    places.push(unnamed);
    places
}

/// The modal: a job (only those given), an optional date, a channel (`origin` first).
pub fn launch_view(jobs: &[&Job], origin: Option<&ChannelId>) -> Value {
    let options: Vec<Value> = jobs
        .iter()
        .take(MAX_OPTIONS)
        .map(|job| {
            let mut option = json!({
                "text": {"type": "plain_text", "text": truncate(&format!("{} ({})", job.name, job.job.environment), MAX_OPTION_TEXT)},
                "value": job.name.as_str(),
            });
            if let Some(description) = job.description.as_deref().filter(|d| !d.trim().is_empty()) {
                option["description"] = json!({"type": "plain_text", "text": truncate(description, MAX_OPTION_TEXT)});
            }
            option
        })
        .collect();
    let mut channel = json!({
        "type": "conversations_select",
        "action_id": CHANNEL,
        "placeholder": {"type": "plain_text", "text": "Choose a channel"},
        "filter": {"include": ["public", "private"]},
    });
    if let Some(origin) = origin {
        channel["initial_conversation"] = json!(origin.as_str());
    }
    let mut blocks = vec![
        json!({
            "type": "input",
            "block_id": JOB,
            "label": {"type": "plain_text", "text": "Job"},
            "element": {"type": "static_select", "action_id": JOB, "placeholder": {"type": "plain_text", "text": "Choose a job"}, "options": options},
        }),
        json!({
            "type": "input",
            "block_id": DATE,
            "optional": true,
            "label": {"type": "plain_text", "text": "Execution date"},
            "hint": {"type": "plain_text", "text": "Leave it empty to launch without one, as /tailer launch JOB does."},
            "element": {"type": "datepicker", "action_id": DATE, "placeholder": {"type": "plain_text", "text": "No execution date"}},
        }),
        json!({
            "type": "input",
            "block_id": CHANNEL,
            "label": {"type": "plain_text", "text": "Follow the run in"},
            "hint": {"type": "plain_text", "text": "The run card and its thread go there."},
            "element": channel,
        }),
    ];
    if jobs.len() > MAX_OPTIONS {
        blocks.push(json!({
            "type": "context",
            "elements": [{"type": "mrkdwn", "text": format!(
                "The list shows {MAX_OPTIONS} of the {} jobs you may launch…and {} more: type `/tailer launch &lt;job&gt;` for those.",
                jobs.len(),
                jobs.len() - MAX_OPTIONS
            )}],
        }));
    }
    json!({
        "type": "modal",
        "callback_id": LAUNCH_VIEW,
        "title": {"type": "plain_text", "text": "Launch a job"},
        "submit": {"type": "plain_text", "text": "Launch"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": view_metadata(origin.map(ChannelId::as_str), None),
        "blocks": blocks,
    })
}

/// A modal submitted. The answer is for Slack at once: nothing (the modal closes; the
/// launch goes on after it, like the command's) or errors under the fields.
pub async fn submitted(bot: &Arc<Bot>, submission: ViewSubmission) -> Ack {
    let reference = reference();
    let span = tracing::info_span!("submission", reference = %reference, user = %submission.user_id, view = %submission.view.callback_id);
    async {
        if submission.view.callback_id != LAUNCH_VIEW {
            tracing::warn!("a submitted view the bot does not know: nothing done");
            return Ack::Empty;
        }
        // Once per submission, however often its bytes arrive.
        match bot.store.first_time(&submission.replay, bot.now_ms()).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!("a submission received again (same signed bytes) was not acted on again");
                return Ack::Empty;
            }
            Err(error) => {
                tracing::error!(%error, %reference, "cannot record a submission; not acting on it");
                return Ack::FieldErrors(vec![(
                    JOB.to_owned(),
                    format!("My database is unavailable right now, so I did nothing. Please try again in a minute. (ref {reference})"),
                )]);
            }
        }
        match launch(bot, &submission, reference.clone()).await {
            Ok(ack) => ack,
            // A message cannot answer a submission: said under the job instead.
            Err(BotError::User(text)) => Ack::FieldErrors(vec![(JOB.to_owned(), plain(&text))]),
            Err(BotError::Denied(denial)) => {
                Ack::FieldErrors(vec![(JOB.to_owned(), plain(&format!("You may not {} {} there.", denial.action, denial.what)))])
            }
            Err(error) => {
                bot.answer_to(Err(error));
                Ack::FieldErrors(vec![(
                    JOB.to_owned(),
                    format!("Something went wrong on my side (ref {reference}); nothing was done. Try again in a moment."),
                )])
            }
        }
    }
    .instrument(span)
    .await
}

async fn launch(bot: &Arc<Bot>, submission: &ViewSubmission, reference: String) -> Answer {
    let mut errors = Vec::new();
    let job = submission.value(JOB).and_then(|name| bot.config.job(name));
    match (submission.value(JOB), job) {
        (None, _) => errors.push((JOB, "Choose a job.".to_owned())),
        (Some(_), None) => errors.push((JOB, "Choose a job from the list: that one is not in the catalog (any more).".to_owned())),
        _ => {}
    }
    let execution_date = match submission.value(DATE) {
        None => None,
        Some(given) => match chrono::NaiveDate::parse_from_str(given, "%Y-%m-%d") {
            Ok(date) if given.len() == 10 => Some(date),
            _ => {
                errors.push((DATE, "That is not a date: choose one in the calendar, or none.".to_owned()));
                None
            }
        },
    };
    let channel = submission.value(CHANNEL).and_then(|c| ChannelId::parse(c).ok());
    if channel.is_none() {
        errors.push((CHANNEL, "Choose the channel where the run is followed.".to_owned()));
    }
    let (Some(job), Some(channel), true) = (job, channel, errors.is_empty()) else {
        return Ok(Ack::FieldErrors(errors.into_iter().map(|(field, text)| (field.to_owned(), text)).collect()));
    };
    let ctx = Context {
        user: submission.user_id.clone(),
        channel,
        team: submission.team_id.to_string(),
        response_url: None,
        reference,
        thread: None,
        public: false,
        // The form offers public and private channels only.
        direct: false,
    };
    // The rules for this job in the chosen channel, before the form closes: a refusal is
    // said under the field to change.
    let detail = format!("launch {} (from the launch form)", job.name);
    if bot.authorize(&ctx, Action::Launch, &[job], Audit::Denials { detail: &detail }).await.is_err() {
        tracing::info!(job = %job.name, channel = %ctx.channel, "a launch from the form refused by the rules");
        let elsewhere = launchable_somewhere(bot, &ctx, job, &places(bot)).await;
        let error = if elsewhere {
            (CHANNEL, format!("The rules do not let you launch {} in that channel. Choose another one.", job.name))
        } else {
            (JOB, format!("The rules do not let you launch {} ({}). Choose another job.", job.name, job.job.environment))
        };
        return Ok(Ack::FieldErrors(vec![(error.0.to_owned(), error.1)]));
    }
    // The path of `launch`, awaited: what it refuses (the same launch asked less than a
    // minute ago, a second person needed where no one else is) is said in the form,
    // which stays open; once it answers, the write is in the store's journal, which
    // the next start finishes should this process die.
    let opened_in = metadata_channel(&submission.view.private_metadata, &submission.user_id);
    tracing::info!(job = %job.name, channel = %ctx.channel, opened_in = ?opened_in.as_ref().map(ChannelId::as_str), "launch from the form");
    let command = Command::Launch { job: job.name.clone(), execution_date };
    match crate::commands::run(bot, ctx.clone(), command).await? {
        Ack::Message(body) => {
            bot.deliver(&ctx, body).await;
            Ok(Ack::Empty)
        }
        other => Ok(other),
    }
}

/// A message as plain text for a field's error: no markup (bold, code, emoji codes
/// stay readable), short.
fn plain(text: &str) -> String {
    let text = text.replace(['*', '`'], "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    truncate(text.trim(), 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str, description: Option<&str>) -> Job {
        let text = format!(
            "[[jobs]]\nname = \"{name}\"\naccount = \"000099\"\nenvironment = \"DEV\"\nconfiguration_type = \"table-to-table\"\nconfiguration_id = \"c_{name}\"\n{}",
            description.map(|d| format!("description = \"{d}\"\n")).unwrap_or_default()
        );
        crate::config::Config::parse(std::path::Path::new("t.toml"), &text).unwrap().jobs.remove(0)
    }

    #[test]
    fn the_modal_lists_the_jobs_given_and_defaults_to_the_channel_it_came_from() {
        let jobs = [job("sales-daily", Some(&"x".repeat(200))), job("iowa-prepare", None)];
        let refs: Vec<&Job> = jobs.iter().collect();
        let view = launch_view(&refs, Some(&ChannelId::parse("C0DATA").unwrap()));
        let options = view["blocks"][0]["element"]["options"].as_array().unwrap();
        assert_eq!(options.iter().map(|o| o["value"].as_str().unwrap()).collect::<Vec<_>>(), ["sales-daily", "iowa-prepare"]);
        assert_eq!(options[0]["text"]["text"], "sales-daily (DEV)");
        assert!(options[0]["description"]["text"].as_str().unwrap().chars().count() <= MAX_OPTION_TEXT);
        assert!(options[1].get("description").is_none());
        assert_eq!(view["blocks"][2]["element"]["initial_conversation"], "C0DATA");
        let someone = crate::domain::UserId::parse("U0ANALYST").unwrap();
        assert_eq!(metadata_channel(view["private_metadata"].as_str().unwrap(), &someone).unwrap().as_str(), "C0DATA");
        let lead = crate::domain::UserId::parse("U0DATALEAD").unwrap();
        let home = view_metadata(Some("D0ANALYST"), Some(&someone));
        assert_eq!(metadata_channel(&home, &someone).map(|c| c.to_string()).as_deref(), Some("D0ANALYST"));
        assert_eq!(metadata_channel(&home, &lead), None, "a Home tab acts for the person it was made for only");
        assert_eq!(metadata_channel("not json", &someone), None);
        assert_eq!(view["blocks"][1]["optional"], true, "the date is optional");
        assert!(view["title"]["text"].as_str().unwrap().chars().count() <= 24, "a modal's title takes 24 characters");
        let from_home = launch_view(&refs, None);
        assert!(from_home["blocks"][2]["element"].get("initial_conversation").is_none());
        assert_eq!(from_home["private_metadata"], "");
    }

    #[test]
    fn a_catalog_longer_than_a_select_is_cut_and_says_so() {
        let jobs: Vec<Job> = (0..130).map(|i| job(&format!("job-{i}"), None)).collect();
        let refs: Vec<&Job> = jobs.iter().collect();
        let view = launch_view(&refs, None);
        assert_eq!(view["blocks"][0]["element"]["options"].as_array().unwrap().len(), MAX_OPTIONS);
        let note = view["blocks"][3]["elements"][0]["text"].as_str().unwrap();
        assert!(note.contains("…and 30 more"), "{note}");
    }

    #[test]
    fn a_field_error_is_plain_short_text() {
        assert_eq!(plain("*You* may not `launch` &lt;job&gt; sales_daily"), "You may not launch <job> sales_daily");
        assert!(plain(&"x".repeat(1_000)).chars().count() <= 300);
    }
}
