//! Mail bodies: built-in templates compiled in from `templates/mail/`, each replaceable by
//! a file of the same name in GATEHOUSE_MAIL_TEMPLATES. `{{name}}` placeholders are filled
//! in; values are HTML-escaped in the HTML body.

use std::path::Path;

use anyhow::Context;

/// Which mail to write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    VerifyEmail,
    ResetPassword,
    /// A notice to the old address that the account's address is changing.
    EmailChanged,
    /// A notice to the verified address that a sign-in method was added or removed.
    SecurityNotice,
    /// A notice to the verified address that the password was changed or reset.
    PasswordChanged,
    /// A sign-in code and its link.
    EmailCode,
    /// An admin's invitation to sign up, and its link.
    Invitation,
    /// An invitation to join an organization.
    OrgInvitation,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
            Self::EmailChanged => "email_changed",
            Self::SecurityNotice => "security_notice",
            Self::PasswordChanged => "password_changed",
            Self::EmailCode => "email_code",
            Self::Invitation => "invitation",
            Self::OrgInvitation => "org_invitation",
        }
    }
}

/// The three parts of one mail.
#[derive(Debug, Clone)]
struct Parts {
    subject: String,
    text: String,
    html: String,
}

/// A mail ready to be put in a message.
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, Clone)]
pub struct Templates {
    verify_email: Parts,
    reset_password: Parts,
    email_changed: Parts,
    security_notice: Parts,
    password_changed: Parts,
    email_code: Parts,
    invitation: Parts,
    org_invitation: Parts,
}

impl Templates {
    /// The built-in templates, with any file of `dir` in place of its twin. An unreadable
    /// folder stops the start: an operator who set it expects it used.
    pub fn load(dir: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(dir) = dir {
            anyhow::ensure!(dir.is_dir(), "GATEHOUSE_MAIL_TEMPLATES: {} is not a folder", dir.display());
        }
        let part = |file: String, builtin: &str| -> anyhow::Result<String> {
            match dir.map(|d| d.join(&file)) {
                Some(path) if path.exists() => {
                    std::fs::read_to_string(&path).with_context(|| format!("GATEHOUSE_MAIL_TEMPLATES: cannot read {}", path.display()))
                }
                _ => Ok(builtin.to_string()),
            }
        };
        let parts = |kind: Kind, subject: &str, text: &str, html: &str| -> anyhow::Result<Parts> {
            let name = kind.name();
            Ok(Parts {
                subject: part(format!("{name}.subject"), subject)?.trim().to_string(),
                text: part(format!("{name}.txt"), text)?,
                html: part(format!("{name}.html"), html)?,
            })
        };
        Ok(Self {
            verify_email: parts(
                Kind::VerifyEmail,
                include_str!("../../templates/mail/verify_email.subject"),
                include_str!("../../templates/mail/verify_email.txt"),
                include_str!("../../templates/mail/verify_email.html"),
            )?,
            reset_password: parts(
                Kind::ResetPassword,
                include_str!("../../templates/mail/reset_password.subject"),
                include_str!("../../templates/mail/reset_password.txt"),
                include_str!("../../templates/mail/reset_password.html"),
            )?,
            email_changed: parts(
                Kind::EmailChanged,
                include_str!("../../templates/mail/email_changed.subject"),
                include_str!("../../templates/mail/email_changed.txt"),
                include_str!("../../templates/mail/email_changed.html"),
            )?,
            security_notice: parts(
                Kind::SecurityNotice,
                include_str!("../../templates/mail/security_notice.subject"),
                include_str!("../../templates/mail/security_notice.txt"),
                include_str!("../../templates/mail/security_notice.html"),
            )?,
            password_changed: parts(
                Kind::PasswordChanged,
                include_str!("../../templates/mail/password_changed.subject"),
                include_str!("../../templates/mail/password_changed.txt"),
                include_str!("../../templates/mail/password_changed.html"),
            )?,
            email_code: parts(
                Kind::EmailCode,
                include_str!("../../templates/mail/email_code.subject"),
                include_str!("../../templates/mail/email_code.txt"),
                include_str!("../../templates/mail/email_code.html"),
            )?,
            invitation: parts(
                Kind::Invitation,
                include_str!("../../templates/mail/invitation.subject"),
                include_str!("../../templates/mail/invitation.txt"),
                include_str!("../../templates/mail/invitation.html"),
            )?,
            org_invitation: parts(
                Kind::OrgInvitation,
                include_str!("../../templates/mail/org_invitation.subject"),
                include_str!("../../templates/mail/org_invitation.txt"),
                include_str!("../../templates/mail/org_invitation.html"),
            )?,
        })
    }

