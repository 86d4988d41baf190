//! What is switched off: one job's line (since, by whom, until, why) and the list with
//! its *Enable* buttons.

use super::{job_label, when};
use crate::chat::{Button, Message};
use crate::config::Job;
use crate::domain::Press;
use crate::domain::markup::plain;
use crate::store::SwitchRow;

/// How many *Enable* buttons a message carries; past them, the command to type.
pub const ENABLE_BUTTONS: usize = 10;

/// The *Enable* button of a job or a tag (its value: what `enable` takes).
pub fn enable_button(target: &str) -> Button {
    Button::press("Enable", &Press::Enable { target: target.to_owned() })
}

/// Why a job is off, in one line: since when, by whom, until when, why.
pub fn switched_off(job: &Job, switch: &SwitchRow) -> String {
    let since = chrono::DateTime::from_timestamp_millis(switch.since_ms).unwrap_or_default();
    let by = match (&switch.by_user, switch.source.as_str()) {
        (Some(user), _) => format!(" by {}", crate::domain::markup::mention(user)),
        (None, "tailer") => " (a run of it ended DEACTIVATED: switched off outside the bot)".to_owned(),
        (None, _) => String::new(),
    };
    let mut line = format!("{} is disabled since {}{by}", job_label(job), when(since));
    if let Some(until) = switch.until_ms.and_then(chrono::DateTime::from_timestamp_millis) {
        line.push_str(&format!(", until {}", when(until)));
    }
    if let Some(reason) = switch.reason.as_deref().filter(|r| !r.is_empty()) {
        line.push_str(&format!(" — reason: {}", plain(reason)));
    }
    line
}

/// `disabled`: what is switched off, each with *Enable*.
pub fn disabled(off: &[(&Job, SwitchRow)]) -> Message {
    if off.is_empty() {
        let mut m = Message::new("Nothing is switched off");
        m.section(":large_green_circle: Nothing you may see here is switched off, as far as I know.");
        m.context("I know what I switched off, and what Tailer showed me: runs that ended DEACTIVATED.");
        return m;
    }
    let title =
        if off.len() == 1 { "1 data operation switched off".to_owned() } else { format!("{} data operations switched off", off.len()) };
    let mut m = Message::new(&title);
    m.section(&format!(":red_circle: *{title}*"));
    // Each of the first ones with its own button beside its line: a click can only
    // switch on the job it sits beside.
    for (job, switch) in off.iter().take(ENABLE_BUTTONS) {
        m.item(&switched_off(job, switch), enable_button(job.name.as_str()));
    }
    if off.len() > ENABLE_BUTTONS {
        let lines: Vec<String> = off[ENABLE_BUTTONS..].iter().map(|(job, switch)| format!("• {}", switched_off(job, switch))).collect();
        m.lines(&lines, 1);
        m.context(&format!("The first {ENABLE_BUTTONS} have a button; for the others: `/tailer enable {}`.", plain("<job>")));
    }
    m
}
