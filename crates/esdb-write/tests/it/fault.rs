//! Fault injection: the k-th create, write, flush, fsync, rename, directory fsync or spill read
//! fails, for every k. After each failure the target does not exist and no temporary file is
//! left; once k passes the number of such operations, the file is written and complete.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use esdb_write::io::{IoHook, IoOp};
use esdb_write::{WriteError, Writer, WriterOptions};

/// Fails the `k`-th operation of kind `op` (1-based).
#[derive(Debug)]
struct FailAt {
    op: IoOp,
    k: u64,
    seen: AtomicU64,
}

impl IoHook for FailAt {
    fn before(&self, op: IoOp, _path: &Path) -> std::io::Result<()> {
        if op == self.op && self.seen.fetch_add(1, Ordering::SeqCst) + 1 == self.k {
            return Err(std::io::Error::other(format!("injected failure of {op:?} #{}", self.k)));
        }
        Ok(())
    }
}

/// Writes enough events under a small budget that events, postings and the timeline all spill.
fn write(path: &Path, hook: Arc<dyn IoHook>) -> Result<u64, WriteError> {
    let options = WriterOptions::default().with_memory_budget(16 * 1024).with_block_size(512);
    let mut writer = Writer::create_with_hook(path, options, hook)?;
    for i in 0..1500u64 {
        let data = format!("event {i} with some payload to fill blocks");
        writer.add(
            format!("space-{}", i % 3),
            (i * 7919 % 1000) as i64,
            format!("g{}", i % 4),
            [("type", format!("t{}", i % 5))],
            data,
        )?;
    }
    Ok(writer.finish()?.n_events)
}

fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

#[test]
fn any_failed_operation_leaves_nothing_behind() {
    for op in [IoOp::Create, IoOp::Write, IoOp::Flush, IoOp::Sync, IoOp::Rename, IoOp::SyncDir, IoOp::Read] {
        let mut failures = 0;
        for k in 1.. {
            assert!(k < 100_000, "{op:?}: the writer never finished");
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("out.esdb");
            let hook = Arc::new(FailAt { op, k, seen: AtomicU64::new(0) });
            match write(&path, hook.clone()) {
                Err(err) => {
                    failures += 1;
                    assert!(matches!(err, WriteError::Io { .. }), "{op:?} #{k}: {err:?}");
                    assert!(!path.exists(), "{op:?} #{k}: the target exists after a failure");
                    assert!(leftovers(dir.path()).is_empty(), "{op:?} #{k}: left {:?}", leftovers(dir.path()));
                }
                Ok(n_events) => {
                    assert_eq!(n_events, 1500);
                    assert!(hook.seen.load(Ordering::SeqCst) < k, "{op:?} #{k} was reached but did not fail");
                    let db = esdb_read::Db::open(&path).unwrap();
                    assert!(db.verify().is_ok());
                    assert_eq!(leftovers(dir.path()), ["out.esdb"]);
                    break;
                }
            }
        }
        assert!(failures > 0, "{op:?} never happened, so nothing was tested");
        eprintln!("{op:?}: failed at each of {failures} points");
    }
}
