//! The Tailer API in the simulator's own words, written from the public documentation
//! (not from the bot's client, so that a client misreading the API is caught): the
//! actions and where they are posted, the run statuses, and how durations are written.

/// A documented action: the `action` field of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    LaunchJob,
    CheckRunStatus,
    GetLastStatus,
    GetByStatus,
    SetRunStatus,
    ResetWorkflowStatus,
    SetConfigurationStatus,
}

impl Action {
    pub const ALL: [Action; 7] = [
        Action::LaunchJob,
        Action::CheckRunStatus,
        Action::GetLastStatus,
        Action::GetByStatus,
        Action::SetRunStatus,
        Action::ResetWorkflowStatus,
        Action::SetConfigurationStatus,
    ];

    /// The value of the `action` field.
    pub fn name(self) -> &'static str {
        match self {
            Action::LaunchJob => "launch_job",
            Action::CheckRunStatus => "check_run_status",
            Action::GetLastStatus => "get_last_status",
            Action::GetByStatus => "get_by_status",
            Action::SetRunStatus => "set_run_status",
            Action::ResetWorkflowStatus => "reset_workflow_status",
            Action::SetConfigurationStatus => "set_configuration_status",
        }
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The documented path of the action; the status actions share one.
    pub fn path(self) -> &'static str {
        match self {
            Action::LaunchJob => "/v1/dag/launch",
            Action::CheckRunStatus | Action::GetLastStatus | Action::GetByStatus | Action::SetRunStatus => "/v1/dag/status",
            Action::ResetWorkflowStatus => "/v1/workflow/status",
            Action::SetConfigurationStatus => "/v1/configuration/status",
        }
    }
}

/// A run status as the documentation lists them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RunStatus {
    Waiting,
    Running,
    Success,
    Failed,
    Checked,
    NoMatch,
    Deactivated,
}

impl RunStatus {
    pub const ALL: [RunStatus; 7] = [
        RunStatus::Waiting,
        RunStatus::Running,
        RunStatus::Success,
        RunStatus::Failed,
        RunStatus::Checked,
        RunStatus::NoMatch,
        RunStatus::Deactivated,
    ];

    /// As Tailer writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::Waiting => "WAITING",
            RunStatus::Running => "RUNNING",
            RunStatus::Success => "SUCCESS",
            RunStatus::Failed => "FAILED",
            RunStatus::Checked => "CHECKED",
            RunStatus::NoMatch => "NO_MATCH",
            RunStatus::Deactivated => "DEACTIVATED",
        }
    }

    /// A documented status by its name; anything else is not one.
    pub fn parse(text: &str) -> Option<RunStatus> {
        RunStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// A run in this status has ended.
    pub fn is_final(self) -> bool {
        !matches!(self, RunStatus::Waiting | RunStatus::Running)
    }

    /// What `set_run_status` accepts (the documented examples: a handled failure marked
    /// CHECKED, a run set by hand).
    pub fn settable(self) -> bool {
        matches!(self, RunStatus::Success | RunStatus::Failed | RunStatus::Running | RunStatus::NoMatch | RunStatus::Checked)
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A duration as Tailer writes it, Python's `str(timedelta)`: `H:MM:SS`, with
/// `.ffffff` when there are microseconds, and `N day(s), ` before it past a day
/// (`0:01:24.002519`, `1 day, 1:01:01.000001`).
pub fn timedelta(micros: i64) -> String {
    let micros = micros.max(0);
    let seconds = micros / 1_000_000;
    let fraction = micros % 1_000_000;
    let clock = format!("{}:{:02}:{:02}", seconds / 3600 % 24, seconds / 60 % 60, seconds % 60);
    let clock = if fraction == 0 { clock } else { format!("{clock}.{fraction:06}") };
    match seconds / 86_400 {
        0 => clock,
        1 => format!("1 day, {clock}"),
        days => format!("{days} days, {clock}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_written_as_python_writes_a_timedelta() {
        assert_eq!(timedelta(84_002_519), "0:01:24.002519");
        assert_eq!(timedelta(3_000_000), "0:00:03");
        assert_eq!(timedelta(90_061_000_001), "1 day, 1:01:01.000001");
        assert_eq!(timedelta(2 * 86_400_000_000 + 5_000_000), "2 days, 0:00:05");
    }

    #[test]
    fn every_action_and_status_reads_back_from_its_name() {
        for action in Action::ALL {
            assert_eq!(Action::from_name(action.name()), Some(action));
        }
        for status in RunStatus::ALL {
            assert_eq!(RunStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(RunStatus::parse("BOGUS"), None);
    }
}
