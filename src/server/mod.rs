//! `tailerbot serve`: builds the bot from its settings on any port (tests use port 0, so
//! they start exactly what production starts), serves until told to stop, then lets
//! requests in flight and the work after them finish.

pub mod edge;
pub mod listen;
pub mod preflight;
mod routes;
pub mod socket_mode;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use secrecy::SecretString;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

pub use crate::bot::ACK_DEADLINE;
pub use crate::config::redact_url;
pub use edge::MAX_BODY;
pub use routes::{AppState, metrics_router, router};

use crate::bot::Bot;
use crate::clock::SharedClock;
use crate::config::reload::{Hangups, Origin, Reloader, forward_hangups, listen_for_hangups};
use crate::config::{Config, LiveConfig, Loaded, Settings};
use crate::shared::Core;
use crate::slack::api::SlackApi;
use crate::slack::delivery::Delivery;
use crate::slack::verify::Verifier;
use crate::store::Store;
use crate::tailer::{ClientOptions, TailerClient, TokenSource};
use crate::workers::Workers;

/// How long shutdown waits for work in flight, from the signal (Cloud Run allows 10 s).
pub const DRAIN_DEADLINE: Duration = Duration::from_secs(8);
/// What the last words with the store (the count of what is left, the claims given
/// back, the connections closed) may take after [`DRAIN_DEADLINE`], all together.
pub const LAST_STEPS: Duration = Duration::from_secs(1);
/// How long requests in flight may take to finish once the signal came.
pub const HTTP_GRACE: Duration = Duration::from_secs(3);

/// A bot bound to its port, ready to serve.
pub struct Application {
    listener: TcpListener,
    /// `METRICS_PORT`: `/metrics` on its own listener.
    metrics_listener: Option<TcpListener>,
    limits: listen::Limits,
    state: AppState,
    workers: Arc<Workers>,
    /// Socket Mode: the Web API base and the app token.
    socket_mode: Option<(String, SecretString)>,
    /// Reloads the configuration (`serve`; see [`Application::reloading_from`]).
    reloader: Option<(Arc<Reloader>, Option<Hangups>)>,
}

impl Application {
    /// Everything `serve` needs, checked before the port opens: secrets, key file, store.
    pub async fn build(settings: &Settings, config: Config, clock: SharedClock, addr: SocketAddr) -> anyhow::Result<Application> {
        let tokens = settings.token_source(clock.clone())?;
        Application::build_with_tokens(settings, config, clock, addr, tokens).await
    }

