//! The portal's pieces in a real browser (headless Chromium via wasm-bindgen-test).
//! `cargo xtask test` runs these with `cargo test -p portal --target wasm32-unknown-unknown`.

#![cfg(target_arch = "wasm32")]

use leptos::prelude::*;
use portal::api::{query_string, ApiError};
use portal::components::error_notice::{meaning, what_to_do, ErrorNotice};
use portal::components::jobs::status_badge::StatusBadge;
use portal::pages::backups::backups_href;
use portal::pages::sign_in::safe_next;
use portal::session::sign_in_href;
use portal::time::relative;
use portal_api::{BackupsQuery, FieldError, JobStatus, Problem};
use wasm_bindgen::JsCast;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

/// Mounts a view into a fresh element of the page and returns that element.
fn mount<V: IntoView + 'static>(view: impl FnOnce() -> V + 'static) -> web_sys::HtmlElement {
    let document = web_sys::window().unwrap().document().unwrap();
    let host: web_sys::HtmlElement = document.create_element("div").unwrap().unchecked_into();
    document.body().unwrap().append_child(&host).unwrap();
    let handle = leptos::mount::mount_to(host.clone(), view);
    // Keep the view alive for the rest of the test run.
    std::mem::forget(handle);
    host
}

fn problem_error(status: u16, detail: &str) -> ApiError {
    ApiError {
        method: "GET".into(),
        path: "/api/backups".into(),
        status: Some(status),
        problem: Some(Problem {
            type_uri: "/problems/forbidden".into(),
            title: "Not allowed for your role".into(),
            status,
            detail: Some(detail.into()),
            instance: Some("0123456789abcdef01234567".into()),
            errors: vec![FieldError::new("email", "Enter your email address.")],
        }),
        request_id: Some("0123456789abcdef01234567".into()),
        message: "Forbidden".into(),
        retry_after_secs: None,
        received_at_ms: portal::time::now_ms(),
    }
}

#[wasm_bindgen_test]
fn an_error_notice_says_what_happened_why_what_to_do_and_the_request_id() {
    let error = problem_error(403, "Only resellers can force a backup.");
    let host =
        mount(move || view! { <leptos_router::components::Router><ErrorNotice error /></leptos_router::components::Router> });
    let text = host.text_content().unwrap();
    assert!(text.contains("403 · Not allowed for your role"), "{text}");
    assert!(text.contains("Only resellers can force a backup."), "{text}");
    assert!(text.contains(what_to_do(Some(403))), "{text}");
    let id = host.query_selector(".error-notice__request-id").unwrap().unwrap();
    assert_eq!(id.text_content().unwrap(), "0123456789abcdef01234567");
    assert!(host.query_selector("[role=alert]").unwrap().is_some(), "announced to screen readers");
    assert!(host.query_selector("button.copy-button").unwrap().is_some(), "the request ID can be copied");
}

#[wasm_bindgen_test]
fn an_unreachable_server_is_named_as_such() {
    let error = ApiError {
        method: "GET".into(),
        path: "/api/session".into(),
        status: None,
        problem: None,
        request_id: None,
        message: "The server could not be reached.".into(),
        retry_after_secs: None,
        received_at_ms: portal::time::now_ms(),
    };
    let host =
        mount(move || view! { <leptos_router::components::Router><ErrorNotice error /></leptos_router::components::Router> });
    let text = host.text_content().unwrap();
    assert!(text.contains(meaning(None)), "{text}");
    assert!(!text.contains("Request ID"), "{text}");
    assert!(text.contains("Check your connection"), "{text}");
    assert!(host.query_selector(".error-notice__request").unwrap().is_none(), "no request ID to show");
}

