//! The golden fixtures: small files that cover every feature of format v1, and a manifest of
//! their content that ports and tests read.
//!
//! Generation is deterministic: fixed events, no clock, no hash-map order. Once v1 is released
//! these files never change; `--check` proves the writer still produces them byte for byte.

use std::path::Path;

use anyhow::{bail, Context, Result};
use esdb_write::{Compression, Writer, WriterOptions};
use serde_json::{json, Value};

/// One event of a fixture, in insertion order.
struct Event {
    space: Vec<u8>,
    ts: i64,
    grouping: Vec<u8>,
    indexes: Vec<(Vec<u8>, Vec<u8>)>,
    data: Vec<u8>,
}

fn ev(
    space: impl AsRef<[u8]>,
    ts: i64,
    grouping: impl AsRef<[u8]>,
    indexes: &[(&[u8], &[u8])],
    data: impl AsRef<[u8]>,
) -> Event {
    Event {
        space: space.as_ref().to_vec(),
        ts,
        grouping: grouping.as_ref().to_vec(),
        indexes: indexes.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect(),
        data: data.as_ref().to_vec(),
    }
}

struct Fixture {
    name: &'static str,
    description: &'static str,
    options: WriterOptions,
    events: Vec<Event>,
}

/// A deterministic byte generator (xorshift64*), so fixtures need no random crate.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn fixtures() -> Vec<Fixture> {
    let small = WriterOptions { block_size: 96, postings_per_block: 3, catalog_block_size: 128, ..Default::default() };
    let activity = [
        ("1", 1403534919, "page", r#"{"url":"http://mysite.com/"}"#),
        ("1", 1403534920, "click", r#"{"button_text":"Checkout"}"#),
        ("1", 1403534921, "page", r#"{"url":"http://mysite.com/checkout"}"#),
        ("1", 1403534923, "purchase", r#"{"total":"42.99"}"#),
        ("1", 1403534923, "page", r#"{"url":"http://mysite.com/thankyou"}"#),
        ("2", 1403534919, "page", r#"{"url":"http://mysite.com/"}"#),
        ("2", 1403534920, "click", r#"{"button_text":"About"}"#),
        ("2", 1403534921, "page", r#"{"url":"http://mysite.com/about"}"#),
        ("3", 1403534919, "page", r#"{"url":"http://mysite.com/"}"#),
        ("3", 1403534920, "click", r#"{"button_text":"About"}"#),
        ("3", 1403534921, "page", r#"{"url":"http://mysite.com/about"}"#),
        ("3", 1403534922, "click", r#"{"button_text":"Checkout"}"#),
        ("3", 1403534923, "purchase", r#"{"total":"126.99"}"#),
        ("3", 1403534923, "page", r#"{"url":"http://mysite.com/thankyou"}"#),
    ];

    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut many = Vec::new();
    for i in 0..400i64 {
        let space = format!("customer-{}", i % 13);
        let grouping = ["", "web", "mobile", "api"][(i % 4) as usize];
        let kind = ["page", "click", "purchase"][((i * 7) % 3) as usize];
        let ts = 1_700_000_000 + (i * 37) % 150 - 20;
        let data = format!(r#"{{"n":{i},"kind":"{kind}","pad":"{}"}}"#, "x".repeat((i % 17) as usize));
        many.push(ev(
            space,
            ts,
            grouping,
            &[(b"type", kind.as_bytes()), (b"parity", if i % 2 == 0 { b"even" } else { b"odd" })],
            data,
        ));
    }

    vec![
        Fixture { name: "empty", description: "no events at all", options: WriterOptions::default(), events: vec![] },
        Fixture {
            name: "one_event",
            description: "a single event in the default grouping, no index",
            options: WriterOptions::default(),
            events: vec![ev("s", 42, "", &[], "hello")],
        },
        Fixture {
            name: "activity",
            description: "the original ESDB README example: customers 1, 2 and 3 with a `type` index",
            options: WriterOptions::default(),
            events: activity.iter().map(|(c, ts, kind, data)| ev(c, *ts, "", &[(b"type", kind.as_bytes())], data)).collect(),
        },
        Fixture {
            name: "edge_cases",
            description: "equal and extreme timestamps, empty data, empty index value, NUL bytes in every name, duplicate index pairs, several groupings",
            options: small.clone(),
            events: vec![
                ev("a", 0, "", &[(b"t", b"x"), (b"t", b"x")], ""),
                ev("a", 0, "g", &[(b"t", b"")], "second at 0"),
                ev("a", -5, "g", &[(b"t", b"x"), (b"u", b"y")], "negative"),
                ev("a", i64::MIN, "", &[], "min"),
                ev("a", i64::MAX, "g", &[(b"t\0", b"\0")], "max"),
                ev("a\0b", 7, "\0", &[(b"\0", b"v\0")], b"\x00\x01\xff binary"),
                ev("a", 0, "", &[(b"t", b"x")], "third at 0"),
                ev(b"\xff\xfe", 1, "", &[], "non-UTF-8 space id"),
            ],
        },
        Fixture {
            name: "many_blocks",
            description: "13 spaces, 4 groupings each, two indexes; tiny blocks and catalog blocks give many data and posting blocks and a catalog tree of several levels",
            options: small,
            events: many,
        },
        Fixture {
            name: "large_payloads",
            description: "a compressible 100 KiB event (LZ4 block) and an incompressible 5 KiB event (raw block)",
            options: WriterOptions::default(),
            events: vec![ev("big", 1, "", &[(b"kind", b"text")], "ESDB ".repeat(20_480)), ev("big", 2, "", &[(b"kind", b"noise")], noise.bytes(5_120))],
        },
        Fixture {
            name: "uncompressed",
            description: "compression off: every block stored raw",
            options: WriterOptions { compression: Compression::None, block_size: 64, ..Default::default() },
            events: (0..20).map(|i| ev("s", i / 2, if i % 3 == 0 { "x" } else { "" }, &[(b"mod", (i % 3).to_string().as_bytes())], "same text ".repeat(4))).collect(),
        },
    ]
}

/// A byte string as JSON: a string when it is UTF-8 without NUL, else `{"hex": "..."}`.
fn bytes_json(bytes: &[u8]) -> Value {
    match std::str::from_utf8(bytes) {
        Ok(text) if !text.contains('\0') => Value::String(text.to_owned()),
        _ => json!({ "hex": bytes.iter().map(|b| format!("{b:02x}")).collect::<String>() }),
    }
}

fn options_json(options: &WriterOptions) -> Value {
    json!({
        "block_size": options.block_size,
        "postings_per_block": options.postings_per_block,
        "catalog_block_size": options.catalog_block_size,
        "compression": match options.compression { Compression::None => "none", _ => "lz4" },
    })
}

fn write_fixture(fixture: &Fixture, dir: &Path) -> Result<Vec<u8>> {
    let path = dir.join(format!("{}.esdb", fixture.name));
    let mut writer = Writer::create_with(&path, fixture.options.clone())?;
    for e in &fixture.events {
        writer.add(&e.space, e.ts, &e.grouping, e.indexes.iter().map(|(n, v)| (n, v)), &e.data)?;
    }
    writer.finish()?;
    Ok(std::fs::read(&path)?)
}

fn manifest(fixtures: &[Fixture], files: &[Vec<u8>]) -> String {
    let entries: Vec<Value> = fixtures
        .iter()
        .zip(files)
        .map(|(fixture, bytes)| {
            json!({
                "file": format!("{}.esdb", fixture.name),
                "description": fixture.description,
                "file_len": bytes.len(),
                "writer_options": options_json(&fixture.options),
                "events_in_insertion_order": fixture.events.iter().map(|e| json!({
                    "space": bytes_json(&e.space),
                    "timestamp": e.ts,
                    "grouping": bytes_json(&e.grouping),
                    "indexes": e.indexes.iter().map(|(n, v)| json!([bytes_json(n), bytes_json(v)])).collect::<Vec<_>>(),
                    "data": bytes_json(&e.data),
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    let manifest = json!({
        "format_version": "1.0",
        "about": "Golden ESDB v1 files. Each entry lists the events in the order they were added, with the writer options used. Byte strings are JSON strings, or {\"hex\": ...} when not UTF-8 or containing NUL. Reading a file must give, per space, the events ordered by (timestamp, insertion order) within each grouping and index value.",
        "fixtures": entries,
    });
    serde_json::to_string_pretty(&manifest).expect("manifest is plain JSON") + "\n"
}

/// A hex dump in the style of `xxd`, used for the worked example in docs/FORMAT.md.
fn hex_dump(bytes: &[u8]) -> String {
    let mut out = String::new();
    for (row, chunk) in bytes.chunks(16).enumerate() {
        let hex: Vec<String> = chunk.iter().map(|b| format!("{b:02x}")).collect();
        let ascii: String = chunk.iter().map(|&b| if (0x20..0x7f).contains(&b) { b as char } else { '.' }).collect();
        out.push_str(&format!("{:08x}: {:<47}  {ascii}\n", row * 16, hex.join(" ")));
    }
    out
}

const DUMP_BEGIN: &str = "<!-- BEGIN one_event.esdb hex dump: generated by `cargo xtask fixtures` -->\n```text\n";
const DUMP_END: &str = "```\n<!-- END one_event.esdb hex dump -->";

fn format_md_with_dump(format_md: &str, dump: &str) -> Result<String> {
    let (Some(begin), Some(end)) = (format_md.find(DUMP_BEGIN), format_md.find(DUMP_END)) else {
        bail!("docs/FORMAT.md lacks the hex dump markers");
    };
    Ok(format!("{}{DUMP_BEGIN}{dump}{}", &format_md[..begin], &format_md[end..]))
}

use crate::root;

struct Generated {
    files: Vec<(String, Vec<u8>)>,
    format_md: String,
}

fn generate() -> Result<Generated> {
    let fixtures = fixtures();
    let temp = tempfile::tempdir()?;
    let bytes: Vec<Vec<u8>> = fixtures.iter().map(|f| write_fixture(f, temp.path())).collect::<Result<_>>()?;
    let mut files: Vec<(String, Vec<u8>)> =
        fixtures.iter().zip(&bytes).map(|(f, b)| (format!("{}.esdb", f.name), b.clone())).collect();
    files.push(("manifest.json".into(), manifest(&fixtures, &bytes).into_bytes()));
    let one_event = &bytes[fixtures.iter().position(|f| f.name == "one_event").expect("fixture exists")];
    let format_md_path = root().join("docs/FORMAT.md");
    let format_md =
        std::fs::read_to_string(&format_md_path).with_context(|| format!("reading {}", format_md_path.display()))?;
    Ok(Generated { files, format_md: format_md_with_dump(&format_md, &hex_dump(one_event))? })
}

/// `cargo xtask fixtures`.
pub fn write() -> Result<()> {
    let generated = generate()?;
    let dir = root().join("fixtures/v1");
    std::fs::create_dir_all(&dir)?;
    for (name, bytes) in &generated.files {
        std::fs::write(dir.join(name), bytes)?;
    }
    std::fs::write(root().join("docs/FORMAT.md"), generated.format_md)?;
    println!("wrote {} files to {}", generated.files.len(), dir.display());
    Ok(())
}

/// `cargo xtask fixtures --check`.
pub fn check() -> Result<()> {
    let generated = generate()?;
    let dir = root().join("fixtures/v1");
    let mut stale = Vec::new();
    for (name, bytes) in &generated.files {
        match std::fs::read(dir.join(name)) {
            Ok(committed) if committed == *bytes => {}
            Ok(_) => stale.push(format!("fixtures/v1/{name} differs from what the writer produces")),
            Err(err) => stale.push(format!("fixtures/v1/{name}: {err}")),
        }
    }
    if std::fs::read_to_string(root().join("docs/FORMAT.md"))? != generated.format_md {
        stale.push("docs/FORMAT.md hex dump is out of date".into());
    }
    if !stale.is_empty() {
        bail!("{}\nThe v1 fixtures are a compatibility contract: if the change is intended (and no v1 file was released), run `cargo xtask fixtures` and commit; otherwise fix the writer", stale.join("\n"));
    }
    println!("fixtures/v1: {} files match the writer byte for byte", generated.files.len());
    Ok(())
}
