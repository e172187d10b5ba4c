//! The example from the original ESDB README: website activity of three customers, with one
//! secondary index on the event type.
//!
//! Run with `cargo run -p esdb-read --example activity [PATH]`; it writes the file to PATH
//! (default: a temporary directory) and prints four scans.

use std::io::Write;
use std::path::Path;

use esdb_read::{Db, Event};
use esdb_write::Writer;

/// (customer, timestamp, event type, data) in the order the original example adds them.
const EVENTS: [(&str, i64, &str, &str); 14] = [
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

/// Writes the example file to `path`.
pub fn write_activity(path: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let mut writer = Writer::create(path)?;
    for (customer, ts, kind, data) in EVENTS {
        // Space: the customer. Grouping "": no grouping. One index: the event type.
        writer.add(customer, ts, "", [("type", kind)], data)?;
    }
    writer.finish()?;
    Ok(())
}

/// Prints the four scans of the original README to `out`.
pub fn print_activity(path: &Path, out: &mut impl Write) -> Result<(), Box<dyn std::error::Error>> {
    let db = Db::open(path)?;
    let customer = |id: &str| db.space(id).map(|space| space.expect("the example writes customers 1, 2 and 3"));

    writeln!(out, "activity for 1:")?;
    print_events(out, customer("1")?.scan("")?.rev())?;
    writeln!(out, "\nactivity for 2:")?;
    print_events(out, customer("2")?.scan("")?.rev())?;
    writeln!(out, "\npurchases for 1:")?;
    print_events(out, customer("1")?.scan_index("type", "purchase")?)?;
    writeln!(out, "\nclicks for 3:")?;
    print_events(out, customer("3")?.scan_index("type", "click")?.rev())?;
    Ok(())
}

fn print_events(
    out: &mut impl Write,
    events: impl Iterator<Item = esdb_read::Result<Event>>,
) -> Result<(), Box<dyn std::error::Error>> {
    for event in events {
        writeln!(out, "{}", String::from_utf8_lossy(event?.data()))?;
    }
    Ok(())
}

#[allow(dead_code)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temp = tempfile::tempdir()?;
    let path = match std::env::args_os().nth(1) {
        Some(path) => std::path::PathBuf::from(path),
        None => temp.path().join("activity.esdb"),
    };
    write_activity(&path)?;
    print_activity(&path, &mut std::io::stdout().lock())?;
    Ok(())
}
