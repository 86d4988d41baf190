//! Run cards: one message per run and channel, edited in place as the status moves, with a
//! thread under it holding one reply per change. Built here as outbox messages; the card
//! and its thread share one lane, so they reach Slack in order.

use crate::chat::{Button, Message, Render};
use crate::config::Job;
use crate::domain::markup::plain;
use crate::domain::{CardButton, Press, RunId};
use crate::messages::{self as render, Links};
use crate::outbox::OutboxMessage;
use crate::store::CardRow;
use crate::tailer::{RunItem, RunStatus};

/// The lane of a run's card in a channel.
pub fn lane(run_id: &str, channel_id: &str) -> String {
    format!("card:{run_id}:{channel_id}")
}

/// How long *Disable for 1h* switches a job off.
pub const DISABLE_FOR: std::time::Duration = std::time::Duration::from_secs(3600);

/// The buttons of a failed run where people hear of it (its card, its thread reply, a
/// subscription alert): *Launch again* (with the run's execution date), *Mark as
/// checked*, *Disable for 1h*. Each names the job and the run, so that a click is bound
/// to the channel the bot told of the run, and each is checked against the rules then.
pub fn failure_buttons(job: &Job, run: &str, execution_date: Option<&str>) -> Vec<Button> {
    let name = job.name.clone();
    let (again, mark, disable) = match RunId::parse(run) {
        Ok(run) => (
            Press::LaunchAgain {
                job: name.clone(),
                run: run.clone(),
                execution_date: execution_date.and_then(|d| d.parse::<chrono::NaiveDate>().ok()),
            },
            Press::MarkChecked { job: name.clone(), run: run.clone() },
            Press::DisableHour { job: name, run },
        ),
        // Not a run id Tailer would give: the buttons say so when clicked.
        Err(_) => (
            Press::OlderCard { card: CardButton::LaunchAgain, job: Some(name.clone()) },
            Press::OlderCard { card: CardButton::MarkChecked, job: Some(name.clone()) },
            Press::OlderCard { card: CardButton::DisableHour, job: Some(name) },
        ),
    };
    vec![
        Button::press("Launch again", &again),
        Button::press("Mark as checked", &mark).primary(),
        Button::press("Disable for 1h", &disable),
    ]
}

/// The card as it stands.
pub fn render_card(links: Links, job: &Job, card: &CardRow, item: Option<&RunItem>, final_status: bool, note: Option<&str>) -> Message {
    let status = item.map(|i| i.status.clone());
    let headline = match &status {
        Some(s) => format!("{} {} · run {}", job.name, s, card.run_id),
        None => format!("{} · run {}", job.name, card.run_id),
    };
    let mut m = Message::new(&plain(&headline));
    m.section(&format!(":rocket: {} · run {}", render::job_label(job), links.run(job, &card.run_id)));
    let mut fields = vec![match &status {
        Some(s) => format!("*Status*\n{}", render::status(s)),
        None => "*Status*\n:hourglass: waiting for Tailer to show the run".to_owned(),
    }];
    match (&card.launched_by, &card.watched_by) {
        (Some(by), _) => fields.push(format!("*Launched by*\n{}", crate::domain::markup::mention(by))),
        (None, Some(by)) => fields.push(format!("*Watched by*\n{}", crate::domain::markup::mention(by))),
        _ => {}
    }
    if let Some(date) = &card.execution_date {
        fields.push(format!("*Execution date*\n{}", plain(date)));
    }
    if let Some(start) = item.and_then(|i| i.start_execution_date) {
        fields.push(format!("*Started*\n{}", render::when(start)));
    }
    if let Some(d) = item.and_then(|i| i.duration) {
        fields.push(format!("*Duration*\n{}", render::duration(d)));
    }
    m.fields(&fields);
    if let Some(note) = note {
        m.context(note);
    }
    if final_status {
        // They name the run, so that a click is bound to the card's channel; *Launch
        // again* keeps the execution date the run was launched for.
        let mut buttons = failure_buttons(job, &card.run_id, card.execution_date.as_deref());
        if !status.as_ref().is_some_and(RunStatus::is_failure) {
            buttons.truncate(1);
        }
        buttons.extend(links.url(job, &card.run_id).map(|url| Button::link("Open in Tailer", &Press::OpenInTailer, &url)));
        m.actions("run_card", &buttons);
    }
    m
}

/// The card's first post, root of its lane.
pub fn post(out: &dyn Render, links: Links, job: &Job, card: &CardRow, item: Option<&RunItem>) -> OutboxMessage {
    let message = render_card(links, job, card, item, false, None);
    OutboxMessage::post(card.lane.clone(), card.channel_id.clone(), out.render(&message))
        .as_root()
        .asked_by(card.launched_by.clone().or_else(|| card.watched_by.clone()))
}

/// An edit of the card; a newer pending edit replaces an older one.
pub fn update(
    out: &dyn Render,
    links: Links,
    job: &Job,
    card: &CardRow,
    item: Option<&RunItem>,
    final_status: bool,
    note: Option<&str>,
) -> OutboxMessage {
    let message = render_card(links, job, card, item, final_status, note);
    OutboxMessage::update(card.lane.clone(), card.channel_id.clone(), out.render(&message))
}

/// A reply in the card's thread; `broadcast` also shows it in the channel.
pub fn reply(out: &dyn Render, card: &CardRow, text: &str, broadcast: bool) -> OutboxMessage {
    reply_of(out, card, render::note(text), broadcast)
}

fn reply_of(out: &dyn Render, card: &CardRow, message: Message, broadcast: bool) -> OutboxMessage {
    OutboxMessage::post(card.lane.clone(), card.channel_id.clone(), out.render(&message)).in_thread(broadcast)
}

/// The thread reply for a new status; a final one names the run, linked to its page; a
/// failure carries what to do about it.
pub fn status_reply(out: &dyn Render, links: Links, card: &CardRow, item: &RunItem, job: &Job) -> OutboxMessage {
    let mut text = format!("{} {}", render::status(&item.status), render::job_label(job));
    if let Some(d) = item.duration.filter(|_| item.status.is_final()) {
        text.push_str(&format!(" after {}", render::duration(d)));
    }
    if item.status.is_final() && links.url(job, item.run_id.as_str()).is_some() {
        text.push_str(&format!(" · run {}", links.run(job, item.run_id.as_str())));
    }
    let mut message = render::note(&text);
    if item.status.is_failure() {
        message.actions("failed_run", &failure_buttons(job, &card.run_id, card.execution_date.as_deref()));
    }
    reply_of(out, card, message, item.status.is_failure())
}

/// The announcement of a finished run.
pub fn announcement(out: &dyn Render, links: Links, channel: &str, job: &Job, item: &RunItem) -> OutboxMessage {
    let mut line = format!("{} {} · run {}", render::status(&item.status), render::job_label(job), links.item(Some(job), item));
    if let Some(end) = item.ended_at() {
        line.push_str(&format!(" · ended {}", render::when(end)));
    }
    if let Some(d) = item.duration {
        line.push_str(&format!(" · {}", render::duration(d)));
    }
    let mut message = Message::new(&line);
    message.section(&line);
    if item.status.is_failure() {
        message.actions("failed_run", &failure_buttons(job, item.run_id.as_str(), None));
    }
    OutboxMessage::post(format!("subscription:{channel}"), channel, out.render(&message))
}
