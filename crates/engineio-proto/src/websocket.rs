//! WebSocket framing (RFC 6455, section 5) for both ends, with no I/O.
//!
//! The [`FrameDecoder`] takes whatever bytes the connection delivered, in pieces of any
//! size, and hands back whole messages. It consumes every byte it is given: a frame cut in
//! the middle leaves only its parsed state behind (at most a 14-byte header, or the
//! message being assembled), so the driver can read into one buffer shared by all its
//! connections instead of keeping a read buffer per connection. Payloads are unmasked
//! straight into the message they belong to.
//!
//! The decoder enforces what each end must: frames from a client are masked and frames from
//! a server are not ([`FrameDecoder::new`] decodes for a server, [`FrameDecoder::client`]
//! for a client), reserved bits are clear (no extension is negotiated), opcodes are known,
//! control frames are whole and at most 125 bytes, fragments continue a started message,
//! text is UTF-8, close frames are well formed. A message longer than the limit is refused
//! as soon as its length is known, before any of it is stored, and so is one split into too
//! many fragments.
//!
//! ```
//! use engineio_proto::websocket::{FrameDecoder, WsMessage, encode_header, Opcode};
//!
//! let mut decoder = FrameDecoder::new(1024);
//! // "Hi" from a client: FIN + text, masked, length 2.
//! let mask = [1, 2, 3, 4];
//! let mut frame = vec![0x81, 0x80 | 2, 1, 2, 3, 4];
//! frame.extend(b"Hi".iter().zip(mask.iter().cycle()).map(|(b, m)| b ^ m));
//!
//! let mut input = &frame[..3];
//! assert_eq!(decoder.decode(&mut input), Ok(None)); // not all there yet
//! let mut input = &frame[3..];
//! assert_eq!(decoder.decode(&mut input), Ok(Some(WsMessage::Text("Hi".into()))));
//! assert!(input.is_empty());
//!
//! // Server frames are unmasked: a header, then the payload as it is.
//! let (header, len) = encode_header(Opcode::Text, 2);
//! assert_eq!(&header[..len], &[0x81, 2]);
//! ```

use std::fmt;

use bytes::Bytes;

/// The most fragments one message may arrive in.
///
/// Browsers and the common WebSocket libraries send a message as one frame; a client
/// that splits one into thousands of empty fragments is only making the server work.
pub const MAX_FRAGMENTS: u32 = 4096;

/// The most a frame's announced length reserves before its bytes arrive.
const MAX_RESERVE: usize = 64 * 1024;

/// The largest control frame payload (RFC 6455, 5.5).
const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame's opcode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Opcode {
    /// A later fragment of a message.
    Continuation,
    /// A UTF-8 text message (or its first fragment).
    Text,
    /// A binary message (or its first fragment).
    Binary,
    /// The closing handshake.
    Close,
    /// A ping, to be answered with a pong carrying the same payload.
    Ping,
    /// A pong.
    Pong,
}

impl Opcode {
    fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0 => Opcode::Continuation,
            1 => Opcode::Text,
            2 => Opcode::Binary,
            8 => Opcode::Close,
            9 => Opcode::Ping,
            10 => Opcode::Pong,
            _ => return None,
        })
    }

    fn bits(self) -> u8 {
        match self {
            Opcode::Continuation => 0,
            Opcode::Text => 1,
            Opcode::Binary => 2,
            Opcode::Close => 8,
            Opcode::Ping => 9,
            Opcode::Pong => 10,
        }
    }

    fn is_control(self) -> bool {
        matches!(self, Opcode::Close | Opcode::Ping | Opcode::Pong)
    }
}

/// A whole message, or a control frame, from the peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WsMessage {
    /// A text message.
    Text(TextBytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping; the answer is a pong with this payload.
    Ping(Bytes),
    /// A pong.
    Pong,
    /// The peer starts or answers the closing handshake, with its status code if it gave
    /// one.
    Close(Option<u16>),
}

/// The bytes of a text message, checked as UTF-8 once, by the decoder that built them.
///
/// [`Packet::decode_ws_text`](crate::Packet::decode_ws_text) takes them without checking
/// again: the second check was 1.8 % of the server's instructions in a 64-byte echo
/// (callgrind, `bench/run.sh echo`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct TextBytes(Bytes);

