//! The flows' field messages ("must be 3 to 32 characters long") are written for API
//! clients, to sit after a field's name. A person reading a form gets a sentence instead.

use super::Pages;
use crate::accounts::BREACHED;

/// The sentence a form shows beside `field` for a flow's `message` about it.
pub(super) fn for_person(pages: &Pages, field: &str, message: &str) -> String {
    let key = match field {
        "username" if message.starts_with("must be 3 to 32") => "username_length",
        "username" => "username_characters",
        "email" => "email_invalid",
        "password" | "new_password" if message == BREACHED => "password_breached",
        "password" | "new_password" if message.starts_with("must be at least") => "password_short",
        "password" | "new_password" if message.starts_with("must be at most") => "password_long",
        "password" | "new_password" if message.starts_with("must not be your") => "password_personal",
        "password" | "new_password" => {
            // zxcvbn's own warning ("This is a top-10 common password.") is a sentence already.
            let why = message.strip_prefix("is too easy to guess: ").unwrap_or_default();
            return format!("{} {why}", pages.text("password_guessable")).trim_end().to_string();
        }
        _ => return capitalised(message),
    };
    let minimum: String = message.chars().filter(char::is_ascii_digit).collect();
    pages.text(key).replace("{min}", &minimum)
}

fn capitalised(message: &str) -> String {
    let mut chars = message.chars();
    let sentence: String = chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default();
    if sentence.ends_with('.') { sentence } else { format!("{sentence}.") }
}
