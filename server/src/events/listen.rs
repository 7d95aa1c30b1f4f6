//! PostgreSQL's `LISTEN/NOTIFY` for live updates across instances: a trigger on `jobs` tells
//! every listening instance that jobs changed, and the instance's one change poller reads
//! them at once instead of at its next look. The notification carries nothing; the poller
//! reads what changed (and what each stream may see) as it always does, so a notification
//! lost (a listener reconnecting) delays a change until the next look, never loses it.
//! SQLite serves a single instance, whose poller keeps looking every 250 ms.

use std::time::Duration;

use crate::db::{Backend, Db};

/// The channel the trigger notifies.
const CHANNEL: &str = "portal_jobs";
/// How long connecting the listener may take.
const CONNECT_DEADLINE: Duration = Duration::from_secs(5);
/// Notifications taken together with the one awaited, at most (the rest wake the next look).
const DRAIN_AT_MOST: usize = 10_000;

/// Creates the triggers (PostgreSQL only), once for every instance starting at the same time:
/// in one transaction under an advisory lock, and created only when missing, so that a
/// starting instance never takes a lock on `jobs` that running ones would wait behind.
/// A job added, or a job whose change time moved (what the live updates read): a lease
/// renewal, which changes nothing a page shows, wakes nobody.
pub async fn setup(db: &Db) -> Result<(), sqlx::Error> {
    if Backend::of(db) != Backend::Postgres {
        return Ok(());
    }
    let script = format!(
        "SELECT pg_advisory_xact_lock(7405022); \
         CREATE OR REPLACE FUNCTION portal_jobs_changed() RETURNS trigger LANGUAGE plpgsql AS \
           $body$ BEGIN PERFORM pg_notify('{CHANNEL}', ''); RETURN NULL; END $body$; \
         DO $body$ BEGIN \
           IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'portal_jobs_added' AND tgrelid = 'jobs'::regclass) THEN \
             CREATE TRIGGER portal_jobs_added AFTER INSERT ON jobs \
               FOR EACH STATEMENT EXECUTE FUNCTION portal_jobs_changed(); \
           END IF; \
           IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'portal_jobs_moved' AND tgrelid = 'jobs'::regclass) THEN \
             CREATE TRIGGER portal_jobs_moved AFTER UPDATE ON jobs \
               FOR EACH ROW WHEN (OLD.updated_at IS DISTINCT FROM NEW.updated_at) EXECUTE FUNCTION portal_jobs_changed(); \
           END IF; \
         END $body$;"
    );
    // One message, so one transaction: the lock is held until the triggers are there.
    sqlx::raw_sql(&script).execute(db).await?;
    Ok(())
}

/// Asks the database to wake the listeners (`SELECT pg_notify`): a listener that hears
/// nothing back has lost its connection without noticing.
pub async fn ping(db: &Db) -> Result<(), sqlx::Error> {
    sqlx::query(&format!("SELECT pg_notify('{CHANNEL}', '')")).execute(db).await.map(|_| ())
}

/// A connection listening for job changes (PostgreSQL only).
pub struct Listener(sqlx::postgres::PgListener);

impl Listener {
    /// Listens on the database `db` speaks to; `None` on SQLite. An error: the poller looks
    /// on a timer meanwhile and tries again later.
    pub async fn connect(db: &Db) -> Option<Result<Listener, sqlx::Error>> {
        if Backend::of(db) != Backend::Postgres {
            return None;
        }
        let url = db.connect_options().database_url.to_string();
        let listen = async {
            let mut listener = sqlx::postgres::PgListener::connect(&url).await?;
            listener.listen(CHANNEL).await?;
            Ok(Listener(listener))
        };
        let late = || sqlx::Error::Io(std::io::Error::new(std::io::ErrorKind::TimedOut, "the listener did not connect in time"));
        Some(tokio::time::timeout(CONNECT_DEADLINE, listen).await.unwrap_or_else(|_| Err(late())))
    }

    /// Waits for the next notification, then takes those already arrived with it (one read
    /// answers them all). An error: the connection was lost.
    pub async fn changed(&mut self) -> Result<(), sqlx::Error> {
        self.0.recv().await?;
        // Those already here come back at the first look; waiting for more is not wanted.
        for _ in 0..DRAIN_AT_MOST {
            if !matches!(tokio::time::timeout(Duration::ZERO, self.0.try_recv()).await, Ok(Ok(Some(_)))) {
                break;
            }
        }
        Ok(())
    }
}
