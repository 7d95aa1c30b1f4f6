//! What the bench's parts share: a figure against its budget, and a server left to settle.

use crate::{load, Result};

/// Waits until the job counts stop changing for two seconds (the demo's queued jobs are done).
pub(crate) fn wait_until_idle(port: u16) -> Result {
    let cookie = load::sign_in(port, "reseller@northwind.example", portal_api::demo::DEMO_PASSWORD)?;
    let mut connection = load::connect(port)?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let (mut last, mut same_since) = (String::new(), std::time::Instant::now());
    while std::time::Instant::now() < deadline {
        let mut counts = String::new();
        for kind in ["backup", "migrate", "restore", "download"] {
            let path = format!("/api/jobs/counts?kind={kind}");
            let (_, _, body) = load::request(&mut connection, "GET", &path, &[("Cookie", &cookie)], None)?;
            counts.push_str(&String::from_utf8_lossy(&body));
        }
        if counts != last {
            (last, same_since) = (counts, std::time::Instant::now());
        } else if same_since.elapsed().as_secs() >= 2 {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Err("the demo's jobs were still changing after 2 minutes".into())
}

pub(crate) fn verdict(name: &str, figure: f64, budget: f64, unit: &str, over: &mut Vec<String>) -> String {
    let ok = figure <= budget;
    if !ok {
        over.push(name.to_owned());
    }
    format!("{name}: {figure:.1} {unit} (budget {budget:.0} {unit}) {}", if ok { "OK" } else { "OVER BUDGET" })
}