#[wasm_bindgen_test]
fn a_401_notice_offers_to_sign_in_and_come_back() {
    let error = problem_error(401, "Your session has ended.");
    let host =
        mount(move || view! { <leptos_router::components::Router><ErrorNotice error /></leptos_router::components::Router> });
    let link = host.query_selector(".error-notice a").unwrap().expect("a sign-in link");
    let href = link.get_attribute("href").unwrap();
    // The test page is the site's root, which needs no way back.
    assert_eq!(href, "/sign-in");
    assert_eq!(sign_in_href("/status/backups?q=a"), "/sign-in?next=%2Fstatus%2Fbackups%3Fq%3Da");
}

#[wasm_bindgen_test]
fn every_code_the_portal_explains_has_its_own_meaning_and_advice() {
    let codes = [
        None,
        Some(400),
        Some(401),
        Some(403),
        Some(404),
        Some(405),
        Some(409),
        Some(422),
        Some(429),
        Some(500),
        Some(502),
        Some(503),
        Some(504),
    ];
    let meanings: std::collections::HashSet<_> = codes.iter().map(|c| meaning(*c)).collect();
    assert_eq!(meanings.len(), codes.len(), "no two codes share a meaning");
    for code in codes {
        assert!(!what_to_do(code).is_empty());
    }
}

#[wasm_bindgen_test]
fn a_status_badge_carries_its_tone() {
    let host = mount(|| view! { <StatusBadge status=JobStatus::AuthenticationError /> });
    let badge = host.query_selector(".status-badge").unwrap().unwrap();
    assert_eq!(badge.text_content().unwrap(), "Authentication Error");
    assert!(badge.class_list().contains("status-badge--danger"));
}

#[wasm_bindgen_test]
fn relative_times_read_naturally() {
    assert_eq!(relative(10_000.0), "just now");
    assert_eq!(relative(12.0 * 60_000.0), "in 12 min");
    assert_eq!(relative(-3.0 * 3_600_000.0), "3 h ago");
    assert_eq!(relative(-3.0 * 86_400_000.0), "3 d ago");
}

#[wasm_bindgen_test]
fn filters_make_shareable_addresses_and_next_stays_on_this_site() {
    let query = BackupsQuery { q: Some("a&b c".into()), status: Some("space_full".into()), page: Some(2), per_page: None };
    assert_eq!(backups_href(&query), "/status/backups?q=a%26b%20c&status=space_full&page=2");
    assert_eq!(backups_href(&BackupsQuery::default()), "/status/backups");
    assert_eq!(query_string(&[]), "");
    assert_eq!(safe_next(Some("/status/backups?q=a".into())), "/status/backups?q=a");
    assert_eq!(safe_next(Some("//evil.example".into())), "/");
    assert_eq!(safe_next(Some("https://evil.example".into())), "/");
}

#[wasm_bindgen_test]
fn a_refused_sign_in_does_not_offer_to_sign_in_again() {
    let mut error = problem_error(401, "The email address and password do not match an account.");
    if let Some(problem) = error.problem.as_mut() {
        problem.type_uri = "/problems/invalid-credentials".into();
        problem.title = "Email address or password not recognised".into();
    }
    let host =
        mount(move || view! { <leptos_router::components::Router><ErrorNotice error /></leptos_router::components::Router> });
    let text = host.text_content().unwrap();
    assert!(text.contains("401 · Email address or password not recognised"), "{text}");
    assert!(text.contains("Caps Lock"), "{text}");
    assert!(host.query_selector(".error-notice a").unwrap().is_none(), "no sign-in link on the sign-in form");
}

#[wasm_bindgen_test]
fn byte_counts_read_as_people_say_them() {
    use portal::bytes::human_bytes;
    assert_eq!(human_bytes(999), "999 B");
    assert_eq!(human_bytes(1_000), "1.0 KB");
    assert_eq!(human_bytes(1_449_000), "1.4 MB");
    assert_eq!(human_bytes(1_450_000), "1.5 MB");
    assert_eq!(human_bytes(730_000_000), "730.0 MB");
    assert_eq!(human_bytes(2_000_000_000_000_000), "2000.0 TB");
}

