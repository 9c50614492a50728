//! The web UI's sign-in: passwords set through the API, a sign-in by password or token that
//! sets the HttpOnly cookie and opens a session, requests authenticated by that cookie (a
//! changing one only with the UI's header), and the sign-out that ends it all.

mod support;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use serde_json::{json, Value};

use support::{api, code, Answer, Api};

/// The `name=value` pairs of the answer's `Set-Cookie` headers, each with its attributes.
fn set_cookies(answer: &Answer) -> Vec<String> {
    answer
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The `Cookie` header a browser sends back after `answer`.
fn cookie_header(answer: &Answer) -> String {
    set_cookies(answer)
        .iter()
        .map(|c| c.split(';').next().unwrap().to_owned())
        .collect::<Vec<_>>()
        .join("; ")
}

async fn with_cookie(
    api: &Api,
    method: Method,
    path: &str,
    cookie: &str,
    ui_header: bool,
    body: Option<Value>,
) -> Answer {
    let mut request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, cookie);
    if ui_header {
        request = request.header("x-baton-ui", "1");
    }
    let request = match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string())),
        None => request.body(Body::empty()),
    };
    api.send(request.unwrap()).await
}

async fn set_password(api: &Api, token: &str, user: &str, password: &str) -> Answer {
    api.call(
        Method::PUT,
        &format!("/api/users/{user}/password"),
        Some(token),
        Some(json!({"password": password})),
    )
    .await
}

async fn sign_in(api: &Api, body: Value) -> Answer {
    api.call(Method::POST, "/api/sign-in", None, Some(body))
        .await
}

#[tokio::test]
async fn a_user_signs_in_by_password_into_an_httponly_cookie_and_a_new_session() {
    let api = api().await;
    assert_eq!(
        set_password(&api, &api.john, "john", "correct horse")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let signed_in = sign_in(&api, json!({"user": "john", "password": "correct horse"})).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    assert_eq!(signed_in.body["user"]["name"], "john");
    assert_eq!(signed_in.body["user"]["groups"], json!(["editors"]));
    let session = signed_in.body["session"]["id"].as_str().unwrap().to_owned();
    let cookies = set_cookies(&signed_in);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    for (cookie, name) in cookies.iter().zip(["baton_auth=", "baton_session="]) {
        assert!(cookie.starts_with(name), "{cookie}");
        for attribute in ["HttpOnly", "SameSite=Strict", "Path=/", "Max-Age=43200"] {
            assert!(cookie.contains(attribute), "{cookie} lacks {attribute}");
        }
    }
    assert!(cookies[1].starts_with(&format!("baton_session={session};")));
    assert!(
        !signed_in.body.to_string().contains("baton_"),
        "the credential is in no body: {}",
        signed_in.body
    );

    let cookie = cookie_header(&signed_in);
    let me = with_cookie(&api, Method::GET, "/api/me", &cookie, false, None).await;
    assert_eq!(
        (me.status, me.body["name"].clone()),
        (StatusCode::OK, json!("john"))
    );
    let open = with_cookie(
        &api,
        Method::GET,
        &format!("/api/sessions/{session}"),
        &cookie,
        false,
        None,
    )
    .await;
    assert_eq!(
        open.status,
        StatusCode::OK,
        "the sign-in's session is open: {}",
        open.body
    );
    let tokens = api.get("/api/tokens", &api.john).await;
    let names: Vec<&Value> = tokens
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["name"])
        .collect();
    assert_eq!(names, [&json!(null), &json!("web sign-in")]);
}

