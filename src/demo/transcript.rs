//! Slack as a person reads it, in a terminal: messages with their author, thread replies
//! indented, edits shown as edits, buttons as `[labels]`, times as their fallback text,
//! mentions as names, emoji codes as emoji.

use std::collections::HashMap;

use crate::slack::standin::SlackEvent;

/// Who is who in the demo.
pub struct Names(pub HashMap<String, String>);

impl Names {
    fn user(&self, id: &str) -> String {
        self.0.get(id).cloned().unwrap_or_else(|| id.to_owned())
    }
}

const EMOJI: &[(&str, &str)] = &[
    (":house:", "🏠"),
    (":rocket:", "🚀"),
    (":hourglass_flowing_sand:", "⏳"),
    (":hourglass:", "⌛"),
    (":arrows_counterclockwise:", "🔄"),
    (":white_check_mark:", "✅"),
    (":x:", "❌"),
    (":ballot_box_with_check:", "☑️"),
    (":grey_question:", "❔"),
    (":grey_exclamation:", "❕"),
    (":no_entry_sign:", "🚫"),
    (":no_entry:", "⛔"),
    (":warning:", "⚠️"),
    (":red_circle:", "🔴"),
    (":large_green_circle:", "🟢"),
    (":memo:", "📝"),
    (":bell:", "🔔"),
    (":no_bell:", "🔕"),
    (":eyes:", "👀"),
    (":raised_hand:", "✋"),
    (":repeat:", "🔁"),
    (":wave:", "👋"),
    (":bar_chart:", "📊"),
    (":alarm_clock:", "⏰"),
    (":double_vertical_bar:", "⏸️"),
];

/// Mrkdwn as plain terminal text.
pub fn plain(text: &str, names: &Names) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find('>') else {
            out.push_str(&rest[start..]);
            rest = "";
            break;
        };
        let token = &rest[start + 1..start + end];
        out.push_str(&match token.chars().next() {
            Some('@') => format!("@{}", names.user(&token[1..])),
            Some('#') => format!("#{}", names.user(token[1..].split('|').next().unwrap_or_default())),
            Some('!') => token.rsplit('|').next().unwrap_or(token).to_owned(),
            _ => token.split('|').next_back().unwrap_or(token).to_owned(),
        });
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    let mut text = out.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&");
    for (code, emoji) in EMOJI {
        text = text.replace(code, emoji);
    }
    // Bold is for Slack's eyes; a terminal reads better without the stars.
    text.replace('*', "")
}

/// The blocks of a message as lines: sections, two-column fields, context, buttons.
pub fn lines(event: &SlackEvent, names: &Names) -> Vec<String> {
    let mut out = Vec::new();
    for block in &event.blocks {
        match block["type"].as_str() {
            Some("section") => {
                if let Some(text) = block["text"]["text"].as_str() {
                    out.extend(plain(text, names).lines().map(str::to_owned));
                }
                if let Some(fields) = block["fields"].as_array() {
                    let parts: Vec<String> =
                        fields.iter().filter_map(|f| f["text"].as_str()).map(|t| plain(t, names).replace('\n', ": ")).collect();
                    out.push(parts.join(" · "));
                }
            }
            Some("context") => {
                let parts: Vec<String> = block["elements"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|e| e["text"].as_str())
                    .map(|t| plain(t, names))
                    .collect();
                out.push(format!("({})", parts.join(" ")));
            }
            Some("input") => {
                let label = block["label"]["text"].as_str().unwrap_or_default();
                let element = &block["element"];
                let options: Vec<&str> =
                    element["options"].as_array().into_iter().flatten().filter_map(|o| o["text"]["text"].as_str()).collect();
                let what = match element["type"].as_str() {
                    Some("static_select") if options.len() > 4 => {
                        format!("one of {}, … ({} in all)", options[..4].join(", "), options.len())
                    }
                    Some("static_select") => format!("one of {}", options.join(", ")),
                    Some("datepicker") => "a date from the calendar".to_owned(),
                    Some("conversations_select") => match element["initial_conversation"].as_str() {
                        Some(channel) => format!("a channel (#{channel} unless changed)"),
                        None => "a channel".to_owned(),
                    },
                    _ => "some text".to_owned(),
                };
                let optional = if block["optional"] == true { " (optional)" } else { "" };
                out.push(format!("{label}{optional}: {what}"));
            }
            Some("actions") => {
                let labels: Vec<String> = event.buttons().iter().map(|l| format!("[{l}]")).collect();
                if !labels.is_empty() {
                    out.push(labels.join(" "));
                }
            }
            _ => {}
        }
    }
    if out.is_empty() {
        out.extend(plain(&event.text, names).lines().map(str::to_owned));
    }
    out
}

/// One event as the transcript shows it.
pub fn render(event: &SlackEvent, names: &Names) -> Vec<String> {
    let body = lines(event, names);
    let (head, indent) = match event.method.as_str() {
        "chat.update" => ("  ✎ edited:".to_owned(), "    "),
        "views.publish" => (format!("  🏠 the Home tab of @{}:", names.user(event.user.as_deref().unwrap_or_default())), "    "),
        "views.open" => {
            let title = event.view.as_ref().and_then(|v| v["title"]["text"].as_str()).unwrap_or("a form").to_owned();
            (format!("  🗔 a form opens: {title}"), "    ")
        }
        "files.completeUploadExternal" => {
            let file = event.file.clone().unwrap_or_default();
            let title = file.title.unwrap_or(file.filename);
            let size = file.bytes.len().div_ceil(1024);
            match event.thread_ts {
                Some(_) => (format!("      ↳ tailerbot shared a picture: 🖼  {title} ({size} KB)"), "        "),
                None => (format!("  tailerbot shared a picture: 🖼  {title} ({size} KB)"), "    "),
            }
        }
        "chat.postEphemeral" => ("  tailerbot (only you):".to_owned(), "    "),
        "response_url" if event.response_type.as_deref() == Some("in_channel") && event.replace_original => {
            ("  tailerbot (replacing the message above):".to_owned(), "    ")
        }
        "response_url" if event.response_type.as_deref() == Some("in_channel") => ("  tailerbot:".to_owned(), "    "),
        "response_url" => ("  tailerbot (only you):".to_owned(), "    "),
        _ if event.thread_ts.is_some() => {
            (format!("      ↳ tailerbot{}:", if event.broadcast { " (also sent to the channel)" } else { "" }), "        ")
        }
        _ => ("  tailerbot:".to_owned(), "    "),
    };
    let mut out = vec![head];
    out.extend(body.into_iter().map(|l| format!("{indent}{l}")));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mentions_dates_emoji_and_escapes_read_as_a_person_reads_them() {
        let names = Names(HashMap::from([("U0ANA".to_owned(), "ana".to_owned())]));
        let text = ":rocket: <@U0ANA> at <!date^1^{date_short_pretty}|2020-12-30 11:28 UTC> &lt;b&gt; <#C0DATA>";
        assert_eq!(plain(text, &names), "🚀 @ana at 2020-12-30 11:28 UTC <b> #C0DATA");
        assert_eq!(plain("*FAILED*", &names), "FAILED");
    }
}
