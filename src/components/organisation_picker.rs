//! Choosing which organisation an Account Settings page shows (resellers serve several; an
//! admin has one, and sees no choice). The choice lives in the address (`?organisation=ID`).

use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_query_map};
use portal_api::OrganisationSummary;

use crate::api::{self, ApiError};

/// The organisations the user manages, and the one the page shows: the one in the address,
/// else the first.
#[derive(Clone, Copy)]
pub struct ChosenOrganisation {
    pub list: LocalResource<Result<Vec<OrganisationSummary>, ApiError>>,
    pub id: Signal<Option<i64>>,
}

impl ChosenOrganisation {
    // No `Default`: it reads the router's query, so it is made in a page, by name.
    #[allow(clippy::new_without_default)]
    pub fn new() -> ChosenOrganisation {
        let query = use_query_map();
        let list = LocalResource::new(api::organisations);
        let chosen = Memo::new(move |_| query.read().get("organisation").and_then(|id| id.parse::<i64>().ok()));
        let id = Signal::derive(move || {
            chosen.get().or_else(|| list.get().and_then(Result::ok).and_then(|list| list.first().map(|o| o.id)))
        });
        ChosenOrganisation { list, id }
    }
}

/// The select, shown when there is more than one to choose from. `path` is the page's own
/// address; `describe` names an organisation in the list; `on_change` runs before the move.
#[component]
pub fn OrganisationPicker(
    chosen: ChosenOrganisation,
    path: &'static str,
    #[prop(into)] id: String,
    describe: fn(&OrganisationSummary) -> String,
    #[prop(optional)] on_change: Option<Callback<()>>,
) -> impl IntoView {
    let navigate = use_navigate();
    let on_choose = move |ev: leptos::ev::Event| {
        if let Some(on_change) = on_change {
            on_change.run(());
        }
        navigate(&format!("{path}?organisation={}", event_target_value(&ev)), Default::default());
    };
    move || {
        chosen.list.get().and_then(Result::ok).filter(|list| list.len() > 1).map(|list| {
            let on_choose = on_choose.clone();
            let id = id.clone();
            view! {
                <div class="field organisation-picker">
                    <label for=id.clone()>"Organisation"</label>
                    <select id=id on:change=on_choose prop:value=move || chosen.id.get().map(|id| id.to_string()).unwrap_or_default()>
                        {list.iter().map(|o| view! { <option value=o.id.to_string()>{describe(o)}</option> }).collect_view()}
                    </select>
                </div>
            }
        })
    }
}
