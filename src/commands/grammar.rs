//! The verbs of `/tailer`: usage, summary and example of each, in one table that both the
//! parser's error messages and `help` are made from.

use crate::domain::Action;

/// One verb of the grammar.
#[derive(Debug, Clone, Copy)]
pub struct Verb {
    pub action: Action,
    /// After `/tailer `.
    pub usage: &'static str,
    pub summary: &'static str,
    pub example: &'static str,
}

/// Every verb, in the order `help` lists them.
pub const VERBS: &[Verb] = &[
    Verb { action: Action::Help, usage: "help [verb]", summary: "this list, or the details of one verb", example: "help disable" },
    Verb {
        action: Action::Jobs,
        usage: "jobs [filter]",
        summary: "the jobs you may see, by name, tag, environment or description",
        example: "jobs iowa",
    },
    Verb {
        action: Action::Launch,
        usage: "launch <job> [YYYY-MM-DD]",
        summary: "launch a job (optionally for an execution date); its run is followed in a thread",
        example: "launch iowa-prepare 2024-09-18",
    },
    Verb {
        action: Action::Status,
        usage: "status [<job>] <run_id> | status <job>",
        summary: "one run's status, or a job's latest run",
        example: "status iowa-prepare 20201230-113940-1fb692b0-3531-4578-9919-acf6fdb0a5b1",
    },
    Verb {
        action: Action::Last,
        usage: "last <job> [N] [STATUS] [YYYY-MM-DD]",
        summary: "a job's last runs, newest first (N up to 50, default 5)",
        example: "last sales-daily 10 FAILED",
    },
    Verb {
        action: Action::Running,
        usage: "running [configuration_type]",
        summary: "runs in progress across the catalog's accounts",
        example: "running table-to-table",
    },
    Verb {
        action: Action::Watch,
        usage: "watch [<job>] <run_id>",
        summary: "follow an existing run in this channel",
        example: "watch sales-daily 20201230-113940-1fb692b0-3531-4578-9919-acf6fdb0a5b1",
    },
    Verb {
        action: Action::Unwatch,
        usage: "unwatch <run_id>",
        summary: "stop following a run in this channel",
        example: "unwatch 20201230-113940-1fb692b0-3531-4578-9919-acf6fdb0a5b1",
    },
    Verb {
        action: Action::Subscribe,
        usage: "subscribe <job>|tag:<tag>|all [failures|all]",
        summary: "tell this channel about finished runs, however they were started (default: all)",
        example: "subscribe tag:daily failures",
    },
    Verb {
        action: Action::Unsubscribe,
        usage: "unsubscribe <job>|tag:<tag>|all",
        summary: "stop a subscription of this channel",
        example: "unsubscribe tag:daily",
    },
    Verb { action: Action::Subscriptions, usage: "subscriptions", summary: "this channel's subscriptions", example: "subscriptions" },
    Verb {
        action: Action::Disable,
        usage: "disable <job>|tag:<tag> [for <duration>] [reason ...]",
        summary: "switch off; with `for`, switched on again when the time is up",
        example: "disable tag:daily for 2h source table is late",
    },
    Verb { action: Action::Enable, usage: "enable <job>|tag:<tag>", summary: "switch on", example: "enable sales-daily" },
    Verb {
        action: Action::Reset,
        usage: "reset <workflow-job>",
        summary: "reset a workflow's triggers",
        example: "reset iowa-load-workflow",
    },
    Verb {
        action: Action::Mark,
        usage: "mark <job> <run_id> <STATUS>",
        summary: "set a run's status, e.g. a handled failure to CHECKED",
        example: "mark sales-daily 20201230-113940-1fb692b0-3531-4578-9919-acf6fdb0a5b1 CHECKED",
    },
    Verb { action: Action::Audit, usage: "audit [job]", summary: "who did what, latest first", example: "audit sales-daily" },
    Verb {
        action: Action::Doctor,
        usage: "doctor",
        summary: "the bot's own health: APIs reachable, last poll, backlog, rate limits hit",
        example: "doctor",
    },
];

/// The table entry of an action.
pub fn verb(action: Action) -> &'static Verb {
    VERBS
        .iter()
        .find(|v| v.action == action)
        // VERBS lists every action; a test checks it.
        .expect("every action has a verb")
}

/// `help`: one line per verb.
pub fn help_lines() -> Vec<String> {
    VERBS.iter().map(|v| format!("`/tailer {}` — {}", v.usage, v.summary)).collect()
}

/// `help <verb>`.
pub fn help_for(action: Action) -> String {
    let v = verb(action);
    format!("`/tailer {}`\n{}\nExample: `/tailer {}`", v.usage, v.summary, v.example)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_has_exactly_one_verb_whose_usage_starts_with_its_name() {
        for action in Action::ALL {
            let matching: Vec<_> = VERBS.iter().filter(|v| v.action == action).collect();
            assert_eq!(matching.len(), 1, "{action}");
            assert!(matching[0].usage.starts_with(action.name()), "{action}");
            assert!(matching[0].example.starts_with(action.name()), "{action}");
        }
    }
}
