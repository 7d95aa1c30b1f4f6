//! `GET|POST /idp/{tenant}/oauth2/v2.0/authorize`: admin consent, authorization code with PKCE.
//!
//! The GET validates the request and keeps it server-side under a random ID; the page's form
//! carries only that ID (so nothing of the request can be tampered with), the email address
//! and password, and the decision. Approval by a global administrator records the tenant's
//! consent and redirects back with a single-use code bound to the client, the redirect URI,
//! the code challenge and the user (so the user's tenant).

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::directory::{sign_in, SignIn, TenantScope};
use super::pages::{self, esc};
use super::store::{self, AuthorizationCode, PendingAuthorization, CODE_LIFETIME, MAX_SIGN_IN_ATTEMPTS, PENDING_LIFETIME};
use super::{
    parse_params, random_token, redirect_with, shorten, too_long, too_long_description, Config, APP_NAME, BUSY_DESCRIPTION,
};

const TITLE: &str = "Backup Portal asks for admin consent";

pub(crate) async fn show(State(config): State<Config>, Path(tenant): Path<String>, RawQuery(query): RawQuery) -> Response {
    let params = match parse_params(query.as_deref().unwrap_or("").as_bytes()) {
        Ok(params) => params,
        Err(error) => return bad_request_page(&format!("{} Start again from {APP_NAME}.", error.describe())),
    };
    let get = |name: &str| params.get(name).map(String::as_str);

    // Without a known client and one of its redirect URIs there is nowhere safe to send an error.
    let client_id = get("client_id").unwrap_or("");
    if client_id != config.client_id {
        return bad_request_page(&format!(
            "AADSTS700016: Application with identifier '{}' was not found in the directory. \
             Check the client ID the app is configured with.",
            shorten(client_id)
        ));
    }
    let redirect_uri = get("redirect_uri").unwrap_or("");
    if !redirect_uri_allowed(redirect_uri, &config.public_url) {
        return bad_request_page(&format!(
            "AADSTS50011: The redirect URI '{}' is not one of the application's redirect URIs \
             (addresses on {}).",
            shorten(redirect_uri),
            config.public_url
        ));
    }

    // From here on, errors go back to the client (with its state, unless that is what is too long).
    let client_state = get("state").filter(|state| state.len() <= super::MAX_PARAM_BYTES);
    let fail = |error: &str, description: &str| {
        let mut pairs = vec![("error", error), ("error_description", description)];
        if let Some(client_state) = client_state {
            pairs.push(("state", client_state));
        }
        redirect_with(redirect_uri, &pairs)
    };
    if let Some(name) = too_long(&params) {
        return fail("invalid_request", &too_long_description(name));
    }
    let Some(scope) = TenantScope::parse(&tenant) else {
        return fail("invalid_request", &super::unknown_tenant(&tenant));
    };
    match get("response_type") {
        None => return fail("invalid_request", &missing("response_type")),
        Some("code") => {}
        Some(other) => {
            return fail(
                "unsupported_response_type",
                &format!("AADSTS700054: response_type '{}' is not supported. Use 'code'.", shorten(other)),
            )
        }
    }
    let Some(code_challenge) = get("code_challenge") else {
        return fail(
            "invalid_request",
            "AADSTS9002325: Proof Key for Code Exchange is required: send code_challenge and code_challenge_method=S256.",
        );
    };
    if get("code_challenge_method") != Some("S256") {
        return fail("invalid_request", "Invalid code_challenge_method: only S256 is accepted.");
    }
    if !(43..=128).contains(&code_challenge.len())
        || !code_challenge.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
    {
        return fail("invalid_request", "The code_challenge is not valid (43 to 128 characters of A-Z a-z 0-9 - . _ ~).");
    }
    let Some(scopes) = get("scope") else {
        return fail("invalid_request", &missing("scope"));
    };
    // OpenID Connect sign-in: `openid` without an admin-consent prompt. A nonce is required
    // (ID tokens from a code flow may omit it in the specification; ours bind the browser).
    let sign_in = get("prompt") != Some("admin_consent") && scopes.split_whitespace().any(|s| s == "openid");
    let nonce = get("nonce");
    if sign_in && nonce.is_none() {
        return fail("invalid_request", &missing("nonce"));
    }

    let request_id = random_token(16);
    let pending = PendingAuthorization {
        scope,
        client_id: client_id.to_owned(),
        redirect_uri: redirect_uri.to_owned(),
        // A sign-in grants the user's own profile only, whatever else was asked (no consent).
        scopes: if sign_in {
            scopes.split_whitespace().filter(|s| SIGN_IN_SCOPES.contains(s)).collect::<Vec<_>>().join(" ")
        } else {
            scopes.to_owned()
        },
        state: client_state.map(str::to_owned),
        code_challenge: code_challenge.to_owned(),
        expires: Instant::now() + PENDING_LIFETIME,
        attempts: 0,
        nonce: sign_in.then(|| nonce.unwrap_or_default().to_owned()),
    };
    let body = consent_form(&request_id, &pending, get("login_hint").unwrap_or(""), None);
    let page_title = title(&pending);
    if store::with(|store| store.add_pending(request_id, pending)).is_err() {
        return fail("temporarily_unavailable", BUSY_DESCRIPTION);
    }
    pages::page(StatusCode::OK, page_title, &body)
}

