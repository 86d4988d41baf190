//! The one authorization step. Every command, click (and, as they come, modal and
//! mention) asks here whether this person, in this channel, may do this action to these
//! jobs; lists ask which of their jobs this person may see. A denial of a write is
//! written to the audit trail here, once per job refused, and turned into the same answer
//! wherever it came from. The rules themselves live in [`crate::access`].

use std::sync::Arc;

use super::{Ack, Bot, Context};
use crate::access::{self, Verdict};
use crate::config::Job;
use crate::domain::{Action, Environment};
use crate::store::AuditOutcome;

/// Allowed, with what the rules ask before acting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Authorized {
    /// A confirmation click is needed first.
    pub confirm: bool,
    /// That click must come from someone else.
    pub second_person: bool,
}

/// Not allowed: the action and what it was refused for, as the person named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    pub action: Action,
    /// The jobs refused (`` `sales-daily` (PROD) ``), or "anything".
    pub what: String,
}

/// Whether a denial goes to the audit trail, and with which detail (writes and clicks
/// are audited; reads are not).
#[derive(Debug, Clone, Copy)]
pub enum Audit<'a> {
    No,
    Denials { detail: &'a str },
}

impl Bot {
    /// Whether `ctx.user` may `action` in `ctx.channel` on every one of `jobs` (on the
    /// action alone when there are none). Every job is decided, so that the answer names
    /// all those refused and the audit has one entry for each.
    pub async fn authorize(self: &Arc<Self>, ctx: &Context, action: Action, jobs: &[&Job], audit: Audit<'_>) -> Result<Authorized, Denial> {
        if jobs.is_empty() {
            return match self.verdict(ctx, action, None).await {
                Verdict::Allow { confirm, second_person, .. } => Ok(Authorized { confirm, second_person }),
                Verdict::Deny { .. } => Err(Denial { action, what: "anything".into() }),
            };
        }
        let mut authorized = Authorized::default();
        let mut denied: Vec<&Job> = Vec::new();
        for job in jobs {
            match self.verdict(ctx, action, Some(&job.job.environment)).await {
                Verdict::Allow { confirm, second_person, .. } => {
                    authorized.confirm |= confirm;
                    authorized.second_person |= second_person;
                }
                Verdict::Deny { .. } => denied.push(job),
            }
        }
        if denied.is_empty() {
            return Ok(authorized);
        }
        if let Audit::Denials { detail } = audit {
            for job in &denied {
                self.audit(self.entry(ctx, action, Some(job), AuditOutcome::Denied, detail.to_owned(), None)).await;
            }
        }
        let names: Vec<String> = denied.iter().map(|j| super::render::job_label(j)).collect();
        Err(Denial { action, what: names.join(", ") })
    }

    /// The jobs among `jobs` that `ctx.user` may `action` in `ctx.channel`, in order.
    pub async fn visible<'j>(&self, ctx: &Context, action: Action, jobs: impl IntoIterator<Item = &'j Job>) -> Vec<&'j Job> {
        let mut visible = Vec::new();
        for job in jobs {
            if self.verdict(ctx, action, Some(&job.job.environment)).await.allowed() {
                visible.push(job);
            }
        }
        visible
    }

    /// Whether `ctx.user` may `action` on something of `environment` (or of none): for
    /// records whose job left the catalog, where only the environment is known.
    pub async fn allowed_in(&self, ctx: &Context, action: Action, environment: Option<&Environment>) -> bool {
        self.verdict(ctx, action, environment).await.allowed()
    }

    /// Whether `ctx.user` may `action` on `job` here without a second person's
    /// confirmation (which no one could give in a direct conversation with the bot).
    pub async fn allowed_alone(&self, ctx: &Context, action: Action, job: &Job) -> bool {
        matches!(
            self.verdict(ctx, action, Some(&job.job.environment)).await,
            access::Verdict::Allow { confirm, second_person, .. } if !(confirm && second_person)
        )
    }

    async fn verdict(&self, ctx: &Context, action: Action, environment: Option<&Environment>) -> Verdict {
        let request = access::Request { user: &ctx.user, channel: &ctx.channel, action, environment };
        access::decide(&self.config.rules, request, &*self.groups).await
    }
}

impl Denial {
    /// "You may not ..." without showing the rules; `ask` says where to ask.
    pub fn answer(&self, ask: &str) -> Ack {
        Ack::note(&format!(
            ":no_entry: You may not *{}* {} here. Access is decided by the bot's rules; if you need it, {ask}.",
            self.action, self.what
        ))
    }
}
