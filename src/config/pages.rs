//! Settings of the pages people use (sign-in, sign-up, account): browser sessions, where
//! a sign-in may return to, and the branding.

use clap::Args;

#[derive(Clone, Args)]
#[command(next_help_heading = super::SETTINGS_HEADING)]
pub struct PageSettings {
    /// Origins besides this service's own that a page may return to after sign-in
    /// (`return_to`), comma-separated, e.g. `https://app.example.com`; anything else goes to
    /// the account page.
    #[arg(long, env = "GATEHOUSE_ALLOWED_RETURN_ORIGINS", value_delimiter = ',', value_parser = parse_origin, global = true)]
    pub allowed_return_origins: Vec<String>,

    /// Seconds a browser session lives at most, however active (absolute timeout).
    #[arg(long, env = "GATEHOUSE_BROWSER_SESSION_TTL", default_value_t = 43_200, value_parser = clap::value_parser!(u64).range(60..=2_592_000), global = true)]
    pub browser_session_ttl: u64,

    /// Seconds without a page request after which a browser session ends (idle timeout).
    #[arg(long, env = "GATEHOUSE_BROWSER_IDLE_TIMEOUT", default_value_t = 3_600, value_parser = clap::value_parser!(u64).range(60..=2_592_000), global = true)]
    pub browser_idle_timeout: u64,

    /// The product name the pages show.
    #[arg(long, env = "GATEHOUSE_PRODUCT_NAME", default_value = "Gatehouse", value_parser = parse_product_name, global = true)]
    pub product_name: String,

    /// The pages' accent colour (buttons, links, focus), as `#rrggbb`.
    #[arg(long, env = "GATEHOUSE_ACCENT_COLOR", default_value = "#2457c5", value_parser = parse_colour, global = true)]
    pub accent_color: String,

    /// An image file (PNG, JPEG, WebP or SVG) the pages show as the product's logo.
    #[arg(long, env = "GATEHOUSE_LOGO", global = true)]
    pub logo: Option<std::path::PathBuf>,

    /// Folder of templates that replace the built-in pages (same file names, see
    /// `templates/pages/`; `text.json` holds every sentence the pages show).
    #[arg(long, env = "GATEHOUSE_PAGE_TEMPLATES", global = true)]
    pub page_templates: Option<std::path::PathBuf>,
}

/// `scheme://host[:port]`, nothing after it, lower case.
fn parse_origin(value: &str) -> Result<String, String> {
    let value = value.trim().trim_end_matches('/').to_ascii_lowercase();
    let (scheme, rest) = value.split_once("://").ok_or_else(|| format!("{value:?} is not an origin like https://app.example.com"))?;
    if !matches!(scheme, "http" | "https") || rest.is_empty() || rest.contains(['/', '?', '#', '@']) {
        return Err(format!("{value:?} is not an origin like https://app.example.com"));
    }
    Ok(value)
}

fn parse_product_name(value: &str) -> Result<String, String> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > 64 || value.chars().any(char::is_control) {
        return Err("must be 1 to 64 characters".into());
    }
    Ok(value.to_string())
}

fn parse_colour(value: &str) -> Result<String, String> {
    let value = value.trim();
    let hex = value.strip_prefix('#').unwrap_or("");
    if hex.len() != 6 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(format!("{value:?} is not a colour like #2457c5"));
    }
    Ok(value.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        assert_eq!(parse_origin("https://App.example.com/").as_deref(), Ok("https://app.example.com"));
        assert_eq!(parse_origin("http://localhost:5000").as_deref(), Ok("http://localhost:5000"));
        for bad in ["app.example.com", "https://app.example.com/path", "javascript://x", "https://", "https://u@evil.test"] {
            assert!(parse_origin(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn colours_are_six_hex_digits() {
        assert_eq!(parse_colour("#AABBCC").as_deref(), Ok("#aabbcc"));
        for bad in ["red", "#abc", "#abcdeg", "aabbcc", "#aabbcc;}"] {
            assert!(parse_colour(bad).is_err(), "{bad}");
        }
    }
}
