//! The web UI's page and assets are served from the binary, need no sign-in to load, and allow
//! nothing from elsewhere.

mod support;

use axum::http::{header, Method, StatusCode};

use support::api;

#[tokio::test]
async fn the_page_its_script_and_its_style_are_served_with_a_same_site_only_policy() {
    let api = api().await;
    for (path, content_type, holds) in [
        (
            "/",
            "text/html; charset=utf-8",
            "<script type=\"module\" src=\"/ui/app.js\">",
        ),
        (
            "/ui/app.js",
            "text/javascript; charset=utf-8",
            "/api/sign-in",
        ),
        ("/ui/app.css", "text/css; charset=utf-8", "svg.graph"),
    ] {
        let answer = api.call(Method::GET, path, None, None).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}");
        assert_eq!(answer.headers[header::CONTENT_TYPE], content_type, "{path}");
        let policy = answer.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(
            policy.starts_with("default-src 'self'") && policy.contains("script-src 'self'"),
            "{policy}"
        );
        // SVG's namespace is a name, not an address the browser loads.
        let body = answer
            .body
            .as_str()
            .unwrap()
            .replace("'http://www.w3.org/2000/svg'", "");
        assert!(body.contains(holds), "{path} lacks {holds}");
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "{path} loads nothing from elsewhere"
        );
    }
}

#[tokio::test]
async fn an_unknown_ui_asset_is_the_json_404() {
    let api = api().await;
    let answer = api.call(Method::GET, "/ui/nothing.js", None, None).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    assert_eq!(answer.body["error"]["code"], "not_found");
}