fn title(pending: &PendingAuthorization) -> &'static str {
    if pending.nonce.is_some() {
        SIGN_IN_TITLE
    } else {
        TITLE
    }
}

const SIGN_IN_TITLE: &str = "Sign in to Backup Portal";
/// What a sign-in may be granted.
const SIGN_IN_SCOPES: [&str; 4] = ["openid", "profile", "email", "offline_access"];

pub(crate) async fn decide(Path(_tenant): Path<String>, body: Bytes) -> Response {
    let Some(form) = parse_params(&body).ok().filter(|form| too_long(form).is_none()) else {
        return bad_request_page(&format!("The form was not sent as this page sent it. Start again from {APP_NAME}."));
    };
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let request_id = field("request");
    let email = field("email");
    let gone = || {
        bad_request_page(&format!("This sign-in page has expired or was already used. Go back to {APP_NAME} and start again."))
    };
    let Some(pending) = store::with(|store| store.pending.get(request_id).filter(|p| p.expires > Instant::now()).cloned()) else {
        return gone();
    };

    match field("decision") {
        "deny" => {
            if store::with(|store| store.pending.remove(request_id)).is_none() {
                return gone();
            }
            let description = "AADSTS65004: The user declined to consent to access the app.";
            return back(&pending, vec![("error", "access_denied"), ("error_description", description)]);
        }
        "approve" => {}
        _ => {
            return pages::page(
                StatusCode::OK,
                title(&pending),
                &consent_form(request_id, &pending, email, Some("Choose Approve or Deny.")),
            )
        }
    }

    let refusal = match sign_in(email, field("password")) {
        SignIn::Invalid => "Your email address or password is not right. Check both and try again.".to_owned(),
        SignIn::Locked(_) => "This account is locked. Ask another administrator of your organisation to unlock it.".into(),
        SignIn::Valid(user) if !pending.scope.allows(user.tenant) => {
            format!("This account belongs to another organisation. Sign in with an account of {}.", scope_name(pending.scope))
        }
        SignIn::Valid(user) if !user.global_admin && pending.nonce.is_none() => format!(
            "Only a global administrator can grant consent. Ask a global administrator of {} to approve.",
            user.tenant.name
        ),
        SignIn::Valid(user) => {
            let code = random_token(32);
            let granted = AuthorizationCode {
                client_id: pending.client_id.clone(),
                redirect_uri: pending.redirect_uri.clone(),
                code_challenge: pending.code_challenge.clone(),
                user,
                scopes: pending.scopes.clone(),
                expires: Instant::now() + CODE_LIFETIME,
                nonce: pending.nonce.clone(),
                redeemed: false,
            };
            let issued = store::with(|store| {
                // Checked first: without room for the code, nothing changes (no consent recorded).
                if !store.room_for_code() {
                    return Err(Issue::Busy);
                }
                // Taken once: a second submission of the same page finds nothing.
                store.pending.remove(request_id).ok_or(Issue::Gone)?;
                // Consent is for the user's own tenant (which `organizations` leaves open); a
                // sign-in asks for none.
                if pending.nonce.is_none() {
                    store.grant_consent(user.tenant);
                }
                store.add_code(store::key(&code), granted).map_err(|_| Issue::Busy)
            });
            match issued {
                Ok(()) => {}
                Err(Issue::Gone) => return gone(),
                Err(Issue::Busy) => {
                    return back(&pending, vec![("error", "temporarily_unavailable"), ("error_description", BUSY_DESCRIPTION)])
                }
            }
            match pending.nonce {
                None => tracing::info!(tenant = user.tenant.domain, "embedded identity provider: admin consent granted"),
                Some(_) => tracing::info!(tenant = user.tenant.domain, "embedded identity provider: signed a user in"),
            }
            return back(&pending, vec![("code", code.as_str())]);
        }
    };
    let given_up = store::with(|store| {
        let Some(kept) = store.pending.get_mut(request_id) else { return true };
        kept.attempts += 1;
        if kept.attempts >= MAX_SIGN_IN_ATTEMPTS {
            store.pending.remove(request_id);
            return true;
        }
        false
    });
    if given_up {
        return bad_request_page(&format!(
            "Too many attempts to sign in, or the page has expired. Go back to {APP_NAME} and start again."
        ));
    }
    pages::page(StatusCode::OK, title(&pending), &consent_form(request_id, &pending, email, Some(&refusal)))
}

