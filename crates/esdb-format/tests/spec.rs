//! docs/FORMAT.md (version 2) and docs/FORMAT-v1.md agree with the code: every fixed layout
//! table in the spec lists the same fields at the same offsets and widths as the `*_OFFSET` and
//! `LEN` constants, and the codec and metadata-key tables list what the code knows.

use esdb_format::v1::{block_index, footer, frame, grouping_table, header};
use esdb_format::v2;

fn spec() -> String {
    spec_file("FORMAT.md")
}

fn spec_file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/../../docs/{name}", env!("CARGO_MANIFEST_DIR")))
        .unwrap_or_else(|err| panic!("docs/{name}: {err}"))
}

/// `(field, offset, width)` rows of the table that follows `heading` in the spec.
fn table(spec: &str, heading: &str) -> Vec<(String, usize, usize)> {
    let start = spec.find(heading).unwrap_or_else(|| panic!("FORMAT.md has no {heading:?}"));
    let mut rows = Vec::new();
    let mut in_table = false;
    for line in spec[start..].lines() {
        if line.starts_with("| field") {
            in_table = true;
            continue;
        }
        if in_table {
            if !line.starts_with('|') {
                break;
            }
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            if let (Ok(offset), Ok(width)) = (cells[2].parse(), cells[3].parse()) {
                rows.push((cells[1].to_owned(), offset, width));
            }
        }
    }
    assert!(!rows.is_empty(), "no table after {heading:?}");
    rows
}

fn check(heading: &str, expected: &[(&str, usize)], len: usize) {
    check_in(&spec(), heading, expected, len);
    if heading != "## Footer" {
        check_in(&spec_file("FORMAT-v1.md"), heading, expected, len);
    }
}

fn check_in(spec: &str, heading: &str, expected: &[(&str, usize)], len: usize) {
    let rows = table(spec, heading);
    let got: Vec<(&str, usize)> = rows.iter().map(|(name, offset, _)| (name.as_str(), *offset)).collect();
    assert_eq!(got, expected, "{heading}: offsets in FORMAT.md differ from the code");
    let (_, last_offset, last_width) = rows.last().unwrap();
    assert_eq!(last_offset + last_width, len, "{heading}: FORMAT.md's fields do not add up to LEN");
    for pair in rows.windows(2) {
        assert_eq!(
            pair[0].1 + pair[0].2,
            pair[1].1,
            "{heading}: {} does not end where {} starts",
            pair[0].0,
            pair[1].0
        );
    }
}

#[test]
fn header_table_matches_constants() {
    check(
        "## Header",
        &[
            ("magic", header::MAGIC_OFFSET),
            ("major", header::MAJOR_OFFSET),
            ("minor", header::MINOR_OFFSET),
            ("flags", header::FLAGS_OFFSET),
            ("checksum", header::CHECKSUM_OFFSET),
        ],
        header::LEN,
    );
}

#[test]
fn footer_table_matches_constants() {
    check(
        "## Footer",
        &[
            ("catalog_root_offset", v2::footer::ROOT_OFFSET_OFFSET),
            ("catalog_root_len", v2::footer::ROOT_LEN_OFFSET),
            ("catalog_height", v2::footer::HEIGHT_OFFSET),
            ("n_spaces", v2::footer::N_SPACES_OFFSET),
            ("n_events", v2::footer::N_EVENTS_OFFSET),
            ("min_ts", v2::footer::MIN_TS_OFFSET),
            ("max_ts", v2::footer::MAX_TS_OFFSET),
            ("max_block_len", v2::footer::MAX_BLOCK_LEN_OFFSET),
            ("incompatible", v2::footer::INCOMPATIBLE_OFFSET),
            ("compatible", v2::footer::COMPATIBLE_OFFSET),
            ("metadata_len", v2::footer::METADATA_LEN_OFFSET),
            ("metadata_offset", v2::footer::METADATA_OFFSET_OFFSET),
            ("tail_offset", v2::footer::TAIL_OFFSET_OFFSET),
            ("major", v2::footer::MAJOR_OFFSET),
            ("minor", v2::footer::MINOR_OFFSET),
            ("reserved", v2::footer::RESERVED_OFFSET),
            ("magic", v2::footer::MAGIC_OFFSET),
            ("checksum", v2::footer::CHECKSUM_OFFSET),
        ],
        v2::footer::LEN,
    );
}

