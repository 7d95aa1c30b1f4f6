use clap::Parser;
use portal_server::config::Config;

#[tokio::main]
async fn main() {
    // Everything the server writes (mail in pack files, download files, the SQLite database,
    // keys) is for its own user alone, whatever umask it was started with.
    #[cfg(unix)]
    // SAFETY: umask(2) only sets the process's file-creation mask; it cannot fail.
    unsafe {
        libc::umask(0o077);
    }
    // Buffers of 128 KB and more (messages, chunks of a backup) come from the system and go
    // back to it when freed. glibc otherwise raises this threshold after such a free, up to
    // 32 MB, and keeps what is freed below it in its arenas: a 1 GB backup peaked at 271-323
    // MB and stayed at 229 MB afterwards, against 141 MB and 47 MB with it fixed
    // (`cargo xtask bench memory`).
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt(3) only changes a parameter of glibc's allocator.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 << 10);
    }
    portal_server::init_tracing();
    let config = Config::parse();
    if let Err(problem) = config.check() {
        eprintln!("portal-server: {problem}");
        std::process::exit(2);
    }
    if let Err(error) = portal_server::serve(config).await {
        tracing::error!("the server stopped: {error}");
        std::process::exit(1);
    }
}
