//! The portal's one HTTP client. Every request goes through `request`, which returns the
//! server's problem details on failure, so the page that asked can show them.

use std::cell::RefCell;
use std::fmt;

use gloo_net::http::{Method, RequestBuilder};
use leptos::prelude::{ArcRwSignal, Update};
use portal_api::problem::PROBLEM_CONTENT_TYPE;
use portal_api::{
    jobs::DestinationPassword, ActivityEntry, ActivityQuery, ApiToken, BackupAdminSignIn, BackupHistory, BackupRow, BackupsQuery,
    ConnectionTest, ConsentStart, CreatedApiToken, CreatedWebhook, Credentials, Dashboard, Delivery, DeviceFlow,
    ForceBackupsRequest, ForceBackupsResult, HaloAppliedToAll, HaloSettings, HaloSettingsInput, HaloTest, ImapMailboxRequest,
    ImapPassword, JobKind, JobRow, JobSort, JobStatus, JobsQuery, LegalHold, MessageHit, MessagePreview, MessagesQuery,
    NewApiToken, NewJob, NewWebhook, OrganisationMailbox, OrganisationSummary, Page, Problem, Retention, RetentionInput,
    SecondFactorChallenge, SecondFactorCode, SessionInfo, SignInRequest, SkippedItem, StatusCount, Webhook, CSRF_HEADER,
    REQUEST_ID_HEADER,
};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde::Serialize;

// Account › Security's requests, in a file of their own (through `request` here, like every other).
mod passkeys;
mod security;
pub use self::passkeys::*;
pub use self::security::*;

/// A request that did not succeed, with everything the user and support need to know.
#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub method: String,
    pub path: String,
    /// The HTTP status; `None` when the server could not be reached at all.
    pub status: Option<u16>,
    /// The server's problem details, when it sent them.
    pub problem: Option<Problem>,
    /// The request ID from the response header (also in the problem's `instance`).
    pub request_id: Option<String>,
    /// What went wrong on our side of the wire (network, unreadable answer).
    pub message: String,
    /// For 429 and 503: how many seconds the server asked us to wait (`Retry-After`).
    pub retry_after_secs: Option<u32>,
    /// When the answer came (ms since the epoch): a wait it asked for counts from then, however
    /// often the notice showing it is drawn anew.
    pub received_at_ms: f64,
}

impl ApiError {
    pub fn is_unauthenticated(&self) -> bool {
        self.status == Some(401)
    }

    /// Whether the server named this kind of problem (the last segment of its `type`).
    pub fn is_problem(&self, kind: &str) -> bool {
        self.problem.as_ref().is_some_and(|p| p.type_uri.rsplit('/').next() == Some(kind))
    }

    /// The message the server gave for one field of a 422.
    pub fn field_error(&self, field: &str) -> Option<String> {
        self.problem.as_ref()?.field_error(field).map(str::to_owned)
    }

    pub fn request_id(&self) -> Option<&str> {
        self.problem.as_ref().and_then(|p| p.instance.as_deref()).or(self.request_id.as_deref())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.status, &self.problem) {
            (Some(status), Some(problem)) => write!(f, "{} {}: {status} {}", self.method, self.path, problem.title),
            (Some(status), None) => write!(f, "{} {}: {status} {}", self.method, self.path, self.message),
            (None, _) => write!(f, "{} {}: {}", self.method, self.path, self.message),
        }
    }
}

impl std::error::Error for ApiError {}

thread_local! {
    /// The session's CSRF token, sent on every state-changing request. Kept in memory only.
    static CSRF_TOKEN: RefCell<Option<String>> = const { RefCell::new(None) };
    /// This session's failed requests, newest first: what the Problems panel lists.
    static FAILED_REQUESTS: ArcRwSignal<Vec<FailedRequest>> = ArcRwSignal::new(Vec::new());
}

/// A request that failed, and when (for the Problems panel).
#[derive(Clone, Debug, PartialEq)]
pub struct FailedRequest {
    pub at_ms: f64,
    pub error: ApiError,
}

/// How many failed requests the panel keeps.
const FAILED_REQUESTS_KEPT: usize = 50;

/// This session's failed requests, newest first, as a signal the panel follows.
pub fn failed_requests() -> ArcRwSignal<Vec<FailedRequest>> {
    FAILED_REQUESTS.with(Clone::clone)
}

