//! The browser's part of a passkey: `navigator.credentials.create` and `.get` with the
//! options the server sent, in the WebAuthn standard's JSON (`parseCreationOptionsFromJSON`,
//! `parseRequestOptionsFromJSON`, `toJSON()`), so that nothing here rebuilds binary fields.
//! Reached through `Reflect`: the calls are newer than the `web-sys` bindings we build with.

use js_sys::{Function, Object, Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// Why the browser gave no passkey, in words for the person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BrowserRefused(pub String);

fn unsupported() -> BrowserRefused {
    BrowserRefused("This browser cannot use passkeys. Use a recent Chrome, Edge, Safari or Firefox.".into())
}

fn property(of: &JsValue, name: &str) -> Result<JsValue, BrowserRefused> {
    Reflect::get(of, &JsValue::from_str(name)).map_err(|_| unsupported())
}

fn function(of: &JsValue, name: &str) -> Result<Function, BrowserRefused> {
    property(of, name)?.dyn_into::<Function>().map_err(|_| unsupported())
}

/// What a `DOMException` from the browser means for the person.
fn refused(error: JsValue, creating: bool) -> BrowserRefused {
    let name = property(&error, "name").ok().and_then(|n| n.as_string()).unwrap_or_default();
    BrowserRefused(
        match name.as_str() {
            "NotAllowedError" | "AbortError" => {
                "No passkey was used: the request was cancelled or its time ran out. Try again when you are ready."
            }
            "InvalidStateError" if creating => "This key is registered already: use another one, or sign in with it.",
            "SecurityError" => {
                "The browser refused passkeys at this address. Open the portal at the address your admin gave you and try again."
            }
            "NotSupportedError" => {
                "This key or device does not support what the portal asks (a signing key with a PIN or fingerprint)."
            }
            _ => "The browser could not use a passkey. Try again, or use another way to sign in.",
        }
        .into(),
    )
}

async fn call(method: &str, parse: &str, public_key: &serde_json::Value) -> Result<serde_json::Value, BrowserRefused> {
    let window: JsValue = web_sys::window().ok_or_else(unsupported)?.into();
    let class = property(&window, "PublicKeyCredential")?;
    if class.is_undefined() {
        return Err(unsupported());
    }
    // Through serde-wasm-bindgen, not serde_json's text: its code would weigh on every visitor.
    let json = crate::api::to_js(public_key).map_err(|_| unsupported())?;
    let options = function(&class, parse)?.call1(&class, &json).map_err(|_| unsupported())?;
    let request = Object::new();
    Reflect::set(&request, &JsValue::from_str("publicKey"), &options).map_err(|_| unsupported())?;
    let credentials = property(&property(&window, "navigator")?, "credentials")?;
    let promise = function(&credentials, method)?.call1(&credentials, &request).map_err(|e| refused(e, method == "create"))?;
    let credential = JsFuture::from(Promise::from(promise)).await.map_err(|e| refused(e, method == "create"))?;
    if credential.is_null() || credential.is_undefined() {
        return Err(refused(JsValue::NULL, method == "create"));
    }
    let answer = function(&credential, "toJSON")?.call0(&credential).map_err(|_| unsupported())?;
    serde_wasm_bindgen::from_value(answer).map_err(|_| unsupported())
}

/// A new passkey: the browser asks the person for a key (and its PIN or fingerprint).
pub async fn create(public_key: &serde_json::Value) -> Result<serde_json::Value, BrowserRefused> {
    call("create", "parseCreationOptionsFromJSON", public_key).await
}

/// A signature from one of the person's passkeys.
pub async fn get(public_key: &serde_json::Value) -> Result<serde_json::Value, BrowserRefused> {
    call("get", "parseRequestOptionsFromJSON", public_key).await
}

/// Whether this page is where the server's passkeys work (`origin`, from its options): a
/// browser refuses a passkey for another host name, so the person is sent there first.
pub fn elsewhere(origin: &str) -> Option<String> {
    let here = web_sys::window()?.location().origin().ok()?;
    (here != origin).then(|| origin.to_owned())
}
