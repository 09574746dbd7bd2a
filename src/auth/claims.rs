//! The claim checks every token passes once its signature verified, whichever algorithm and
//! library checked that signature. Keeping them in one place means HS256, the jsonwebtoken-verified
//! algorithms and ES512 (verified with `p521`) cannot drift apart.

use serde_json::{Map, Value};

use super::{AuthError, AuthenticatedUser, invalid};
use crate::domain::UserId;

/// What a token's claims must satisfy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimRules {
    /// The exact `iss` required, when set.
    pub issuer: Option<String>,
    /// `aud` must contain at least one of these, when not empty.
    pub audience: Vec<String>,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    pub leeway_secs: i64,
}

impl ClaimRules {
    /// Check the decoded payload at time `now` (Unix seconds) and return the caller.
    ///
    /// `exp` and a non-empty string `sub` are required; `nbf` and `iat` are honoured when present,
    /// and a token whose `exp` comes before its `iat` or `nbf` is never valid.
    pub fn check(&self, payload: &[u8], now: i64) -> Result<AuthenticatedUser, AuthError> {
        let claims: Map<String, Value> = serde_json::from_slice(payload)
            .map_err(|e| invalid(format!("claims are not a JSON object: {e}")))?;
        let leeway = self.leeway_secs;

        let exp = numeric_date(&claims, "exp")?.ok_or_else(|| invalid("no exp claim"))?;
        if now > exp.saturating_add(leeway) {
            return Err(invalid(format!("expired at {exp} (now {now})")));
        }
        if let Some(nbf) = numeric_date(&claims, "nbf")? {
            if nbf > now.saturating_add(leeway) {
                return Err(invalid(format!("not valid before {nbf} (now {now})")));
            }
            if nbf > exp {
                return Err(invalid("nbf after exp"));
            }
        }
        if let Some(iat) = numeric_date(&claims, "iat")? {
            if iat > now.saturating_add(leeway) {
                return Err(invalid(format!(
                    "issued in the future, at {iat} (now {now})"
                )));
            }
            if iat > exp {
                return Err(invalid("iat after exp"));
            }
        }

        if let Some(expected) = &self.issuer {
            match claims.get("iss") {
                Some(Value::String(iss)) if iss == expected => {}
                other => return Err(invalid(format!("iss {other:?} is not {expected:?}"))),
            }
        }
        if !self.audience.is_empty() {
            let matches = |aud: &Value| {
                aud.as_str()
                    .is_some_and(|a| self.audience.iter().any(|e| e == a))
            };
            let ok = match claims.get("aud") {
                Some(Value::Array(list)) => list.iter().any(matches),
                Some(one) => matches(one),
                None => false,
            };
            if !ok {
                return Err(invalid(format!(
                    "aud {:?} is none of {:?}",
                    claims.get("aud"),
                    self.audience
                )));
            }
        }

        let sub = match claims.get("sub") {
            // NUL cannot be stored (PostgreSQL text) and never appears in a real user id.
            Some(Value::String(sub)) if !sub.is_empty() && !sub.contains('\0') => sub.clone(),
            Some(_) => return Err(invalid("sub is not a non-empty string without NUL")),
            None => return Err(invalid("no sub claim")),
        };
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        Ok(AuthenticatedUser {
            user_id: UserId::new(sub),
            email: text("email"),
            name: text("name"),
        })
    }
}

