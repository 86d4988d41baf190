//! What a poll's change tells each card: an edit and a thread reply per status, a note
//! when Tailer never showed the run or the watch gave up.

use crate::config::Job;
use crate::messages::{Links, cards};
use crate::outbox::OutboxMessage;
use crate::store::WatchUpdate;
use crate::tailer::RunItem;

use super::{Change, UNKNOWN_RUN_GRACE_MS, WatchRow};

/// Where the messages of a change go and how runs are named in them.
pub(super) struct Say<'a> {
    pub out: &'a dyn crate::chat::Render,
    pub links: Links<'a>,
}

/// The messages a change causes on each card, and the channels now told of the end.
pub(super) fn messages(
    Say { out, links }: Say,
    job: &Job,
    w: &WatchRow,
    cards: &[crate::store::CardRow],
    change: &Change,
    update: &WatchUpdate,
    now: i64,
) -> (Vec<OutboxMessage>, Vec<String>) {
    let mut messages = Vec::new();
    let mut announced = Vec::new();
    let last_item: Option<RunItem> = update.item.as_deref().and_then(|i| serde_json::from_str(i).ok());
    for card in cards {
        match change {
            Change::Nothing => {}
            Change::Status { item, is_final, note } => {
                let edit = cards::update(out, links, job, card, Some(item), *is_final, note.as_deref());
                let reply = cards::status_reply(out, links, card, item, job);
                if *is_final {
                    // The news people wait for goes ahead of everything else queued.
                    messages.extend([edit.first(), reply.first()]);
                    announced.push(card.channel_id.clone());
                } else {
                    messages.extend([edit, reply]);
                }
            }
            Change::NeverKnown => {
                let note = "Tailer does not know this run.";
                messages.push(cards::update(out, links, job, card, None, false, Some(note)));
                let text =
                    crate::messages::watching::never_known(&w.run_id, &crate::messages::job_label(job), UNKNOWN_RUN_GRACE_MS / 60_000);
                messages.push(cards::reply(out, card, &text, false));
            }
            Change::GaveUp => {
                let status = last_item.as_ref().map(|i| crate::messages::status(&i.status)).unwrap_or_else(|| "unknown".into());
                messages.push(cards::update(out, links, job, card, last_item.as_ref(), false, Some("No longer watched.")));
                let hours = (now - w.started_at).max(0) / 3_600_000;
                let text = crate::messages::watching::gave_up(&status, hours, job.name.as_str(), &w.run_id);
                messages.push(cards::reply(out, card, &text, false));
            }
        }
    }
    (messages, announced)
}
