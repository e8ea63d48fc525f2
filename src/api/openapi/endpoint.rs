//! A small builder for the operations of the document: one chain per route, with the
//! responses every route shares (503 when the store is down) added once.

use utoipa::openapi::path::{OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{Array, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::SecurityRequirement;
use utoipa::openapi::{Content, Ref, RefOr, Required, ResponseBuilder};

/// Security scheme name of the `access_token` header.
pub const USER_HEADER: &str = "access_token";
/// Security scheme name of `Authorization: Bearer`.
pub const USER_BEARER: &str = "bearer";

/// One operation of the document being described.
pub struct Endpoint(pub OperationBuilder);

pub fn endpoint(tag: &str, summary: &str) -> Endpoint {
    Endpoint(
        OperationBuilder::new()
            .tag(tag)
            .summary(Some(summary))
            .response(
                "503",
                ResponseBuilder::new()
                    .description("The store is unavailable; retry later")
                    .content(
                        "application/json",
                        Content::new(Some(component("ErrorBody"))),
                    ),
            ),
    )
}

fn component(name: &str) -> RefOr<Schema> {
    Ref::from_schema_name(name).into()
}

pub fn string() -> Schema {
    ObjectBuilder::new().schema_type(Type::String).into()
}

pub fn integer(minimum: u32, maximum: u32) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(minimum))
        .maximum(Some(maximum))
        .into()
}

pub fn enumeration(values: &[&str]) -> Schema {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .into()
}

impl Endpoint {
    fn response(
        self,
        status: u16,
        description: &str,
        content: Option<(&str, RefOr<Schema>)>,
    ) -> Self {
        let mut response = ResponseBuilder::new().description(description);
        if let Some((media_type, schema)) = content {
            response = response.content(media_type, Content::new(Some(schema)));
        }
        Endpoint(self.0.response(status.to_string(), response))
    }

    pub fn replies(self, status: u16, description: &str, schema: &str) -> Self {
        self.response(
            status,
            description,
            Some(("application/json", component(schema))),
        )
    }

    pub fn replies_array(self, status: u16, description: &str, schema: &str) -> Self {
        let array = Schema::Array(Array::new(component(schema)));
        self.response(
            status,
            description,
            Some(("application/json", array.into())),
        )
    }

    pub fn object(self, status: u16, description: &str) -> Self {
        let object: Schema = ObjectBuilder::new().schema_type(Type::Object).into();
        self.response(
            status,
            description,
            Some(("application/json", object.into())),
        )
    }

    pub fn text(self, status: u16, description: &str) -> Self {
        self.response(status, description, Some(("text/plain", string().into())))
    }

    pub fn empty(self, status: u16, description: &str) -> Self {
        self.response(status, description, None)
    }

    pub fn fails(self, status: u16, description: &str) -> Self {
        self.replies(status, description, "ErrorBody")
    }

    /// Refused by a per-address rate limit; the `Retry-After` header says when to retry.
    pub fn rate_limited(self, what: &str) -> Self {
        self.fails(
            429,
            &format!("Too many {what} from this address; see `Retry-After`"),
        )
    }

    /// A password is hashed: 503 also when too many hashes are in progress.
    pub fn hashing_busy(self) -> Self {
        self.fails(
            503,
            "The store is unavailable, or too many password checks are in progress \
             (`PLADMED_HASH_CONCURRENCY`; see `Retry-After`); retry later",
        )
    }

    /// A malformed body or field; the message names the field.
    pub fn bad_request(self) -> Self {
        self.fails(400, "Invalid request; the message names the field")
    }

    /// A JSON body (any content type is accepted, as by the original backend), at most 1 MiB.
    pub fn body(self, schema: &str) -> Self {
        let body = RequestBodyBuilder::new()
            .required(Some(Required::True))
            .content("application/json", Content::new(Some(component(schema))))
            .build();
        Endpoint(self.0.request_body(Some(body)))
            .fails(413, "Body larger than 1 MiB")
            .fails(408, "Body not received within `PLADMED_REQUEST_TIMEOUT_S`")
    }

    /// Requires a user token in `access_token` or `Authorization: Bearer`.
    pub fn user(self) -> Self {
        let operation = self
            .0
            .security(SecurityRequirement::new::<_, [&str; 0], &str>(
                USER_HEADER,
                [],
            ))
            .security(SecurityRequirement::new::<_, [&str; 0], &str>(
                USER_BEARER,
                [],
            ));
        Endpoint(operation).fails(401, "Missing or invalid user token")
    }

    /// Requires `?code=` (mandatory in production, open in development when unset).
    pub fn code(self, variable: &str) -> Self {
        let description = format!("The secret `{variable}`");
        self.query("code", true, &description, string())
    }

    fn parameter(
        self,
        name: &str,
        place: ParameterIn,
        required: bool,
        description: &str,
        schema: Schema,
    ) -> Self {
        let parameter = ParameterBuilder::new()
            .name(name)
            .parameter_in(place)
            .required(if required {
                Required::True
            } else {
                Required::False
            })
            .description(Some(description))
            .schema(Some(schema));
        Endpoint(self.0.parameter(parameter))
    }

    pub fn query(self, name: &str, required: bool, description: &str, schema: Schema) -> Self {
        self.parameter(name, ParameterIn::Query, required, description, schema)
    }

    pub fn path_param(self, name: &str, description: &str) -> Self {
        self.parameter(name, ParameterIn::Path, true, description, string())
    }

    pub fn header(self, name: &str, description: &str) -> Self {
        self.parameter(name, ParameterIn::Header, false, description, string())
    }
}
