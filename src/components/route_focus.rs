//! After each navigation the page's title names it, and the focus moves to its heading: a
//! keyboard or screen-reader user hears where they are and goes on from there, instead of
//! from the top of the document. The first page of a visit keeps the browser's own focus.

use leptos::prelude::*;
use leptos_router::hooks::use_location;
use wasm_bindgen::JsCast;

/// How often to look for the new page's heading (it may wait for the session): every 100 ms.
const LOOKS: u32 = 30;

#[component]
pub fn RouteFocus() -> impl IntoView {
    let location = use_location();
    let first = StoredValue::new(true);
    Effect::new(move |_| {
        // A new path is a new page; a new query (a filter, a search) is not.
        location.pathname.track();
        let move_focus = !first.get_value();
        first.set_value(false);
        name_and_focus(move_focus, LOOKS);
    });
}

/// Names the page after its `h1` and, after a navigation, focuses it (else `main`), once drawn.
fn name_and_focus(move_focus: bool, looks_left: u32) {
    let document = document();
    let Some(heading) = document.query_selector("main h1").ok().flatten() else {
        if looks_left > 0 {
            set_timeout(move || name_and_focus(move_focus, looks_left - 1), std::time::Duration::from_millis(100));
        }
        return;
    };
    let name = heading.text_content().unwrap_or_default();
    document.set_title(&format!("{} · Backup Portal", name.trim()));
    if move_focus {
        if let Ok(heading) = heading.dyn_into::<web_sys::HtmlElement>() {
            // Focusable by script only: not a stop when tabbing through the page.
            if !heading.has_attribute("tabindex") {
                let _ = heading.set_attribute("tabindex", "-1");
            }
            let _ = heading.focus();
        }
    }
}
