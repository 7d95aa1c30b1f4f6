//! The embedded identity provider's device-code flow, refresh tokens and consent, as an OAuth
//! client sees them: the real app on a loopback port, over real HTTP (reqwest, redirects not
//! followed). The provider's state is one per process; only
//! `consent_can_be_revoked_and_granted_again` touches Delta Foods.

mod common;

use common::idp::*;

#[tokio::test]
async fn device_flow_pending_then_approved_then_tokens_once() {
    let idp = start_with(|config| config.idp_device_interval_seconds = 1).await;
    let device = idp.device_code(ACME).await;
    let user_code = device["user_code"].as_str().unwrap();
    let device_code = device["device_code"].as_str().unwrap();
    assert_eq!(device["verification_uri"], idp.url("/idp/device"));
    assert_eq!(device["expires_in"], 900);
    assert_eq!(device["interval"], 1);
    assert!(device["message"].as_str().unwrap().contains(user_code));
    assert_eq!(user_code.len(), 9);
    assert_eq!(&user_code[4..5], "-");
    assert!(device_code.len() >= 40);

    let (error, _) = oauth_error(idp.poll(ACME, device_code).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "authorization_pending");

    let page = html(idp.http.get(idp.url("/idp/device")).send().await.unwrap(), StatusCode::OK).await;
    assert!(page.contains("Enter the code shown in Backup Portal") && page.contains("<label for=\"code\">Code</label>"));
    let page = idp.device_page(&[("code", "BBBB-BBBB")]).await;
    assert!(page.contains("do not recognise this code"), "{page}");

    // Lower case, no dash.
    let typed = user_code.replace('-', "").to_lowercase();
    let page = idp.device_page(&[("code", &typed)]).await;
    assert!(page.contains("Acme Legal") && page.contains("Backup Portal") && page.contains("Approve"), "{page}");

    for (email, message) in [
        (user("helpdesk", ACME), "does not have the role"),
        (user("backup.admin", BLUEBIRD), "belongs to another organisation"),
        (user("former.admin", ACME), "locked"),
    ] {
        let page = idp
            .device_page(&[("code", user_code), ("email", &email), ("password", DEMO_IDP_PASSWORD), ("decision", "approve")])
            .await;
        assert!(page.contains(message), "{email}: {page}");
    }
    let page = idp
        .device_page(&[
            ("code", user_code),
            ("email", &user("backup.admin", ACME)),
            ("password", DEMO_IDP_PASSWORD),
            ("decision", "approve"),
        ])
        .await;
    assert!(page.contains("You can close this page and return to Backup Portal"), "{page}");

    tokio::time::sleep(Duration::from_millis(1100)).await;
    let body = tokens(idp.poll(ACME, device_code).await).await;
    assert_eq!(idp.tenant_of(body["access_token"].as_str().unwrap()).await, tenant_id_for_domain(ACME).unwrap());

    // Single use; and the code cannot be entered again.
    let (error, _) = oauth_error(idp.poll(ACME, device_code).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "invalid_grant");
    let page = idp.device_page(&[("code", user_code)]).await;
    assert!(page.contains("already been used"), "{page}");
}

#[tokio::test]
async fn device_flow_denied() {
    let idp = start_with(|config| config.idp_device_interval_seconds = 1).await;
    let device = idp.device_code(BLUEBIRD).await;
    let page = idp.device_page(&[("code", device["user_code"].as_str().unwrap()), ("decision", "deny")]).await;
    assert!(page.contains("Access was denied"), "{page}");
    let (error, _) =
        oauth_error(idp.poll(BLUEBIRD, device["device_code"].as_str().unwrap()).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "access_denied");
}

#[tokio::test]
async fn device_codes_expire() {
    let idp = start_with(|config| config.idp_device_code_seconds = 1).await;
    let device = idp.device_code(ACME).await;
    assert_eq!(device["expires_in"], 1);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let (error, _) = oauth_error(idp.poll(ACME, device["device_code"].as_str().unwrap()).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "expired_token");
    let page = idp.device_page(&[("code", device["user_code"].as_str().unwrap())]).await;
    assert!(page.to_lowercase().contains("this code has expired; ask for a new one"), "{page}");
}

