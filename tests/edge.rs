//! The edge against the real binary, tried as an attacker would: unsigned bodies built to
//! be expensive to parse, connections that stall, redirects, oversized answers, clicks
//! from another place, invisible characters, secrets in what the process prints.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use common::bot::{SECRET, as_event, form};
use common::process::{Serve, ServeEnv, command_answer, write_config};
use serde_json::{Value, json};
use tailerbot::sim::SimOptions;
use tailerbot::slack::standin::SlackEvent;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// CPU time the process used so far, in clock ticks (user + system).
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("/proc is readable");
    // Fields after the command name (which is in parentheses): utime is the 14th field.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
}

/// The process's peak resident memory, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// A fresh process on the example configuration, against the test's simulator and
/// stand-in.
async fn start(
    dir: &std::path::Path,
    options: SimOptions,
    vars: &[(&'static str, String)],
) -> (Serve, tailerbot::sim::RunningSimulator, tailerbot::slack::standin::RunningStandin) {
    let (tailer, slack) = common::world(options).await;
    slack.slack.set_usergroup("S0ONCALL", &["U0ONCALL"]);
    let config = write_config(dir, &slack.response_url_prefix());
    let db = common::process::database(dir);
    let mut env = ServeEnv::new(&config, &db, &slack.api_url(), &tailer.url());
    for (name, value) in vars {
        env = env.var(name, value.clone());
    }
    (env.ready().await, tailer, slack)
}

/// Posts `body` to the commands endpoint with a signature that does not match (so the
/// bot computes the HMAC over the whole body, its most expensive refusal).
async fn post_badly_signed(http: &reqwest::Client, url: &str, body: &str) -> u16 {
    http.post(format!("{url}/slack/commands"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", chrono::Utc::now().timestamp().to_string())
        .header("x-slack-signature", format!("v0={}", "0".repeat(64)))
        .body(body.to_owned())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unsigned_body_of_many_keys_costs_what_one_key_of_the_same_size_costs() {
    let dir = tempfile::tempdir().unwrap();
    let (serve, _tailer, _slack) = start(dir.path(), SimOptions::default(), &[]).await;
    let pid = serve.child.id();
    let http = reqwest::Client::new();
    // Both just under 64 KiB: ~16,000 short keys, and one key with one long value.
    let mut many = String::new();
    let mut i = 0;
    while many.len() < 64 * 1024 - 16 {
        many.push_str(&format!("k{i}&"));
        i += 1;
    }
    let one = format!("text={}", "a".repeat(many.len() - 5));
    assert_eq!(one.len(), many.len());
    let rounds = 150;
    let mut costs = BTreeMap::new();
    // Alternating, twice, so that a burst of noise on the machine falls on both.
    for (label, body) in [("one", &one), ("many", &many), ("one", &one), ("many", &many)] {
        let before = cpu_ticks(pid);
        for _ in 0..rounds {
            assert_eq!(post_badly_signed(&http, &serve.url, body).await, 401);
        }
        *costs.entry(label).or_insert(0) += cpu_ticks(pid) - before;
    }
    let (many_cost, one_cost) = (costs["many"], costs["one"]);
    // Parsing before verifying made the many-keys body cost ~17,000 x more (quadratic
    // duplicate check); refused on the raw bytes, it costs what reading it costs.
    assert!(
        many_cost <= one_cost * 2 + 10,
        "an unsigned body of {i} keys cost {many_cost} ticks for {} requests, one key of the same size {one_cost}",
        rounds * 2
    );
}

/// Connects and sends `partial` (never a complete request): the time until the server
/// closes the connection, or `None` when it is still open after `limit`. Anything the
/// server sends before closing is returned too.
async fn stalled(url: &str, partial: &'static [u8], limit: Duration) -> Option<String> {
    let addr = url.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(partial).await.unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(limit, async {
        let mut buf = [0u8; 1024];
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    read.ok().map(|()| String::from_utf8_lossy(&answer).into_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_connections_are_closed_and_the_bot_keeps_answering() {
    let dir = tempfile::tempdir().unwrap();
    // A cap of 8 connections and 24 stalled clients: they are served 8 at a time, each
    // closed after its 10 s, while a real request still gets through.
    let (mut serve, _tailer, slack) = {
        let (tailer, slack) = common::world(SimOptions::default()).await;
        let config = write_config(dir.path(), &slack.response_url_prefix());
        let db = common::process::database(dir.path());
        let serve = ServeEnv::new(&config, &db, &slack.api_url(), &tailer.url()).var("MAX_CONNECTIONS", "8").ready().await;
        (serve, tailer, slack)
    };
    let url = serve.url.clone();
    let mut clients = Vec::new();
    for i in 0..24 {
        let url = url.clone();
        let partial: &'static [u8] = if i % 2 == 0 {
            b"POST /slack/commands HTTP/1.1\r\nHost: bot\r\nX-Slack-Signature: v0=00"
        } else {
            b"POST /slack/commands HTTP/1.1\r\nHost: bot\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\nteam_id=T0001"
        };
        clients.push(tokio::spawn(async move { stalled(&url, partial, Duration::from_secs(60)).await }));
    }
    // Meanwhile a signed command is answered (once a slot frees up, within the limit).
    let (status, answer) = tokio::time::timeout(
        Duration::from_secs(45),
        command_answer(&url, &slack.response_url("meanwhile"), "1.edge.1", "U0ANALYST", "C0DATA", "help"),
    )
    .await
    .expect("a real request is answered while stalled connections come and go");
    assert_eq!(status, 200, "{answer}");
    let mut body_timeouts = 0;
    for client in clients {
        let closed = client.await.unwrap().expect("every stalled connection is closed by the bot");
        if closed.contains("408") {
            body_timeouts += 1;
        }
    }
    assert_eq!(body_timeouts, 12, "a body that stops half-way is answered 408 then closed");
    let _ = serve.terminate().await;
    let logs = serve.logs.until_end();
    let count = |needle: &str| logs.lines().filter(|l| l.contains(needle)).count();
    assert_eq!(count("request headers did not arrive in time"), 1, "once per cause, not per connection:\n{logs}");
    assert_eq!(count("request body too slow"), 1, "once per cause:\n{logs}");
    assert_eq!(count("every connection slot is taken"), 1, "once per cause:\n{logs}");
}

/// A server that answers every request with a redirect to `/target`, and counts.
#[derive(Clone, Default)]
struct Redirector {
    hits: Arc<Mutex<Vec<String>>>,
}

impl Redirector {
    async fn start(&self) -> String {
        let me = self.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri| {
            let me = me.clone();
            async move {
                me.hits.lock().unwrap().push(uri.path().to_owned());
                if uri.path().starts_with("/target") {
                    return (StatusCode::OK, r#"{"ok": true}"#).into_response();
                }
                (StatusCode::TEMPORARY_REDIRECT, [("location", "/target")]).into_response()
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        url
    }

    fn hits(&self, prefix: &str) -> usize {
        self.hits.lock().unwrap().iter().filter(|p| p.starts_with(prefix)).count()
    }
}

/// A click, as Slack would post it, from any team and channel.
fn click_from(team: &str, channel: &str, user: &str, action: (&str, &str), message_ts: &str, response_url: &str, trigger: &str) -> String {
    let payload = json!({
        "type": "block_actions",
        "team": {"id": team},
        "user": {"id": user, "team_id": team},
        "api_app_id": "A0TAILER",
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "trigger_id": trigger,
        "channel": {"id": channel},
        "response_url": response_url,
        "actions": [{"action_id": action.0, "value": action.1, "type": "button"}],
    });
    form(&[("payload", &payload.to_string())])
}

/// What the bot answered at the `response_url` of `key` (waited for, up to 10 s).
async fn told(slack: &tailerbot::slack::standin::SlackStandin, key: &str) -> String {
    let at = |e: &SlackEvent| e.method == "response_url" && e.ts.as_deref() == Some(key);
    let events = slack.wait_for(Duration::from_secs(10), |events| events.iter().any(at)).await;
    events.iter().find(|e| at(e)).unwrap_or_else(|| panic!("nothing was said at response_url {key}")).visible_text()
}

async fn post_click(url: &str, body: String) -> u16 {
    common::post_signed(&reqwest::Client::new(), &format!("{url}/slack/interactions"), SECRET, chrono::Utc::now().timestamp(), body)
        .await
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_client_of_the_bot_follows_a_redirect() {
    let redirector = Redirector::default();
    let base = redirector.start().await;
    let (_, slack) = common::world(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    // Both the stand-in's and the redirector's response_urls are allowed (two entries of
    // the list, written where the example has one).
    let config = write_config(dir.path(), &format!("{}\", \"{base}/respond/", slack.response_url_prefix()));
    let db = common::process::database(dir.path());
    // Tailer and the Web API both redirect, and so do the redirector's response_urls.
    let serve = ServeEnv::new(&config, &db, &format!("{base}/slack/api"), &format!("{base}/tailer")).ready().await;

    // A read goes to Tailer, which redirects: the user is told, the target never asked.
    let (status, _) =
        command_answer(&serve.url, &slack.response_url("read"), "1.redirect.1", "U0ANALYST", "C0DATA", "last iowa-prepare").await;
    assert_eq!(status, 200);
    let said = told(&slack.slack, "read").await;
    assert!(said.contains("redirect"), "{said}");
    assert!(redirector.hits("/tailer") >= 1);

    // A click's answer goes to its response_url, which redirects; one whose response_url
    // is not allowed goes to the Web API, which redirects too.
    let missing = click_from(
        "T0001",
        "C0DATA",
        "U0ANALYST",
        ("confirm", "no-such-confirmation"),
        "1.1",
        &format!("{base}/respond/2"),
        "1.redirect.2",
    );
    assert_eq!(post_click(&serve.url, missing).await, 200);
    let elsewhere = click_from(
        "T0001",
        "C0DATA",
        "U0ANALYST",
        ("confirm", "no-such-confirmation"),
        "1.1",
        "https://elsewhere.example/r",
        "1.redirect.3",
    );
    assert_eq!(post_click(&serve.url, elsewhere).await, 200);
    for prefix in ["/respond/2", "/slack/api/"] {
        let mut waited = 0;
        while redirector.hits(prefix) == 0 && waited < 400 {
            tokio::time::sleep(Duration::from_millis(25)).await;
            waited += 1;
        }
        assert!(redirector.hits(prefix) >= 1, "{prefix} was called");
    }
    // One more read after them: a followed redirect would have reached the target by now.
    let (status, _) =
        command_answer(&serve.url, &slack.response_url("again"), "1.redirect.4", "U0ANALYST", "C0DATA", "last iowa-prepare").await;
    assert_eq!(status, 200);
    told(&slack.slack, "again").await;
    assert_eq!(redirector.hits("/target"), 0, "a redirect was followed: {:?}", redirector.hits.lock().unwrap());
}

/// A Tailer that answers `get_last_status` for `iowa-prepare` with 64 MiB (streamed,
/// without a length), and for `stock-enrich` with 1,000 unusable items and one good one.
async fn oversized_tailer() -> String {
    let app = axum::Router::new().fallback(|body: String| async move {
        if body.contains("iowa_liquor_prepare") {
            let chunk = bytes::Bytes::from(vec![b' '; 1024 * 1024]);
            let head = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from_static(br#"{"results": ["#))]);
            let padding = futures::stream::iter((0..64).map(move |_| Ok(chunk.clone())));
            let tail = futures::stream::iter([Ok(bytes::Bytes::from_static(b"]}"))]);
            use futures::StreamExt;
            return axum::body::Body::from_stream(head.chain(padding).chain(tail)).into_response();
        }
        let mut items: Vec<Value> = (0..1000).map(|i| json!({"run_id": i, "status": ["bad"]})).collect();
        items.push(json!({"run_id": "20261201-101010-aaaaaaaa-aaaa-aaaa-aaaa-aaaaaaaaaaaa", "status": "SUCCESS", "configuration_id": "000099_stock_enrich_failing_DEV"}));
        axum::Json(json!({ "results": items })).into_response()
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_tailer_answer_is_refused_unread_and_the_user_told() {
    let tailer = oversized_tailer().await;
    let (_, slack) = common::world(SimOptions::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &slack.response_url_prefix());
    let db = common::process::database(dir.path());
    let mut serve = ServeEnv::new(&config, &db, &slack.api_url(), &tailer).ready().await;
    let pid = serve.child.id();
    let before = peak_rss_kib(pid);

    let (status, _) = command_answer(&serve.url, &slack.response_url("big"), "1.big.1", "U0ANALYST", "C0DATA", "last iowa-prepare").await;
    assert_eq!(status, 200);
    let text = told(&slack.slack, "big").await;
    assert!(text.contains("cannot read") && text.contains("8 MiB"), "the user is told why: {text}");
    let grown_mib = (peak_rss_kib(pid) - before) / 1024;
    assert!(grown_mib < 40, "a 64 MiB answer raised the peak memory by {grown_mib} MiB");

    // 1,000 unusable items: the good one is shown, and the log says so once.
    let (status, _) = command_answer(&serve.url, &slack.response_url("bad"), "1.bad.1", "U0ANALYST", "C0DATA", "last stock-enrich").await;
    assert_eq!(status, 200);
    let said = told(&slack.slack, "bad").await;
    assert!(said.contains("20261201-101010"), "{said}");
    let _ = serve.terminate().await;
    let logs = serve.logs.until_end();
    assert_eq!(logs.lines().filter(|l| l.contains("skipped run items")).count(), 1, "one warning per answer:\n{logs}");
    assert!(logs.contains("skipped=1000"), "{logs}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_acts_only_in_its_workspace_and_channel() {
    let dir = tempfile::tempdir().unwrap();
    let (serve, tailer, slack) = start(dir.path(), SimOptions::default(), &[]).await;
    let (status, answer) = command_answer(
        &serve.url,
        &slack.response_url("ask"),
        "1.place.1",
        "U0DATALEAD",
        "C0DATA",
        "disable sales-daily for 1h vendor late",
    )
    .await;
    assert_eq!(status, 200);
    let asked = as_event(&answer);
    let (_, id) = asked.button("Confirm").expect("a confirmation");

    let from = |team: &str, channel: &str, key: &str, trigger: &str| {
        click_from(team, channel, "U0ONCALL", ("confirm", &id), "1.1", &slack.response_url(key), trigger)
    };
    assert_eq!(post_click(&serve.url, from("T0002", "C0DATA", "team", "1.place.2")).await, 200);
    assert_eq!(post_click(&serve.url, from("T0001", "C0OTHER", "channel", "1.place.3")).await, 200);
    let note = told(&slack.slack, "team").await;
    assert!(note.contains("asked in another workspace") && note.contains("nothing was done"), "{note}");
    let note = told(&slack.slack, "channel").await;
    assert!(note.contains("can only be confirmed there") && note.contains("<#C0DATA>"), "{note}");
    serve.settle().await;
    assert_eq!(tailer.sim.count("set_configuration_status"), 0, "nothing was disabled from another place");

    // The audit trail shows both refusals as denied.
    let (_, audit) =
        command_answer(&serve.url, &slack.response_url("audit"), "1.place.4", "U0DATALEAD", "C0DATA", "audit sales-daily").await;
    let audit = common::bot::text_of(&audit);
    assert_eq!(audit.matches("clicked from workspace T0002").count(), 1, "{audit}");
    assert_eq!(audit.matches("clicked in channel C0OTHER").count(), 1, "{audit}");

    // From its own place, it acts.
    assert_eq!(post_click(&serve.url, from("T0001", "C0DATA", "right", "1.place.5")).await, 200);
    assert_eq!(tailer.sim.wait_for_count("set_configuration_status", 1, Duration::from_secs(10)).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_button_acts_only_in_the_channel_of_its_card() {
    let quick = SimOptions {
        waiting: (Duration::from_millis(200), Duration::from_millis(200)),
        running: (Duration::from_millis(500), Duration::from_millis(500)),
        invisible_after_launch: Duration::from_millis(100),
        ..SimOptions::default()
    };
    let dir = tempfile::tempdir().unwrap();
    let (serve, tailer, slack) = start(dir.path(), quick, &[]).await;
    let (status, _) = command_answer(&serve.url, &slack.response_url("l"), "1.card.1", "U0ANALYST", "C0DATA", "launch stock-enrich").await;
    assert_eq!(status, 200);
    // The card ends FAILED with its buttons.
    let events = slack.slack.wait_for(Duration::from_secs(30), |e| e.iter().any(|e| e.button("Mark as checked").is_some())).await;
    let card: &SlackEvent = events.iter().rev().find(|e| e.button("Mark as checked").is_some()).expect("a failed card");
    let launches = tailer.sim.count("launch_job");
    for (label, key) in [("Launch again", "again"), ("Mark as checked", "mark")] {
        let (action, value) = card.button(label).unwrap();
        let body = click_from(
            "T0001",
            "C0OTHER",
            "U0ANALYST",
            (&action, &value),
            card.ts.as_deref().unwrap(),
            &slack.response_url(key),
            &format!("1.card.{key}"),
        );
        assert_eq!(post_click(&serve.url, body).await, 200);
        let note = told(&slack.slack, key).await;
        assert!(note.contains("belongs to a message about this run in another channel"), "{note}");
    }
    assert_eq!(tailer.sim.count("launch_job"), launches, "no launch from another channel");
    serve.settle().await;
    assert_eq!(tailer.sim.count("set_run_status"), 0, "no mark from another channel");
    // In the card's channel, the same button acts.
    let (action, value) = card.button("Launch again").unwrap();
    let body =
        click_from("T0001", "C0DATA", "U0ANOTHER", (&action, &value), card.ts.as_deref().unwrap(), &slack.response_url("ok"), "1.card.ok");
    assert_eq!(post_click(&serve.url, body).await, 200);
    let launched = tailer.sim.wait_for_count("launch_job", launches + 1, Duration::from_secs(10)).await;
    assert_eq!(launched, launches + 1, "{:?}", slack.slack.events().last());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invisible_format_characters_are_refused_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let (serve, tailer, slack) = start(dir.path(), SimOptions::default(), &[]).await;
    for (i, c) in ['\u{202E}', '\u{200B}', '\u{2066}', '\u{FEFF}'].into_iter().enumerate() {
        let text = format!("disable iowa-prepare for 1h vendor {c}late");
        let (status, answer) =
            command_answer(&serve.url, &slack.response_url("fmt"), &format!("1.fmt.{i}"), "U0ANALYST", "C0DATA", &text).await;
        assert_eq!(status, 200);
        assert_eq!(answer["response_type"], "ephemeral", "only its author sees it");
        let said = common::bot::text_of(&answer);
        assert!(said.contains(&format!("U+{:04X}", u32::from(c))) && said.contains("invisible"), "{said}");
    }
    serve.settle().await;
    assert_eq!(tailer.sim.count("set_configuration_status"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_can_be_served_on_their_own_port() {
    let dir = tempfile::tempdir().unwrap();
    // Any free port, taken by the process (its log says which).
    let (serve, _tailer, _slack) = start(dir.path(), SimOptions::default(), &[("METRICS_PORT", "0".to_owned())]).await;
    let metrics_url = serve.metrics_url().expect("the log names the port of /metrics");
    let http = reqwest::Client::new();
    assert_eq!(http.get(format!("{}/metrics", serve.url)).send().await.unwrap().status(), 404, "not on the public port");
    let metrics = http.get(format!("{metrics_url}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200);
    assert!(metrics.text().await.unwrap().contains("# TYPE"));
    assert_eq!(http.get(format!("{metrics_url}/slack/commands")).send().await.unwrap().status(), 404, "Slack's endpoints are not there");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_in_urls_never_reach_the_output() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tailerbot.toml");
    std::fs::write(&config, tailerbot::config::EXAMPLE_TOML).unwrap();
    // Refused at start: the message names the variable, never the password.
    for (name, value) in [
        ("TAILER_API_URL", "ftp://bot:hunter2@tailer.example.com"),
        ("SLACK_API_URL", "ftp://bot:hunter2@slack.example.com"),
        ("DATABASE_URL", "postgres://bot:hunter2@127.0.0.1:1/bot"),
        // A generated password with a '/' in it, on a server that is not there.
        ("DATABASE_URL", "postgres://bot:hun/ter2@127.0.0.1:1/bot"),
    ] {
        let mut vars = common::bot::environment("http://127.0.0.1:1/api", "http://127.0.0.1:1", "sqlite://unused.db");
        vars.insert("TAILERBOT_CONFIG", config.display().to_string());
        vars.insert("PORT", "0".into());
        vars.insert(name, value.into());
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tailerbot"))
            .arg("serve")
            .env_clear()
            .envs(vars.iter().map(|(k, v)| (*k, v.as_str())))
            .current_dir(dir.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{name}: {stderr}");
        assert!(!stderr.contains("hunter2") && !stderr.contains("ter2"), "{name} leaks its password: {stderr}");
        assert!(stderr.contains("[redacted]") || stderr.contains(name), "{name}: {stderr}");
    }
}

#[tokio::test(start_paused = true)]
async fn answers_noted_as_queued_are_forgotten_once_their_response_url_expired() {
    use tailerbot::slack::standin::{StandinFault, StandinFaultKind};
    let bot = common::paused::PausedBot::start(common::bot::example_config(), SimOptions::default()).await;
    // Every direct answer fails: each read's answer is queued, and its lane noted.
    bot.slack.slack.inject(StandinFault {
        method: Some("response_url".into()),
        kind: StandinFaultKind::Status { status: 500 },
        times: 1000,
    });
    bot.command("U0ANALYST", "C0DATA", "last iowa-prepare").await;
    bot.command("U0ANALYST", "C0DATA", "last stock-enrich").await;
    assert_eq!(bot.bot.queued_answer_lanes(), 2);
    // Half an hour later their response_urls are dead: noting a new one forgets them.
    bot.step(Duration::from_secs(31 * 60)).await;
    bot.command("U0ANALYST", "C0DATA", "last iowa-prepare").await;
    assert_eq!(bot.bot.queued_answer_lanes(), 1, "only the last half hour's lanes are kept");
}

/// The process's resident memory now, in KiB.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `/metrics` as text.
async fn metrics_text(http: &reqwest::Client, url: &str) -> String {
    http.get(format!("{url}/metrics")).send().await.unwrap().text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unique_paths_from_anyone_grow_neither_memory_nor_the_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let (serve, _tailer, _slack) = start(dir.path(), SimOptions::default(), &[]).await;
    let pid = serve.child.id();
    let http = reqwest::Client::new();
    // Unsigned requests to paths nobody routes, and to look-alikes of Slack's.
    let flood = |count: usize| {
        let (http, url) = (http.clone(), serve.url.clone());
        async move {
            let streams = (0..8).map(|stream| {
                let (http, url) = (http.clone(), url.clone());
                async move {
                    for i in 0..count / 8 {
                        let path = match i % 3 {
                            0 => format!("/p/{}", uuid::Uuid::new_v4()),
                            1 => format!("/slack/commands/{}", uuid::Uuid::new_v4()),
                            _ => format!("/slack/{stream}-{i}"),
                        };
                        let status =
                            if i % 2 == 0 { http.get(format!("{url}{path}")).send() } else { http.post(format!("{url}{path}")).send() }
                                .await
                                .unwrap()
                                .status();
                        assert!(status.is_client_error(), "{path}: {status}");
                    }
                }
            });
            futures::future::join_all(streams).await;
        }
    };
    // A first round settles the allocator and the connection pool.
    flood(1_000).await;
    let (metrics_before, rss_before) = (metrics_text(&http, &serve.url).await.len(), rss_kib(pid));
    flood(10_000).await;
    let metrics_after = metrics_text(&http, &serve.url).await;
    let rss_after = rss_kib(pid);
    assert!(!metrics_after.contains("/p/") && !metrics_after.contains("/slack/commands/"), "a label carries a client's path");
    // Before labels came from a closed set, 10,000 paths added 10,000 series and their
    // histograms: megabytes of text, and about 2 KiB of memory each.
    assert!(
        metrics_after.len() <= metrics_before + 4 * 1024,
        "/metrics grew from {metrics_before} to {} bytes after 10,000 unknown paths",
        metrics_after.len()
    );
    assert!(rss_after <= rss_before + 12 * 1024, "RSS grew from {rss_before} KiB to {rss_after} KiB after 10,000 unknown paths");
    assert!(metrics_after.contains(r#"endpoint="other""#), "unknown paths are counted under `other`:\n{metrics_after}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_however_many_never_keep_a_signed_command_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let (serve, _tailer, slack) = start(dir.path(), SimOptions::default(), &[("MAX_CONNECTIONS", "16".into())]).await;
    let addr = serve.url.trim_start_matches("http://").to_owned();
    // Twice as many kept-alive connections as slots, each after one unsigned request,
    // and as many again that open and say nothing: all held open by the test.
    let mut held = Vec::new();
    for i in 0..64 {
        let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
        if i % 2 == 0 {
            stream.write_all(b"GET /healthz HTTP/1.1\r\nHost: bot\r\n\r\n").await.unwrap();
        }
        held.push(tokio::spawn(async move {
            let mut buf = [0u8; 256];
            while stream.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        }));
    }
    // Slack gives up after 3 s.
    for round in 0..3 {
        let trigger = format!("1.slots.{round}");
        let (status, answer) = tokio::time::timeout(
            Duration::from_secs(3),
            command_answer(&serve.url, &slack.response_url(&trigger), &trigger, "U0ANALYST", "C0DATA", "help"),
        )
        .await
        .expect("a signed command is answered within Slack's 3 s while idle connections hold the slots");
        assert_eq!(status, 200, "{answer}");
    }
    for client in held {
        client.abort();
    }
}
