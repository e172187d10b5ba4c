//! Where the requests of blocking reads run: a small runtime of this crate's own, shared by every
//! source, so that the blocking API works from any thread, inside an async host's runtime or not.

use std::future::Future;
use std::sync::OnceLock;

use tokio::runtime::{Builder, Handle, Runtime};

/// The runtime that runs requests for sources that were not given a handle.
pub(crate) fn shared() -> Handle {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("esdb-object-store")
                .enable_all()
                .build()
                .expect("a tokio runtime of two threads starts")
        })
        .handle()
        .clone()
}

/// Runs `future` on `handle` and blocks the calling thread until it ends. Unlike
/// `Handle::block_on`, this may be called from a thread of another runtime: the future runs on
/// `handle`'s workers, never on the caller's. `None` if the runtime shut down before the future
/// ended.
pub(crate) fn wait<F>(handle: &Handle, future: F) -> Option<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let (done, result) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        // The receiver only goes away if the waiting thread panicked.
        let _ = done.send(future.await);
    });
    result.recv().ok()
}