    /// Fills in `values` (`{{name}}` placeholders).
    pub fn render(&self, kind: Kind, values: &[(&str, &str)]) -> Rendered {
        let parts = match kind {
            Kind::VerifyEmail => &self.verify_email,
            Kind::ResetPassword => &self.reset_password,
            Kind::EmailChanged => &self.email_changed,
            Kind::SecurityNotice => &self.security_notice,
            Kind::PasswordChanged => &self.password_changed,
            Kind::EmailCode => &self.email_code,
            Kind::Invitation => &self.invitation,
            Kind::OrgInvitation => &self.org_invitation,
        };
        Rendered {
            // A subject is one header line: no line breaks from a value.
            subject: fill(&parts.subject, values, |v| v.replace(['\r', '\n'], " ")),
            text: fill(&parts.text, values, str::to_string),
            html: fill(&parts.html, values, escape_html),
        }
    }
}

fn fill(template: &str, values: &[(&str, &str)], escape: impl Fn(&str) -> String) -> String {
    values.iter().fold(template.to_string(), |out, (name, value)| out.replace(&format!("{{{{{name}}}}}"), &escape(value)))
}

fn escape_html(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_filled_in_and_escaped_in_the_html_body_only() {
        let templates = Templates::load(None).expect("built-in templates");
        let mail = templates
            .render(Kind::VerifyEmail, &[("username", "a<b>&"), ("link", "http://x/verify-email?token=T"), ("valid_for", "24 hours")]);
        assert!(mail.text.contains("Hello a<b>&,"), "{}", mail.text);
        assert!(mail.html.contains("Hello a&lt;b&gt;&amp;,"), "{}", mail.html);
        assert!(mail.text.contains("http://x/verify-email?token=T"));
        assert!(!mail.text.contains("{{"));
        assert_eq!(mail.subject, "Confirm your email address");
    }

    #[test]
    fn the_change_notice_says_what_changed_and_escapes_it_in_html() {
        let templates = Templates::load(None).expect("built-in templates");
        let mail = templates.render(Kind::EmailChanged, &[("username", "bob"), ("change", "Changed to <x@example.com>.")]);
        assert!(mail.text.contains("Changed to <x@example.com>."), "{}", mail.text);
        assert!(mail.html.contains("Changed to &lt;x@example.com&gt;."), "{}", mail.html);
        assert!(mail.text.contains("If this was not you"));
        assert_eq!(mail.subject, "A change to your account's email address");
    }

    #[test]
    fn a_file_in_the_templates_folder_replaces_its_built_in_twin() {
        let dir = tempfile_dir();
        std::fs::write(dir.join("reset_password.txt"), "Reset: {{link}}").expect("write");
        let templates = Templates::load(Some(&dir)).expect("templates");
        let mail = templates.render(Kind::ResetPassword, &[("link", "L"), ("username", "u"), ("valid_for", "30 minutes")]);
        assert_eq!(mail.text, "Reset: L");
        assert!(mail.html.contains("Choose a new password"), "the HTML body stays built in");
        let _ = std::fs::remove_dir_all(dir);
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("gatehouse-templates-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }
}
