//! The launch modal: `/tailer launch` without a job, or *Launch* on the Home tab, opens a
//! form (`views.open`, with the request's `trigger_id`) listing the jobs the person may
//! launch, an optional execution date and the channel for the run card. Its submission
//! takes the path of `launch` (rules, confirmation, card); what cannot be done is said
//! under the field it is about, and the form stays open.

use std::sync::Arc;

use tracing::Instrument;

use crate::bot::{Ack, Answer, Audit, Bot, BotError, Context, reference};
use crate::chat::{Choice, Field, Form, Input, MAX_CHOICES, Submission, metadata_channel};
use crate::commands::Command;
use crate::config::{Job, Matcher};
use crate::domain::markup::{plain, shorten};
use crate::domain::{Action, ChannelId};

/// The `callback_id` of the launch modal.
pub const LAUNCH_VIEW: &str = "launch";
/// The input blocks of the launch modal (each block's only element has the same id).
pub const JOB: &str = "job";
pub const DATE: &str = "date";
pub const CHANNEL: &str = "channel";

/// Opens the launch modal for `ctx.user` with `trigger` (the request's `trigger_id`); the
/// run card goes to `origin` unless another channel is chosen.
pub async fn open_launch(bot: &Arc<Bot>, ctx: &Context, trigger: &str, origin: Option<&ChannelId>) -> Answer {
    let jobs = launchable(bot, ctx).await;
    if jobs.is_empty() {
        return Err(BotError::user(
            "The rules let you launch no job, here or in any channel, so there is nothing to choose from. `/tailer jobs` lists the jobs you may see.",
        ));
    }
    let form = launch_form(&jobs, origin);
    match bot.surface().open_form(trigger, &form).await {
        Ok(()) => {
            tracing::info!(jobs = jobs.len(), "opened the launch modal");
            Ok(Ack::Empty)
        }
        Err(error) => {
            tracing::warn!(%error, reference = %ctx.reference, "cannot open the launch modal");
            Err(BotError::user(format!(
                ":warning: I could not open the launch form ({}). Type `/tailer launch {} [YYYY-MM-DD]` instead. (ref `{}`)",
                plain(&error.to_string()),
                plain("<job>"),
                ctx.reference
            )))
        }
    }
}

