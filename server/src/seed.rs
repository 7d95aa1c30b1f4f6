//! Demo data for an empty database: one reseller with three organisations and sixty
//! mailboxes, a second reseller whose data the first must never see, and one sign-in per role.

use portal_api::demo::{DEMO_PASSWORD, DEMO_SIGN_INS};
use portal_api::{BackupStatus, Role};

use crate::auth::password;
use crate::db::{now_ms, Db};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;

const FIRST: [&str; 20] = [
    "alice", "bruno", "chloe", "dmitri", "esme", "farid", "grace", "hiro", "ines", "jonas", "kemi", "lars",
    "maya", "nikhil", "olga", "pablo", "quinn", "rosa", "sven", "tara",
];
const LAST: [&str; 20] = [
    "archer", "bianchi", "chen", "dubois", "evans", "farah", "garcia", "hansen", "ito", "jansen", "kowalski",
    "lopez", "mensah", "novak", "okafor", "petrov", "quist", "rossi", "silva", "tanaka",
];

/// Per organisation, one status per mailbox in turn: mostly healthy, every status present.
const STATUS_CYCLE: [BackupStatus; 20] = [
    BackupStatus::Completed,
    BackupStatus::Completed,
    BackupStatus::InProgress,
    BackupStatus::Completed,
    BackupStatus::Retrying,
    BackupStatus::Completed,
    BackupStatus::AuthenticationError,
    BackupStatus::Completed,
    BackupStatus::PreparingBackup,
    BackupStatus::Completed,
    BackupStatus::ConnectionError,
    BackupStatus::Completed,
    BackupStatus::Completed,
    BackupStatus::PartiallyComplete,
    BackupStatus::Completed,
    BackupStatus::SpaceFull,
    BackupStatus::Completed,
    BackupStatus::Completed,
    BackupStatus::InProgress,
    BackupStatus::Completed,
];

struct DemoOrganisation {
    reseller_id: i64,
    name: &'static str,
    domain: &'static str,
    mailboxes: usize,
}

const ORGANISATIONS: [DemoOrganisation; 4] = [
    DemoOrganisation { reseller_id: 1, name: "Acme Legal", domain: "acme-legal.example", mailboxes: 20 },
    DemoOrganisation { reseller_id: 1, name: "Bluebird Clinics", domain: "bluebird-clinics.example", mailboxes: 20 },
    DemoOrganisation { reseller_id: 1, name: "Cedar Logistics", domain: "cedar-logistics.example", mailboxes: 20 },
    DemoOrganisation { reseller_id: 2, name: "Delta Foods", domain: "delta-foods.example", mailboxes: 5 },
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
        sqlx::query("INSERT INTO organisations (id, reseller_id, name) VALUES ($1, $2, $3)")
            .bind(organisation_id)
            .bind(org.reseller_id)
            .bind(org.name)
            .execute(&mut *tx)
            .await?;
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

            let status = STATUS_CYCLE[(i + org_index * 3) % STATUS_CYCLE.len()];
            let (last_backup_at, last_success_at) = demo_times(status, i as i64, now);
            sqlx::query(
                "INSERT INTO backups (mailbox_id, status, last_backup_at, last_success_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(mailbox_id)
            .bind(status.as_str())
            .bind(last_backup_at)
            .bind(last_success_at)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
    }

    let alice_mailbox = alice_mailbox.expect("the demo end user's mailbox is among the demo mailboxes");
    let users: [(i64, &str, &str, Role, Option<i64>, Option<i64>, Option<i64>); 4] = [
        (1, DEMO_SIGN_INS[0].1, "Alice Archer", Role::EndUser, None, None, Some(alice_mailbox)),
        (2, DEMO_SIGN_INS[1].1, "Sam Patel", Role::OrgAdmin, None, Some(1), None),
        (3, DEMO_SIGN_INS[2].1, "Nora Reed", Role::Reseller, Some(1), None, None),
        (4, "reseller@harbour.example", "Hal Berg", Role::Reseller, Some(2), None, None),
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
    tx.commit().await?;
    Ok(true)
}

/// Believable times for a status: healthy backups ran recently; broken ones last
/// succeeded a day or more ago, so staleness shows.
fn demo_times(status: BackupStatus, i: i64, now: i64) -> (Option<i64>, Option<i64>) {
    match status {
        BackupStatus::Completed => {
            let at = now - (10 + i * 23) * MINUTE;
            (Some(at), Some(at))
        }
        BackupStatus::InProgress => (Some(now - (2 + i) * MINUTE), Some(now - 23 * HOUR)),
        BackupStatus::PreparingBackup => (Some(now - 20 * HOUR), Some(now - 20 * HOUR)),
        _ => (Some(now - (5 + i * 11) * MINUTE), Some(now - (26 + i * 3) * HOUR)),
    }
}

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}
