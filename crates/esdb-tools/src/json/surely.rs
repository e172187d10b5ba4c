//! A quick check that text is one JSON value serde_json reads, for the common case of event
//! data: it says yes only when sure, and otherwise leaves the answer to serde_json.
//!
//! Sure means: objects, arrays, strings, `true`, `false`, `null` and numbers without an exponent
//! and of at most [`MAX_DIGITS`] digits (so that none overflows a float), strings without
//! surrogate escapes (serde_json refuses unpaired ones), at most [`MAX_DEPTH`] levels deep
//! (serde_json stops at 128), nothing after the value.

/// Digits of a number this check accepts; longer numbers are left to serde_json.
const MAX_DIGITS: usize = 300;
/// Nesting this check accepts; deeper values are left to serde_json.
const MAX_DEPTH: u32 = 100;

/// True when `text` is certainly one JSON value that serde_json reads; false when it is not or
/// when this check cannot tell.
pub(super) fn readable(text: &[u8]) -> bool {
    let mut parser = Parser { text, at: 0, depth: 0 };
    parser.value() && parser.at == text.len()
}

struct Parser<'a> {
    text: &'a [u8],
    at: usize,
    depth: u32,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.at += 1;
        }
    }

    /// Takes `byte` (after optional whitespace) if it comes next.
    fn take(&mut self, byte: u8) -> bool {
        self.skip_space();
        let next = self.peek() == Some(byte);
        if next {
            self.at += 1;
        }
        next
    }

    fn value(&mut self) -> bool {
        self.skip_space();
        match self.peek() {
            Some(b'{') => self.nested(b'}', Parser::member),
            Some(b'[') => self.nested(b']', Parser::value),
            Some(b'"') => self.string(),
            Some(b't') => self.word(b"true"),
            Some(b'f') => self.word(b"false"),
            Some(b'n') => self.word(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    /// An object or array: its opening byte, then `item`s separated by commas, then `close`.
    fn nested(&mut self, close: u8, item: fn(&mut Self) -> bool) -> bool {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return false;
        }
        self.at += 1;
        if !self.take(close) {
            loop {
                if !item(self) {
                    return false;
                }
                if self.take(close) {
                    break;
                }
                if !self.take(b',') {
                    return false;
                }
            }
        }
        self.depth -= 1;
        true
    }

    fn member(&mut self) -> bool {
        self.skip_space();
        self.peek() == Some(b'"') && self.string() && self.take(b':') && self.value()
    }

    fn word(&mut self, word: &[u8]) -> bool {
        let next = self.text[self.at..].starts_with(word);
        self.at += word.len();
        next
    }

    fn string(&mut self) -> bool {
        self.at += 1;
        loop {
            match self.peek() {
                None => return false,
                Some(b'"') => {
                    self.at += 1;
                    return true;
                }
                Some(b'\\') => match self.text.get(self.at + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => self.at += 2,
                    Some(b'u') => {
                        let Some(hex) = self.text.get(self.at + 2..self.at + 6) else { return false };
                        if !hex.iter().all(u8::is_ascii_hexdigit) {
                            return false;
                        }
                        let unit =
                            hex.iter().fold(0u32, |unit, &digit| unit << 4 | (digit as char).to_digit(16).unwrap_or(0));
                        if (0xD800..=0xDFFF).contains(&unit) {
                            return false;
                        }
                        self.at += 6;
                    }
                    _ => return false,
                },
                Some(byte) if byte < 0x20 => return false,
                Some(_) => self.at += 1,
            }
        }
    }

    fn number(&mut self) -> bool {
        let start = self.at;
        if self.peek() == Some(b'-') {
            self.at += 1;
        }
        match self.peek() {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => self.digits(),
            _ => return false,
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            if !matches!(self.peek(), Some(b'0'..=b'9')) {
                return false;
            }
            self.digits();
        }
        !matches!(self.peek(), Some(b'e' | b'E')) && self.at - start <= MAX_DIGITS
    }

    fn digits(&mut self) {
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::readable;

    fn serde_reads(text: &str) -> bool {
        serde_json::from_str::<super::super::Readable>(text).is_ok()
    }

    #[test]
    fn sure_of_the_common_cases() {
        for text in [
            r#"{"z":1,"a":[2,{"b":null}],"c":"x\u00e9\n","d":-0.50,"e":true,"f":false}"#,
            r#"{ "a" : [ 1 , 2 ] }"#,
            "[]",
            "{}",
            "\"\"",
            "-0",
            "123456789012345678901234567890",
        ] {
            assert!(readable(text.as_bytes()), "{text}");
            assert!(serde_reads(text), "{text}");
        }
        for unsure in ["1e400", "1E5", r#""\ud800""#, "01", "[1,]", "{\"a\"}", "nul", "1.", "-", "\"\u{1}\""] {
            assert!(!readable(unsure.as_bytes()), "{unsure}");
        }
        let deep = format!("{}{}", "[".repeat(101), "]".repeat(101));
        assert!(!readable(deep.as_bytes()));
    }

    fn jsonish() -> impl Strategy<Value = String> {
        // Fragments JSON is made of, and a few that break it, in random order.
        let fragment = prop::sample::select(vec![
            "{", "}", "[", "]", ",", ":", "\"", "\"a\"", "\\", "\\u00e9", "\\ud83d", "\\n", "\\x", "0", "1", "-", ".",
            "e", "5", "true", "false", "null", "nul", " ", "\t", "\u{1}", "é", "a", "1e400", "0.5", "01",
        ]);
        prop::collection::vec(fragment, 0..24).prop_map(|parts| parts.concat())
    }

    fn value() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            "\\PC{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(serde_json::Value::from),
                prop::collection::vec(("\\PC{0,6}", inner), 0..6)
                    .prop_map(|members| serde_json::Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Whatever the check is sure of, serde_json reads.
        #[test]
        fn sure_only_of_what_serde_json_reads(text in jsonish()) {
            if readable(text.as_bytes()) {
                prop_assert!(serde_reads(&text), "{text:?}");
            }
        }

        /// Nor of serde_json's output with one edit: a byte dropped, or a fragment put in.
        #[test]
        fn sure_only_of_what_serde_json_reads_near_valid(
            value in value(),
            at in any::<prop::sample::Index>(),
            insert in prop::option::of(jsonish()),
        ) {
            let mut text = serde_json::to_string(&value).unwrap();
            let mut at = at.index(text.len() + 1);
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            match insert {
                Some(insert) => text.insert_str(at, &insert),
                None if at < text.len() => {
                    text.remove(at);
                }
                None => {}
            }
            if readable(text.as_bytes()) {
                prop_assert!(serde_reads(&text), "{text:?}");
            }
        }

        /// The check is sure of what serde_json writes of integers, strings, arrays and objects.
        #[test]
        fn sure_of_serde_json_output(value in value()) {
            let text = serde_json::to_string(&value).unwrap();
            prop_assert!(readable(text.as_bytes()), "{text}");
        }
    }
}
