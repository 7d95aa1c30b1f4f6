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
