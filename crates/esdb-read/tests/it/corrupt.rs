//! Bad input: empty files, other formats, every truncation and every single-byte flip of golden
//! files. Always an error or correct data; never a panic or wrong data. `verify` reports every
//! flip, because every byte is under a checksum. Damaged files are read both from memory and
//! through a plain `Source`, the reader's two ways of getting at blocks.

use esdb_read::{Db, DecodeError, Error};

use crate::common::{all_queries, model_query, open_via, run_query, TestEvent};
use crate::golden::goldens;

fn open(bytes: &[u8]) -> Result<Db, Error> {
    Db::from_bytes(bytes.to_vec().into())
}

#[test]
fn empty_file_is_bad_magic() {
    let err = open(&[]).unwrap_err();
    assert!(matches!(err.as_decode(), Some(DecodeError::BadMagic { offset: 0, .. })), "{err:?}");
}

#[test]
fn other_formats_are_bad_magic() {
    let sqlite = b"SQLite format 3\0".repeat(20);
    let png = [&b"\x89PNG\r\n\x1a\n"[..], &[0u8; 200]].concat();
    let text = b"space,timestamp,data\n1,2,3\n".repeat(10);
    for bytes in [&sqlite[..], &png, &text, b"short"] {
        let err = open(bytes).unwrap_err();
        assert!(matches!(err.as_decode(), Some(DecodeError::BadMagic { section: "header", offset: 0, .. })), "{err:?}");
        assert!(err.as_decode().unwrap().to_string().starts_with("bad magic in header at offset 0"));
    }
}

#[test]
fn unknown_major_version_is_named() {
    let mut bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/../../fixtures/v1/one_event.esdb")).unwrap();
    bytes[8] = 3;
    // Re-seal the header so that only the version is wrong.
    let checksum = esdb_format::checksum::xxh3(&bytes[..16]);
    bytes[16..24].copy_from_slice(&checksum.to_le_bytes());
    let err = open(&bytes).unwrap_err();
    assert!(
        matches!(err.as_decode(), Some(DecodeError::UnsupportedVersion { found_major: 3, found_minor: 0, .. })),
        "{err:?}"
    );
    assert!(err.as_decode().unwrap().to_string().contains("unsupported format version 3.0"));
}

#[test]
fn every_truncation_fails_to_open() {
    for golden in goldens().iter().filter(|g| g.bytes.len() < 10_000) {
        for len in 0..golden.bytes.len() {
            assert!(open(&golden.bytes[..len]).is_err(), "{} truncated to {len} bytes opened", golden.file);
        }
    }
}

/// Runs every query of `events` against `db`: each must fail or return exactly the model's answer,
/// forwards and backwards. Returns whether any query failed.
fn queries_are_errors_or_correct(db: &Db, events: &[TestEvent], context: &str) -> bool {
    let mut any_error = false;
    let spaces: Result<Vec<_>, _> = db.spaces().collect();
    any_error |= spaces.is_err();
    for (label, space_id, kind, want) in all_queries(events) {
        let space = match db.space(&space_id) {
            Ok(Some(space)) => space,
            Ok(None) => panic!("{context}: {label}: space vanished without an error"),
            Err(_) => {
                any_error = true;
                continue;
            }
        };
        for reverse in [false, true] {
            let scan = match run_query(&space, &kind) {
                Ok(scan) => scan,
                Err(_) => {
                    any_error = true;
                    continue;
                }
            };
            let got: Result<Vec<(i64, Vec<u8>)>, _> = if reverse {
                scan.rev().map(|e| e.map(|e| (e.timestamp(), e.data().to_vec()))).collect()
            } else {
                scan.map(|e| e.map(|e| (e.timestamp(), e.data().to_vec()))).collect()
            };
            match got {
                Ok(mut got) => {
                    if reverse {
                        got.reverse();
                    }
                    assert_eq!(got, want, "{context}: {label} (reverse: {reverse}) returned wrong data");
                }
                Err(_) => any_error = true,
            }
        }
    }
    any_error | grouping_scans_are_errors_or_correct(db, events, context)
}

