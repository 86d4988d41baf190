//! Socket Mode against a local WebSocket stand-in: `apps.connections.open` answers with a
//! `ws://127.0.0.1` URL, envelopes go through the same commands, rules and clicks as
//! over HTTP, and each is acknowledged (with the answer as its payload).

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::bot::{ANALYST, BOT_TOKEN, CHANNEL, LEAD, ONCALL, TEAM};
use serde_json::{Value, json};
use tailerbot::server::Application;
use tailerbot::sim::{SimOptions, Simulator};
use tailerbot::slack::standin::SlackStandin;

const APP_TOKEN: &str = "xapp-1-test-app-token";

fn command(envelope: &str, user: &str, text: &str, response_url: &str) -> Value {
    json!({
        "envelope_id": envelope,
        "type": "slash_commands",
        "accepts_response_payload": true,
        "payload": {
            "team_id": TEAM, "team_domain": "example", "channel_id": CHANNEL, "channel_name": "data",
            "user_id": user, "command": "/tailer", "text": text,
            "response_url": response_url, "trigger_id": format!("{envelope}.trigger"),
        },
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_and_clicks_arrive_over_a_websocket_and_are_acknowledged() {
    tailerbot::tls::install_crypto_provider();
    let local = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut config = tailerbot::cli::embedded_config();
    let tailer =
        Simulator::start(SimOptions::default().with_catalog(tailerbot::offline::configurations(&config.jobs)), local).await.unwrap();
    let standin = SlackStandin::new(BOT_TOKEN).with_app_token(APP_TOKEN);
    standin.set_usergroup("S0ONCALL", &[ONCALL]);
    let slack = standin.start(local).await.unwrap();
    config.slack.response_url_prefixes = vec![slack.response_url_prefix()];
    let dir = tempfile::tempdir().unwrap();
    // Socket Mode: an app token, and no signing secret.
    let mut vars = common::bot::environment(&slack.api_url(), &tailer.url(), &format!("sqlite://{}", dir.path().join("bot.db").display()));
    vars.remove("SLACK_SIGNING_SECRET");
    vars.insert("SLACK_APP_TOKEN", APP_TOKEN.to_owned());
    let settings = common::bot::settings(&config, &vars);
    let app = Application::build(&settings, config, std::sync::Arc::new(tailerbot::clock::SystemClock), local).await.unwrap();
    let url = format!("http://{}", app.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(app.run_until(async {
        let _ = stopped.await;
    }));
    let slack_standin = &slack.slack;
    assert!(slack_standin.wait_connected(Duration::from_secs(10)).await, "the bot connected in Socket Mode");

    // Over the socket, not over HTTP: /slack/* is not served, health still is.
    let http = reqwest::Client::new();
    assert_eq!(http.post(format!("{url}/slack/commands")).body("x").send().await.unwrap().status(), 404);
    assert_eq!(http.get(format!("{url}/healthz")).send().await.unwrap().status(), 200);

    slack_standin.socket_send(&command("e-help", ANALYST, "help", &slack.response_url("e-help")));
    let ack = slack_standin.wait_ack("e-help", Duration::from_secs(5)).await.expect("help acknowledged");
    assert!(ack["payload"].to_string().contains("/tailer launch"), "the answer rides on the acknowledgement: {ack}");

    slack_standin.socket_send(&command("e-launch", ANALYST, "launch iowa-prepare", &slack.response_url("e-launch")));
    slack_standin.wait_ack("e-launch", Duration::from_secs(5)).await.expect("launch acknowledged");
    let events = slack_standin.wait_for(Duration::from_secs(10), |e| e.iter().any(|e| e.method == "chat.postMessage")).await;
    assert!(events.iter().any(|e| e.method == "chat.postMessage" && e.text.contains("iowa-prepare")), "the card is posted: {events:?}");
    assert_eq!(tailer.sim.count("launch_job"), 1);

    // A PROD disable asks for a confirmation; the click comes over the socket too.
    slack_standin.socket_send(&command("e-disable", LEAD, "disable sales-daily", &slack.response_url("e-disable")));
    let ack = slack_standin.wait_ack("e-disable", Duration::from_secs(5)).await.expect("disable acknowledged");
    let confirmation_id = ack["payload"]["blocks"]
        .as_array()
        .and_then(|blocks| blocks.iter().find(|b| b["type"] == "actions"))
        .map(|b| b["elements"][0]["value"].as_str().unwrap().to_owned())
        .expect("the confirmation buttons");
    slack_standin.socket_send(&json!({
        "envelope_id": "e-click",
        "type": "interactive",
        "accepts_response_payload": false,
        "payload": {
            "type": "block_actions",
            "team": {"id": TEAM, "domain": "example"},
            "user": {"id": ONCALL, "team_id": TEAM},
            "api_app_id": "A0TAILERBOT",
            "trigger_id": "e-click.trigger",
            "channel": {"id": CHANNEL, "name": "data"},
            "container": {"type": "message", "message_ts": "1700000000.000099", "channel_id": CHANNEL, "is_ephemeral": false},
            "message": {"ts": "1700000000.000099", "text": "confirm"},
            "response_url": slack.response_url("click"),
            "actions": [{"action_id": "confirm", "block_id": "confirmation", "value": confirmation_id, "type": "button", "action_ts": "1.2",
                          "text": {"type": "plain_text", "text": "Confirm"}}],
        },
    }));
    slack_standin.wait_ack("e-click", Duration::from_secs(5)).await.expect("the click acknowledged");
    let events = slack_standin
        .wait_for(Duration::from_secs(10), |e| e.iter().any(|e| e.visible_text().contains("Disabled `sales-daily` (PROD)")))
        .await;
    assert!(events.iter().any(|e| e.visible_text().contains("confirmed by <@U0ONCALL>")), "{events:?}");
    assert_eq!(tailer.sim.is_activated("000099_sales_daily_PROD"), Some(false));

    // A mention comes over the socket too (an `events_api` envelope), and is answered in
    // a thread under it.
    slack_standin.socket_send(&json!({
        "envelope_id": "e-mention",
        "type": "events_api",
        "accepts_response_payload": false,
        "payload": {
            "team_id": TEAM, "api_app_id": "A0TAILER", "type": "event_callback", "event_id": "Ev0SOCKET", "event_time": 1_700_000_000,
            "event": {"type": "app_mention", "user": ANALYST, "channel": CHANNEL, "text": "<@U0TAILERBOT> jobs iowa",
                      "ts": "1700000900.000001", "event_ts": "1700000900.000001"},
        },
    }));
    slack_standin.wait_ack("e-mention", Duration::from_secs(5)).await.expect("the event acknowledged");
    let under = |e: &tailerbot::slack::standin::SlackEvent| e.thread_ts.as_deref() == Some("1700000900.000001");
    let events = slack_standin.wait_for(Duration::from_secs(10), |e| e.iter().any(under)).await;
    let answer = events.iter().find(|e| under(e)).expect("an answer under the mention");
    assert!(answer.method == "chat.postMessage" && answer.visible_text().contains("iowa-prepare"), "{answer:?}");

    // `launch` alone opens the form with the envelope's trigger; a submission the rules
    // refuse is answered on the acknowledgement, under the field.
    slack_standin.socket_send(&command("e-form", ANALYST, "launch", &slack.response_url("e-form")));
    slack_standin.wait_ack("e-form", Duration::from_secs(5)).await.expect("the command acknowledged");
    let events = slack_standin.wait_for(Duration::from_secs(10), |e| e.iter().any(|e| e.method == "views.open")).await;
    let form = events.iter().find(|e| e.method == "views.open").unwrap().clone();
    assert_eq!(form.trigger_id.as_deref(), Some("e-form.trigger"));
    let mut view = form.view.clone().unwrap();
    view["team_id"] = json!(TEAM);
    view["hash"] = json!("1.abc");
    view["state"] = json!({"values": {
        "job": {"job": {"type": "static_select", "selected_option": {"text": {"type": "plain_text", "text": "sales-daily"}, "value": "sales-daily"}}},
        "date": {"date": {"type": "datepicker"}},
        "channel": {"channel": {"type": "conversations_select", "selected_conversation": CHANNEL}},
    }});
    slack_standin.socket_send(&json!({
        "envelope_id": "e-submit",
        "type": "interactive",
        "accepts_response_payload": true,
        "payload": {
            "type": "view_submission",
            "team": {"id": TEAM, "domain": "example"},
            "user": {"id": ANALYST, "team_id": TEAM},
            "api_app_id": "A0TAILERBOT",
            "trigger_id": "e-submit.trigger",
            "view": view,
        },
    }));
    let ack = slack_standin.wait_ack("e-submit", Duration::from_secs(5)).await.expect("the submission acknowledged");
    assert_eq!(ack["payload"]["response_action"], "errors", "{ack}");
    assert!(ack["payload"]["errors"]["job"].as_str().is_some_and(|e| e.contains("sales-daily (PROD)")), "{ack}");
    assert_eq!(tailer.sim.count("launch_job"), 1, "nothing more launched");

    // The Home tab over the socket: its *Launch…* opens the form (the view of a click
    // comes through slack-morphism's typed events, without an id).
    slack_standin.socket_send(&json!({
        "envelope_id": "e-home", "type": "events_api", "accepts_response_payload": false,
        "payload": {
            "team_id": TEAM, "api_app_id": "A0TAILER", "type": "event_callback", "event_id": "Ev0HOME", "event_time": 1_700_000_000,
            "event": {"type": "app_home_opened", "user": ANALYST, "channel": "D0ANALYST", "tab": "home", "event_ts": "1700000950.000001"},
        },
    }));
    let events = slack_standin.wait_for(Duration::from_secs(10), |e| e.iter().any(|e| e.method == "views.publish")).await;
    let tab = events.iter().find(|e| e.method == "views.publish").unwrap().clone();
    let mut click = tab.view_click(TEAM, ANALYST, tab.button("Launch…").expect("Launch… on the tab"), "e-home-click.trigger");
    click["view"].as_object_mut().unwrap().remove("id");
    slack_standin
        .socket_send(&json!({"envelope_id": "e-home-click", "type": "interactive", "accepts_response_payload": false, "payload": click}));
    slack_standin.wait_ack("e-home-click", Duration::from_secs(5)).await.expect("the click acknowledged");
    let events = slack_standin.wait_for(Duration::from_secs(10), |e| e.iter().filter(|e| e.method == "views.open").count() == 2).await;
    let form = events.iter().rev().find(|e| e.method == "views.open").unwrap();
    assert_eq!(form.trigger_id.as_deref(), Some("e-home-click.trigger"));

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