/// Why an approval gave no code.
enum Issue {
    /// The page expired or was already used.
    Gone,
    /// No room for another code.
    Busy,
}

/// Back to the client's redirect URI with `pairs` and the request's `state`.
fn back<'a>(pending: &'a PendingAuthorization, mut pairs: Vec<(&'a str, &'a str)>) -> Response {
    if let Some(state) = pending.state.as_deref() {
        pairs.push(("state", state));
    }
    redirect_with(&pending.redirect_uri, &pairs)
}

/// A redirect URI of the client: an address on this server's own origin, without a fragment.
fn redirect_uri_allowed(redirect_uri: &str, public_url: &str) -> bool {
    let origin_end = public_url.find("://").and_then(|i| public_url[i + 3..].find('/').map(|j| i + 3 + j));
    let origin = origin_end.map_or(public_url, |end| &public_url[..end]);
    redirect_uri.len() <= super::MAX_PARAM_BYTES
        && redirect_uri.bytes().all(|b| b.is_ascii_graphic())
        && !redirect_uri.contains('#')
        && (redirect_uri == origin || redirect_uri.starts_with(&format!("{origin}/")))
}

fn missing(name: &str) -> String {
    format!("AADSTS900144: The request must contain the parameter '{name}'.")
}

fn scope_name(scope: TenantScope) -> &'static str {
    match scope {
        TenantScope::Any => "your organisation",
        TenantScope::One(tenant) => tenant.name,
    }
}

fn bad_request_page(message: &str) -> Response {
    pages::error_page(StatusCode::BAD_REQUEST, "Sign-in cannot continue", message)
}

fn consent_form(request_id: &str, pending: &PendingAuthorization, email: &str, error: Option<&str>) -> String {
    if pending.nonce.is_some() {
        return format!(
            "<p>Sign in with your work account of {org} to continue to <strong>{APP_NAME}</strong>.</p>{error_html}\
<form method=\"post\" action=\"/idp/{segment}/oauth2/v2.0/authorize\">\
<input type=\"hidden\" name=\"request\" value=\"{request}\">{fields}\
<div class=\"actions\"><button type=\"submit\" name=\"decision\" value=\"approve\" class=\"primary\">Sign in</button>\
<button type=\"submit\" name=\"decision\" value=\"deny\" class=\"secondary\" formnovalidate>Cancel</button></div></form>",
            org = esc(scope_name(pending.scope)),
            error_html = pages::inline_error(error),
            segment = esc(pending.scope.segment()),
            request = esc(request_id),
            fields = pages::sign_in_fields(email, error.is_some()),
        );
    }
    format!(
        "<p><strong>{APP_NAME}</strong> asks a global administrator to consent, for all of {org}, to these permissions:</p>\
{permissions}{error_html}\
<form method=\"post\" action=\"/idp/{segment}/oauth2/v2.0/authorize\">\
<input type=\"hidden\" name=\"request\" value=\"{request}\">{fields}{buttons}</form>\
<p class=\"note\">Only a global administrator can grant consent. Deny sends you back to {APP_NAME} without it.</p>",
        org = esc(scope_name(pending.scope)),
        permissions = pages::permission_list(&pending.scopes),
        error_html = pages::inline_error(error),
        segment = esc(pending.scope.segment()),
        request = esc(request_id),
        fields = pages::sign_in_fields(email, error.is_some()),
        buttons = pages::DECISION_BUTTONS,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_must_be_on_our_origin() {
        let ours = "http://127.0.0.1:8080";
        assert!(redirect_uri_allowed("http://127.0.0.1:8080/api/oauth/callback", ours));
        assert!(redirect_uri_allowed("http://127.0.0.1:8080/cb", "http://127.0.0.1:8080/portal"));
        assert!(!redirect_uri_allowed("http://127.0.0.1:8080.evil.example/cb", ours));
        assert!(!redirect_uri_allowed("http://127.0.0.1:8080/cb#x", ours));
        assert!(!redirect_uri_allowed("https://evil.example/cb", ours));
        assert!(!redirect_uri_allowed("", ours));
        let long = format!("{ours}/cb?x={}", "a".repeat(super::super::MAX_PARAM_BYTES));
        assert!(!redirect_uri_allowed(&long, ours), "a redirect URI is kept with the request: it has a limit");
    }
}
