//! `DATABASE_URL`: which backend a URL means, and how to show one without its password.
//!
//! `postgres://` and `postgresql://` (scheme case-insensitive) mean PostgreSQL; a plain path,
//! `sqlite://path` or `sqlite:path` means a SQLite file; anything else is unsupported.

use std::path::{Path, PathBuf};

/// The database a `DATABASE_URL` names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    /// A PostgreSQL server: the URL goes to the driver as it is.
    Postgres,
    /// A SQLite file at this path.
    Sqlite(PathBuf),
}

impl DatabaseUrl {
    /// Which backend `url` means, or `None` if it is neither form.
    pub fn parse(url: &str) -> Option<Self> {
        if is_postgres_url(url) {
            Some(Self::Postgres)
        } else {
            path_from_url(url).map(Self::Sqlite)
        }
    }
}

/// True for `postgres://…` and `postgresql://…` (scheme case-insensitive).
pub fn is_postgres_url(url: &str) -> bool {
    let lower = url.get(..13).unwrap_or(url).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// Parse `DATABASE_URL` forms that mean SQLite: a plain path, `sqlite://path` or `sqlite:path`.
pub fn path_from_url(url: &str) -> Option<PathBuf> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url);
    if path.is_empty() || url.contains("://") && !url.starts_with("sqlite://") {
        return None;
    }
    Some(Path::new(path).to_path_buf())
}

/// `url` with any password replaced by `***`, for messages and logs.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split(':').next().unwrap_or_default();
            let masked = if userinfo.contains(':') {
                format!("{user}:***")
            } else {
                user.to_owned()
            };
            format!("{scheme}://{masked}@{host}{tail}")
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_are_recognised_by_scheme() {
        assert!(is_postgres_url("postgres://u@h/db"));
        assert!(is_postgres_url("postgresql://u@h/db"));
        assert!(is_postgres_url("PostgreSQL://u@h/db"));
        assert!(!is_postgres_url("sqlite://data/todo.db"));
        assert!(!is_postgres_url("data/postgres.db"));
    }

    #[test]
    fn database_urls_that_mean_sqlite_are_recognised() {
        assert_eq!(
            path_from_url("data/todo.db"),
            Some(PathBuf::from("data/todo.db"))
        );
        assert_eq!(
            path_from_url("sqlite://data/todo.db"),
            Some(PathBuf::from("data/todo.db"))
        );
        assert_eq!(
            path_from_url("sqlite:///tmp/t.db"),
            Some(PathBuf::from("/tmp/t.db"))
        );
        assert_eq!(path_from_url("sqlite:t.db"), Some(PathBuf::from("t.db")));
        assert_eq!(path_from_url("postgres://u@h/db"), None);
        assert_eq!(path_from_url(""), None);
    }

    #[test]
    fn every_url_names_one_backend_or_none() {
        assert_eq!(
            DatabaseUrl::parse("PostgreSQL://u@h/db"),
            Some(DatabaseUrl::Postgres)
        );
        assert_eq!(
            DatabaseUrl::parse("sqlite://data/todo.db"),
            Some(DatabaseUrl::Sqlite(PathBuf::from("data/todo.db")))
        );
        assert_eq!(DatabaseUrl::parse("mysql://u:pw@h/db"), None);
        assert_eq!(DatabaseUrl::parse(""), None);
    }

    #[test]
    fn redaction_hides_the_password_only() {
        assert_eq!(
            redact("postgres://alice:pw@db:5432/app?sslmode=require"),
            "postgres://alice:***@db:5432/app?sslmode=require"
        );
        assert_eq!(redact("postgres://alice@db/app"), "postgres://alice@db/app");
        assert_eq!(redact("data/todo.db"), "data/todo.db");
    }
}
