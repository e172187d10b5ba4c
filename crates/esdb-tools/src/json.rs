//! How bytes appear in JSON output, and how they are read back.
//!
//! - `scan` and `store read` embed event data as written when it is one valid JSON value on one
//!   line without surrounding whitespace, else as a string when it is UTF-8, else as base64 under
//!   `data_b64`.
//! - `export` must be lossless, so it embeds data as JSON only when the exact bytes come back
//!   from the JSON text: a single JSON value that is not a string (a string would read back as
//!   its contents), with no surrounding whitespace and no line breaks. Anything else is a string
//!   when UTF-8, else base64 under a `_b64` key.

mod surely;

use anyhow::{anyhow, bail, Result};
use base64::Engine as _;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// A JSON object with each value kept as its exact text.
pub type RawObject = std::collections::BTreeMap<String, Box<RawValue>>;

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// `bytes` as JSON if it is one JSON value whose text is exactly `bytes` and fits on one line.
fn as_raw_json(bytes: &[u8]) -> Option<Box<RawValue>> {
    let text = std::str::from_utf8(bytes).ok()?;
    if text.contains(['\n', '\r']) {
        return None;
    }
    let raw: Box<RawValue> = serde_json::from_str(text).ok()?;
    // A value serde_json cannot hold (e.g. the number 1e400) would make the whole line
    // unreadable; such data goes out as a string instead.
    (raw.get() == text && serde_json::from_str::<Value>(text).is_ok()).then_some(raw)
}

/// Writes `bytes` as the value of `key` for `scan` and `store read`, directly into a JSON
/// object being built as text: as written when it is one JSON value on one line without
/// surrounding whitespace (the stored bytes, never reformatted), else as [`write_bytes`].
pub fn write_scan_data(out: &mut String, key: &str, bytes: &[u8]) {
    match json_text(bytes) {
        Some(text) => {
            out.push_str(&serde_json::to_string(key).expect("a key serializes"));
            out.push(':');
            out.push_str(text);
        }
        None => write_bytes(out, key, bytes),
    }
}

/// `bytes` as text when it is exactly one JSON value that any JSON reader takes back: valid
/// (checked without building the value), on one line, without surrounding whitespace.
fn json_text(bytes: &[u8]) -> Option<&str> {
    let surrounded = |byte: Option<&u8>| matches!(byte, Some(b' ' | b'\t' | b'\n' | b'\r') | None);
    if surrounded(bytes.first()) || surrounded(bytes.last()) || bytes.contains(&b'\n') || bytes.contains(&b'\r') {
        return None;
    }
    let text = std::str::from_utf8(bytes).ok()?;
    if !surely::readable(bytes) {
        serde_json::from_str::<Readable>(text).ok()?;
    }
    Some(text)
}

/// Any JSON value that serde_json reads back, visited without being built: unlike
/// [`serde::de::IgnoredAny`] it parses numbers, so that one no reader holds (`1e400`) fails.
struct Readable;

impl<'de> serde::Deserialize<'de> for Readable {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Readable, D::Error> {
        deserializer.deserialize_any(ReadableVisitor)
    }
}

struct ReadableVisitor;

