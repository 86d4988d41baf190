//! What expectations say: the alert of a job that has not succeeded by its time, its
//! edit once the job succeeds (or the day is muted), the thread reply that says how late.

use chrono::{DateTime, NaiveDate, Utc};

use crate::chat::{Button, Message, Render};
use crate::config::Job;
use crate::domain::Press;
use crate::domain::markup::{mention, plain};
use crate::messages::{self as render, Links};
use crate::outbox::OutboxMessage;
use crate::tailer::RunItem;

/// One day of an expectation, as its messages name it.
#[derive(Debug, Clone, Copy)]
pub struct Day<'a> {
    pub channel: &'a str,
    pub job: &'a Job,
    pub day: NaiveDate,
    /// `07:00 Europe/Paris`.
    pub by: &'a str,
    pub deadline: DateTime<Utc>,
    /// The outbox lane of the day's alert.
    pub lane: &'a str,
}

/// The outbox lane of a day's alert: the alert is its root, what follows is in its thread.
pub fn lane(channel: &str, job: &str, day: NaiveDate) -> String {
    format!("expect:{channel}:{job}:{day}")
}

/// The channel and the job of a day's alert lane ([`lane`]), read back.
pub fn of_lane(lane: &str) -> Option<(&str, &str)> {
    let mut parts = lane.strip_prefix("expect:")?.split(':');
    Some((parts.next()?, parts.next()?))
}

/// Why a day is alerted.
#[derive(Debug, Clone)]
pub enum Miss<'a> {
    /// Tailer answered: no success by the time; its last run, if any.
    Missed { last: Option<&'a RunItem> },
    /// Tailer did not answer in time: the state is unknown.
    Unknown,
}

/// `today by *07:00 Europe/Paris*`, or `on 2026-12-05 by ...` for a day caught up.
fn due(d: &Day, today: bool) -> String {
    let day = if today { "today".to_owned() } else { format!("on {}", d.day) };
    format!("{day} by *{}*", plain(d.by))
}

/// The alert: what was expected, the last run and its status, and *Launch*, *Last runs*,
/// *Mute today*. `late_check` when it is said long after the time (the bot was down).
pub fn alert(
    out: &dyn Render,
    links: Links,
    d: &Day,
    today: bool,
    miss: &Miss,
    by: &str,
    late_check: Option<DateTime<Utc>>,
) -> OutboxMessage {
    let (title, detail) = match miss {
        Miss::Missed { last } => {
            let last = match last {
                Some(item) => {
                    let started = item.start_execution_date.map(|t| format!(", started {}", render::when(t))).unwrap_or_default();
                    format!("Its last run: {} {}{started}.", links.item(Some(d.job), item), render::status(&item.status))
                }
                None => "Tailer shows no run of it.".to_owned(),
            };
            (format!(":alarm_clock: {} has not succeeded {}", render::job_label(d.job), due(d, today)), last)
        }
        Miss::Unknown => (
            format!(":grey_question: I cannot tell whether {} succeeded {}", render::job_label(d.job), due(d, today)),
            "Tailer did not answer when I checked: this is not a confirmed miss. I keep checking and will say here when it succeeds."
                .to_owned(),
        ),
    };
    let mut m = Message::new(&title);
    m.section(&title);
    let mut context = format!("{detail} Expected by {} (`/tailer expectations`).", who_expects(by));
    if let Some(at) = late_check {
        context.push_str(&format!(" Checked late, {}: I was not running at the time.", render::when(at)));
    }
    m.context(&context);
    let job = d.job.name.clone();
    m.actions(
        "expectation",
        &[
            Button::press("Launch", &Press::ExpectLaunch { job: job.clone() }).primary(),
            Button::press("Last runs", &Press::ExpectLast { job: job.clone() }),
            Button::press(if today { "Mute today" } else { "Mute this day" }, &Press::ExpectMute { job, day: d.day }),
        ],
    );
    OutboxMessage::post(d.lane, d.channel, out.render(&m)).as_root()
}

/// Who set an expectation: a person, as a mention, or the configuration file.
pub fn who_expects(created_by: &str) -> String {
    if created_by == crate::store::CONFIGURED { "the configuration file (`[[expectations]]`)".to_owned() } else { mention(created_by) }
}

/// The line of a late success: the run, when it ended and how late.
fn met_line(links: Links, d: &Day, run: &RunItem, ended: DateTime<Utc>) -> String {
    let when = match (ended - d.deadline).to_std() {
        Ok(late) if !late.is_zero() => format!("{} late", render::duration(late)),
        _ => "on time: Tailer had not answered when I checked".to_owned(),
    };
    format!(
        ":white_check_mark: {} succeeded {}, {when} (expected by {}) · run {}",
        render::job_label(d.job),
        render::when(ended),
        plain(d.by),
        links.item(Some(d.job), run)
    )
}

/// Once the job succeeded: the reply in the alert's thread and the alert, edited.
pub fn met(out: &dyn Render, links: Links, d: &Day, run: &RunItem, ended: DateTime<Utc>) -> Vec<OutboxMessage> {
    let line = met_line(links, d, run, ended);
    let mut reply = Message::new(&line);
    reply.section(&line);
    let edited = format!("~Expected {} by {}~ {line}", d.day, plain(d.by));
    let mut alert = Message::new(&line);
    alert.section(&edited);
    vec![
        OutboxMessage::post(d.lane, d.channel, out.render(&reply)).in_thread(false),
        OutboxMessage::update(d.lane, d.channel, out.render(&alert)),
    ]
}

/// Muted for the day by `user`: the alert, edited (its buttons gone), and a reply.
pub fn muted(out: &dyn Render, d: &Day, user: &str) -> Vec<OutboxMessage> {
    let line = format!(
        ":no_bell: {} was expected on {} by {}: muted for that day by {}.",
        render::job_label(d.job),
        d.day,
        plain(d.by),
        mention(user)
    );
    let mut m = Message::new(&line);
    m.section(&line);
    vec![OutboxMessage::update(d.lane, d.channel, out.render(&m))]
}