fn record_failure(error: &ApiError) {
    // Not signed in yet is how every visit starts, not a problem to list.
    if error.is_unauthenticated() && error.method == "GET" && error.path == "/api/session" {
        return;
    }
    let entry = FailedRequest { at_ms: crate::time::now_ms(), error: error.clone() };
    FAILED_REQUESTS.with(|failed| {
        failed.update(|list| {
            list.insert(0, entry);
            list.truncate(FAILED_REQUESTS_KEPT);
        })
    });
}

fn remember_session(session: &SessionInfo) {
    CSRF_TOKEN.with(|t| *t.borrow_mut() = Some(session.csrf_token.clone()));
}

/// The one function that talks to the server. Generic only in what it decodes; the
/// sending and the error handling are compiled once (`send`), which keeps the wasm small.
pub async fn request<T: DeserializeOwned>(method: Method, path: &str, body: Option<&impl Serialize>) -> Result<T, ApiError> {
    let body = match body {
        Some(body) => Some(to_json(body).map_err(|message| ApiError {
            method: method.as_str().to_owned(),
            path: path.to_owned(),
            status: None,
            problem: None,
            request_id: None,
            message,
            retry_after_secs: None,
            received_at_ms: crate::time::now_ms(),
        })?),
        None => None,
    };
    // Boxed: one copy of `send` in the wasm, not one inlined into every caller.
    let (text, failure) = Box::pin(send(method, path, body)).await.inspect_err(record_failure)?;
    // An empty answer (204) reads as `null`, which is what `()` expects.
    let text = if text.is_empty() { "null" } else { text.as_str() };
    from_json(text).map_err(|message| ApiError { message, ..failure }).inspect_err(record_failure)
}

/// A value as JavaScript sees JSON: maps (a passkey's WebAuthn JSON) as plain objects, not as
/// `Map`s, which `JSON.stringify` would write as `{}`.
pub fn to_js(value: &impl Serialize) -> Result<wasm_bindgen::JsValue, serde_wasm_bindgen::Error> {
    value.serialize(&serde_wasm_bindgen::Serializer::new().serialize_maps_as_objects(true))
}

// JSON through the browser's own parser and serialiser: serde_json's code would add
// tens of kilobytes to the wasm that every visitor downloads.
fn from_json<T: DeserializeOwned>(text: &str) -> Result<T, String> {
    let value = js_sys::JSON::parse(text).map_err(|_| "the answer is not JSON".to_owned())?;
    serde_wasm_bindgen::from_value(value).map_err(|e| format!("the answer could not be read: {e}"))
}

fn to_json(value: &impl Serialize) -> Result<String, String> {
    let value = to_js(value).map_err(|e| format!("the request could not be written: {e}"))?;
    js_sys::JSON::stringify(&value).map(String::from).map_err(|_| "the request could not be written".to_owned())
}

/// Sends a request; on success returns the body, and the error to report should it not decode.
async fn send(method: Method, path: &str, body: Option<String>) -> Result<(String, ApiError), ApiError> {
    let fail = |status: Option<u16>, message: String| ApiError {
        method: method.as_str().to_owned(),
        path: path.to_owned(),
        status,
        problem: None,
        request_id: None,
        message,
        retry_after_secs: None,
        received_at_ms: crate::time::now_ms(),
    };

    let changes_state = !matches!(method, Method::GET);
    let mut builder = RequestBuilder::new(path).method(method.clone()).header("accept", "application/json");
    if changes_state {
        if let Some(token) = CSRF_TOKEN.with(|t| t.borrow().clone()) {
            builder = builder.header(CSRF_HEADER, &token);
        }
    }
    let request = match body {
        Some(body) => builder.header("content-type", "application/json").body(body),
        None => builder.build(),
    }
    .map_err(|e| fail(None, format!("the request could not be prepared: {e}")))?;

    let response = request.send().await.map_err(|_| fail(None, "The server could not be reached.".to_owned()))?;
    let status = response.status();
    let request_id = response.headers().get(REQUEST_ID_HEADER);
    let text = response.text().await.unwrap_or_default();
    if response.ok() {
        return Ok((text, ApiError { request_id, ..fail(Some(status), String::new()) }));
    }
    let is_problem = response.headers().get("content-type").is_some_and(|c| c.starts_with(PROBLEM_CONTENT_TYPE));
    let problem = if is_problem { from_json::<Problem>(&text).ok() } else { None };
    // Delta-seconds only: the server never sends an HTTP date here.
    let retry_after_secs = response.headers().get("retry-after").and_then(|v| v.trim().parse().ok());
    Err(ApiError { problem, request_id, retry_after_secs, ..fail(Some(status), response.status_text()) })
}

