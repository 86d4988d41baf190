//! The Tailer API client: one typed method per action, a bearer token on every call, a
//! timeout on every call, retries with exponential back-off and jitter for reads and for
//! writes that are harmless to repeat, and no blind retry of `launch_job`.

use std::sync::Arc;
use std::time::Duration;

use backon::Retryable;
use chrono::NaiveDate;

mod transport;

use transport::decode;

use super::auth::TokenSource;
use super::error::{ErrorKind, TailerError};
use super::request::{ByStatusQuery, ConfigurationStatus, LastStatusQuery, RequestBody, TailerAction};
use super::types::{JobRef, RunItem, RunStatus};
use crate::domain::RunId;

/// How hard the client tries.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Whole-call limit, connection included.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// Further attempts after the first, for calls that may be repeated.
    pub max_retries: usize,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// The largest answer read; a larger one is refused as undecodable, unread.
    pub max_response_bytes: usize,
    /// Calls on their way at once, and calls waiting for a place; beyond, refused as busy.
    pub max_in_flight: usize,
    pub max_waiting: usize,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(3),
            max_retries: 3,
            min_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(5),
            max_response_bytes: crate::http_limits::DEFAULT_MAX_ANSWER,
            max_in_flight: 64,
            max_waiting: 1_000,
        }
    }
}

/// Why a launch failed, split by what it means for the job.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LaunchError {
    /// Tailer refused it or never received it: nothing was launched.
    #[error("nothing was launched: {0}")]
    NotLaunched(TailerError),
    /// The request may have reached Tailer: a run may exist. Look with
    /// [`TailerClient::runs_launched_since`] before launching again.
    #[error("the launch may or may not have happened: {0}")]
    OutcomeUnknown(TailerError),
}

/// A client for one Tailer API base URL. `Debug` shows neither the token nor any
/// credentials in the URL.
#[derive(Clone)]
pub struct TailerClient {
    http: reqwest::Client,
    base_url: String,
    tokens: Arc<TokenSource>,
    options: ClientOptions,
    /// Identical reads made once, shared by every clone of this client.
    reads: Arc<super::share::Reads>,
    /// The bounded way to Tailer, shared by every clone of this client.
    gate: Arc<super::gate::Gate>,
}

impl std::fmt::Debug for TailerClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TailerClient")
            .field("base_url", &crate::redact::redact_url(&self.base_url))
            .field("options", &self.options)
            .finish()
    }
}

#[derive(serde::Deserialize)]
struct LaunchAnswer {
    run_id: RunId,
}

impl TailerClient {
    /// Builds a client; `base_url` without a trailing slash is expected, one is tolerated.
    pub fn new(base_url: &str, tokens: Arc<TokenSource>, options: ClientOptions) -> Result<Self, reqwest::Error> {
        // No redirect is followed: the bearer token goes to the configured base only.
        let http = crate::http_limits::client_builder()
            .timeout(options.timeout)
            .connect_timeout(options.connect_timeout)
            .user_agent(concat!("tailerbot/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(TailerClient {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            tokens,
            reads: Arc::new(super::share::Reads::default()),
            gate: Arc::new(super::gate::Gate::new(options.max_in_flight, options.max_waiting, None)),
            options,
        })
    }

    /// Calls waiting for a place on the way to Tailer now.
    pub fn waiting(&self) -> usize {
        self.gate.waiting()
    }

    /// The same client, every call of it counting against `pace` (the ceiling on
    /// requests per second).
    pub fn with_pace(mut self, pace: Arc<super::gate::Pace>) -> TailerClient {
        self.gate = Arc::new(super::gate::Gate::new(self.options.max_in_flight, self.options.max_waiting, Some(pace)));
        self
    }

    /// The same client, keeping answers by `clock` (the bot's).
    pub fn with_clock(mut self, clock: tailerbot_clock::SharedClock) -> TailerClient {
        self.reads = Arc::new(super::share::Reads::new(clock));
        self
    }

    /// The same client without retries, for callers that retry on their own schedule
    /// (the watcher polls again later instead of waiting inside one poll).
    pub fn without_retries(&self) -> TailerClient {
        let mut client = self.clone();
        client.options.max_retries = 0;
        client
    }

    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// Where the bearer tokens come from.
    pub fn token_source(&self) -> &TokenSource {
        &self.tokens
    }

    /// Launches a job. Retried only when the connection could not even be made.
    pub async fn launch_job(&self, job: &JobRef, execution_date: Option<NaiveDate>) -> Result<RunId, LaunchError> {
        let body = RequestBody::launch_job(job, execution_date);
        // A new run changes what `last` and `running` answer.
        self.reads.forget();
        let attempt = || async {
            let bytes = self.send_once(&body).await?;
            decode::<LaunchAnswer>(TailerAction::LaunchJob, &bytes).map(|a| a.run_id)
        };
        let launched = attempt.retry(self.backoff()).when(|e: &TailerError| e.kind == ErrorKind::Connect).await;
        // And after it: a read on its way meanwhile is not kept.
        self.reads.forget();
        launched.map_err(|e| if e.certainly_not_applied() { LaunchError::NotLaunched(e) } else { LaunchError::OutcomeUnknown(e) })
    }

