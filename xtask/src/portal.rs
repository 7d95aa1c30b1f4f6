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
const INPUTS: [&str; 13] = [
    "src",
    "style",
    "public",
    "api/src",
    "index.html",
    "Cargo.toml",
    "Cargo.lock",
    "api/Cargo.toml",
    ".cargo/config.toml",
    "package-lock.json",
    "xtask/Cargo.toml",
    "xtask/src/portal.rs",
    "xtask/src/tools.rs",
];
/// Written last by every build, saying which kind it was: `run`, `test` and `bench` never take
/// a development build for a release one, and an unchanged `index.html` (not written again, so
/// that an open page in `dev` does not reload) does not make a build look stale.
const STAMP: &str = ".built";
/// How long a build is kept after a newer one (a page opened before it may still need its
/// chunks), and how many such builds at most.
const KEEP_OLD_BUILDS_DAYS: u64 = 7;
const KEEP_OLD_BUILDS: usize = 5;
/// The marker in `index.html` that the build replaces with the links to its files.
const MARKER: &str = "<!-- portal:assets -->";

/// Builds the portal into `dist/`, unless `dist/` holds a release build newer than every input.
pub fn build() -> Result {
    build_alongside(|| Ok(()))
}

/// The same, with `also` (a server build) run beside the steps after the compiler's, which
/// leave a core idle most of the time: on a fresh 2-core machine that is minutes.
pub fn build_alongside(also: impl FnOnce() -> Result + Send) -> Result {
    let stamp = root().join("dist").join(PKG).join(STAMP);
    let release = std::fs::read_to_string(&stamp).is_ok_and(|kind| kind == Build::Release.name());
    let newest_input = newest_input();
    if let (true, Some(built), Some(input)) = (release, modified(&stamp), newest_input) {
        if built > input {
            eprintln!("portal: dist/ is up to date");
            return also();
        }
    }
    let started = Instant::now();
    compile()?;
    std::thread::scope(|scope| {
        let beside = scope.spawn(also);
        let built = finish(Build::Release, started);
        let beside = beside.join().unwrap_or_else(|_| Err("the build beside the portal's panicked".into()));
        built.and(beside)
    })
}

/// When any input of the build last changed.
fn newest_input() -> Option<SystemTime> {
    INPUTS.iter().filter_map(|p| newest(&root().join(p))).max()
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Build {
    /// Everything, wasm-opt included: what `run`, `test` and `bench` serve.
    Release,
    /// For `cargo xtask dev`: no wasm-opt (most of a build's time once the code is compiled),
    /// and a page that reloads itself when a new build lands.
    Dev,
}

impl Build {
    fn name(self) -> &'static str {
        match self {
            Build::Release => "release",
            Build::Dev => "dev",
        }
    }
}

/// One build of the portal into `dist/`.
pub fn build_now(kind: Build) -> Result {
    let started = Instant::now();
    compile()?;
    finish(kind, started)
}

fn compile() -> Result {
    // The split needs the linker's relocations to move functions between modules; RUSTFLAGS
    // would replace a target's own flags, so the flag goes into it, after any of the user's.
    let rustflags = std::env::var("RUSTFLAGS").map(|flags| format!("{flags} ")).unwrap_or_default();
    run_command(
        crate::tools::cargo()
            .args(["build", "-p", "portal", "--bin", "portal", "--target", "wasm32-unknown-unknown", "--profile", "wasm-release"])
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env("RUSTFLAGS", format!("{rustflags}-Clink-args=--emit-relocs")),
    )
}

