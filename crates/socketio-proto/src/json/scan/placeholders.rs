//! The placeholder check of binary packets, on the scanner.

use super::{NotAnArray, Scanner};

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
            first if scanner.scalar(first)? => {}
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

impl Scanner<'_> {
    /// For the placeholder check, an object's key and its colon; the value too if the key
    /// is `_placeholder` or `num`, recorded in `frame` (returns true then). `depth` is how
    /// many containers are open.
    fn key(&mut self, frame: &mut Frame, depth: usize) -> Result<bool, NotAnArray> {
        let raw = &self.data[self.raw_key()?];
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
                first if self.scalar(first)? => {}
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
}
