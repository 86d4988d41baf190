//! Everything that speaks to the Tailer API: typed requests and answers, authentication and
//! the HTTP client.

mod auth;
mod client;
mod error;
mod gate;
pub mod google;
mod keyless;
mod request;
mod share;
mod token;
mod types;

pub use auth::{CredentialsFile, CredentialsKind, KeyFileError, ServiceAccountKey, ServiceAccountSigner, TokenSource};
pub use client::{ClientOptions, LaunchError, TailerClient};
pub use error::{ErrorKind, TailerError, excerpt};
pub use gate::{Gate, Pace};
pub use keyless::{Identity, KeylessSigner, THREE_WAYS};
pub use request::{ByStatusQuery, ConfigurationStatus, LastStatusQuery, RequestBody, TailerAction};
pub use share::{KEEP_FOR, Reads};
pub use token::{AuthError, REFRESH_AFTER_SECS, SIGN_RETRY_MAX, SIGN_RETRY_MIN, TOKEN_LIFETIME_SECS};
pub use types::{Finality, JobRef, RunItem, RunStatus, format_duration, parse_duration, parse_timestamp};

/// Runs read per job by a subscription poll (and by a new subscription, to know what it
/// must not announce): more than usually start between two polls.
pub const RUNS_PER_READ: u32 = 10;