    /// [`Application::build`] with the Tailer credentials already made (and probed).
    pub async fn build_with_tokens(
        settings: &Settings,
        config: Config,
        clock: SharedClock,
        addr: SocketAddr,
        tokens: Arc<TokenSource>,
    ) -> anyhow::Result<Application> {
        let socket_mode = settings.slack_app_token.clone().map(|token| (settings.slack_api_url.clone(), token));
        if let Some(mistake) = settings.serve_mistakes().into_iter().next() {
            return Err(mistake.into());
        }
        // In Socket Mode nothing arrives over HTTP to verify: the secret is not needed.
        let signing_secret =
            settings.slack_signing_secret.clone().unwrap_or_else(|| SecretString::from(uuid::Uuid::new_v4().simple().to_string()));
        let bot_token = settings.slack_bot_token.clone().unwrap_or_else(|| SecretString::from(String::new()));
        let options = ClientOptions {
            timeout: config.tailer.timeout,
            max_retries: config.tailer.max_retries,
            max_response_bytes: config.tailer.max_response_bytes,
            max_in_flight: config.tailer.max_calls_in_flight,
            max_waiting: config.tailer.max_calls_waiting,
            ..ClientOptions::default()
        };
        let tailer = TailerClient::new(&settings.tailer_api_url, tokens, options).context("building the Tailer client")?;
        let slack = SlackApi::new(&settings.slack_api_url, &bot_token, config.slack.response_url_prefixes.clone(), Duration::from_secs(10))
            .context("building the Slack client")?;
        let store = Store::connect(&settings.database_url)
            .await
            .with_context(|| format!("opening the store at {}", redact_url(&settings.database_url)))?
            .with_lease(config.watch.lease);
        let listener = TcpListener::bind(addr).await.with_context(|| format!("listening on {addr}"))?;
        let metrics_listener = match settings.metrics_port {
            Some(port) => {
                let at = SocketAddr::new(addr.ip(), port);
                Some(TcpListener::bind(at).await.with_context(|| format!("listening on {at} (METRICS_PORT)"))?)
            }
            None => None,
        };
        let limits = listen::Limits { max_connections: settings.max_connections, ..listen::Limits::default() };
        let live = Arc::new(LiveConfig::new(Loaded::new(config, None, clock.now())));
        let slack = Arc::new(slack);
        let core = Core::new(live, tailer, slack.clone(), store, clock.clone());
        let bot = Arc::new(Bot::new(&core));
        let delivery = Arc::new(Delivery::new(core.outbox.clone(), core.store.clone(), slack.clone(), core.stats.clone()));
        let workers = Workers::new(&core, bot.clone(), delivery);
        Ok(Application {
            listener,
            metrics_listener,
            limits,
            state: AppState {
                bot,
                slack,
                verifier: Verifier::new(signing_secret).with_previous(settings.slack_signing_secret_previous.clone()),
                clock,
            },
            workers,
            socket_mode,
            reloader: None,
        })
    }

    /// Reloads the configuration from `origin` on SIGHUP and when the file changes (see
    /// [`crate::config::reload`]), from when this returns: a SIGHUP no longer ends the
    /// process.
    pub fn reloading_from(mut self, origin: Origin) -> Application {
        let reloader = Reloader::new(self.state.bot.live().clone(), origin, self.state.clock.clone());
        self.reloader = Some((Arc::new(reloader), listen_for_hangups()));
        self
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Where `/metrics` is served when `METRICS_PORT` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener.as_ref().and_then(|l| l.local_addr().ok())
    }

    /// The bot with the configuration in force now.
    pub fn bot(&self) -> Arc<Bot> {
        self.state.bot.current()
    }

    /// Asks Slack and Tailer whether they accept the bot's credentials (see
    /// [`preflight`]).
    pub async fn preflight(&self, settings: &Settings) -> preflight::Preflight {
        preflight::check(&self.state.bot, &self.state.slack, settings).await
    }

    /// The background workers, for tests that drive them one pass at a time.
    pub fn workers(&self) -> Arc<Workers> {
        self.workers.clone()
    }

    /// Serves and runs the background work until `shutdown` resolves, then stops polling,
    /// finishes the work in flight and flushes the outbox, within [`DRAIN_DEADLINE`].
    pub async fn run_until(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        self.run(shutdown, true).await
    }

    /// Serves only: the background workers are left to the caller (tests).
    pub async fn serve_only(self, shutdown: impl Future<Output = ()> + Send + 'static) -> anyhow::Result<()> {
        self.run(shutdown, false).await
    }

