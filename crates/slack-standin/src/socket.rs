//! Socket Mode: the WebSocket the bot connects to, its `hello`, the envelopes a test
//! pushes and the acknowledgements the bot sends back.

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use super::{SlackStandin, lock};

/// The WebSocket of `apps.connections.open`'s URL.
pub(super) async fn socket(State(slack): State<SlackStandin>, upgrade: axum::extract::ws::WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |mut ws| async move {
        use axum::extract::ws::Message as Frame;
        let mut outgoing = slack.socket.outgoing.subscribe();
        let hello = json!({
            "type": "hello",
            "num_connections": 1,
            "debug_info": {"host": "standin", "started": "2026-01-01 00:00:00.000", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": "A0TAILERBOT"},
        });
        if ws.send(Frame::Text(hello.to_string().into())).await.is_err() {
            return;
        }
        slack.socket.connections.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        slack.socket.changed.notify_waiters();
        loop {
            tokio::select! {
                envelope = outgoing.recv() => match envelope {
                    Ok(text) => {
                        if ws.send(Frame::Text(text.into())).await.is_err() {
                            break;
                        }
                    }
                    Err(_) => break,
                },
                frame = ws.recv() => match frame {
                    Some(Ok(Frame::Text(text))) => {
                        if let Ok(ack) = serde_json::from_str::<Value>(&text) {
                            lock(&slack.socket.acks).push(ack);
                            slack.socket.changed.notify_waiters();
                        }
                    }
                    Some(Ok(Frame::Ping(data))) => {
                        let _ = ws.send(Frame::Pong(data)).await;
                    }
                    Some(Ok(_)) => {}
                    _ => break,
                },
            }
        }
        slack.socket.connections.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    })
}