async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    request(Method::GET, path, None::<&()>).await
}

pub async fn current_session() -> Result<SessionInfo, ApiError> {
    let session: SessionInfo = get("/api/session").await?;
    remember_session(&session);
    Ok(session)
}

/// What a right password is answered with: signed in (200), or a second factor to give first
/// (202; the server keeps the half-done sign-in in a cookie of its own). Told apart by their
/// fields: a challenge has no email address.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum SignInAnswer {
    SignedIn(SessionInfo),
    SecondFactor(SecondFactorChallenge),
}

pub async fn sign_in(credentials: &SignInRequest) -> Result<SignInAnswer, ApiError> {
    let answer: SignInAnswer = request(Method::POST, "/api/session", Some(credentials)).await?;
    if let SignInAnswer::SignedIn(session) = &answer {
        remember_session(session);
    }
    Ok(answer)
}

/// The second step of signing in: a code from the authenticator app, or a recovery code.
pub async fn sign_in_second_factor(code: &SecondFactorCode) -> Result<SessionInfo, ApiError> {
    let session: SessionInfo = request(Method::POST, "/api/session/second-factor", Some(code)).await?;
    remember_session(&session);
    Ok(session)
}

pub async fn sign_out() -> Result<(), ApiError> {
    request::<()>(Method::DELETE, "/api/session", None::<&()>).await?;
    CSRF_TOKEN.with(|t| *t.borrow_mut() = None);
    Ok(())
}

pub async fn backups(query: &BackupsQuery) -> Result<Page<BackupRow>, ApiError> {
    let mut pairs = Vec::new();
    if let Some(q) = query.q.as_deref().filter(|q| !q.is_empty()) {
        pairs.push(("q", q.to_owned()));
    }
    if let Some(status) = query.status.as_deref().filter(|s| !s.is_empty()) {
        pairs.push(("status", status.to_owned()));
    }
    if let Some(page) = query.page {
        pairs.push(("page", page.to_string()));
    }
    if let Some(per_page) = query.per_page {
        pairs.push(("per_page", per_page.to_string()));
    }
    get(&format!("/api/backups{}", query_string(&pairs))).await
}

/// `?a=1&b=two`, each value percent-encoded; empty for no pairs.
pub fn query_string(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let encoded: Vec<String> = pairs.iter().map(|(key, value)| format!("{key}={}", encode(value))).collect();
    format!("?{}", encoded.join("&"))
}

pub async fn force_backup(mailbox_id: i64) -> Result<BackupRow, ApiError> {
    request(Method::POST, &format!("/api/backups/{mailbox_id}/force"), None::<&()>).await
}

/// An account's last 30 backups, newest first.
pub async fn backup_history(mailbox_id: i64) -> Result<BackupHistory, ApiError> {
    get(&format!("/api/backups/{mailbox_id}/history")).await
}

pub async fn force_backups(filter: &ForceBackupsRequest) -> Result<ForceBackupsResult, ApiError> {
    request(Method::POST, "/api/backups/force", Some(filter)).await
}

pub async fn jobs(query: &JobsQuery) -> Result<Page<JobRow>, ApiError> {
    let mut pairs = vec![("kind", query.kind.map(JobKind::as_str).unwrap_or_default().to_owned())];
    if let Some(q) = query.q.as_deref().filter(|v| !v.is_empty()) {
        pairs.push(("q", q.to_owned()));
    }
    let names = [("status", query.status.map(JobStatus::as_str)), ("sort", query.sort.map(JobSort::as_str))];
    for (key, value) in names {
        if let Some(value) = value {
            pairs.push((key, value.to_owned()));
        }
    }
    if let Some(page) = query.page {
        pairs.push(("page", page.to_string()));
    }
    get(&format!("/api/jobs{}", query_string(&pairs))).await
}

/// How many jobs of a kind are in each of its statuses, under a text search.
pub async fn job_counts(kind: JobKind, q: Option<&str>) -> Result<Vec<StatusCount>, ApiError> {
    let mut pairs = vec![("kind", kind.as_str().to_owned())];
    if let Some(q) = q.filter(|q| !q.is_empty()) {
        pairs.push(("q", q.to_owned()));
    }
    get(&format!("/api/jobs/counts{}", query_string(&pairs))).await
}

