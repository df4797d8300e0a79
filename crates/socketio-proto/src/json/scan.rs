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

mod placeholders;

use std::ops::Range;

pub(crate) use placeholders::placeholders;

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
                first if self.scalar(first)? => {}
                opening @ (b'[' | b'{') => {
                    let object = opening == b'{';
                    self.skip_whitespace();
                    if self.peek() == Some(if object { b'}' } else { b']' }) {
                        self.at += 1;
                    } else {
                        open.push(object);
                        if object {
                            self.element_key()?;
                        }
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

    /// The rest of a string, number or literal whose first byte was `first`; false (and
    /// nothing read) if `first` starts no such value.
    fn scalar(&mut self, first: u8) -> Result<bool, NotAnArray> {
        match first {
            b'"' => self.string()?,
            b'-' => self.number(None)?,
            b'0'..=b'9' => self.number(Some(first))?,
            b't' => self.literal(b"rue")?,
            b'f' => self.literal(b"alse")?,
            b'n' => self.literal(b"ull")?,
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// An object's key and its colon.
    fn element_key(&mut self) -> Result<(), NotAnArray> {
        self.raw_key().map(|_| ())
    }

    /// An object's key and its colon; returns the key's text, quotes included.
    fn raw_key(&mut self) -> Result<Range<usize>, NotAnArray> {
        self.skip_whitespace();
        self.expect(b'"')?;
        let start = self.at - 1;
        self.string()?;
        let key = start..self.at;
        self.skip_whitespace();
        self.expect(b':')?;
        Ok(key)
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
mod tests;
