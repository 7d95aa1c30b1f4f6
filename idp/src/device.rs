//! The device authorization grant (RFC 8628): `POST /idp/{tenant}/oauth2/v2.0/devicecode` and
//! the pages at `/idp/device` where a person enters the code and decides. The polling of the
//! token endpoint is in [`super::token`], with the other grants.

use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use rand::Rng;
use serde_json::json;

use super::directory::{sign_in, SignIn, Tenant, TenantScope};
use super::pages::{self, esc};
use super::store::{self, DeviceCode, DeviceStatus, MAX_SIGN_IN_ATTEMPTS};
use super::token::{authenticate_client, form_params, invalid_request, missing};
use super::{json_ok, parse_params, random_token, shorten, too_long, Config, APP_NAME};

/// Letters that are hard to mistake for one another or for digits (no vowels: no words either).
const USER_CODE_ALPHABET: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";

pub(crate) async fn device_authorization(
    State(config): State<Config>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let params = match form_params(&headers, &body) {
        Ok(params) => params,
        Err(error) => return error.into_response(),
    };
    let tenant = match TenantScope::parse(&tenant) {
        Some(TenantScope::One(tenant)) => tenant,
        Some(TenantScope::Any) => {
            return invalid_request(format!(
                "AADSTS90002: The device code flow needs the organisation: use its tenant ID or domain instead of '{}'.",
                shorten(&tenant)
            ))
        }
        None => return invalid_request(super::unknown_tenant(&tenant)),
    };
    if let Err(error) = authenticate_client(&config, &headers, &params, false) {
        return error.into_response();
    }
    let Some(scopes) = params.get("scope") else { return invalid_request(missing("scope")) };

    let device_code = random_token(48);
    let lifetime = u64::from(config.device_code_seconds);
    let interval = u64::from(config.device_interval_seconds);
    let user_code = store::with(|store| {
        let user_code = loop {
            let candidate = new_user_code();
            if store.device_by_user_code(&candidate).is_none() {
                break candidate;
            }
        };
        let device = DeviceCode {
            client_id: config.client_id.clone(),
            tenant,
            scopes: scopes.clone(),
            user_code: user_code.clone(),
            expires: Instant::now() + Duration::from_secs(lifetime),
            interval: Duration::from_secs(interval),
            last_poll: None,
            status: DeviceStatus::Pending,
            attempts: 0,
        };
        store.add_device(store::key(&device_code), device).map(|()| user_code)
    });
    let Ok(user_code) = user_code else { return super::busy() };
    let verification_uri = format!("{}/device", super::base_url(&config));
    json_ok(json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "expires_in": lifetime,
        "interval": interval,
        "message": format!(
            "To let {APP_NAME} back up {}, open {verification_uri} in a web browser and enter the code {user_code}.",
            tenant.name
        ),
    }))
}

/// `ABCD-EFGH`: 8 letters of [`USER_CODE_ALPHABET`].
fn new_user_code() -> String {
    let mut rng = rand::rngs::OsRng;
    let letters: String = (0..8).map(|_| char::from(USER_CODE_ALPHABET[rng.gen_range(0..USER_CODE_ALPHABET.len())])).collect();
    format!("{}-{}", &letters[..4], &letters[4..])
}

const CODE_TITLE: &str = "Enter the code shown in Backup Portal";

pub(crate) async fn code_page() -> Response {
    pages::page(StatusCode::OK, CODE_TITLE, &code_form("", None))
}

fn code_form(typed: &str, error: Option<&str>) -> String {
    let described = if error.is_some() { "form-error code-hint" } else { "code-hint" };
    format!(
        "<p>{APP_NAME} shows a code of 8 letters. Enter it here to let it back up your organisation's mailboxes.</p>{error}\
<form method=\"post\" action=\"/idp/device\"><label for=\"code\">Code</label>\
<input id=\"code\" name=\"code\" type=\"text\" required autocomplete=\"off\" autocapitalize=\"characters\" spellcheck=\"false\" \
maxlength=\"20\" value=\"{typed}\" aria-describedby=\"{described}\">\
<p class=\"note\" id=\"code-hint\">Like ABCD-EFGH; upper or lower case, with or without the dash.</p>\
<div class=\"actions\"><button type=\"submit\" class=\"primary\">Next</button></div></form>",
        error = pages::inline_error(error),
        typed = esc(typed),
    )
}

/// What the code pages need to know of a device code.
struct Found {
    user_code: String,
    tenant: &'static Tenant,
    scopes: String,
    expired: bool,
    status: DeviceStatus,
}

