//! Outgoing mail: email verification and password reset links, the notice to an old
//! address that the account's address is changing, and notices of changes to how the
//! account signs in (passkeys, password, TOTP).
//!
//! A request never waits on a mail server: it stores the one-time token and the rendered
//! message in one transaction ([`crate::store::Store::create_email_token`]) and wakes the
//! [`worker`], which delivers from the queue in the database, retries with exponential
//! backoff, and survives restarts. Tokens and links never reach a log.

mod invitations;
pub mod templates;
pub mod transport;
pub mod worker;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::{Body, Mailbox, MultiPart, SinglePart};
use sha2::{Digest, Sha256};
use tokio::sync::Notify;
use uuid::Uuid;

use crate::config::Config;
use crate::store::{DynStore, MailQuota, NewEmailToken, NewMail, StoreResult, TokenPurpose, User};
use templates::{Kind, Templates};

/// A fresh one-time token: 256 random bits, base64url (43 characters).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store keeps of a token: its SHA-256.
pub fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Writes, queues and announces mails.
pub struct Mailer {
    store: DynStore,
    templates: Templates,
    from: Mailbox,
    public_url: String,
    verify_ttl: Duration,
    reset_ttl: Duration,
    /// GATEHOUSE_VERIFY_MAILS_PER_HOUR; 0: no cap.
    verify_per_hour: u32,
    /// Wakes the worker when a message was queued.
    pub(crate) queued: Arc<Notify>,
}

impl Mailer {
    pub fn new(config: &Config, store: DynStore) -> anyhow::Result<Self> {
        Ok(Self {
            store,
            templates: Templates::load(config.mail_templates.as_deref())?,
            from: config.mail_from.parse().map_err(|_| anyhow::anyhow!("GATEHOUSE_MAIL_FROM is not a mail address"))?,
            public_url: config.public_url(),
            verify_ttl: Duration::from_secs(config.email_verify_ttl),
            reset_ttl: Duration::from_secs(config.password_reset_ttl),
            verify_per_hour: config.verify_mails_per_hour,
            queued: Arc::new(Notify::new()),
        })
    }

    /// Queues a verification link: to the pending address when a change waits, else to the
    /// address while it is unverified; false when there is none. A failure is logged, never
    /// the caller's: the user can ask again with /email/resend.
    pub async fn send_verification(&self, user: &User) -> bool {
        let Some(to) = verification_address(user) else { return false };
        self.queue_link(TokenPurpose::VerifyEmail, user, to).await
    }

    /// Queues a password reset link to `to`, one of the user's addresses (the caller picks
    /// which: see the forgot-password route).
    pub async fn send_reset(&self, user: &User, to: &str) -> bool {
        self.queue_link(TokenPurpose::ResetPassword, user, to).await
    }

    /// Counts one verification mail caused by the user against GATEHOUSE_VERIFY_MAILS_PER_HOUR.
    pub async fn reserve_verification(&self, user_id: Uuid) -> StoreResult<MailQuota> {
        if self.verify_per_hour == 0 {
            return Ok(MailQuota::Allowed);
        }
        self.store.reserve_verify_mail(user_id, self.verify_per_hour, Duration::from_secs(3600)).await
    }

    /// Tells `to` (an old address) what happened to the account's address: `change` says it
    /// in one or two sentences.
    pub async fn send_change_notice(&self, user: &User, to: &str, change: &str) -> bool {
        self.send_notice(Kind::EmailChanged, user, to, &[("change", change)]).await
    }

    /// Tells the account's verified address that a way to sign in was added, removed or
    /// turned off; false when it has none.
    pub async fn send_security_notice(&self, user: &User, change: &str) -> bool {
        match user.email.as_deref().filter(|_| user.email_verified) {
            Some(to) => self.send_notice(Kind::SecurityNotice, user, to, &[("change", change)]).await,
            None => false,
        }
    }

    /// Tells the account's verified address that its password was changed or reset, with
    /// where to reset it; false when it has none. Never the password.
    pub async fn send_password_notice(&self, user: &User, change: &str) -> bool {
        let Some(to) = user.email.as_deref().filter(|_| user.email_verified) else { return false };
        let reset_link = format!("{}/forgot-password", self.public_url);
        self.send_notice(Kind::PasswordChanged, user, to, &[("change", change), ("reset_link", &reset_link)]).await
    }

    async fn send_notice(&self, kind: Kind, user: &User, to: &str, values: &[(&str, &str)]) -> bool {
        let mut values = values.to_vec();
        values.push(("username", &user.username));
        let rendered = self.templates.render(kind, &values);
        let queued = match self.build(to, rendered) {
            Ok(mail) => self.store.queue_mail(mail).await.map_err(anyhow::Error::from),
            Err(err) => Err(err),
        };
        let name = kind.name();
        match queued {
            Ok(()) => {
                tracing::info!(user_id = %user.id, mail = name, "mail queued");
                self.queued.notify_one();
                true
            }
            Err(err) => {
                tracing::warn!(user_id = %user.id, error = %err, mail = name, "could not queue a mail");
                false
            }
        }
    }

