//! A corpus of malformed requests sent over HTTP to a running bot. Unless a case is about
//! the signature, it is signed correctly, so it reaches the decoders. Each must be refused
//! with its 4xx or answered with an ephemeral error, never a 5xx; none may reach Tailer;
//! and afterwards the bot still launches a job for a good command.
//!
//! The base command is `launch iowa-prepare` (a job anyone may launch): were a malformed
//! request acted on, the simulator would see the launch.

use serde_json::Value;
use tailerbot::clock::Clock;

use super::common::bot::{ANALYST, CHANNEL, SECRET, TEAM, TestBot, read, text_of};

/// What a case must get back.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// This status, and nothing done.
    Status(u16),
    /// 200 with an ephemeral message containing this.
    Ephemeral(&'static str),
}

/// A header's raw bytes, or no header.
type Header = Option<Vec<u8>>;

/// How a case is signed.
enum Signing {
    /// As Slack signs, with a form content type.
    Slack,
    /// As Slack signs, with this content type (or none).
    ContentType(Option<&'static str>),
    /// These headers, raw (timestamp, signature); `None` leaves a header out.
    Headers(Header, Header),
}

struct Case {
    name: String,
    path: &'static str,
    body: Vec<u8>,
    signing: Signing,
    expect: Expect,
}

fn case(name: impl Into<String>, path: &'static str, body: impl Into<Vec<u8>>, expect: Expect) -> Case {
    Case { name: name.into(), path, body: body.into(), signing: Signing::Slack, expect }
}

/// The fields of a good `/tailer launch iowa-prepare`, with a response_url the bot may use.
fn good_fields(bot: &TestBot, trigger: &str) -> Vec<(&'static str, String)> {
    vec![
        ("team_id", TEAM.to_owned()),
        ("channel_id", CHANNEL.to_owned()),
        ("user_id", ANALYST.to_owned()),
        ("command", "/tailer".to_owned()),
        ("text", "launch iowa-prepare".to_owned()),
        ("response_url", bot.slack.response_url(trigger)),
        ("trigger_id", trigger.to_owned()),
        ("api_app_id", "A0TAILER".to_owned()),
    ]
}

fn encode(fields: &[(&str, String)]) -> String {
    form_urlencoded::Serializer::new(String::new()).extend_pairs(fields.iter().map(|(k, v)| (*k, v.as_str()))).finish()
}

/// The good command with `field` replaced by `value` (left out when `None`).
fn with(bot: &TestBot, field: &str, value: Option<&str>) -> String {
    let trigger = bot.trigger();
    let fields: Vec<(&str, String)> = good_fields(bot, &trigger)
        .into_iter()
        .filter_map(|(k, v)| if k == field { value.map(|value| (k, value.to_owned())) } else { Some((k, v)) })
        .collect();
    encode(&fields)
}

/// The good command's fields, percent-encoded, then `raw` (not encoded) appended.
fn with_raw(bot: &TestBot, skip: &str, raw: &[u8]) -> Vec<u8> {
    let mut body = with(bot, skip, None).into_bytes();
    body.push(b'&');
    body.extend_from_slice(raw);
    body
}

fn interaction(payload: &str) -> String {
    encode(&[("payload", payload.to_owned())])
}

fn commands(bot: &TestBot) -> Vec<Case> {
    use Expect::*;
    let c = "/slack/commands";
    let text = |t: &str| with(bot, "text", Some(t));
    let mut cases = vec![
        case("an empty body", c, "", Status(400)),
        case("a body that is not a form", c, "\u{1}\u{2}garbage\u{0}", Status(400)),
        case("bad percent-encoding in the text", c, with_raw(bot, "text", b"text=disable+iowa-prepare+late+by+50%"), Status(400)),
        case("a bad percent-escape in the text", c, with_raw(bot, "text", b"text=disable+iowa-prepare+%ZZ+late"), Status(400)),
        case("bad percent-encoding in a key", c, with_raw(bot, "text", b"te%ZZxt=help"), Status(400)),
        case("invalid UTF-8 percent-encoded in the text", c, with_raw(bot, "text", b"text=disable+iowa-prepare+caf%E9"), Status(400)),
        case("invalid UTF-8 raw in the text", c, with_raw(bot, "text", b"text=disable+iowa-prepare+caf\xe9+late"), Status(400)),
        case("invalid UTF-8 in the user id", c, with_raw(bot, "user_id", b"user_id=U0ANALYST%FF"), Status(400)),
        case("invalid UTF-8 in a key", c, with_raw(bot, "text", b"text\xff=launch+iowa-prepare"), Status(400)),
        case(
            "a text far longer than Slack allows",
            c,
            text(&format!("launch iowa-prepare {}", "x".repeat(60_000))),
            Ephemeral("longer than"),
        ),
        case("a huge trigger_id", c, with(bot, "trigger_id", Some(&"1".repeat(60_000))), Status(400)),
        case("a huge user id", c, with(bot, "user_id", Some(&format!("U{}", "A".repeat(60_000)))), Status(400)),
        case("a text given twice", c, with_raw(bot, "", b"text=help"), Status(400)),
        case("a command given twice", c, with_raw(bot, "", b"command=%2Fother"), Status(400)),
        case("a user id given twice", c, with_raw(bot, "", b"user_id=U0DATALEAD"), Status(400)),
        case("a response_url given twice", c, with_raw(bot, "", b"response_url=https%3A%2F%2Fevil.example%2F"), Status(400)),
        case("an unknown command name", c, with(bot, "command", Some("/deploy")), Ephemeral("/tailer")),
        case("a command name with markup", c, with(bot, "command", Some("/<!channel>")), Ephemeral("&lt;!channel&gt;")),
        case("a NUL byte inside the verb", c, text("launch\u{0}iowa-prepare"), Ephemeral("control character")),
        case("a NUL byte in a reason", c, text("disable iowa-prepare late\u{0}feed"), Ephemeral("control character")),
        case("an escape sequence in a reason", c, text("disable iowa-prepare \u{1b}[2J\u{1b}[31mgone"), Ephemeral("control character")),
        case("a bell and a delete in a reason", c, text("disable iowa-prepare ring\u{7}\u{7f}"), Ephemeral("control character")),
        case("a C1 control in a job filter", c, text("jobs iowa\u{9b}2J"), Ephemeral("control character")),
        case(
            "an extremely long job name",
            c,
            text(&format!("launch {}", "a".repeat(3_900))),
            Ephemeral("A job name is at most 64 characters; this one has 3900."),
        ),
        case("an extremely long verb", c, text(&"x".repeat(4_000)), Ephemeral("not a command")),
        case(
            "an extremely long run id",
            c,
            text(&format!("status 20201230-{}", "1".repeat(3_900))),
            Ephemeral("A run id is at most 128 characters; this one has 3909."),
        ),
    ];
    for field in ["user_id", "channel_id", "team_id", "command", "response_url", "trigger_id"] {
        cases.push(case(format!("a missing {field}"), c, with(bot, field, None), Status(400)));
        cases.push(case(format!("an empty {field}"), c, with(bot, field, Some("")), Status(400)));
    }
    for (name, content_type) in [
        ("a JSON content type", Some("application/json")),
        ("a plain-text content type", Some("text/plain")),
        ("a multipart content type", Some("multipart/form-data; boundary=x")),
    ] {
        let body = with(bot, "", None).into_bytes();
        cases.push(Case {
            name: format!("{name} on a command"),
            path: c,
            body,
            signing: Signing::ContentType(content_type),
            expect: Status(415),
        });
    }
    cases
}

fn interactions() -> Vec<Case> {
    use Expect::*;
    let i = "/slack/interactions";
    let click = r#"{"type": "block_actions", "team": {"id": "T0001"}, "user": {"id": "U0ANALYST"}, "trigger_id": "9.9.9", "actions": [{"action_id": "launch_again", "value": "iowa-prepare"}]}"#;
    let depth = 20_000;
    vec![
        case("a missing payload", i, "nothing=here", Status(400)),
        case("an empty body on interactions", i, "", Status(400)),
        case("a payload that is not JSON", i, interaction("{not json"), Status(400)),
        case("a payload that is a JSON array", i, interaction("[]"), Status(400)),
        case("a payload that is a JSON string", i, interaction("\"block_actions\""), Status(400)),
        case("a payload whose type is a number", i, interaction(r#"{"type": 1}"#), Status(400)),
        case("a click without team, user or actions", i, interaction(r#"{"type": "block_actions"}"#), Status(400)),
        case("a click whose actions are not a list", i, interaction(r#"{"type": "block_actions", "actions": "launch"}"#), Status(400)),
        case("a click from a malformed user", i, interaction(&click.replace("U0ANALYST", "<!channel>")), Status(400)),
        case("a click with a huge action value", i, interaction(&click.replace("iowa-prepare", &"a".repeat(3000))), Status(400)),
        case("thousands of nested arrays in the payload", i, format!("payload={}{}", "[".repeat(depth), "]".repeat(depth)), Status(400)),
        case(
            "thousands of nested arrays inside a click",
            i,
            format!("payload={}", click.replace(r#""iowa-prepare""#, &format!("{}{}", "[".repeat(depth), "]".repeat(depth)))),
            Status(400),
        ),
        case("a payload with invalid UTF-8", i, format!("payload={}", click.replace("iowa-prepare", "io%FFwa")), Status(400)),
        case("a payload given twice", i, format!("{}&{}", interaction(click), interaction(r#"{"type": "view_submission"}"#)), Status(400)),
        case("bad percent-encoding in the payload", i, format!("payload={}", click.replace("iowa-prepare", "iowa%ZZprepare")), Status(400)),
        Case {
            name: "a click sent as JSON".into(),
            path: i,
            body: click.into(),
            signing: Signing::ContentType(Some("application/json")),
            expect: Status(415),
        },
    ]
}

fn events() -> Vec<Case> {
    use Expect::*;
    let e = "/slack/events";
    vec![
        case("an event that is not JSON", e, "{]", Status(400)),
        case("thousands of nested arrays in an event", e, format!("{}{}", "[".repeat(20_000), "]".repeat(20_000)), Status(400)),
        case("a url_verification without a challenge", e, r#"{"type": "url_verification"}"#, Status(400)),
        case(
            "a url_verification with a huge challenge",
            e,
            format!(r#"{{"type": "url_verification", "challenge": "{}"}}"#, "c".repeat(5000)),
            Status(400),
        ),
    ]
}

fn signatures(bot: &TestBot) -> Vec<Case> {
    let now = bot.clock.unix();
    let body = with(bot, "", None);
    let good = tailerbot::slack::verify::Verifier::new(secrecy::SecretString::from(SECRET)).sign(now, body.as_bytes());
    let ts = now.to_string().into_bytes();
    let headers: Vec<(&str, Header, Header)> = vec![
        ("no signature header", Some(ts.clone()), None),
        ("no timestamp header", None, Some(good.clone().into_bytes())),
        ("neither header", None, None),
        ("a non-numeric timestamp", Some(b"soon".to_vec()), Some(good.clone().into_bytes())),
        ("an empty timestamp", Some(Vec::new()), Some(good.clone().into_bytes())),
        ("a timestamp beyond i64", Some(b"99999999999999999999999".to_vec()), Some(good.clone().into_bytes())),
        ("a timestamp that is not ASCII", Some(b"17\xe9".to_vec()), Some(good.clone().into_bytes())),
        ("a garbled signature", Some(ts.clone()), Some(b"garbage".to_vec())),
        ("a signature of the wrong version", Some(ts.clone()), Some(good.replacen("v0=", "v1=", 1).into_bytes())),
        ("a signature that is not hex", Some(ts.clone()), Some(format!("v0={}", "zz".repeat(32)).into_bytes())),
        ("a signature of the wrong length", Some(ts.clone()), Some(good.as_bytes()[..good.len() - 2].to_vec())),
        ("a signature of odd length", Some(ts.clone()), Some(good.as_bytes()[..good.len() - 1].to_vec())),
        ("a signature that is too long", Some(ts.clone()), Some(format!("{good}00").into_bytes())),
        ("a signature that is not ASCII", Some(ts.clone()), Some(b"v0=\xff\xfe".to_vec())),
    ];
    headers
        .into_iter()
        .map(|(name, ts, sig)| Case {
            name: name.into(),
            path: "/slack/commands",
            body: body.clone().into_bytes(),
            signing: Signing::Headers(ts, sig),
            expect: Expect::Status(401),
        })
        .collect()
}

async fn send(bot: &TestBot, case: &Case) -> reqwest::Response {
    let request = bot.http.post(format!("{}{}", bot.url, case.path)).body(case.body.clone());
    let (timestamp, signature, content_type) = match &case.signing {
        // As Slack sends them: events as JSON, commands and clicks as forms.
        Signing::Slack if case.path == "/slack/events" => (None, None, Some("application/json")),
        Signing::Slack => (None, None, Some("application/x-www-form-urlencoded")),
        Signing::ContentType(content_type) => (None, None, *content_type),
        Signing::Headers(ts, sig) => (Some(ts.clone()), Some(sig.clone()), Some("application/x-www-form-urlencoded")),
    };
    let now = bot.clock.unix();
    let verifier = tailerbot::slack::verify::Verifier::new(secrecy::SecretString::from(SECRET));
    let timestamp = timestamp.unwrap_or_else(|| Some(now.to_string().into_bytes()));
    let signature = signature.unwrap_or_else(|| Some(verifier.sign(now, &case.body).into_bytes()));
    let mut request = request;
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    if let Some(ts) = timestamp {
        request = request.header("x-slack-request-timestamp", reqwest::header::HeaderValue::from_bytes(&ts).unwrap());
    }
    if let Some(sig) = signature {
        request = request.header("x-slack-signature", reqwest::header::HeaderValue::from_bytes(&sig).unwrap());
    }
    request.send().await.unwrap_or_else(|e| panic!("{}: the request failed: {e}", case.name))
}

/// Waits until the work started by the requests so far is done, so that a Tailer call
/// made after an answer is seen.
async fn settled(bot: &TestBot) {
    bot.bot.tasks().close();
    bot.bot.tasks().wait().await;
    bot.bot.tasks().reopen();
}

#[tokio::test]
async fn malformed_requests_are_refused_or_answered_with_an_ephemeral_error_and_never_reach_tailer() {
    let bot = TestBot::start().await;
    let mut cases = commands(&bot);
    cases.extend(interactions());
    cases.extend(events());
    cases.extend(signatures(&bot));
    let mut failures = Vec::new();
    let mut reached = false;
    for case in &cases {
        let before = bot.tailer.sim.requests().len();
        let response = send(&bot, case).await;
        let (status, body): (u16, Value) = read(response).await;
        let answered = match case.expect {
            Expect::Status(expected) if status == expected => Ok(()),
            Expect::Ephemeral(fragment) if status == 200 && body["response_type"] == "ephemeral" && text_of(&body).contains(fragment) => {
                Ok(())
            }
            expected => Err(format!("expected {expected:?}, got {status} {}", text_of(&body).chars().take(200).collect::<String>())),
        };
        settled(&bot).await;
        let calls = bot.tailer.sim.requests();
        // After a case that reached Tailer, a watched run keeps the watcher polling: the
        // calls of later cases can no longer be told apart, so only the first is named.
        let untouched = match calls.get(before) {
            Some(call) if !reached => {
                reached = true;
                Err(format!("reached Tailer: {} {} (later cases are not checked for Tailer calls)", call.path, call.action))
            }
            _ => Ok(()),
        };
        for problem in [answered, untouched].into_iter().filter_map(Result::err) {
            failures.push(format!("{}: {problem}", case.name));
        }
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));

    let (status, body) = bot.command(ANALYST, CHANNEL, "launch iowa-prepare").await;
    assert_eq!(status, 200, "a good command after the corpus: {body}");
    assert_eq!(bot.tailer.sim.wait_for_count("launch_job", 1, std::time::Duration::from_secs(10)).await, 1, "the good command launched");
}

/// Slack always sends a form; a body with no Content-Type at all is read as one.
#[tokio::test]
async fn a_command_without_a_content_type_is_read_as_a_form() {
    let bot = TestBot::start().await;
    let case = Case {
        name: "no content type".into(),
        path: "/slack/commands",
        body: with(&bot, "text", Some("help")).into_bytes(),
        signing: Signing::ContentType(None),
        expect: Expect::Status(200),
    };
    let (status, body) = read(send(&bot, &case).await).await;
    assert_eq!(status, 200);
    assert!(text_of(&body).contains("launch"), "the help: {body}");
}

/// A `response_url` outside `response_url_prefixes` (not https, another host, a look-alike,
/// not a URL) is never posted to: the command is served and its answers take the Web API.
#[tokio::test]
async fn a_response_url_outside_the_prefixes_is_never_posted_to() {
    let bot = TestBot::start().await;
    let foreign = [
        "http://hooks.slack.com/commands/1",
        "https://evil.example/commands/1",
        "https://hooks.slack.com.evil.example/commands/1",
        "\u{0}<!channel>",
    ];
    for (i, url) in foreign.iter().enumerate() {
        let case = Case {
            name: format!("response_url {url}"),
            path: "/slack/commands",
            // One channel each, so that the double-submit guard does not merge them.
            body: with(&bot, "response_url", Some(url)).replace(CHANNEL, &format!("C0FOREIGN{i}")).into_bytes(),
            signing: Signing::Slack,
            expect: Expect::Status(200),
        };
        let (status, _) = read(send(&bot, &case).await).await;
        assert_eq!(status, 200, "{}", case.name);
        settled(&bot).await;
        assert_eq!(bot.tailer.sim.count("launch_job"), i + 1, "{}: the launch is served", case.name);
    }
    bot.wait(|events| {
        events.iter().filter(|e| e.method == "chat.postMessage" && e.visible_text().contains("iowa-prepare")).count() >= foreign.len()
    })
    .await;
    assert!(bot.slack.slack.events().iter().all(|e| e.method != "response_url"), "nothing went to a response_url");
}
