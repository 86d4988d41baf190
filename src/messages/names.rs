//! What the bot says of a name it does not know: a job, with the closest names of the
//! catalog; a tag, with the tags there are.

use crate::slack::blocks::escape;

/// "I don't know a job called ..." with up to three of the closest names.
pub fn unknown_job(name: &str, closest: &[&str]) -> String {
    let escaped = escape(name);
    if closest.is_empty() {
        format!("I don't know a job called `{escaped}`. `/tailer jobs` lists the ones you may use.")
    } else {
        let names: Vec<String> = closest.iter().map(|n| format!("`{}`", escape(n))).collect();
        format!("I don't know a job called `{escaped}`. Did you mean {}?", names.join(", "))
    }
}

/// No job carries `tag`; `tags` are the ones the catalog has.
pub fn unknown_tag(tag: &str, tags: &[&str]) -> String {
    let known = if tags.is_empty() {
        "no job has a tag".to_owned()
    } else {
        format!("the tags are: {}", tags.iter().map(|t| format!("`tag:{}`", escape(t))).collect::<Vec<_>>().join(", "))
    };
    format!("No job carries the tag `{}`; {known}.", escape(tag))
}