impl<'de> serde::de::Visitor<'de> for ReadableVisitor {
    type Value = Readable;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<Readable, E> {
        Ok(Readable)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Readable, E> {
        Ok(Readable)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Readable, E> {
        Ok(Readable)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Readable, E> {
        Ok(Readable)
    }

    fn visit_str<E>(self, _: &str) -> Result<Readable, E> {
        Ok(Readable)
    }

    fn visit_unit<E>(self) -> Result<Readable, E> {
        Ok(Readable)
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Readable, A::Error> {
        while seq.next_element::<Readable>()?.is_some() {}
        Ok(Readable)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Readable, A::Error> {
        while map.next_entry::<serde::de::IgnoredAny, Readable>()?.is_some() {}
        Ok(Readable)
    }
}

/// Writes `bytes` as the value of `key` for `export`, directly into a JSON object being built as
/// text: raw JSON when lossless (see the module docs), else as [`write_bytes`] writes it.
pub fn write_export_data(out: &mut String, key: &str, bytes: &[u8]) {
    match as_raw_json(bytes).filter(|raw| !raw.get().starts_with('"')) {
        Some(raw) => {
            out.push_str(&serde_json::to_string(key).expect("a key serializes"));
            out.push(':');
            out.push_str(raw.get());
        }
        None => write_bytes(out, key, bytes),
    }
}

/// Writes `"key":"text"` or `"key_b64":"base64"`.
pub fn write_bytes(out: &mut String, key: &str, bytes: &[u8]) {
    match std::str::from_utf8(bytes) {
        Ok(_) => out.push_str(&serde_json::to_string(key).expect("a key serializes")),
        Err(_) => out.push_str(&serde_json::to_string(&format!("{key}_b64")).expect("a key serializes")),
    }
    out.push(':');
    match std::str::from_utf8(bytes) {
        Ok(text) => out.push_str(&serde_json::to_string(text).expect("a string serializes")),
        Err(_) => out.push_str(&serde_json::to_string(&b64().encode(bytes)).expect("a string serializes")),
    }
}

/// Reads the byte string stored under `key` or `key_b64` of an export object; `None` if neither
/// is present.
pub fn read_bytes(object: &Map<String, Value>, key: &str) -> Result<Option<Vec<u8>>> {
    let b64_key = format!("{key}_b64");
    match (object.get(key), object.get(&b64_key)) {
        (Some(_), Some(_)) => bail!("both {key:?} and {b64_key:?} are present"),
        (Some(Value::String(text)), None) => Ok(Some(text.as_bytes().to_vec())),
        (Some(other), None) => bail!("{key:?} must be a string, found {other}"),
        (None, Some(Value::String(text))) => {
            b64().decode(text).map(Some).map_err(|err| anyhow!("{b64_key:?} is not valid base64: {err}"))
        }
        (None, Some(other)) => bail!("{b64_key:?} must be a base64 string, found {other}"),
        (None, None) => Ok(None),
    }
}

/// Reads export data: a string is its UTF-8 bytes, any other JSON value its exact text, and
/// `data_b64` base64.
pub fn read_export_data(object: &Map<String, Value>, raw: &RawObject) -> Result<Vec<u8>> {
    match (raw.get("data"), object.get("data_b64")) {
        (Some(_), Some(_)) => bail!("both \"data\" and \"data_b64\" are present"),
        (Some(value), None) => match object.get("data") {
            Some(Value::String(text)) => Ok(text.as_bytes().to_vec()),
            _ => Ok(value.get().as_bytes().to_vec()),
        },
        (None, Some(_)) => Ok(read_bytes(object, "data")?.unwrap_or_default()),
        (None, None) => bail!("missing field \"data\" (or \"data_b64\")"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(bytes: &[u8]) -> Vec<u8> {
        let mut line = String::from("{");
        write_export_data(&mut line, "data", bytes);
        line.push('}');
        assert!(!line.contains('\n'));
        let object: Map<String, Value> = serde_json::from_str(&line).unwrap();
        let raw: RawObject = serde_json::from_str(&line).unwrap();
        read_export_data(&object, &raw).unwrap()
    }

    #[test]
    fn export_data_roundtrips_exactly() {
        for bytes in [
            &br#"{"b":1,"a":[1.50,2]}"#[..],
            b"42",
            b"\"quoted\"",
            b"plain text",
            b" {\"a\":1}",
            b"{\n}",
            b"\xff\x00binary",
            b"",
            b"null",
            b"1e400",
        ] {
            assert_eq!(roundtrip(bytes), bytes, "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn scan_data_is_written_as_stored_when_it_is_json() {
        let written = |bytes: &[u8]| {
            let mut line = String::from("{");
            write_scan_data(&mut line, "data", bytes);
            line.push('}');
            serde_json::from_str::<Value>(&line).expect("the line is JSON");
            line
        };
        for json in [&br#"{"z":1,"a":[2,{"b":null}]}"#[..], br#"{"a": 1.50}"#, br#"["x\u00e9",true]"#, b"42", b"\"q\""]
        {
            assert_eq!(written(json), format!("{{\"data\":{}}}", String::from_utf8_lossy(json)));
        }
        assert_eq!(written(b"plain text"), r#"{"data":"plain text"}"#);
        assert_eq!(written(b" {\"a\":1}"), r#"{"data":" {\"a\":1}"}"#);
        assert_eq!(written(b"{\n}"), r#"{"data":"{\n}"}"#);
        assert_eq!(written(b"1e400"), r#"{"data":"1e400"}"#, "a number no reader holds goes out as text");
        assert_eq!(written(b""), r#"{"data":""}"#);
        assert_eq!(written(b"\xff"), r#"{"data_b64":"/w=="}"#);
    }
}
