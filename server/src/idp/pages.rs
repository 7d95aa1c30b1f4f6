//! The identity provider's HTML pages: small, self-contained (no external assets), escaped.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

/// Escapes text for HTML content and quoted attribute values.
pub(crate) fn esc(text: &str) -> String {
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

/// A whole page: `title` is the `<h1>` (escaped here); `body` is HTML the caller escaped.
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    let title = esc(title);
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"no-referrer\"><title>{title} · Sign-in</title><style>{STYLE}</style></head>\
<body><main><p class=\"brand\">Sign-in · demo identity provider</p><h1>{title}</h1>{body}</main></body></html>\n"
    );
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"),
    );
    super::own_format(response)
}

/// An error shown instead of a page (nothing to go back to): a heading and a sentence.
pub(crate) fn error_page(status: StatusCode, title: &str, message: &str) -> Response {
    page(status, title, &format!("<p role=\"alert\" class=\"error\">{}</p>", esc(message)))
}

/// An inline error above a form, announced to screen readers.
pub(crate) fn inline_error(message: Option<&str>) -> String {
    message.map(|m| format!("<p role=\"alert\" class=\"error\" id=\"form-error\">{}</p>", esc(m))).unwrap_or_default()
}

/// The email and password fields of a sign-in form; `email` is what was typed before.
pub(crate) fn sign_in_fields(email: &str, has_error: bool) -> String {
    let described = if has_error { " aria-describedby=\"form-error\"" } else { "" };
    format!(
        "<label for=\"email\">Email address</label>\
<input id=\"email\" name=\"email\" type=\"email\" autocomplete=\"username\" required value=\"{}\"{described}>\
<label for=\"password\">Password</label>\
<input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"current-password\" required{described}>",
        esc(email)
    )
}

/// Approve and Deny (Deny needs no sign-in, so it skips the browser's field checks).
pub(crate) const DECISION_BUTTONS: &str = "<div class=\"actions\">\
<button type=\"submit\" name=\"decision\" value=\"approve\" class=\"primary\">Approve</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\" formnovalidate>Deny</button></div>";

/// The permissions of a space-separated `scope`, as a list with what each means.
pub(crate) fn permission_list(scopes: &str) -> String {
    let items: String = scopes
        .split_whitespace()
        .map(|scope| format!("<li><code>{}</code>: {}</li>", esc(scope), esc(describe_scope(scope))))
        .collect();
    if items.is_empty() {
        "<ul><li>Sign you in</li></ul>".into()
    } else {
        format!("<ul>{items}</ul>")
    }
}

fn describe_scope(scope: &str) -> &'static str {
    let lower = scope.to_ascii_lowercase();
    match lower.as_str() {
        "openid" => "sign you in",
        "profile" => "see your basic profile",
        "email" => "see your email address",
        "offline_access" => "keep the access it is given, also when nobody is signed in",
        _ if lower.contains("mail") || lower.contains("ews.") || lower.contains("imap") || lower.contains("outlook") => {
            "read every mailbox of the organisation, to back it up and restore it"
        }
        _ if lower.contains("user.read") => "read the list of the organisation's users and their mailboxes",
        _ if lower.ends_with(".default") => "the permissions the organisation's administrator set for the app",
        _ => "a permission the app asks for",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(esc("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    }
}
