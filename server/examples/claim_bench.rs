//! How many claims one database takes per second (`cargo xtask bench scale`): JOBS due backups
//! queued on a fresh database, then CLAIMERS claimers, as many instances' workers would, each
//! claiming the next due job (`queue::claim`, `FOR UPDATE SKIP LOCKED` on PostgreSQL) and
//! recording it Completed at once (`queue::finish`, so that runs under way stay as few as
//! workers), until none is left. Prints `claims=N seconds=S`.
//!
//!     claim_bench DATABASE_URL JOBS CLAIMERS

use std::time::Instant;

use portal_server::connector::Outcome;
use portal_server::db::{now_ms, Backend};
use portal_server::queue::{self, policy};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, url, jobs, claimers] = args.as_slice() else {
        return Err("usage: claim_bench DATABASE_URL JOBS CLAIMERS".into());
    };
    let (jobs, claimers): (i64, usize) = (jobs.parse()?, claimers.parse()?);
    let db = portal_server::db::connect(url).await?;
    // As a server sets it up: each claim's change wakes the instances' live updates.
    portal_server::events::listen::setup(&db).await?;
    let postgres = Backend::of(&db) == Backend::Postgres;
    let now = now_ms();
    let mut tx = db.begin().await?;
    sqlx::query("INSERT INTO resellers (id, name) VALUES (1, 'Bench')").execute(&mut *tx).await?;
    // Ten organisations: the claim's count of runs per organisation has rows to count.
    for organisation in 1..=10_i64 {
        sqlx::query("INSERT INTO organisations (id, reseller_id, name) VALUES ($1, 1, 'Bench')")
            .bind(organisation)
            .execute(&mut *tx)
            .await?;
    }
    for id in 1..=jobs {
        sqlx::query("INSERT INTO mailboxes (id, organisation_id, email, display_name) VALUES ($1, $2, $3, $3)")
            .bind(id)
            .bind(id % 10 + 1)
            .bind(format!("bench-{id}@bench.example"))
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO backups (mailbox_id, status, updated_at) VALUES ($1, 'completed', $2)")
            .bind(id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "INSERT INTO jobs (id, kind, mailbox_id, status, created_at, updated_at, next_run_at) \
             VALUES ($1, 'backup', $2, 'preparing_backup', $3, $3, $3)",
        )
        .bind(format!("B-BENCH{id}"))
        .bind(id)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for claimer in 0..claimers {
        let db = db.clone();
        tasks.spawn(async move {
            let owner = format!("bench-{claimer}");
            let rules = policy::RetryPolicy { max_retries: 25, retry_after_ms: 1_800_000, backup_interval_ms: 86_400_000 };
            let mut claimed = 0_u64;
            // A long lease and no cap per organisation: only the queue's own work is measured.
            while let Some(job) = queue::claim(&db, &owner, 3_600_000, i64::MAX, postgres).await? {
                claimed += 1;
                let decision = policy::decide(job.kind, &Outcome::Completed, 0, &rules, now_ms());
                let lease = queue::Lease { owner: &owner, attempt: job.attempts };
                let end = queue::Finish { decision: &decision, skipped: &[], link_until: None };
                queue::finish(&db, &job.id, lease, end).await?;
            }
            Ok::<u64, sqlx::Error>(claimed)
        });
    }
    let mut claims = 0;
    while let Some(claimed) = tasks.join_next().await {
        claims += claimed??;
    }
    println!("claims={claims} seconds={:.3}", started.elapsed().as_secs_f64());
    Ok(())
}
