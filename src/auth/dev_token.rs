//! Minting development tokens (`todo-api token`), shaped like the ones Better Auth issues.

use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header, encode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

/// Sign an HS256 token for `user_id`, valid for `ttl`, with the claims Better Auth would set.
pub fn mint_hs256(
    secret: &SecretString,
    user_id: &str,
    ttl: Duration,
    issuer: Option<&str>,
    audience: &[String],
) -> Result<String, jsonwebtoken::errors::Error> {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "sub": user_id,
        "id": user_id,
        "iat": now,
        "exp": now + ttl.as_secs() as i64,
    });
    if let Some(iss) = issuer {
        claims["iss"] = json!(iss);
    }
    match audience {
        [] => {}
        [one] => claims["aud"] = json!(one),
        many => claims["aud"] = json!(many),
    }
    encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(secret.expose_secret().as_bytes()),
    )
}
