//! Runs as the reads show them: one run in fields, a job's last runs, what is running.

use super::{Links, duration, job_label, status, when};
use crate::chat::Message;
use crate::config::Job;
use crate::domain::markup::plain;
use crate::tailer::{RunItem, RunStatus};

fn run_line(links: Links, job: Option<&Job>, item: &RunItem) -> String {
    let mut line = format!("{} {}", status(&item.status), links.item(job, item));
    if let Some(start) = item.start_execution_date {
        line.push_str(&format!(" · started {}", when(start)));
    }
    if let Some(d) = item.duration {
        line.push_str(&format!(" · {}", duration(d)));
    }
    line
}

/// One run, in fields.
pub fn run(links: Links, job: Option<&Job>, item: &RunItem) -> Message {
    let name = job
        .map(job_label)
        .or_else(|| item.configuration_id.as_deref().map(|c| format!("`{}`", plain(c))))
        .unwrap_or_else(|| "a run".into());
    let mut m = Message::new(&format!("{} {}: {}", name, plain(item.run_id.as_str()), plain(item.status.as_str())));
    m.section(&format!("{} · run {}", name, links.item(job, item)));
    let mut fields = vec![format!("*Status*\n{}", status(&item.status))];
    if let Some(env) = item.environment.as_deref().or(job.map(|j| j.job.environment.as_str())) {
        fields.push(format!("*Environment*\n{}", plain(env)));
    }
    if let Some(start) = item.start_execution_date {
        fields.push(format!("*Started*\n{}", when(start)));
    }
    if let Some(d) = item.duration {
        fields.push(format!("*Duration*\n{}", duration(d)));
    }
    if let Some(update) = item.last_update_date {
        fields.push(format!("*Last update*\n{}", when(update)));
    }
    m.fields(&fields);
    m
}

/// What `last` was asked to keep: a status, an execution date.
#[derive(Debug, Clone, Copy, Default)]
pub struct RunFilter<'a> {
    pub status: Option<&'a RunStatus>,
    pub execution_date: Option<chrono::NaiveDate>,
}

pub fn last_runs(links: Links, job: &Job, filter: RunFilter<'_>, items: &[RunItem]) -> Message {
    let status = filter.status.map(|s| format!(" {}", plain(s.as_str()))).unwrap_or_default();
    let date = filter.execution_date.map(|d| format!(" for {d}")).unwrap_or_default();
    let mut m = Message::new(&format!("Last{status} runs of {}{date}", job.name));
    if items.is_empty() {
        let what = if status.is_empty() && date.is_empty() { " matching that".to_owned() } else { format!("{status}{date}") };
        m.section(&format!("{} has no run{what}.", job_label(job)));
        return m;
    }
    let n = items.len();
    m.section(&format!("*Last {n}{status} run{} of {}{date}*, newest first", if n == 1 { "" } else { "s" }, job_label(job)));
    m.lines(&items.iter().map(|item| run_line(links, Some(job), item)).collect::<Vec<_>>(), 0);
    m
}

/// Runs in progress, each with the catalog name when the bot knows it.
pub fn running(links: Links, items: &[(Option<&Job>, RunItem)]) -> Message {
    let mut m = Message::new(&format!("{} runs in progress", items.len()));
    if items.is_empty() {
        m.section("Nothing is running or waiting right now.");
        return m;
    }
    let waiting = items.iter().filter(|(_, item)| item.status == RunStatus::Waiting).count();
    let of_which = if waiting == 0 { String::new() } else { format!(" ({waiting} waiting)") };
    m.section(&format!("*{} run{} in progress*{of_which}", items.len(), if items.len() == 1 { "" } else { "s" }));
    let lines: Vec<String> = items
        .iter()
        .map(|(job, item)| {
            let name = job.map(job_label).unwrap_or_else(|| format!("`{}`", plain(item.configuration_id.as_deref().unwrap_or("?"))));
            format!("{name} · {}", run_line(links, *job, item))
        })
        .collect();
    m.lines(&lines, 0);
    m
}
