//! The `todo-api` binary. Everything lives in the library so tests and tools share it.

/// mimalloc instead of the system allocator: a page of tasks is hundreds of small strings
/// made on a reader thread and freed on a runtime thread, which glibc's malloc paid for with
/// arena locks and consolidation (see specs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    todo_api::cli::main()
}
