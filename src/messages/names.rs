//! What the bot says of a name it does not know: a job, with the closest names of the
//! catalog; a tag, with the tags there are.

use crate::domain::markup::plain;

/// "I don't know a job called ..." with up to three of the closest names.
pub fn unknown_job(name: &str, closest: &[&str]) -> String {
    let escaped = plain(name);
    if closest.is_empty() {
        format!("I don't know a job called `{escaped}`. `/tailer jobs` lists the ones you may use.")
    } else {
        let names: Vec<String> = closest.iter().map(|n| format!("`{}`", plain(n))).collect();
        format!("I don't know a job called `{escaped}`. Did you mean {}?", names.join(", "))
    }
}

/// No job carries `tag`; `tags` are the ones the catalog has.
pub fn unknown_tag(tag: &str, tags: &[&str]) -> String {
    let known = if tags.is_empty() {
        "no job has a tag".to_owned()
    } else {
        format!("the tags are: {}", tags.iter().map(|t| format!("`tag:{}`", plain(t))).collect::<Vec<_>>().join(", "))
    };
    format!("No job carries the tag `{}`; {known}.", plain(tag))
}
