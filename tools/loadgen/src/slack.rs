//! What each request carries: a slash command form as Slack sends it, with a unique
//! `trigger_id`, a `response_url` naming that trigger, a user drawn from a pool, and the
//! v0 signature over the exact bytes sent, timestamped now.

use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Signs bodies as Slack does: `v0=` + hex HMAC-SHA256 of `v0:<timestamp>:<body>`.
#[derive(Clone)]
pub struct Signer {
    /// The keyed HMAC state, cloned per request (the key schedule is done once).
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer([redacted])")
    }
}

impl Signer {
    pub fn new(secret: &str) -> Signer {
        // HMAC takes a key of any length: this cannot fail.
        Signer { keyed: Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts any key length") }
    }

    /// `(timestamp, signature)` for `body`, timestamped now.
    pub fn sign_now(&self, body: &[u8]) -> (String, String) {
        // A clock before 1970 is not a machine a benchmark runs on.
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default();
        let timestamp = now.to_string();
        let signature = self.sign(&timestamp, body);
        (timestamp, signature)
    }

    /// `v0=<hex>` for `body` at `timestamp`.
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let mut mac = self.keyed.clone();
        mac.update(b"v0:");
        mac.update(timestamp.as_bytes());
        mac.update(b":");
        mac.update(body);
        format!("v0={}", hex::encode(mac.finalize().into_bytes()))
    }
}

/// The fixed parts of every command.
#[derive(Debug, Clone)]
pub struct CommandTemplate {
    pub team: String,
    pub channel: String,
    pub command: String,
    pub text: String,
    /// `response_url` = this + `/` + the trigger id.
    pub response_url_base: String,
    /// How many distinct users the commands come from.
    pub users: u32,
}

impl CommandTemplate {
    /// A user id of the pool: `U` and ten digits, as Slack's ids look.
    pub fn user(&self, n: u64) -> String {
        format!("U{:010}", n % u64::from(self.users.max(1)))
    }

    /// The form body of one command.
    pub fn body(&self, trigger_id: &str, user: &str) -> String {
        let response_url = format!("{}/{trigger_id}", self.response_url_base.trim_end_matches('/'));
        form_urlencoded::Serializer::new(String::with_capacity(512))
            .append_pair("token", "loadgen-verification-token")
            .append_pair("team_id", &self.team)
            .append_pair("team_domain", "loadgen")
            .append_pair("channel_id", &self.channel)
            .append_pair("channel_name", "loadgen")
            .append_pair("user_id", user)
            .append_pair("user_name", user)
            .append_pair("command", &self.command)
            .append_pair("text", &self.text)
            .append_pair("api_app_id", "A0LOADGEN01")
            .append_pair("is_enterprise_install", "false")
            .append_pair("response_url", &response_url)
            .append_pair("trigger_id", trigger_id)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_match_slacks_published_example() {
        // From Slack's "Verifying requests from Slack" page.
        let signer = Signer::new("8f742231b10e8888abcd99yyyzzz85a5");
        let body = "token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
        assert_eq!(signer.sign("1531420618", body.as_bytes()), "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503");
    }

    #[test]
    fn each_command_names_its_trigger_in_its_response_url() {
        let template = CommandTemplate {
            team: "T0001".into(),
            channel: "C0BENCH".into(),
            command: "/tailer".into(),
            text: "status job run".into(),
            response_url_base: "http://127.0.0.1:9/response/".into(),
            users: 3,
        };
        let body = template.body("abc.1.2", &template.user(4));
        let fields: Vec<(String, String)> = form_urlencoded::parse(body.as_bytes()).into_owned().collect();
        let get = |name: &str| fields.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str());
        assert_eq!(get("response_url"), Some("http://127.0.0.1:9/response/abc.1.2"));
        assert_eq!(get("trigger_id"), Some("abc.1.2"));
        assert_eq!(get("user_id"), Some("U0000000001"));
        assert_eq!(get("text"), Some("status job run"));
    }
}
