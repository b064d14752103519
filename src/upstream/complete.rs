//! What a verified upstream profile leads to.
//!
//! An identity is found by (provider, subject) only. An unknown one is linked to the local
//! account holding the same address only when both sides verified it, the provider allows
//! it (`link_by_email`), and the person then proves that account with its password on the
//! confirm page (or one of its passkeys): an address alone proves nothing (some providers let anyone set any
//! address: the "nOAuth" takeover). Otherwise, with `allow_signup`, a new account is made.
//! A sign-in takes the account's TOTP step unless the provider is trusted for MFA and said
//! it did one.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;
use subtle::ConstantTimeEq;
use uuid::Uuid;

use super::flow::Arrived;
use super::oidc::Profile;
use super::{Upstream, UpstreamError};
use crate::accounts::{AccountError, Accounts};
use crate::audit::Audit;
use crate::auth::sessions::{self, ClientInfo, Sessions, TokenPair};
use crate::auth::{Verdict, mfa, refresh};
use crate::domain::{Email, Role, Username, login_key, provider::username_base};
use crate::error::MfaToken;
use crate::store::{AuditType, Conflict, NewUser, Provider, StoreError, User};

pub const CONFIRM: &str = "confirm";
/// How long the confirm page waits for the password.
const CONFIRM_TTL_SECS: i64 = 600;

/// What proves the account on the confirm page.
pub enum Proof<'a> {
    Password(&'a str),
    /// The answer to the ceremony that `Accounts::begin_passkey_proof` began for the account.
    Passkey {
        ceremony_id: Uuid,
        credential: &'a crate::auth::passkeys::PublicKeyCredential,
    },
}

pub enum Outcome {
    SignedIn(Box<TokenPair>),
    /// TOTP is on: the second step's token (the sign-in page's second step finishes it).
    SecondStep(MfaToken),
    /// A signed-in person linked another identity.
    Linked,
    /// The account holding this address must be proved first: the confirm flow's token.
    Confirm(String),
}

/// An identity waiting for its person to prove the local account.
#[derive(Serialize, Deserialize)]
pub struct Pending {
    pub provider: String,
    pub profile: Profile,
    pub user_id: Uuid,
    pub username: String,
    pub return_to: String,
}

impl Upstream {
    pub async fn complete(
        &self,
        accounts: &Accounts,
        sessions: &Sessions,
        audit: &Audit,
        browser: &str,
        arrived: Arrived,
        client: ClientInfo,
    ) -> Result<Outcome, UpstreamError> {
        let Arrived { provider, profile, return_to, link_user } = arrived;
        let owner = self.store.identity_owner(provider.id, &profile.subject).await?;
        if let Some(user_id) = link_user {
            return match owner {
                Some(owner) if owner == user_id => Ok(Outcome::Linked),
                Some(_) => Err(UpstreamError::refused("identity_linked_elsewhere", "upstream_identity_taken")),
                None => {
                    self.link(audit, Some(user_id), user_id, &provider, &profile, "account").await?;
                    Ok(Outcome::Linked)
                }
            };
        }
        if let Some(user_id) = owner {
            self.store.touch_identity(provider.id, &profile.subject, profile.email.as_deref()).await?;
            let user = self.store.user_by_id(user_id).await?.ok_or(AccountError::InvalidCredentials)?;
            return self.sign_in(accounts, sessions, audit, user, &provider, &profile, client).await;
        }
        if let Some(email) = &profile.email
            && let Some(holder) = self.store.credentials_by_login(&login_key(email)).await?
        {
            let provable = profile.email_verified && holder.user.email_verified && provider.link_by_email;
            if !provable {
                tracing::info!(provider = %provider.slug, verified_upstream = profile.email_verified, "an upstream address matches an account: not linked");
                return Err(UpstreamError::refused("email_in_use", "upstream_email_in_use"));
            }
            let pending =
                Pending { provider: provider.slug.clone(), profile, user_id: holder.user.id, username: holder.user.username, return_to };
            let token = refresh::new_token();
            let kept = serde_json::to_string(&pending).map_err(anyhow::Error::from)?;
            let expires_at = Utc::now() + chrono::Duration::seconds(CONFIRM_TTL_SECS);
            self.store.keep_upstream_flow(&refresh::hash(&token), CONFIRM, &refresh::hash(browser), &kept, expires_at).await?;
            return Ok(Outcome::Confirm(token));
        }
        // GATEHOUSE_REGISTRATION other than `open` makes accounts only by invitation or an admin.
        if !provider.allow_signup || accounts.registration != crate::config::RegistrationMode::Open {
            return Err(UpstreamError::refused("signup_closed", "upstream_signup_closed"));
        }
        let user = self.sign_up(audit, &provider, &profile).await?;
        self.sign_in(accounts, sessions, audit, user, &provider, &profile, client).await
    }

