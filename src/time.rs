//! Times as people read them: local date and time, and how long ago or until.

use wasm_bindgen::JsValue;

/// "just now", "12 min ago", "in 3 h", "2 d ago" for a difference in milliseconds
/// (positive: in the future).
pub fn relative(delta_ms: f64) -> String {
    let minutes = (delta_ms.abs() / 60_000.0).round() as i64;
    let amount = match minutes {
        0 => return "just now".to_owned(),
        1..=59 => format!("{minutes} min"),
        60..=2879 => format!("{} h", (minutes as f64 / 60.0).round() as i64),
        _ => format!("{} d", (minutes as f64 / 1440.0).round() as i64),
    };
    if delta_ms > 0.0 {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// Milliseconds since the epoch of an RFC 3339 time, if it parses.
pub fn parse(rfc3339: &str) -> Option<f64> {
    let ms = js_sys::Date::parse(rfc3339);
    (!ms.is_nan()).then_some(ms)
}

/// The time in the browser's time zone and language, e.g. "23 Nov 2026, 14:02".
pub fn local(ms: f64) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(ms));
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"dateStyle".into(), &"medium".into());
    let _ = js_sys::Reflect::set(&options, &"timeStyle".into(), &"short".into());
    date.to_locale_string(&language(), &options).into()
}

/// The time of day only, e.g. "14:30".
pub fn local_time(ms: f64) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(ms));
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"timeStyle".into(), &"short".into());
    date.to_locale_time_string_with_options(&language(), &options).into()
}

/// The time of day with seconds, e.g. "14:02:31".
pub fn local_time_seconds(ms: f64) -> String {
    let date = js_sys::Date::new(&JsValue::from_f64(ms));
    let options = js_sys::Object::new();
    let _ = js_sys::Reflect::set(&options, &"timeStyle".into(), &"medium".into());
    date.to_locale_time_string_with_options(&language(), &options).into()
}

fn language() -> String {
    web_sys::window().and_then(|w| w.navigator().language()).unwrap_or_else(|| "en".to_owned())
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}
