use clap::Parser;
use portal_server::config::Config;

#[tokio::main]
async fn main() {
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
