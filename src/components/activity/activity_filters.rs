//! The Activity page's filters: what was done (every action the log knows) and a text search.
//! Choosing an action, or searching, changes the address; the list follows it.

use leptos::prelude::*;
use leptos_router::hooks::use_navigate;
use portal_api::{ActivityAction, ActivityQuery};

use crate::api;
use crate::components::activity::filter;

/// `errors`: the server's message for each filter it refused (`action`, `q`), shown on it.
#[component]
pub fn ActivityFilters(filter: Memo<ActivityQuery>, errors: Signal<Option<api::ApiError>, LocalStorage>) -> impl IntoView {
    let navigate = use_navigate();
    let field = move |name: &'static str| move || errors.get().and_then(|e| e.field_error(name));
    let (action_error, search_error) = (field("action"), field("q"));
    // The search box shows the address's text after each change of it, and is edited freely
    // in between: what it holds is read when the filter is applied.
    let search = NodeRef::<leptos::html::Input>::new();
    let typed = move || search.get_untracked().map(|input| input.value().trim().to_owned()).filter(|q| !q.is_empty());
    let go = move |action: Option<String>| {
        let next = ActivityQuery { action, q: typed(), ..ActivityQuery::default() };
        navigate(&filter::href(&next), Default::default());
    };
    let go_search = go.clone();
    let on_submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        go_search(filter.get_untracked().action);
    };
    let on_action = move |ev: leptos::ev::Event| go(Some(event_target_value(&ev)).filter(|a| !a.is_empty()));
    let chosen = move || filter.with(|f| f.action.clone().unwrap_or_default());
    let actions = ActivityAction::ALL
        .into_iter()
        .map(|action| {
            view! {
                <option value=action.as_str() selected=move || chosen() == action.as_str()>
                    {action.label()}
                </option>
            }
        })
        .collect_view();

    view! {
        <form class="filters activity-filters" role="search" on:submit=on_submit>
            <div class="filters__field">
                <label for="activity-action">"What was done"</label>
                <select
                    id="activity-action"
                    aria-describedby="activity-action-error"
                    aria-invalid=move || action_error().is_some().to_string()
                    prop:value=chosen
                    on:change=on_action
                >
                    <option value="">"Every action"</option>
                    {actions}
                </select>
                <p class="field__error" id="activity-action-error">{action_error}</p>
            </div>
            <div class="filters__field">
                <label for="activity-search">"Search"</label>
                <input
                    id="activity-search"
                    type="search"
                    placeholder="Person, token or object"
                    aria-describedby="activity-search-error"
                    aria-invalid=move || search_error().is_some().to_string()
                    node_ref=search
                    prop:value=move || filter.with(|f| f.q.clone().unwrap_or_default())
                />
                <p class="field__error" id="activity-search-error">{search_error}</p>
            </div>
            <button type="submit" class="button">"Search"</button>
        </form>
    }
}
