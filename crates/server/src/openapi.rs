//! The OpenAPI document's frame: its title, the bearer-token security scheme every `/api/...`
//! route asks for, and the error body's schema. The paths come from the routes themselves.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::Modify;

#[derive(utoipa::OpenApi)]
#[openapi(
    info(title = "Baton", description = "Baton's HTTP/JSON API: deploy definitions, start and operate instances, work human tasks, manage people and tokens. Every `/api/...` request needs `Authorization: Bearer TOKEN` (make one with `baton token create USER`)."),
    modifiers(&BearerToken),
    security(("bearer" = [])),
    components(schemas(crate::error::ErrorBody))
)]
pub struct ApiDoc;

/// Adds the `bearer` security scheme.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme("bearer", SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("baton_ID_SECRET").build()));
    }
}
