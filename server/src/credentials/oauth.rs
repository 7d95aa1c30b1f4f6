//! The server as an OAuth 2.0 client of the identity provider (the one built in, or the
//! Microsoft identity platform): admin consent by authorization code with PKCE, the backup
//! admin's password check, the Device Authorization Grant (RFC 8628), and which tenant a
//! token belongs to. Every exchange is a real HTTP request.

use oauth2::basic::{BasicClient, BasicErrorResponseType};
use oauth2::{
    AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet, EndpointSet, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RefreshToken, RequestTokenError, ResourceOwnerPassword, ResourceOwnerUsername, Scope,
    TokenResponse, TokenUrl,
};
use serde::Deserialize;

use crate::config::Config;

/// The scopes the backup service asks for.
const SCOPES: [&str; 3] =
    ["offline_access", "https://graph.microsoft.com/Mail.ReadWrite", "https://graph.microsoft.com/User.Read.All"];

/// Where the identity provider and the directory API live.
#[derive(Clone, Debug)]
pub struct Provider {
    /// e.g. `http://127.0.0.1:8080/idp` or `https://login.microsoftonline.com`.
    pub authority: String,
    /// e.g. `http://127.0.0.1:8080/idp/v1.0` or `https://graph.microsoft.com/v1.0`.
    pub directory: String,
    pub client_id: String,
    pub client_secret: String,
    /// Where the provider sends the admin back after consent.
    pub redirect_uri: String,
    pub(crate) http: reqwest::Client,
}

/// Tokens from the provider (never logged, never sent to the browser).
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: Option<String>,
    pub expires_in_secs: Option<u64>,
}

/// How an exchange failed.
#[derive(Debug)]
pub enum OAuthFailure {
    /// The provider answered with an OAuth error (RFC 6749 §5.2).
    Refused { error: String, description: String },
    /// It could not be reached, or answered something that is not OAuth.
    Unreachable(String),
}

impl OAuthFailure {
    /// The provider's AADSTS code (`AADSTS50126`), when it gave one.
    pub fn aadsts(&self) -> Option<&str> {
        match self {
            OAuthFailure::Refused { description, .. } => {
                let start = description.find("AADSTS")?;
                let code: &str = &description[start..];
                Some(&code[..code.find(|c: char| !c.is_ascii_alphanumeric()).unwrap_or(code.len())])
            }
            OAuthFailure::Unreachable(_) => None,
        }
    }
}

type Client = BasicClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointSet>;

