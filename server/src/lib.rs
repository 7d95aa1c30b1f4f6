//! Backup Portal server: the API and the built portal, from one origin.

pub mod access;
pub mod activity;
pub mod auth;
pub mod backups;
pub mod config;
pub mod connector;
pub mod credentials;
pub mod dashboard;
pub mod db;
pub mod demo;
pub mod disk;
pub mod downloads;
pub mod engine;
pub mod error;
pub mod events;
pub mod extract;
pub mod failpoint;
pub mod headers;
pub mod health;
pub mod imap;
pub mod integrations;
pub mod jobs;
pub mod listing;
pub mod mailboxes;
pub mod messages;
pub mod net_policy;
pub mod notify;
pub mod openapi;
pub mod outbox;
pub mod outgoing;
pub mod problem;
pub mod problems;
pub mod queue;
pub mod rate_limit;
pub mod retention;
pub mod search;
pub mod secrets;
pub mod security;
pub mod sso;
pub mod seed;
pub mod state;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{middleware, Router};
use tower::ServiceExt;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::predicate::{DefaultPredicate, Predicate};
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};

use crate::config::Config;
use crate::error::AppError;
use crate::state::AppState;

/// The whole application: every feature's router, the portal's files, and the layers
/// that make every error a problem with a request ID.
pub fn app(state: AppState) -> Router {
    let security = headers::SecurityHeaders::new(&state.config);
    let mut routes = Router::new()
        .route("/api/health", get(health::health))
        .route("/api/ready", get(health::ready))
        .merge(auth::router())
        .merge(backups::router())
        .merge(jobs::router())
        .merge(downloads::router())
        .merge(events::router())
        .merge(dashboard::router())
        .merge(openapi::router())
        .merge(credentials::router())
        .merge(mailboxes::router())
        .merge(integrations::router())
        .merge(tokens::router())
        .merge(activity::router())
        .merge(messages::router())
        .merge(retention::router())
        .merge(security::router())
        .merge(sso::router())
        .merge(problems::router());
    // The identity provider built in is there only when it is the one in use.
    if state.config.idp == "embedded" {
        routes = routes.merge(portal_idp::router(state.config.idp_config()));
    }
    // So is the HaloPSA built in.
    if let Some(halo) = &state.halo {
        routes =
            routes.nest("/halo", halo.router()).route("/halo/", get(|| async { axum::response::Redirect::permanent("/halo") }));
    }
    let routes = routes
        .fallback(fallback)
        .layer(CatchPanicLayer::custom(problem::panic_response))
        .layer(middleware::from_fn_with_state(state.config.request_timeout_ms, problem::time_limit))
        .with_state(state);
    // The problem layer wraps the finished router, so it sees answers that axum completes
    // after the route's own layers (a 405's `Allow` header).
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn(problem::problem_layer))
        .layer(CompressionLayer::new().compress_when(DefaultPredicate::new().and(not_resumable)))
        .layer(middleware::from_fn_with_state(security, headers::security_headers))
}

/// A file that can be asked for by byte range (a download) goes as stored: compressed on the
/// fly it would lose its length and its ranges, and a zip gains nothing.
fn not_resumable(
    _: axum::http::StatusCode,
    _: axum::http::Version,
    headers: &axum::http::HeaderMap,
    _: &axum::http::Extensions,
) -> bool {
    !headers.contains_key(axum::http::header::ACCEPT_RANGES)
}

/// Opens the database, seeds it if asked and empty, and builds the state.
/// The engine is built but not started: `serve` starts it; tests step it with `run_due`.
pub async fn prepare(config: Config) -> Result<AppState, sqlx::Error> {
    let (_, shutdown) = tokio::sync::watch::channel(false);
    prepare_with_shutdown(config, shutdown).await
}

