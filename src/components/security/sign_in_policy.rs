//! Sign-in rules, for admins and resellers: whether everyone who signs in to an organisation
//! must give a code from an authenticator app after the password; for a reseller also the rule
//! over its own users and every organisation it serves. A change is saved at once and said by
//! its box; one the server refuses goes back, with why.

use leptos::prelude::*;
use portal_api::{OrganisationSummary, SignInPolicy, SignInPolicyInput};

use crate::access::sets_reseller_rules;
use crate::api::{self, ApiError};
use crate::components::error_notice::{ErrorList, ErrorNotice};
use crate::components::organisation_picker::{ChosenOrganisation, OrganisationPicker};
use crate::components::security::sso_rule::SsoRule;
use crate::paths;
use crate::session::Session;

fn name_only(organisation: &OrganisationSummary) -> String {
    organisation.name.clone()
}

/// Whose rule a box sets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// The reseller's own: its users and all its organisations.
    Reseller,
    Organisation(i64),
}

#[component]
pub fn SignInRules() -> impl IntoView {
    let session = expect_context::<Session>();
    let reseller = Memo::new(move |_| session.role().is_some_and(sets_reseller_rules));
    let chosen = ChosenOrganisation::new();
    let reseller_rule = LocalResource::new(move || {
        let reseller = reseller.get();
        async move {
            match reseller {
                true => api::reseller_sign_in_policy().await.map(Some),
                false => Ok(None),
            }
        }
    });
    let organisation_rule = LocalResource::new(move || {
        let id = chosen.id.get();
        async move {
            match id {
                Some(id) => api::sign_in_policy(id).await.map(|policy| Some((id, policy))),
                None => Ok(None),
            }
        }
    });
    // The reseller's rule decides whether each organisation's can be turned off: read it again.
    let reseller_saved = Callback::new(move |_: ()| organisation_rule.refetch());
    let organisation_name = move |id: i64| {
        chosen.list.get().and_then(Result::ok).and_then(|list| list.into_iter().find(|o| o.id == id)).map(|o| o.name)
    };

    view! {
        <section class="sign-in-rules" aria-labelledby="sign-in-rules-title">
            <h2 id="sign-in-rules-title">"Sign-in rules"</h2>
            <p class="sign-in-rules__lead">
                "With two-factor sign-in required, everyone signs in with their password and then a code from an authenticator app. Whoever has no app set up yet is asked to set one up at their next sign-in, and can use nothing else until they have."
            </p>
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading your sign-in rule…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move {
                        reseller_rule.await.map(|found| found.map(|policy| view! {
                            <RuleBox
                                rule=Rule::Reseller
                                policy
                                label="Require two-factor sign-in for your reseller account and all your organisations".to_owned()
                                on_saved=reseller_saved
                            />
                        }))
                    })}
                </ErrorBoundary>
            </Transition>
            <OrganisationPicker chosen path=paths::SECURITY id="sign-in-rules-organisation" describe=name_only />
            <Transition fallback=|| view! { <p class="loading" role="status">"Loading the organisation's sign-in rule…"</p> }>
                <ErrorBoundary fallback=|errors| view! { <ErrorList errors /> }>
                    {move || Suspend::new(async move {
                        organisation_rule.await.map(|found| match found {
                            Some((id, policy)) => {
                                let label = match organisation_name(id) {
                                    Some(name) => format!("Require two-factor sign-in for {name}"),
                                    None => "Require two-factor sign-in for this organisation".to_owned(),
                                };
                                let name = organisation_name(id).unwrap_or_else(|| "this organisation".to_owned());
                                view! {
                                    <RuleBox rule=Rule::Organisation(id) policy=policy.clone() label by_own_rule=reseller.get_untracked() />
                                    <SsoRule organisation_id=id policy name />
                                }.into_any()
                            }
                            None => view! { <p class="empty-state">"You do not manage any organisation."</p> }.into_any(),
                        })
                    })}
                </ErrorBoundary>
            </Transition>
        </section>
    }
}

/// One rule's box: checked when a second factor is required. An organisation whose reseller
/// requires it shows it checked and fixed, and why. `by_own_rule`: the person is that reseller.
#[component]
fn RuleBox(
    rule: Rule,
    policy: SignInPolicy,
    label: String,
    #[prop(optional)] by_own_rule: bool,
    #[prop(optional)] on_saved: Option<Callback<()>>,
) -> impl IntoView {
    let current = RwSignal::new(policy);
    let save = Action::new_local(move |wanted: &bool| {
        // Only this rule: whatever else the input may carry is left as it is.
        let input = SignInPolicyInput { require_two_factor: Some(*wanted), ..Default::default() };
        async move {
            let saved = match rule {
                Rule::Reseller => api::save_reseller_sign_in_policy(&input).await,
                Rule::Organisation(id) => api::save_sign_in_policy(id, &input).await,
            }?;
            current.set(saved);
            if let Some(on_saved) = on_saved {
                on_saved.run(());
            }
            Ok::<(), ApiError>(())
        }
    });
    let fixed = move || current.with(|p| p.required_by_reseller);
    // As asked while saving; then as saved (a refused change goes back).
    let required = move || match (save.pending().get(), save.input().get()) {
        (true, Some(wanted)) => wanted,
        _ => current.with(|p| p.require_two_factor || p.required_by_reseller),
    };
    let id = match rule {
        Rule::Reseller => "sign-in-rule-reseller".to_owned(),
        Rule::Organisation(id) => format!("sign-in-rule-{id}"),
    };
    let state_id = format!("{id}-state");
    // The refused change was the other way from what is saved.
    let again = Callback::new(move |_: ()| {
        save.dispatch(!current.with_untracked(|p| p.require_two_factor));
    });
    let state = move || match (save.pending().get(), required(), fixed()) {
        (true, true, _) => "Turning on…",
        (true, false, _) => "Turning off…",
        (false, _, true) if by_own_rule => "Required already by your rule for all your organisations, above.",
        (false, _, true) => "Your reseller requires it for all its organisations, so it stays on.",
        (false, true, false) => "On: everyone signs in with a code from an authenticator app.",
        (false, false, false) => "Off: each person chooses whether to set up an authenticator app.",
    };

    view! {
        <div class="sign-in-rules__rule">
            <div class="sign-in-rules__choice">
                <input
                    type="checkbox"
                    id=id.clone()
                    prop:checked=required
                    disabled=fixed
                    aria-describedby=state_id.clone()
                    on:change=move |ev| {
                        // One change at a time: the box shows the one on its way.
                        if save.pending().get_untracked() {
                            event_target::<leptos::web_sys::HtmlInputElement>(&ev).set_checked(untrack(required));
                        } else {
                            save.dispatch(event_target_checked(&ev));
                        }
                    }
                />
                <label for=id>{label}</label>
            </div>
            <p class="sign-in-rules__state" id=state_id aria-live="polite">{state}</p>
            {move || save.value().get().and_then(Result::err).map(|error| view! { <ErrorNotice error retry=again /> })}
        </div>
    }
}
