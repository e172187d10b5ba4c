//! `esdb dump`: the structure of a file, block by block, for debugging and for porting.

use std::fmt::Write as _;
use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Result};
use esdb_format::v1::block_index::BlockIndex;
use esdb_format::v1::catalog::{GroupingEntry, IndexValueEntry, SpaceSummary, Stats, StreamRef};
use esdb_format::v1::frame::Handle;
use esdb_format::v1::grouping_table::GroupingTable;
use esdb_format::v1::key::CatalogKey;
use esdb_format::v2::covering::CoveringEntry;
use esdb_read::{CatalogStep, CatalogWalk, Db};

use crate::output::{self, display_bytes};
use crate::Outcome;

/// Print the structure of a file: header, footer, the catalog tree, and for each space its
/// summary, grouping table, groupings and index values with their block indexes.
///
/// Offsets are absolute file offsets; see docs/FORMAT.md for every field.
#[derive(Debug, clap::Args)]
#[command(after_help = "Examples:\n  esdb dump activity.esdb | less\n  esdb dump activity.esdb --space customer-1")]
pub struct Args {
    /// The ESDB file (`-`: read it from standard input).
    file: PathBuf,
    /// Only this space (the catalog tree is still listed).
    #[arg(long, value_name = "ID")]
    space: Option<String>,
}

fn stats(s: &Stats) -> String {
    format!("{} events, ts {}..={}", s.n_events, s.min_ts, s.max_ts)
}

fn handle(h: &Handle) -> String {
    format!("@{} len {}", h.offset, h.len)
}

fn stream(db: &Db, out: &mut String, indent: &str, stream: &StreamRef, min_ts: i64) -> Result<()> {
    let payload = match stream.single_block_entry(min_ts) {
        Some(entry) => {
            writeln!(out, "{indent}stream: 1 block, no block index")?;
            let mut payload = Vec::new();
            entry.encode(&mut payload);
            payload
        }
        None => {
            writeln!(out, "{indent}stream: {} blocks, block index {}", stream.n_blocks, handle(&stream.handle))?;
            db.raw_block(stream.handle, "block index")?.to_vec()
        }
    };
    let index = BlockIndex::decode(&payload, stream.handle.offset, stream.n_blocks)?;
    for idx in 0..index.len() {
        let entry = index.entry(idx);
        writeln!(
            out,
            "{indent}  block {idx}: first_ts {} first_item {} {}",
            entry.first_ts,
            entry.first_item,
            handle(&entry.block)
        )?;
    }
    Ok(())
}

/// A leaf entry of a catalog tree: key, value and absolute offset.
type LeafEntry = (Vec<u8>, Vec<u8>, u64);

/// Lists a catalog tree (the file's, or its covering catalog) block by block and returns its
/// leaf entries in key order: key, value and offset. The reader's walk checks the tree as it
/// goes, so a crafted file whose interior blocks share children fails at the first leaf seen
/// twice instead of being listed once per path.
fn walk_tree(out: &mut String, walk: CatalogWalk) -> Result<Vec<LeafEntry>> {
    let mut leaves = Vec::new();
    for step in walk {
        match step? {
            CatalogStep::Block { handle: block, level, depth, n_entries, .. } => {
                writeln!(out, "{}level {level} block {}: {n_entries} entries", "  ".repeat(depth), handle(&block))?;
            }
            CatalogStep::Entry { key, value, at } => leaves.push((key.to_vec(), value.to_vec(), at)),
        }
    }
    Ok(leaves)
}

