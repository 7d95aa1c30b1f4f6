//! Demo data for an empty database: one reseller with three organisations and sixty
//! mailboxes, a second reseller whose data the first must never see, and one sign-in per role.

use portal_api::demo::{
    DEMO_BREAK_GLASS_ADMIN, DEMO_PASSWORD, DEMO_SIGN_INS, DEMO_SPARE_END_USER, DEMO_SSO_ADMIN, DEMO_TWO_FACTOR_SIGN_INS,
};
use portal_api::{JobKind, JobStatus, Role};

use crate::auth::password;
use crate::db::{now_ms, Db};
use crate::queue::new_job_id;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

pub mod director;
pub mod imap;
mod other_jobs;
use other_jobs::{seed_other_jobs, DemoJob};

const FIRST: [&str; 20] = [
    "alice", "bruno", "chloe", "dmitri", "esme", "farid", "grace", "hiro", "ines", "jonas", "kemi", "lars", "maya", "nikhil",
    "olga", "pablo", "quinn", "rosa", "sven", "tara",
];
const LAST: [&str; 20] = [
    "archer", "bianchi", "chen", "dubois", "evans", "farah", "garcia", "hansen", "ito", "jansen", "kowalski", "lopez", "mensah",
    "novak", "okafor", "petrov", "quist", "rossi", "silva", "tanaka",
];

/// Per organisation, one status per mailbox in turn: mostly healthy, every status present.
const STATUS_CYCLE: [JobStatus; 20] = [
    JobStatus::Completed,
    JobStatus::Completed,
    JobStatus::InProgress,
    JobStatus::Completed,
    JobStatus::Retrying,
    JobStatus::Completed,
    JobStatus::AuthenticationError,
    JobStatus::Completed,
    JobStatus::PreparingBackup,
    JobStatus::Completed,
    JobStatus::ConnectionError,
    JobStatus::Completed,
    JobStatus::Completed,
    JobStatus::PartiallyComplete,
    JobStatus::Completed,
    JobStatus::SpaceFull,
    JobStatus::Completed,
    JobStatus::Completed,
    JobStatus::InProgress,
    JobStatus::Completed,
];

struct DemoOrganisation {
    reseller_id: i64,
    name: &'static str,
    domain: &'static str,
    mailboxes: usize,
    /// The subscription's storage, in GB.
    quota_gb: i64,
}

const ORGANISATIONS: [DemoOrganisation; 4] = [
    // At its limit (50.0 GB of 50 GB): its Space Full backups are true to the numbers.
    DemoOrganisation { reseller_id: 1, name: "Acme Legal", domain: "acme-legal.example", mailboxes: 20, quota_gb: 50 },
    DemoOrganisation {
        reseller_id: 1,
        name: "Bluebird Clinics",
        domain: "bluebird-clinics.example",
        mailboxes: 20,
        quota_gb: 100,
    },
    // Over its limit.
    DemoOrganisation { reseller_id: 1, name: "Cedar Logistics", domain: "cedar-logistics.example", mailboxes: 20, quota_gb: 48 },
    DemoOrganisation { reseller_id: 2, name: "Delta Foods", domain: "delta-foods.example", mailboxes: 5, quota_gb: 20 },
];

