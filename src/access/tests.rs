//! Rule evaluation: first match decides, no match denies, groups looked up and cached, and
//! a failed lookup never grants.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::config::Config;
use crate::domain::UserGroupId;

struct Groups {
    oncall: Vec<&'static str>,
    broken: bool,
    lookups: AtomicUsize,
}

impl GroupSource for Groups {
    async fn members(&self, group: &UserGroupId) -> Result<Vec<UserId>, GroupLookupError> {
        self.lookups.fetch_add(1, Ordering::SeqCst);
        if self.broken {
            return Err(GroupLookupError("slack unreachable".into()));
        }
        Ok(match group.as_str() {
            "S0ONCALL" => self.oncall.iter().map(|u| UserId::parse(u).unwrap()).collect(),
            _ => Vec::new(),
        })
    }
}

fn cache(broken: bool) -> GroupCache<Groups> {
    GroupCache::new(Arc::new(Groups { oncall: vec!["U0ONCALL"], broken, lookups: AtomicUsize::new(0) }), Duration::from_secs(300))
}

fn rules(text: &str) -> Vec<Rule> {
    let job = "[[jobs]]\nname = \"j\"\naccount = \"000099\"\nenvironment = \"DEV\"\nconfiguration_type = \"workflow\"\nconfiguration_id = \"x\"\n";
    Config::parse(Path::new("t.toml"), &format!("{job}{text}")).unwrap().rules
}

fn ids() -> (UserId, UserId, ChannelId, Environment, Environment) {
    (
        UserId::parse("U0ONCALL").unwrap(),
        UserId::parse("U0OTHER").unwrap(),
        ChannelId::parse("C0OPS").unwrap(),
        Environment::parse("PROD").unwrap(),
        Environment::parse("DEV").unwrap(),
    )
}

const EXAMPLE: &str = r#"
[[rules]]
actions = ["read"]
[[rules]]
effect = "deny"
actions = ["launch"]
environments = ["PROD"]
users = ["U0OTHER"]
[[rules]]
actions = ["write"]
environments = ["DEV"]
[[rules]]
actions = ["write"]
environments = ["PROD"]
usergroups = ["S0ONCALL"]
confirm = true
second_person = true
"#;

#[tokio::test]
async fn the_first_matching_rule_decides_and_no_match_denies() {
    let (oncall, other, channel, prod, dev) = ids();
    let rules = rules(EXAMPLE);
    let groups = cache(false);
    let ask = |user, action, environment| Request { user, channel: &channel, action, environment };
    assert_eq!(
        decide(&rules, ask(&other, Action::Status, Some(&prod)), &groups).await,
        Verdict::Allow { rule: 1, confirm: false, second_person: false }
    );
    assert_eq!(decide(&rules, ask(&other, Action::Launch, Some(&prod)), &groups).await, Verdict::Deny { rule: Some(2) });
    assert_eq!(
        decide(&rules, ask(&other, Action::Launch, Some(&dev)), &groups).await,
        Verdict::Allow { rule: 3, confirm: false, second_person: false }
    );
    assert_eq!(
        decide(&rules, ask(&oncall, Action::Disable, Some(&prod)), &groups).await,
        Verdict::Allow { rule: 4, confirm: true, second_person: true }
    );
    assert_eq!(decide(&rules, ask(&other, Action::Disable, Some(&prod)), &groups).await, Verdict::Deny { rule: None });
}

#[tokio::test]
async fn actions_on_no_job_match_only_rules_without_an_environment_restriction() {
    let (_, other, channel, ..) = ids();
    let dev_only = rules("[[rules]]\nactions = [\"read\"]\nenvironments = [\"DEV\"]\n");
    let ask = Request { user: &other, channel: &channel, action: Action::Doctor, environment: None };
    assert!(!decide(&dev_only, ask, &cache(false)).await.allowed());
    let prod_deny = rules("[[rules]]\neffect = \"deny\"\nenvironments = [\"PROD\"]\n[[rules]]\nactions = [\"read\"]\n");
    assert!(decide(&prod_deny, ask, &cache(false)).await.allowed(), "a PROD deny does not block doctor");
}

#[tokio::test]
async fn channels_restrict_a_rule() {
    let (_, other, channel, _, dev) = ids();
    let rules = rules("[[rules]]\nchannels = [\"C0ELSEWHERE\"]\n");
    let verdict =
        decide(&rules, Request { user: &other, channel: &channel, action: Action::Launch, environment: Some(&dev) }, &cache(false)).await;
    assert_eq!(verdict, Verdict::Deny { rule: None });
}

#[tokio::test]
async fn a_failed_group_lookup_never_grants_and_always_refuses() {
    let (oncall, _, channel, prod, _) = ids();
    let broken = cache(true);
    let allow = rules("[[rules]]\nusergroups = [\"S0ONCALL\"]\n");
    let verdict =
        decide(&allow, Request { user: &oncall, channel: &channel, action: Action::Launch, environment: Some(&prod) }, &broken).await;
    assert_eq!(verdict, Verdict::Deny { rule: None });
    let deny_then_allow = rules("[[rules]]\neffect = \"deny\"\nusergroups = [\"S0ONCALL\"]\n[[rules]]\n");
    let verdict =
        decide(&deny_then_allow, Request { user: &oncall, channel: &channel, action: Action::Launch, environment: Some(&prod) }, &broken)
            .await;
    assert_eq!(verdict, Verdict::Deny { rule: Some(1) });
}

#[tokio::test(start_paused = true)]
async fn members_are_cached_for_their_ttl() {
    let groups = cache(false);
    let group = UserGroupId::parse("S0ONCALL").unwrap();
    let user = UserId::parse("U0ONCALL").unwrap();
    assert!(groups.is_member(&user, &group).await.unwrap());
    assert!(groups.is_member(&user, &group).await.unwrap());
    assert_eq!(groups.source.lookups.load(Ordering::SeqCst), 1);
    tokio::time::advance(Duration::from_secs(301)).await;
    assert!(groups.is_member(&user, &group).await.unwrap());
    assert_eq!(groups.source.lookups.load(Ordering::SeqCst), 2);
}