/// Everything after the compiler: split, wasm-bindgen, wasm-opt, esbuild, index.html.
fn finish(kind: Build, started: Instant) -> Result {
    let input = target_dir().join("wasm32-unknown-unknown").join("wasm-release").join("portal.wasm");
    let dist = root().join("dist");
    // Beside the builds (one file system, so the finished build is renamed into place), one per
    // process (a `dev` and an `e2e` may build at once).
    let staging = dist.join(PKG).join(format!(".staging-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&staging);
    std::fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;

    let step = Instant::now();
    let chunks = split(&input, &staging)?;
    eprintln!("portal: split in {:.1} s", step.elapsed().as_secs_f64());
    let step = Instant::now();
    bindgen(&staging)?;
    eprintln!("portal: wasm-bindgen in {:.1} s", step.elapsed().as_secs_f64());
    let step = Instant::now();
    if kind == Build::Release {
        // The main module (most of the time) on one core, the chunks on the other.
        let main = staging.join("portal_bg.wasm");
        std::thread::scope(|scope| {
            let main = scope.spawn(|| wasm_opt(&main));
            let chunks = chunks.iter().try_for_each(|chunk| wasm_opt(chunk));
            main.join().unwrap_or_else(|_| Err("wasm-opt's thread panicked".into())).and(chunks)
        })?;
    }
    eprintln!("portal: wasm-opt in {:.1} s", step.elapsed().as_secs_f64());
    for js in ["portal.js", "__wasm_split.js"] {
        esbuild(&staging.join(js), &staging.join(js), "--format=esm")?;
    }
    let start = if kind == Build::Dev { format!("{START_JS}{RELOAD_JS}") } else { START_JS.to_owned() };
    std::fs::write(staging.join("start.js"), start).map_err(|e| format!("start.js: {e}"))?;
    esbuild(&root().join("style").join("main.css"), &staging.join("main.css"), "--bundle")?;
    copy(&root().join("public").join("favicon.svg"), &staging.join("favicon.svg"))?;

    let hash = hash_folder(&staging)?;
    let pkg = dist.join(PKG).join(&hash);
    if pkg.is_dir() {
        // The same files as a build being served: keep that one, untouched.
        std::fs::remove_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    } else {
        let step = Instant::now();
        crate::tools::precompress(&staging)?;
        eprintln!("portal: precompressed in {:.1} s", step.elapsed().as_secs_f64());
        std::fs::rename(&staging, &pkg).map_err(|e| format!("{} → {}: {e}", staging.display(), pkg.display()))?;
    }
    write_index(&dist, &hash)?;
    remove_old_builds(&dist, &hash, SystemTime::now())?;
    std::fs::write(dist.join(PKG).join(STAMP), kind.name()).map_err(|e| format!("{STAMP}: {e}"))?;
    eprintln!("portal: built into dist/{PKG}/{hash} in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Starts the wasm: the page has no inline script, so its policy needs no hash that changes
/// with each build. A part of the portal that cannot be fetched any more (a newer version replaced this one and
/// its files are gone) stops the wasm: then the page is loaded again, once, into the newer one.
const START_JS: &str = r#"import init from "./portal.js";
init({ module_or_path: new URL("./portal_bg.wasm", import.meta.url) });
const mine = new URL(".", import.meta.url).pathname;
let checked = false;
const stopped = async (error) => {
  if (checked || !(error instanceof WebAssembly.RuntimeError)) return;
  checked = true;
  const page = await fetch("/index.html", { cache: "no-store" }).then((answer) => answer.text()).catch(() => "");
  if (page.includes("/pkg/") && !page.includes(mine)) location.reload();
};
addEventListener("error", (event) => stopped(event.error));
addEventListener("unhandledrejection", (event) => stopped(event.reason));
"#;

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
        // Every status of every kind stays on show while the demo runs.
        .env("PORTAL_DEMO_CYCLE", std::env::var("PORTAL_DEMO_CYCLE").unwrap_or_else(|_| "true".into()))
        // The HaloPSA built in (--psa embedded) is on this machine.
        .env("PORTAL_ALLOW_PRIVATE_TARGETS", std::env::var("PORTAL_ALLOW_PRIVATE_TARGETS").unwrap_or_else(|_| "true".into()))
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
        let newest_input = newest_input();
        if let Some(input) = newest_input.filter(|input| *input > built) {
            // A file dated in the future (a clock set wrong) builds once, not every time.
            built = SystemTime::now().max(input);
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
        .filter(|path| path.is_file())
        .collect();
    names.sort();
    let mut hasher = DefaultHasher::new();
    for path in names {
        hasher.write(path.file_name().unwrap_or_default().as_encoded_bytes());
        hasher.write(&std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?);
    }
    Ok(format!("{:016x}", hasher.finish()))
}

/// `index.html` with the links to this build's files in place of the marker. Its compressed
/// copies and then itself are written whole under other names and renamed into place, so that a
/// server reading them never sees half of one; unchanged, it is not written at all (an open
/// page in `dev` reloads when it changes).
fn write_index(dist: &Path, hash: &str) -> Result {
    let template = std::fs::read_to_string(root().join("index.html")).map_err(|e| format!("index.html: {e}"))?;
    let html = index_html(&template, hash)?;
    let index = dist.join("index.html");
    if std::fs::read_to_string(&index).is_ok_and(|old| old == html) {
        return Ok(());
    }
    let staging = dist.join(PKG).join(format!(".index-{}", std::process::id()));
    std::fs::create_dir_all(&staging).map_err(|e| format!("{}: {e}", staging.display()))?;
    std::fs::write(staging.join("index.html"), html).map_err(|e| format!("index.html: {e}"))?;
    crate::tools::precompress_file(&staging.join("index.html"))?;
    for name in ["index.html.br", "index.html.gz", "index.html"] {
        std::fs::rename(staging.join(name), dist.join(name)).map_err(|e| format!("{name}: {e}"))?;
    }
    std::fs::remove_dir(&staging).map_err(|e| format!("{}: {e}", staging.display()))
}

fn index_html(template: &str, hash: &str) -> Result<String> {
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
    Ok(template.replace(MARKER, &links))
}

/// Removes what earlier builds left in `dist/` (Trunk's files too). Builds of the last
/// `KEEP_OLD_BUILDS_DAYS` stay (at most `KEEP_OLD_BUILDS`, the newest): a page opened before a
/// new build still finds the chunks it has not fetched yet.
fn remove_old_builds(dist: &Path, hash: &str, now: SystemTime) -> Result {
    let mut builds: Vec<(SystemTime, PathBuf)> = std::fs::read_dir(dist.join(PKG))
        .map_err(|e| format!("{}: {e}", dist.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name() != hash && !e.file_name().to_string_lossy().starts_with('.'))
        .filter_map(|e| Some((modified(&e.path())?, e.path())))
        .collect();
    // Newest first.
    builds.sort_by(|a, b| b.cmp(a));
    let keep_since = now - std::time::Duration::from_secs(KEEP_OLD_BUILDS_DAYS * 24 * 3600);
    for (index, (built, old)) in builds.into_iter().enumerate() {
        if index >= KEEP_OLD_BUILDS || built < keep_since {
            std::fs::remove_dir_all(&old).map_err(|e| format!("{}: {e}", old.display()))?;
        }
    }
    for entry in std::fs::read_dir(dist).map_err(|e| format!("{}: {e}", dist.display()))?.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_file() && !name.starts_with("index.html") {
            std::fs::remove_file(entry.path()).map_err(|e| format!("{name}: {e}"))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder of its own under the system's temporary folder, removed on drop.
    struct Scratch(PathBuf);
    impl Scratch {
        fn new(name: &str) -> Scratch {
            let dir = std::env::temp_dir().join(format!("xtask-portal-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(dir.join(PKG)).unwrap();
            Scratch(dir)
        }
    }
    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn build_folder(dist: &Path, name: &str, age_days: u64) {
        let dir = dist.join(PKG).join(name);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("portal.js"), name).unwrap();
        let when = SystemTime::now() - std::time::Duration::from_secs(age_days * 24 * 3600);
        std::fs::File::open(&dir).unwrap().set_modified(when).unwrap();
    }

    #[test]
    fn old_builds_go_recent_ones_stay_and_the_current_one_always() {
        let scratch = Scratch::new("old-builds");
        let dist = &scratch.0;
        build_folder(dist, "current", 30);
        build_folder(dist, "yesterday", 1);
        build_folder(dist, "last-month", 30);
        for i in 0..KEEP_OLD_BUILDS + 2 {
            build_folder(dist, &format!("recent-{i}"), 0);
        }
        std::fs::write(dist.join("portal-0123456789abcdef_bg.wasm"), b"Trunk's").unwrap();
        std::fs::write(dist.join("index.html"), b"page").unwrap();
        std::fs::create_dir_all(dist.join(PKG).join(".staging-1")).unwrap();
        remove_old_builds(dist, "current", SystemTime::now()).unwrap();
        let left: Vec<String> =
            std::fs::read_dir(dist.join(PKG)).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        assert!(left.contains(&"current".to_owned()), "{left:?}");
        assert!(!left.contains(&"last-month".to_owned()), "{left:?}");
        assert!(left.contains(&".staging-1".to_owned()), "another build's staging is not touched: {left:?}");
        assert_eq!(left.iter().filter(|name| !name.starts_with('.') && *name != "current").count(), KEEP_OLD_BUILDS, "{left:?}");
        assert!(dist.join("index.html").exists());
        assert!(!dist.join("portal-0123456789abcdef_bg.wasm").exists());
    }

    #[test]
    fn the_hash_follows_every_file_and_ignores_folders() {
        let scratch = Scratch::new("hash");
        let dir = scratch.0.join(PKG);
        std::fs::write(dir.join("a.js"), b"one").unwrap();
        let first = hash_folder(&dir).unwrap();
        assert_eq!(first.len(), 16);
        std::fs::create_dir_all(dir.join("snippets")).unwrap();
        assert_eq!(hash_folder(&dir).unwrap(), first, "a folder is not read as a file");
        std::fs::write(dir.join("a.js"), b"two").unwrap();
        assert_ne!(hash_folder(&dir).unwrap(), first);
    }

    #[test]
    fn index_html_links_the_build() {
        let template = format!("<head>{MARKER}</head>");
        let html = index_html(&template, "0123456789abcdef").unwrap();
        assert!(!html.contains(MARKER));
        assert!(html.contains("<script type=\"module\" src=\"/pkg/0123456789abcdef/start.js\"></script>"));
        assert!(html.contains("<link rel=\"preload\" href=\"/pkg/0123456789abcdef/portal_bg.wasm\""));
        assert!(index_html("<head></head>", "0123456789abcdef").is_err());
    }
}
