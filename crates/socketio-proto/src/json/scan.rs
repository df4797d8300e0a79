//! A strict JSON checker for the data of incoming packets, which also tells where the
//! first elements of the top-level array lie.
//!
//! Every event a client sends is checked once and kept as text; handlers parse it on
//! demand (or forward it unparsed). serde_json did the check through `RawValue`s: about
//! 1 800 instructions per 64-byte echo, a quarter of our user-space time per ack
//! (`valgrind --tool=callgrind`, `bench/run.sh echo`), with the text checked as UTF-8
//! twice more on the way. This scanner takes about a third of that. It accepts exactly
//! what serde_json accepts there (RFC 8259: no comments, no trailing commas, control
//! characters escaped, `\u` followed by four hex digits, lone surrogates allowed as in
//! serde_json's raw values), which `tests` check against serde_json on generated input,
//! and the `socketio_json_scan` fuzz target on arbitrary input. Nesting has no limit
//! (as in serde_json's raw values) and needs no recursion: the open containers are a bit
//! stack, inline up to 128 levels.

use std::ops::Range;

/// The text is not one JSON array.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct NotAnArray;

/// Where the first two elements of a checked top-level array lie.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ArrayShape {
    /// The first element's text.
    pub(crate) first: Option<Range<usize>>,
    /// Where the second element starts.
    pub(crate) second: Option<usize>,
    /// Where the closing bracket is.
    pub(crate) close: usize,
}

/// Checks that `data` is one JSON array (whitespace around it allowed) and finds its first
/// elements.
pub(crate) fn array(data: &[u8]) -> Result<ArrayShape, NotAnArray> {
    let mut shape = ArrayShape {
        first: None,
        second: None,
        close: 0,
    };
    shape.close = elements(data, |index, element| match index {
        0 => shape.first = Some(element),
        1 => shape.second = Some(element.start),
        _ => {}
    })?;
    Ok(shape)
}

/// Where the element at `index` of the JSON array `data` starts, or its closing bracket if
/// it has fewer elements.
pub(crate) fn element_start(data: &[u8], index: usize) -> Result<usize, NotAnArray> {
    let mut start = None;
    let close = elements(data, |at, element| {
        if at == index {
            start = Some(element.start);
        }
    })?;
    Ok(start.unwrap_or(close))
}

/// Checks that `data` is one JSON array, calling `each` with the index and text of every
/// element; returns where the closing bracket is.
fn elements(data: &[u8], mut each: impl FnMut(usize, Range<usize>)) -> Result<usize, NotAnArray> {
    let mut scanner = Scanner { data, at: 0 };
    scanner.skip_whitespace();
    scanner.expect(b'[')?;
    scanner.skip_whitespace();
    let close = if scanner.peek() == Some(b']') {
        scanner.at += 1;
        scanner.at - 1
    } else {
        let mut index = 0;
        loop {
            scanner.skip_whitespace();
            let start = scanner.at;
            scanner.value()?;
            each(index, start..scanner.at);
            index += 1;
            scanner.skip_whitespace();
            match scanner.next()? {
                b',' => continue,
                b']' => break scanner.at - 1,
                _ => return Err(NotAnArray),
            }
        }
    };
    scanner.skip_whitespace();
    if scanner.at != data.len() {
        return Err(NotAnArray);
    }
    Ok(close)
}

/// Deepest nesting the placeholder check accepts, as serde_json's recursion limit did: the
/// 128th open container is refused.
const MAX_PLACEHOLDER_DEPTH: usize = 127;

