//! Problems: this session's failed requests, one click from every page, with what a user
//! would otherwise dig out of the browser's console: when, what was asked, the answer's
//! status, title and detail, and the request ID to quote to support.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

use crate::api::{self, FailedRequest};
use crate::components::copy_button::CopyButton;
use crate::components::error_notice::meaning;
use crate::time;

#[component]
pub fn ProblemsPanel() -> impl IntoView {
    // A Copy handle on the session-wide list, so every closure below can use it as it is.
    let failed = RwSignal::from(api::failed_requests());
    let open = RwSignal::new(false);
    let count = move || failed.with(Vec::len);
    let label = move || match count() {
        0 => "Problems".to_owned(),
        n => format!("Problems · {n}"),
    };
    let is_empty = move || count() == 0;

    let anchor = NodeRef::<leptos::html::Div>::new();
    let toggle = NodeRef::<leptos::html::Button>::new();
    // Closing puts the focus back on the toggle when it was in the panel (or already lost to
    // the page), so it never drops to the top of the page with the panel's buttons.
    let close = move || {
        if !open.get_untracked() {
            return;
        }
        let active = document().active_element();
        let inside = match (&active, anchor.get_untracked()) {
            (Some(element), Some(anchor)) => anchor.contains(Some(element)),
            _ => false,
        };
        let lost =
            active.is_none() || active.as_ref().and_then(|e| e.dyn_ref::<web_sys::HtmlElement>().cloned()) == document().body();
        open.set(false);
        if inside || lost {
            if let Some(button) = toggle.get_untracked() {
                let _ = button.focus();
            }
        }
    };
    // Escape closes the panel wherever the focus is, even when a redraw elsewhere took it.
    let escape = window_event_listener(leptos::ev::keydown, move |ev| {
        if ev.key() == "Escape" {
            close();
        }
    });
    on_cleanup(move || escape.remove());
    view! {
        <div class="problems-panel__anchor" node_ref=anchor>
            <button
                type="button"
                node_ref=toggle
                class="button button--quiet problems-panel__toggle"
                aria-expanded=move || open.get().to_string()
                aria-controls="problems-panel"
                on:click=move |_| open.update(|o| *o = !*o)
            >
                {label}
            </button>
            <Show when=move || open.get()>
                <section id="problems-panel" class="problems-panel" aria-labelledby="problems-panel-title">
                    <header class="problems-panel__header">
                        <h2 id="problems-panel-title">"Problems in this session"</h2>
                        <button
                            type="button"
                            class="button button--small"
                            disabled=is_empty
                            on:click=move |_| failed.set(Vec::new())
                        >
                            "Clear"
                        </button>
                        <button type="button" class="button button--small" on:click=move |_| close()>"Close"</button>
                    </header>
                    <Show
                        when=is_empty
                        fallback=move || view! {
                            <ol class="problems-panel__list">
                                <For
                                    each=move || failed.get()
                                    key=|entry| (entry.at_ms.to_bits(), entry.error.request_id().map(str::to_owned))
                                    let:entry
                                >
                                    <ProblemEntry entry />
                                </For>
                            </ol>
                        }
                    >
                        <p class="problems-panel__empty">"No request has failed in this session."</p>
                    </Show>
                </section>
            </Show>
        </div>
    }
}

#[component]
fn ProblemEntry(entry: FailedRequest) -> impl IntoView {
    let error = entry.error;
    let status = error.status.map(|s| s.to_string()).unwrap_or_else(|| "no answer".into());
    let title = error.problem.as_ref().map(|p| p.title.clone()).unwrap_or_else(|| meaning(error.status).to_owned());
    let detail = error.problem.as_ref().and_then(|p| p.detail.clone()).unwrap_or_else(|| error.message.clone());
    let request_id = error.request_id().map(str::to_owned);
    let fields = error.problem.as_ref().map(|p| p.errors.clone()).unwrap_or_default();
    view! {
        <li class="problems-panel__entry">
            <p class="problems-panel__what">
                <time>{time::local_time_seconds(entry.at_ms)}</time>
                " "
                <code>{format!("{} {}", error.method, error.path)}</code>
            </p>
            <p class="problems-panel__answer">
                <strong>{format!("{status} · {title}")}</strong>
            </p>
            <p class="problems-panel__detail">{detail}</p>
            {(!fields.is_empty()).then(|| view! {
                <ul class="problems-panel__fields">
                    {fields.into_iter().map(|field| view! { <li><code>{field.field}</code>": "{field.message}</li> }).collect_view()}
                </ul>
            })}
            {request_id.map(|id| view! {
                <p class="problems-panel__request">
                    "Request ID " <code>{id.clone()}</code> <CopyButton value=id what="request ID" />
                </p>
            })}
        </li>
    }
}