    async fn queue_link(&self, purpose: TokenPurpose, user: &User, email: &str) -> bool {
        // The token is bound to this address: it dies when the account no longer has it.
        let email_key = crate::domain::login_key(email);
        let token = new_token();
        let (kind, path, ttl) = match purpose {
            TokenPurpose::VerifyEmail => (Kind::VerifyEmail, "verify-email", self.verify_ttl),
            TokenPurpose::ResetPassword => (Kind::ResetPassword, "reset-password", self.reset_ttl),
        };
        let link = format!("{}/{path}?token={token}", self.public_url);
        let rendered = self.templates.render(kind, &[("link", &link), ("username", &user.username), ("valid_for", &describe(ttl))]);
        let mail = match self.build(email, rendered) {
            Ok(mail) => mail,
            Err(err) => {
                tracing::warn!(user_id = %user.id, error = %err, "cannot write a mail to this address");
                return false;
            }
        };
        let expires_at = chrono::Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_else(|_| chrono::Duration::hours(24));
        let record = NewEmailToken { token_hash: hash_token(&token), user_id: user.id, purpose, email_key, expires_at };
        match self.store.create_email_token(record, mail).await {
            Ok(()) => {
                tracing::info!(user_id = %user.id, mail = purpose.as_str(), "mail queued");
                self.queued.notify_one();
                true
            }
            Err(err) => {
                tracing::warn!(user_id = %user.id, error = %err, mail = purpose.as_str(), "could not queue a mail");
                false
            }
        }
    }

    /// Writes the mail of a sign-in code: the code and the link to the page whose button
    /// spends it. The caller stores it with the code ([`crate::store::Store::create_email_code`])
    /// and then calls [`Mailer::announce`].
    pub fn write_code_mail(&self, to: &str, challenge: Uuid, code: &str, ttl: Duration) -> anyhow::Result<NewMail> {
        let query = serde_urlencoded::to_string([("challenge", challenge.to_string()), ("code", code.replace('-', ""))])?;
        let link = format!("{}/login/email?{query}", self.public_url);
        let rendered = self.templates.render(Kind::EmailCode, &[("code", code), ("link", &link), ("valid_for", &describe(ttl))]);
        self.build(to, rendered)
    }

    /// Writes the mail of an invitation to sign up: the link that opens the sign-up page
    /// with it. The caller stores it with the invitation and then calls [`Mailer::announce`].
    pub fn write_invitation_mail(&self, to: &str, token: &str, ttl: Duration) -> anyhow::Result<NewMail> {
        let link = format!("{}/register?invitation={token}", self.public_url);
        let rendered = self.templates.render(Kind::Invitation, &[("link", &link), ("valid_for", &describe(ttl))]);
        self.build(to, rendered)
    }

    /// Wakes the worker for a message queued by the caller.
    pub fn announce(&self) {
        self.queued.notify_one();
    }

    fn build(&self, email: &str, rendered: templates::Rendered) -> anyhow::Result<NewMail> {
        let to: Mailbox = email.parse()?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to.clone())
            .subject(rendered.subject)
            .multipart(MultiPart::alternative().singlepart(text_part(rendered.text)).singlepart(SinglePart::html(rendered.html)))?;
        Ok(NewMail {
            id: Uuid::now_v7(),
            sender: self.from.email.to_string(),
            recipient: to.email.to_string(),
            message: message.formatted(),
        })
    }
}

/// The plain-text part in 8bit, so that a link stays whole on its line and can be copied
/// from the raw message or a mail file (quoted-printable would fold a link longer than 76
/// characters and write its `=` as `=3D`). 8bit allows lines of up to 998 octets in CRLF,
/// without NUL (RFC 5322, 6152); lettre's own choice stops at 76, so the checked text is
/// handed over as it is. A text that breaks those rules gets lettre's encoding.
fn text_part(text: String) -> SinglePart {
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    let fits = !text.contains('\0') && text.split("\r\n").all(|line| line.len() <= 998 && !line.contains('\r'));
    let body = if fits { Body::dangerous_pre_encoded(text.into_bytes(), ContentTransferEncoding::EightBit) } else { Body::new(text) };
    SinglePart::builder().header(ContentType::TEXT_PLAIN).body(body)
}

/// Where a verification link goes: the pending address, else the address while unverified.
pub fn verification_address(user: &User) -> Option<&str> {
    user.pending_email.as_deref().or(user.email.as_deref().filter(|_| !user.email_verified))
}

/// "24 hours", "30 minutes", "45 seconds".
pub(crate) fn describe(ttl: Duration) -> String {
    let secs = ttl.as_secs();
    let (n, unit) = if secs > 86_400 && secs.is_multiple_of(86_400) {
        (secs / 86_400, "day")
    } else if secs.is_multiple_of(3600) {
        (secs / 3600, "hour")
    } else if secs.is_multiple_of(60) {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lifetimes_read_as_people_say_them() {
        assert_eq!(describe(Duration::from_secs(86_400)), "24 hours");
        assert_eq!(describe(Duration::from_secs(1800)), "30 minutes");
        assert_eq!(describe(Duration::from_secs(1)), "1 second");
        assert_eq!(describe(Duration::from_secs(7 * 86_400)), "7 days");
    }

    #[test]
    fn tokens_are_256_random_bits_and_stored_as_their_hash() {
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 43);
        assert_ne!(a, b);
        assert_eq!(hash_token(&a).len(), 32);
        assert_ne!(hash_token(&a), a.as_bytes());
    }
}
