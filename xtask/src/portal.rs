//! The portal's release build, without Trunk: cargo build (with relocations) → split at every
//! `#[lazy]` / `#[lazy_route]` → wasm-bindgen on the main module → wasm-opt on the main module
//! and every chunk (never before the split: it drops the relocations) → esbuild → index.html →
//! precompress. Every built file goes into `dist/pkg/<hash>/` (hash of them all), so the browser
//! keeps them for a year and only `index.html` is checked on a second visit.

use std::collections::hash_map::DefaultHasher;
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use crate::tools::{modified, newest, path_with_tools};
use crate::{root, run_command, target_dir, Result};

/// Where the built files live below `dist/`, one folder per build.
pub const PKG: &str = "pkg";
/// The inputs of a build: a change to any of these builds again.
const INPUTS: [&str; 9] =
    ["src", "style", "public", "api/src", "index.html", "Cargo.toml", "Cargo.lock", "api/Cargo.toml", "xtask/src/portal.rs"];
/// The marker in `index.html` that the build replaces with the links to its files.
const MARKER: &str = "<!-- portal:assets -->";

/// Builds the portal into `dist/`, unless `dist/` is newer than every input.
pub fn build() -> Result {
    let built = modified(&root().join("dist").join("index.html"));
    let newest_input = INPUTS.iter().filter_map(|p| newest(&root().join(p))).max();
    if let (Some(built), Some(input)) = (built, newest_input) {
        if built > input {
            eprintln!("portal: dist/ is up to date");
            return Ok(());
        }
    }
    build_now(Build::Release)
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// Everything, wasm-opt included: what `run`, `test` and `bench` serve.
    Release,
    /// For `cargo xtask dev`: no wasm-opt (most of a build's time once the code is compiled),
    /// and a page that reloads itself when a new build lands.
    Dev,
}

/// One build of the portal into `dist/`.
pub fn build_now(kind: Build) -> Result {
    let started = Instant::now();
    run_command(
        crate::tools::cargo()
            .args(["build", "-p", "portal", "--bin", "portal", "--target", "wasm32-unknown-unknown", "--profile", "wasm-release"])
            // The split needs the linker's relocations to move functions between modules.
            .env("CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS", "-Clink-args=--emit-relocs"),
    )?;
    let input = target_dir().join("wasm32-unknown-unknown").join("wasm-release").join("portal.wasm");
    let staging = target_dir().join("portal-build");
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;

    let chunks = split(&input, &staging)?;
    bindgen(&staging)?;
    if kind == Build::Release {
        for wasm in std::iter::once(staging.join("portal_bg.wasm")).chain(chunks) {
            wasm_opt(&wasm)?;
        }
    }
    for js in ["portal.js", "__wasm_split.js"] {
        esbuild(&staging.join(js), &staging.join(js), "--format=esm")?;
    }
    let start = if kind == Build::Dev { format!("{START_JS}{RELOAD_JS}") } else { START_JS.to_owned() };
    std::fs::write(staging.join("start.js"), start).map_err(|e| format!("start.js: {e}"))?;
    esbuild(&root().join("style").join("main.css"), &staging.join("main.css"), "--bundle")?;
    copy(&root().join("public").join("favicon.svg"), &staging.join("favicon.svg"))?;

    let hash = hash_folder(&staging)?;
    let dist = root().join("dist");
    let pkg = dist.join(PKG).join(&hash);
    std::fs::create_dir_all(dist.join(PKG)).map_err(|e| format!("{}: {e}", dist.display()))?;
    let _ = std::fs::remove_dir_all(&pkg);
    std::fs::rename(&staging, &pkg).map_err(|e| format!("{} → {}: {e}", staging.display(), pkg.display()))?;
    crate::tools::precompress(&pkg)?;
    write_index(&dist, &hash)?;
    remove_old_builds(&dist, &hash)?;
    eprintln!("portal: built into dist/{PKG}/{hash} in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Starts the wasm: the page has no inline script, so its policy needs no hash that changes
/// with each build.
const START_JS: &str =
    "import init from \"./portal.js\";\ninit({ module_or_path: new URL(\"./portal_bg.wasm\", import.meta.url) });\n";

/// Development only: reload the page when `index.html` changes (a new build landed).
const RELOAD_JS: &str = "let seen;\nsetInterval(async () => {\n  const answer = await fetch(\"/index.html\", { method: \"HEAD\", cache: \"no-store\" }).catch(() => null);\n  const built = answer?.headers.get(\"last-modified\");\n  if (seen && built && built !== seen) location.reload();\n  seen = built ?? seen;\n}, 1000);\n";

/// `cargo xtask dev`: builds the portal (without wasm-opt), starts the server (debug build,
/// demo data) with `args`, and builds again whenever an input changes; the open page reloads.
pub fn dev(args: &[String]) -> Result {
    crate::tools::install_all(crate::tools::Needs::Run)?;
    build_now(Build::Dev)?;
    run_command(crate::tools::cargo().args(["build", "-p", "portal-server"]))?;
    let server = target_dir().join("debug").join("portal-server");
    let mut child = Command::new(&server)
        .env("PORTAL_SEED_DEMO", std::env::var("PORTAL_SEED_DEMO").unwrap_or_else(|_| "true".into()))
        .args(args)
        .current_dir(root())
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", server.display()))?;
    eprintln!("portal: watching {} for changes (the server's own code: stop and start again)", INPUTS.join(", "));
    let mut built = SystemTime::now();
    loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("the server stopped: {status}"));
        }
        let newest_input = INPUTS.iter().filter_map(|p| newest(&root().join(p))).max();
        if newest_input.is_some_and(|input| input > built) {
            built = SystemTime::now();
            // A failed build keeps the last good one served; its error is on the terminal.
            if let Err(error) = build_now(Build::Dev) {
                eprintln!("portal: the build failed, the last one is still served: {error}");
            }
        }
    }
}

