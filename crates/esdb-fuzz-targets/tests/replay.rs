//! Replays every file of `fuzz/corpus/<target>/` through the target's code, so CI catches
//! regressions of anything the fuzzers ever found, without running a fuzzer.

use std::path::Path;

#[test]
fn every_corpus_file_passes_its_target() {
    let corpus = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus");
    let mut replayed = 0;
    for (name, target) in esdb_fuzz_targets::TARGETS {
        let dir = corpus.join(name);
        let entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!entries.is_empty(), "the corpus of {name} is empty");
        for path in entries {
            let data = std::fs::read(&path).unwrap();
            let result = std::panic::catch_unwind(|| target(&data));
            assert!(result.is_ok(), "{name} panics on {}", path.display());
            replayed += 1;
        }
    }
    assert!(replayed >= esdb_fuzz_targets::TARGETS.len());
}