/// Checks the placeholders of a binary packet's checked JSON `data`: every object whose last
/// `_placeholder` is `true` must have, as its last `num`, an integer below `attachments`
/// that no other placeholder used. Other objects are data; the values of `_placeholder`
/// and `num` keys are not looked into. Keys compare after unescaping.
///
/// serde_json did this through a visitor: 1 500 instructions of a 4 KiB binary echo's
/// 17 000 (callgrind, `bench/run.sh echo --binary --size 4096`), and an allocation.
pub(crate) fn placeholders(data: &[u8], attachments: usize) -> Result<(), NotAnArray> {
    let mut used = Used::new(attachments);
    let mut scanner = Scanner { data, at: 0 };
    let mut frames = [Frame::default(); MAX_PLACEHOLDER_DEPTH];
    let mut depth = 0;
    loop {
        // A value starts here (after a key, the special keys' values are read by `key`).
        scanner.skip_whitespace();
        match scanner.next()? {
            b'"' => scanner.string()?,
            b'-' => scanner.number(None)?,
            digit @ b'0'..=b'9' => scanner.number(Some(digit))?,
            b't' => scanner.literal(b"rue")?,
            b'f' => scanner.literal(b"alse")?,
            b'n' => scanner.literal(b"ull")?,
            open @ (b'[' | b'{') => {
                if depth == MAX_PLACEHOLDER_DEPTH {
                    return Err(NotAnArray);
                }
                let object = open == b'{';
                frames[depth] = Frame {
                    object,
                    ..Frame::default()
                };
                depth += 1;
                scanner.skip_whitespace();
                let close = if object { b'}' } else { b']' };
                if scanner.peek() == Some(close) {
                    scanner.at += 1;
                    depth -= 1;
                } else if !object || !scanner.key(&mut frames[depth - 1], depth)? {
                    continue;
                }
            }
            _ => return Err(NotAnArray),
        }
        // A value ended: close containers until one continues with a comma.
        loop {
            if depth == 0 {
                return Ok(());
            }
            scanner.skip_whitespace();
            let frame = &mut frames[depth - 1];
            match scanner.next()? {
                b',' if frame.object => {
                    if !scanner.key(frame, depth)? {
                        break;
                    }
                }
                b',' => break,
                b']' if !frame.object => depth -= 1,
                b'}' if frame.object => {
                    if frame.placeholder {
                        let index = match frame.num {
                            Num::Index(n) => usize::try_from(n).map_err(|_| NotAnArray)?,
                            Num::None | Num::Other => return Err(NotAnArray),
                        };
                        used.take(index)?;
                    }
                    depth -= 1;
                }
                _ => return Err(NotAnArray),
            }
        }
    }
}

/// What is known of an open container for the placeholder check.
#[derive(Clone, Copy, Default)]
struct Frame {
    object: bool,
    /// The last `_placeholder` was `true`.
    placeholder: bool,
    num: Num,
}

/// The last `num` of an object.
#[derive(Clone, Copy, Default)]
enum Num {
    #[default]
    None,
    /// A non-negative integer that fits a `u64`.
    Index(u64),
    /// Anything else (a float, a negative number, a string…).
    Other,
}

/// Which attachments placeholders have taken.
enum Used {
    Few { taken: u128, count: usize },
    Many(Vec<bool>),
}

impl Used {
    fn new(count: usize) -> Self {
        if count <= 128 {
            Used::Few { taken: 0, count }
        } else {
            Used::Many(vec![false; count])
        }
    }

    fn take(&mut self, index: usize) -> Result<(), NotAnArray> {
        match self {
            Used::Few { taken, count } => {
                if index >= *count || *taken & (1 << index) != 0 {
                    return Err(NotAnArray);
                }
                *taken |= 1 << index;
            }
            Used::Many(used) => match used.get_mut(index) {
                Some(slot) if !*slot => *slot = true,
                _ => return Err(NotAnArray),
            },
        }
        Ok(())
    }
}

/// The containers open around the current position: one bit each, set for an object.
struct Open {
    inline: u128,
    depth: usize,
    /// Levels beyond the 128th (input this deep is rare and pays for its own memory).
    deeper: Vec<bool>,
}

impl Open {
    fn push(&mut self, object: bool) {
        if self.depth < 128 {
            self.inline = (self.inline << 1) | u128::from(object);
        } else {
            self.deeper.push(object);
        }
        self.depth += 1;
    }