impl TextBytes {
    /// Checks `bytes` as UTF-8.
    pub fn new(bytes: Bytes) -> Result<Self, WsError> {
        match std::str::from_utf8(&bytes) {
            Ok(_) => Ok(TextBytes(bytes)),
            Err(_) => Err(WsError::InvalidUtf8),
        }
    }

    /// The bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }
}

impl std::ops::Deref for TextBytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl From<&'static str> for TextBytes {
    fn from(text: &'static str) -> Self {
        TextBytes(Bytes::from_static(text.as_bytes()))
    }
}

impl From<String> for TextBytes {
    fn from(text: String) -> Self {
        TextBytes(Bytes::from(text))
    }
}

/// Why the peer's bytes are not an acceptable WebSocket stream. The connection is over;
/// [`code`](WsError::code) is the status to close it with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WsError {
    /// A message longer than the limit (1009).
    TooLong {
        /// The length announced or reached.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// More fragments than [`MAX_FRAGMENTS`] (1009).
    TooManyFragments,
    /// A reserved bit is set (1002).
    ReservedBits,
    /// An opcode RFC 6455 does not define (1002).
    UnknownOpcode(u8),
    /// A client frame without a mask (1002).
    Unmasked,
    /// A server frame with a mask (1002).
    Masked,
    /// A control frame that is fragmented or over 125 bytes (1002).
    BadControlFrame,
    /// A continuation with no message started, or a new message before the last one
    /// ended (1002).
    BadContinuation,
    /// A length written in more bytes than needed, or with its top bit set (1002).
    BadLength,
    /// A close frame with a one-byte payload or a status code not to be sent (1002).
    BadClose,
    /// A text message, or a close reason, that is not UTF-8 (1007).
    InvalidUtf8,
}

impl WsError {
    /// The close status code that answers this error.
    pub fn code(self) -> u16 {
        match self {
            WsError::TooLong { .. } | WsError::TooManyFragments => 1009,
            WsError::InvalidUtf8 => 1007,
            _ => 1002,
        }
    }
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WsError::TooLong { len, max } => {
                write!(f, "message of {len} bytes is over the limit of {max}")
            }
            WsError::TooManyFragments => {
                write!(f, "message split into more than {MAX_FRAGMENTS} fragments")
            }
            WsError::ReservedBits => f.write_str("reserved bits set"),
            WsError::UnknownOpcode(bits) => write!(f, "unknown opcode {bits}"),
            WsError::Unmasked => f.write_str("client frame not masked"),
            WsError::Masked => f.write_str("server frame masked"),
            WsError::BadControlFrame => f.write_str("fragmented or oversized control frame"),
            WsError::BadContinuation => f.write_str("fragment out of sequence"),
            WsError::BadLength => f.write_str("non-minimal or oversized length encoding"),
            WsError::BadClose => f.write_str("malformed close frame"),
            WsError::InvalidUtf8 => f.write_str("invalid UTF-8 in a text message"),
        }
    }
}

impl std::error::Error for WsError {}

/// Where the decoder is within the current frame.
#[derive(Debug)]
enum State {
    /// Collecting a header; `len` bytes of it are in `header`.
    Header { header: [u8; 14], len: u8 },
    /// Reading a payload of which `remaining` bytes are still to come.
    Payload {
        opcode: Opcode,
        fin: bool,
        mask: [u8; 4],
        /// Payload bytes already unmasked (the mask's phase).
        done: usize,
        remaining: usize,
    },
    /// An error was reported; nothing more is read.
    Failed(WsError),
}

/// A message whose fragments are still arriving.
#[derive(Debug)]
struct Assembly {
    binary: bool,
    data: Vec<u8>,
    fragments: u32,
}

/// Decodes the frames one end of a connection receives. See the [module docs](self).
#[derive(Debug)]
pub struct FrameDecoder {
    max_message: usize,
    /// Whether frames must be masked (they come from a client).
    masked: bool,
    state: State,
    /// The data message being assembled, if one has started.
    message: Option<Assembly>,
    /// The payload of the control frame being read (at most 125 bytes).
    control: Vec<u8>,
}