/// Lists the groupings of every space in two parts, as parallel readers do: every grouping
/// listed must be a real one and read exactly the model's events, or fail. Returns whether
/// anything failed.
fn grouping_scans_are_errors_or_correct(db: &Db, events: &[TestEvent], context: &str) -> bool {
    let mut any_error = false;
    let spaces: std::collections::BTreeSet<&Vec<u8>> = events.iter().map(|e| &e.space).collect();
    for space_id in spaces {
        let Ok(Some(space)) = db.space(space_id) else {
            any_error = true;
            continue;
        };
        for part in 0..2 {
            for grouping in space.grouping_scans_part(part, 2) {
                let Ok((info, scan)) = grouping else {
                    any_error = true;
                    break;
                };
                let want = model_query(events, space_id, |e| e.grouping[..] == info.name[..]);
                assert!(!want.is_empty(), "{context}: listed a grouping {:?} that does not exist", info.name);
                match scan.map(|e| e.map(|e| (e.timestamp(), e.data().to_vec()))).collect::<Result<Vec<_>, _>>() {
                    Ok(got) => assert_eq!(got, want, "{context}: grouping {:?} returned wrong data", info.name),
                    Err(_) => any_error = true,
                }
            }
        }
    }
    any_error
}

#[test]
fn every_single_byte_flip_is_detected_and_never_gives_wrong_data() {
    for golden in goldens()
        .iter()
        .filter(|g| ["activity.esdb", "edge_cases.esdb", "one_event.esdb", "empty.esdb"].contains(&g.file.as_str()))
    {
        for pos in 0..golden.bytes.len() {
            for mask in [0x01u8, 0x80] {
                let mut bytes = golden.bytes.clone();
                bytes[pos] ^= mask;
                let context = format!("{} byte {pos} ^ {mask:#04x}", golden.file);
                let Ok(db) = open_via(&bytes, mask == 0x80) else { continue };
                let report = db.verify();
                assert!(!report.is_ok(), "{context}: verify found nothing");
                // See: issue 16 (one corrupt block was reported 5 times).
                let messages: std::collections::BTreeSet<String> =
                    report.problems.iter().map(|p| p.to_string()).collect();
                assert_eq!(
                    messages.len(),
                    report.problems.len(),
                    "{context}: a problem reported twice: {:?}",
                    report.problems
                );
                for problem in &report.problems {
                    // Every problem names an offset inside the file.
                    let offset = problem.as_decode().map(|d| d.offset()).unwrap_or(0);
                    assert!(offset < bytes.len() as u64, "{context}: problem points outside the file: {problem:?}");
                }
                queries_are_errors_or_correct(&db, &golden.events, &context);
            }
        }
    }
}

#[test]
fn random_flips_in_a_large_file_give_errors_or_correct_data() {
    let golden = goldens().into_iter().find(|g| g.file == "many_blocks.esdb").unwrap();
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut detected = 0;
    for round in 0..60 {
        let mut bytes = golden.bytes.clone();
        for _ in 0..1 + round % 3 {
            let pos = (next() % bytes.len() as u64) as usize;
            bytes[pos] ^= (next() % 255 + 1) as u8;
        }
        let Ok(db) = open_via(&bytes, round % 2 == 1) else {
            detected += 1;
            continue;
        };
        assert!(!db.verify().is_ok(), "round {round}: verify found nothing");
        if queries_are_errors_or_correct(&db, &golden.events, &format!("round {round}")) {
            detected += 1;
        }
    }
    assert!(detected > 0);
}

#[test]
fn checksum_error_names_section_and_offset() {
    let golden = goldens().into_iter().find(|g| g.file == "one_event.esdb").unwrap();
    let mut bytes = golden.bytes.clone();
    // The data block's payload starts right after the 24-byte header.
    bytes[esdb_format::v1::header::LEN + 3] ^= 0x20;
    let db = open(&bytes).unwrap();
    let err = db.space("s").unwrap().unwrap().scan("").unwrap().next().unwrap().unwrap_err();
    match err.as_decode() {
        Some(DecodeError::ChecksumMismatch { section: "data block", offset: 24, .. }) => {}
        other => panic!("unexpected {other:?}"),
    }
    let problems = db.verify().problems;
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0]
        .as_decode()
        .unwrap()
        .to_string()
        .starts_with("data block at offset 24: xxh3 checksum mismatch"));
}

