//! `/api/me`, `/api/users`, `/api/groups`, `/api/departments`: the people human tasks are
//! offered to. Anyone may read them; managing them takes an administrator.

use axum::extract::State;
use axum::http::StatusCode;

use baton_api_model as api;

use crate::error::{ApiResult, ErrorBody};
use crate::extract::{Acting, Json, Path};
use crate::requests::{NewGroup, NewMember, NewUser, SetPassword};
use crate::state::AppState;

/// The acting user (whom the request's token acts as), with their groups.
#[utoipa::path(get, path = "/api/me", tag = "people", responses((status = 200, body = api::User)))]
pub async fn me(State(state): State<AppState>, Acting(user): Acting) -> ApiResult<Json<api::User>> {
    Ok(Json(state.service.me(&user).await?))
}

/// Every user with their groups.
#[utoipa::path(get, path = "/api/users", tag = "people", responses((status = 200, body = Vec<api::User>)))]
pub async fn users(
    State(state): State<AppState>,
    Acting(user): Acting,
) -> ApiResult<Json<Vec<api::User>>> {
    Ok(Json(state.service.users(&user).await?))
}

/// Add a user (an administrator); a department named for the first time is made with them.
#[utoipa::path(post, path = "/api/users", tag = "people", request_body = NewUser,
    responses((status = 201, body = api::User), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn add_user(
    State(state): State<AppState>,
    Acting(user): Acting,
    Json(body): Json<NewUser>,
) -> ApiResult<(StatusCode, Json<api::User>)> {
    let new = baton_store::NewUser {
        name: body.name,
        department: body.department,
        admin: body.admin,
    };
    Ok((
        StatusCode::CREATED,
        Json(state.service.add_user(&user, new).await?),
    ))
}

/// Set the password a user signs in to the web UI with: the acting user's own, or (an
/// administrator) anyone's. Only its argon2 hash is kept.
#[utoipa::path(put, path = "/api/users/{user}/password", tag = "people", params(("user" = String, Path)), request_body = SetPassword,
    responses((status = 204, description = "The password is set"), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn set_password(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(for_user): Path<String>,
    Json(body): Json<SetPassword>,
) -> ApiResult<StatusCode> {
    state
        .service
        .set_password(&user, &for_user, &body.password)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every group with its members.
#[utoipa::path(get, path = "/api/groups", tag = "people", responses((status = 200, body = Vec<api::Group>)))]
pub async fn groups(
    State(state): State<AppState>,
    Acting(user): Acting,
) -> ApiResult<Json<Vec<api::Group>>> {
    Ok(Json(state.service.groups(&user).await?))
}

/// Add a group (an administrator).
#[utoipa::path(post, path = "/api/groups", tag = "people", request_body = NewGroup,
    responses((status = 201, body = api::Group), (status = 403, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_group(
    State(state): State<AppState>,
    Acting(user): Acting,
    Json(body): Json<NewGroup>,
) -> ApiResult<(StatusCode, Json<api::Group>)> {
    Ok((
        StatusCode::CREATED,
        Json(state.service.add_group(&user, &body.name).await?),
    ))
}

/// Add a user to a group (an administrator).
#[utoipa::path(post, path = "/api/groups/{group}/members", tag = "people", params(("group" = String, Path)), request_body = NewMember,
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn add_member(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path(group): Path<String>,
    Json(body): Json<NewMember>,
) -> ApiResult<StatusCode> {
    state.service.add_member(&user, &group, &body.user).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Take a user out of a group (an administrator); the user stays.
#[utoipa::path(delete, path = "/api/groups/{group}/members/{member}", tag = "people", params(("group" = String, Path), ("member" = String, Path)),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn remove_member(
    State(state): State<AppState>,
    Acting(user): Acting,
    Path((group, member)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    state.service.remove_member(&user, &group, &member).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Every department (made by adding a user with it).
#[utoipa::path(get, path = "/api/departments", tag = "people", responses((status = 200, body = Vec<String>)))]
pub async fn departments(
    State(state): State<AppState>,
    Acting(user): Acting,
) -> ApiResult<Json<Vec<String>>> {
    Ok(Json(state.service.departments(&user).await?))
}
