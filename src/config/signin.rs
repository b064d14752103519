//! Settings of the sign-in by email code and of the breached-password check.

use clap::Args;

#[derive(Clone, Args)]
pub struct SignInSettings {
    /// Sign-in by a code mailed to the account's verified address: `on` or `off`. Mail can
    /// always be sent (SMTP, else the outbox), so it is on unless turned off.
    #[arg(long, env = "GATEHOUSE_EMAIL_CODE", default_value = "on", value_parser = parse_on_off, global = true)]
    pub email_code: bool,

    /// An address no account holds gets a code too, and the code makes a passwordless
    /// account with that address, verified.
    #[arg(long, env = "GATEHOUSE_EMAIL_CODE_SIGNUP", default_value_t = false, action = clap::ArgAction::Set,
        value_parser = clap::builder::BoolishValueParser::new(), global = true)]
    pub email_code_signup: bool,

    /// Sign-in codes mailed to one address (or account) an hour; past it, the request is
    /// still answered 202 and nothing is mailed. 0 turns the cap off.
    #[arg(long, env = "GATEHOUSE_EMAIL_CODE_PER_HOUR", default_value_t = 5, global = true)]
    pub email_code_per_hour: u32,

    /// Seconds a sign-in code works (at most the 10 minutes the contract states).
    #[arg(long, env = "GATEHOUSE_EMAIL_CODE_TTL", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=600), global = true)]
    pub email_code_ttl: u64,

    /// Where new passwords are looked up among known breached ones: `api` (the Pwned
    /// Passwords range API, by k-anonymity), `file:PATH` (a local copy in its range format,
    /// one file per 5-hex prefix), or `off`.
    #[arg(long, env = "GATEHOUSE_BREACHED_PASSWORDS", default_value = "api", value_parser = parse_breach_source, global = true)]
    pub breached_passwords: BreachSource,

    /// The range API's base URL (`/range/{prefix}` is appended).
    #[arg(long, env = "GATEHOUSE_BREACHED_PASSWORDS_API_URL", default_value = "https://api.pwnedpasswords.com",
        value_parser = super::values::parse_url, global = true)]
    pub breached_passwords_api_url: String,
}

/// Where breached passwords are looked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BreachSource {
    Api,
    File(std::path::PathBuf),
    Off,
}

fn parse_on_off(value: &str) -> Result<bool, String> {
    match value {
        "on" => Ok(true),
        "off" => Ok(false),
        _ => Err("must be `on` or `off`".into()),
    }
}

fn parse_breach_source(value: &str) -> Result<BreachSource, String> {
    match value {
        "api" => Ok(BreachSource::Api),
        "off" => Ok(BreachSource::Off),
        _ => match value.strip_prefix("file:") {
            Some(path) if !path.is_empty() => Ok(BreachSource::File(path.into())),
            _ => Err("must be `api`, `file:PATH` or `off`".into()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breach_sources_parse_from_their_three_forms() {
        assert_eq!(parse_breach_source("api"), Ok(BreachSource::Api));
        assert_eq!(parse_breach_source("off"), Ok(BreachSource::Off));
        assert_eq!(parse_breach_source("file:/srv/pwned"), Ok(BreachSource::File("/srv/pwned".into())));
        assert!(parse_breach_source("file:").is_err());
        assert!(parse_breach_source("yes").is_err());
        assert_eq!(parse_on_off("on"), Ok(true));
        assert!(parse_on_off("true").is_err());
    }
}