async fn prepare_with_shutdown(config: Config, shutdown: tokio::sync::watch::Receiver<bool>) -> Result<AppState, sqlx::Error> {
    config.check().map_err(|problem| sqlx::Error::Configuration(problem.into()))?;
    owner_only(&config.data_dir).map_err(sqlx::Error::Io)?;
    let db = db::connect(&config.database_url).await?;
    // The full-text index speaks each database's own DDL: set up here, after the migrations.
    search::index::setup(&db).await?;
    // PostgreSQL: the trigger that wakes every instance's live updates.
    events::listen::setup(&db).await?;
    // Made now, off the request path: the first unknown email is refused as slowly as the rest.
    tokio::task::spawn_blocking(|| auth::password::decoy_hash().len())
        .await
        .map_err(|e| sqlx::Error::Io(std::io::Error::other(e)))?;
    // Where the backups' contents (and, with a shared store, download files) are kept.
    let store = imap::store::ObjectStore::from_config(&config).map_err(|problem| sqlx::Error::Configuration(problem.into()))?;
    let seeded = config.seed_demo && seed::seed_if_empty(&db).await?;
    if seeded {
        seed::write_demo_download_files(&db, &config.data_dir, store.remote()).await?;
        seed::add_extra_jobs(&db, config.demo_extra_jobs).await?;
        tracing::info!("seeded the demo data");
    }
    let mut engine_config = engine::EngineConfig::new(config.max_retries, config.retry_minutes, config.backup_interval_hours);
    engine_config.download_link_ms = i64::from(config.download_link_days) * 86_400_000;
    engine_config.lease_ms = i64::from(config.lease_seconds) * 1000;
    engine_config.workers = config.workers as usize;
    engine_config.max_runs_per_organisation = config.max_runs_per_organisation as i64;
    engine_config.instance = config.instance_name.clone();
    let links = match &config.link_key_file {
        Some(file) => downloads::link::LinkSigner::from_file(file),
        None => downloads::link::LinkSigner::load_or_create(&config.data_dir),
    }
    .map_err(sqlx::Error::Io)?;
    let secrets = config.secret_box().map_err(sqlx::Error::Io)?;
    let imap_reach = imap::client::Reach {
        tls: imap::client::tls_config(config.imap_ca_file.as_deref()).map_err(sqlx::Error::Io)?,
        allow_private: config.allow_private_targets || config.loopback_only,
        loopback_only: config.loopback_only,
        timeout: Duration::from_secs(u64::from(config.imap_timeout_seconds)),
        max_message: u64::from(config.max_message_mb) << 20,
    };
    let connector = Arc::new(connector::ByMailbox {
        demo: Arc::new(demo::DemoConnector {
            step: Duration::from_millis(config.demo_step_ms),
            data_dir: config.data_dir.clone(),
            remote: store.remote().cloned(),
        }),
        imap: Arc::new(imap::ImapConnector::new(db.clone(), secrets.clone(), store.clone(), config.data_dir.clone(), imap_reach.clone())),
    });
    let engine = engine::Engine::new(db.clone(), engine_config, connector, secrets.clone());
    let reauth_limits = Arc::new(credentials::rate_limit::RateLimiter::new(
        config.reauth_attempts_per_minute,
        config.reauth_attempts_per_organisation,
        Some(&db),
    ));
    let sign_in = Arc::new(auth::throttle::SignInGuard::new(
        config.sign_in_failures_per_address,
        config.sign_in_failures_per_client,
        auth::throttle::SignInGuard::default_hashing_slots(),
        Some(&db),
    ));
    let live = Arc::new(events::hub::Hub::new(db.clone(), config.max_streams_per_user, auth::user::SESSION_CACHE_TTL));
    let outgoing =
        outgoing::Outgoing::reaching(config.allow_private_targets, config.loopback_only, Duration::from_secs(u64::from(config.outgoing_timeout_seconds)));
    let mut notify_config = notify::NotifyConfig::new(config.public_url());
    notify_config.max_attempts = config.delivery_attempts;
    notify_config.first_retry_ms = i64::from(config.delivery_retry_seconds) * 1000;
    let notifier = notify::Notifier::new(db.clone(), secrets.clone(), outgoing.clone(), notify_config);
    if seeded {
        demo_psa(&db, &secrets, &config).await.map_err(|e| sqlx::Error::Configuration(e.to_string().into()))?;
        seed::imap::seed_if_asked(&db, &secrets, config.seed_imap_demo.as_deref()).await?;
        seed::enrol_demo_authenticators(&db, &secrets).await?;
    }
    // The HaloPSA built in is the demo's (its API application's secret is published): a server
    // without the demo data has none.
    let halo = if config.psa == "embedded" && config.seed_demo {
        // Its clients are the organisations, so a demo organisation's tickets go under its own name.
        let clients: Vec<(i64, String)> = sqlx::query_as("SELECT id, name FROM organisations ORDER BY id").fetch_all(&db).await?;
        let mut halo_config = portal_halo::HaloConfig::demo();
        if !clients.is_empty() {
            halo_config.clients = clients;
        }
        Some(portal_halo::Halo::new(halo_config))
    } else {
        None
    };
    let token_limits = Arc::new(rate_limit::Window::on(&db, "token_requests", config.token_requests_per_minute as usize, Duration::from_secs(60)));
    Ok(AppState {
        outgoing,
        notifier,
        halo,
        db,
        live,
        sign_in,
        config: Arc::new(config),
        engine,
        links,
        store,
        secrets,
        shutdown,
        counts: Default::default(),
        sessions: Default::default(),
        reauth_limits,
        token_limits,
        imap_reach,
    })
}

