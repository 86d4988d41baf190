//! Slack as the application's chat surface: messages rendered in Block Kit, forms as
//! modals, and the Web API behind each thing the application asks.

use futures::FutureExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::api::{ResponseBody, SlackApi, SlackError};
use super::blocks::{mrkdwn, plain_text, render, truncate};
use crate::access::GroupLookupError;
use crate::chat::{Form, Input, Message, Render, Rendered, Surface, SurfaceError, view_metadata};
use crate::domain::{ChannelId, UserGroupId, UserId};
use crate::outbox::{OutboxBody, OutboxMessage, Sender};

/// An option's text in a `static_select`.
const MAX_OPTION_TEXT: usize = 75;

fn failed(error: SlackError) -> SurfaceError {
    SurfaceError(error.to_string())
}

impl Render for SlackApi {
    fn render(&self, message: &Message) -> Rendered {
        render(message)
    }
}

impl Sender for SlackApi {
    fn response_url_allowed(&self, url: &str) -> bool {
        SlackApi::response_url_allowed(self, url)
    }

    fn respond<'a>(&'a self, url: &'a str, body: &'a OutboxBody) -> BoxFuture<'a, Result<(), SurfaceError>> {
        async move { SlackApi::respond(self, url, &ResponseBody::from(body)).await.map_err(failed) }.boxed()
    }

    fn send_now<'a>(&'a self, message: &'a OutboxMessage, thread: Option<&'a str>) -> BoxFuture<'a, Result<(), SurfaceError>> {
        async move { super::delivery::send(self, message, thread, None).await.map(|_| ()).map_err(|e| SurfaceError(e.to_string())) }.boxed()
    }
}

impl Surface for SlackApi {
    fn open_form<'a>(&'a self, trigger: &'a str, form: &'a Form) -> BoxFuture<'a, Result<(), SurfaceError>> {
        async move { self.open_view(trigger, &modal(form)).await.map_err(failed) }.boxed()
    }

    fn check(&self) -> BoxFuture<'_, Result<(), SurfaceError>> {
        async move { self.auth_test().await.map_err(failed) }.boxed()
    }

    fn own_user(&self) -> BoxFuture<'_, Option<UserId>> {
        self.own_user_id().boxed()
    }

    fn conversations_of<'a>(&'a self, user: &'a UserId) -> BoxFuture<'a, Result<Vec<ChannelId>, SurfaceError>> {
        async move { self.user_channels(user).await.map_err(failed) }.boxed()
    }

    fn group_members<'a>(&'a self, group: &'a UserGroupId) -> BoxFuture<'a, Result<Vec<UserId>, GroupLookupError>> {
        async move { self.usergroup_members(group).await.map_err(|e| GroupLookupError(e.to_string())) }.boxed()
    }
}

fn text(text: &str) -> Value {
    json!({"type": "plain_text", "text": plain_text(text)})
}

/// A form as a modal: each field an input block whose block and element carry its id.
pub fn modal(form: &Form) -> Value {
    let mut blocks: Vec<Value> = form
        .fields
        .iter()
        .map(|field| {
            let mut element = match &field.input {
                Input::Choice(choices) => {
                    let options: Vec<Value> = choices
                        .iter()
                        .take(crate::chat::MAX_CHOICES)
                        .map(|choice| {
                            let mut option = json!({
                                "text": {"type": "plain_text", "text": truncate(&plain_text(&choice.label), MAX_OPTION_TEXT)},
                                "value": choice.value,
                            });
                            if let Some(description) = &choice.description {
                                option["description"] =
                                    json!({"type": "plain_text", "text": truncate(&plain_text(description), MAX_OPTION_TEXT)});
                            }
                            option
                        })
                        .collect();
                    json!({"type": "static_select", "options": options})
                }
                Input::Date => json!({"type": "datepicker"}),
                Input::Conversation { initial } => {
                    let mut element = json!({"type": "conversations_select", "filter": {"include": ["public", "private"]}});
                    if let Some(initial) = initial {
                        element["initial_conversation"] = json!(initial.as_str());
                    }
                    element
                }
            };
            element["action_id"] = json!(field.id);
            element["placeholder"] = text(&field.placeholder);
            let mut block = json!({"type": "input", "block_id": field.id, "label": text(&field.label), "element": element});
            if field.optional {
                block["optional"] = json!(true);
            }
            if let Some(hint) = &field.hint {
                block["hint"] = text(hint);
            }
            block
        })
        .collect();
    if let Some(note) = &form.note {
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": mrkdwn(note)}]}));
    }
    json!({
        "type": "modal",
        "callback_id": form.id,
        "title": text(&form.title),
        "submit": text(&form.submit),
        "close": text(&form.close),
        "private_metadata": view_metadata(form.opened_in.as_ref().map(ChannelId::as_str), form.for_user.as_ref()),
        "blocks": blocks,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::metadata_channel;
    use crate::commands::form::launch_form;
    use crate::commands::form::tests::job;
    use crate::config::Job;

    #[test]
    fn the_launch_form_is_a_modal_within_slacks_limits() {
        let jobs = [job("sales-daily", Some(&"x".repeat(200))), job("iowa-prepare", None)];
        let refs: Vec<&Job> = jobs.iter().collect();
        let view = modal(&launch_form(&refs, Some(&ChannelId::parse("C0DATA").unwrap())));
        let options = view["blocks"][0]["element"]["options"].as_array().unwrap();
        assert_eq!(options.iter().map(|o| o["value"].as_str().unwrap()).collect::<Vec<_>>(), ["sales-daily", "iowa-prepare"]);
        assert_eq!(options[0]["text"]["text"], "sales-daily (DEV)");
        assert!(options[0]["description"]["text"].as_str().unwrap().chars().count() <= MAX_OPTION_TEXT);
        assert!(options[1].get("description").is_none());
        assert_eq!(
            (view["blocks"][0]["block_id"].as_str(), view["blocks"][0]["element"]["action_id"].as_str()),
            (Some("job"), Some("job"))
        );
        assert_eq!(view["blocks"][2]["element"]["initial_conversation"], "C0DATA");
        let someone = UserId::parse("U0ANALYST").unwrap();
        assert_eq!(metadata_channel(view["private_metadata"].as_str().unwrap(), &someone).unwrap().as_str(), "C0DATA");
        let lead = UserId::parse("U0DATALEAD").unwrap();
        let home = view_metadata(Some("D0ANALYST"), Some(&someone));
        assert_eq!(metadata_channel(&home, &someone).map(|c| c.to_string()).as_deref(), Some("D0ANALYST"));
        assert_eq!(metadata_channel(&home, &lead), None, "a Home tab acts for the person it was made for only");
        assert_eq!(metadata_channel("not json", &someone), None);
        assert_eq!(view["blocks"][1]["optional"], true, "the date is optional");
        let from_home = modal(&launch_form(&refs, None));
        assert!(from_home["blocks"][2]["element"].get("initial_conversation").is_none());
        assert_eq!(from_home["private_metadata"], "");
    }

    #[test]
    fn a_long_catalog_keeps_a_select_within_its_hundred_options_and_says_so() {
        let jobs: Vec<Job> = (0..130).map(|i| job(&format!("job-{i}"), None)).collect();
        let refs: Vec<&Job> = jobs.iter().collect();
        let view = modal(&launch_form(&refs, None));
        assert_eq!(view["blocks"][0]["element"]["options"].as_array().unwrap().len(), 100);
        let note = view["blocks"][3]["elements"][0]["text"].as_str().unwrap();
        assert!(note.contains("…and 30 more") && note.contains("&lt;job&gt;"), "{note}");
    }
}