pub fn run(args: Args) -> Result<Outcome> {
    let db = super::open_db(&args.file)?;
    let only = args.space.as_deref().map(output::arg_bytes).transpose()?;
    let mut out = String::new();
    let header = db.header();
    let footer = db.footer();
    writeln!(out, "file {} ({} bytes)", args.file.display(), db.file_len())?;
    writeln!(out, "header @0 len 24: magic ok, version {}.{}", header.major, header.minor)?;
    let footer_len = footer.encoded_len() as u64;
    writeln!(out, "footer @{} len {footer_len}:", db.file_len() - footer_len)?;
    if footer.major >= 2 {
        writeln!(
            out,
            "  features incompatible {:#x} compatible {:#x}, tail region @{}, metadata {}",
            footer.features.incompatible,
            footer.features.compatible,
            footer.tail_offset,
            footer.metadata.as_ref().map_or("none".to_owned(), handle)
        )?;
        for (key, value) in db.metadata().iter() {
            writeln!(out, "  metadata {}: {}", display_bytes(key), display_bytes(value))?;
        }
    }
    writeln!(out, "  catalog root {} height {}", handle(&footer.catalog_root), footer.catalog_height)?;
    writeln!(
        out,
        "  spaces {} events {} ts {}..={} max block len {}",
        footer.n_spaces, footer.n_events, footer.min_ts, footer.max_ts, footer.max_block_len
    )?;
    writeln!(out, "catalog:")?;

    let leaves = walk_tree(&mut out, db.walk_catalog())?;
    let covering = db.metadata().covering();
    let covering_leaves = match &covering {
        Some(catalog) => {
            writeln!(
                out,
                "covering catalog (indexes {}):",
                catalog.names.iter().map(|n| display_bytes(n)).collect::<Vec<_>>().join(", ")
            )?;
            match db.walk_covering_catalog() {
                Some(walk) => walk_tree(&mut out, walk)?,
                None => Vec::new(),
            }
        }
        None => Vec::new(),
    };
    let timeline_leaves = match db.walk_covering_timeline_catalog() {
        Some(walk) => {
            writeln!(out, "covering-timeline catalog:")?;
            walk_tree(&mut out, walk)?
        }
        None => Vec::new(),
    };

    // Index value keys and their first timestamps, for the covering streams.
    let mut main_keys: Vec<(Vec<u8>, i64)> = Vec::new();
    // Summary keys of spaces with a timeline and their first timestamps, for covered timelines.
    let mut timeline_keys: Vec<(Vec<u8>, i64)> = Vec::new();
    for (key, value, at) in leaves {
        let raw_key = key;
        let key = CatalogKey::decode(&raw_key, at)?;
        if only.as_deref().is_some_and(|only| only != key.space()) {
            continue;
        }
        match key {
            CatalogKey::Grouping { space, grouping } => {
                let entry = GroupingEntry::decode(&value, at)?;
                writeln!(
                    out,
                    "space {:?} grouping {:?} (entry @{at}): {}, first event {}",
                    display_bytes(&space),
                    display_bytes(&grouping),
                    stats(&entry.stats),
                    entry.first_event
                )?;
                stream(&db, &mut out, "  ", &entry.stream, entry.stats.min_ts)?;
            }
            CatalogKey::IndexValue { space, name, value: index_value } => {
                let entry = IndexValueEntry::decode(&value, at)?;
                if covering.as_ref().is_some_and(|catalog| catalog.covers(&name)) {
                    main_keys.push((raw_key.clone(), entry.stats.min_ts));
                }
                writeln!(
                    out,
                    "space {:?} index {:?}={:?} (entry @{at}): {}",
                    display_bytes(&space),
                    display_bytes(&name),
                    display_bytes(&index_value),
                    stats(&entry.stats)
                )?;
                stream(&db, &mut out, "  ", &entry.stream, entry.stats.min_ts)?;
            }
            CatalogKey::Space { space } => {
                let summary = SpaceSummary::decode(&value, at)?;
                if summary.timeline.is_some() {
                    timeline_keys.push((raw_key.clone(), summary.stats.min_ts));
                }
                writeln!(
                    out,
                    "space {:?} summary (entry @{at}): {}, {} groupings, {} index values",
                    display_bytes(&space),
                    stats(&summary.stats),
                    summary.n_groupings,
                    summary.n_index_values
                )?;
                if summary.grouping_table == Handle::default() && header.major >= 2 {
                    writeln!(out, "  grouping table: none (one grouping)")?;
                } else {
                    writeln!(out, "  grouping table {}:", handle(&summary.grouping_table))?;
                    let payload = db.raw_block(summary.grouping_table, "grouping table")?;
                    let table = GroupingTable::decode(
                        &payload,
                        summary.grouping_table.offset,
                        summary.n_groupings,
                        summary.stats.n_events,
                    )?;
                    for idx in 0..table.len() {
                        let entry = table.entry(idx);
                        writeln!(
                            out,
                            "    {idx}: first event {} events {} min_ts {} stream {} blocks {}",
                            entry.first_event,
                            entry.n_events,
                            entry.min_ts,
                            entry.stream.n_blocks,
                            handle(&entry.stream.handle)
                        )?;
                    }
                }
                match &summary.timeline {
                    None => writeln!(out, "  timeline: none (one grouping)")?,
                    Some(timeline) => {
                        writeln!(out, "  timeline:")?;
                        stream(&db, &mut out, "    ", timeline, summary.stats.min_ts)?;
                    }
                }
            }
        }
    }
    for (key, value, at) in covering_leaves {
        let CatalogKey::IndexValue { space, name, value: index_value } = CatalogKey::decode(&key, at)? else {
            bail!("covering catalog entry at offset {at} is not an index value (a corrupt or crafted file; run `esdb verify`)");
        };
        if only.as_deref().is_some_and(|only| only != &space[..]) {
            continue;
        }
        let entry = CoveringEntry::decode(&value, at)?;
        // The stream's item count and first timestamp are those of the main catalog's entry.
        let Ok(main) = main_keys.binary_search_by(|(main_key, _)| main_key[..].cmp(&key)) else {
            bail!("covering catalog entry at offset {at} has no index value in the catalog (run `esdb verify`)");
        };
        let min_ts = main_keys[main].1;
        writeln!(
            out,
            "space {:?} covering index {:?}={:?} (entry @{at}):",
            display_bytes(&space),
            display_bytes(&name),
            display_bytes(&index_value),
        )?;
        stream(&db, &mut out, "  ", &entry.stream, min_ts)?;
    }
    for (key, value, at) in timeline_leaves {
        let CatalogKey::Space { space } = CatalogKey::decode(&key, at)? else {
            bail!("covering-timeline catalog entry at offset {at} is not a space summary key (a corrupt or crafted file; run `esdb verify`)");
        };
        if only.as_deref().is_some_and(|only| only != &space[..]) {
            continue;
        }
        let entry = CoveringEntry::decode(&value, at)?;
        let Ok(main) = timeline_keys.binary_search_by(|(main_key, _)| main_key[..].cmp(&key)) else {
            bail!("covering-timeline catalog entry at offset {at} has no space with a timeline in the catalog (run `esdb verify`)");
        };
        writeln!(out, "space {:?} covering timeline (entry @{at}):", display_bytes(&space))?;
        stream(&db, &mut out, "  ", &entry.stream, timeline_keys[main].1)?;
    }
    let mut stdout = output::open(None)?;
    stdout.write_all(out.as_bytes())?;
    stdout.flush()?;
    Ok(Outcome::Ok)
}
