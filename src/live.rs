//! Live updates: the signed-in portal keeps one server-sent-events stream open
//! (`/api/events`). Each job change bumps `tick`; lists that read `tick` fetch again. When the
//! stream is down (the browser reconnects by itself, resuming with `Last-Event-ID`), lists are
//! refreshed by polling instead.

use std::time::Duration;

use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;

#[derive(Clone, Copy)]
pub struct Live {
    /// Changes seen so far; read it in a resource to fetch again on every change.
    pub tick: RwSignal<u64>,
    /// Whether the stream is open right now.
    pub connected: RwSignal<bool>,
}

/// Polling period while the stream is down.
const POLL: Duration = Duration::from_secs(4);
/// While the stream is up, lists still refresh this often (relative times move on).
const CALM_EVERY: u32 = 8;
/// Changes arriving together make one refresh.
const GATHER: Duration = Duration::from_millis(200);

impl Live {
    /// Opens the stream for as long as the calling component is mounted.
    pub fn start() -> Live {
        let live = Live { tick: RwSignal::new(0), connected: RwSignal::new(false) };
        let gathering = RwSignal::new(false);
        let bump = move || live.tick.update(|t| *t += 1);

        if let Ok(source) = web_sys::EventSource::new("/api/events") {
            let on_change = Closure::<dyn Fn(web_sys::MessageEvent)>::new(move |_| {
                if !gathering.get_untracked() {
                    gathering.set(true);
                    set_timeout(
                        move || {
                            gathering.set(false);
                            bump();
                        },
                        GATHER,
                    );
                }
            });
            let on_open = Closure::<dyn Fn()>::new(move || {
                live.connected.set(true);
                // Anything missed while the stream was down.
                bump();
            });
            let on_error = Closure::<dyn Fn()>::new(move || live.connected.set(false));
            let _ = source.add_event_listener_with_callback("job", on_change.as_ref().unchecked_ref());
            source.set_onopen(Some(on_open.as_ref().unchecked_ref()));
            source.set_onerror(Some(on_error.as_ref().unchecked_ref()));
            // The handlers live as long as the stream; the stream closes with the component.
            on_change.forget();
            on_open.forget();
            on_error.forget();
            let source = StoredValue::new_local(source);
            on_cleanup(move || source.with_value(|s| s.close()));
        }

        let beats = std::cell::Cell::new(0_u32);
        if let Ok(handle) = set_interval_with_handle(
            move || {
                beats.set(beats.get().wrapping_add(1));
                if !live.connected.get_untracked() || beats.get().is_multiple_of(CALM_EVERY) {
                    bump();
                }
            },
            POLL,
        ) {
            on_cleanup(move || handle.clear());
        }
        live
    }

    /// "Live" or how the page is kept fresh while the stream is down.
    pub fn describe(&self) -> &'static str {
        if self.connected.get() {
            "Live"
        } else {
            "Live updates paused: checking every 4 s"
        }
    }
}