    /// The last runs of a data operation, asked of Tailer now (never a shared or kept
    /// answer): for checking that Tailer answers at all, and for the watcher, which
    /// follows runs still going.
    pub async fn get_last_status_now(&self, job: &JobRef, query: &LastStatusQuery) -> Result<Vec<RunItem>, TailerError> {
        self.run_list(&RequestBody::get_last_status(job, query)).await
    }

    /// One run. `Ok(None)` when Tailer answers with no item: right after a launch the run
    /// may not show yet. A 404 comes back as [`ErrorKind::NotFound`].
    /// A run that has ended is kept a few seconds (only a write changes it); one still
    /// going is not.
    pub async fn check_run_status(&self, job: &JobRef, run_id: &RunId) -> Result<Option<RunItem>, TailerError> {
        let body = RequestBody::check_run_status(job, run_id);
        // Not shown yet (right after a launch) is not an answer to keep either.
        let ended =
            |items: &[RunItem]| (!items.is_empty() && items.iter().all(|item| item.status.is_final())).then_some(super::share::KEEP_FOR);
        let items = self.shared_run_list(body, ended).await?;
        Ok(items.iter().find(|item| &item.run_id == run_id).cloned())
    }

    /// The last runs of a data operation, newest first (kept a few seconds).
    pub async fn get_last_status(&self, job: &JobRef, query: &LastStatusQuery) -> Result<Vec<RunItem>, TailerError> {
        let items = self.shared_run_list(RequestBody::get_last_status(job, query), |_| Some(super::share::KEEP_FOR)).await?;
        Ok(items.as_ref().clone())
    }

    /// Runs in a status across an account (kept a few seconds).
    pub async fn get_by_status(&self, query: &ByStatusQuery) -> Result<Vec<RunItem>, TailerError> {
        let items = self.shared_run_list(RequestBody::get_by_status(query), |_| Some(super::share::KEEP_FOR)).await?;
        Ok(items.as_ref().clone())
    }

    /// A read made once for everyone asking it at the same time (see [`super::share`]).
    async fn shared_run_list(
        &self,
        body: RequestBody,
        keep: impl Fn(&[RunItem]) -> Option<Duration> + Send + 'static,
    ) -> Result<Arc<Vec<RunItem>>, TailerError> {
        let key = serde_json::to_string(&body).unwrap_or_else(|_| format!("{body:?}"));
        let (client, action) = (self.clone(), body.action);
        self.reads.read(action, key, keep, async move { client.run_list(&body).await }).await
    }

    /// Sets a run's status (e.g. a handled failure to CHECKED). Repeating it is harmless.
    pub async fn set_run_status(&self, job: &JobRef, run_id: &RunId, status: &RunStatus) -> Result<(), TailerError> {
        self.ack(&RequestBody::set_run_status(job, run_id, status)).await
    }

    /// Resets a workflow's triggers. Repeating it is harmless.
    pub async fn reset_workflow_status(&self, job: &JobRef) -> Result<(), TailerError> {
        self.ack(&RequestBody::reset_workflow_status(job)).await
    }

    /// Enables, disables or archives a configuration. Repeating it is harmless.
    pub async fn set_configuration_status(&self, job: &JobRef, to: ConfigurationStatus) -> Result<(), TailerError> {
        self.ack(&RequestBody::set_configuration_status(job, to)).await
    }

    /// After a launch whose outcome is unknown: the runs of `job` whose ids say they were
    /// launched in `since_second` (unix seconds) or later, newest first. `None` when
    /// Tailer's answer does not reach back that far (a job launched that often since):
    /// the run looked for may be beyond it, and the ones seen someone else's.
    pub async fn runs_launched_since(&self, job: &JobRef, since_second: i64) -> Result<Option<Vec<RunItem>>, TailerError> {
        const REACH: usize = 100;
        // Asked now, not kept from before the launch.
        let query = LastStatusQuery { limit: Some(REACH as u32), ..LastStatusQuery::default() };
        let runs = self.run_list(&RequestBody::get_last_status(job, &query)).await?;
        let second = |run: &RunItem| run.run_id.launched_at().map(|t| t.and_utc().timestamp());
        if runs.len() >= REACH && runs.last().and_then(second).is_some_and(|t| t >= since_second) {
            tracing::warn!(configuration = %job.configuration_id, "Tailer's latest runs of the job do not reach back to the launch; its run cannot be told apart");
            return Ok(None);
        }
        Ok(Some(runs.into_iter().filter(|run| second(run).is_some_and(|t| t >= since_second)).collect()))
    }
}