/// A value as one segment of a path or query (an ID typed into the address bar can hold anything).
fn encode(value: &str) -> String {
    js_sys::encode_uri_component(value).into()
}

/// One migration, restore or download.
pub async fn job(id: &str) -> Result<JobRow, ApiError> {
    get(&format!("/api/jobs/{}", encode(id))).await
}

/// Delete a finished migration, restore or download.
pub async fn delete_job(id: &str) -> Result<(), ApiError> {
    request(Method::DELETE, &format!("/api/jobs/{}", encode(id)), None::<&()>).await
}

/// Try again / Request again.
pub async fn retry_job(id: &str) -> Result<JobRow, ApiError> {
    request(Method::POST, &format!("/api/jobs/{id}/retry"), None::<&()>).await
}

/// Edit: the destination mailbox's password for a restore or migration refused by it.
pub async fn set_destination_password(id: &str, password: &DestinationPassword) -> Result<JobRow, ApiError> {
    request(Method::PUT, &format!("/api/jobs/{id}/destination-password"), Some(password)).await
}

/// The organisations whose credentials the user may manage.
pub async fn organisations() -> Result<Vec<OrganisationSummary>, ApiError> {
    get("/api/organisations").await
}

/// An organisation's credentials, their history and a Device Authorization under way.
pub async fn credentials(organisation_id: i64) -> Result<Credentials, ApiError> {
    get(&format!("/api/organisations/{organisation_id}/credentials")).await
}

/// Continue: a new admin-consent flow (the caller sends the browser to its address).
pub async fn start_consent(organisation_id: i64) -> Result<ConsentStart, ApiError> {
    request(Method::POST, &format!("/api/organisations/{organisation_id}/credentials/main-app/consent"), None::<&()>).await
}

/// Re Authenticate: the backup admin's username and password.
pub async fn reauthenticate_backup_admin(organisation_id: i64, sign_in: &BackupAdminSignIn) -> Result<Credentials, ApiError> {
    request(Method::PUT, &format!("/api/organisations/{organisation_id}/credentials/backup-admin"), Some(sign_in)).await
}

/// Device Authorization: a new code.
pub async fn start_device(organisation_id: i64) -> Result<DeviceFlow, ApiError> {
    request(Method::POST, &format!("/api/organisations/{organisation_id}/credentials/device"), None::<&()>).await
}

/// Check now: each stored credential tried with the provider.
pub async fn verify_credentials(organisation_id: i64) -> Result<Credentials, ApiError> {
    request(Method::POST, &format!("/api/organisations/{organisation_id}/credentials/verify"), None::<&()>).await
}

/// Verify & Continue.
pub async fn complete_device(organisation_id: i64, flow_id: &str) -> Result<Credentials, ApiError> {
    request(Method::POST, &format!("/api/organisations/{organisation_id}/credentials/device/{flow_id}/complete"), None::<&()>)
        .await
}

pub async fn dashboard() -> Result<Dashboard, ApiError> {
    get("/api/dashboard").await
}

/// Start a migration, restore or download.
pub async fn start_job(job: &NewJob) -> Result<JobRow, ApiError> {
    request(Method::POST, "/api/jobs", Some(job)).await
}

/// The folders a mailbox's backup holds (what a restore or download can choose from).
pub async fn backup_folders(mailbox_id: i64) -> Result<Vec<String>, ApiError> {
    get(&format!("/api/backups/{mailbox_id}/folders")).await
}

/// What a job's last run skipped, and why.
pub async fn skipped_items(job_id: &str) -> Result<Vec<SkippedItem>, ApiError> {
    get(&format!("/api/jobs/{}/skipped", encode(job_id))).await
}

/// An organisation's mailboxes (Account Settings › Mailboxes).
pub async fn organisation_mailboxes(organisation_id: i64) -> Result<Vec<OrganisationMailbox>, ApiError> {
    get(&format!("/api/organisations/{organisation_id}/mailboxes")).await
}

/// Test connection: signs in with these IMAP settings, changing nothing.
pub async fn test_mailbox(organisation_id: i64, settings: &ImapMailboxRequest) -> Result<ConnectionTest, ApiError> {
    request(Method::POST, &format!("/api/organisations/{organisation_id}/mailboxes/test"), Some(settings)).await
}