/// Seeds the demo data if the database has none yet. Returns whether it did.
pub async fn seed_if_empty(db: &Db) -> Result<bool, sqlx::Error> {
    let (resellers,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM resellers").fetch_one(db).await?;
    if resellers > 0 {
        return Ok(false);
    }
    let now = now_ms();
    let mut tx = db.begin().await?;

    for (id, name) in [(1_i64, "Northwind IT Partners"), (2, "Harbour Cloud Services")] {
        sqlx::query("INSERT INTO resellers (id, name) VALUES ($1, $2)").bind(id).bind(name).execute(&mut *tx).await?;
    }

    let mut mailbox_id = 0_i64;
    let mut alice_mailbox = None;
    for (org_index, org) in ORGANISATIONS.iter().enumerate() {
        let organisation_id = org_index as i64 + 1;
        sqlx::query(
            "INSERT INTO organisations (id, reseller_id, name, storage_quota_bytes, domain, tenant_id) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(organisation_id)
        .bind(org.reseller_id)
        .bind(org.name)
        .bind(org.quota_gb * 1_000_000_000)
        .bind(org.domain)
        .bind(portal_idp::tenant_id_for_domain(org.domain))
        .execute(&mut *tx)
        .await?;
        let broken = seed_credentials(&mut tx, organisation_id, org.domain, now).await?;
        // An organisation with room left has no Space Full backup: the numbers would contradict it.
        let used: i64 = (0..org.mailboxes).map(mailbox_storage).sum();
        let has_room = used < org.quota_gb * 1_000_000_000;
        for i in 0..org.mailboxes {
            mailbox_id += 1;
            // Shift names and statuses per organisation so the lists do not look copied.
            let first = FIRST[(i + org_index * 7) % FIRST.len()];
            let last = LAST[(i * 3 + org_index) % LAST.len()];
            let email = format!("{first}.{last}@{}", org.domain);
            if email == DEMO_SIGN_INS[0].1 {
                alice_mailbox = Some(mailbox_id);
            }
            sqlx::query("INSERT INTO mailboxes (id, organisation_id, email, display_name) VALUES ($1, $2, $3, $4)")
                .bind(mailbox_id)
                .bind(organisation_id)
                .bind(&email)
                .bind(format!("{} {}", capitalised(first), capitalised(last)))
                .execute(&mut *tx)
                .await?;

            let status = match STATUS_CYCLE[(i + org_index * 3) % STATUS_CYCLE.len()] {
                JobStatus::SpaceFull if has_room => JobStatus::Completed,
                // Backups are refused for their credentials only where one is broken.
                JobStatus::AuthenticationError if !broken => JobStatus::Completed,
                status => status,
            };
            let (last_backup_at, last_success_at) = demo_times(status, i as i64, now);
            let job = DemoJob::for_status(JobKind::Backup, status, i as i64, now);
            sqlx::query("UPDATE mailboxes SET demo_script = $1, storage_used_bytes = $2 WHERE id = $3")
                .bind(job.script)
                .bind(mailbox_storage(i))
                .bind(mailbox_id)
                .execute(&mut *tx)
                .await?;
            seed_backup_history(&mut tx, mailbox_id, status, now).await?;
            let job_id = job.insert(&mut tx, JobKind::Backup, mailbox_id, status, "{}").await?;
            sqlx::query(
                "INSERT INTO backups (mailbox_id, status, last_backup_at, last_success_at, updated_at, current_job_id) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(mailbox_id)
            .bind(status.as_str())
            .bind(last_backup_at)
            .bind(last_success_at)
            .bind(now)
            .bind(&job_id)
            .execute(&mut *tx)
            .await?;
        }
    }

    seed_other_jobs(&mut tx, now).await?;
    // Each Partially Complete run lists what it skipped, as a real run does.
    for (kind, item, reason) in [
        (JobKind::Backup, "INBOX, message 4471", "it could not be read as an email (malformed MIME)"),
        (JobKind::Backup, "Sent, message 209", "the mail server could not read its attachment"),
        (JobKind::Restore, "Inbox, message 812", "the destination refused it"),
        (JobKind::Migrate, "Inbox, message 812", "the destination refused it"),
    ] {
        sqlx::query(
            "INSERT INTO job_skipped_items (job_id, item, reason) \
             SELECT id, $1, $2 FROM jobs WHERE kind = $3 AND status = $4",
        )
        .bind(item)
        .bind(reason)
        .bind(kind.as_str())
        .bind(JobStatus::PartiallyComplete.as_str())
        .execute(&mut *tx)
        .await?;
    }

    let alice_mailbox = alice_mailbox.expect("the demo end user's mailbox is among the demo mailboxes");
    let mailbox_of = |email: &str| {
        let (user, domain) = email.split_once('@').expect("an address");
        let found = ORGANISATIONS.iter().position(|o| o.domain == domain).and_then(|org_index| {
            (0..ORGANISATIONS[org_index].mailboxes).find_map(|i| {
                let name = format!("{}.{}", FIRST[(i + org_index * 7) % FIRST.len()], LAST[(i * 3 + org_index) % LAST.len()]);
                (name == user).then(|| ORGANISATIONS[..org_index].iter().map(|o| o.mailboxes as i64).sum::<i64>() + i as i64 + 1)
            })
        });
        found.expect("the demo user's mailbox is among the demo mailboxes")
    };
    let [(_, end_user_2fa, end_user_2fa_name), (_, admin_2fa, admin_2fa_name), (_, reseller_2fa, reseller_2fa_name)] =
        DEMO_TWO_FACTOR_SIGN_INS;
    let users: [(i64, &str, &str, Role, Option<i64>, Option<i64>, Option<i64>); 10] = [
        (1, DEMO_SIGN_INS[0].1, "Alice Archer", Role::EndUser, None, None, Some(alice_mailbox)),
        (2, DEMO_SIGN_INS[1].1, "Sam Patel", Role::OrgAdmin, None, Some(1), None),
        (3, DEMO_SIGN_INS[2].1, "Nora Reed", Role::Reseller, Some(1), None, None),
        (4, "reseller@harbour.example", "Hal Berg", Role::Reseller, Some(2), None, None),
        (5, DEMO_SPARE_END_USER, "Bruno Dubois", Role::EndUser, None, None, Some(mailbox_of(DEMO_SPARE_END_USER))),
        // The three with an authenticator (lib.rs seals their secrets once the keys are at hand).
        (6, end_user_2fa, end_user_2fa_name, Role::EndUser, None, None, Some(mailbox_of(end_user_2fa))),
        (7, admin_2fa, admin_2fa_name, Role::OrgAdmin, None, Some(2), None),
        (8, reseller_2fa, reseller_2fa_name, Role::Reseller, Some(1), None, None),
        // Cedar Logistics enforces sign-in with Microsoft; the second keeps a password (break glass).
        (9, DEMO_SSO_ADMIN, "Kofi Mensah", Role::OrgAdmin, None, Some(3), None),
        (10, DEMO_BREAK_GLASS_ADMIN, "Break-glass admin", Role::OrgAdmin, None, Some(3), None),
    ];
    for (id, email, name, role, reseller_id, organisation_id, mailbox_id) in users {
        sqlx::query(
            "INSERT INTO users (id, email, display_name, password_hash, role, reseller_id, organisation_id, mailbox_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(id)
        .bind(email)
        .bind(name)
        .bind(password::hash(DEMO_PASSWORD))
        .bind(role.as_str())
        .bind(reseller_id)
        .bind(organisation_id)
        .bind(mailbox_id)
        .execute(&mut *tx)
        .await?;
    }
    sqlx::query("UPDATE organisations SET enforce_sso = 1, break_glass_user_id = 10 WHERE id = 3").execute(&mut *tx).await?;
    tx.commit().await?;
    Ok(true)
}

/// The demo users of `DEMO_TWO_FACTOR_SIGN_INS` get their authenticators (secrets derived from
/// their addresses), sealed under this server's master key.
pub async fn enrol_demo_authenticators(db: &Db, secrets: &crate::secrets::SecretBox) -> Result<(), sqlx::Error> {
    for (_, email, _) in DEMO_TWO_FACTOR_SIGN_INS {
        let (user_id,): (i64,) = sqlx::query_as("SELECT id FROM users WHERE email = $1").bind(email).fetch_one(db).await?;
        crate::auth::factor::enrol_demo(db, secrets, user_id, email)
            .await
            .map_err(|error| sqlx::Error::Configuration(format!("enrolling the demo authenticators: {error:?}").into()))?;
    }
    Ok(())
}

/// The 29 daily backups before the current one, so each account's history chart has a
/// story: mostly complete, the odd connection error or partial run, and an account that is
/// broken now (credentials, storage) broken for its last few days too.
async fn seed_backup_history(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    mailbox_id: i64,
    current: JobStatus,
    now: i64,
) -> Result<(), sqlx::Error> {
    const DAYS: i64 = (portal_api::backups::BACKUP_HISTORY_RUNS - 1) as i64;
    let mut sql = String::from(
        "INSERT INTO jobs (id, kind, mailbox_id, status, created_at, updated_at, started_at, finished_at, \
                           items_done, items_total, bytes_done, bytes_total, attempts) VALUES ",
    );
    let mut rows = Vec::new();
    for day in 1..=DAYS {
        let noise = (mailbox_id * 31 + day * 17) % 23;
        let status = match (current, day) {
            (JobStatus::AuthenticationError | JobStatus::SpaceFull, 1..=3) => current,
            _ if noise == 0 => JobStatus::ConnectionError,
            _ if noise == 7 => JobStatus::PartiallyComplete,
            _ => JobStatus::Completed,
        };
        // Incremental runs: the first of the month is the large one, the rest new mail only.
        let items = match status {
            JobStatus::AuthenticationError | JobStatus::ConnectionError => 0,
            JobStatus::SpaceFull => 40 + noise * 3,
            _ if day == DAYS => 2_000 + mailbox_id * 13,
            _ => 20 + (mailbox_id * 7 + day * 11) % 90,
        };
        let created = now - day * 24 * HOUR - (mailbox_id % 60) * MINUTE;
        let minutes = if items == 0 { 1 } else { 2 + items / 40 };
        rows.push((status, created, items, minutes));
    }
    let mut values = Vec::new();
    for (n, _) in rows.iter().enumerate() {
        let base = n * 8;
        values.push(format!(
            "(${}, '{}', ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, 1)",
            base + 1,
            JobKind::Backup.as_str(),
            base + 2,
            base + 3,
            base + 4,
            base + 4,
            base + 4,
            base + 5,
            base + 6,
            base + 6,
            base + 7,
            base + 8
        ));
    }
    sql.push_str(&values.join(", "));
    let mut query = sqlx::query(&sql);
    for (status, created, items, minutes) in rows {
        query = query
            .bind(new_job_id(JobKind::Backup))
            .bind(mailbox_id)
            .bind(status.as_str())
            .bind(created)
            .bind(created + minutes * MINUTE)
            .bind(items)
            .bind(items * 61_000)
            .bind(items * 61_000);
    }
    query.execute(&mut **tx).await?;
    Ok(())
}

/// Each demo organisation's three credentials: Acme Legal's Device Authorization expired,
/// Bluebird Clinics' consent was revoked, Cedar Logistics' backup admin lost its password
/// and its device code was deleted; Delta Foods' all work. Returns whether one is broken.
async fn seed_credentials(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    organisation_id: i64,
    domain: &str,
    now: i64,
) -> Result<bool, sqlx::Error> {
    use crate::credentials::store::{expired_at, mark_broken, seed_working};
    use portal_api::CredentialKind::{BackupAdmin, Device, MainApp};
    let broken: &[(portal_api::CredentialKind, &str, i64)] = match domain {
        "acme-legal.example" => &[(Device, "The delegated token from the Device Authorization expired.", 2 * 24)],
        "bluebird-clinics.example" => {
            &[(MainApp, "The global administrator who gave consent was removed, so the consent no longer holds.", 30)]
        }
        "cedar-logistics.example" => &[
            (BackupAdmin, "Microsoft refused the backup admin's sign-in: its password was changed.", 5),
            (Device, "The device code was deleted at Microsoft.", 5),
        ],
        _ => &[],
    };
    let admin = format!("backup.admin@{domain}");
    for kind in portal_api::CredentialKind::ALL {
        match broken.iter().find(|(k, _, _)| *k == kind) {
            Some((_, reason, hours_ago)) => {
                seed_working(
                    &mut **tx,
                    organisation_id,
                    kind,
                    (kind == BackupAdmin).then_some(admin.as_str()),
                    now - 40 * 24 * HOUR,
                )
                .await?;
                mark_broken(&mut **tx, organisation_id, kind, reason, now - hours_ago * HOUR).await?;
                // A token that broke by expiring expired then, not weeks from now.
                if reason.contains("expired") {
                    expired_at(&mut **tx, organisation_id, kind, now - hours_ago * HOUR).await?;
                }
            }
            None => {
                // Bluebird Clinics' delegated token was authorised 80 days ago: it runs out in
                // 10, so the dashboard asks to renew it before backups stop.
                let verified =
                    if domain == "bluebird-clinics.example" && kind == Device { now - 80 * 24 * HOUR } else { now - 3 * HOUR };
                seed_working(&mut **tx, organisation_id, kind, (kind == BackupAdmin).then_some(admin.as_str()), verified).await?;
            }
        }
    }
    Ok(!broken.is_empty())
}

/// The storage a demo mailbox's backups use: 1.2 to 3.8 GB.
fn mailbox_storage(i: usize) -> i64 {
    (1_200 + (i as i64 * 397) % 2_600) * 1_000_000
}

/// Believable times for a status: healthy backups ran recently; broken ones last
/// succeeded a day or more ago, so staleness shows.
fn demo_times(status: JobStatus, i: i64, now: i64) -> (Option<i64>, Option<i64>) {
    match status {
        JobStatus::Completed => {
            let at = now - (10 + i * 23) * MINUTE;
            (Some(at), Some(at))
        }
        JobStatus::InProgress => (Some(now - (2 + i) * MINUTE), Some(now - 23 * HOUR)),
        JobStatus::PreparingBackup => (Some(now - 20 * HOUR), Some(now - 20 * HOUR)),
        _ => (Some(now - (5 + i * 11) * MINUTE), Some(now - (26 + i * 3) * HOUR)),
    }
}

/// Adds `count` finished restores spread over the first reseller's 60 mailboxes and the last
/// 90 days, in the restore statuses that do not move (so measurements see a steady list).
pub async fn add_extra_jobs(db: &Db, count: u32) -> Result<(), sqlx::Error> {
    const STEADY: [JobStatus; 6] = [
        JobStatus::Completed,
        JobStatus::Completed,
        JobStatus::Completed,
        JobStatus::Cancelled,
        JobStatus::Failed,
        JobStatus::PartiallyComplete,
    ];
    let now = now_ms();
    let params = crate::connector::JobParams { on_conflict: Some(portal_api::OnConflict::Skip), ..Default::default() }.to_json();
    let mut tx = db.begin().await?;
    for n in 0..i64::from(count) {
        let status = STEADY[(n % STEADY.len() as i64) as usize];
        let at = now - (n * 7919) % (90 * 24 * HOUR);
        sqlx::query(
            "INSERT INTO jobs (id, kind, mailbox_id, status, params, created_at, updated_at, started_at, finished_at, \
                               items_done, items_total, bytes_done, bytes_total, attempts) \
             VALUES ($1, $6, $2, $3, $7, $4, $4, $4, $5, 120, 120, 6000000, 6000000, 1)",
        )
        .bind(format!("R-X{n:07}"))
        .bind(1 + n % 60)
        .bind(status.as_str())
        .bind(at)
        .bind(at + 4 * MINUTE)
        .bind(JobKind::Restore.as_str())
        .bind(&params)
        .execute(&mut *tx)
        .await?;
        if n % 10_000 == 9_999 {
            tx.commit().await?;
            tx = db.begin().await?;
        }
    }
    tx.commit().await
}

/// The files of the demo's finished downloads, so their links work from the first start.
pub async fn write_demo_download_files(
    db: &Db,
    data_dir: &std::path::Path,
    remote: Option<&crate::imap::store::Remote>,
) -> Result<(), sqlx::Error> {
    use crate::downloads::file;
    let ready: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT j.id, j.params, m.email FROM jobs j JOIN mailboxes m ON m.id = j.mailbox_id \
         WHERE j.kind = $1 AND j.status = $2",
    )
    .bind(JobKind::Download.as_str())
    .bind(JobStatus::Completed.as_str())
    .fetch_all(db)
    .await?;
    for (id, params, email) in ready {
        let format = crate::connector::JobParams::try_from(params).map_err(|e| sqlx::Error::Decode(Box::new(e)))?.format();
        let there = match remote {
            Some(remote) => remote.download_meta(&file::file_name(&id, format)).await.is_ok(),
            None => file::file_path(data_dir, &id, format).exists(),
        };
        if !there {
            file::write_file(data_dir, &id, format, file::demo_messages(&email)).map_err(sqlx::Error::Io)?;
            if let Err(error) = file::publish(data_dir, remote, &id, format).await {
                // Demo links that answer 404 are no reason to refuse to start.
                tracing::warn!(%error, "a demo download's file could not be put in the object store");
            }
        }
    }
    Ok(())
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
