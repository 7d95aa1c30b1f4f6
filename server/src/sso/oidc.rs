//! The server as an OpenID Connect relying party of Microsoft Entra ID (or the identity
//! provider built in, which speaks the same protocol): the authorization request (code flow,
//! PKCE S256, `state`, `nonce`), the code's exchange, and the ID token's checks with the
//! `openidconnect` crate: its signature against the provider's published keys (JWKS), audience,
//! expiry and nonce. The issuer is checked here: signing in through `organizations`, each
//! token names its own tenant (`tid`), and its `iss` must be that tenant's.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreJsonWebKeySet, CoreJwsSigningAlgorithm};
use openidconnect::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, IssuerUrl, JsonWebKeySetUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse, TokenUrl,
};

use crate::config::Config;

/// Where the provider is, and who we are to it.
#[derive(Clone, Debug)]
pub struct Relying {
    /// e.g. `https://login.microsoftonline.com` or `http://127.0.0.1:8080/idp`.
    pub authority: String,
    pub client_id: String,
    client_secret: String,
    pub redirect_uri: String,
    http: reqwest::Client,
}

/// Who the provider says signed in, once every check passed.
#[derive(Debug)]
pub struct Verified {
    /// The Entra tenant (directory) ID.
    pub tenant_id: String,
    /// `preferred_username` (Entra's sign-in name); lower-case.
    pub email: String,
}

/// Why a sign-in was refused, for the log (the person is told in plainer words).
#[derive(Debug)]
pub enum Refused {
    /// The provider could not be reached or answered something unusable.
    Provider(String),
    /// The ID token failed a check: signature, audience, expiry, nonce, issuer.
    Token(String),
}

impl Relying {
    pub fn from_config(config: &Config) -> Relying {
        // The same provider, client and HTTP client (no redirects, a deadline) as the
        // credential flows.
        let provider = crate::credentials::oauth::Provider::from_config(config);
        Relying {
            authority: provider.authority,
            client_id: provider.client_id,
            client_secret: provider.client_secret,
            redirect_uri: format!("{}/api/sso/microsoft/callback", config.public_url()),
            http: provider.http,
        }
    }

    fn client(&self, jwks: CoreJsonWebKeySet) -> Result<Client, Refused> {
        let bad = |e: openidconnect::url::ParseError| Refused::Provider(format!("provider URL: {e}"));
        // `organizations`: any work account; which tenant is learnt from the token.
        let base = format!("{}/organizations", self.authority);
        Ok(CoreClient::new(ClientId::new(self.client_id.clone()), IssuerUrl::new(format!("{base}/v2.0")).map_err(bad)?, jwks)
            .set_client_secret(ClientSecret::new(self.client_secret.clone()))
            .set_auth_uri(AuthUrl::new(format!("{base}/oauth2/v2.0/authorize")).map_err(bad)?)
            .set_token_uri(TokenUrl::new(format!("{base}/oauth2/v2.0/token")).map_err(bad)?)
            .set_redirect_uri(RedirectUrl::new(self.redirect_uri.clone()).map_err(bad)?))
    }

    /// The provider's sign-in page for a new sign-in, and the PKCE verifier to keep.
    pub fn authorize_url(&self, state: &str, nonce: &str, login_hint: Option<&str>) -> Result<(String, String), Refused> {
        let client = self.client(CoreJsonWebKeySet::new(Vec::new()))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (state, nonce) = (state.to_owned(), nonce.to_owned());
        let mut request = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, move || CsrfToken::new(state), move || Nonce::new(nonce))
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .set_pkce_challenge(challenge)
            .add_extra_param("response_mode", "query");
        if let Some(hint) = login_hint.filter(|h| !h.is_empty()) {
            request = request.add_extra_param("login_hint", hint.to_owned());
        }
        let (url, _, _) = request.url();
        Ok((url.to_string(), verifier.secret().clone()))
    }

    /// Exchanges the code and checks the ID token it brings.
    pub async fn finish(&self, code: &str, verifier: &str, nonce: &str) -> Result<Verified, Refused> {
        let jwks_url = JsonWebKeySetUrl::new(format!("{}/common/discovery/v2.0/keys", self.authority))
            .map_err(|e| Refused::Provider(format!("keys URL: {e}")))?;
        let jwks = CoreJsonWebKeySet::fetch_async(&jwks_url, &self.http)
            .await
            .map_err(|e| Refused::Provider(format!("the provider's keys could not be fetched: {e}")))?;
        let client = self.client(jwks)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| Refused::Provider(format!("the code exchange failed: {e}")))?;
        let id_token = response.id_token().ok_or_else(|| Refused::Token("the token answer carries no ID token".into()))?;
        // Entra signs with RS256; the built-in provider with ES256. Nothing else (never `none`).
        let checks = client
            .id_token_verifier()
            .require_issuer_match(false)
            .set_allowed_algs([CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, CoreJwsSigningAlgorithm::EcdsaP256Sha256]);
        let claims = id_token.claims(&checks, &Nonce::new(nonce.to_owned())).map_err(|e| Refused::Token(e.to_string()))?;
        // Signature verified above: the payload can now be read for Entra's own claims.
        let payload = id_token.to_string();
        let tenant_id = payload
            .split('.')
            .nth(1)
            .and_then(|part| URL_SAFE_NO_PAD.decode(part).ok())
            .and_then(|json| serde_json::from_slice::<serde_json::Value>(&json).ok())
            .and_then(|claims| claims["tid"].as_str().map(str::to_owned))
            .filter(|tid| !tid.is_empty() && tid.len() <= 64)
            .ok_or_else(|| Refused::Token("the ID token names no tenant (tid)".into()))?;
        let expected_issuer = format!("{}/{tenant_id}/v2.0", self.authority);
        if claims.issuer().as_str() != expected_issuer {
            return Err(Refused::Token(format!("issuer {} is not the tenant's ({expected_issuer})", claims.issuer().as_str())));
        }
        // The sign-in name (the UPN), not `email`: that one may be anything, unverified.
        let email = claims
            .preferred_username()
            .map(|name| name.as_str().trim().to_lowercase())
            .filter(|email| email.contains('@'))
            .ok_or_else(|| Refused::Token("the ID token names no user (preferred_username)".into()))?;
        Ok(Verified { tenant_id, email })
    }
}

/// A client with its authorization and token endpoints set.
type Client = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet, EndpointNotSet>;