/// The data folder (mail in pack files, download files, keys, the SQLite file by default) is
/// for this server's user alone: made owner-only; one that exists and others may read is
/// named in the log (it may be shared on purpose, e.g. /tmp, so it is not changed).
fn owner_only(dir: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if !dir.exists() {
            return std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir);
        }
        if std::fs::metadata(dir)?.permissions().mode() & 0o077 != 0 {
            tracing::warn!(dir = %dir.display(), "the data folder can be read by other users of this machine: make it owner-only (chmod 700)");
        }
        Ok(())
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(dir)
}

pub async fn serve(config: Config) -> Result<(), Box<dyn std::error::Error>> {
    use tower::Service;
    /// How long a shutdown waits for answers under way (a download to a slow client) to end.
    const DRAIN: Duration = Duration::from_secs(30);
    let addr = config.addr;
    let header_read_timeout = Duration::from_millis(config.header_read_timeout_ms.max(1));
    let (stopping, shutdown) = tokio::sync::watch::channel(false);
    let state = prepare_with_shutdown(config, shutdown.clone()).await?;
    tracing::info!(instance = state.engine.owner(), "this instance's name in the job queue");
    let grace = Duration::from_secs(u64::from(state.config.shutdown_grace_seconds));
    let state_delay = state.config.shutdown_delay_seconds;
    let engine = tokio::spawn(state.engine.clone().run_until(shutdown, grace));
    state.notifier.clone().spawn();
    activity::store::spawn_sweep(state.db.clone(), state.config.activity_retention_days);
    rate_limit::spawn_sweep(state.db.clone());
    retention::prune::spawn(state.db.clone(), state.store.clone());
    search::indexer::spawn(state.db.clone(), state.store.clone());
    if state.config.seed_demo && state.config.demo_cycle {
        seed::director::spawn(state.db.clone(), state.config.data_dir.clone(), state.store.remote().cloned());
    }
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("Backup Portal listening on http://{}", listener.local_addr()?);
    // hyper's HTTP/1.1 connections rather than `axum::serve`, which gives a client all the time
    // it likes to send its headers (a slow client would hold a connection for ever). HTTP/1.1
    // only: telling HTTP/2 apart first would itself wait without a limit.
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(header_read_timeout);
    // Handlers get the client's address (`ConnectInfo<SocketAddr>`) as with axum::serve.
    let mut make_service = app(state).into_make_service_with_connect_info::<std::net::SocketAddr>();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let signal = shutdown_signal();
    tokio::pin!(signal);
    // Set at SIGTERM: until then the port stays open while `/api/ready` says 503, so that a load
    // balancer stops sending here before connections are refused.
    let mut close_at: Option<tokio::time::Instant> = None;
    let delay = Duration::from_secs(u64::from(state_delay));
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: let some connections end first.
                    tracing::warn!(%error, "could not accept a connection");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
            () = &mut signal, if close_at.is_none() => {
                // Nothing new is claimed; live-update streams end (the portal reconnects to
                // another instance); readiness turns 503.
                let _ = stopping.send(true);
                close_at = Some(tokio::time::Instant::now() + delay);
                continue;
            }
            () = tokio::time::sleep_until(close_at.unwrap_or_else(tokio::time::Instant::now)), if close_at.is_some() => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(service) = make_service.call(remote).await;
        let service = hyper_util::service::TowerToHyperService::new(service);
        let connection = graceful.watch(http.serve_connection(hyper_util::rt::TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "a connection ended in an error");
            }
        });
    }
    drop(listener);
    let answers = async {
        if tokio::time::timeout(DRAIN, graceful.shutdown()).await.is_err() {
            tracing::warn!("answers still under way {} s after the shutdown began; stopping anyway", DRAIN.as_secs());
        }
    };
    // The runs finish (or are given back) while the last answers go out.
    let (_, engine) = tokio::join!(answers, engine);
    if let Err(error) = engine {
        tracing::warn!(%error, "the job engine stopped in an error");
    }
    Ok(())
}

