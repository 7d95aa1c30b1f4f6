//! One way to show a failed request, next to what the user did: what the status means,
//! what the server said, what to do, and the request ID for support. What each kind of
//! problem means and what to do about it come from `portal_api::ProblemKind`.

use leptos::either::Either;
use leptos::prelude::*;
use leptos_router::components::A;
use portal_api::problem_kind::TRY_AGAIN;
use portal_api::ProblemKind;

use crate::api::ApiError;
use crate::components::copy_button::CopyButton;
use crate::components::sign_in_again::SignInAgain;

/// What a status code means, in plain words.
pub fn meaning(status: Option<u16>) -> &'static str {
    match status {
        None => "The server could not be reached",
        Some(status) => match ProblemKind::of(None, status) {
            Some(kind) => kind.info().in_short,
            None if status >= 500 => "The server had a problem",
            None => "The request did not succeed",
        },
    }
}

/// What the user can do about an answer of this status.
pub fn what_to_do(status: Option<u16>) -> &'static str {
    advice(None, status)
}

/// What the user can do about an answer of this problem `type` and status.
fn advice(type_uri: Option<&str>, status: Option<u16>) -> &'static str {
    match status {
        None => "Check your connection; if it works, the service may be restarting. Try again in a moment.",
        Some(status) => ProblemKind::of(type_uri, status).map_or(TRY_AGAIN, |kind| kind.info().user_what_to_do),
    }
}

/// `retry`, where given, runs the action again: by itself once the wait the server asked for
/// (429 or 503 with `Retry-After`) is over, or after the user signs in again (401); without it
/// the notice only counts down, or only signs in. `signing_in`: the notice stands where the
/// person signs in already (the sign-in page), so a 401 offers no other way to sign in.
#[component]
pub fn ErrorNotice(
    error: ApiError,
    #[prop(optional)] retry: Option<Callback<()>>,
    #[prop(optional)] signing_in: bool,
) -> impl IntoView {
    // The server's title names this problem exactly ("Email address or password not
    // recognised"); the plain meaning of the code stands in when there is none.
    let title = error.problem.as_ref().map(|p| p.title.clone()).unwrap_or_else(|| meaning(error.status).to_owned());
    let heading = match error.status {
        Some(status) => format!("{status} · {title}"),
        None => title,
    };
    // A refused sign-in is a 401 too, but signing in again is what the user just did.
    let session_ended = error.is_unauthenticated() && !error.is_problem("invalid-credentials") && !signing_in;
    let todo = advice(error.problem.as_ref().map(|p| p.type_uri.as_str()), error.status);
    let detail = error.problem.as_ref().and_then(|p| p.detail.clone()).unwrap_or_else(|| error.message.clone());
    let sign_in = session_ended.then(|| {
        let href = crate::sign_in_href(&crate::current_address());
        view! { <A href=href>"Sign in on its own page"</A> }
    });
    let sign_in_here = session_ended.then(|| view! { <SignInAgain retry /> });
    let request_id = error.request_id().map(str::to_owned);
    let wait = error.retry_after_secs.filter(|_| matches!(error.status, Some(429) | Some(503)));
    view! {
        <div class="error-notice" role="alert">
            <p class="error-notice__heading">{heading}</p>
            <p class="error-notice__detail">{detail}</p>
            <p class="error-notice__todo">{todo} " " {sign_in}</p>
            {wait.map(|secs| {
                let until_ms = error.received_at_ms + f64::from(secs) * 1000.0;
                // One retry per answer, even when a live update draws the notice anew.
                let key = format!("{} {} {}", error.method, error.path, error.request_id().unwrap_or_default());
                let key = format!("{key} {}", error.received_at_ms);
                view! { <RetryCountdown until_ms key retry /> }
            })}
            {sign_in_here}
            {request_id
                .map(|id| {
                    view! {
                        <p class="error-notice__request">
                            "Request ID " <code class="error-notice__request-id">{id.clone()}</code>
                            <CopyButton value=id what="request ID" />
                        </p>
                    }
                })}
        </div>
    }
}

thread_local! {
    /// The answers whose wait has been retried already (a notice drawn again must not repeat it).
    static RETRIED: std::cell::RefCell<std::collections::HashSet<String>> = Default::default();
}

/// Counts down to `until_ms`, the end of the wait the server asked for, then runs `retry`
/// once for the answer `key`, if given.
#[component]
fn RetryCountdown(until_ms: f64, key: String, retry: Option<Callback<()>>) -> impl IntoView {
    let deadline = until_ms;
    let now = RwSignal::new(crate::time::now_ms());
    if let Ok(handle) = set_interval_with_handle(move || now.set(crate::time::now_ms()), std::time::Duration::from_millis(250)) {
        on_cleanup(move || handle.clear());
    }
    let left = move || ((deadline - now.get()) / 1000.0).ceil().max(0.0) as u32;
    if let Some(retry) = retry {
        Effect::new(move |_| {
            if left() == 0 && RETRIED.with(|done| done.borrow_mut().insert(key.clone())) {
                retry.run(());
            }
        });
    }
    let text = move || match (left(), retry.is_some()) {
        (0, true) => "Trying again now…".to_owned(),
        (0, false) => "You can try again now.".to_owned(),
        (n, true) => format!("Trying again by itself in {}.", crate::time::wait_words(n)),
        (n, false) => format!("You can try again in {}.", crate::time::wait_words(n)),
    };
    view! { <p class="error-notice__countdown">{text}</p> }
}

/// The fallback of an `ErrorBoundary`: each error as an `ErrorNotice`.
#[component]
pub fn ErrorList(errors: ArcRwSignal<Errors>) -> impl IntoView {
    view! {
        <div class="error-list">
            {move || {
                errors
                    .get()
                    .into_iter()
                    .map(|(_, error)| match error.downcast_ref::<ApiError>() {
                        Some(api_error) => Either::Left(view! { <ErrorNotice error=api_error.clone() /> }),
                        None => Either::Right(view! {
                            <div class="error-notice" role="alert">
                                <p class="error-notice__heading">"Something went wrong in this page"</p>
                                <p class="error-notice__detail">{error.to_string()}</p>
                            </div>
                        }),
                    })
                    .collect_view()
            }}
        </div>
    }
}