/// A NumericDate claim: absent, or a number of seconds (fractions allowed, as RFC 7519 says).
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, AuthError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let seconds = value
        .as_i64()
        .or_else(|| {
            value
                .as_f64()
                .filter(|f| f.is_finite() && f.abs() < 1e15)
                .map(|f| f.floor() as i64)
        })
        .ok_or_else(|| invalid(format!("{name} is not a NumericDate: {value}")))?;
    Ok(Some(seconds))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: i64 = 1_750_000_000;

    fn rules() -> ClaimRules {
        ClaimRules {
            issuer: Some("https://auth.example".into()),
            audience: vec!["https://auth.example".into()],
            leeway_secs: 60,
        }
    }

    fn better_auth_claims() -> Value {
        json!({
            "sub": "user_1", "id": "user_1", "email": "a@example.com", "name": "Ada",
            "emailVerified": false, "image": null,
            "iat": NOW, "exp": NOW + 900,
            "iss": "https://auth.example", "aud": "https://auth.example",
        })
    }

    fn check(rules: &ClaimRules, claims: &Value) -> Result<AuthenticatedUser, AuthError> {
        rules.check(claims.to_string().as_bytes(), NOW)
    }

    #[test]
    fn better_auth_claims_give_the_subject_email_and_name() {
        let user = check(&rules(), &better_auth_claims()).unwrap();
        assert_eq!(
            user,
            AuthenticatedUser {
                user_id: UserId::new("user_1"),
                email: Some("a@example.com".into()),
                name: Some("Ada".into()),
            }
        );
    }

    #[test]
    fn an_audience_list_is_accepted_when_one_entry_matches() {
        let mut claims = better_auth_claims();
        claims["aud"] = json!(["https://other.example", "https://auth.example"]);
        assert!(check(&rules(), &claims).is_ok());
    }

    #[test]
    fn without_configured_issuer_and_audience_neither_is_judged() {
        let open = ClaimRules {
            issuer: None,
            audience: vec![],
            leeway_secs: 0,
        };
        let claims = json!({"sub": "u", "exp": NOW + 1, "iss": "anyone", "aud": ["x"]});
        assert!(check(&open, &claims).is_ok());
    }

    #[test]
    fn each_broken_claim_is_rejected() {
        let cases: Vec<(&str, Value)> = vec![
            ("expired beyond leeway", json!({"exp": NOW - 61})),
            ("no exp", json!({"exp": null})),
            ("exp as a string", json!({"exp": "soon"})),
            ("not yet valid", json!({"nbf": NOW + 61})),
            (
                "nbf after exp",
                json!({"nbf": NOW, "exp": NOW - 1, "iat": null}),
            ),
            ("issued in the future", json!({"iat": NOW + 61})),
            (
                "far future iat after exp",
                json!({"iat": NOW + 10_000_000, "exp": NOW + 1_000}),
            ),
            ("iat after exp", json!({"iat": NOW, "exp": NOW - 1})),
            ("wrong iss", json!({"iss": "https://evil.example"})),
            ("no iss", json!({"iss": null})),
            ("iss as a list", json!({"iss": ["https://auth.example"]})),
            ("wrong aud", json!({"aud": "https://evil.example"})),
            ("no matching aud in list", json!({"aud": ["a", "b"]})),
            ("empty aud list", json!({"aud": []})),
            ("no aud", json!({"aud": null})),
            ("no sub", json!({"sub": null})),
            ("empty sub", json!({"sub": ""})),
            ("sub with NUL", json!({"sub": "ali\u{0}ce"})),
            ("numeric sub", json!({"sub": 42})),
        ];
        for (name, patch) in cases {
            let mut claims = better_auth_claims();
            for (key, value) in patch.as_object().unwrap() {
                if value.is_null() {
                    claims.as_object_mut().unwrap().remove(key);
                } else {
                    claims[key] = value.clone();
                }
            }
            assert!(
                matches!(check(&rules(), &claims), Err(AuthError::Invalid(_))),
                "{name}: {claims}"
            );
        }
        for not_an_object in ["[]", "\"sub\"", "{", ""] {
            assert!(rules().check(not_an_object.as_bytes(), NOW).is_err());
        }
    }

    #[test]
    fn expiry_within_the_leeway_and_fractional_dates_are_accepted() {
        let mut claims = better_auth_claims();
        claims["exp"] = json!(NOW - 60);
        claims["iat"] = json!(NOW as f64 - 900.5);
        assert!(check(&rules(), &claims).is_ok());
    }
}
