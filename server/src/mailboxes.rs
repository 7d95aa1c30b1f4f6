//! Account Settings › Mailboxes: an organisation's mailboxes, adding a real one over IMAP
//! (after a connection test that says exactly what failed), and a new password for one.

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use futures_util::TryStreamExt;
use portal_api::{Action, ConnectionTest, Connector, FieldError, ImapMailboxRequest, ImapPassword, OrganisationMailbox};

use crate::auth::CurrentUser;
use crate::db::now_ms;
use crate::error::{AppError, AppResult};
use crate::extract::{ApiJson, ApiPath};
use crate::imap::client::{self, Account, Failure, Security};
use crate::queue;
use crate::secrets::SecretString;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/organisations/{id}/mailboxes", get(list_mailboxes).post(add_mailbox))
        .route("/api/organisations/{id}/mailboxes/test", post(test_connection))
        .route("/api/mailboxes/{id}/imap-password", put(change_password))
}

/// The organisation's mailboxes with how each is reached and how its backup stands.
#[utoipa::path(
    get, path = "/api/organisations/{id}/mailboxes", tag = "mailboxes",
    params(("id" = i64, Path, description = "The organisation")),
    responses(
        (status = 200, description = "The organisation's mailboxes", body = [OrganisationMailbox]),
        (status = 403, description = "Not an admin of the organisation nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_mailboxes(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> AppResult<Json<Vec<OrganisationMailbox>>> {
    let organisation = crate::access::organisation(&state.db, &user, id, Action::ViewSettings).await?;
    Ok(Json(crate::listing::organisation_mailboxes(&state.db, organisation).await?))
}

/// The settings checked one by one (each wrong one named), then the account to try.
fn account_of(request: &ImapMailboxRequest) -> AppResult<Account> {
    let mut errors = Vec::new();
    let host = request.host.trim();
    if host.is_empty() || host.contains(char::is_whitespace) || host.len() > 253 {
        errors.push(FieldError::new("host", "Enter the mail server's host name, like imap.example.com."));
    }
    let port = u16::try_from(request.port).ok().filter(|p| *p > 0);
    if port.is_none() {
        errors.push(FieldError::new("port", "Enter a port from 1 to 65535 (993 for TLS)."));
    }
    let security = Security::parse(&request.security);
    match security {
        None => errors.push(FieldError::new("security", "Choose tls or plain.")),
        Some(Security::Plain) if !host.is_empty() && !client::is_loopback(host) => errors.push(FieldError::new(
            "security",
            "Without TLS the password would cross the network unencrypted; plain is allowed only for a server on this machine. Choose TLS.",
        )),
        _ => {}
    }
    if request.username.trim().is_empty() {
        errors.push(FieldError::new("username", "Enter the name the mail server knows the mailbox by."));
    }
    if request.password.is_empty() {
        errors.push(FieldError::new("password", "Enter the mailbox's password."));
    } else if request.password.chars().count() > 1024 {
        errors.push(FieldError::new("password", "A password can be at most 1,024 characters."));
    }
    match (port, security, errors.is_empty()) {
        (Some(port), Some(security), true) => Ok(Account {
            host: host.to_owned(),
            port,
            security,
            username: request.username.trim().to_owned(),
            password: SecretString::new(request.password.clone()),
        }),
        _ => Err(AppError::Validation(errors)),
    }
}

/// Signs in and lists the folders; a failure is named on the field to change.
async fn try_account(state: &AppState, account: &Account) -> AppResult<ConnectionTest> {
    let failed = |failure: Failure| {
        let field = match failure {
            Failure::Authentication(_) => "password",
            Failure::Connection(_) | Failure::Quota(_) | Failure::Other(_) => "host",
        };
        AppError::Validation(vec![FieldError::new(field, failure.to_string())])
    };
    let reach = &state.imap_reach;
    let mut session = client::sign_in(account, reach).await.map_err(failed)?;
    let names: Vec<_> = reach
        .step(account, "listing the folders", async { session.list(Some(""), Some("*")).await?.try_collect().await })
        .await
        .map_err(failed)?;
    client::sign_out(session, reach).await;
    let folders: Vec<String> = names.iter().map(|n| n.name().to_owned()).collect();
    Ok(ConnectionTest {
        summary: format!("Signed in to {}:{} as {}; {} folder(s).", account.host, account.port, account.username, folders.len()),
        folders,
    })
}

/// Test connection: signs in with these settings and says what happened, changing nothing.
#[utoipa::path(
    post, path = "/api/organisations/{id}/mailboxes/test", tag = "mailboxes",
    request_body = ImapMailboxRequest,
    params(("id" = i64, Path, description = "The organisation")),
    responses(
        (status = 200, description = "Signed in", body = ConnectionTest),
        (status = 422, description = "A setting is wrong, or the server refused: named on its field, in the server's words", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn test_connection(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<ImapMailboxRequest>,
) -> AppResult<Json<ConnectionTest>> {
    crate::access::organisation(&state.db, &user, id, Action::ChangeMailboxes).await?;
    let account = account_of(&request)?;
    Ok(Json(try_account(&state, &account).await?))
}

/// Add an IMAP mailbox: its settings are tested first, its password stored sealed, and its
/// first backup queued at once.
#[utoipa::path(
    post, path = "/api/organisations/{id}/mailboxes", tag = "mailboxes",
    request_body = ImapMailboxRequest,
    params(("id" = i64, Path, description = "The organisation")),
    responses(
        (status = 201, description = "Added; its first backup is queued", body = OrganisationMailbox),
        (status = 403, description = "Not an admin of the organisation nor its reseller", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "A setting is wrong, the address is taken, or the server refused", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn add_mailbox(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(request): ApiJson<ImapMailboxRequest>,
) -> AppResult<(StatusCode, Json<OrganisationMailbox>)> {
    let organisation = crate::access::organisation(&state.db, &user, id, Action::ChangeMailboxes).await?;
    let email = request.email.trim().to_lowercase();
    let email_error = if !crate::access::looks_like_email(&email) {
        Some("Enter the mailbox's address, like name@example.com.")
    } else {
        // Within the organisation: it tells the admin nothing they cannot see.
        let taken: Option<(i64,)> = sqlx::query_as("SELECT id FROM mailboxes WHERE email = $1 AND organisation_id = $2")
            .bind(&email)
            .bind(organisation)
            .fetch_optional(&state.db)
            .await?;
        taken.map(|_| ALREADY)
    };
    let account = match (account_of(&request), email_error) {
        (Ok(account), None) => account,
        (Ok(_), Some(message)) => return Err(AppError::Validation(vec![FieldError::new("email", message)])),
        (Err(AppError::Validation(mut errors)), message) => {
            errors.extend(message.map(|m| FieldError::new("email", m)));
            return Err(AppError::Validation(errors));
        }
        (Err(other), _) => return Err(other),
    };
    try_account(&state, &account).await?;
    // An address is backed up once across the service. That it is backed up by another
    // organisation is said only now, to someone who has just signed in to the mailbox itself,
    // so the form cannot be used to learn which addresses other organisations back up.
    let elsewhere: Option<(i64,)> =
        sqlx::query_as("SELECT id FROM mailboxes WHERE email = $1").bind(&email).fetch_optional(&state.db).await?;
    if elsewhere.is_some() {
        return Err(AppError::Validation(vec![FieldError::new("email", ALREADY)]));
    }

    let now = now_ms();
    let mut tx = state.db.begin().await?;
    // The new ID taken in the INSERT itself: a transaction that read first and wrote after
    // would be refused by SQLite (not waited for) whenever another write landed in between.
    let (next_id,): (i64,) = sqlx::query_as(
        "INSERT INTO mailboxes (id, organisation_id, email, display_name, connector, demo_script) \
         SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $2, $3, 'ok' FROM mailboxes RETURNING id",
    )
    .bind(organisation)
    .bind(&email)
    .bind(Connector::Imap.as_str())
    .fetch_one(&mut *tx)
    .await?;
    queue::add_backup_row(&mut tx, next_id, now).await?;
    tx.commit().await?;
    let sealed = seal_password(&state, organisation, next_id, &account.password).await?;
    sqlx::query(
        "INSERT INTO imap_accounts (mailbox_id, host, port, security, username, password_sealed, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(next_id)
    .bind(&account.host)
    .bind(i32::from(account.port))
    .bind(account.security.as_str())
    .bind(&account.username)
    .bind(&sealed)
    .bind(now)
    .execute(&state.db)
    .await?;
    queue::enqueue_backup(&state.db, next_id, Some(user.user_id), now).await?;
    state.engine.wake();
    crate::activity::store::record(
        &state.db,
        &user,
        portal_api::ActivityAction::MailboxAdded,
        crate::activity::store::Target::mailbox(next_id),
    )
    .await;
    Ok((StatusCode::CREATED, Json(crate::listing::mailbox(&state.db, next_id).await?)))
}

const ALREADY: &str = "A mailbox with this address is backed up already.";

async fn seal_password(state: &AppState, organisation_id: i64, mailbox_id: i64, password: &SecretString) -> AppResult<String> {
    let context = crate::imap::password_context(mailbox_id);
    state
        .secrets
        .seal(&state.db, organisation_id, &context, password.expose().as_bytes())
        .await
        .map_err(|error| AppError::Internal(format!("sealing a mailbox password: {error}")))
}

/// A new password for an IMAP mailbox: tried first, then stored sealed; a backup that stopped
/// in Authentication Error runs again at once.
#[utoipa::path(
    put, path = "/api/mailboxes/{id}/imap-password", tag = "mailboxes",
    request_body = ImapPassword,
    params(("id" = i64, Path, description = "The mailbox")),
    responses(
        (status = 200, description = "Tried and saved", body = OrganisationMailbox),
        (status = 404, description = "No such IMAP mailbox among those you manage", body = portal_api::Problem, content_type = "application/problem+json"),
        (status = 422, description = "Empty, or the server refused it", body = portal_api::Problem, content_type = "application/problem+json"),
    )
)]
pub async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<ImapPassword>,
) -> AppResult<Json<OrganisationMailbox>> {
    // The role first, so that an end user learns nothing of which mailboxes exist.
    crate::access::require(&user, Action::ChangeMailboxes)?;
    let found: Option<(i64, String, i32, String, String)> = sqlx::query_as(
        "SELECT m.organisation_id, a.host, a.port, a.security, a.username FROM mailboxes m \
         JOIN imap_accounts a ON a.mailbox_id = m.id WHERE m.id = $1",
    )
    .bind(id)
    .fetch_optional(&state.db)
    .await?;
    let not_found = || AppError::not_found(format!("There is no IMAP mailbox {id} among those you manage."));
    let (organisation_id, host, port, security, username) = found.ok_or_else(not_found)?;
    crate::access::organisation(&state.db, &user, organisation_id, Action::ChangeMailboxes).await.map_err(|_| not_found())?;
    let request =
        ImapMailboxRequest { email: String::new(), host, port: port.max(0) as u32, security, username, password: body.password };
    let account = account_of(&request)?;
    try_account(&state, &account).await?;
    let sealed = seal_password(&state, organisation_id, id, &account.password).await?;
    let now = now_ms();
    sqlx::query("UPDATE imap_accounts SET password_sealed = $1, updated_at = $2 WHERE mailbox_id = $3")
        .bind(&sealed)
        .bind(now)
        .bind(id)
        .execute(&state.db)
        .await?;
    // The backup that the old password stopped runs again now.
    if queue::restart_stopped_backups(&state.db, queue::Stopped::Mailbox(id), Some(user.user_id)).await? > 0 {
        state.engine.wake();
    }
    crate::activity::store::record(
        &state.db,
        &user,
        portal_api::ActivityAction::MailboxPasswordChanged,
        crate::activity::store::Target::mailbox(id),
    )
    .await;
    Ok(Json(crate::listing::mailbox(&state.db, id).await?))
}
