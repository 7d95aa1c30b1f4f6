//! What the unit tests share: a demo Halo served at the root, and requests sent to it with
//! `oneshot`.

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::response::Response;
use http_body_util::BodyExt as _;
use serde_json::Value;
use tower::ServiceExt as _;

use crate::{Halo, HaloConfig};

/// The demo's Halo, served at the root.
pub(crate) fn demo() -> Halo {
    demo_with(|_| {})
}

pub(crate) fn demo_with(change: impl FnOnce(&mut HaloConfig)) -> Halo {
    let mut config = HaloConfig { base_path: String::new(), ..HaloConfig::demo() };
    change(&mut config);
    Halo::new(config)
}

/// One request; a body starting with `[` or `{` is sent as JSON, another as a form.
pub(crate) async fn send(halo: &Halo, method: &str, uri: &str, bearer: Option<&str>, body: &str) -> Response {
    let content_type = if body.starts_with(['[', '{']) { "application/json" } else { "application/x-www-form-urlencoded" };
    let mut request = Request::builder().method(method).uri(uri).header(header::CONTENT_TYPE, content_type);
    if let Some(token) = bearer {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let request = request.body(Body::from(body.to_owned())).unwrap();
    halo.router::<()>().oneshot(request).await.unwrap()
}

pub(crate) async fn body_json(response: Response) -> Value {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)))
}

/// A request and its answer's status, headers and JSON body.
pub(crate) async fn call(
    halo: &Halo,
    method: &str,
    uri: &str,
    bearer: Option<&str>,
    body: &str,
) -> (StatusCode, HeaderMap, Value) {
    let response = send(halo, method, uri, bearer, body).await;
    assert!(response.extensions().get::<crate::OwnFormat>().is_some(), "{method} {uri}: OwnFormat");
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, body_json(response).await)
}

/// A token request with this query (`""` or `?tenant=…`) and form body.
pub(crate) async fn form_token(halo: &Halo, query: &str, form: &str) -> (StatusCode, HeaderMap, Value) {
    call(halo, "POST", &format!("/auth/token{query}"), None, form).await
}

/// A token with every permission the application has.
pub(crate) async fn token(halo: &Halo) -> String {
    let form = "grant_type=client_credentials&client_id=backup-portal-halo&client_secret=demo-halo-secret";
    let (status, _, body) = form_token(halo, "", form).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}
