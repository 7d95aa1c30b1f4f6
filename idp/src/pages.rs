//! The identity provider's HTML pages: small, self-contained (no external assets), escaped.

use axum::http::StatusCode;
use axum::response::Response;

pub(crate) use portal_html::{document, esc};

/// An identity provider page: `title` is the `<h1>`; `body` is HTML the caller escaped.
pub(crate) fn page(status: StatusCode, title: &str, body: &str) -> Response {
    super::own_format(document(status, "Sign-in · demo identity provider", title, body))
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