    /// Closes the innermost container if it is an object (`true`) or an array (`false`).
    fn pop(&mut self, object: bool) -> Result<(), NotAnArray> {
        if self.depth == 0 || self.innermost_is_object() != object {
            return Err(NotAnArray);
        }
        self.depth -= 1;
        if self.depth < 128 {
            self.inline >>= 1;
        } else {
            self.deeper.pop();
        }
        Ok(())
    }

    fn innermost_is_object(&self) -> bool {
        match self.depth {
            0 => false,
            d if d <= 128 => self.inline & 1 == 1,
            _ => self.deeper.last() == Some(&true),
        }
    }
}

struct Scanner<'a> {
    data: &'a [u8],
    at: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.data.get(self.at).copied()
    }

    fn next(&mut self) -> Result<u8, NotAnArray> {
        let byte = self.peek().ok_or(NotAnArray)?;
        self.at += 1;
        Ok(byte)
    }

    fn expect(&mut self, byte: u8) -> Result<(), NotAnArray> {
        if self.next()? == byte {
            Ok(())
        } else {
            Err(NotAnArray)
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\t' | b'\r') = self.peek() {
            self.at += 1;
        }
    }

    /// One value, containers included, iteratively.
    fn value(&mut self) -> Result<(), NotAnArray> {
        let mut open = Open {
            inline: 0,
            depth: 0,
            deeper: Vec::new(),
        };
        loop {
            // A value starts here.
            self.skip_whitespace();
            match self.next()? {
                b'"' => self.string()?,
                b'-' => self.number(None)?,
                digit @ b'0'..=b'9' => self.number(Some(digit))?,
                b't' => self.literal(b"rue")?,
                b'f' => self.literal(b"alse")?,
                b'n' => self.literal(b"ull")?,
                b'[' => {
                    self.skip_whitespace();
                    if self.peek() == Some(b']') {
                        self.at += 1;
                    } else {
                        open.push(false);
                        continue;
                    }
                }
                b'{' => {
                    self.skip_whitespace();
                    if self.peek() == Some(b'}') {
                        self.at += 1;
                    } else {
                        open.push(true);
                        self.element_key()?;
                        continue;
                    }
                }
                _ => return Err(NotAnArray),
            }
            // A value ended: close containers until one continues with a comma.
            loop {
                if open.depth == 0 {
                    return Ok(());
                }
                self.skip_whitespace();
                match self.next()? {
                    b',' => {
                        if open.innermost_is_object() {
                            self.element_key()?;
                        }
                        break;
                    }
                    b']' => open.pop(false)?,
                    b'}' => open.pop(true)?,
                    _ => return Err(NotAnArray),
                }
            }
        }
    }

    /// For the placeholder check, an object's key and its colon; the value too if the key
    /// is `_placeholder` or `num`, recorded in `frame` (returns true then). `depth` is how
    /// many containers are open.
    fn key(&mut self, frame: &mut Frame, depth: usize) -> Result<bool, NotAnArray> {
        self.skip_whitespace();
        self.expect(b'"')?;
        let start = self.at - 1;
        self.string()?;
        let raw = &self.data[start..self.at];
        self.skip_whitespace();
        self.expect(b':')?;
        let unescaped;
        let name = if raw.contains(&b'\\') {
            unescaped = serde_json::from_slice::<String>(raw).map_err(|_| NotAnArray)?;
            unescaped.as_bytes()
        } else {
            &raw[1..raw.len() - 1]
        };
        let placeholder = match name {
            b"_placeholder" => true,
            b"num" => false,
            _ => return Ok(false),
        };
        self.skip_whitespace();
        let value_start = self.at;
        self.skip_nested(depth)?;
        let value = &self.data[value_start..self.at];
        if placeholder {
            frame.placeholder = value == b"true";
        } else {
            frame.num = if !value.is_empty() && value.iter().all(u8::is_ascii_digit) {
                value
                    .iter()
                    .try_fold(0u64, |n, &d| {
                        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
                    })
                    .map_or(Num::Other, Num::Index)
            } else {
                Num::Other
            };
        }
        Ok(true)
    }

    /// One value, not looked into, within `depth` open containers: refused if it would
    /// open the 128th.
    fn skip_nested(&mut self, mut depth: usize) -> Result<(), NotAnArray> {
        let outer = depth;
        loop {
            self.skip_whitespace();
            match self.next()? {
                b'"' => self.string()?,
                b'-' => self.number(None)?,
                digit @ b'0'..=b'9' => self.number(Some(digit))?,
                b't' => self.literal(b"rue")?,
                b'f' => self.literal(b"alse")?,
                b'n' => self.literal(b"ull")?,
                b'[' | b'{' => {
                    if depth == MAX_PLACEHOLDER_DEPTH {
                        return Err(NotAnArray);
                    }
                    depth += 1;
                    continue;
                }
                // Structure inside the skipped value (the text was checked before).
                b']' | b'}' if depth > outer => depth -= 1,
                b',' | b':' => continue,
                _ => return Err(NotAnArray),
            }
            if depth == outer {
                return Ok(());
            }
        }
    }

    /// An object's key and its colon.
    fn element_key(&mut self) -> Result<(), NotAnArray> {
        self.skip_whitespace();
        self.expect(b'"')?;
        self.string()?;
        self.skip_whitespace();
        self.expect(b':')
    }

    /// The rest of a string after its opening quote.
    fn string(&mut self) -> Result<(), NotAnArray> {
        loop {
            let rest = &self.data[self.at..];
            let stop = special_byte(rest).ok_or(NotAnArray)?;
            self.at += stop + 1;
            match rest[stop] {
                b'"' => return Ok(()),
                b'\\' => match self.next()? {
                    b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                    b'u' => {
                        for _ in 0..4 {
                            if !self.next()?.is_ascii_hexdigit() {
                                return Err(NotAnArray);
                            }
                        }
                    }
                    _ => return Err(NotAnArray),
                },
                // A control character.
                _ => return Err(NotAnArray),
            }
        }
    }

    /// The rest of a number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`, given its
    /// first digit if it was read, or `None` after a minus sign.
    fn number(&mut self, first: Option<u8>) -> Result<(), NotAnArray> {
        let first = match first {
            Some(digit) => digit,
            None => self.next()?,
        };
        match first {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return Err(NotAnArray),
        }
        if self.peek() == Some(b'.') {
            self.at += 1;
            self.at_least_one_digit()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            self.at_least_one_digit()?;
        }
        // `01`: the digit after a leading zero is not a separator, so the caller fails.
        Ok(())
    }

    fn digits(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_digit()) {
            self.at += 1;
        }
    }

    fn at_least_one_digit(&mut self) -> Result<(), NotAnArray> {
        let start = self.at;
        self.digits();
        if self.at == start {
            Err(NotAnArray)
        } else {
            Ok(())
        }
    }

    fn literal(&mut self, rest: &[u8]) -> Result<(), NotAnArray> {
        if self.data[self.at..].starts_with(rest) {
            self.at += rest.len();
            Ok(())
        } else {
            Err(NotAnArray)
        }
    }
}

