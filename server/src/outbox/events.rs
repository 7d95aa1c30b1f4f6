//! What each event says: built from the change it reports, in the transaction that makes it
//! (the queue's end of a run, a credential's break or fix), and recorded in the outbox.

use portal_api::{CredentialKind, EventType, JobKind, JobStatus};
use serde_json::json;

use super::{record, NewEvent};
use crate::db::rfc3339;

/// The subject of a mailbox's backup error of one type: one open ticket each.
pub fn backup_subject(mailbox_id: i64, error_type: &str) -> String {
    format!("mailbox:{mailbox_id}:{error_type}")
}

/// The subject of a credential's break, fix, expiry warnings and renewal: one ticket, in order.
pub fn credential_subject(kind: CredentialKind) -> String {
    format!("credential:{}", kind.as_str())
}

/// Whether the last event recorded about `subject` was of this type (a problem still open).
async fn last_event_is(
    conn: &mut sqlx::AnyConnection,
    organisation_id: i64,
    subject: &str,
    event_type: EventType,
) -> Result<bool, sqlx::Error> {
    let last: Option<(String,)> = sqlx::query_as(
        "SELECT type FROM notifications WHERE organisation_id = $1 AND subject = $2 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(organisation_id)
    .bind(subject)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(last.is_some_and(|(t,)| t == event_type.as_str()))
}

#[derive(sqlx::FromRow)]
struct JobInfo {
    #[sqlx(try_from = "String")]
    kind: JobKind,
    mailbox_id: i64,
    email: String,
    organisation_id: i64,
    organisation: String,
}

/// A run ended with `status` (`finished`: no retry is waiting). Records what the organisation's
/// receivers hear of it: a backup error (each time: a repeat is a note on the same ticket), a
/// backup that completed after one, a failed restore, a ready download.
pub async fn job_finished(
    conn: &mut sqlx::AnyConnection,
    job_id: &str,
    status: JobStatus,
    finished: bool,
    detail: Option<&str>,
) -> Result<(), sqlx::Error> {
    let info: Option<JobInfo> = sqlx::query_as(
        "SELECT j.kind, j.mailbox_id, m.email, m.organisation_id, o.name AS organisation \
         FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id JOIN organisations o ON o.id = m.organisation_id WHERE j.id = $1",
    )
    .bind(job_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(info) = info else { return Ok(()) };
    let explanation = portal_api::jobs::explain(info.kind, status);
    let base = json!({
        "organisation": { "id": info.organisation_id, "name": info.organisation },
        "mailbox": { "id": info.mailbox_id, "email": info.email },
        "job_id": job_id,
        "status": status.as_str(),
        "status_label": status.label(),
        "cause": detail.unwrap_or(explanation.cause),
        "what_to_do": explanation.what_to_do,
    });
    let event = match info.kind {
        JobKind::Backup => {
            let backup_link =
                format!("/status/backups?q={}", form_urlencoded::byte_serialize(info.email.as_bytes()).collect::<String>());
            // Partially Complete saved the mailbox (what it skipped is listed on the row): it is
            // no failure to file, and it ends one.
            let failed = portal_api::error_types::for_job(info.kind, status).filter(|_| status != JobStatus::PartiallyComplete);
            if let Some(error_type) = failed {
                let mut data = base;
                data["psa_type"] = json!(error_type.title);
                data["link"] = json!(backup_link);
                Some((EventType::BackupErrorDetected, backup_subject(info.mailbox_id, error_type.id), data, error_type.title))
            } else if matches!(status, JobStatus::Completed | JobStatus::PartiallyComplete) {
                let error_type = &portal_api::error_types::ERROR_TYPES[0];
                let subject = backup_subject(info.mailbox_id, error_type.id);
                if last_event_is(conn, info.organisation_id, &subject, EventType::BackupErrorDetected).await? {
                    let mut data = base;
                    data["psa_type"] = json!(error_type.title);
                    data["link"] = json!(backup_link);
                    Some((EventType::BackupErrorResolved, subject, data, "The email backup works again"))
                } else {
                    None
                }
            } else {
                None
            }
        }
        // Authentication Error waits for the destination's password (Edit): not a failure yet.
        JobKind::Restore
            if finished
                && !matches!(status, JobStatus::Completed | JobStatus::PartiallyComplete | JobStatus::AuthenticationError) =>
        {
            let mut data = base;
            data["link"] = json!(format!("/status/restores/{job_id}"));
            Some((EventType::RestoreFailed, format!("job:{job_id}"), data, "A restore failed"))
        }
        JobKind::Download if status == JobStatus::Completed => {
            let mut data = base;
            data["link"] = json!(format!("/status/downloads/{job_id}"));
            Some((EventType::DownloadReady, format!("job:{job_id}"), data, "A download is ready"))
        }
        _ => None,
    };
    let Some((event_type, subject, data, title)) = event else { return Ok(()) };
    let summary = format!("{title}: {} ({})", info.email, status.label());
    record(
        conn,
        NewEvent {
            organisation_id: info.organisation_id,
            event_type,
            subject,
            mailbox_id: Some(info.mailbox_id),
            summary,
            data,
            dedupe_key: None,
            only_webhook: None,
        },
    )
    .await?;
    Ok(())
}

async fn organisation_name(conn: &mut sqlx::AnyConnection, organisation_id: i64) -> Result<String, sqlx::Error> {
    let (name,): (String,) =
        sqlx::query_as("SELECT name FROM organisations WHERE id = $1").bind(organisation_id).fetch_one(&mut *conn).await?;
    Ok(name)
}

fn credential_data(organisation_id: i64, organisation: &str, kind: CredentialKind, title: &str) -> serde_json::Value {
    json!({
        "organisation": { "id": organisation_id, "name": organisation },
        "credential": kind.as_str(),
        "credential_label": kind.label(),
        "psa_type": title,
        "link": format!("/settings/credentials?organisation={organisation_id}#{}", kind.as_str()),
    })
}

/// A credential broke (`broken`) or works again.
pub async fn credential_changed(
    conn: &mut sqlx::AnyConnection,
    organisation_id: i64,
    kind: CredentialKind,
    broken: bool,
    detail: Option<&str>,
) -> Result<(), sqlx::Error> {
    let organisation = organisation_name(conn, organisation_id).await?;
    let title = kind.event_title(!broken);
    let mut data = credential_data(organisation_id, &organisation, kind, title);
    data["cause"] = json!(detail);
    data["what_to_do"] = json!(if broken { kind.broken_explanation() } else { "Nothing: backups go on." });
    let event_type = if broken { EventType::CredentialBroken } else { EventType::CredentialFixed };
    record(
        conn,
        NewEvent {
            organisation_id,
            event_type,
            subject: credential_subject(kind),
            mailbox_id: None,
            summary: format!("{title} ({organisation})"),
            data,
            dedupe_key: None,
            only_webhook: None,
        },
    )
    .await?;
    Ok(())
}

/// A credential's token expires within `days` days (14, then 3): recorded once per expiry date
/// and warning.
pub async fn credential_expiring(
    conn: &mut sqlx::AnyConnection,
    organisation_id: i64,
    kind: CredentialKind,
    expires_at: i64,
    days: i64,
) -> Result<bool, sqlx::Error> {
    let organisation = organisation_name(conn, organisation_id).await?;
    let title = format!("{} expires within {days} days", kind.label());
    let mut data = credential_data(organisation_id, &organisation, kind, &title);
    data["expires_at"] = json!(rfc3339(expires_at));
    data["days"] = json!(days);
    data["what_to_do"] = json!(format!("Renew it with {} on Account Settings › Credentials before then.", kind.fix_action()));
    let recorded = record(
        conn,
        NewEvent {
            organisation_id,
            event_type: EventType::CredentialExpiring,
            subject: credential_subject(kind),
            mailbox_id: None,
            summary: format!("{title} ({organisation})"),
            data,
            dedupe_key: Some(format!("expiring:{organisation_id}:{}:{expires_at}:{days}", kind.as_str())),
            only_webhook: None,
        },
    )
    .await?;
    Ok(recorded.is_some())
}

/// A credential was renewed (a new expiry date) after a warning that it would expire.
pub async fn credential_renewed(
    conn: &mut sqlx::AnyConnection,
    organisation_id: i64,
    kind: CredentialKind,
    expires_at: Option<i64>,
) -> Result<(), sqlx::Error> {
    let subject = credential_subject(kind);
    if !last_event_is(conn, organisation_id, &subject, EventType::CredentialExpiring).await? {
        return Ok(());
    }
    let organisation = organisation_name(conn, organisation_id).await?;
    let title = format!("{} renewed", kind.label());
    let mut data = credential_data(organisation_id, &organisation, kind, &title);
    data["expires_at"] = json!(expires_at.map(rfc3339));
    record(
        conn,
        NewEvent {
            organisation_id,
            event_type: EventType::CredentialRenewed,
            subject,
            mailbox_id: None,
            summary: format!("{title} ({organisation})"),
            data,
            dedupe_key: None,
            only_webhook: None,
        },
    )
    .await?;
    Ok(())
}