/// The jobs Tailer can launch that `ctx.user` may launch in at least one channel. Rules
/// name channels or any, so each channel a rule names, and one no rule names, stand for
/// every channel.
pub(crate) async fn launchable<'j>(bot: &'j Bot, ctx: &Context) -> Vec<&'j Job> {
    let places = places(bot);
    let mut jobs = Vec::new();
    for job in bot.config().jobs.iter().filter(|job| super::writes::Write::launches(job)) {
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
    for rule in &bot.config().rules {
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

/// The form: a job (only those given), an optional date, a channel (`origin` first).
pub fn launch_form(jobs: &[&Job], origin: Option<&ChannelId>) -> Form {
    let choices = jobs
        .iter()
        .take(MAX_CHOICES)
        .map(|job| Choice {
            label: plain(&format!("{} ({})", job.name, job.job.environment)),
            value: job.name.to_string(),
            description: job.description.as_deref().filter(|d| !d.trim().is_empty()).map(plain),
        })
        .collect();
    let note = (jobs.len() > MAX_CHOICES).then(|| {
        format!(
            "The list shows {MAX_CHOICES} of the {} jobs you may launch…and {} more: type `/tailer launch {}` for those.",
            jobs.len(),
            jobs.len() - MAX_CHOICES,
            plain("<job>")
        )
    });
    Form {
        id: LAUNCH_VIEW.to_owned(),
        title: "Launch a job".to_owned(),
        submit: "Launch".to_owned(),
        close: "Cancel".to_owned(),
        opened_in: origin.cloned(),
        for_user: None,
        fields: vec![
            Field {
                id: JOB.to_owned(),
                label: "Job".to_owned(),
                hint: None,
                placeholder: "Choose a job".to_owned(),
                optional: false,
                input: Input::Choice(choices),
            },
            Field {
                id: DATE.to_owned(),
                label: "Execution date".to_owned(),
                hint: Some("Leave it empty to launch without one, as /tailer launch JOB does.".to_owned()),
                placeholder: "No execution date".to_owned(),
                optional: true,
                input: Input::Date,
            },
            Field {
                id: CHANNEL.to_owned(),
                label: "Follow the run in".to_owned(),
                hint: Some("The run card and its thread go there.".to_owned()),
                placeholder: "Choose a channel".to_owned(),
                optional: false,
                input: Input::Conversation { initial: origin.cloned() },
            },
        ],
        note,
    }
}

/// A modal submitted. The answer is for Slack at once: nothing (the modal closes; the
/// launch goes on after it, like the command's) or errors under the fields.
pub async fn submitted(bot: &Arc<Bot>, submission: Submission) -> Ack {
    let reference = reference();
    let span = tracing::info_span!("submission", reference = %reference, user = %submission.user_id, view = %submission.view.callback_id);
    async {
        if submission.view.callback_id != LAUNCH_VIEW {
            tracing::warn!("a submitted view the bot does not know: nothing done");
            return Ack::Empty;
        }
        // Once per submission, however often its bytes arrive.
        match bot.store().first_time(&submission.replay, bot.now_ms()).await {
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
            Err(BotError::User(text)) => Ack::FieldErrors(vec![(JOB.to_owned(), field_text(&text))]),
            Err(BotError::Denied(denial)) => {
                Ack::FieldErrors(vec![(JOB.to_owned(), field_text(&format!("You may not {} {} there.", denial.action, denial.what)))])
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

async fn launch(bot: &Arc<Bot>, submission: &Submission, reference: String) -> Answer {
    let mut errors = Vec::new();
    let job = submission.value(JOB).and_then(|name| bot.config().job(name));
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
    let command = Command::Write(crate::commands::writes::Write::Launch { job: job.name.clone(), execution_date });
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
fn field_text(text: &str) -> String {
    let text = crate::domain::markup::as_text(text).replace(['*', '`'], "");
    shorten(text.trim(), 300)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A catalog job of that name (and description), for tests of the form.
    pub(crate) fn job(name: &str, description: Option<&str>) -> Job {
        let text = format!(
            "[[jobs]]\nname = \"{name}\"\naccount = \"000099\"\nenvironment = \"DEV\"\nconfiguration_type = \"table-to-table\"\nconfiguration_id = \"c_{name}\"\n{}",
            description.map(|d| format!("description = \"{d}\"\n")).unwrap_or_default()
        );
        crate::config::Config::parse(std::path::Path::new("t.toml"), &text).unwrap().jobs.remove(0)
    }

    #[test]
    fn the_form_lists_the_jobs_given_and_defaults_to_the_channel_it_came_from() {
        let jobs = [job("sales-daily", Some("daily sales <b>")), job("iowa-prepare", None)];
        let refs: Vec<&Job> = jobs.iter().collect();
        let data = ChannelId::parse("C0DATA").unwrap();
        let form = launch_form(&refs, Some(&data));
        let Input::Choice(choices) = &form.fields[0].input else { panic!("the first field is the job") };
        assert_eq!(choices.iter().map(|c| c.value.as_str()).collect::<Vec<_>>(), ["sales-daily", "iowa-prepare"]);
        assert_eq!(crate::domain::markup::as_text(&choices[0].label), "sales-daily (DEV)");
        assert_eq!(choices[0].description.as_deref().map(crate::domain::markup::as_text).as_deref(), Some("daily sales <b>"));
        assert_eq!(choices[1].description, None);
        assert_eq!((form.fields[1].id.as_str(), form.fields[1].optional), (DATE, true), "the date is optional");
        assert_eq!(form.fields[2].input, Input::Conversation { initial: Some(data.clone()) });
        assert_eq!((form.opened_in, form.for_user), (Some(data), None));
        assert!(form.title.chars().count() <= 24, "a modal's title takes 24 characters");
        let from_home = launch_form(&refs, None);
        assert_eq!(from_home.fields[2].input, Input::Conversation { initial: None });
        assert_eq!(from_home.opened_in, None);
    }

    #[test]
    fn a_catalog_longer_than_a_choice_is_cut_and_says_so() {
        let jobs: Vec<Job> = (0..130).map(|i| job(&format!("job-{i}"), None)).collect();
        let refs: Vec<&Job> = jobs.iter().collect();
        let form = launch_form(&refs, None);
        let Input::Choice(choices) = &form.fields[0].input else { panic!("the first field is the job") };
        assert_eq!(choices.len(), MAX_CHOICES);
        let note = form.note.unwrap();
        assert!(note.contains("…and 30 more"), "{note}");
    }

    #[test]
    fn a_field_error_is_plain_short_text() {
        assert_eq!(field_text(&format!("*You* may not `launch` {} sales_daily", plain("<job>"))), "You may not launch <job> sales_daily");
        assert!(field_text(&"x".repeat(1_000)).chars().count() <= 300);
    }
}