#[tokio::test]
async fn an_unknown_user_no_password_and_a_wrong_password_are_refused_alike() {
    let api = api().await;
    set_password(&api, &api.john, "john", "correct horse").await;
    let answers = [
        sign_in(&api, json!({"user": "john", "password": "wrong horse"})).await,
        sign_in(&api, json!({"user": "eve", "password": "correct horse"})).await,
        sign_in(&api, json!({"user": "ghost", "password": "correct horse"})).await,
        sign_in(&api, json!({"token": "baton_0000_nope"})).await,
    ];
    for answer in &answers {
        assert_eq!(
            (answer.status, code(answer)),
            (StatusCode::UNAUTHORIZED, "unauthenticated"),
            "{}",
            answer.body
        );
        assert_eq!(answer.body, answers[0].body);
        assert!(set_cookies(answer).is_empty());
    }
    let tokens = api.get("/api/tokens", &api.john).await;
    assert_eq!(
        tokens.body.as_array().unwrap().len(),
        1,
        "no sign-in token was made"
    );
}

#[tokio::test]
async fn a_sign_in_needs_a_name_and_password_or_a_token() {
    let api = api().await;
    for body in [
        json!({"user": "john"}),
        json!({"user": "john", "password": "x", "token": "y"}),
        json!({}),
    ] {
        let answer = sign_in(&api, body.clone()).await;
        assert_eq!(
            (answer.status, code(&answer)),
            (StatusCode::UNPROCESSABLE_ENTITY, "invalid"),
            "{body}: {}",
            answer.body
        );
    }
}

#[tokio::test]
async fn a_password_is_the_users_own_to_set_or_an_administrators() {
    let api = api().await;
    let refused = set_password(&api, &api.eve, "john", "eve's choice").await;
    assert_eq!(
        (refused.status, code(&refused)),
        (StatusCode::FORBIDDEN, "forbidden")
    );
    assert_eq!(
        set_password(&api, &api.chief, "john", "chief's choice")
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        sign_in(&api, json!({"user": "john", "password": "chief's choice"}))
            .await
            .status,
        StatusCode::OK
    );
    let short = set_password(&api, &api.john, "john", "short").await;
    assert_eq!(
        (short.status, code(&short)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid")
    );
    assert!(
        short.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("8 to 1024 characters"),
        "{}",
        short.body
    );
    let long = set_password(&api, &api.john, "john", &"x".repeat(1025)).await;
    assert_eq!(long.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        sign_in(&api, json!({"user": "john", "password": "chief's choice"}))
            .await
            .status,
        StatusCode::OK,
        "a refused change changes nothing"
    );
    let unknown = set_password(&api, &api.chief, "ghost", "whatever it is").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND, "{}", unknown.body);
}

#[tokio::test]
async fn a_changing_request_by_cookie_alone_needs_the_ui_header() {
    let api = api().await;
    set_password(&api, &api.john, "john", "correct horse").await;
    let cookie =
        cookie_header(&sign_in(&api, json!({"user": "john", "password": "correct horse"})).await);
    let cross_site = with_cookie(
        &api,
        Method::POST,
        "/api/instances",
        &cookie,
        false,
        Some(json!({"process": "review"})),
    )
    .await;
    assert_eq!(
        (cross_site.status, code(&cross_site)),
        (StatusCode::FORBIDDEN, "forbidden"),
        "{}",
        cross_site.body
    );
    let listed = api.get("/api/instances", &api.john).await;
    assert_eq!(
        listed.body["instances"],
        json!([]),
        "nothing was started: {}",
        listed.body
    );
    let from_the_ui = with_cookie(
        &api,
        Method::POST,
        "/api/instances",
        &cookie,
        true,
        Some(json!({"process": "review"})),
    )
    .await;
    assert_eq!(from_the_ui.status, StatusCode::OK, "{}", from_the_ui.body);
}