    async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static, background: bool) -> anyhow::Result<()> {
        let bot = self.state.bot.clone();
        let (stop, drain) = (CancellationToken::new(), CancellationToken::new());
        let loops = TaskTracker::new();
        if background {
            self.workers.spawn(&loops, stop.clone(), drain.clone());
        }
        if let Some((reloader, hangups)) = self.reloader.filter(|_| background) {
            let hangup = Arc::new(tokio::sync::Notify::new());
            if let Some(hangups) = hangups {
                loops.spawn(forward_hangups(hangups, hangup.clone(), stop.clone()));
            }
            loops.spawn(reloader.run(hangup, stop.clone()));
        }
        let socket = self.socket_mode.clone().map(|(api_url, token)| {
            let bot = bot.clone();
            let stop = stop.clone();
            loops.spawn(async move {
                if let Err(error) = socket_mode::run(bot, &api_url, &token, stop.cancelled_owned()).await {
                    tracing::error!(error = %format!("{error:#}"), "Socket Mode stopped");
                }
            })
        });
        // The recorder keeps each histogram sample until its upkeep folds it into the
        // buckets (a scrape does too): done every few seconds, or memory grows with every
        // request between scrapes (found by bench/soak-load.sh: 60 MB more in 10 minutes).
        {
            let stop = stop.clone();
            loops.spawn(async move {
                let mut every = tokio::time::interval(crate::telemetry::UPKEEP_EVERY);
                loop {
                    tokio::select! {
                        _ = every.tick() => crate::telemetry::metrics().run_upkeep(),
                        () = stop.cancelled() => break,
                    }
                }
            });
        }
        loops.close();
        let metrics_apart = self.metrics_listener.is_some();
        let app = router(self.state.clone(), socket.is_none(), !metrics_apart);
        tracing::info!(addr = %self.listener.local_addr()?, max_connections = self.limits.max_connections, "serving");
        // The deadline counts from the signal: requests in flight get HTTP_GRACE, then
        // the connections still open are dropped; everything ends by DRAIN_DEADLINE.
        let signalled = CancellationToken::new();
        let signal_at = Arc::new(std::sync::Mutex::new(None::<tokio::time::Instant>));
        {
            let (signalled, signal_at) = (signalled.clone(), signal_at.clone());
            tokio::spawn(async move {
                shutdown.await;
                *signal_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(tokio::time::Instant::now());
                signalled.cancel();
            });
        }
        if let Some(listener) = self.metrics_listener {
            tracing::info!(addr = %listener.local_addr()?, "serving /metrics (METRICS_PORT)");
            tokio::spawn(listen::serve(listener, metrics_router(self.state.clone()), listen::Limits::default(), signalled.clone()));
        }
        let serving = listen::serve(self.listener, app, self.limits, signalled.clone());
        tokio::select! {
            () = serving => {},
            () = async {
                signalled.cancelled().await;
                tokio::time::sleep(HTTP_GRACE).await;
            } => tracing::warn!("connections still open after the grace period were closed"),
        }
        tracing::info!("no longer accepting requests; stopping the pollers and finishing the work in flight");
        let signalled_at = *signal_at.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let deadline = signalled_at.unwrap_or_else(tokio::time::Instant::now) + DRAIN_DEADLINE;
        stop.cancel();
        bot.tasks().close();
        if tokio::time::timeout_at(deadline, bot.tasks().wait()).await.is_err() {
            tracing::warn!(remaining = bot.tasks().len(), "shutdown deadline reached with work unfinished");
        }
        drain.cancel();
        bot.outbox().wake();
        // The last words with the store are bounded too: a database that does not answer
        // must not hold the exit past the deadline (Cloud Run kills at 10 s).
        let last = tokio::time::Instant::now().max(deadline) + LAST_STEPS;
        if tokio::time::timeout_at(deadline, loops.wait()).await.is_err() {
            match tokio::time::timeout_at(last, bot.store().outbox_depth()).await {
                Ok(Ok((depth, _))) => {
                    tracing::warn!(
                        undelivered = depth,
                        "shutdown deadline reached before the outbox was flushed; it resumes at the next start"
                    )
                }
                _ => tracing::warn!("shutdown deadline reached before the outbox was flushed; it resumes at the next start"),
            }
        }
        match tokio::time::timeout_at(last, bot.store().release_leases()).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => tracing::warn!(%error, "cannot give back this replica's claims; others take them over when they expire"),
            Err(_) => tracing::warn!(
                "the store did not answer in time to give back this replica's claims; others take them over when they expire"
            ),
        }
        if tokio::time::timeout_at(last, bot.store().close()).await.is_err() {
            tracing::warn!("the store's connections did not close in time; exiting all the same");
        }
        tracing::info!("stopped");
        Ok(())
    }
}

/// SIGTERM (Cloud Run, Kubernetes) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}
