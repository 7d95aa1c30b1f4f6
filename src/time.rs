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

/// A wait in plain words: "45 s", "14 min 57 s", "2 min", "1 h 5 min".
pub fn wait_words(secs: u32) -> String {
    let (hours, minutes, seconds) = (secs / 3600, secs % 3600 / 60, secs % 60);
    match (hours, minutes, seconds) {
        (0, 0, s) => format!("{s} s"),
        (0, m, 0) => format!("{m} min"),
        (0, m, s) => format!("{m} min {s} s"),
        (h, 0, _) => format!("{h} h"),
        (h, m, _) => format!("{h} h {m} min"),
    }
}

/// Milliseconds since the epoch of an RFC 3339 time, if it parses.
pub fn parse(rfc3339: &str) -> Option<f64> {
    let ms = js_sys::Date::parse(rfc3339);
    (!ms.is_nan()).then_some(ms)
}

/// The time in the browser's time zone and language, e.g. "23 Nov 2026, 14:02".
pub fn local(ms: f64) -> String {
    format_with(Style::DateTime, ms)
}

/// The time of day only, e.g. "14:30".
pub fn local_time(ms: f64) -> String {
    format_with(Style::Time, ms)
}

/// The time of day with seconds, e.g. "14:02:31".
pub fn local_time_seconds(ms: f64) -> String {
    format_with(Style::TimeSeconds, ms)
}

#[derive(Clone, Copy)]
enum Style {
    DateTime,
    Time,
    TimeSeconds,
}

thread_local! {
    /// One `Intl.DateTimeFormat` per style, made once: `toLocaleString` with options builds a
    /// new formatter on every call, which costs more than drawing the row it is for.
    static FORMATS: [js_sys::Function; 3] = [Style::DateTime, Style::Time, Style::TimeSeconds].map(formatter);
}

fn formatter(style: Style) -> js_sys::Function {
    let options = js_sys::Object::new();
    let set = |key: &str, value: &str| {
        let _ = js_sys::Reflect::set(&options, &key.into(), &value.into());
    };
    match style {
        Style::DateTime => {
            set("dateStyle", "medium");
            set("timeStyle", "short");
        }
        Style::Time => set("timeStyle", "short"),
        Style::TimeSeconds => set("timeStyle", "medium"),
    }
    let locales = js_sys::Array::of1(&language().into());
    js_sys::Intl::DateTimeFormat::new(&locales, &options).format()
}

fn format_with(style: Style, ms: f64) -> String {
    FORMATS
        .with(|formats| formats[style as usize].call1(&JsValue::NULL, &JsValue::from_f64(ms)).ok().and_then(|v| v.as_string()))
        .unwrap_or_default()
}

fn language() -> String {
    web_sys::window().and_then(|w| w.navigator().language()).unwrap_or_else(|| "en".to_owned())
}

pub fn now_ms() -> f64 {
    js_sys::Date::now()
}