/// Adds an IMAP mailbox (tested first); its first backup is queued.
pub async fn add_mailbox(organisation_id: i64, settings: &ImapMailboxRequest) -> Result<OrganisationMailbox, ApiError> {
    request(Method::POST, &format!("/api/organisations/{organisation_id}/mailboxes"), Some(settings)).await
}

/// A new password for an IMAP mailbox (tried first).
pub async fn change_mailbox_password(mailbox_id: i64, password: &ImapPassword) -> Result<OrganisationMailbox, ApiError> {
    request(Method::PUT, &format!("/api/mailboxes/{mailbox_id}/imap-password"), Some(password)).await
}

/// The organisation's HaloPSA connection; `None` when none is set up.
pub async fn halo_settings(organisation_id: i64) -> Result<Option<HaloSettings>, ApiError> {
    get(&format!("/api/organisations/{organisation_id}/integrations/halo")).await
}

/// Saves the HaloPSA connection (an empty client secret keeps the saved one).
pub async fn save_halo(organisation_id: i64, settings: &HaloSettingsInput) -> Result<HaloSettings, ApiError> {
    request(Method::PUT, &format!("/api/organisations/{organisation_id}/integrations/halo"), Some(settings)).await
}

/// Saves one HaloPSA connection for every organisation the user serves (each keeps its Halo
/// client; the secret must be typed).
pub async fn save_halo_for_all(settings: &HaloSettingsInput) -> Result<HaloAppliedToAll, ApiError> {
    request(Method::PUT, "/api/integrations/halo", Some(settings)).await
}

/// Removes the HaloPSA connection: no more tickets are filed.
pub async fn remove_halo(organisation_id: i64) -> Result<(), ApiError> {
    request(Method::DELETE, &format!("/api/organisations/{organisation_id}/integrations/halo"), None::<&()>).await
}

/// Test connection: signs in to Halo with these settings and finds the client, saving nothing.
pub async fn test_halo(organisation_id: i64, settings: &HaloSettingsInput) -> Result<HaloTest, ApiError> {
    request(Method::POST, &format!("/api/organisations/{organisation_id}/integrations/halo/test"), Some(settings)).await
}

/// The organisation's webhook endpoints.
pub async fn webhooks(organisation_id: i64) -> Result<Vec<Webhook>, ApiError> {
    get(&format!("/api/organisations/{organisation_id}/webhooks")).await
}

/// Adds a webhook endpoint; the answer carries its signing secret, this once.
pub async fn add_webhook(organisation_id: i64, webhook: &NewWebhook) -> Result<CreatedWebhook, ApiError> {
    request(Method::POST, &format!("/api/organisations/{organisation_id}/webhooks"), Some(webhook)).await
}

pub async fn delete_webhook(organisation_id: i64, webhook_id: &str) -> Result<(), ApiError> {
    request(Method::DELETE, &format!("/api/organisations/{organisation_id}/webhooks/{}", encode(webhook_id)), None::<&()>).await
}

/// Send test event: queues a `webhook.test` delivery to this endpoint only.
pub async fn test_webhook(organisation_id: i64, webhook_id: &str) -> Result<Delivery, ApiError> {
    request(Method::POST, &format!("/api/organisations/{organisation_id}/webhooks/{}/test", encode(webhook_id)), None::<&()>)
        .await
}

/// Every delivery of the organisation's events, newest first.
pub async fn deliveries(organisation_id: i64) -> Result<Vec<Delivery>, ApiError> {
    get(&format!("/api/organisations/{organisation_id}/deliveries")).await
}

/// Send again: a failed (or waiting) delivery is attempted anew.
pub async fn send_delivery_again(delivery_id: &str) -> Result<Delivery, ApiError> {
    request(Method::POST, &format!("/api/deliveries/{}/send-again", encode(delivery_id)), None::<&()>).await
}

/// The API tokens the user manages, newest first (revoked and expired ones too).
pub async fn api_tokens() -> Result<Vec<ApiToken>, ApiError> {
    get("/api/tokens").await
}

/// A new API token for the signed-in user; the answer carries the token, this once.
pub async fn create_api_token(token: &NewApiToken) -> Result<CreatedApiToken, ApiError> {
    request(Method::POST, "/api/tokens", Some(token)).await
}

