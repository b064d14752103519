//! Schemas of the WebAuthn answers the passkey `finish` routes take: a `PublicKeyCredential`
//! as its `toJSON()` gives it (WebAuthn Level 3 §5.1, `RegistrationResponseJSON` and
//! `AuthenticationResponseJSON`), in the shape the server reads it (webauthn-rs): the
//! members it needs are required, binary ones are base64url, other members are ignored.

use std::borrow::Cow;

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

/// Base64url with or without padding, its last character canonical (unused bits zero), as
/// the server decodes it.
pub const BASE64URL_PATTERN: &str = r"^(?:[A-Za-z0-9_-]{4})*(?:[A-Za-z0-9_-][AQgw](?:==)?|[A-Za-z0-9_-]{2}[AEIMQUYcgkosw048]=?)?$";

fn binary(description: &str) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(Type::String).pattern(Some(BASE64URL_PATTERN)).description(Some(description))
}

/// The members both ceremonies share around their `response`.
fn credential(title: &str, description: &str, response: ObjectBuilder) -> RefOr<Schema> {
    ObjectBuilder::new()
        .title(Some(title))
        .description(Some(description))
        .property("id", ObjectBuilder::new().schema_type(Type::String).description(Some("The credential id, base64url")))
        .required("id")
        .property("rawId", binary("The credential id"))
        .required("rawId")
        .property("type", ObjectBuilder::new().schema_type(Type::String).enum_values(Some(["public-key"])))
        .required("type")
        .property("response", response)
        .required("response")
        .property(
            "clientExtensionResults",
            ObjectBuilder::new().schema_type(Type::Object).description(Some("`getClientExtensionResults()`; may be left out")),
        )
        .property("authenticatorAttachment", ObjectBuilder::new().schema_type(Type::String).description(Some("Ignored")))
        .into()
}

/// The answer of `navigator.credentials.create` (registration).
pub struct RegistrationCredential;

impl PartialSchema for RegistrationCredential {
    fn schema() -> RefOr<Schema> {
        let transports = ArrayBuilder::new().items(ObjectBuilder::new().schema_type(Type::String)).description(Some("`getTransports()`"));
        let response = ObjectBuilder::new()
            .property("clientDataJSON", binary("The client data, as the browser gave it"))
            .required("clientDataJSON")
            .property("attestationObject", binary("The CBOR attestation object"))
            .required("attestationObject")
            .property("transports", transports);
        credential("RegistrationResponseJSON", "The `PublicKeyCredential` of `navigator.credentials.create`, as JSON", response)
    }
}

impl ToSchema for RegistrationCredential {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("RegistrationCredential")
    }
}

/// The answer of `navigator.credentials.get` (a sign-in or a second step).
pub struct AuthenticationCredential;

impl PartialSchema for AuthenticationCredential {
    fn schema() -> RefOr<Schema> {
        let user_handle = ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::SchemaType::from_iter([Type::String, Type::Null]))
            .pattern(Some(BASE64URL_PATTERN))
            .description(Some("The user handle; null or left out for a key that keeps none"));
        let response = ObjectBuilder::new()
            .property("clientDataJSON", binary("The client data, as the browser gave it"))
            .required("clientDataJSON")
            .property("authenticatorData", binary("The authenticator data"))
            .required("authenticatorData")
            .property("signature", binary("The assertion signature"))
            .required("signature")
            .property("userHandle", user_handle);
        credential("AuthenticationResponseJSON", "The `PublicKeyCredential` of `navigator.credentials.get`, as JSON", response)
    }
}

impl ToSchema for AuthenticationCredential {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("AuthenticationCredential")
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
    use serde_json::json;
    use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

    use super::*;

    #[test]
    fn the_base64url_pattern_takes_exactly_what_the_credential_reader_decodes() {
        let pattern = regex::Regex::new(BASE64URL_PATTERN).expect("compiles");
        let mut candidates: Vec<String> = Vec::new();
        for len in 0..7usize {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 250) as u8).collect();
            candidates.extend([URL_SAFE_NO_PAD.encode(&bytes), URL_SAFE.encode(&bytes)]);
        }
        for tail in ["A", "AB", "ABC", "AB=", "AB==", "ABC=", "AAB=", "AAc", "A+/=", "AAAA=", "AA===", " AAAA", "AAAA\n"] {
            candidates.push(tail.to_string());
        }
        for candidate in candidates {
            let credential = json!({ "id": "x", "rawId": candidate, "type": "public-key",
                "response": { "clientDataJSON": "", "authenticatorData": "", "signature": "" } });
            let read = serde_json::from_value::<PublicKeyCredential>(credential).is_ok();
            assert_eq!(pattern.is_match(&candidate), read, "{candidate:?}");
        }
    }

    #[test]
    fn the_required_members_are_those_the_reader_needs() {
        let registration = json!({ "id": "x", "rawId": "AA", "type": "public-key",
            "response": { "clientDataJSON": "AA", "attestationObject": "AA" } });
        assert!(serde_json::from_value::<RegisterPublicKeyCredential>(registration.clone()).is_ok());
        let schema = serde_json::to_value(RegistrationCredential::schema()).expect("JSON");
        for member in schema["required"].as_array().expect("required") {
            let mut without = registration.clone();
            without.as_object_mut().expect("object").remove(member.as_str().expect("name"));
            assert!(serde_json::from_value::<RegisterPublicKeyCredential>(without).is_err(), "{member}");
        }
        for member in schema["properties"]["response"]["required"].as_array().expect("required") {
            let mut without = registration.clone();
            without["response"].as_object_mut().expect("object").remove(member.as_str().expect("name"));
            assert!(serde_json::from_value::<RegisterPublicKeyCredential>(without).is_err(), "{member}");
        }
    }
}
