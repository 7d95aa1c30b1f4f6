//! `cargo xtask bench`: each figure against its budget. Exits non-zero when one is over.

use std::io::Write;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

use crate::{root, tools, Result};

/// Initial transfer of the portal: HTML + JS + wasm + CSS, gzip.
const INITIAL_TRANSFER_BUDGET_KB: f64 = 200.0;

pub fn bench() -> Result {
    tools::install_all(tools::Needs::Run)?;
    tools::build_portal()?;
    let mut over = Vec::new();

    let files = initial_files(&root().join("dist"))?;
    println!("Initial transfer of the portal (gzip, as served):");
    let mut total = 0_usize;
    for (name, raw, gzip) in &files {
        println!("  {name:<48} {:>8.1} KB raw {:>8.1} KB gzip", kb(*raw), kb(*gzip));
        total += gzip;
    }
    let figure = kb(total);
    println!("{}", verdict("initial transfer", figure, INITIAL_TRANSFER_BUDGET_KB, "KB", &mut over));

    if over.is_empty() {
        Ok(())
    } else {
        Err(format!("over budget: {}", over.join(", ")))
    }
}

fn verdict(name: &str, figure: f64, budget: f64, unit: &str, over: &mut Vec<String>) -> String {
    let ok = figure <= budget;
    if !ok {
        over.push(name.to_owned());
    }
    format!("{name}: {figure:.1} {unit} (budget {budget:.0} {unit}) {}", if ok { "OK" } else { "OVER BUDGET" })
}

fn kb(bytes: usize) -> f64 {
    bytes as f64 / 1024.0
}

/// Every file the first page load fetches: the HTML, its scripts, wasm and styles.
fn initial_files(dist: &Path) -> Result<Vec<(String, usize, usize)>> {
    let mut files = Vec::new();
    let entries = std::fs::read_dir(dist).map_err(|e| format!("{}: {e}", dist.display()))?;
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if ![".html", ".js", ".wasm", ".css"].iter().any(|ext| name.ends_with(ext)) {
            continue;
        }
        let bytes = std::fs::read(entry.path()).map_err(|e| format!("{name}: {e}"))?;
        // What the server sends: the precompressed file where there is one.
        let served = match std::fs::metadata(dist.join(format!("{name}.gz"))) {
            Ok(gz) => gz.len() as usize,
            Err(_) => gzip_len(&bytes),
        };
        files.push((name, bytes.len(), served));
    }
    files.sort();
    if files.is_empty() {
        return Err(format!("{} holds no portal files: did the build run?", dist.display()));
    }
    Ok(files)
}

fn gzip_len(bytes: &[u8]) -> usize {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).expect("writing to memory does not fail");
    encoder.finish().expect("writing to memory does not fail").len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_shrinks_repetitive_text_and_verdicts_flag_overruns() {
        assert!(gzip_len(&[b'a'; 10_000]) < 200);
        let mut over = Vec::new();
        assert!(verdict("x", 10.0, 20.0, "KB", &mut over).ends_with("OK"));
        assert!(verdict("y", 30.0, 20.0, "KB", &mut over).ends_with("OVER BUDGET"));
        assert_eq!(over, vec!["y".to_owned()]);
    }
}