/// Splits the module at its split points: the main module (`portal_split.wasm`, for
/// wasm-bindgen), one module per lazy part, shared chunks, and the loader `__wasm_split.js`.
fn split(input: &Path, staging: &Path) -> Result<Vec<PathBuf>> {
    let wasm = std::fs::read(input).map_err(|e| format!("{}: {e}", input.display()))?;
    let main_out = staging.join("portal_split.wasm");
    let mut options = wasm_split_cli_support::Options::new(&wasm);
    options.output_dir = staging;
    options.main_out_path = &main_out;
    options.main_module = "./portal.js";
    options.link_name = "./__wasm_split.js";
    let split = wasm_split_cli_support::transform(options).map_err(|e| format!("splitting the portal's wasm: {e:#}"))?;
    eprintln!("portal: split into the main module and {} lazy modules", split.split_modules.len());
    Ok(split.split_modules)
}

/// wasm-bindgen, the library at the crate's exact version (no CLI to install for a build).
fn bindgen(staging: &Path) -> Result {
    let main = staging.join("portal_split.wasm");
    wasm_bindgen_cli_support::Bindgen::new()
        .input_path(&main)
        .out_name("portal")
        .web(true)
        .map_err(|e| format!("wasm-bindgen: {e:#}"))?
        // The split chunks link against the main module's own exports and names.
        .keep_lld_exports(true)
        .demangle(false)
        .typescript(false)
        .generate(staging)
        .map_err(|e| format!("wasm-bindgen: {e:#}"))?;
    std::fs::remove_file(&main).map_err(|e| format!("{}: {e}", main.display()))
}

