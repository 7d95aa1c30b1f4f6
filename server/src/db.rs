//! The database: SQLite by default, PostgreSQL for more than one instance. Handlers use
//! portable SQL through sqlx's `Any` driver, so the same code runs on both.

use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::Migrator;
use sqlx::AnyPool;

pub type Db = AnyPool;

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// How long a query waits for a connection: all busy, or the database out of reach (sqlx
/// keeps retrying a refused connection until then). Past it the answer is a 503, so a
/// request never hangs on a database that is gone.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the server waits at its start for a database that does not answer yet (one
/// started alongside it).
const STARTUP_WAIT: Duration = Duration::from_secs(30);

/// Opens the database (creating an SQLite file and its folder if missing) and migrates it.
pub async fn connect(database_url: &str) -> Result<Db, sqlx::Error> {
    sqlx::any::install_default_drivers();
    let url = sqlite_create_if_missing(database_url)?;
    let options = AnyConnectOptions::from_str(&url)?;
    let is_sqlite = url.starts_with("sqlite:");
    let db = AnyPoolOptions::new()
        // SQLite: one writer at a time whatever the pool, but readers and the writers' turns
        // should not wait for a connection (each run renews its claim, reports progress and
        // records its copies, besides the API and the live-update poller).
        .max_connections(if is_sqlite { 12 } else { 16 })
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_connect(move |conn, _| {
            Box::pin(async move {
                if is_sqlite {
                    use sqlx::Executor;
                    // WAL makes NORMAL safe (a power cut may lose the last commits, never corrupt);
                    // a 32 MB page cache keeps the lists' indexes in memory.
                    conn.execute("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -32000").await?;
                }
                Ok(())
            })
        })
        .connect_lazy_with(options);
    let started = Instant::now();
    loop {
        match db.acquire().await {
            Ok(_) => break,
            Err(sqlx::Error::PoolTimedOut) if started.elapsed() < STARTUP_WAIT => {}
            Err(error) => return Err(error),
        }
    }
    if is_sqlite {
        // Readers do not wait for the writer; the setting stays with the file.
        sqlx::query("PRAGMA journal_mode = WAL").execute(&db).await?;
    }
    MIGRATOR.run(&db).await?;
    Ok(db)
}

/// Which database a pool speaks to, for statements whose text depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of(db: &Db) -> Backend {
        if db.connect_options().database_url.scheme().starts_with("postgres") {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// Placeholders for `rows` rows of `columns` values, bound in order, as a multi-row
    /// `VALUES` list: `($1, $2), ($3, $4)` for PostgreSQL, `(?, ?), (?, ?)` for SQLite. SQLite
    /// looks each numbered placeholder up by name through a list, at a cost growing with the
    /// square of their number: it was a backup's first database cost in a profile.
    pub fn rows(self, rows: usize, columns: usize) -> String {
        (0..rows).map(|row| format!("({})", self.list(row * columns, columns))).collect::<Vec<_>>().join(", ")
    }

    /// `count` placeholders after the first `before`, for an `IN (…)` list or one row.
    pub fn list(self, before: usize, count: usize) -> String {
        let one = |i: usize| match self {
            Backend::Postgres => format!("${}", before + i + 1),
            Backend::Sqlite => "?".to_owned(),
        };
        (0..count).map(one).collect::<Vec<_>>().join(", ")
    }
}

/// `count` numbered placeholders after the first `before` (`$3, $4`), on both databases: in a
/// statement that already numbers its placeholders, an unnumbered `?` would take the first
/// value again.
pub fn numbered(before: usize, count: usize) -> String {
    (before + 1..=before + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// An SQLite URL asks for the file to be created, and its folder exists.
fn sqlite_create_if_missing(database_url: &str) -> Result<String, sqlx::Error> {
    let Some(rest) = database_url.strip_prefix("sqlite://").or_else(|| database_url.strip_prefix("sqlite:")) else {
        return Ok(database_url.to_owned());
    };
    let path = rest.split('?').next().unwrap_or(rest);
    if path != ":memory:" && !path.is_empty() {
        if let Some(parent) = std::path::Path::new(path).parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(sqlx::Error::Io)?;
        }
    }
    Ok(if rest.contains("mode=") {
        database_url.to_owned()
    } else if rest.contains('?') {
        format!("{database_url}&mode=rwc")
    } else {
        format!("{database_url}?mode=rwc")
    })
}

/// Now, as stored: Unix milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A stored time as the API shows it: RFC 3339 in UTC.
pub fn rfc3339(ms: i64) -> String {
    let nanos = i128::from(ms) * 1_000_000;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_get_create_mode_and_others_are_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/nested/portal.db", dir.path().display());
        assert_eq!(sqlite_create_if_missing(&url).unwrap(), format!("{url}?mode=rwc"));
        assert!(dir.path().join("nested").is_dir());
        assert_eq!(sqlite_create_if_missing("postgres://x/y").unwrap(), "postgres://x/y");
    }

    #[test]
    fn placeholders_are_numbered_for_postgres_only() {
        assert_eq!(Backend::Postgres.rows(2, 2), "($1, $2), ($3, $4)");
        assert_eq!(Backend::Sqlite.rows(2, 2), "(?, ?), (?, ?)");
        assert_eq!(Backend::Postgres.list(3, 2), "$4, $5");
    }

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