#[tokio::test]
async fn signing_out_logs_the_session_out_ends_the_credential_and_clears_the_cookies() {
    let api = api().await;
    set_password(&api, &api.john, "john", "correct horse").await;
    let signed_in = sign_in(&api, json!({"user": "john", "password": "correct horse"})).await;
    let session = signed_in.body["session"]["id"].as_str().unwrap().to_owned();
    let cookie = cookie_header(&signed_in);
    let out = with_cookie(&api, Method::POST, "/api/sign-out", &cookie, true, None).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let cleared = set_cookies(&out);
    assert!(
        cleared.iter().all(|c| c.contains("Max-Age=0")) && cleared.len() == 2,
        "{cleared:?}"
    );
    let me = with_cookie(&api, Method::GET, "/api/me", &cookie, false, None).await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);
    let gone = api
        .get(&format!("/api/sessions/{session}"), &api.john)
        .await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND, "{}", gone.body);
    let again = with_cookie(&api, Method::POST, "/api/sign-out", &cookie, true, None).await;
    assert_eq!(
        again.status,
        StatusCode::NO_CONTENT,
        "signing out twice is no error"
    );
}

#[tokio::test]
async fn a_token_sign_in_keeps_the_token_which_signing_out_leaves_valid() {
    let api = api().await;
    let signed_in = sign_in(&api, json!({"token": api.eve})).await;
    assert_eq!(signed_in.status, StatusCode::OK, "{}", signed_in.body);
    assert_eq!(signed_in.body["user"]["name"], "eve");
    let cookies = set_cookies(&signed_in);
    assert!(
        cookies[0].starts_with(&format!("baton_auth={};", api.eve))
            && !cookies[0].contains("Max-Age"),
        "{cookies:?}"
    );
    let cookie = cookie_header(&signed_in);
    assert_eq!(
        with_cookie(&api, Method::POST, "/api/sign-out", &cookie, true, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(api.get("/api/me", &api.eve).await.status, StatusCode::OK);
}

/// A sign-in with `body` as `api`'s app answers it, with `x-forwarded-proto: https` when
/// `forwarded_https`: its two cookies, each with whether it is `Secure`.
async fn secure_flags(api: &Api, body: &Value, forwarded_https: bool) -> Vec<bool> {
    let mut request = Request::builder()
        .method(Method::POST)
        .uri("/api/sign-in")
        .header(header::CONTENT_TYPE, "application/json");
    if forwarded_https {
        request = request.header("x-forwarded-proto", "https");
    }
    let answer = api
        .send(request.body(Body::from(body.to_string())).unwrap())
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let cookies = set_cookies(&answer);
    assert_eq!(cookies.len(), 2, "{cookies:?}");
    cookies
        .iter()
        .map(|c| c.split("; ").any(|a| a == "Secure"))
        .collect()
}

#[tokio::test]
async fn the_sign_in_cookies_are_secure_behind_https_and_not_over_plain_http() {
    use baton_server::SecureCookies;
    let api = api().await;
    set_password(&api, &api.john, "john", "correct horse").await;
    let by_password = json!({"user": "john", "password": "correct horse"});
    let by_token = json!({"token": api.john});
    let api = api.with_secure_cookies(SecureCookies::Never);
    for body in [&by_password, &by_token] {
        // Over plain HTTP a proxy's header is not trusted unless the server is told to.
        assert_eq!(secure_flags(&api, body, true).await, [false, false]);
    }
    let api = api.with_secure_cookies(SecureCookies::Always);
    for body in [&by_password, &by_token] {
        assert_eq!(secure_flags(&api, body, false).await, [true, true]);
    }
    let api = api.with_secure_cookies(SecureCookies::WhenForwardedHttps);
    for body in [&by_password, &by_token] {
        assert_eq!(secure_flags(&api, body, true).await, [true, true]);
        assert_eq!(secure_flags(&api, body, false).await, [false, false]);
    }
    // Signing out clears the cookies with the same attributes.
    let out = api
        .send(
            Request::builder()
                .method(Method::POST)
                .uri("/api/sign-out")
                .header("x-forwarded-proto", "https")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let cleared = set_cookies(&out);
    assert!(
        cleared.len() == 2 && cleared.iter().all(|c| c.contains("; Secure")),
        "{cleared:?}"
    );
}
