//! Small server-rendered HTML pages (the embedded identity provider's pages, the problem types'
//! documentation): self-contained (no external assets), escaped, usable at 360 px. Also the
//! CSP hash that lets such a page's own style (and the portal's inline scripts) in.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use sha2::{Digest, Sha256};

/// A response extension on every answer of a stand-in built into the server (the identity
/// provider, the HaloPSA) whose body is already in the format its clients expect: an error
/// layer must leave such answers as they are.
#[derive(Clone, Copy, Debug)]
pub struct OwnFormat;

/// Escapes text for HTML content and quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:16px/1.5 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1b1f24;background:#eef1f5}\
main{max-width:30rem;margin:2rem auto;padding:1.5rem;background:#fff;border:1px solid #d0d7de;border-radius:8px}\
.brand{margin:0 0 .5rem;font-size:.875rem;color:#4a5563}\
h1{margin:0 0 1rem;font-size:1.375rem;line-height:1.3}\
label{display:block;margin:1rem 0 .25rem;font-weight:600}\
input{width:100%;padding:.625rem;font:inherit;border:1px solid #6b7280;border-radius:4px}\
.actions{display:flex;flex-wrap:wrap;gap:.75rem;margin-top:1.25rem}\
button{min-height:44px;padding:.5rem 1.25rem;font:inherit;font-weight:600;border-radius:4px;border:1px solid #1d4ed8;cursor:pointer}\
.primary{background:#1d4ed8;color:#fff}.secondary{background:#fff;color:#1d4ed8}\
:focus-visible{outline:3px solid #b45309;outline-offset:2px}\
.error{padding:.75rem;border-left:4px solid #b91c1c;background:#fef2f2;color:#7f1d1d}\
ul{padding-left:1.25rem}code{font-size:.9em;overflow-wrap:anywhere}.note{font-size:.875rem;color:#4a5563}\
@media (max-width:480px){main{margin:0;border:0;border-radius:0;padding:1rem}}";

/// `'sha256-…'` of a script or style, as CSP names it.
pub fn csp_hash(text: &str) -> String {
    format!("'sha256-{}'", base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes())))
}

/// Nothing but the page's own style (by its hash) and forms sent back here.
fn page_policy() -> &'static HeaderValue {
    static POLICY: std::sync::OnceLock<HeaderValue> = std::sync::OnceLock::new();
    POLICY.get_or_init(|| {
        let style = csp_hash(STYLE);
        let policy =
            format!("default-src 'none'; style-src {style}; form-action 'self'; frame-ancestors 'none'; base-uri 'none'");
        HeaderValue::from_str(&policy).expect("the policy is ASCII")
    })
}

/// A whole page under `site`'s name: `title` is the `<h1>` (escaped here); `body` is HTML the
/// caller escaped.
pub fn document(status: StatusCode, site: &str, title: &str, body: &str) -> Response {
    let (site, title) = (esc(site), esc(title));
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>{title} · {site}</title><style>{STYLE}</style></head>\
<body><main><p class=\"brand\">{site}</p><h1>{title}</h1>{body}</main></body></html>\n"
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(header::CONTENT_SECURITY_POLICY, page_policy().clone());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(esc("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
