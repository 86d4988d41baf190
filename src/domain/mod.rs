//! Types built at the edge: identifiers, job names and action names are parsed once, from
//! configuration, from Slack or from Tailer, and nothing past that point handles raw strings.

mod action;
mod ids;
pub mod markup;
mod press;
pub mod schedule;
mod text;
mod visibility;

pub use action::{Action, ActionSet, UnknownAction};
pub use ids::{
    Account, AppId, ChannelId, ConfigurationId, ConfigurationType, Environment, IdError, JobId, JobName, RunId, TeamId, UserGroupId, UserId,
};
pub use press::{CardButton, Press, PressError};
pub use schedule::{Schedule, ScheduleError};
pub use text::{MAX_TEXT_CHARS, is_format_character};
pub use visibility::Visibility;
