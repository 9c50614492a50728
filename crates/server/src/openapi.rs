//! The OpenAPI document's frame: its title, the bearer-token security scheme every `/api/...`
//! route asks for, and the error body's schema. The paths come from the routes themselves;
//! [`add_shared_answers`] then adds to each operation the answers that come from what every
//! request passes through before its handler (the token check, reading the path, query and
//! body), so that the document lists every status an operation can answer.

use utoipa::openapi::content::Content;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::Operation;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ObjectBuilder, OpenApi, Ref, RefOr, Type};
use utoipa::Modify;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Baton", description = "Baton's HTTP/JSON API: deploy definitions, start and operate instances, work human tasks, manage people and tokens. Every `/api/...` request needs `Authorization: Bearer TOKEN` (make one with `baton token create USER`)."),
    modifiers(&BearerToken),
    security(("bearer" = [])),
    // `InboxStatus` is only a query parameter's type, which utoipa does not collect.
    components(schemas(crate::error::ErrorBody, baton_api_model::InboxStatus))
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("baton_ID_SECRET")
                    .build(),
            ),
        );
    }
}

/// Which operations an answer of [`SHARED_ANSWERS`] applies to.
#[derive(Clone, Copy)]
enum Applies {
    /// Those that need a token (every `/api/...` operation).
    Secured,
    /// Those that read a path or query parameter or a body.
    AnyInput,
    /// Those that read a JSON body.
    Body,
}

/// The answers that do not come from a handler: (status, name under `components/responses`,
/// description, which operations give it). All have the error body.
const SHARED_ANSWERS: [(&str, &str, &str, Applies); 6] = [
    ("400", "Unreadable", "The request could not be read: a body that is not JSON, or a path or query value of the wrong type.", Applies::AnyInput),
    ("401", "Unauthenticated", "No valid bearer token came with the request (none, unknown, revoked or expired: the same answer for each).", Applies::Secured),
    ("413", "TooLarge", "The body is larger than the API reads (16 MiB).", Applies::Body),
    ("415", "NotJson", "The body is not `Content-Type: application/json`.", Applies::Body),
    ("422", "Invalid", "The body is JSON but not what the operation takes (a missing, unknown or mistyped field), or the service refuses its content.", Applies::Body),
    ("500", "Internal", "Baton failed to carry out the request; the message holds the id its log line has.", Applies::Secured),
];

/// Adds the [`SHARED_ANSWERS`] to the components and, as references, to each operation they
/// apply to that does not document that status itself.
pub fn add_shared_answers(document: &mut OpenApi) {
    let components = document.components.get_or_insert_with(Default::default);
    for (status, name, description, _) in SHARED_ANSWERS {
        let mut answer = ResponseBuilder::new().description(description).content(
            "application/json",
            Content::new(Some(Ref::from_schema_name("ErrorBody"))),
        );
        if status == "401" {
            let challenge = ObjectBuilder::new().schema_type(Type::String).build();
            answer = answer.header("WWW-Authenticate", Header::new(challenge));
        }
        components
            .responses
            .insert(name.to_owned(), RefOr::T(answer.build()));
    }
    for item in document.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, name, _, applies) in SHARED_ANSWERS {
                if applies_to(applies, operation) {
                    operation
                        .responses
                        .responses
                        .entry(status.to_owned())
                        .or_insert_with(|| Ref::from_response_name(name).into());
                }
            }
        }
    }
}

fn applies_to(applies: Applies, operation: &Operation) -> bool {
    let body = operation.request_body.is_some();
    match applies {
        // An operation that names no security of its own has the document's: the bearer token.
        Applies::Secured => operation.security.is_none(),
        Applies::AnyInput => body || operation.parameters.as_ref().is_some_and(|p| !p.is_empty()),
        Applies::Body => body,
    }
}