#[tokio::test]
async fn polling_too_early_slows_down_and_the_interval_grows() {
    let idp = start_with(|config| config.idp_device_interval_seconds = 1).await;
    let device = idp.device_code(ACME).await;
    let device_code = device["device_code"].as_str().unwrap();
    assert_eq!(oauth_error(idp.poll(ACME, device_code).await, StatusCode::BAD_REQUEST).await.0, "authorization_pending");
    let (error, description) = oauth_error(idp.poll(ACME, device_code).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "slow_down");
    assert!(description.contains("6 seconds"), "{description}");
    // The interval is now 6 s: a poll after 1 s is still too early.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(oauth_error(idp.poll(ACME, device_code).await, StatusCode::BAD_REQUEST).await.0, "slow_down");
}

#[tokio::test]
async fn a_busy_provider_slows_down_the_first_poll() {
    let idp = start_with(|config| config.idp_device_interval_seconds = 1).await;
    let device = idp.device_code(CEDAR).await;
    let device_code = device["device_code"].as_str().unwrap();
    let (error, description) = oauth_error(idp.poll(CEDAR, device_code).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "slow_down");
    assert!(description.contains("6 seconds"), "{description}");
    // Waiting the grown interval (1 + 5 s) from that poll is enough.
    tokio::time::sleep(Duration::from_millis(6100)).await;
    assert_eq!(oauth_error(idp.poll(CEDAR, device_code).await, StatusCode::BAD_REQUEST).await.0, "authorization_pending");

    // Another tenant's first poll is not slowed down.
    let device = idp.device_code(BLUEBIRD).await;
    let device_code = device["device_code"].as_str().unwrap();
    assert_eq!(oauth_error(idp.poll(BLUEBIRD, device_code).await, StatusCode::BAD_REQUEST).await.0, "authorization_pending");
}

#[tokio::test]
async fn refresh_tokens_give_new_tokens() {
    let idp = start().await;
    let first = tokens(idp.password_grant(BLUEBIRD, &user("backup.admin", BLUEBIRD), DEMO_IDP_PASSWORD).await).await;
    let refresh_token = first["refresh_token"].as_str().unwrap();
    let second = tokens(idp.token(BLUEBIRD, &[("grant_type", "refresh_token"), ("refresh_token", refresh_token)]).await).await;
    assert_ne!(second["access_token"], first["access_token"]);
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_eq!(idp.tenant_of(second["access_token"].as_str().unwrap()).await, tenant_id_for_domain(BLUEBIRD).unwrap());
    // The new refresh token works too.
    tokens(
        idp.token(
            "organizations",
            &[("grant_type", "refresh_token"), ("refresh_token", second["refresh_token"].as_str().unwrap())],
        )
        .await,
    )
    .await;

    let (error, description) = oauth_error(
        idp.token(BLUEBIRD, &[("grant_type", "refresh_token"), ("refresh_token", "made-up")]).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "invalid_grant");
    assert!(description.starts_with("AADSTS700082:"), "{description}");
}

#[tokio::test]
async fn consent_can_be_revoked_and_granted_again() {
    let idp = start().await;
    let delta = tenant_id_for_domain(DELTA).unwrap();
    let body = tokens(idp.password_grant(DELTA, &user("backup.admin", DELTA), DEMO_IDP_PASSWORD).await).await;
    let refresh = [("grant_type", "refresh_token"), ("refresh_token", body["refresh_token"].as_str().unwrap())];
    tokens(idp.token(DELTA, &refresh).await).await;

    assert!(idp::revoke_consent(delta));
    assert!(!idp::consent_granted(delta));
    let (error, description) = oauth_error(idp.token(DELTA, &refresh).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "invalid_grant");
    assert!(description.starts_with("AADSTS65001:"), "{description}");
    assert_eq!(idp.organization(body["access_token"].as_str().unwrap()).await.status(), StatusCode::UNAUTHORIZED);
    let (_, description) =
        oauth_error(idp.password_grant(DELTA, &user("backup.admin", DELTA), DEMO_IDP_PASSWORD).await, StatusCode::BAD_REQUEST)
            .await;
    assert!(description.starts_with("AADSTS65001:"), "{description}");

    // A global administrator's consent mends it.
    let (verifier, challenge) = pkce();
    let code = idp.code_for(DELTA, &user("global.admin", DELTA), &challenge).await;
    assert!(idp::consent_granted(delta));
    let redirect_uri = idp.redirect_uri();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    tokens(idp.token(DELTA, &exchange).await).await;
    tokens(idp.token(DELTA, &refresh).await).await;
    assert!(!idp::revoke_consent("northwind.example"));
}
