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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_hyphenated_form_of_a_uuid_is_taken() {
        let id = Uuid::now_v7();
        assert_eq!(parse_uuid(&id.hyphenated().to_string()), Some(id));
        assert_eq!(parse_uuid(&id.hyphenated().to_string().to_uppercase()), Some(id));
        for other in [id.simple().to_string(), id.braced().to_string(), id.urn().to_string(), String::new()] {
            assert_eq!(parse_uuid(&other), None, "{other}");
        }
    }
}
