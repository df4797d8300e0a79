//! Client authentication when a socket joins a namespace: none, a JWT, or a webhook.
//! What it yields (data for the socket, rooms to join) is applied by the gateway.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};
use socketio::{ConnectError, Socket, Value};

use crate::config::{Auth, JwtClaims};

/// Who a client is, as its credentials say.
#[derive(Clone, Debug, Default)]
pub(crate) struct Identity {
    /// Becomes the socket's data.
    pub(crate) data: Option<Value>,
    /// Rooms the socket joins.
    pub(crate) rooms: Vec<String>,
}

/// Checks the credentials of joining clients.
pub(crate) enum Authenticator {
    /// Anyone may join.
    None,
    /// A signed JWT.
    Jwt {
        key: Box<DecodingKey>,
        validation: Box<Validation>,
    },
    /// A backend that decides.
    Webhook {
        client: reqwest::Client,
        url: String,
    },
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Authenticator::None => "none",
            Authenticator::Jwt { .. } => "jwt",
            Authenticator::Webhook { .. } => "webhook",
        })
    }
}

/// What the webhook receives.
#[derive(Serialize)]
struct WebhookRequest<'a> {
    namespace: &'a str,
    auth: &'a Value,
    query: Option<&'a str>,
    address: Option<String>,
    origin: Option<&'a str>,
    user_agent: Option<&'a str>,
    cookie: Option<&'a str>,
    authorization: Option<&'a str>,
}

/// What the webhook answers.
#[derive(Deserialize)]
struct WebhookAnswer {
    allow: bool,
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    rooms: Vec<String>,
    #[serde(default)]
    message: Option<String>,
}

const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(5);

/// A refused join: a reason from a fixed set (for metrics) and the message for the client.
#[derive(Debug)]
pub(crate) struct Refusal {
    pub(crate) reason: &'static str,
    pub(crate) message: String,
}

impl Refusal {
    fn new(reason: &'static str, message: &str) -> Self {
        Refusal {
            reason,
            message: message.to_owned(),
        }
    }

    /// What the client's `connect_error` handler receives.
    pub(crate) fn into_connect_error(self) -> ConnectError {
        ConnectError::new(self.message)
    }
}

/// The bearer token of a handshake: `auth.token`, or the `Authorization` header.
fn token(socket: &Socket) -> Option<String> {
    if let Some(token) = socket
        .handshake()
        .auth()
        .get("token")
        .and_then(Value::as_str)
    {
        return Some(token.to_owned());
    }
    let header = socket
        .handshake()
        .headers()
        .get(http::header::AUTHORIZATION)?;
    let value = header.to_str().ok()?;
    value.strip_prefix("Bearer ").map(str::to_owned)
}

impl Authenticator {
    /// The authenticator for these settings.
    pub(crate) fn new(auth: &Auth, claims: &JwtClaims) -> Result<Self, String> {
        let jwt = |key: DecodingKey, algorithm: Algorithm| {
            let mut validation = Validation::new(algorithm);
            // `exp` and `nbf` are checked when present, not required.
            validation.required_spec_claims.clear();
            validation.validate_nbf = true;
            match &claims.audience {
                Some(audience) => validation.set_audience(&[audience]),
                // jsonwebtoken refuses any `aud` when none is expected.
                None => validation.validate_aud = false,
            }
            if let Some(issuer) = &claims.issuer {
                validation.set_issuer(&[issuer]);
            }
            Authenticator::Jwt {
                key: Box::new(key),
                validation: Box::new(validation),
            }
        };
        Ok(match auth {
            Auth::None => Authenticator::None,
            Auth::JwtSecret(secret) => jwt(
                DecodingKey::from_secret(secret.as_bytes()),
                Algorithm::HS256,
            ),
            Auth::JwtPublicKey(pem) => jwt(
                DecodingKey::from_rsa_pem(pem).map_err(|e| format!("--jwt-public-key: {e}"))?,
                Algorithm::RS256,
            ),
            Auth::Webhook(url) => Authenticator::Webhook {
                client: reqwest::Client::builder()
                    .timeout(WEBHOOK_TIMEOUT)
                    .build()
                    .map_err(|e| format!("webhook client: {e}"))?,
                url: url.clone(),
            },
        })
    }

    /// Checks a joining socket's credentials.
    pub(crate) async fn check(&self, socket: &Socket) -> Result<Identity, Refusal> {
        match self {
            Authenticator::None => Ok(Identity::default()),
            Authenticator::Jwt { key, validation } => {
                let token =
                    token(socket).ok_or_else(|| Refusal::new("missing token", "missing token"))?;
                let claims = jsonwebtoken::decode::<serde_json::Value>(&token, key, validation)
                    .map_err(|error| {
                        tracing::debug!(%error, "invalid token");
                        Refusal::new("invalid token", "invalid token")
                    })?
                    .claims;
                let rooms = claims
                    .get("rooms")
                    .and_then(serde_json::Value::as_array)
                    .map(|rooms| {
                        rooms
                            .iter()
                            .filter_map(|r| r.as_str().map(str::to_owned))
                            .collect()
                    })
                    .unwrap_or_default();
                let data = serde_json::from_value(claims)
                    .map_err(|_| Refusal::new("invalid token", "invalid token"))?;
                Ok(Identity {
                    data: Some(data),
                    rooms,
                })
            }
            Authenticator::Webhook { client, url } => {
                let handshake = socket.handshake();
                let ns = socket.namespace();
                let header = |name: http::header::HeaderName| {
                    handshake.headers().get(name).and_then(|v| v.to_str().ok())
                };
                let request = WebhookRequest {
                    namespace: ns.name(),
                    auth: handshake.auth(),
                    query: handshake.url().query(),
                    address: handshake.address().map(|a| a.ip().to_string()),
                    origin: header(http::header::ORIGIN),
                    user_agent: header(http::header::USER_AGENT),
                    cookie: header(http::header::COOKIE),
                    authorization: header(http::header::AUTHORIZATION),
                };
                let answer = async {
                    let response = client.post(url).json(&request).send().await?;
                    response.error_for_status()?.json::<WebhookAnswer>().await
                };
                let answer = answer.await.map_err(|error| {
                    // Without the URL, which may hold a secret in its query.
                    let error = error.without_url();
                    tracing::warn!(%error, "authentication webhook failed");
                    Refusal::new("webhook unavailable", "authentication unavailable")
                })?;
                if !answer.allow {
                    let message = answer.message.as_deref().unwrap_or("forbidden");
                    return Err(Refusal::new("webhook denied", message));
                }
                Ok(Identity {
                    data: answer.data,
                    rooms: answer.rooms,
                })
            }
        }
    }
}