/// Waits in the browser's own event loop (timers and effects keep running).
async fn wait_ms(ms: i32) {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        web_sys::window().unwrap().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms).unwrap();
    });
    wasm_bindgen_futures::JsFuture::from(promise).await.unwrap();
}

#[wasm_bindgen_test]
async fn too_many_requests_counts_down_from_retry_after_then_retries_once() {
    let mut error = problem_error(429, "You have tried this too often in the last minute. Wait 1 s, then try again.");
    error.retry_after_secs = Some(1);
    let retried = RwSignal::new(0);
    let retry = Callback::new(move |_: ()| retried.update(|n| *n += 1));
    let host = mount(move || {
        view! { <leptos_router::components::Router><ErrorNotice error retry /></leptos_router::components::Router> }
    });
    let countdown = host.query_selector(".error-notice__countdown").unwrap().unwrap();
    assert_eq!(countdown.text_content().unwrap(), "Trying again by itself in 1 s.");
    assert_eq!(retried.get_untracked(), 0);
    wait_ms(1600).await;
    assert_eq!(countdown.text_content().unwrap(), "Trying again now…");
    wait_ms(600).await;
    assert_eq!(retried.get_untracked(), 1, "retried once, not at every tick");

    // Drawn anew (a live update rebuilt its row): the wait counts from the answer, not from
    // the drawing, and the answer is retried once however often it is drawn.
    let mut busy = problem_error(503, "Busy.");
    busy.retry_after_secs = Some(30);
    busy.received_at_ms -= 10_000.0;
    let drawn = busy.clone();
    let host = mount(
        move || view! { <leptos_router::components::Router><ErrorNotice error=drawn /></leptos_router::components::Router> },
    );
    let text = host.query_selector(".error-notice__countdown").unwrap().unwrap().text_content().unwrap();
    assert_eq!(text, "You can try again in 20 s.");
    busy.received_at_ms -= 30_000.0;
    let retried = RwSignal::new(0);
    for _ in 0..3 {
        let (error, retry) = (busy.clone(), Callback::new(move |_: ()| retried.update(|n| *n += 1)));
        mount(
            move || view! { <leptos_router::components::Router><ErrorNotice error retry /></leptos_router::components::Router> },
        );
        wait_ms(100).await;
    }
    assert_eq!(retried.get_untracked(), 1, "one retry for one answer");

    // Without an action to repeat, it only says when trying again makes sense.
    let mut error = problem_error(503, "Busy.");
    error.retry_after_secs = Some(30);
    let host =
        mount(move || view! { <leptos_router::components::Router><ErrorNotice error /></leptos_router::components::Router> });
    let text = host.query_selector(".error-notice__countdown").unwrap().unwrap().text_content().unwrap();
    assert_eq!(text, "You can try again in 30 s.");
}

#[wasm_bindgen_test]
fn an_end_user_is_offered_actions_only_on_jobs_that_write_into_their_own_mailbox() {
    use portal::access::{may_choose_destination, may_manage_job, sees_other_mailboxes};
    use portal_api::{JobKind, JobRow, Role};
    let job = |kind: JobKind, destination: Option<&str>| JobRow {
        id: "R-23456789".into(),
        kind,
        mailbox_id: 1,
        mailbox_email: "alice.archer@acme-legal.example".into(),
        organisation: "Acme Legal".into(),
        status: JobStatus::Failed,
        created_at: "2026-11-24T10:00:00Z".into(),
        finished_at: None,
        target: String::new(),
        destination: destination.map(str::to_owned),
        run: Default::default(),
        expires_at: None,
        download_url: None,
    };
    let own = job(JobKind::Restore, Some("Alice.Archer@acme-legal.example"));
    let unnamed = job(JobKind::Restore, None);
    let elsewhere = job(JobKind::Restore, Some("bruno.dubois@acme-legal.example"));
    let migration = job(JobKind::Migrate, Some("alice.archer@acme-legal-new.example"));
    let download = job(JobKind::Download, None);
    for (row, end_user) in [(&own, true), (&unnamed, true), (&download, true), (&elsewhere, false), (&migration, false)] {
        assert_eq!(may_manage_job(Role::EndUser, row), end_user, "{:?} into {:?}", row.kind, row.destination);
        assert!(may_manage_job(Role::OrgAdmin, row) && may_manage_job(Role::Reseller, row));
    }
    assert!(!may_choose_destination(Role::EndUser) && may_choose_destination(Role::OrgAdmin));
    assert!(!sees_other_mailboxes(Role::EndUser) && sees_other_mailboxes(Role::Reseller));
}