/// The demo organisations, just seeded, file tickets in the PSA of `--psa` (the HaloPSA built
/// in by default). Only at seeding: an organisation that removes its Halo keeps it removed.
async fn demo_psa(db: &db::Db, secrets: &secrets::SecretBox, config: &Config) -> Result<(), secrets::SecretError> {
    let (url, client_id, secret, customer) = match config.psa.as_str() {
        "embedded" => {
            let halo_config = portal_halo::HaloConfig::demo();
            (format!("{}/halo", config.public_url()), halo_config.client_id, halo_config.client_secret, None)
        }
        "halo" => (
            config.halo_url.clone().unwrap_or_default(),
            config.halo_client_id.clone().unwrap_or_default(),
            config.halo_client_secret.clone().unwrap_or_default(),
            Some(config.halo_customer),
        ),
        _ => return Ok(()),
    };
    let organisations: Vec<(i64,)> = sqlx::query_as("SELECT id FROM organisations ORDER BY id").fetch_all(db).await?;
    for (organisation,) in organisations {
        let input = notify::settings::HaloInput {
            url: url.clone(),
            tenant: if customer.is_some() { config.halo_tenant.clone() } else { String::new() },
            client_id: client_id.clone(),
            client_secret: Some(secrets::SecretString::new(secret.clone())),
            halo_client_id: customer.unwrap_or(organisation),
            ticket_type_id: None,
            priority_id: None,
        };
        notify::settings::save_halo(db, secrets, organisation, input).await?;
    }
    Ok(())
}

pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,sqlx=warn,tower_http=warn"));
    tracing_subscriber::fmt().with_env_filter(filter).init();
}

/// Unknown API paths are problems; everything else is the portal (its files, or
/// `index.html` for the portal's own routes).
async fn fallback(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path();
    if path == "/api" || path.starts_with("/api/") {
        return AppError::not_found(format!("There is no API at {path}.")).into_response();
    }
    let dist = &state.config.dist;
    if path.starts_with("/pkg/") {
        // A built file that is not there (a build since removed) is a 404, never the page in its
        // place: the portal then fails to load that part and reloads into the newer build
        // (start.js), instead of trying to read HTML as WebAssembly.
        let files = ServeDir::new(dist).precompressed_br().precompressed_gzip();
        return match files.oneshot(request).await {
            Ok(response) => response.into_response(),
            Err(error) => AppError::internal(error).into_response(),
        };
    }
    // `NAME.br` / `NAME.gz` files written at build time are sent as they are to browsers that
    // accept Brotli / gzip.
    let files = ServeDir::new(dist)
        .precompressed_br()
        .precompressed_gzip()
        .fallback(ServeFile::new(dist.join("index.html")).precompressed_br().precompressed_gzip());
    match files.oneshot(request).await {
        Ok(response) => response.into_response(),
        Err(error) => AppError::internal(error).into_response(),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
}
