//! After each navigation the page's title names it, and the focus moves to its heading: a
//! keyboard or screen-reader user hears where they are and goes on from there, instead of from
//! the top of the document. The first page of a visit keeps the browser's own focus.
//!
//! Pages draw late (their code is fetched when first opened, their data after that) and may
//! draw their heading again (after the session is read again): so the document is watched, and
//! whenever its `h1` is new the title follows it, and the focus goes to it if a navigation is
//! waiting for it or if the heading that had the focus was taken away.

use leptos::prelude::*;
use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlElement, MutationObserver, MutationObserverInit};

const SITE: &str = "Backup Portal";

#[derive(Default)]
struct Watch {
    /// The heading taken as the page's (its text too: pages of one kind share their element),
    /// and the path it was taken for.
    page: Option<(String, Element, String)>,
    /// What the title was last set from.
    named: Option<(Element, String)>,
    /// The heading the focus was last moved to.
    focused: Option<Element>,
}

#[component]
pub fn RouteFocus() -> impl IntoView {
    let watch = StoredValue::new_local(Watch::default());
    let on_change = Closure::<dyn FnMut()>::new(move || look(watch));
    if let Ok(observer) = MutationObserver::new(on_change.as_ref().unchecked_ref()) {
        let options = MutationObserverInit::new();
        options.set_child_list(true);
        options.set_subtree(true);
        options.set_character_data(true);
        let _ = observer.observe_with_options(&document().body().expect("the page has a body").into(), &options);
        // Browser objects stay on the page's one thread.
        let held = send_wrapper::SendWrapper::new((observer, on_change));
        on_cleanup(move || held.take().0.disconnect());
    }
    look(watch);
}

/// The page's heading: its first `h1`.
fn heading() -> Option<Element> {
    document().query_selector("h1").ok().flatten()
}

fn look(watch: StoredValue<Watch, LocalStorage>) {
    let Some(current) = heading() else { return };
    let path = window().location().pathname().unwrap_or_default();
    let text = current.text_content().unwrap_or_default().split_whitespace().collect::<Vec<_>>().join(" ");
    watch.update_value(|w| {
        let focus = match &w.page {
            // The first page of a visit: the browser's own focus stays.
            None => false,
            // The same page drew its heading again: the focus follows if it was on the old one,
            // put there by us, and lost with it (it is then on no element).
            Some((page_path, taken, _)) if *page_path == path => {
                *taken != current && w.focused.as_ref() == Some(taken) && !taken.is_connected() && focus_is_nowhere()
            }
            // A new path (a filter or a search changes only the query), but the page being left
            // is still on screen (the new one's code or data is on its way): wait for it.
            Some((_, leaving, leaving_text)) if *leaving == current && *leaving_text == text => return,
            Some(_) => true,
        };
        w.page = Some((path, current.clone(), text.clone()));
        if w.named.as_ref() != Some(&(current.clone(), text.clone())) {
            document().set_title(&if text.is_empty() { SITE.to_owned() } else { format!("{text} · {SITE}") });
            w.named = Some((current.clone(), text));
        }
        if focus {
            if let Ok(current) = current.dyn_into::<HtmlElement>() {
                // Focusable by script only: not a stop when tabbing through the page.
                if !current.has_attribute("tabindex") {
                    let _ = current.set_attribute("tabindex", "-1");
                }
                // On the next frame: the router may still move the new page into place in this
                // task, and moving a focused element takes its focus away.
                // Not if the focus was put somewhere meanwhile (a field the person went to).
                let before = document().active_element();
                w.focused = Some(current.clone().into());
                request_animation_frame(move || {
                    if current.is_connected() && (document().active_element() == before || focus_is_nowhere()) {
                        let _ = current.focus();
                    }
                });
            }
        }
    });
}

/// The focus is on no element of the page (its element was taken away).
fn focus_is_nowhere() -> bool {
    let document = document();
    match document.active_element() {
        None => true,
        Some(active) => document.body().is_some_and(|body| active == *body.unchecked_ref::<Element>()),
    }
}
