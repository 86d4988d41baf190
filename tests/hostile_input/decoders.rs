//! The decoders of what Slack and Tailer send, on any bytes: the form of a slash command,
//! the JSON of an interaction, the signature headers, a run as Tailer describes it. None
//! panics; what they let through has the shapes the rest of the bot relies on.

use proptest::prelude::*;
use secrecy::SecretString;
use serde_json::{Value, json};
use tailerbot::slack::payload::{Interaction, MAX_TEXT_CHARS, TypedCommand, form_fields, form_fields_metered};
use tailerbot::slack::verify::{SignatureError, Verifier};
use tailerbot::tailer::{RunItem, parse_duration, parse_timestamp};

use super::strategies::{fragment, hostile_text, short_text};

const SLASH_FIELDS: &[&str] =
    &["team_id", "channel_id", "user_id", "command", "text", "response_url", "trigger_id", "api_app_id", "enterprise_id", "ssl_check"];

/// A form body from hostile keys and values, percent-encoded correctly or not at all.
fn form_body() -> impl Strategy<Value = Vec<u8>> {
    let key = prop_oneof![prop::sample::select(SLASH_FIELDS).prop_map(str::to_owned), short_text()];
    let value = prop_oneof![
        Just("T0001".to_owned()),
        Just("U0ANALYST".to_owned()),
        Just("C0DATA".to_owned()),
        Just("1000.1.abc".to_owned()),
        hostile_text(300),
    ];
    let pair = (key, value, any::<bool>()).prop_map(|(k, v, encode)| {
        if encode {
            form_urlencoded::Serializer::new(String::new()).append_pair(&k, &v).finish().into_bytes()
        } else {
            format!("{k}={v}").into_bytes()
        }
    });
    let raw = prop::collection::vec(any::<u8>(), 0..64);
    prop::collection::vec(prop_oneof![3 => pair, 1 => raw], 0..14).prop_map(|parts| parts.join(&b'&'))
}

fn json_key() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "type",
            "team",
            "id",
            "user",
            "api_app_id",
            "channel",
            "container",
            "message_ts",
            "message",
            "ts",
            "response_url",
            "trigger_id",
            "actions",
            "action_id",
            "value",
            "run_id",
            "status",
            "duration",
            "start_execution_date",
            "last_update_date",
            "environment",
        ])
        .prop_map(str::to_owned),
        short_text(),
    ]
}

