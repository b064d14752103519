//! Settings of webhooks: where deliveries may go, and how long their record is kept.

use clap::Args;

#[derive(Clone, Args)]
pub struct WebhookSettings {
    /// Lets webhook URLs use `http` and reach loopback, private and link-local addresses
    /// (development and tests only: it opens server-side request forgery).
    #[arg(long, env = "GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(), global = true)]
    pub webhooks_allow_private: bool,

    /// Days finished webhook deliveries are kept (the deliveries list); older ones are pruned.
    #[arg(long, env = "GATEHOUSE_WEBHOOK_RETENTION_DAYS", default_value_t = 30, value_parser = clap::value_parser!(u32).range(1..=3650), global = true)]
    pub webhook_retention_days: u32,
}
