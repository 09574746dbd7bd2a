//! `todo-api explain-list`: the plan the configured database chooses for each statement of one
//! list request (SQLite `EXPLAIN QUERY PLAN`, PostgreSQL `EXPLAIN`), to check index use on a
//! real database. Reads nothing but the plans; the plans written down in specs/storage.md were
//! taken with it.

use anyhow::{Context, bail};

use crate::{
    config::Settings,
    domain::{UserId, now_ms},
    store::{self, AnyStore},
    tasks::{ListParams, ListRequest},
};

/// `name=value` list parameters (the REST query parameters, unencoded) as `ListParams`.
pub fn list_params(pairs: &[String]) -> anyhow::Result<ListParams> {
    let mut params = ListParams::default();
    for pair in pairs {
        let (name, value) = pair
            .split_once('=')
            .with_context(|| format!("--param {pair:?}: expected name=value"))?;
        let value = value.to_owned();
        match name {
            "complete" => params.complete = Some(value),
            "priority" => params.priority.push(value),
            "tag" => params.tag.push(value),
            "due_before" => params.due_before = Some(value),
            "due_after" => params.due_after = Some(value),
            "overdue" => params.overdue = Some(value),
            "tz" => params.tz = Some(value),
            "q" => params.q = Some(value),
            "sort" => params.sort = Some(value),
            "limit" => params.limit = Some(value),
            "cursor" => params.cursor = Some(value),
            other => bail!("--param {other}: not a list parameter"),
        }
    }
    Ok(params)
}

/// Print the plan of each statement `user`'s list with `params` runs: the count, then the page.
pub async fn explain_list(
    settings: &Settings,
    user: &str,
    params: &ListParams,
) -> anyhow::Result<()> {
    let owner = UserId::new(user);
    let request = ListRequest::parse(&owner, params, now_ms())
        .map_err(|refusal| anyhow::anyhow!("{refusal}: {refusal:?}"))?;
    let store = store::open(&settings.database.url, &settings.database).await?;
    let plans = match &store {
        AnyStore::Sqlite(s) => s.explain_list(&owner, request.query).await,
        AnyStore::Postgres(s) => s.explain_list(&owner, request.query).await,
    }?;
    for (i, plan) in plans.iter().enumerate() {
        println!(
            "-- {}",
            if i == 0 {
                "count".to_owned()
            } else {
                format!("page statement {i}")
            }
        );
        println!("{plan}");
    }
    Ok(())
}
