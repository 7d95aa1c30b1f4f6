//! The headers every answer carries, so that the page is locked down whoever serves it:
//! a Content-Security-Policy that lets the page run only its own files (the built `index.html`
//! has no inline script; one added by hand is allowed by its hash, read at start; WebAssembly
//! and its chunks compiled with `'wasm-unsafe-eval'`, never `eval`), no framing (Force Backup and Delete cannot be
//! clickjacked), no MIME sniffing, no referrer, HSTS when the portal is reached over HTTPS, and
//! caching that suits each answer: API answers are never stored (the session carries the CSRF
//! token), the build's files under `/pkg/<hash>/` are kept for a year, `index.html` is checked each time.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use crate::config::Config;

pub struct SecurityHeaders {
    page_policy: HeaderValue,
    https: bool,
}

impl SecurityHeaders {
    pub fn new(config: &Config) -> Arc<SecurityHeaders> {
        let index = std::fs::read_to_string(config.dist.join("index.html")).unwrap_or_default();
        let policy = page_policy(&index);
        Arc::new(SecurityHeaders {
            page_policy: HeaderValue::from_str(&policy).expect("the policy is ASCII"),
            https: config.https(),
        })
    }
}

/// The portal's policy, with the hash of each inline script of its `index.html`.
pub fn page_policy(index_html: &str) -> String {
    let hashes: String = inline_scripts(index_html).map(|script| format!(" {}", csp_hash(script))).collect();
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'{hashes}; style-src 'self'; img-src 'self' data:; \
         font-src 'self'; connect-src 'self'; frame-ancestors 'none'; object-src 'none'; base-uri 'none'; form-action 'self'"
    )
}

/// `'sha256-…'` of a script or style, as CSP names it (the identity provider's pages use it too).
pub use portal_html::csp_hash;

/// The text of every `<script>` without `src` (the build's `index.html` has none: it starts the
/// wasm from a file; a page edited by hand may).
fn inline_scripts(html: &str) -> impl Iterator<Item = &str> {
    html.match_indices("<script").filter_map(move |(start, _)| {
        let open_end = start + html[start..].find('>')?;
        if html[start..open_end].contains(" src=") {
            return None;
        }
        let body_start = open_end + 1;
        let body_end = body_start + html[body_start..].find("</script>")?;
        Some(&html[body_start..body_end])
    })
}

/// The build puts every file it makes into `/pkg/<hash>/` (16 hex digits over all of them):
/// what is under such a name never changes, so a browser may keep it.
fn is_hashed_asset(path: &str) -> bool {
    let mut segments = path.trim_start_matches('/').split('/');
    segments.next() == Some("pkg")
        && segments.next().is_some_and(|hash| hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()))
        && segments.next().is_some_and(|name| !name.is_empty())
}

pub async fn security_headers(State(headers): State<Arc<SecurityHeaders>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let mut response = next.run(request).await;
    // A revalidation (304) must say the same, or the browser replaces `immutable` with its words.
    let success = response.status().is_success() || response.status() == axum::http::StatusCode::NOT_MODIFIED;
    // The SPA's fallback (index.html for a path it does not know) must not be kept for a year.
    let html = response.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let out = response.headers_mut();
    // Pages rendered by the server (identity provider, problem types) bring their own policy.
    out.entry(header::CONTENT_SECURITY_POLICY).or_insert_with(|| headers.page_policy.clone());
    out.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    out.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    // DENY unless the answer says otherwise (a message's HTML is shown in a frame of the portal).
    out.entry(header::X_FRAME_OPTIONS).or_insert(HeaderValue::from_static("DENY"));
    out.insert(HeaderName::from_static("cross-origin-opener-policy"), HeaderValue::from_static("same-origin"));
    if headers.https {
        out.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000; includeSubDomains"));
    }
    let cache = if path == "/api" || path.starts_with("/api/") || path.starts_with("/idp/") || path.starts_with("/halo/") {
        // Whatever the handler said (SSE says no-cache): nothing of the API is ever stored.
        out.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        "no-store"
    } else if is_hashed_asset(&path) && success && !html {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    out.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static(cache));
    if !cache.starts_with("no-store") && !out.contains_key(header::VARY) {
        // Files are sent precompressed by what the browser accepts: caches must keep them apart.
        out.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_index_htmls_own_inline_script_and_nothing_else_inline() {
        let script = "import init from '/portal-0123456789abcdef.js';await init();";
        let html = format!("<html><head><script type=\"module\">{script}</script><script src=\"/x.js\"></script></head></html>");
        let policy = page_policy(&html);
        assert!(policy.contains(&csp_hash(script)), "{policy}");
        assert_eq!(policy.matches("'sha256-").count(), 1, "a script with src is not hashed: {policy}");
        for needed in
            ["default-src 'self'", "'wasm-unsafe-eval'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"]
        {
            assert!(policy.contains(needed), "{needed} in {policy}");
        }
        assert!(!policy.contains("unsafe-inline") && !policy.contains("'unsafe-eval'"), "{policy}");
    }

    #[test]
    fn only_the_builds_hashed_files_are_kept_for_a_year() {
        assert!(is_hashed_asset("/pkg/6e8f1c2a3b4d5e6f/portal_bg.wasm"));
        assert!(is_hashed_asset("/pkg/06e8f1c2a3b4d5e6/split___backups_route_view_1.wasm"));
        assert!(is_hashed_asset("/pkg/6e8f1c2a3b4d5e6f/main.css"));
        assert!(!is_hashed_asset("/pkg/6e8f1c2a3b4d5e6f/"));
        assert!(!is_hashed_asset("/pkg/latest/portal.js"));
        assert!(!is_hashed_asset("/index.html"));
        assert!(!is_hashed_asset("/status/backups"));
        assert!(!is_hashed_asset("/favicon.svg"));
    }
}
