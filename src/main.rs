//! The `todo-api` binary. Everything lives in the library so tests and tools share it.

fn main() -> anyhow::Result<()> {
    todo_api::cli::main()
}
