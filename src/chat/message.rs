//! What the bot says, before any surface has written it: a fallback text and parts (a
//! paragraph, two-column fields, small print, a divider, a row of buttons, a list), each
//! text in the bot's markup ([`crate::domain::markup`]). A surface renders it within its
//! own limits: a list that does not fit ends with "and N more".

use crate::domain::{Press, Visibility};

/// The most parts a message has (the tightest surface's limit: Slack's 50 blocks).
pub const MAX_PARTS: usize = 50;

/// A message: the text a notification or a screen reader shows, and its parts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Message {
    pub text: String,
    pub parts: Vec<Part>,
}

/// One part of a message.
#[derive(Debug, Clone, PartialEq)]
pub enum Part {
    /// A paragraph.
    Section {
        text: String,
    },
    /// Short fields, side by side.
    Fields {
        fields: Vec<String>,
    },
    /// Small print.
    Context {
        text: String,
    },
    Divider,
    /// A paragraph with its button beside it: the button acts on what the paragraph says.
    Item {
        text: String,
        button: Button,
    },
    /// A row of buttons; `id` names the row (what it is about).
    Actions {
        id: String,
        buttons: Vec<Button>,
    },
    /// Lines, in as few paragraphs as the surface's limits need, leaving room for the
    /// `keep_free` parts after them, and ending with "and N more" when they do not fit.
    Lines {
        lines: Vec<String>,
        keep_free: usize,
    },
}

/// A button: what a click asks for, or a page to open.
#[derive(Debug, Clone, PartialEq)]
pub struct Button {
    pub label: String,
    pub press: Press,
    /// A link button opens this page (and still tells the bot of the click).
    pub url: Option<String>,
    pub style: Option<Style>,
    pub confirm: Option<Confirm>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Primary,
    Danger,
}

/// The question asked before a dangerous button acts.
#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub title: String,
    pub text: String,
    pub confirm: String,
    pub deny: String,
}

impl Button {
    /// The button of what a click asks for.
    pub fn press(label: &str, press: &Press) -> Button {
        Button { label: label.to_owned(), press: press.clone(), url: None, style: None, confirm: None }
    }

    /// A button that opens `url`.
    pub fn link(label: &str, press: &Press, url: &str) -> Button {
        Button { url: Some(url.to_owned()), ..Button::press(label, press) }
    }

    /// Red, and asks first.
    pub fn danger(mut self, confirm: Confirm) -> Button {
        self.style = Some(Style::Danger);
        self.confirm = Some(confirm);
        self
    }

    pub fn primary(mut self) -> Button {
        self.style = Some(Style::Primary);
        self
    }
}

impl Message {
    /// A message with only a fallback text (notifications, screen readers).
    pub fn new(text: &str) -> Message {
        Message { text: text.to_owned(), parts: Vec::new() }
    }

    fn push(&mut self, part: Part) -> bool {
        if self.parts.len() >= MAX_PARTS {
            return false;
        }
        self.parts.push(part);
        true
    }

    /// A paragraph.
    pub fn section(&mut self, text: &str) -> bool {
        self.push(Part::Section { text: text.to_owned() })
    }

    /// Short fields, side by side.
    pub fn fields(&mut self, fields: &[String]) -> bool {
        self.push(Part::Fields { fields: fields.to_vec() })
    }

    /// Small print.
    pub fn context(&mut self, text: &str) -> bool {
        self.push(Part::Context { text: text.to_owned() })
    }

    /// A paragraph with the button that acts on it beside it.
    pub fn item(&mut self, text: &str, button: Button) -> bool {
        self.push(Part::Item { text: text.to_owned(), button })
    }

    pub fn divider(&mut self) -> bool {
        self.push(Part::Divider)
    }

    /// A row of buttons.
    pub fn actions(&mut self, id: &str, buttons: &[Button]) -> bool {
        self.push(Part::Actions { id: id.to_owned(), buttons: buttons.to_vec() })
    }

    /// Lines, folded by the surface, keeping room for the `keep_free` parts after them.
    pub fn lines(&mut self, lines: &[String], keep_free: usize) {
        if !lines.is_empty() {
            self.push(Part::Lines { lines: lines.to_vec(), keep_free });
        }
    }

    /// Every text of the message, in order (the fallback first): for tests and logs.
    pub fn texts(&self) -> Vec<&str> {
        let mut out = vec![self.text.as_str()];
        for part in &self.parts {
            match part {
                Part::Section { text } | Part::Context { text } => out.push(text),
                Part::Item { text, button } => out.extend([text.as_str(), button.label.as_str()]),
                Part::Fields { fields } => out.extend(fields.iter().map(String::as_str)),
                Part::Lines { lines, .. } => out.extend(lines.iter().map(String::as_str)),
                Part::Actions { buttons, .. } => out.extend(buttons.iter().map(|b| b.label.as_str())),
                Part::Divider => {}
            }
        }
        out
    }
}

/// An answer to a person: who sees it, and whether it replaces the message it answers (a
/// card a button was on).
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub visibility: Visibility,
    pub replace_original: bool,
    pub message: Message,
}

impl Reply {
    pub fn ephemeral(message: Message) -> Reply {
        Reply { visibility: Visibility::Ephemeral, replace_original: false, message }
    }

    pub fn in_channel(message: Message) -> Reply {
        Reply { visibility: Visibility::InChannel, replace_original: false, message }
    }

    pub fn replacing(mut self) -> Reply {
        self.replace_original = true;
        self
    }
}
