//! Account Settings › Security, for everyone signed in: two-factor sign-in (an authenticator
//! app and its recovery codes, passkeys), where the person is signed in, their password; and for admins
//! and resellers the sign-in rules. A person whose organisation requires two-factor sign-in
//! and who has not set it up is kept here (the shell sends them) until they have.

use leptos::prelude::*;
use portal_api::Action;

use crate::api;
use crate::components::security::enrol_required::EnrolRequired;
use crate::components::security::passkeys::PasskeysSection;
use crate::components::security::password_form::PasswordForm;
use crate::components::security::sessions_list::SessionsList;
use crate::components::security::sign_in_policy::SignInRules;
use crate::components::security::two_factor::TwoFactorSection;
use crate::session::Session;

#[component]
pub fn SecurityPage() -> impl IntoView {
    let session = expect_context::<Session>();
    // The shell draws pages only once the session is known: read once, as the shell did.
    let enrolling = session.0.get_untracked().and_then(Result::ok).is_some_and(|user| user.must_enrol_two_factor);
    let sets_rules = move || !enrolling && session.may(Action::ManageSignInPolicy);
    let sessions = LocalResource::new(api::account_sessions);
    let on_password_changed = Callback::new(move |_: ()| sessions.refetch());

    view! {
        <section class="security" aria-labelledby="security-title">
            <header class="page-header">
                <p class="page-header__trail">"Account Settings"</p>
                <h1 id="security-title">"Security"</h1>
                <p class="page-header__lead">
                    "How you sign in: a code from your phone or a passkey after your password, where you are signed in now, and your password."
                </p>
            </header>
            {enrolling.then(|| view! { <EnrolRequired /> })}
            <TwoFactorSection enrolling />
            <PasskeysSection enrolling />
            <SessionsList read=sessions />
            // Refused until a second factor is set up: offered from then on.
            {(!enrolling).then(|| view! { <PasswordForm on_changed=on_password_changed /> })}
            <Show when=sets_rules>
                <SignInRules />
            </Show>
        </section>
    }
}
