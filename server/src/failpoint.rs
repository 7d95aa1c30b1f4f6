//! Failpoints: the places where a crash could leave two records disagreeing (a pack written
//! and not yet indexed, a copy sent and not yet recorded, a file written and its job not yet
//! Completed). The fault tests build the server with the `failpoints` feature and arm one with
//! `PORTAL_FAILPOINT=name` (or `name@n`: at its n-th pass); the process then aborts there, as
//! a crash would, with nothing unwound or flushed. Without the feature there is nothing here.

/// Aborts the process here if this failpoint is armed (only with the `failpoints` feature).
#[cfg(feature = "failpoints")]
pub fn hit(name: &str) {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::OnceLock;
    static ARMED: OnceLock<Option<(String, u32)>> = OnceLock::new();
    static PASSES: AtomicU32 = AtomicU32::new(0);
    let armed = ARMED.get_or_init(|| {
        let value = std::env::var("PORTAL_FAILPOINT").ok()?;
        let (point, nth) = value.split_once('@').unwrap_or((value.as_str(), "1"));
        Some((point.to_owned(), nth.parse().unwrap_or(1)))
    });
    if let Some((point, nth)) = armed {
        if point == name && PASSES.fetch_add(1, Ordering::SeqCst) + 1 >= *nth {
            eprintln!("failpoint {name}: aborting");
            std::process::abort();
        }
    }
}

#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_name: &str) {}
