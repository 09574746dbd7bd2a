//! Request ids: every request carries one, taken from a sane `X-Request-Id` header or generated,
//! echoed on the response, recorded in the request's log span and written into every error body,
//! so a user's report ("it failed with request id …") leads straight to the log lines.

use std::sync::Arc;

/// The header that carries the id, both ways.
pub const HEADER: &str = "x-request-id";

/// Longest client-supplied id accepted; a longer or odd one is replaced, not rejected.
pub const MAX_LEN: usize = 128;

tokio::task_local! {
    static CURRENT: Arc<str>;
}

/// The id of the request being served, or `"-"` outside one.
pub fn current() -> String {
    CURRENT
        .try_with(|id| id.to_string())
        .unwrap_or_else(|_| "-".to_owned())
}

/// Run `f` as the request `id`: `current()` returns it anywhere inside.
pub async fn scope<F: Future>(id: Arc<str>, f: F) -> F::Output {
    CURRENT.scope(id, f).await
}

/// The client's id when it is 1..=128 visible ASCII characters, else a fresh one.
pub fn accept_or_generate(header: Option<&str>) -> String {
    match header {
        Some(id) if is_sane(id) => id.to_owned(),
        _ => uuid::Uuid::new_v4().simple().to_string(),
    }
}

fn is_sane(id: &str) -> bool {
    (1..=MAX_LEN).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sane_client_id_is_kept_and_anything_else_replaced() {
        assert_eq!(accept_or_generate(Some("abc-123_X.Y")), "abc-123_X.Y");
        let max = "a".repeat(MAX_LEN);
        assert_eq!(accept_or_generate(Some(&max)), max);
        for bad in [
            String::new(),
            "a".repeat(MAX_LEN + 1),
            "has space".into(),
            "tab\there".into(),
            "ünïcode".into(),
        ] {
            let id = accept_or_generate(Some(&bad));
            assert_ne!(id, bad);
            assert_eq!(id.len(), 32, "a generated id: {id}");
        }
        assert_ne!(accept_or_generate(None), accept_or_generate(None));
    }
}