impl FrameDecoder {
    /// A server's decoder of client frames (masked), refusing messages longer than
    /// `max_message` bytes.
    pub fn new(max_message: usize) -> Self {
        Self::with_role(max_message, true)
    }

    /// A client's decoder of server frames (unmasked), refusing messages longer than
    /// `max_message` bytes.
    pub fn client(max_message: usize) -> Self {
        Self::with_role(max_message, false)
    }

    fn with_role(max_message: usize, masked: bool) -> Self {
        FrameDecoder {
            max_message,
            masked,
            state: State::Header {
                header: [0; 14],
                len: 0,
            },
            message: None,
            control: Vec::new(),
        }
    }

    /// Whether the decoder holds part of a frame or message (the peer stopped mid-way).
    pub fn is_mid_message(&self) -> bool {
        self.message.is_some()
            || matches!(self.state, State::Payload { .. })
            || matches!(self.state, State::Header { len, .. } if len > 0)
    }

    /// Consumes bytes from the front of `input` until a message is complete (returned,
    /// with `input` advanced past it) or `input` is used up (`Ok(None)`; call again with
    /// more bytes). After an error, every later call returns the same error.
    pub fn decode(&mut self, input: &mut &[u8]) -> Result<Option<WsMessage>, WsError> {
        loop {
            match &mut self.state {
                State::Failed(error) => return Err(*error),
                State::Header { header, len } => {
                    let Some(frame) = take_header(header, len, input, self.masked) else {
                        return Ok(None);
                    };
                    match frame.and_then(|frame| self.start_frame(frame)) {
                        Ok(Some(message)) => return Ok(Some(message)),
                        Ok(None) => {}
                        Err(error) => return Err(self.fail(error)),
                    }
                }
                State::Payload {
                    opcode,
                    fin,
                    mask,
                    done,
                    remaining,
                } => {
                    let take = (*remaining).min(input.len());
                    let (chunk, rest) = input.split_at(take);
                    *input = rest;
                    let target = if opcode.is_control() {
                        &mut self.control
                    } else {
                        // A payload state for data always has its message started.
                        match &mut self.message {
                            Some(message) => &mut message.data,
                            None => &mut self.control,
                        }
                    };
                    unmask_into(target, chunk, *mask, *done);
                    *done += take;
                    *remaining -= take;
                    if *remaining > 0 {
                        return Ok(None);
                    }
                    let (opcode, fin) = (*opcode, *fin);
                    self.state = State::Header {
                        header: [0; 14],
                        len: 0,
                    };
                    match self.finish_frame(opcode, fin) {
                        Ok(Some(message)) => return Ok(Some(message)),
                        Ok(None) => {}
                        Err(error) => return Err(self.fail(error)),
                    }
                }
            }
        }
    }

    fn fail(&mut self, error: WsError) -> WsError {
        self.state = State::Failed(error);
        self.message = None;
        self.control = Vec::new();
        error
    }

    /// Checks a complete header and sets up the payload; a frame with an empty payload
    /// completes at once.
    fn start_frame(&mut self, frame: FrameHeader) -> Result<Option<WsMessage>, WsError> {
        let opcode = frame.opcode;
        if opcode.is_control() {
            if !frame.fin || frame.len > MAX_CONTROL_PAYLOAD as u64 {
                return Err(WsError::BadControlFrame);
            }
            self.control.clear();
        } else {
            let already = match (&mut self.message, opcode) {
                (None, Opcode::Continuation) | (Some(_), Opcode::Text | Opcode::Binary) => {
                    return Err(WsError::BadContinuation);
                }
                (Some(message), _) => {
                    message.fragments += 1;
                    if message.fragments > MAX_FRAGMENTS {
                        return Err(WsError::TooManyFragments);
                    }
                    message.data.len()
                }
                (None, _) => 0,
            };
            let total = (already as u64).saturating_add(frame.len);
            if total > self.max_message as u64 {
                return Err(WsError::TooLong {
                    len: total,
                    max: self.max_message,
                });
            }
            // Within the limit, so it fits in memory as promised; reserve the frame's
            // bytes now (a single-frame message is then allocated exactly once).
            let len = frame.len as usize;
            match &mut self.message {
                Some(message) => message.data.reserve(len.min(MAX_RESERVE)),
                None => {
                    self.message = Some(Assembly {
                        binary: opcode == Opcode::Binary,
                        // Up to 64 KiB reserved on the header's word: a peer that
                        // announces the limit and sends a trickle gets no more.
                        data: Vec::with_capacity(len.min(MAX_RESERVE)),
                        fragments: 1,
                    })
                }
            }
        }
        self.state = State::Payload {
            opcode,
            fin: frame.fin,
            mask: frame.mask,
            done: 0,
            remaining: frame.len as usize,
        };
        if frame.len == 0 {
            self.state = State::Header {
                header: [0; 14],
                len: 0,
            };
            return self.finish_frame(opcode, frame.fin);
        }
        Ok(None)
    }

