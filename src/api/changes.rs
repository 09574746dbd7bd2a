//! The change feed: `/api/{user_id}/changes`.
//!
//! Translation only: the bearer token and path give the owner, the query gives the feed
//! request, and `TaskService::changes` answers it.

use std::sync::Arc;

use poem_openapi::{
    ApiResponse, OpenApi,
    param::{Path, Query},
};

use super::{ApiTags, list_query::Deferred, security::BearerAuth, sync::Synced};
use crate::{
    auth::TokenVerifier,
    store::TaskStore,
    tasks::{FeedParams, FeedRequest, TaskService},
    wire::{
        error::ApiError,
        response::JsonResponse,
        schemas::{ChangeList, ChangeView},
    },
};

/// The change feed operation, over any store backend.
pub struct ChangesApi<S> {
    tasks: TaskService<S>,
    verifier: Arc<TokenVerifier>,
}

impl<S: TaskStore> ChangesApi<S> {
    pub fn new(tasks: TaskService<S>, verifier: Arc<TokenVerifier>) -> Self {
        Self { tasks, verifier }
    }
}

#[derive(ApiResponse)]
pub enum ListChangesResponse {
    /// The caller's changes after `since`, in commit order.
    #[oai(status = 200)]
    Ok(JsonResponse<ChangeList>),
}

#[OpenApi(tag = "ApiTags::Tasks")]
impl<S: TaskStore> ChangesApi<S> {
    /// List changes
    ///
    /// What changed in the user's tasks since `since`, in the order the changes were committed:
    /// each changed task once, as it is now, and a tombstone for each deleted one. Without
    /// `since` the feed starts from the beginning. Store `next_cursor` and pass it as `since` on
    /// the next call (right away while `has_more`, else at the next poll): no change is ever
    /// skipped, however many clients write meanwhile. To start, list the tasks once and follow
    /// the feed from the list's `sync_cursor`. Tombstones are kept 30 days
    /// (`sync.tombstone_retention_secs`): an older cursor is a 410 `CURSOR_EXPIRED`, and the
    /// client lists again. A cursor that is not one, or is another user's, is a 400.
    #[oai(
        path = "/api/:user_id/changes",
        method = "get",
        operation_id = "listChanges"
    )]
    async fn list_changes(
        &self,
        auth: BearerAuth,
        /// The user whose changes these are; must be the token's subject.
        user_id: Path<String>,
        /// Where to continue: a `next_cursor` of this feed or a list's `sync_cursor`, unchanged.
        since: Query<Deferred<String>>,
        /// Most changes in this page, 1 to 1000 (default 100).
        #[oai(validator(minimum(value = "1"), maximum(value = "1000")))]
        limit: Query<Deferred<u32>>,
    ) -> Result<Synced<ListChangesResponse>, ApiError> {
        let owner = auth.owner(&self.verifier, &user_id).await?;
        let params = FeedParams {
            since: since.first(),
            limit: limit.first(),
        };
        let request = FeedRequest::parse(&owner, &params)?;
        let page = self.tasks.changes(&owner, request).await?;
        Ok(Synced::fresh(
            ListChangesResponse::Ok(JsonResponse(ChangeList {
                changes: page.changes.into_iter().map(ChangeView::from).collect(),
                next_cursor: page.next_cursor,
                has_more: page.has_more,
            })),
            None,
        ))
    }
}
