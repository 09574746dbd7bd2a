//! How sync's rows are stored, shared by both backends: a stored response's headers as a JSON
//! array of pairs, and the merge of a feed's two ordered reads (tasks and tombstones) into one.

use super::StoreError;
use crate::domain::sync::{Change, Position, StoredResponse};

/// The headers of a stored response as stored: `[["ETag","\"1\""], ...]`.
pub(super) fn headers_json(headers: &[(String, String)]) -> Result<String, StoreError> {
    serde_json::to_string(headers)
        .map_err(|e| StoreError::Internal(format!("stored headers as JSON: {e}").into()))
}

/// A stored response read back; headers that do not parse are a corrupted row.
pub(super) fn stored_response(
    status: u16,
    headers: &str,
    body: Vec<u8>,
) -> Result<StoredResponse, StoreError> {
    let headers = serde_json::from_str(headers).map_err(|_| {
        StoreError::Internal("stored idempotency response: headers are invalid".into())
    })?;
    Ok(StoredResponse {
        status,
        headers,
        body,
    })
}

/// The first `wanted` of two position-ordered lists, in position order.
pub(super) fn merge(
    tasks: Vec<(Position, Change)>,
    tombstones: Vec<(Position, Change)>,
    wanted: usize,
) -> Vec<(Position, Change)> {
    let mut merged = Vec::with_capacity(wanted.min(tasks.len() + tombstones.len()));
    let (mut tasks, mut tombstones) = (
        tasks.into_iter().peekable(),
        tombstones.into_iter().peekable(),
    );
    while merged.len() < wanted {
        let next = match (tasks.peek(), tombstones.peek()) {
            (Some(a), Some(b)) if a.0 <= b.0 => tasks.next(),
            (Some(_), Some(_)) => tombstones.next(),
            (Some(_), None) => tasks.next(),
            (None, Some(_)) => tombstones.next(),
            (None, None) => None,
        };
        match next {
            Some(change) => merged.push(change),
            None => break,
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gone(major: i64, id: i64) -> (Position, Change) {
        (
            Position::new(major, id),
            Change::Deleted {
                id,
                deleted_at_ms: 0,
            },
        )
    }

    #[test]
    fn a_merge_keeps_position_order_and_stops_at_wanted() {
        let merged = merge(
            vec![gone(1, 1), gone(3, 3)],
            vec![gone(2, 2), gone(4, 4)],
            3,
        );
        let positions: Vec<i64> = merged.iter().map(|(p, _)| p.major).collect();
        assert_eq!(positions, [1, 2, 3]);
    }
}