impl Provider {
    pub fn from_config(config: &Config) -> Provider {
        let public = config.public_url();
        let (authority, directory) = match config.idp.as_str() {
            "microsoft" => ("https://login.microsoftonline.com".to_owned(), "https://graph.microsoft.com/v1.0".to_owned()),
            _ => (format!("{public}/idp"), format!("{public}/idp/v1.0")),
        };
        let authority = config.idp_authority.clone().map(|a| a.trim_end_matches('/').to_owned()).unwrap_or(authority);
        let directory = config.idp_directory.clone().map(|d| d.trim_end_matches('/').to_owned()).unwrap_or(directory);
        let http = reqwest::Client::builder()
            // OAuth exchanges never follow redirects (RFC 6749 security considerations).
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(15))
            .build()
            .expect("an HTTP client with default TLS roots");
        Provider {
            authority,
            directory,
            client_id: config.oauth_client_id.clone(),
            client_secret: config.oauth_client_secret.clone(),
            redirect_uri: format!("{public}/api/oauth/consent/callback"),
            http,
        }
    }

    fn client(&self, tenant: &str) -> Result<Client, OAuthFailure> {
        let bad = |e: oauth2::url::ParseError| OAuthFailure::Unreachable(format!("provider URL: {e}"));
        Ok(BasicClient::new(ClientId::new(self.client_id.clone()))
            .set_client_secret(ClientSecret::new(self.client_secret.clone()))
            .set_auth_uri(AuthUrl::new(format!("{}/{tenant}/oauth2/v2.0/authorize", self.authority)).map_err(bad)?)
            .set_token_uri(TokenUrl::new(format!("{}/{tenant}/oauth2/v2.0/token", self.authority)).map_err(bad)?))
    }

    /// The admin-consent page's address for a new flow, and the PKCE verifier to keep. The
    /// tenant is left open (`organizations`): which tenant consented is learnt from the token,
    /// never from the redirect.
    pub fn consent_url(&self, state: &str) -> Result<(String, String), OAuthFailure> {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let redirect = RedirectUrl::new(self.redirect_uri.clone()).map_err(|e| OAuthFailure::Unreachable(e.to_string()))?;
        let state = state.to_owned();
        let (url, _) = self
            .client("organizations")?
            .set_redirect_uri(redirect)
            .authorize_url(move || CsrfToken::new(state))
            .add_scopes(SCOPES.iter().map(|s| Scope::new((*s).to_owned())))
            .add_extra_param("prompt", "admin_consent")
            .set_pkce_challenge(challenge)
            .url();
        Ok((url.to_string(), verifier.secret().clone()))
    }

    /// Exchanges the code from the consent redirect, with the PKCE verifier of its flow.
    pub async fn exchange_code(&self, code: &str, verifier: &str) -> Result<Tokens, OAuthFailure> {
        let redirect = RedirectUrl::new(self.redirect_uri.clone()).map_err(|e| OAuthFailure::Unreachable(e.to_string()))?;
        let response = self
            .client("organizations")?
            .set_redirect_uri(redirect)
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(PkceCodeVerifier::new(verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(failure)?;
        Ok(tokens(&response))
    }

    /// Signs the backup admin in with its password at its tenant (the check before saving).
    pub async fn check_password(&self, tenant: &str, username: &str, password: &str) -> Result<Tokens, OAuthFailure> {
        let response = self
            .client(tenant)?
            .exchange_password(&ResourceOwnerUsername::new(username.to_owned()), &ResourceOwnerPassword::new(password.to_owned()))
            .add_scopes(SCOPES.iter().map(|s| Scope::new((*s).to_owned())))
            .request_async(&self.http)
            .await
            .map_err(failure)?;
        Ok(tokens(&response))
    }

    /// Trades a stored refresh token for new tokens (RFC 6749 §6): the check that consent or a
    /// delegated token still holds.
    pub async fn refresh(&self, tenant: &str, refresh_token: &str) -> Result<Tokens, OAuthFailure> {
        let response = self
            .client(tenant)?
            .exchange_refresh_token(&RefreshToken::new(refresh_token.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(failure)?;
        Ok(tokens(&response))
    }

    /// Starts a Device Authorization (RFC 8628 §3.1).
    pub async fn start_device(&self, tenant: &str) -> Result<DeviceStart, OAuthFailure> {
        let response = self
            .http
            .post(format!("{}/{tenant}/oauth2/v2.0/devicecode", self.authority))
            .form(&[("client_id", self.client_id.as_str()), ("scope", &SCOPES.join(" "))])
            .send()
            .await
            .map_err(|e| OAuthFailure::Unreachable(e.to_string()))?;
        json_or_failure(response).await
    }

    /// Asks once whether the device was authorised (RFC 8628 §3.4).
    pub async fn poll_device(&self, tenant: &str, device_code: &str) -> Result<Tokens, OAuthFailure> {
        let response = self
            .http
            .post(format!("{}/{tenant}/oauth2/v2.0/token", self.authority))
            .basic_auth(form_encode(&self.client_id), Some(form_encode(&self.client_secret)))
            .form(&[("grant_type", "urn:ietf:params:oauth:grant-type:device_code"), ("device_code", device_code)])
            .send()
            .await
            .map_err(|e| OAuthFailure::Unreachable(e.to_string()))?;
        let raw: RawTokens = json_or_failure(response).await?;
        Ok(Tokens { access_token: raw.access_token, refresh_token: raw.refresh_token, expires_in_secs: raw.expires_in })
    }

    /// The tenant a token belongs to, as the directory says (Microsoft Graph `/organization`).
    pub async fn tenant_of(&self, access_token: &str) -> Result<String, OAuthFailure> {
        let response = self
            .http
            .get(format!("{}/organization", self.directory))
            .bearer_auth(access_token)
            .send()
            .await
            .map_err(|e| OAuthFailure::Unreachable(e.to_string()))?;
        if !response.status().is_success() {
            return Err(OAuthFailure::Unreachable(format!("directory answered {}", response.status())));
        }
        let organisations: Organisations = response.json().await.map_err(|e| OAuthFailure::Unreachable(e.to_string()))?;
        organisations.value.into_iter().next().map(|o| o.id).ok_or_else(|| OAuthFailure::Unreachable("no organisation".into()))
    }
}

/// What the provider answers when a Device Authorization starts.
#[derive(Deserialize)]
pub struct DeviceStart {
    pub device_code: String,
    pub user_code: String,
    pub verification_uri: String,
    pub expires_in: u64,
    #[serde(default = "default_interval")]
    pub interval: u64,
}

fn default_interval() -> u64 {
    5
}

#[derive(Deserialize)]
struct RawTokens {
    access_token: String,
    refresh_token: Option<String>,
    expires_in: Option<u64>,
}

#[derive(Deserialize)]
struct OAuthError {
    error: String,
    #[serde(default)]
    error_description: String,
}

#[derive(Deserialize)]
struct Organisations {
    value: Vec<Organisation>,
}

#[derive(Deserialize)]
struct Organisation {
    id: String,
}

async fn json_or_failure<T: serde::de::DeserializeOwned>(response: reqwest::Response) -> Result<T, OAuthFailure> {
    let status = response.status();
    let body = response.bytes().await.map_err(|e| OAuthFailure::Unreachable(e.to_string()))?;
    if status.is_success() {
        return serde_json::from_slice(&body).map_err(|e| OAuthFailure::Unreachable(format!("an answer we cannot read: {e}")));
    }
    match serde_json::from_slice::<OAuthError>(&body) {
        Ok(error) => Err(OAuthFailure::Refused { error: error.error, description: error.error_description }),
        Err(_) => Err(OAuthFailure::Unreachable(format!("the provider answered {status}"))),
    }
}

fn tokens(response: &oauth2::basic::BasicTokenResponse) -> Tokens {
    Tokens {
        access_token: response.access_token().secret().clone(),
        refresh_token: response.refresh_token().map(|t| t.secret().clone()),
        expires_in_secs: response.expires_in().map(|d| d.as_secs()),
    }
}

fn failure<E: std::error::Error + 'static>(
    error: RequestTokenError<E, oauth2::StandardErrorResponse<BasicErrorResponseType>>,
) -> OAuthFailure {
    match error {
        RequestTokenError::ServerResponse(response) => OAuthFailure::Refused {
            error: response.error().to_string(),
            description: response.error_description().cloned().unwrap_or_default(),
        },
        other => OAuthFailure::Unreachable(other.to_string()),
    }
}

/// Client credentials in HTTP Basic are form-encoded first (RFC 6749 §2.3.1).
fn form_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}