/// wasm-opt for size, from the npm package binaryen (Debian's is too old: toolchain notes).
fn wasm_opt(wasm: &Path) -> Result {
    let file = wasm.to_string_lossy().into_owned();
    run_command(
        Command::new("wasm-opt")
            .args([
                "-Oz",
                "--enable-bulk-memory",
                "--enable-nontrapping-float-to-int",
                "--enable-sign-ext",
                "--enable-mutable-globals",
            ])
            .args(["--enable-reference-types", "--enable-multivalue"])
            .args([&file, "-o", &file])
            .env("PATH", path_with_tools()),
    )
}

/// esbuild (an npm package) minifies a script or, with `--bundle`, a style sheet and its imports.
fn esbuild(from: &Path, to: &Path, mode: &str) -> Result {
    run_command(
        Command::new("esbuild")
            .arg(from)
            .args(["--minify", mode, "--log-level=warning", "--log-override:duplicate-object-key=silent", "--allow-overwrite"])
            .arg(format!("--outfile={}", to.display()))
            .env("PATH", path_with_tools()),
    )
}

fn copy(from: &Path, to: &Path) -> Result {
    std::fs::copy(from, to).map(drop).map_err(|e| format!("{} → {}: {e}", from.display(), to.display()))
}

/// 16 hex digits over every file's name and content, in name order.
fn hash_folder(folder: &Path) -> Result<String> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(folder)
        .map_err(|e| format!("{}: {e}", folder.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    names.sort();
    let mut hasher = DefaultHasher::new();
    for path in names {
        hasher.write(path.file_name().unwrap_or_default().as_encoded_bytes());
        hasher.write(&std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    Ok(format!("{:016x}", hasher.finish()))
}

/// `index.html` with the links to this build's files in place of the marker, written whole
/// under another name first so that a server reading it never sees half of it.
fn write_index(dist: &Path, hash: &str) -> Result {
    let template = std::fs::read_to_string(root().join("index.html")).map_err(|e| format!("index.html: {e}"))?;
    if !template.contains(MARKER) {
        return Err(format!("index.html has no {MARKER}"));
    }
    let base = format!("/{PKG}/{hash}");
    // The wasm and both scripts are asked for at once, not one after the other.
    let links = format!(
        "<link rel=\"stylesheet\" href=\"{base}/main.css\">\n    \
         <link rel=\"icon\" href=\"{base}/favicon.svg\" type=\"image/svg+xml\">\n    \
         <link rel=\"modulepreload\" href=\"{base}/portal.js\">\n    \
         <link rel=\"modulepreload\" href=\"{base}/__wasm_split.js\">\n    \
         <link rel=\"preload\" href=\"{base}/portal_bg.wasm\" as=\"fetch\" type=\"application/wasm\" crossorigin>\n    \
         <script type=\"module\" src=\"{base}/start.js\"></script>"
    );
    let html = template.replace(MARKER, &links);
    let temporary = dist.join("index.html.new");
    std::fs::write(&temporary, html).map_err(|e| format!("{}: {e}", temporary.display()))?;
    std::fs::rename(&temporary, dist.join("index.html")).map_err(|e| format!("index.html: {e}"))?;
    crate::tools::precompress_file(&dist.join("index.html"))
}

/// Removes what earlier builds left in `dist/` (Trunk's files too), keeping the build before
/// this one: a page opened before the build still finds the chunks it has not loaded yet.
fn remove_old_builds(dist: &Path, hash: &str) -> Result {
    let mut builds: Vec<(SystemTime, PathBuf)> = std::fs::read_dir(dist.join(PKG))
        .map_err(|e| format!("{}: {e}", dist.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() != hash)
        .filter_map(|e| Some((modified(&e.path())?, e.path())))
        .collect();
    builds.sort();
    builds.pop();
    for (_, old) in builds {
        std::fs::remove_dir_all(&old).map_err(|e| format!("{}: {e}", old.display()))?;
    }
    for entry in std::fs::read_dir(dist).map_err(|e| format!("{}: {e}", dist.display()))?.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_file() && !name.starts_with("index.html") {
            std::fs::remove_file(entry.path()).map_err(|e| format!("{name}: {e}"))?;
        }
    }
    Ok(())
}
