//! A Tailer API simulator, served over real HTTP: every documented action with the shapes
//! of the public docs and their quirks, runs that progress on their own, 401 for a missing
//! or malformed token, and faults on demand. `tailerbot sim` serves it alone; the demo and
//! the tests start it on port 0 through [`Simulator::start`].

mod api;
mod faults;
mod routes;
mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use api::{Action, RunStatus, timedelta};
pub use faults::{Fault, FaultKind};
pub use routes::RecordedRequest;
pub use state::SimConfiguration;

use tailerbot_clock::{SharedClock, SystemClock};

/// How the simulator behaves.
#[derive(Debug, Clone)]
pub struct SimOptions {
    /// Seeds run ids and timings: the same seed gives the same runs.
    pub seed: u64,
    /// Multiplies every timing: 0.1 runs ten times faster.
    pub speed: f64,
    /// How long a run stays in WAITING (drawn between the two).
    pub waiting: (Duration, Duration),
    /// How long a run stays in RUNNING (drawn between the two).
    pub running: (Duration, Duration),
    /// Right after a launch, status answers have empty `results` for this long.
    pub invisible_after_launch: Duration,
    /// Only this bearer token is accepted; `None`: any well-formed one.
    pub token: Option<String>,
    /// Finished runs made up per configuration at start, six hours apart.
    pub history: usize,
    /// How long those made-up runs ran (not scaled by `speed`); `None`: as `running`.
    pub history_running: Option<(Duration, Duration)>,
    /// The share of those runs that failed (besides configurations that always fail).
    pub history_failures: f64,
    /// `check_run_status` of a run nobody launched: 404 (true) or empty `results`.
    pub unknown_run_is_404: bool,
    /// The data operations Tailer knows; others get 404.
    pub configurations: Vec<SimConfiguration>,
    /// The simulator's time: runs progress as this clock moves.
    pub clock: SharedClock,
    /// Also know the data operations of the public docs' examples, with their runs.
    pub documented_examples: bool,
}

impl Default for SimOptions {
    fn default() -> Self {
        SimOptions {
            seed: 7,
            speed: 1.0,
            waiting: (Duration::from_secs(2), Duration::from_secs(5)),
            running: (Duration::from_secs(10), Duration::from_secs(40)),
            invisible_after_launch: Duration::from_secs(1),
            token: None,
            history: 3,
            history_running: None,
            history_failures: 0.0,
            unknown_run_is_404: true,
            configurations: Vec::new(),
            clock: Arc::new(SystemClock),
            documented_examples: true,
        }
    }
}

impl SimOptions {
    /// Knows these data operations (and only these, besides the documented examples).
    pub fn with_catalog(mut self, configurations: impl IntoIterator<Item = SimConfiguration>) -> Self {
        self.configurations = configurations.into_iter().collect();
        self
    }
}

/// The shared state behind the routes, and the handle tests use to look inside.
#[derive(Clone)]
pub struct Simulator {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub state: Mutex<state::SimState>,
    pub faults: Mutex<faults::Faults>,
    pub requests: Mutex<Vec<RecordedRequest>>,
    /// Woken at each request received.
    pub received: tokio::sync::Notify,
    pub options: SimOptions,
}

/// A simulator serving on a local port; dropping it stops the server.
pub struct RunningSimulator {
    pub addr: SocketAddr,
    pub sim: Simulator,
    _stop: oneshot::Sender<()>,
}

impl RunningSimulator {
    /// `http://127.0.0.1:PORT`, the base URL to give the client.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The longest request log kept; older entries are dropped.
const MAX_RECORDED: usize = 100_000;

impl Simulator {
    pub fn new(options: SimOptions) -> Simulator {
        Simulator {
            inner: Arc::new(Inner {
                state: Mutex::new(state::SimState::new(options.clone())),
                faults: Mutex::new(faults::Faults::default()),
                requests: Mutex::new(Vec::new()),
                received: tokio::sync::Notify::new(),
                options,
            }),
        }
    }

    /// The axum router serving the API and the `/_sim/*` controls.
    pub fn router(&self) -> axum::Router {
        routes::router(self.clone())
    }

    /// Serves on `addr` (port 0 for any free port) until the handle is dropped.
    pub async fn start(options: SimOptions, addr: SocketAddr) -> std::io::Result<RunningSimulator> {
        let sim = Simulator::new(options);
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = sim.router();
        tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
            if let Err(e) = served {
                tracing::error!(error = %e, "the Tailer simulator stopped");
            }
        });
        Ok(RunningSimulator { addr, sim, _stop: stop })
    }

    /// Arms a fault.
    pub fn inject(&self, fault: Fault) {
        lock(&self.inner.faults).arm(fault);
    }

    /// Every request received so far (up to the last 100,000), oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.inner.requests).clone()
    }

    /// How many requests of one action were received.
    pub fn count(&self, action: &str) -> usize {
        lock(&self.inner.requests).iter().filter(|r| r.action == action).count()
    }

    /// The runs started since the simulator started (launched, or started as Tailer's
    /// schedule does), oldest first, visible to clients or not yet.
    pub fn started_runs(&self) -> Vec<String> {
        lock(&self.inner.state).started_runs()
    }

    /// The current status of a run, visible to clients or not yet.
    pub fn status_of(&self, run_id: &str) -> Option<RunStatus> {
        lock(&self.inner.state).status_of(run_id)
    }

    /// When a run reaches (or reached) its final status, as unix milliseconds.
    pub fn final_at_unix_ms(&self, run_id: &str) -> Option<i64> {
        let state = lock(&self.inner.state);
        state.final_at_ms(run_id).map(|ms| state.unix_ms(ms))
    }

    /// A recorded request's time (its `at_ms`, on the simulator's clock since it
    /// started) as unix milliseconds, comparable with [`Simulator::final_at_unix_ms`].
    pub fn unix_ms(&self, at_ms: i64) -> i64 {
        lock(&self.inner.state).unix_ms(at_ms)
    }

    /// Whether a configuration is currently activated.
    pub fn is_activated(&self, configuration_id: &str) -> Option<bool> {
        lock(&self.inner.state).configurations.iter().find(|c| c.configuration_id == configuration_id).map(|c| c.activated)
    }

    /// Starts a run of a configuration as Tailer's own schedule does (not through the
    /// API): a run the bot did not launch, for the demo and tests. `None` for a
    /// configuration the simulator does not know.
    pub fn start_scheduled_run(&self, configuration_id: &str) -> Option<String> {
        let mut state = lock(&self.inner.state);
        let configuration = state.configurations.iter().position(|c| c.configuration_id == configuration_id)?;
        Some(state.launch(configuration, None))
    }

    pub(crate) fn record(&self, request: RecordedRequest) {
        let mut requests = lock(&self.inner.requests);
        if requests.len() >= MAX_RECORDED {
            requests.drain(..MAX_RECORDED / 10);
        }
        requests.push(request);
        drop(requests);
        self.inner.received.notify_waiters();
    }

    /// Waits until `action` was received `n` times, at most `limit`; returns the count.
    pub async fn wait_for_count(&self, action: &str, n: usize, limit: Duration) -> usize {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let notified = self.inner.received.notified();
            let count = self.count(action);
            if count >= n || tokio::time::timeout_at(deadline, notified).await.is_err() {
                return self.count(action);
            }
        }
    }
}

/// Locks a simulator mutex. A panic while holding one is a bug in the simulator itself;
/// the data stays usable, so poisoning is ignored.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}
