//! The embedded identity provider as an OAuth client sees it: the real app on a loopback port,
//! over real HTTP (reqwest, redirects not followed).
//!
//! The identity provider's state is one per process, shared by these tests: each test uses its
//! own codes and tokens, and only `consent_can_be_revoked_and_granted_again` touches Delta Foods.

mod common;

use common::idp::*;

#[tokio::test]
async fn authorization_code_with_pkce_from_consent_to_tokens() {
    let idp = start().await;
    let (verifier, challenge) = pkce();
    let (request, page) = idp.consent_page(ACME, &challenge, "xyz").await;
    assert!(page.contains("offline_access") && page.contains("Approve") && page.contains("Deny"), "{page}");
    assert!(page.contains("<label for=\"email\">") && page.contains("<label for=\"password\">"), "{page}");
    assert!(!page.contains(&challenge), "the request stays on the server");

    // Wrong password, a locked account, a user without the right, another organisation: the page again.
    let inline = [
        (user("global.admin", ACME), "not the password", "email address or password is not right"),
        (user("nobody", ACME), DEMO_IDP_PASSWORD, "email address or password is not right"),
        (user("former.admin", ACME), DEMO_IDP_PASSWORD, "account is locked"),
        (user("helpdesk", ACME), DEMO_IDP_PASSWORD, "only a global administrator can grant consent"),
        (user("backup.admin", ACME), DEMO_IDP_PASSWORD, "only a global administrator can grant consent"),
        (user("global.admin", BLUEBIRD), DEMO_IDP_PASSWORD, "this account belongs to another organisation"),
    ];
    for (email, password, message) in inline {
        let page = html(idp.consent(ACME, &request, &email, password, "approve").await, StatusCode::OK).await;
        assert!(page.to_lowercase().contains(message), "{email}: {page}");
        assert!(page.contains("role=\"alert\""), "{page}");
        assert!(page.contains(&format!("value=\"{email}\"")), "the email is kept: {page}");
    }

    let response = idp.consent(ACME, &request, &user("global.admin", ACME), DEMO_IDP_PASSWORD, "approve").await;
    let back = redirect_params(&response, &idp.redirect_uri());
    assert_eq!(back["state"], "xyz");
    let code = &back["code"];
    assert!(idp::consent_granted(tenant_id_for_domain(ACME).unwrap()));

    // The page is used up.
    let again = idp.consent(ACME, &request, &user("global.admin", ACME), DEMO_IDP_PASSWORD, "approve").await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST);

    let redirect_uri = idp.redirect_uri();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let body = tokens(idp.token_basic(ACME, CLIENT_ID, CLIENT_SECRET, &exchange).await).await;
    assert_eq!(body["scope"], "https://outlook.office365.com/.default offline_access");
    let access_token = body["access_token"].as_str().unwrap();
    assert_eq!(idp.tenant_of(access_token).await, tenant_id_for_domain(ACME).unwrap());

    // A code works once; its second use revokes what the first gave.
    let (error, description) =
        oauth_error(idp.token_basic(ACME, CLIENT_ID, CLIENT_SECRET, &exchange).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "invalid_grant");
    assert!(description.starts_with("AADSTS54005:"), "{description}");
    assert_eq!(idp.organization(access_token).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn organizations_takes_the_tenant_of_the_user_who_consents() {
    let idp = start().await;
    let (verifier, challenge) = pkce();
    let code = idp.code_for("organizations", &user("global.admin", BLUEBIRD), &challenge).await;
    let redirect_uri = idp.redirect_uri();
    let exchange = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier.as_str()),
    ];
    let body = tokens(idp.token("organizations", &exchange).await).await;
    let organization: Value = idp.organization(body["access_token"].as_str().unwrap()).await.json().await.unwrap();
    assert_eq!(organization["value"][0]["id"], tenant_id_for_domain(BLUEBIRD).unwrap());
    assert_eq!(organization["value"][0]["displayName"], "Bluebird Clinics");
    assert_eq!(organization["value"][0]["verifiedDomains"][0]["name"], BLUEBIRD);
}

