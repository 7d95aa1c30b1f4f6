//! A download's file through its signed link, whole or by byte range (RFC 9110 §14): the
//! parts a download manager asks for put back together are the file, byte for byte.

mod common;

use axum::body::{to_bytes, Body, Bytes};
use axum::http::{header, Request, StatusCode};
use axum::response::Response;
use common::*;
use portal_api::{JobRow, Page, Role};

/// The link of one of the demo's ready mbox downloads.
async fn ready_mbox(app: &TestApp) -> String {
    let admin = app.sign_in(Role::OrgAdmin).await;
    let ready: Page<JobRow> = body_json(app.get_as(&admin, "/api/jobs?kind=download&status=completed&per_page=200").await).await;
    let mbox = ready.items.iter().find(|row| row.target == "mbox file").expect("a ready mbox download");
    mbox.download_url.clone().expect("a ready download has a link")
}

async fn get(app: &TestApp, url: &str, headers: &[(header::HeaderName, &str)]) -> Response {
    let mut request = Request::get(url);
    for (name, value) in headers {
        request = request.header(name, *value);
    }
    app.send(request.body(Body::empty()).unwrap()).await
}

async fn body(response: Response) -> Bytes {
    to_bytes(response.into_body(), 1 << 24).await.unwrap()
}

fn text(response: &Response, name: header::HeaderName) -> String {
    response.headers().get(&name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default()
}

#[tokio::test]
async fn a_download_is_served_whole_or_by_byte_range_and_the_parts_make_the_file() {
    let app = test_app().await;
    let url = ready_mbox(&app).await;

    // Whole: its length, that it takes ranges, and its version; sent as stored even to a
    // client that takes gzip (compressed on the fly it would have neither length nor ranges).
    let whole = get(&app, &url, &[(header::ACCEPT_ENCODING, "gzip, br")]).await;
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(text(&whole, header::ACCEPT_RANGES), "bytes");
    assert_eq!(text(&whole, header::CONTENT_TYPE), "application/mbox");
    assert!(text(&whole, header::CONTENT_DISPOSITION).starts_with("attachment; filename=\""));
    assert!(whole.headers().get(header::CONTENT_ENCODING).is_none());
    let etag = text(&whole, header::ETAG);
    assert!(etag.starts_with('"') && etag.ends_with('"'), "a strong ETag: {etag}");
    let length: usize = text(&whole, header::CONTENT_LENGTH).parse().unwrap();
    let file = body(whole).await;
    assert_eq!(file.len(), length);
    assert!(length > 1000, "a file worth cutting: {length} bytes");

    // Three parts that cover it: a middle range, from there on (open), and a suffix.
    let (first_end, open_start, suffix) = (length / 3, length / 2, length / 4);
    let middle = get(&app, &url, &[(header::RANGE, &format!("bytes=0-{first_end}"))]).await;
    let open = get(&app, &url, &[(header::RANGE, &format!("bytes={}-", first_end + 1))]).await;
    let tail = get(&app, &url, &[(header::RANGE, &format!("bytes=-{suffix}"))]).await;
    for (response, range) in [
        (&middle, format!("bytes 0-{first_end}/{length}")),
        (&open, format!("bytes {}-{}/{length}", first_end + 1, length - 1)),
        (&tail, format!("bytes {}-{}/{length}", length - suffix, length - 1)),
    ] {
        assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(text(response, header::CONTENT_RANGE), range);
        assert_eq!(text(response, header::CONTENT_TYPE), "application/mbox");
    }
    assert_eq!(text(&open, header::CONTENT_LENGTH), (length - first_end - 1).to_string());
    let (middle, open, tail) = (body(middle).await, body(open).await, body(tail).await);
    assert_eq!([&middle[..], &open[..]].concat(), file.to_vec(), "the parts put together are the file");
    assert_eq!(&tail[..], &file[length - suffix..]);

    // A range in the middle of the file.
    let inner = get(&app, &url, &[(header::RANGE, &format!("bytes={open_start}-{}", open_start + 99))]).await;
    assert_eq!(inner.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(text(&inner, header::CONTENT_LENGTH), "100");
    assert_eq!(&body(inner).await[..], &file[open_start..open_start + 100]);

    // Nothing of the file: 416, a problem, with the file's length.
    for unsatisfiable in [format!("bytes={length}-"), format!("bytes={}-{}", length + 10, length + 20), "bytes=-0".to_owned()] {
        let response = get(&app, &url, &[(header::RANGE, &unsatisfiable)]).await;
        assert_eq!(text(&response, header::CONTENT_RANGE), format!("bytes */{length}"), "{unsatisfiable}");
        let p = problem(response, StatusCode::RANGE_NOT_SATISFIABLE).await;
        assert!(p.detail.unwrap().contains(&format!("{length} bytes")));
    }

    // Several ranges, or one that does not parse: the whole file.
    for whole in ["bytes=0-9,20-29", "bytes=9-0", "pages=1-2"] {
        let response = get(&app, &url, &[(header::RANGE, whole)]).await;
        assert_eq!(response.status(), StatusCode::OK, "{whole}");
        assert_eq!(body(response).await, file);
    }

    // If-Range: the range of this version of the file, the whole file if it changed since.
    let same = get(&app, &url, &[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, &etag)]).await;
    assert_eq!(same.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&body(same).await[..], &file[..10]);
    let changed = get(&app, &url, &[(header::RANGE, "bytes=0-9"), (header::IF_RANGE, "\"another-version\"")]).await;
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(body(changed).await, file);

    // The link's checks come first: a tampered link is 404 whatever the range.
    let tampered = url.replace("signature=", "signature=00");
    problem(get(&app, &tampered, &[(header::RANGE, "bytes=0-9")]).await, StatusCode::NOT_FOUND).await;
}

#[tokio::test]
async fn the_openapi_document_lists_the_partial_answers() {
    let app = test_app().await;
    let doc: serde_json::Value = body_json(app.send(Request::get("/api/openapi.json").body(Body::empty()).unwrap()).await).await;
    let responses = &doc["paths"]["/api/downloads/{id}/file"]["get"]["responses"];
    for status in ["200", "206", "404", "410", "416"] {
        assert!(responses.get(status).is_some(), "{status} is documented");
    }
    assert!(responses["416"]["content"].get("application/problem+json").is_some());
    assert!(responses["206"]["headers"].get("Content-Range").is_some());
}