#[test]
fn version_1_footer_table_matches_constants() {
    check_in(
        &spec_file("FORMAT-v1.md"),
        "## Footer",
        &[
            ("catalog_root_offset", footer::ROOT_OFFSET_OFFSET),
            ("catalog_root_len", footer::ROOT_LEN_OFFSET),
            ("catalog_height", footer::HEIGHT_OFFSET),
            ("n_spaces", footer::N_SPACES_OFFSET),
            ("n_events", footer::N_EVENTS_OFFSET),
            ("min_ts", footer::MIN_TS_OFFSET),
            ("max_ts", footer::MAX_TS_OFFSET),
            ("max_block_len", footer::MAX_BLOCK_LEN_OFFSET),
            ("flags", footer::FLAGS_OFFSET),
            ("major", footer::MAJOR_OFFSET),
            ("minor", footer::MINOR_OFFSET),
            ("reserved", footer::RESERVED_OFFSET),
            ("magic", footer::MAGIC_OFFSET),
            ("checksum", footer::CHECKSUM_OFFSET),
        ],
        footer::LEN,
    );
}

#[test]
fn block_index_table_matches_constants() {
    check(
        "## Block index",
        &[
            ("first_ts", block_index::FIRST_TS_OFFSET),
            ("first_item", block_index::FIRST_ITEM_OFFSET),
            ("offset", block_index::BLOCK_OFFSET_OFFSET),
            ("len", block_index::BLOCK_LEN_OFFSET),
        ],
        block_index::ENTRY_LEN,
    );
}

#[test]
fn grouping_table_matches_constants() {
    check(
        "## Grouping table",
        &[
            ("first_event", grouping_table::FIRST_EVENT_OFFSET),
            ("n_events", grouping_table::N_EVENTS_OFFSET),
            ("min_ts", grouping_table::MIN_TS_OFFSET),
            ("handle_offset", grouping_table::HANDLE_OFFSET_OFFSET),
            ("handle_len", grouping_table::HANDLE_LEN_OFFSET),
            ("n_blocks", grouping_table::N_BLOCKS_OFFSET),
        ],
        grouping_table::ENTRY_LEN,
    );
}

/// The codec table lists exactly the codecs the frame decoder knows, by byte.
#[test]
fn codec_table_matches_the_decoder() {
    let spec = spec();
    let start = spec.find("| codec | name |").expect("FORMAT.md has the codec table");
    let bytes: Vec<u8> = spec[start..]
        .lines()
        .skip(2)
        .take_while(|line| line.starts_with('|'))
        .map(|line| line.split('|').nth(1).unwrap().trim().parse().unwrap())
        .collect();
    let every = frame::FrameLimits { zstd_dictionary: true, ..frame::FrameLimits::v2(0) };
    let known: Vec<u8> = (0..=255u8).filter(|&byte| frame::Codec::from_byte(byte, 0, every).is_ok()).collect();
    assert_eq!(bytes, known);
}

/// The metadata key table names every key the format defines.
#[test]
fn metadata_key_table_lists_the_defined_keys() {
    let spec = spec();
    for key in [
        v2::metadata::TIME_UNIT,
        v2::metadata::WRITER,
        v2::metadata::INDEX_NAMES,
        v2::metadata::ZSTD_DICTIONARY,
        v2::metadata::COVERING,
        v2::metadata::COVERING_TIMELINE,
    ] {
        let key = std::str::from_utf8(key).unwrap();
        assert!(spec.contains(&format!("| `{key}` |")), "FORMAT.md's metadata table lacks {key}");
    }
}

/// The feature table lists exactly the bits of both sets the code knows.
#[test]
fn feature_table_lists_the_known_bits() {
    let spec = spec();
    let listed = |set: &str| -> u32 {
        spec.lines()
            .filter_map(|line| line.strip_prefix(&format!("| {set} | ")))
            .map(|rest| 1u32 << rest.split_whitespace().next().unwrap().parse::<u32>().unwrap())
            .fold(0, |acc, bit| acc | bit)
    };
    assert_eq!(listed("incompatible"), v2::features::KNOWN_INCOMPATIBLE);
    assert_eq!(listed("compatible"), v2::features::KNOWN_COMPATIBLE);
}

#[test]
fn stated_sizes_match_constants() {
    let spec = spec();
    assert!(spec_file("FORMAT-v1.md").contains(&format!("The footer is the last {} bytes", footer::LEN)));
    assert!(spec.contains(&format!("read the last {} KiB", v2::SUFFIX_READ_LEN / 1024)));
    for (needle, value) in [
        (format!("Length: {} bytes.", header::LEN), header::LEN),
        (format!("The footer is the last {} bytes", v2::footer::LEN), v2::footer::LEN),
        (format!("Trailer length: {} bytes", frame::TRAILER_LEN), frame::TRAILER_LEN),
        (format!("entries of {} bytes, nothing else", block_index::ENTRY_LEN), block_index::ENTRY_LEN),
        (format!("entries of {} bytes, in grouping name order", grouping_table::ENTRY_LEN), grouping_table::ENTRY_LEN),
    ] {
        assert!(spec.contains(&needle), "FORMAT.md should say {needle:?} ({value})");
    }
    assert!(spec.contains(&format!("{:02x}", esdb_format::MAGIC[0])), "magic");
}
