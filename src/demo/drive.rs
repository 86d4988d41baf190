//! How the demo speaks to the bot as Slack would: commands, mentions, events, clicks
//! and a form's submission, each signed and posted to the real endpoints.

use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

use super::transcript::render;
use super::{CHANNEL, Demo};
use crate::clock::Clock;
use crate::slack::standin::SlackEvent;

impl Demo {
    pub(super) fn sign(&self, body: &str) -> (String, String) {
        let ts = self.clock.unix();
        (ts.to_string(), self.verifier.sign(ts, body.as_bytes()))
    }

    pub(super) async fn post(&self, path: &str, body: String) -> anyhow::Result<Value> {
        let (ts, signature) = self.sign(&body);
        // As Slack sends them: events as JSON, commands and clicks as forms.
        let content_type = if path == "/slack/events" { "application/json" } else { "application/x-www-form-urlencoded" };
        let response = self
            .http
            .post(format!("{}{path}", self.url))
            .header("content-type", content_type)
            .header("x-slack-request-timestamp", ts)
            .header("x-slack-signature", signature)
            .body(body)
            .send()
            .await?;
        let status = response.status();
        let text = response.text().await?;
        if !status.is_success() {
            bail!("the bot answered {status}: {text}");
        }
        Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// `/tailer <text>` from `user` in #data; prints the command and the answer.
    pub(super) async fn say(&self, user: &str, text: &str) -> anyhow::Result<()> {
        self.print_new();
        let n = self.triggers.fetch_add(1, Ordering::SeqCst);
        let trigger = format!("9000.{n}.demo");
        println!("\n#data  @{}: /tailer {text}", self.names.0.get(user).map(String::as_str).unwrap_or(user));
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("team_id", "T0001"),
                ("channel_id", CHANNEL),
                ("channel_name", "data"),
                ("user_id", user),
                ("command", "/tailer"),
                ("text", text),
                ("response_url", &self.slack.response_url(&trigger)),
                ("trigger_id", &trigger),
                ("api_app_id", "A0TAILERBOT"),
            ])
            .finish();
        let answer = self.post("/slack/commands", body).await?;
        if answer.is_object() {
            let event = SlackEvent::from_answer(CHANNEL, Some(format!("1690000000.{n:06}")), &answer);
            for line in render(&event, &self.names) {
                println!("{line}");
            }
            self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(event);
        }
        Ok(())
    }

    /// `@tailerbot <text>` from `user`, in the thread of the message `root` in #data.
    pub(super) async fn mention(&self, user: &str, text: &str, root: &str) -> anyhow::Result<()> {
        self.print_new();
        let name = self.names.0.get(user).map(String::as_str).unwrap_or(user);
        println!("\n#data  (in the card's thread) @{name}: @tailerbot {text}");
        let ts = format!("1690000100.{:06}", self.triggers.load(Ordering::SeqCst));
        self.event(json!({"type": "app_mention", "user": user, "channel": CHANNEL, "text": format!("<@U0TAILERBOT> {text}"), "ts": ts, "thread_ts": root}))
            .await
    }

    /// `user` opens the bot's Home tab.
    pub(super) async fn open_home(&self, user: &str) -> anyhow::Result<()> {
        self.print_new();
        let name = self.names.0.get(user).map(String::as_str).unwrap_or(user);
        println!("\n(@{name} opens tailerbot's Home tab)");
        self.event(json!({"type": "app_home_opened", "user": user, "channel": "D0DEMOHOME", "tab": "home"})).await
    }

    /// `user` clicks the button labelled `label` on their Home tab.
    pub(super) async fn click_home(&self, user: &str, label: &str) -> anyhow::Result<()> {
        self.print_new();
        let events = self.slack.slack.events();
        let tab = events.iter().rev().find(|e| e.method == "views.publish" && e.user.as_deref() == Some(user)).context("no Home tab")?;
        let action = tab.button(label).with_context(|| format!("no [{label}] on the Home tab"))?;
        println!("\n(@{} clicks [{label}] on the Home tab)", self.names.0.get(user).map(String::as_str).unwrap_or(user));
        let n = self.triggers.fetch_add(1, Ordering::SeqCst);
        let payload = tab.view_click("T0001", user, action, &format!("9200.{n}.demo"));
        let body = form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish();
        self.post("/slack/interactions", body).await?;
        Ok(())
    }

    /// `user` fills the last form opened (block → value) and submits it.
    pub(super) async fn submit_form(&self, user: &str, values: &[(&str, &str)]) -> anyhow::Result<()> {
        self.print_new();
        let events = self.slack.slack.events();
        let form = events.iter().rev().find(|e| e.method == "views.open").context("no form is open")?;
        let chosen: Vec<String> = values.iter().map(|(field, value)| format!("{field}: {value}")).collect();
        println!("\n(@{} chooses {} and clicks [Launch])", self.names.0.get(user).map(String::as_str).unwrap_or(user), chosen.join(", "));
        let n = self.triggers.fetch_add(1, Ordering::SeqCst);
        let payload = form.submission("T0001", user, values, &format!("9300.{n}.demo"));
        let body = form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish();
        let answer = self.post("/slack/interactions", body).await?;
        if answer["response_action"] == "errors" {
            for (field, error) in answer["errors"].as_object().into_iter().flatten() {
                println!("  🗔 the form stays open; under {field}: {}", error.as_str().unwrap_or_default());
            }
        }
        Ok(())
    }

    /// Delivers an event as Slack's Events API does.
    pub(super) async fn event(&self, event: Value) -> anyhow::Result<()> {
        let n = self.triggers.fetch_add(1, Ordering::SeqCst);
        let delivery = json!({"team_id": "T0001", "api_app_id": "A0TAILERBOT", "type": "event_callback", "event_id": format!("Ev{n:08}"), "event": event});
        self.post("/slack/events", delivery.to_string()).await?;
        Ok(())
    }

    /// Waits (printing what arrives) until a message carries a button with that label.
    pub(super) async fn wait_for_button(&self, label: &str, limit: Duration) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let answered = self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).iter().any(|e| e.button(label).is_some());
            if answered || self.slack.slack.events().iter().any(|e| e.button(label).is_some()) {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                bail!("no [{label}] button came within {} s", limit.as_secs());
            }
            self.follow(Duration::from_millis(250), |_| false).await.ok();
        }
    }

    /// Clicks the newest button with that label.
    pub(super) async fn click(&self, user: &str, label: &str) -> anyhow::Result<()> {
        self.print_new();
        let mut candidates = self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        candidates.extend(self.slack.slack.events());
        candidates.sort_by_key(|e| e.seq);
        let Some(message) = candidates.iter().rev().find(|e| e.button(label).is_some()) else {
            bail!("no message carries a [{label}] button");
        };
        let (action_id, value) = message.button(label).unwrap_or_default();
        if message.method == "views.publish" {
            let user = message.user.clone().unwrap_or_else(|| user.to_owned());
            return self.click_home(&user, label).await;
        }
        println!("\n#data  @{} clicks [{label}]", self.names.0.get(user).map(String::as_str).unwrap_or(user));
        let n = self.triggers.fetch_add(1, Ordering::SeqCst);
        let trigger = format!("9100.{n}.demo");
        let payload = json!({
            "type": "block_actions",
            "team": {"id": "T0001"},
            "user": {"id": user},
            "api_app_id": "A0TAILERBOT",
            "container": {"type": "message", "message_ts": message.ts.clone().unwrap_or_default()},
            "trigger_id": trigger,
            "channel": {"id": CHANNEL},
            "response_url": self.slack.response_url(&format!("click-{trigger}")),
            "actions": [{"action_id": action_id, "value": value, "type": "button"}],
        });
        let body = form_urlencoded::Serializer::new(String::new()).append_pair("payload", &payload.to_string()).finish();
        self.post("/slack/interactions", body).await?;
        Ok(())
    }
}