/// A forged file (postings reordered, checksum sealed again) makes the index scan fail instead of
/// returning events out of time order.
/// See: issue 14 ("exited 0 with changed answers that `verify` flagged").
#[test]
fn postings_out_of_time_order_are_an_error_not_an_answer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forged.esdb");
    let options = esdb_write::WriterOptions::default().with_compression(esdb_write::Compression::None);
    let mut writer = esdb_write::Writer::create_with(&path, options).unwrap();
    for ts in 1..=3 {
        writer.add("s", ts, "", [("k", "v")], format!("event {ts}")).unwrap();
    }
    writer.finish().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    // The posting block: 3 postings 0, 1, 2 (deltas +1, +1), stored raw: then 2, 0, 1.
    let at = bytes.windows(5).position(|w| w == [3, 0, 2, 2, 0]).expect("the raw posting block");
    bytes[at + 1..at + 4].copy_from_slice(&[2, 3, 2]);
    let covered = at + 4 + 5;
    let checksum = esdb_format::checksum::xxh3(&bytes[at..covered]);
    bytes[covered..covered + 8].copy_from_slice(&checksum.to_le_bytes());
    let db = open(&bytes).unwrap();
    let space = db.space("s").unwrap().unwrap();
    let result: Result<Vec<_>, _> = space.scan_index("k", "v").unwrap().collect();
    let err = result.expect_err("forged postings");
    assert!(matches!(err.as_decode(), Some(DecodeError::Invalid { .. })), "{err}");
    let result: Result<Vec<_>, _> = space.scan_index("k", "v").unwrap().rev().collect();
    assert!(result.is_err());
    assert!(!db.verify().is_ok());
}

/// A forged compressed block whose later lengths do not add up (checksum sealed again): a lookup
/// of the stream's first event reads only what it needs and gets it; reading on, or from the
/// other end, is an error naming the lengths, never wrong data; `verify` reports the block.
#[test]
fn a_forged_block_gives_its_first_event_then_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("forged.esdb");
    let mut writer = esdb_write::Writer::create(&path).unwrap();
    // Lengths 600, 601, 602 of compressible data: the block header, two 1-bit deltas and three
    // 2-bit lengths lead the payload's first literal run.
    for (ts, len) in [(1, 600), (2, 601), (3, 602)] {
        writer.add("s", ts, "", [("k", "v")], vec![b'a'; len]).unwrap();
    }
    writer.finish().unwrap();
    let mut bytes = std::fs::read(&path).unwrap();
    let header = [3, 0xd8, 0x04, 1, 2, 0x03, 0x24];
    let at = bytes.windows(header.len()).position(|w| w == header).expect("the block header in a literal run");
    let payload_start = at - 1; // the LZ4 token before the literals
    let raw_len = (7u32 + 600 + 601 + 602).to_le_bytes();
    let trailer_at = (at..bytes.len() - 5)
        .find(|&i| bytes[i] == 1 && bytes[i + 1..i + 5] == raw_len)
        .expect("the block's LZ4 trailer");
    // The third length becomes 600: the lengths add up to 2 bytes less than the data.
    bytes[at + 6] = 0x04;
    let checksum = esdb_format::checksum::xxh3(&bytes[payload_start..trailer_at + 5]);
    bytes[trailer_at + 5..trailer_at + 13].copy_from_slice(&checksum.to_le_bytes());

    let db = open(&bytes).unwrap();
    let space = db.space("s").unwrap().unwrap();
    let mut scan = space.scan("").unwrap();
    assert_eq!(scan.next().unwrap().unwrap().data(), &vec![b'a'; 600][..]);
    let err = scan.next().unwrap().unwrap_err();
    assert!(matches!(err.as_decode(), Some(DecodeError::Invalid { field: "event data lengths", .. })), "{err}");
    // The scan stays failed rather than giving the rest from a half-read block.
    assert!(scan.next().is_none_or(|event| event.is_err()));
    let from_the_back = space.scan("").unwrap().next_back().unwrap();
    assert!(from_the_back.is_err());
    assert!(!db.verify().is_ok());
}