    /// The pending link a confirm page shows, for this browser only.
    pub async fn pending(&self, token: &str, browser: Option<&str>) -> Result<Pending, UpstreamError> {
        let expired = || UpstreamError::refused("confirm_unknown", "upstream_expired");
        if !refresh::looks_valid(token) {
            return Err(expired());
        }
        let (bound, kept) = self.store.peek_upstream_flow(&refresh::hash(token), CONFIRM).await?.ok_or_else(expired)?;
        if !browser.is_some_and(|b| bool::from(refresh::hash(b).ct_eq(&bound))) {
            return Err(expired());
        }
        Ok(serde_json::from_str(&kept).map_err(anyhow::Error::from)?)
    }

    /// The person proved the account with its password: the identity is linked and the
    /// sign-in goes on. A wrong password counts toward the account's lockout.
    #[allow(clippy::too_many_arguments)]
    pub async fn confirm(
        &self,
        accounts: &Accounts,
        sessions: &Sessions,
        audit: &Audit,
        token: &str,
        browser: Option<&str>,
        proof: Proof<'_>,
        client: ClientInfo,
    ) -> Result<(Outcome, String), UpstreamError> {
        let pending = self.pending(token, browser).await?;
        accounts.reserve_account(pending.user_id).await?;
        let credentials = self.store.credentials_by_id(pending.user_id).await?.ok_or(AccountError::InvalidCredentials)?;
        let proved = match proof {
            Proof::Password(password) => {
                matches!(accounts.hasher.verify(password, Some(&credentials.password_hash)).await?, Verdict::Match { .. })
            }
            // A refused passkey is counted and audited by the check itself.
            Proof::Passkey { ceremony_id, credential } => {
                accounts.check_passkey_proof(audit, pending.user_id, ceremony_id, credential).await?;
                true
            }
        };
        if !proved {
            crate::metrics::login("invalid_credentials");
            audit
                .record(
                    AuditType::LoginFailed,
                    None,
                    Some(pending.user_id),
                    json!({ "reason": "invalid_credentials", "step": "link_confirm" }),
                )
                .await;
            return Err(AccountError::InvalidCredentials.into());
        }
        accounts.lockout.clear(&credentials.user, None).await.map_err(AccountError::from)?;
        if self.store.take_upstream_flow(&refresh::hash(token), CONFIRM).await?.is_none() {
            return Err(UpstreamError::refused("confirm_used", "upstream_expired"));
        }
        let (provider, _) = self.store.provider_by_slug(&pending.provider).await?.ok_or(UpstreamError::UnknownProvider)?;
        self.link(audit, Some(pending.user_id), pending.user_id, &provider, &pending.profile, "email_confirmed").await?;
        let outcome = self.sign_in(accounts, sessions, audit, credentials.user, &provider, &pending.profile, client).await?;
        Ok((outcome, pending.return_to))
    }

    async fn link(
        &self,
        audit: &Audit,
        actor: Option<Uuid>,
        user_id: Uuid,
        provider: &Provider,
        profile: &Profile,
        via: &str,
    ) -> Result<(), UpstreamError> {
        let id = Uuid::now_v7();
        match self.store.link_identity(id, user_id, provider.id, &profile.subject, profile.email.as_deref()).await {
            Err(StoreError::Conflict(Conflict::IdentityTaken)) => {
                return Err(UpstreamError::refused("identity_linked_elsewhere", "upstream_identity_taken"));
            }
            other => other?,
        }
        let detail = json!({ "provider": provider.slug, "identity_id": id, "via": via });
        audit.record(AuditType::IdentityLinked, actor, Some(user_id), detail).await;
        Ok(())
    }