    fn finish_frame(&mut self, opcode: Opcode, fin: bool) -> Result<Option<WsMessage>, WsError> {
        match opcode {
            // Taken, not copied: an idle connection keeps no control buffer.
            Opcode::Ping => Ok(Some(WsMessage::Ping(
                std::mem::take(&mut self.control).into(),
            ))),
            Opcode::Pong => Ok(Some(WsMessage::Pong)),
            Opcode::Close => close_message(&self.control).map(Some),
            _ if !fin => Ok(None),
            _ => {
                let Some(message) = self.message.take() else {
                    return Err(WsError::BadContinuation);
                };
                if message.binary {
                    Ok(Some(WsMessage::Binary(message.data.into())))
                } else {
                    TextBytes::new(message.data.into()).map(|text| Some(WsMessage::Text(text)))
                }
            }
        }
    }
}

/// A parsed frame header.
struct FrameHeader {
    fin: bool,
    opcode: Opcode,
    mask: [u8; 4],
    len: u64,
}

/// Moves header bytes from `input` into `header` until the header is complete, then parses
/// it. `None` while bytes are missing. Bad bits in the first two bytes are reported as soon
/// as those two are in, without waiting for the rest of the header.
fn take_header(
    header: &mut [u8; 14],
    len: &mut u8,
    input: &mut &[u8],
    masked: bool,
) -> Option<Result<FrameHeader, WsError>> {
    loop {
        let have = *len as usize;
        let need = header_len(&header[..have]);
        if have >= need {
            *len = 0;
            return Some(parse_header(&header[..need], masked));
        }
        if have >= 2
            && let Err(error) = check_start(header[0], header[1], masked)
        {
            *len = 0;
            return Some(Err(error));
        }
        let (&byte, rest) = input.split_first()?;
        header[have] = byte;
        *len += 1;
        *input = rest;
        // Take the rest of the header in one go when it is there.
        let want = need.saturating_sub(*len as usize).min(input.len());
        if want > 0 {
            let start = *len as usize;
            header[start..start + want].copy_from_slice(&input[..want]);
            *len += want as u8;
            *input = &input[want..];
        }
    }
}

/// How long the header starting with `bytes` is (2 until the second byte is known).
fn header_len(bytes: &[u8]) -> usize {
    let Some(&second) = bytes.get(1) else {
        return 2;
    };
    let extended = match second & 0x7f {
        126 => 2,
        127 => 8,
        _ => 0,
    };
    let mask = if second & 0x80 != 0 { 4 } else { 0 };
    2 + extended + mask
}

/// Checks what the first two bytes of a header say by themselves: no reserved bits, a
/// known opcode, a mask if and only if one is expected.
fn check_start(first: u8, second: u8, masked: bool) -> Result<Opcode, WsError> {
    if first & 0x70 != 0 {
        return Err(WsError::ReservedBits);
    }
    let opcode = Opcode::from_bits(first & 0x0f).ok_or(WsError::UnknownOpcode(first & 0x0f))?;
    match (second & 0x80 != 0, masked) {
        (false, true) => Err(WsError::Unmasked),
        (true, false) => Err(WsError::Masked),
        _ => Ok(opcode),
    }
}