#[tokio::test]
async fn a_wrong_code_verifier_is_refused_and_uses_up_the_code() {
    let idp = start().await;
    let (verifier, challenge) = pkce();
    let code = idp.code_for(ACME, &user("global.admin", ACME), &challenge).await;
    let redirect_uri = idp.redirect_uri();
    let (other_verifier, _) = pkce();
    let exchange = |verifier: &str| {
        [
            ("grant_type", "authorization_code".to_owned()),
            ("code", code.clone()),
            ("redirect_uri", redirect_uri.clone()),
            ("code_verifier", verifier.to_owned()),
        ]
    };
    let wrong = exchange(&other_verifier);
    let wrong: Vec<(&str, &str)> = wrong.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (error, description) = oauth_error(idp.token(ACME, &wrong).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "invalid_grant");
    assert!(description.starts_with("AADSTS50148:"), "{description}");

    let right = exchange(&verifier);
    let right: Vec<(&str, &str)> = right.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (error, _) = oauth_error(idp.token(ACME, &right).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "invalid_grant", "one redemption per code");

    // A code that was never issued.
    let (error, description) = oauth_error(
        idp.token(
            ACME,
            &[
                ("grant_type", "authorization_code"),
                ("code", "made-up"),
                ("redirect_uri", &redirect_uri),
                ("code_verifier", &verifier),
            ],
        )
        .await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "invalid_grant");
    assert!(description.starts_with("AADSTS70008:"), "{description}");
}

#[tokio::test]
async fn deny_goes_back_with_access_denied_and_the_state() {
    let idp = start().await;
    let (_, challenge) = pkce();
    let (request, _) = idp.consent_page(ACME, &challenge, "state with spaces & more").await;
    let response = idp.consent(ACME, &request, "", "", "deny").await;
    let back = redirect_params(&response, &idp.redirect_uri());
    assert_eq!(back["error"], "access_denied");
    assert!(back["error_description"].starts_with("AADSTS65004:"));
    assert_eq!(back["state"], "state with spaces & more");
    assert!(!back.contains_key("code"));
}

#[tokio::test]
async fn bad_authorization_requests() {
    let idp = start().await;
    let redirect_uri = idp.redirect_uri();
    let authorize = |query: Vec<(&'static str, String)>| {
        let url = idp.url(&format!("/idp/{ACME}/oauth2/v2.0/authorize"));
        let request = idp.http.get(url).query(&query);
        async move { request.send().await.unwrap() }
    };
    let base = |client_id: &str, redirect_uri: &str| {
        vec![
            ("client_id", client_id.to_owned()),
            ("redirect_uri", redirect_uri.to_owned()),
            ("response_type", "code".to_owned()),
            ("scope", "offline_access".to_owned()),
            ("state", "s1".to_owned()),
        ]
    };

    // An unknown client or a foreign redirect URI: an error page, never a redirect.
    let page = html(authorize(base("someone-else", &redirect_uri)).await, StatusCode::BAD_REQUEST).await;
    assert!(page.contains("AADSTS700016"), "{page}");
    let page = html(authorize(base(CLIENT_ID, "https://evil.example/cb")).await, StatusCode::BAD_REQUEST).await;
    assert!(page.contains("AADSTS50011"), "{page}");

    // No PKCE, or not S256: back to the client with invalid_request.
    let back = redirect_params(&authorize(base(CLIENT_ID, &redirect_uri)).await, &redirect_uri);
    assert_eq!(back["error"], "invalid_request");
    assert_eq!(back["state"], "s1");
    let mut plain = base(CLIENT_ID, &redirect_uri);
    plain.push(("code_challenge", "a".repeat(43)));
    plain.push(("code_challenge_method", "plain".to_owned()));
    let back = redirect_params(&authorize(plain).await, &redirect_uri);
    assert_eq!(back["error"], "invalid_request");

    let mut token = base(CLIENT_ID, &redirect_uri);
    token[2].1 = "token".to_owned();
    let back = redirect_params(&authorize(token).await, &redirect_uri);
    assert_eq!(back["error"], "unsupported_response_type");
}