    /// A new account for an unknown identity: the username from the profile, made unique;
    /// the address as the provider gave it, verified only when the provider said so.
    async fn sign_up(&self, audit: &Audit, provider: &Provider, profile: &Profile) -> Result<User, UpstreamError> {
        let base =
            username_base([profile.preferred_username.as_deref(), profile.email.as_deref(), profile.name.as_deref()].into_iter().flatten());
        let email = profile.email.as_deref().and_then(|e| Email::parse(e).ok());
        for attempt in 0..20u32 {
            let candidate = match attempt {
                0 => base.clone(),
                1..=4 => format!("{base}{}", attempt + 1),
                _ => format!("{base}{}", rand::random::<u32>() % 100_000),
            };
            let Ok(username) = Username::parse(&candidate) else { continue };
            let new = NewUser {
                id: Uuid::now_v7(),
                username,
                email: email.clone(),
                password_hash: crate::store::NO_PASSWORD.to_string(),
                roles: vec![Role::user()],
            };
            match self.store.create_user_with_identity(new, profile.email_verified, provider.id, &profile.subject).await {
                Ok(user) => {
                    let detail = json!({ "username": user.username, "provider": provider.slug, "via": "upstream" });
                    audit.record(AuditType::UserRegistered, Some(user.id), Some(user.id), detail).await;
                    let linked = json!({ "provider": provider.slug, "via": "sign_up" });
                    audit.record(AuditType::IdentityLinked, Some(user.id), Some(user.id), linked).await;
                    tracing::info!(user_id = %user.id, provider = %provider.slug, "an account was made through an upstream provider");
                    return Ok(user);
                }
                Err(StoreError::Conflict(Conflict::UsernameTaken)) => continue,
                Err(StoreError::Conflict(Conflict::EmailTaken)) => {
                    return Err(UpstreamError::refused("email_in_use", "upstream_email_in_use"));
                }
                Err(StoreError::Conflict(Conflict::IdentityTaken)) => {
                    return Err(UpstreamError::refused("identity_linked_elsewhere", "upstream_identity_taken"));
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(UpstreamError::failed("username_exhausted"))
    }

    /// Signs a known account in like a password would: refused when disabled (or
    /// unverified where required), the TOTP step when it is on (unless the provider is
    /// trusted for MFA and did one), else a session.
    #[allow(clippy::too_many_arguments)]
    async fn sign_in(
        &self,
        accounts: &Accounts,
        sessions: &Sessions,
        audit: &Audit,
        user: User,
        provider: &Provider,
        profile: &Profile,
        client: ClientInfo,
    ) -> Result<Outcome, UpstreamError> {
        let refuse = |reason: &'static str| json!({ "reason": reason, "provider": provider.slug });
        if user.disabled {
            crate::metrics::login("disabled");
            audit.record(AuditType::LoginFailed, None, Some(user.id), refuse("account_disabled")).await;
            return Err(AccountError::Disabled.into());
        }
        if accounts.require_verified_email && !user.email_verified {
            crate::metrics::login("email_unverified");
            audit.record(AuditType::LoginFailed, None, Some(user.id), refuse("email_unverified")).await;
            return Err(AccountError::EmailUnverified.into());
        }
        let upstream_mfa = provider.trust_upstream_mfa && profile.mfa;
        if user.mfa_enabled && !upstream_mfa {
            crate::metrics::login("mfa_required");
            let token = mfa::challenge(&self.store, accounts.mfa_token_ttl, user.id, &user.username, "fed").await?;
            return Ok(Outcome::SecondStep(token));
        }
        let amr = if upstream_mfa { "fed mfa" } else { "fed" };
        let pair = sessions::start(sessions, user, client, amr).await?;
        crate::metrics::login("success");
        tracing::info!(user_id = %pair.user.id, provider = %provider.slug, "login succeeded through an upstream provider");
        let detail = json!({ "method": "upstream", "provider": provider.slug, "upstream_mfa": upstream_mfa });
        audit.record(AuditType::LoginSucceeded, Some(pair.user.id), Some(pair.user.id), detail).await;
        Ok(Outcome::SignedIn(Box::new(pair)))
    }
}
