//! The API's error answer, and the one place an error becomes an HTTP status.
//!
//! Every error body is `{"error": {"code": KIND, "message": TEXT, "details": VALUE}}`, with
//! `code` one of the service's error kinds. The rule for statuses: a request that cannot be
//! read (JSON that does not parse, a wrong content type, a bad query or path) is 400 (413 past
//! the body limit, 415 for the content type); a request that was read but whose content the
//! service refuses (kind `invalid`: a definition with problems, data that fails its checks, a
//! count past its bound) is 422. The other kinds: `unauthenticated` 401, `forbidden` 403,
//! `not_found` 404, `conflict` 409, `unavailable` 503 (also when the server keeps as many
//! event streams open as it may), `internal` 500.

use axum::extract::rejection::{BytesRejection, JsonRejection, PathRejection, QueryRejection};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use baton_api_model::ErrorKind;
use baton_engine::EngineError;
use baton_service::ServiceError;

/// Why a request failed, as the API answers it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The service refused or failed the request.
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// The request could not be read (its body, query or path); `status` is axum's (400, 413, 415).
    #[error("{message}")]
    Unreadable { status: StatusCode, message: String },
    /// A request field that was read but does not hold what it should.
    #[error(transparent)]
    Field(#[from] crate::requests::FieldError),
    /// No valid bearer token came with the request. Every reason (none, unknown, revoked,
    /// expired) gets this same answer, so a client cannot probe which tokens exist.
    #[error("this request needs `Authorization: Bearer TOKEN` with a valid Baton API token")]
    Unauthenticated,
    /// A changing request signed in by the browser's cookie alone, without the web UI's header:
    /// it may come from another site's page.
    #[error("a request signed in by the browser's cookie that changes something must carry the `X-Baton-UI` header, as the web UI's do")]
    CrossSite,
    /// No route has this path.
    #[error("there is no API route {0}")]
    NoRoute(String),
    /// The route exists but not with this method.
    #[error("this route does not take {0}")]
    MethodNotAllowed(String),
    /// As many event streams as the server keeps are open.
    #[error(
        "the server already serves {} event streams, its most; try again later",
        crate::state::MAX_EVENT_STREAMS
    )]
    TooManyStreams,
}

/// The body of every error answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// One error: its kind, a sentence for a person, and what else applies.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorDetail {
    /// The error kind: `invalid`, `unauthenticated`, `forbidden`, `not_found`, `conflict`,
    /// `unavailable` or `internal`.
    pub code: ErrorKind,
    /// What went wrong (for `internal`, a generic sentence with the id its log line has).
    pub message: String,
    /// For a definition with problems, each problem; for an internal error, the id its log
    /// line has; else `null`.
    pub details: Option<ErrorDetails>,
}

/// What an error answer says besides its message.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum ErrorDetails {
    /// Every problem of the definitions a deploy was refused for.
    Problems(Vec<Problem>),
    /// An internal error: `{"error_id": ID}`.
    Internal { error_id: String },
}

/// One problem in a definition file.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// The file's name, as the deploy gave it.
    pub file: String,
    /// Where in the file, from 1.
    pub line: usize,
    pub column: usize,
    pub message: String,
    /// How to fix it, when Baton has an idea.
    pub hint: Option<String>,
}

impl ApiError {
    /// The HTTP status of this error: see the module doc.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Service(e) => match e.kind() {
                ErrorKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
                ErrorKind::Unauthenticated => StatusCode::UNAUTHORIZED,
                ErrorKind::Forbidden => StatusCode::FORBIDDEN,
                ErrorKind::NotFound => StatusCode::NOT_FOUND,
                ErrorKind::Conflict => StatusCode::CONFLICT,
                ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            },
            Self::Unreadable { status, .. } => *status,
            Self::Field(_) => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::CrossSite => StatusCode::FORBIDDEN,
            Self::NoRoute(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::TooManyStreams => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            Self::Service(e) => e.kind(),
            Self::Unreadable { .. } | Self::Field(_) | Self::MethodNotAllowed(_) => {
                ErrorKind::Invalid
            }
            Self::Unauthenticated => ErrorKind::Unauthenticated,
            Self::CrossSite => ErrorKind::Forbidden,
            Self::NoRoute(_) => ErrorKind::NotFound,
            Self::TooManyStreams => ErrorKind::Unavailable,
        }
    }

    /// The body: the message the service would show, and the details that apply.
    fn body(&self) -> ErrorBody {
        let code = self.kind();
        let (message, details) = match self {
            Self::Service(e) if code == ErrorKind::Internal => {
                // The error's text may name internals: it goes to the log under an id the
                // client is given, and the client hears only that something failed.
                let id = uuid::Uuid::now_v7().to_string();
                tracing::error!(error_id = %id, error = %e, "request failed");
                let message = format!("{} (error id {id})", e.to_view().message);
                (message, Some(ErrorDetails::Internal { error_id: id }))
            }
            Self::Service(e) => (e.to_view().message, diagnostics(e)),
            other => (other.to_string(), None),
        };
        ErrorBody {
            error: ErrorDetail {
                code,
                message,
                details,
            },
        }
    }
}

/// A deploy's problems, each with its file and position; none for any other error.
fn diagnostics(error: &ServiceError) -> Option<ErrorDetails> {
    let files = match error {
        ServiceError::Engine(EngineError::Definition(e)) => std::slice::from_ref(e),
        ServiceError::Engine(EngineError::Definitions(all)) => all.as_slice(),
        _ => return None,
    };
    let problems = files
        .iter()
        .flat_map(|f| {
            f.diagnostics.iter().map(move |d| Problem {
                file: f.file.clone(),
                line: d.line,
                column: d.column,
                message: d.message.clone(),
                hint: d.hint.clone(),
            })
        })
        .collect();
    Some(ErrorDetails::Problems(problems))
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = (status, axum::Json(self.body())).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        Self::Unreadable {
            status: rejection.status(),
            message: rejection.body_text(),
        }
    }
}

impl From<BytesRejection> for ApiError {
    fn from(rejection: BytesRejection) -> Self {
        Self::Unreadable {
            status: rejection.status(),
            message: rejection.body_text(),
        }
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        Self::Unreadable {
            status: StatusCode::BAD_REQUEST,
            message: rejection.body_text(),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        Self::Unreadable {
            status: StatusCode::BAD_REQUEST,
            message: rejection.body_text(),
        }
    }
}

/// The result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
