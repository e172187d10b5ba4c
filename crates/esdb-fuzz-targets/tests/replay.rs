//! Replays every file of `fuzz/corpus/<target>/` and `fuzz/regressions/<target>/` through the
//! target's code, so CI catches regressions of anything the fuzzers ever found, without running a
//! fuzzer. Regressions live apart from the corpus so that `cargo fuzz cmin` cannot drop them.

use std::path::Path;

#[test]
fn every_corpus_file_passes_its_target() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut replayed = 0;
    let mut regressions = 0;
    for (name, target) in esdb_fuzz_targets::TARGETS {
        let dir = fuzz.join("corpus").join(name);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        assert!(!entries.is_empty(), "the corpus of {name} is empty");
        if let Ok(found) = std::fs::read_dir(fuzz.join("regressions").join(name)) {
            let found: Vec<_> = found.map(|e| e.unwrap().path()).collect();
            regressions += found.len();
            entries.extend(found);
        }
        for path in entries {
            let data = std::fs::read(&path).unwrap();
            let result = std::panic::catch_unwind(|| target(&data));
            assert!(result.is_ok(), "{name} panics on {}", path.display());
            replayed += 1;
        }
    }
    assert!(replayed >= esdb_fuzz_targets::TARGETS.len());
    assert!(regressions >= 2, "the regression inputs of fuzz/regressions/ were not found");
}