#[wasm_bindgen_test]
fn waits_read_in_minutes_and_seconds() {
    use portal::time::wait_words;
    assert_eq!(wait_words(1), "1 s");
    assert_eq!(wait_words(59), "59 s");
    assert_eq!(wait_words(60), "1 min");
    assert_eq!(wait_words(897), "14 min 57 s");
    assert_eq!(wait_words(3600), "1 h");
    assert_eq!(wait_words(3_900), "1 h 5 min");

    let mut error = problem_error(429, "Too many attempts.");
    error.retry_after_secs = Some(897);
    let host =
        mount(move || view! { <leptos_router::components::Router><ErrorNotice error /></leptos_router::components::Router> });
    let text = host.query_selector(".error-notice__countdown").unwrap().unwrap().text_content().unwrap();
    assert_eq!(text, "You can try again in 14 min 57 s.");
}

#[wasm_bindgen_test]
fn every_what_to_do_that_names_a_control_says_who_may_use_it() {
    use portal::components::jobs::job_run::{todo_needs, Needs};
    use portal_api::jobs::explain;
    use portal_api::JobKind;
    for kind in [JobKind::Backup, JobKind::Migrate, JobKind::Restore, JobKind::Download] {
        for &status in kind.statuses() {
            let todo = explain(kind, status).what_to_do;
            let names_a_control =
                ["Edit", "try again", "Try again", "Account Settings", "Upgrade", "Request"].iter().any(|w| todo.contains(w));
            assert_eq!(todo_needs(kind, status).is_some(), names_a_control, "{kind:?} {status:?}: {todo}");
        }
    }
    assert_eq!(todo_needs(JobKind::Backup, JobStatus::AuthenticationError), Some(Needs::Settings));
    assert_eq!(todo_needs(JobKind::Migrate, JobStatus::AuthenticationError), Some(Needs::ManageJob));
}

#[wasm_bindgen_test]
fn whoever_may_not_act_is_told_to_ask_their_admin_with_the_id_not_to_choose_edit() {
    use portal::components::jobs::job_run::JobRunSummary;
    use portal_api::JobKind;
    let summary = |kind: JobKind, id: &'static str, may_manage: bool| {
        // No session here: nobody may open Account Settings.
        let host = mount(move || {
            view! {
                <leptos_router::components::Router>
                    <JobRunSummary kind status=JobStatus::AuthenticationError run=Default::default() id may_manage />
                </leptos_router::components::Router>
            }
        });
        host.query_selector(".job-run__todo").unwrap().unwrap().text_content().unwrap()
    };
    assert_eq!(
        summary(JobKind::Migrate, "M-00000007", false),
        "What to do: Your organisation's admin can fix this: ask them, quoting M-00000007."
    );
    assert!(summary(JobKind::Migrate, "M-00000007", true).contains("Choose Edit"));
    assert!(summary(JobKind::Restore, "R-00000007", true).contains("Choose Edit"));
    assert_eq!(
        summary(JobKind::Backup, "alice.archer@acme-legal.example", true),
        "What to do: Your organisation's admin can fix this: ask them, quoting alice.archer@acme-legal.example."
    );
}
