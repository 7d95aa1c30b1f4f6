//! Where the focus goes when what had it goes away (a removed connection, a deleted webhook,
//! a delivery whose Send again is done): somewhere near, never the top of the page.

use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// Focuses the element with this ID once the view has drawn the change that asked for it.
pub fn focus_soon(id: impl Into<String>) {
    let id = id.into();
    // On the next frame: Leptos draws a change after the task that made it.
    request_animation_frame(move || {
        focus_now(&id);
    });
}

/// Focuses the first of these elements that is on the page once the view has drawn: the one
/// asked for, then the ones near it should it be missing.
pub fn focus_first_soon(ids: Vec<String>) {
    request_animation_frame(move || {
        let _ = ids.iter().any(|id| focus_now(id));
    });
}

/// Focuses `id` on the next frame only if the focus was lost meanwhile (its element redrawn
/// or taken away): a refresh never takes the focus from where the person put it.
pub fn rescue_focus(id: impl Into<String>) {
    let id = id.into();
    request_animation_frame(move || {
        if focus_is_nowhere() {
            focus_now(&id);
        }
    });
}

/// Whether there was an element with this ID to focus.
fn focus_now(id: &str) -> bool {
    match document().get_element_by_id(id).and_then(|e| e.dyn_into::<web_sys::HtmlElement>().ok()) {
        Some(element) => element.focus().is_ok(),
        None => false,
    }
}

/// The focus is on no element (the one that had it was taken away).
fn focus_is_nowhere() -> bool {
    let document = document();
    match document.active_element() {
        None => true,
        Some(active) => document.body().is_some_and(|body| active == *body.unchecked_ref::<web_sys::Element>()),
    }
}