/// Where the first byte that ends a plain run of string text is: `"`, `\\` or a control
/// character.
///
/// Eight bytes at a time: a byte-at-a-time search took 800 instructions per 64-byte echo
/// (callgrind), most of the scanner's cost.
fn special_byte(text: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    /// High bit set in each byte of `word` below `n` (n ≤ 0x80), and maybe in bytes above
    /// such a byte, never in a word without one.
    fn below(word: u64, n: u8) -> u64 {
        word.wrapping_sub(ONES * u64::from(n)) & !word & HIGHS
    }
    let is_special = |b: u8| b == b'"' || b == b'\\' || b < 0x20;
    let mut chunks = text.chunks_exact(8);
    let mut at = 0;
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(chunk.try_into().unwrap_or_default());
        let hits = below(word, 0x20)
            | below(word ^ (ONES * u64::from(b'"')), 1)
            | below(word ^ (ONES * u64::from(b'\\')), 1);
        if hits != 0 {
            return chunk.iter().position(|&b| is_special(b)).map(|i| at + i);
        }
        at += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| is_special(b))
        .map(|i| at + i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::de::{self, Deserializer as _, SeqAccess, Visitor};
    use serde_json::value::RawValue;

    /// What serde_json says of the same text, in the same terms.
    fn reference(data: &[u8]) -> Result<ArrayShape, NotAnArray> {
        struct ArrayVisitor;

        impl<'de> Visitor<'de> for ArrayVisitor {
            type Value = (Option<&'de RawValue>, Option<&'de RawValue>);

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an array")
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let first = seq.next_element::<&'de RawValue>()?;
                let second = match first {
                    Some(_) => seq.next_element::<&'de RawValue>()?,
                    None => None,
                };
                if second.is_some() {
                    while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                }
                Ok((first, second))
            }
        }

        let mut deserializer = serde_json::Deserializer::from_slice(data);
        let (first, second) = deserializer
            .deserialize_seq(ArrayVisitor)
            .map_err(|_| NotAnArray)?;
        deserializer.end().map_err(|_| NotAnArray)?;
        let offset = |raw: &RawValue| raw.get().as_ptr() as usize - data.as_ptr() as usize;
        Ok(ArrayShape {
            first: first.map(|raw| offset(raw)..offset(raw) + raw.get().len()),
            second: second.map(offset),
            close: data.iter().rposition(|&b| b == b']').unwrap_or(0),
        })
    }

    #[track_caller]
    fn agrees(text: &str) {
        assert_eq!(
            array(text.as_bytes()),
            reference(text.as_bytes()),
            "{text:?}"
        );
    }

    #[test]
    fn valid_arrays() {
        for text in [
            "[]",
            " [ ] ",
            "[\"echo\"]",
            "[\"echo\",{\"a\":[1,2.5e-3,-0,true,false,null]},\"x\"]",
            "[1,[],{},[[]],{\"\":{}}]",
            "\t[\n\"a\\\"b\\\\c\\/\\b\\f\\n\\r\\t\\u00e9\\uD800\"\r]",
            "[\"é漢字\",\"😀\"]",
            "[0.0,1E5,1e+5,1e-5,-12.75]",
            "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]",
        ] {
            assert!(array(text.as_bytes()).is_ok(), "{text:?}");
            agrees(text);
        }
    }

    #[test]
    fn invalid_text() {
        for text in [
            "",
            "   ",
            "{}",
            "\"a\"",
            "[",
            "]",
            "[,]",
            "[1,]",
            "[1 2]",
            "[1]]",
            "[1] [2]",
            "[01]",
            "[1.]",
            "[.5]",
            "[1e]",
            "[1e+]",
            "[-]",
            "[--1]",
            "[+1]",
            "[tru]",
            "[nul]",
            "[True]",
            "[\"a]",
            "[\"\\x\"]",
            "[\"\\u12g4\"]",
            "[\"\\u12\"]",
            "[\"a\u{1}\"]",
            "[{\"a\"}]",
            "[{\"a\":}]",
            "[{1:2}]",
            "[{\"a\":1,}]",
            "[{\"a\":1]]",
            "[[1}]",
            "[/* */1]",
            "[1]x",
            "[NaN]",
            "[\u{a0}1]",
        ] {
            assert!(array(text.as_bytes()).is_err(), "{text:?}");
            agrees(text);
        }
    }

    #[test]
    fn special_bytes_are_found_wherever_they_are() {
        for len in 0..20 {
            for at in 0..len {
                for special in [b'"', b'\\', 0x00, 0x1f] {
                    let mut text = vec![b'a'; len];
                    text[at] = special;
                    // Bytes that sit next to the specials' values must not be taken for them.
                    if at + 1 < len {
                        text[at + 1] = 0x21;
                    }
                    assert_eq!(special_byte(&text), Some(at), "{text:?}");
                }
            }
            for plain in [0x20, 0x21, 0x23, 0x5b, 0x5d, 0x7f, 0x80, 0xe9, 0xff] {
                assert_eq!(special_byte(&vec![plain; len]), None, "{plain:#x} × {len}");
            }
        }
    }

    #[test]
    fn deep_nesting_needs_no_recursion_and_closes_in_order() {
        for depth in [127, 128, 129, 300, 10_000] {
            let good = format!("[{}{}]", "[".repeat(depth), "]".repeat(depth));
            assert!(array(good.as_bytes()).is_ok(), "depth {depth}");
            let mixed = format!("[{}1{}]", "[{\"k\":".repeat(depth), "}]".repeat(depth));
            assert!(array(mixed.as_bytes()).is_ok(), "depth {depth}");
            let crossed = format!("[{}1{}]", "[{\"k\":".repeat(depth), "]}".repeat(depth));
            assert!(array(crossed.as_bytes()).is_err(), "depth {depth}");
            let unclosed = format!("[{}]", "[".repeat(depth));
            assert!(array(unclosed.as_bytes()).is_err(), "depth {depth}");
        }
    }

    /// Binary packets' data: placeholders good and bad among other values, keys escaped or
    /// repeated, nesting up to the limit.
    fn with_placeholders() -> impl Strategy<Value = String> {
        let num = prop_oneof![
            (0u64..4).prop_map(|n| n.to_string()),
            Just("-0".to_owned()),
            Just("-1".to_owned()),
            Just("1.0".to_owned()),
            Just("1e0".to_owned()),
            Just("18446744073709551615".to_owned()),
            Just("18446744073709551616".to_owned()),
            Just("\"0\"".to_owned()),
            Just("null".to_owned()),
            Just("[0]".to_owned()),
        ];
        let flag = prop_oneof![
            Just("true"),
            Just("false"),
            Just("1"),
            Just("\"true\""),
            Just("[true]"),
        ];
        let placeholder_key = prop_oneof![
            Just("\"_placeholder\""),
            Just("\"\\u005fplaceholder\""),
            Just("\"_placeholder \""),
        ];
        let num_key = prop_oneof![Just("\"num\""), Just("\"n\\u0075m\""), Just("\"Num\"")];
        let entry = prop_oneof![
            (placeholder_key, flag).prop_map(|(k, v)| format!("{k}:{v}")),
            (num_key, num).prop_map(|(k, v)| format!("{k}:{v}")),
            Just("\"x\":1".to_owned()),
        ];
        let placeholder = proptest::collection::vec(entry, 0..4)
            .prop_map(|entries| format!("{{{}}}", entries.join(",")));
        let leaf = prop_oneof![
            (0u64..4).prop_map(|n| format!("{{\"_placeholder\":true,\"num\":{n}}}")),
            placeholder.clone(),
            placeholder.clone(),
            Just("\"s\"".to_owned()),
            Just("7".to_owned()),
        ];
        let value = leaf.prop_recursive(4, 24, 4, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                proptest::collection::vec(inner.clone(), 0..3).prop_map(|items| {
                    let entries: Vec<String> = items
                        .iter()
                        .enumerate()
                        .map(|(i, v)| format!("\"k{i}\":{v}"))
                        .collect();
                    format!("{{{}}}", entries.join(","))
                }),
                // The values of the special keys are not looked into.
                inner.clone().prop_map(|v| format!("{{\"num\":{v}}}")),
                inner.prop_map(|v| format!("{{\"_placeholder\":{v},\"num\":0}}")),
            ]
        });
        proptest::collection::vec(value, 0..4).prop_map(|items| {
            format!(
                "[\"e\"{}]",
                items.iter().map(|v| format!(",{v}")).collect::<String>()
            )
        })
    }

    fn reference_placeholders(text: &str, attachments: usize) -> bool {
        crate::json::reference::check_placeholders(text.as_bytes(), attachments).is_ok()
    }

    #[test]
    fn placeholders_as_serde_json_saw_them() {
        for (text, attachments, ok) in [
            (r#"["e",{"_placeholder":true,"num":0}]"#, 1, true),
            (r#"["e",{"_placeholder":true,"num":1}]"#, 1, false),
            (
                r#"["e",{"_placeholder":true,"num":0},{"_placeholder":true,"num":0}]"#,
                2,
                false,
            ),
            (r#"["e",{"_placeholder":true}]"#, 1, false),
            (r#"["e",{"_placeholder":false,"num":9}]"#, 1, true),
            (
                r#"["e",{"_placeholder":true,"num":0,"_placeholder":false}]"#,
                1,
                true,
            ),
            (r#"["e",{"_placeholder":true,"num":-0}]"#, 1, false),
            (r#"["e",{"_placeholder":true,"num":0.0}]"#, 1, false),
            (r#"["e",{"_placeholder":true,"num":0}]"#, 1, true),
            (
                r#"["e",{"num":{"_placeholder":true,"num":0}},{"_placeholder":true,"num":0}]"#,
                1,
                true,
            ),
            (r#"["e",{"a":[{"_placeholder":true,"num":2}]}]"#, 3, true),
            (r#"["e",{"_placeholder":true,"num":200}]"#, 201, true),
            (
                r#"["e",{"_placeholder":true,"num":200},{"_placeholder":true,"num":200}]"#,
                201,
                false,
            ),
        ] {
            assert_eq!(
                placeholders(text.as_bytes(), attachments).is_ok(),
                ok,
                "{text}"
            );
            assert_eq!(reference_placeholders(text, attachments), ok, "{text}");
        }
    }

    #[test]
    fn placeholder_nesting_stops_where_serde_json_did() {
        for depth in 120..=135 {
            for inner in ["1", "{\"num\":[[]]}", "{\"_placeholder\":true,\"num\":0}"] {
                let text = format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth));
                assert_eq!(
                    placeholders(text.as_bytes(), 1).is_ok(),
                    reference_placeholders(&text, 1),
                    "depth {depth}: {inner}"
                );
            }
        }
    }

    /// JSON-like text: valid documents, then small edits that often break them.
    fn json_like() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("false".to_owned()),
            "-?(0|[1-9][0-9]{0,3})(\\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?",
            "\"([a-z \u{e9}\u{1F600}]|\\\\[\"\\\\/bfnrt]|\\\\u[0-9a-fA-F]{4}){0,6}\"",
        ];
        let value = leaf.prop_recursive(6, 48, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                proptest::collection::vec(("\"[a-z]{0,3}\"", inner), 0..4).prop_map(|entries| {
                    let entries: Vec<String> = entries
                        .into_iter()
                        .map(|(k, v)| format!("{k}:{v}"))
                        .collect();
                    format!("{{{}}}", entries.join(","))
                }),
            ]
        });
        let array = proptest::collection::vec(value, 0..5)
            .prop_map(|items| format!("[{}]", items.join(" , ")));
        (
            array,
            proptest::collection::vec(
                (
                    any::<prop::sample::Index>(),
                    "[\\[\\]{},:\" \\\\0-9a-z.+\\-\u{1}]{0,2}",
                ),
                0..3,
            ),
            any::<bool>(),
        )
            .prop_map(|(mut text, edits, apply)| {
                if apply {
                    for (at, insert) in edits {
                        let mut cut = at.index(text.len() + 1);
                        while !text.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        let end = (cut + 1).min(text.len());
                        let end = if text.is_char_boundary(end) { end } else { cut };
                        text.replace_range(cut..end, &insert);
                    }
                }
                text
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn agrees_with_serde_json(text in json_like()) {
            prop_assert_eq!(array(text.as_bytes()), reference(text.as_bytes()), "{:?}", text);
        }

        #[test]
        fn placeholders_agree_with_serde_json(
            text in with_placeholders(),
            attachments in 0usize..5,
        ) {
            prop_assert!(array(text.as_bytes()).is_ok(), "{}", text);
            prop_assert_eq!(
                placeholders(text.as_bytes(), attachments).is_ok(),
                reference_placeholders(&text, attachments),
                "{} with {} attachments", text, attachments
            );
        }

        #[test]
        fn agrees_with_serde_json_on_any_text(text in "[\\[\\]{}\",:0-9a-z.\\-\\\\ ]{0,24}") {
            prop_assert_eq!(array(text.as_bytes()), reference(text.as_bytes()), "{:?}", text);
        }
    }
}