/// Any JSON, a few levels deep, with the keys the decoders look for.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        Just(json!("block_actions")),
        short_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(json_key(), inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// A `block_actions` payload whose every field is either what Slack sends or hostile.
fn block_action() -> impl Strategy<Value = Value> {
    let pick = |good: &'static str| prop_oneof![2 => Just(json!(good)), 1 => json_value(), 1 => hostile_text(3000).prop_map(Value::from)];
    (
        pick("T0001"),
        pick("U0ANALYST"),
        pick("C0DATA"),
        pick("1000.1.abc"),
        pick("confirm"),
        pick("abc123"),
        pick("https://hooks.slack.com/a"),
    )
        .prop_map(|(team, user, channel, trigger, action_id, value, url)| {
            json!({
                "type": "block_actions",
                "team": {"id": team},
                "user": {"id": user},
                "channel": {"id": channel},
                "trigger_id": trigger,
                "response_url": url,
                "actions": [{"action_id": action_id, "value": value}],
            })
        })
}

/// The fields of a body; a body the strict decoder refuses has none.
fn fields_of(body: &[u8]) -> Vec<(String, String)> {
    form_fields(body).unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: crate::cases(200), ..ProptestConfig::default() })]

    /// The attack that parsing before verifying allowed: thousands of distinct short
    /// keys. The decoder's work (bytes visited, keys looked up) stays within a constant
    /// times the body's length, however many keys there are; a duplicate check that
    /// compared each key with every earlier one would grow with their square.
    #[test]
    fn the_form_decoder_works_in_time_linear_in_the_body(keys in 1usize..6000, value_len in 0usize..4, garbage in prop::collection::vec(any::<u8>(), 0..512)) {
        let value = "v".repeat(value_len);
        let mut body: Vec<u8> = (0..keys).flat_map(|i| format!("k{i}={value}&").into_bytes()).collect();
        let mut work = 0;
        let _ = form_fields_metered(&body, &mut work);
        prop_assert!(work <= 8 * body.len() as u64 + 8, "{} keys, {} bytes: {} units of work", keys, body.len(), work);
        body.extend_from_slice(&garbage);
        let mut work = 0;
        let _ = form_fields_metered(&body, &mut work);
        prop_assert!(work <= 8 * body.len() as u64 + 8, "with garbage: {} bytes, {} units", body.len(), work);
    }

    #[test]
    fn any_form_body_decodes_to_a_command_with_checked_shapes_or_an_error(body in form_body()) {
        if let Ok(command) = TypedCommand::from_form(&fields_of(&body)) {
            prop_assert!(command.text.chars().count() <= MAX_TEXT_CHARS + 1);
            prop_assert!(command.command.chars().count() <= 64);
            prop_assert!(command.trigger_id.len() <= 200);
            prop_assert!(command.trigger_id.chars().all(|c| c.is_ascii_alphanumeric() || ".-_".contains(c)), "{:?}", command.trigger_id);
        }
    }

    #[test]
    fn any_bytes_decode_to_fields_that_encode_and_decode_back_to_themselves(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(fields) = form_fields(&body) {
            // What was read is exactly what a form of those fields says: nothing guessed.
            let again = form_urlencoded::Serializer::new(String::new()).extend_pairs(fields.iter()).finish();
            prop_assert_eq!(form_fields(again.as_bytes()), Ok(fields.clone()));
            let mut names: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
            names.sort_unstable();
            prop_assert!(names.windows(2).all(|w| w[0] != w[1]), "no field twice: {:?}", names);
        }
        let fields = fields_of(&body);
        let _ = TypedCommand::from_form(&fields);
        let _ = Interaction::from_form(&fields);
        let _ = Interaction::from_json(&String::from_utf8_lossy(&body));
    }

    #[test]
    fn the_text_of_a_well_formed_form_arrives_exactly_as_typed(text in hostile_text(MAX_TEXT_CHARS)) {
        // Slack sends `&`, `<` and `>` of what people type as entities.
        let sent = text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let body = form_urlencoded::Serializer::new(String::new())
            .extend_pairs([
                ("team_id", "T0001"),
                ("channel_id", "C0DATA"),
                ("user_id", "U0ANALYST"),
                ("command", "/tailer"),
                ("text", sent.as_str()),
                ("response_url", "https://hooks.slack.com/commands/1"),
                ("trigger_id", "1000.1.abc"),
            ])
            .finish();
        let command = TypedCommand::from_form(&fields_of(body.as_bytes()));
        prop_assert_eq!(command.map(|c| c.text), Ok(text));
    }

    #[test]
    fn any_json_payload_is_the_interaction_it_says_or_an_error(payload in json_value()) {
        match Interaction::from_json(&payload.to_string()) {
            Ok(Interaction::Click(click)) => {
                prop_assert_eq!(&payload["type"], "block_actions");
                prop_assert_eq!(payload["actions"][0]["action_id"].as_str(), Some(click.action_id.as_str()));
            }
            Ok(Interaction::Submission(submitted)) => {
                prop_assert_eq!(&payload["type"], "view_submission");
                prop_assert_eq!(payload["view"]["id"].as_str(), Some(submitted.view.id.as_str()));
            }
            Ok(Interaction::Other { kind, .. }) => {
                let said = payload["type"].as_str().unwrap_or_default();
                prop_assert!(said != "block_actions" && said != "view_submission" && said.starts_with(kind.as_str()), "{:?} from {}", kind, payload);
            }
            Err(_) => {}
        }
        if let Ok(command) = TypedCommand::from_json(&payload) {
            prop_assert_eq!(payload["text"].as_str(), Some(command.text.as_str()));
        }
        // Tailer's items: an object's `run_id` is the run's (serde also reads an array by
        // position; Tailer answers objects, and a run id so read is still checked).
        if let (Ok(item), true) = (serde_json::from_value::<RunItem>(payload.clone()), payload.is_object()) {
            prop_assert_eq!(payload["run_id"].as_str(), Some(item.run_id.as_str()));
        }
    }

    #[test]
    fn a_click_that_decodes_has_the_sizes_slack_allows(payload in block_action()) {
        if let Ok(Interaction::Click(click)) = Interaction::from_json(&payload.to_string()) {
            prop_assert!(click.action_id.chars().count() <= 255);
            prop_assert!(click.value.chars().count() <= 2000);
            prop_assert!(click.trigger_id.len() <= 200);
        }
    }

    #[test]
    fn any_signature_headers_are_checked_without_panicking(
        timestamp in prop::option::of(prop_oneof![short_text(), "[+-]?[0-9]{1,25}", Just(" 1700000000 ".to_owned())]),
        signature in prop::option::of(prop_oneof![short_text(), "v0=[0-9a-fA-F]{0,80}", "v0=.{0,70}", "v[0-9]=[0-9a-f]{64}"]),
        body in prop::collection::vec(any::<u8>(), 0..256),
        now in prop_oneof![Just(1_700_000_000i64), any::<i64>()],
    ) {
        let verifier = Verifier::new(SecretString::from("a-signing-secret"));
        // Nothing random is a valid signature.
        prop_assert!(verifier.verify(timestamp.as_deref(), signature.as_deref(), &body, now).is_err());
    }

    #[test]
    fn a_signed_body_verifies_within_the_window_and_any_changed_digit_does_not(
        body in prop::collection::vec(any::<u8>(), 0..512),
        skew in -300i64..=300,
        digit in 3usize..67,
    ) {
        let verifier = Verifier::new(SecretString::from("a-signing-secret"));
        let now = 1_700_000_000;
        let signature = verifier.sign(now + skew, &body);
        let ts = (now + skew).to_string();
        prop_assert_eq!(verifier.verify(Some(&ts), Some(&signature), &body, now), Ok(()));
        let mut changed = signature.into_bytes();
        changed[digit] = if changed[digit] == b'0' { b'1' } else { b'0' };
        let changed = String::from_utf8(changed).unwrap();
        prop_assert_eq!(verifier.verify(Some(&ts), Some(&changed), &body, now), Err(SignatureError::Mismatch));
    }

    #[test]
    fn tailers_durations_and_timestamps_parse_or_are_dropped_never_panic(
        text in prop_oneof![
            "[0-9]{1,22} days?, [0-9]{1,22}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,6})?",
            "[0-9]{1,22}:[0-9]{1,3}:[0-9]{1,3}",
            "[+-]?[0-9]{4,7}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{1,9})?([+-][0-9]{2}:[0-9]{2}|Z)",
            fragment(),
        ],
    ) {
        let _ = parse_duration(&text);
        let _ = parse_timestamp(&text);
        let item = json!({"run_id": "20201230-1", "status": "FAILED", "duration": text, "start_execution_date": text, "last_update_date": text});
        prop_assert!(serde_json::from_value::<RunItem>(item).is_ok(), "a malformed field is dropped, not the run");
    }
}

#[test]
fn thousands_of_nested_arrays_in_a_payload_are_an_error_not_a_stack_overflow() {
    for depth in [200, 5_000, 100_000] {
        let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        assert!(Interaction::from_json(&deep).is_err(), "depth {depth}");
        let nested = format!(r#"{{"type": "block_actions", "actions": {}1{}}}"#, "[".repeat(depth), "]".repeat(depth));
        assert!(Interaction::from_json(&nested).is_err(), "depth {depth} inside actions");
        let objects = format!(r#"{}"x"{}"#, r#"{"type":"#.repeat(depth), "}".repeat(depth));
        assert!(Interaction::from_json(&objects).is_err(), "depth {depth} of objects");
    }
}

#[test]
fn a_days_count_beyond_any_clock_is_dropped_not_wrapped_or_a_panic() {
    assert_eq!(parse_duration("99999999999999999 days, 0:00:00"), None);
    assert_eq!(parse_duration("99999999999999999999:00:00"), None);
    assert_eq!(parse_duration("5124095576030432:00:00"), None, "u64 seconds overflow");
}