/// Revoke: the token answers 401 from its next request on.
pub async fn revoke_api_token(token_id: &str) -> Result<(), ApiError> {
    request(Method::DELETE, &format!("/api/tokens/{}", encode(token_id)), None::<&()>).await
}

/// A page of the activity log, newest first.
pub async fn activity(query: &ActivityQuery) -> Result<Page<ActivityEntry>, ApiError> {
    get(&format!("/api/activity{}", query_string(&activity_pairs(query)))).await
}

/// The address of the activity log as CSV under the same filters (every page): a link the
/// browser downloads with the session's cookie.
pub fn activity_csv_href(query: &ActivityQuery) -> String {
    let query = ActivityQuery { page: None, per_page: None, ..query.clone() };
    format!("/api/activity.csv{}", query_string(&activity_pairs(&query)))
}

fn activity_pairs(query: &ActivityQuery) -> Vec<(&'static str, String)> {
    let mut pairs = Vec::new();
    for (key, value) in [("action", &query.action), ("q", &query.q)] {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            pairs.push((key, value.to_owned()));
        }
    }
    if let Some(organisation_id) = query.organisation_id {
        pairs.push(("organisation_id", organisation_id.to_string()));
    }
    if let Some(page) = query.page {
        pairs.push(("page", page.to_string()));
    }
    if let Some(per_page) = query.per_page {
        pairs.push(("per_page", per_page.to_string()));
    }
    pairs
}

/// A page of the messages found in the backups the user may see.
pub async fn messages(query: &MessagesQuery) -> Result<Page<MessageHit>, ApiError> {
    get(&format!("/api/messages{}", query_string(&message_pairs(query)))).await
}

/// The query of a message search, in the order the page's address has it (empty values left out).
pub fn message_pairs(query: &MessagesQuery) -> Vec<(&'static str, String)> {
    let mut pairs = Vec::new();
    let texts = [("q", &query.q), ("from", &query.from), ("to", &query.to)];
    for (key, value) in texts {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            pairs.push((key, value.to_owned()));
        }
    }
    if let Some(mailbox_id) = query.mailbox_id {
        pairs.push(("mailbox_id", mailbox_id.to_string()));
    }
    let more = [("folder", &query.folder), ("after", &query.after), ("before", &query.before)];
    for (key, value) in more {
        if let Some(value) = value.as_deref().filter(|v| !v.is_empty()) {
            pairs.push((key, value.to_owned()));
        }
    }
    for (key, value) in [("has_attachment", query.has_attachment), ("deleted", query.deleted)] {
        if let Some(value) = value {
            pairs.push((key, value.to_string()));
        }
    }
    if let Some(sort) = query.sort.as_deref().filter(|v| !v.is_empty()) {
        pairs.push(("sort", sort.to_owned()));
    }
    if let Some(page) = query.page {
        pairs.push(("page", page.to_string()));
    }
    if let Some(per_page) = query.per_page {
        pairs.push(("per_page", per_page.to_string()));
    }
    pairs
}

/// One message of a backup, read for its preview.
pub async fn message(id: i64) -> Result<MessagePreview, ApiError> {
    get(&format!("/api/messages/{id}")).await
}

/// The address of a message's HTML body, made safe (for a sandboxed frame); `remote_images`
/// keeps the images it loads from other sites.
pub fn message_html_href(id: i64, remote_images: bool) -> String {
    if remote_images {
        format!("/api/messages/{id}/html?images=remote")
    } else {
        format!("/api/messages/{id}/html")
    }
}

/// The address of one attachment of a message: a link the browser downloads.
pub fn attachment_href(id: i64, index: u32) -> String {
    format!("/api/messages/{id}/attachments/{index}")
}

/// How long an organisation keeps messages deleted from its mailboxes, and what pruning did.
pub async fn retention(organisation_id: i64) -> Result<Retention, ApiError> {
    get(&format!("/api/organisations/{organisation_id}/retention")).await
}

pub async fn save_retention(organisation_id: i64, input: &RetentionInput) -> Result<Retention, ApiError> {
    request(Method::PUT, &format!("/api/organisations/{organisation_id}/retention"), Some(input)).await
}

/// Puts a mailbox on legal hold (retention removes nothing of it) or takes it off.
pub async fn set_legal_hold(mailbox_id: i64, hold: &LegalHold) -> Result<OrganisationMailbox, ApiError> {
    request(Method::PUT, &format!("/api/mailboxes/{mailbox_id}/legal-hold"), Some(hold)).await
}
