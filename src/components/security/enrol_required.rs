//! What a person whose organisation requires two-factor sign-in, and who has not set it up,
//! reads first: why the rest of the portal is closed to them, and what opens it.

use leptos::prelude::*;

#[component]
pub fn EnrolRequired() -> impl IntoView {
    view! {
        <div class="enrol-required" role="note" aria-labelledby="enrol-required-title">
            <h2 id="enrol-required-title" class="enrol-required__title">
                "Your organisation requires two-factor sign-in: set up an authenticator app or add a passkey to continue"
            </h2>
            <p>
                "Until you do, the rest of the portal stays closed to you. It takes a minute: scan a QR code with an authenticator app on your phone and type the code it shows, or add a passkey (your device's fingerprint, face or PIN, or a security key). After that, signing in asks for it after your password."
            </p>
            <p>"You can still sign out, and see where you are signed in."</p>
        </div>
    }
}
