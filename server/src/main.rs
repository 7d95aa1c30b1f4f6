use clap::{CommandFactory, FromArgMatches};
use portal_server::config::Config;

/// The server, or one of its maintenance commands, each with the server's configuration.
#[derive(clap::Parser)]
#[command(name = "portal-server", about = "Backup Portal: API server and the built portal")]
struct Cli {
    #[command(flatten)]
    config: Config,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(clap::Subcommand)]
enum Command {
    /// Check the backup storage against the database: every stored message read back and
    /// hashed, every backed-up message's content present; what no backup needs is listed.
    /// Exits 1 when content is missing or damaged, 2 when the check (or a repair asked for)
    /// could not be done, else 0.
    Check {
        /// Also remove what no backup needs: index rows no message references, pack files no
        /// row points at, and ends of packs past their last object. Refused while a backup runs.
        #[arg(long)]
        repair: bool,
        #[command(flatten)]
        config: Config,
    },
}

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
    let matches = Cli::command().get_matches();
    // Flags before a command would be read and then ignored: the command takes its own.
    if let Some(command) = matches.subcommand_name() {
        let given = matches.ids().find(|id| matches.value_source(id.as_str()) == Some(clap::parser::ValueSource::CommandLine));
        if let Some(id) = given {
            let flag = id.as_str().replace('_', "-");
            eprintln!("portal-server: --{flag} goes after the command: portal-server {command} --{flag} …");
            std::process::exit(2);
        }
    }
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|error| error.exit());
    let (config, repair) = match cli.command {
        None => (cli.config, None),
        Some(Command::Check { repair, config }) => (config, Some(repair)),
    };
    if let Err(problem) = config.check() {
        eprintln!("portal-server: {problem}");
        std::process::exit(2);
    }
    if let Some(repair) = repair {
        std::process::exit(check(&config, repair).await);
    }
    if let Err(error) = portal_server::serve(config).await {
        tracing::error!("the server stopped: {error}");
        std::process::exit(1);
    }
}

/// `portal-server check`: the report on standard output; the exit status says how it went.
async fn check(config: &Config, repair: bool) -> i32 {
    let db = match portal_server::db::connect(&config.database_url).await {
        Ok(db) => db,
        Err(error) => {
            eprintln!("portal-server check: the database could not be opened: {error}");
            return 2;
        }
    };
    let store = match portal_server::imap::store::ObjectStore::from_config(&config) {
        Ok(store) => store,
        Err(problem) => {
            eprintln!("portal-server check: {problem}");
            return 2;
        }
    };
    match portal_server::imap::check::check_store(&db, store, repair).await {
        Ok(report) => {
            println!("{report}");
            report.exit_code()
        }
        Err(error) => {
            eprintln!("portal-server check: the check could not finish: {error}");
            2
        }
    }
}
