//! Schemas of values whose rules live in code, built from the same constants and lists the
//! parsers use, so that the served document and the server cannot drift apart.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};
use uuid::Uuid;

use crate::domain::Role;
use crate::store::AuditType;

/// A role name: `user`, `admin` or a custom name (see [`Role::parse`]).
pub struct RoleName;

impl PartialSchema for RoleName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(Role::MAX_CHARS))
            .pattern(Some(Role::PATTERN))
            .description(Some("A role: `user`, `admin` or 1 to 32 of `a-z 0-9 _ -`."))
            .examples(["admin"])
            .into()
    }
}

impl ToSchema for RoleName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("RoleName")
    }
}

/// One of the audit event types (see [`AuditType`]).
pub struct AuditTypeName;

impl PartialSchema for AuditTypeName {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(AuditType::ALL.map(AuditType::as_str)))
            .description(Some("An audit event type."))
            .examples(["login.failed"])
            .into()
    }
}

impl ToSchema for AuditTypeName {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AuditTypeName")
    }
}

/// A UUID in the hyphenated form that the schema's `format: uuid` means (RFC 9562), in upper
/// or lower case; the simple, braced and URN forms that [`Uuid::parse_str`] also takes are not.
pub fn parse_uuid(raw: &str) -> Option<Uuid> {
    if raw.len() != 36 {
        return None;
    }
    Uuid::parse_str(raw).ok()
}

/// The pattern the schema of `T` states for `field`, compiled as a validator would.
#[cfg(test)]
pub(crate) fn stated_pattern<T: PartialSchema>(field: &str) -> regex::Regex {
    let schema = serde_json::to_value(T::schema()).expect("schema JSON");
    let property = if field.is_empty() { &schema } else { &schema["properties"][field] };
    let pattern = property["pattern"].as_str().unwrap_or_else(|| panic!("no pattern on {field:?} in {schema}"));
    regex::Regex::new(pattern).expect("the pattern compiles")
}

/// Every character of the Basic Multilingual Plane, and every 61st beyond it.
#[cfg(test)]
pub(crate) fn sample_chars() -> impl Iterator<Item = char> {
    (0..0x1_0000u32).chain((0x1_0000..=0x10_FFFF).step_by(61)).filter_map(char::from_u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_pattern_takes_exactly_the_role_names_the_server_takes() {
        let pattern = stated_pattern::<RoleName>("");
        let lengths = ["a".repeat(31), "a".repeat(32), "a".repeat(33)];
        for c in sample_chars() {
            for candidate in [c.to_string(), format!("a{c}"), format!("{c}{}", "a".repeat(31))] {
                assert_eq!(pattern.is_match(&candidate), Role::parse(&candidate).is_ok(), "{candidate:?}");
            }
        }
        for candidate in lengths.iter().map(String::as_str).chain(["", "admin", "user", "ops-1_2"]) {
            assert_eq!(pattern.is_match(candidate), Role::parse(candidate).is_ok(), "{candidate:?}");
        }
    }

    #[test]
    fn only_the_hyphenated_form_of_a_uuid_is_taken() {
        let id = Uuid::now_v7();
        assert_eq!(parse_uuid(&id.hyphenated().to_string()), Some(id));
        assert_eq!(parse_uuid(&id.hyphenated().to_string().to_uppercase()), Some(id));
        for other in [id.simple().to_string(), id.braced().to_string(), id.urn().to_string(), String::new()] {
            assert_eq!(parse_uuid(&other), None, "{other}");
        }
    }

    #[test]
    fn the_username_pattern_takes_exactly_the_usernames_the_server_takes() {
        let pattern = stated_pattern::<crate::http::auth::RegisterRequest>("username");
        for c in sample_chars() {
            for candidate in [format!("ab{c}"), format!("{c}{c}{c}"), format!("{c}{}", "a".repeat(31))] {
                let ok = crate::domain::Username::parse(&candidate).is_ok();
                assert_eq!(pattern.is_match(&candidate), ok, "{candidate:?}");
            }
        }
    }

    #[test]
    fn every_redirect_uri_the_pattern_allows_is_taken_and_the_usual_forms_are_allowed() {
        use crate::domain::client::redirect_uri;
        let pattern = stated_pattern::<crate::http::clients::RedirectUri>("");
        for c in sample_chars() {
            for candidate in [
                format!("https://app.example.com/cb{c}"),
                format!("https://ap{c}p.example.com/"),
                format!("https://app.example.com:8{c}/"),
                format!("http://localhost{c}/cb"),
                format!("com.example.app:{c}"),
                format!("com.example{c}app:/cb"),
                format!("https://app.example.com/?q={c}"),
            ] {
                assert!(!pattern.is_match(&candidate) || redirect_uri(&candidate).is_ok(), "{candidate:?}");
            }
        }
        for usual in [
            "https://app.example.com/callback",
            "http://localhost:5000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth",
            "https://a-b.example:65535/x?y=1&z=%20",
        ] {
            assert!(pattern.is_match(usual) && redirect_uri(usual).is_ok(), "{usual}");
        }
        for refused in
            ["http://app.example.com/cb", "https://app.example.com/#f", "myapp:/cb", "https://", "https://1.2.3.4.5/", "https://a:65536/"]
        {
            assert!(!pattern.is_match(refused), "{refused}");
        }
    }

    #[test]
    fn the_user_filter_pattern_refuses_exactly_the_control_characters() {
        use utoipa::IntoParams;
        let params = crate::http::users::UserListParams::into_params(|| None);
        let q = params.iter().find(|p| p.name == "q").expect("q");
        let schema = serde_json::to_value(q).expect("parameter JSON");
        let pattern = regex::Regex::new(schema["schema"]["pattern"].as_str().expect("q pattern")).expect("compiles");
        for c in sample_chars() {
            assert_eq!(pattern.is_match(&format!("al{c}")), !c.is_control(), "{c:?}");
        }
        assert!(pattern.is_match(""));
    }
}
