//! `GET /api/Client` and `GET /api/Client/{id}`: the clients (customers) of the configuration,
//! which tickets are filed under.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};

use crate::access::{require, READ_CUSTOMERS};
use crate::respond::{json, Refused};
use crate::Halo;

pub(crate) async fn list(State(halo): State<Halo>, headers: HeaderMap) -> Result<Response, Refused> {
    require(&halo, &headers, READ_CUSTOMERS)?;
    let clients: Vec<Value> = halo.config().clients.iter().map(|(id, name)| client(*id, name)).collect();
    Ok(json(StatusCode::OK, &json!({ "record_count": clients.len(), "clients": clients })))
}

pub(crate) async fn one(State(halo): State<Halo>, headers: HeaderMap, Path(id): Path<String>) -> Result<Response, Refused> {
    require(&halo, &headers, READ_CUSTOMERS)?;
    let shown: String = id.chars().take(100).collect();
    match id.parse::<i64>().ok().and_then(|id| client_name(&halo, id).map(|name| (id, name))) {
        Some((id, name)) => Ok(json(StatusCode::OK, &client(id, name))),
        None => Err(Refused::Message(StatusCode::NOT_FOUND, format!("Client {shown} was not found."))),
    }
}

/// The name of a client of the configuration.
pub(crate) fn client_name(halo: &Halo, id: i64) -> Option<&str> {
    halo.config().clients.iter().find(|(known, _)| *known == id).map(|(_, name)| name.as_str())
}

fn client(id: i64, name: &str) -> Value {
    json!({ "id": id, "name": name })
}

#[cfg(test)]
mod tests {
    use axum::http::StatusCode;
    use serde_json::json;

    use crate::testing::{call, demo, token};

    #[tokio::test]
    async fn a_client_is_found_by_id() {
        let halo = demo();
        let token = token(&halo).await;
        let (status, _, body) = call(&halo, "GET", "/api/Client/1", Some(&token), "").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, json!({"id": 1, "name": "Contoso Ltd"}));

        let (status, _, body) = call(&halo, "GET", "/api/Client/7", Some(&token), "").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(body["message"], "Client 7 was not found.");

        let (_, _, body) = call(&halo, "GET", "/api/Client", Some(&token), "").await;
        assert_eq!(body["record_count"], 3);
    }
}