fn parse_header(bytes: &[u8], masked: bool) -> Result<FrameHeader, WsError> {
    let first = bytes[0];
    let second = bytes[1];
    let opcode = check_start(first, second, masked)?;
    let (len, rest) = match second & 0x7f {
        126 => {
            let len = u16::from_be_bytes([bytes[2], bytes[3]]) as u64;
            if len < 126 {
                return Err(WsError::BadLength);
            }
            (len, &bytes[4..])
        }
        127 => {
            let mut raw = [0; 8];
            raw.copy_from_slice(&bytes[2..10]);
            let len = u64::from_be_bytes(raw);
            if len < 0x1_0000 || len >> 63 != 0 {
                return Err(WsError::BadLength);
            }
            (len, &bytes[10..])
        }
        len => (len as u64, &bytes[2..]),
    };
    let mut mask = [0; 4];
    if masked {
        mask.copy_from_slice(&rest[..4]);
    }
    Ok(FrameHeader {
        fin: first & 0x80 != 0,
        opcode,
        mask,
        len,
    })
}

/// Appends `chunk` unmasked to `target`; `phase` is how many bytes of the payload came
/// before it.
fn unmask_into(target: &mut Vec<u8>, chunk: &[u8], mask: [u8; 4], phase: usize) {
    let start = target.len();
    target.extend_from_slice(chunk);
    if mask != [0; 4] {
        apply_mask(&mut target[start..], mask, phase);
    }
}

/// XORs `data` with `mask`, starting at the mask's byte `phase % 4`. Masking and unmasking
/// are the same operation.
fn apply_mask(data: &mut [u8], mask: [u8; 4], phase: usize) {
    let mut rotated = [0u8; 4];
    for (i, byte) in rotated.iter_mut().enumerate() {
        *byte = mask[(phase + i) % 4];
    }
    // Eight bytes at a time: the compiler turns this into word-wide XORs.
    let wide = u64::from_ne_bytes([
        rotated[0], rotated[1], rotated[2], rotated[3], rotated[0], rotated[1], rotated[2],
        rotated[3],
    ]);
    let mut chunks = data.chunks_exact_mut(8);
    for word in &mut chunks {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let value = u64::from_ne_bytes(bytes) ^ wide;
        word.copy_from_slice(&value.to_ne_bytes());
    }
    for (i, byte) in chunks.into_remainder().iter_mut().enumerate() {
        *byte ^= rotated[i % 4];
    }
}

fn close_message(payload: &[u8]) -> Result<WsMessage, WsError> {
    match payload {
        [] => Ok(WsMessage::Close(None)),
        [_] => Err(WsError::BadClose),
        [high, low, reason @ ..] => {
            let code = u16::from_be_bytes([*high, *low]);
            // 1004-1006 and 1015 are reserved and never sent; 1012-1014 are registered with
            // IANA (service restart, try again later, bad gateway) and Node's `ws` sends them.
            let allowed = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
            if !allowed {
                return Err(WsError::BadClose);
            }
            if std::str::from_utf8(reason).is_err() {
                return Err(WsError::InvalidUtf8);
            }
            Ok(WsMessage::Close(Some(code)))
        }
    }
}

/// The header of an unmasked, unfragmented server frame carrying `len` payload bytes:
/// the bytes and how many of them to use.
pub fn encode_header(opcode: Opcode, len: usize) -> ([u8; 10], usize) {
    let mut header = [0u8; 10];
    header[0] = 0x80 | opcode.bits();
    if len < 126 {
        header[1] = len as u8;
        (header, 2)
    } else if len <= u16::MAX as usize {
        header[1] = 126;
        header[2..4].copy_from_slice(&(len as u16).to_be_bytes());
        (header, 4)
    } else {
        header[1] = 127;
        header[2..10].copy_from_slice(&(len as u64).to_be_bytes());
        (header, 10)
    }
}

/// Appends one masked, unfragmented client frame carrying `payload` to `out` (RFC 6455,
/// 5.3: every frame a client sends is masked with a fresh, unpredictable key, which the
/// caller draws).
pub fn encode_client_frame(opcode: Opcode, payload: &[u8], mask: [u8; 4], out: &mut Vec<u8>) {
    let (mut header, len) = encode_header(opcode, payload.len());
    header[1] |= 0x80;
    out.reserve(len + 4 + payload.len());
    out.extend_from_slice(&header[..len]);
    out.extend_from_slice(&mask);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], mask, 0);
}

/// The payload of a close frame with `code` and no reason.
pub fn close_payload(code: u16) -> Bytes {
    Bytes::copy_from_slice(&code.to_be_bytes())
}

#[cfg(test)]
mod tests;
