//! The mail of an organization invitation: its link carries a one-time token, which the
//! store keeps hashed in the transaction that queues the mail.

use std::time::Duration;

use super::templates::Kind;
use super::{Mailer, describe, hash_token, new_token};
use crate::store::NewMail;

/// An invitation mail written and ready to queue, with the hash of its token.
pub struct InvitationMail {
    pub mail: NewMail,
    pub token_hash: Vec<u8>,
}

impl Mailer {
    /// Writes the invitation to `to` from `inviter` to join `org`, its link living `ttl`.
    pub fn invitation(&self, to: &str, inviter: &str, org: &str, ttl: Duration) -> anyhow::Result<InvitationMail> {
        let token = new_token();
        let link = format!("{}/invitations/accept?token={token}", self.public_url);
        let rendered = self
            .templates
            .render(Kind::OrgInvitation, &[("link", &link), ("inviter", inviter), ("org", org), ("valid_for", &describe(ttl))]);
        Ok(InvitationMail { mail: self.build(to, rendered)?, token_hash: hash_token(&token) })
    }

    /// Wakes the worker for a mail queued outside the mailer.
    pub fn queued_one(&self) {
        self.queued.notify_one();
    }
}
