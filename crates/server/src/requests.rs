//! The request bodies and query strings the API takes. Their types are api-model's, shared
//! with the API's client, so the wire format is defined once; what is the server's own is
//! here: the error of a field that does not hold what it should.

pub use baton_api_model::requests::*;

/// A request field that does not hold what it should.
#[derive(Debug, thiserror::Error)]
#[error("`{field}`: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}
