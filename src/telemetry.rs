//! Logging: one subscriber for the process, text or JSON lines on stderr, filtered like `RUST_LOG`.

use std::io::IsTerminal;

use tracing_subscriber::{EnvFilter, fmt, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::LogFormat;

/// Install the global subscriber. Safe to call more than once (later calls are ignored), which
/// lets tests start many servers in one process.
pub fn init(filter: &str, format: LogFormat) {
    let filter = with_quiet_dependencies(filter);
    let filter = filter.as_str();
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|e| {
        eprintln!("invalid log filter {filter:?} ({e}); using \"info\"");
        EnvFilter::new("info")
    });
    let registry = tracing_subscriber::registry().with(filter);
    let result = match format {
        LogFormat::Text => registry
            .with(
                fmt::layer()
                    .with_ansi(std::io::stderr().is_terminal())
                    .with_writer(std::io::stderr),
            )
            .try_init(),
        LogFormat::Json => registry
            .with(
                fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_writer(std::io::stderr),
            )
            .try_init(),
    };
    // Already initialised (tests): keep the first subscriber.
    let _ = result;
}

/// `filter` with `rmcp=warn` added unless it already says something about `rmcp`: the MCP SDK
/// logs three `info` lines for every stateless request (service start, stream end, finish), and
/// the request log already has one line per MCP request with its method and tool.
fn with_quiet_dependencies(filter: &str) -> String {
    if filter.contains("rmcp") {
        filter.to_owned()
    } else if filter.trim().is_empty() {
        "rmcp=warn".to_owned()
    } else {
        format!("{filter},rmcp=warn")
    }
}

#[cfg(test)]
mod tests {
    use super::with_quiet_dependencies;

    #[test]
    fn rmcp_is_quiet_unless_the_filter_names_it() {
        assert_eq!(with_quiet_dependencies("info"), "info,rmcp=warn");
        assert_eq!(with_quiet_dependencies(""), "rmcp=warn");
        assert_eq!(
            with_quiet_dependencies("rmcp=debug,info"),
            "rmcp=debug,info"
        );
    }
}
