//! The request bodies of every Tailer action, field for field as the public docs show them
//! (`../shared/fixtures/tailer/`), and the path each action is posted to.

use chrono::NaiveDate;
use serde::Serialize;

use super::types::{JobRef, RunStatus};
use crate::domain::{Account, ConfigurationId, ConfigurationType, Environment, JobId, RunId};

/// The actions of the Tailer API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TailerAction {
    LaunchJob,
    CheckRunStatus,
    GetLastStatus,
    GetByStatus,
    SetRunStatus,
    ResetWorkflowStatus,
    SetConfigurationStatus,
}

impl TailerAction {
    pub const ALL: [TailerAction; 7] = [
        TailerAction::LaunchJob,
        TailerAction::CheckRunStatus,
        TailerAction::GetLastStatus,
        TailerAction::GetByStatus,
        TailerAction::SetRunStatus,
        TailerAction::ResetWorkflowStatus,
        TailerAction::SetConfigurationStatus,
    ];

    /// The value of the `action` field.
    pub fn name(self) -> &'static str {
        match self {
            TailerAction::LaunchJob => "launch_job",
            TailerAction::CheckRunStatus => "check_run_status",
            TailerAction::GetLastStatus => "get_last_status",
            TailerAction::GetByStatus => "get_by_status",
            TailerAction::SetRunStatus => "set_run_status",
            TailerAction::ResetWorkflowStatus => "reset_workflow_status",
            TailerAction::SetConfigurationStatus => "set_configuration_status",
        }
    }

    pub fn from_name(name: &str) -> Option<TailerAction> {
        TailerAction::ALL.into_iter().find(|a| a.name() == name)
    }

    /// The path it is posted to; several actions share one.
    pub fn path(self) -> &'static str {
        match self {
            TailerAction::LaunchJob => "/v1/dag/launch",
            TailerAction::CheckRunStatus | TailerAction::GetLastStatus | TailerAction::GetByStatus | TailerAction::SetRunStatus => {
                "/v1/dag/status"
            }
            TailerAction::ResetWorkflowStatus => "/v1/workflow/status",
            TailerAction::SetConfigurationStatus => "/v1/configuration/status",
        }
    }

    /// Reads may be retried freely; writes only where repeating them is harmless.
    pub fn is_read(self) -> bool {
        matches!(self, TailerAction::CheckRunStatus | TailerAction::GetLastStatus | TailerAction::GetByStatus)
    }
}

impl std::fmt::Display for TailerAction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What `set_configuration_status` should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigurationStatus {
    Enable,
    Disable,
    Archive,
}

impl ConfigurationStatus {
    /// `(activated, archived)` as the docs define them.
    fn flags(self) -> (bool, bool) {
        match self {
            ConfigurationStatus::Enable => (true, false),
            ConfigurationStatus::Disable => (false, false),
            ConfigurationStatus::Archive => (false, true),
        }
    }
}

/// Filters of `get_last_status`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LastStatusQuery {
    pub execution_date: Option<NaiveDate>,
    pub status: Option<RunStatus>,
    pub limit: Option<u32>,
}

/// Filters of `get_by_status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ByStatusQuery {
    pub account: Account,
    pub configuration_type: ConfigurationType,
    pub environment: Option<Environment>,
    pub status: Option<RunStatus>,
    pub execution_date: Option<NaiveDate>,
    pub limit: Option<u32>,
}

/// One request body. Absent fields are left out rather than sent as `null`.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RequestBody {
    #[serde(skip)]
    pub action: TailerAction,
    #[serde(rename = "action")]
    action_name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    activated: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    archived: Option<bool>,
    account: Account,
    #[serde(skip_serializing_if = "Option::is_none")]
    environment: Option<Environment>,
    configuration_type: ConfigurationType,
    #[serde(skip_serializing_if = "Option::is_none")]
    configuration_id: Option<ConfigurationId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    job_id: Option<JobId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    run_id: Option<RunId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_date: Option<NaiveDate>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<RunStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    limit: Option<u32>,
}

impl RequestBody {
    fn for_job(action: TailerAction, job: &JobRef) -> RequestBody {
        RequestBody {
            action,
            action_name: action.name(),
            activated: None,
            archived: None,
            account: job.account.clone(),
            environment: Some(job.environment.clone()),
            configuration_type: job.configuration_type.clone(),
            configuration_id: Some(job.configuration_id.clone()),
            job_id: None,
            run_id: None,
            execution_date: None,
            status: None,
            limit: None,
        }
    }

    /// `launch_job`. The dated form of the docs also names the job, so `job_id` goes with
    /// an `execution_date`; the plain form carries neither.
    pub fn launch_job(job: &JobRef, execution_date: Option<NaiveDate>) -> RequestBody {
        let mut body = Self::for_job(TailerAction::LaunchJob, job);
        if execution_date.is_some() {
            body.job_id = job.job_id.clone();
            body.execution_date = execution_date;
        }
        body
    }

    pub fn check_run_status(job: &JobRef, run_id: &RunId) -> RequestBody {
        let mut body = Self::for_job(TailerAction::CheckRunStatus, job);
        body.job_id = job.job_id.clone();
        body.run_id = Some(run_id.clone());
        body
    }

    pub fn get_last_status(job: &JobRef, query: &LastStatusQuery) -> RequestBody {
        let mut body = Self::for_job(TailerAction::GetLastStatus, job);
        body.execution_date = query.execution_date;
        body.status = query.status.clone();
        body.limit = query.limit;
        body
    }

    pub fn get_by_status(query: &ByStatusQuery) -> RequestBody {
        RequestBody {
            action: TailerAction::GetByStatus,
            action_name: TailerAction::GetByStatus.name(),
            activated: None,
            archived: None,
            account: query.account.clone(),
            environment: query.environment.clone(),
            configuration_type: query.configuration_type.clone(),
            configuration_id: None,
            job_id: None,
            run_id: None,
            execution_date: query.execution_date,
            status: query.status.clone(),
            limit: query.limit,
        }
    }

    /// `set_run_status`. The docs' example omits `environment`; their text says to send
    /// it anyway, and so we do.
    pub fn set_run_status(job: &JobRef, run_id: &RunId, status: &RunStatus) -> RequestBody {
        let mut body = Self::for_job(TailerAction::SetRunStatus, job);
        body.run_id = Some(run_id.clone());
        body.status = Some(status.clone());
        body
    }

    pub fn reset_workflow_status(job: &JobRef) -> RequestBody {
        Self::for_job(TailerAction::ResetWorkflowStatus, job)
    }

    pub fn set_configuration_status(job: &JobRef, to: ConfigurationStatus) -> RequestBody {
        let mut body = Self::for_job(TailerAction::SetConfigurationStatus, job);
        let (activated, archived) = to.flags();
        body.activated = Some(activated);
        body.archived = Some(archived);
        body
    }
}