pub(crate) async fn code_submit(body: Bytes) -> Response {
    let Some(form) = parse_params(&body).ok().filter(|form| too_long(form).is_none()) else {
        return pages::page(StatusCode::OK, CODE_TITLE, &code_form("", Some("Enter the code once, as Backup Portal shows it.")));
    };
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or("");
    let typed = field("code");
    let found = store::with(|store| {
        store.device_by_user_code(typed).map(|d| Found {
            user_code: d.user_code.clone(),
            tenant: d.tenant,
            scopes: d.scopes.clone(),
            expired: d.expires <= Instant::now(),
            status: d.status,
        })
    });
    let refuse_code = |message: &str| pages::page(StatusCode::OK, CODE_TITLE, &code_form(typed, Some(message)));
    let Some(found) = found else {
        return refuse_code("We do not recognise this code. Check it against the one Backup Portal shows, and try again.");
    };
    if found.expired {
        return refuse_code("This code has expired; ask for a new one in Backup Portal.");
    }
    if found.status != DeviceStatus::Pending {
        return refuse_code("This code has already been used; ask for a new one in Backup Portal.");
    }

    let email = field("email");
    let decide = |status: DeviceStatus| {
        store::with(|store| match store.device_by_user_code(&found.user_code) {
            Some(device) if device.status == DeviceStatus::Pending && device.expires > Instant::now() => {
                device.status = status;
                true
            }
            _ => false,
        })
    };
    let refusal = match field("decision") {
        "" => return sign_in_page(&found, "", None),
        "deny" => {
            if !decide(DeviceStatus::Denied) {
                return refuse_code("This code has expired or was already used; ask for a new one in Backup Portal.");
            }
            return denied_page(&found);
        }
        "approve" => match sign_in(email, field("password")) {
            SignIn::Invalid => "Your email address or password is not right. Check both and try again.".to_owned(),
            SignIn::Locked(_) => "This account is locked. Ask another administrator of your organisation to unlock it.".into(),
            SignIn::Valid(user) if user.tenant.id != found.tenant.id => {
                format!("This account belongs to another organisation. Sign in with an account of {}.", found.tenant.name)
            }
            SignIn::Valid(user) if !user.backup_role => format!(
                "This account does not have the role {APP_NAME} needs. Sign in as a backup or global administrator of {}.",
                found.tenant.name
            ),
            SignIn::Valid(user) => {
                if !decide(DeviceStatus::Approved(user)) {
                    return refuse_code("This code has expired or was already used; ask for a new one in Backup Portal.");
                }
                tracing::info!(tenant = user.tenant.domain, "embedded identity provider: device code approved");
                return pages::page(
                    StatusCode::OK,
                    &format!("{APP_NAME} can now back up {}", found.tenant.name),
                    &format!("<p>You can close this page and return to {APP_NAME}.</p>"),
                );
            }
        },
        _ => "Choose Approve or Deny.".to_owned(),
    };
    let given_up = store::with(|store| match store.device_by_user_code(&found.user_code) {
        Some(device) => {
            device.attempts += 1;
            if device.attempts >= MAX_SIGN_IN_ATTEMPTS && device.status == DeviceStatus::Pending {
                device.status = DeviceStatus::Denied;
                true
            } else {
                false
            }
        }
        None => true,
    });
    if given_up {
        return denied_page(&found);
    }
    sign_in_page(&found, email, Some(&refusal))
}

fn sign_in_page(found: &Found, email: &str, error: Option<&str>) -> Response {
    let body = format!(
        "<p><strong>{APP_NAME}</strong> asks to back up the mailboxes of <strong>{org}</strong> ({domain}), \
with these permissions:</p>{permissions}{error_html}\
<form method=\"post\" action=\"/idp/device\"><input type=\"hidden\" name=\"code\" value=\"{code}\">{fields}{buttons}</form>\
<p class=\"note\">Sign in with a backup or global administrator account of {org}. Code: {code}.</p>",
        org = esc(found.tenant.name),
        domain = esc(found.tenant.domain),
        permissions = pages::permission_list(&found.scopes),
        error_html = pages::inline_error(error),
        code = esc(&found.user_code),
        fields = pages::sign_in_fields(email, error.is_some()),
        buttons = pages::DECISION_BUTTONS,
    );
    pages::page(StatusCode::OK, &format!("Allow {APP_NAME} to back up {}?", found.tenant.name), &body)
}

fn denied_page(found: &Found) -> Response {
    pages::page(
        StatusCode::OK,
        "Access was denied",
        &format!(
            "<p>{APP_NAME} was not given access to {}. You can close this page; {APP_NAME} asks for a new code when you try again.</p>",
            esc(found.tenant.name)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_codes_are_two_groups_of_four_unambiguous_letters() {
        for _ in 0..100 {
            let code = new_user_code();
            assert_eq!(code.len(), 9);
            assert_eq!(&code[4..5], "-");
            assert!(code.bytes().filter(|b| *b != b'-').all(|b| USER_CODE_ALPHABET.contains(&b)), "{code}");
        }
        assert!(!USER_CODE_ALPHABET.iter().any(|b| b"AEIOU01".contains(b)));
    }
}