#[tokio::test]
async fn oversized_parameters_are_refused_with_invalid_request() {
    let idp = start().await;
    let redirect_uri = idp.redirect_uri();
    let long = "x".repeat(3000);
    let (_, challenge) = pkce();
    let authorize = |state: &str, scope: &str, redirect_uri: &str| {
        let query = [
            ("client_id", CLIENT_ID),
            ("redirect_uri", redirect_uri),
            ("response_type", "code"),
            ("scope", scope),
            ("state", state),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        idp.http.get(idp.url(&format!("/idp/{ACME}/oauth2/v2.0/authorize"))).query(&query).send()
    };

    // Back to the client with invalid_request, and its state, unless that is what is too long.
    let back = redirect_params(&authorize("s1", &long, &redirect_uri).await.unwrap(), &redirect_uri);
    assert_eq!(back["error"], "invalid_request");
    assert!(back["error_description"].contains("'scope' is too long"), "{back:?}");
    assert_eq!(back["state"], "s1");
    let back = redirect_params(&authorize(&long, "openid", &redirect_uri).await.unwrap(), &redirect_uri);
    assert_eq!(back["error"], "invalid_request");
    assert!(!back.contains_key("state"), "a state too long is not sent back");
    // A redirect URI too long is not one of the client's: a page, no redirect.
    let page = html(authorize("s1", "openid", &format!("{redirect_uri}?{long}")).await.unwrap(), StatusCode::BAD_REQUEST).await;
    assert!(page.contains("AADSTS50011"), "{page}");

    // The token and device authorization endpoints: 400 invalid_request.
    let password = [("grant_type", "password"), ("username", "x"), ("password", "y"), ("scope", long.as_str())];
    let (error, description) = oauth_error(idp.token(ACME, &password).await, StatusCode::BAD_REQUEST).await;
    assert_eq!((error.as_str(), description.contains("'scope' is too long")), ("invalid_request", true), "{description}");
    let form = [("client_id", CLIENT_ID), ("scope", long.as_str())];
    let response = idp.http.post(idp.url(&format!("/idp/{ACME}/oauth2/v2.0/devicecode"))).form(&form).send().await.unwrap();
    assert_eq!(oauth_error(response, StatusCode::BAD_REQUEST).await.0, "invalid_request");
    let many: Vec<(String, &str)> = (0..100).map(|n| (format!("p{n}"), "x")).collect();
    let response = idp.http.post(idp.url(&format!("/idp/{ACME}/oauth2/v2.0/token"))).form(&many).send().await.unwrap();
    assert_eq!(oauth_error(response, StatusCode::BAD_REQUEST).await.0, "invalid_request");
}

#[tokio::test]
async fn password_grant_for_each_kind_of_user() {
    let idp = start().await;
    let check = |response: reqwest::Response, prefix: &'static str| async move {
        let (error, description) = oauth_error(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(error, "invalid_grant");
        assert!(description.starts_with(prefix), "{prefix}: {description}");
    };
    check(idp.password_grant(ACME, &user("global.admin", ACME), "wrong").await, "AADSTS50126:").await;
    check(idp.password_grant(ACME, &user("backup.admin", ACME), "wrong").await, "AADSTS50126:").await;
    check(idp.password_grant(ACME, &user("nobody", ACME), DEMO_IDP_PASSWORD).await, "AADSTS50126:").await;
    check(idp.password_grant(ACME, &user("backup.admin", BLUEBIRD), DEMO_IDP_PASSWORD).await, "AADSTS50126:").await;
    check(idp.password_grant(ACME, &user("former.admin", ACME), DEMO_IDP_PASSWORD).await, "AADSTS50053:").await;
    check(idp.password_grant(ACME, &user("former.admin", ACME), "wrong").await, "AADSTS50126:").await;
    check(idp.password_grant(ACME, &user("helpdesk", ACME), DEMO_IDP_PASSWORD).await, "AADSTS50105:").await;

    let body = tokens(idp.password_grant(ACME, &user("backup.admin", ACME), DEMO_IDP_PASSWORD).await).await;
    assert_eq!(body["scope"], "offline_access");
    assert_eq!(idp.tenant_of(body["access_token"].as_str().unwrap()).await, tenant_id_for_domain(ACME).unwrap());
    // By tenant ID, or with `organizations`; a global administrator has the role too.
    let acme_id = tenant_id_for_domain(ACME).unwrap();
    tokens(idp.password_grant(acme_id, &user("global.admin", ACME), DEMO_IDP_PASSWORD).await).await;
    let body = tokens(idp.password_grant("organizations", &user("backup.admin", CEDAR), DEMO_IDP_PASSWORD).await).await;
    assert_eq!(idp.tenant_of(body["access_token"].as_str().unwrap()).await, tenant_id_for_domain(CEDAR).unwrap());
}

#[tokio::test]
async fn client_authentication() {
    let idp = start_with(|config| config.oauth_client_secret = "p@ss:w+rd%".into()).await;
    let params = [("grant_type", "password"), ("username", "backup.admin@acme-legal.example"), ("password", DEMO_IDP_PASSWORD)];
    // RFC 6749 §2.3.1: the secret is form-encoded before Basic.
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{CLIENT_ID}:p%40ss%3Aw%2Brd%25"));
    let response = idp
        .http
        .post(idp.url(&format!("/idp/{ACME}/oauth2/v2.0/token")))
        .header(AUTHORIZATION, format!("Basic {basic}"))
        .form(&params)
        .send()
        .await
        .unwrap();
    tokens(response).await;

    let mut form = vec![("client_id", CLIENT_ID), ("client_secret", "p@ss:w+rd%")];
    form.extend_from_slice(&params);
    let response = idp.http.post(idp.url(&format!("/idp/{ACME}/oauth2/v2.0/token"))).form(&form).send().await.unwrap();
    tokens(response).await;

    let response = idp.token_basic(ACME, CLIENT_ID, "wrong", &params).await;
    assert!(response.headers().contains_key(reqwest::header::WWW_AUTHENTICATE));
    assert_eq!(oauth_error(response, StatusCode::UNAUTHORIZED).await.0, "invalid_client");
    let response = idp.token_basic(ACME, "someone-else", "p@ss:w+rd%", &params).await;
    assert_eq!(oauth_error(response, StatusCode::UNAUTHORIZED).await.0, "invalid_client");
    // The default secret is not this app's secret.
    assert_eq!(oauth_error(idp.token(ACME, &params).await, StatusCode::UNAUTHORIZED).await.0, "invalid_client");
    let response = idp.http.post(idp.url(&format!("/idp/{ACME}/oauth2/v2.0/token"))).form(&params).send().await.unwrap();
    assert_eq!(oauth_error(response, StatusCode::UNAUTHORIZED).await.0, "invalid_client");
}

#[tokio::test]
async fn unsupported_grants_and_unknown_tenants() {
    let idp = start().await;
    let (error, description) =
        oauth_error(idp.token(ACME, &[("grant_type", "client_credentials")]).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "unsupported_grant_type");
    assert!(description.starts_with("AADSTS70003:"), "{description}");
    let (error, _) = oauth_error(idp.token(ACME, &[]).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(error, "invalid_request");
    let (error, _) = oauth_error(
        idp.password_grant("northwind.example", &user("backup.admin", ACME), DEMO_IDP_PASSWORD).await,
        StatusCode::BAD_REQUEST,
    )
    .await;
    assert_eq!(error, "invalid_request");

    // The device flow needs a known tenant.
    for tenant in ["northwind.example", "organizations"] {
        let response = idp
            .http
            .post(idp.url(&format!("/idp/{tenant}/oauth2/v2.0/devicecode")))
            .form(&[("client_id", CLIENT_ID), ("scope", "offline_access")])
            .send()
            .await
            .unwrap();
        let (error, description) = oauth_error(response, StatusCode::BAD_REQUEST).await;
        assert_eq!(error, "invalid_request");
        assert!(description.starts_with("AADSTS90002:"), "{description}");
    }

    // Graph with no token, or a made-up one.
    let response = idp.http.get(idp.url("/idp/v1.0/organization")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let response = idp.organization("made-up").await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("application/json"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "InvalidAuthenticationToken");

    // Discovery names the endpoints.
    let discovery: Value = idp
        .http
        .get(idp.url(&format!("/idp/{ACME}/v2.0/.well-known/openid-configuration")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let acme_id = tenant_id_for_domain(ACME).unwrap();
    assert_eq!(discovery["token_endpoint"], idp.url(&format!("/idp/{acme_id}/oauth2/v2.0/token")));
}
