//! Just enough of git's pkt-line format to see what a push does: the ref-update commands at
//! the start of a `git-receive-pack` request, and the report (`ok`/`ng` per ref) in its
//! response.
//!
//! A pkt-line is four hex digits giving the length (the four included) and then the payload;
//! `0000` is a flush, `0001` a delimiter and `0002` a response end. Both parsers here see the
//! bytes as they stream past and never hold more than one pkt-line beyond what they keep.

/// The longest pkt-line git writes (`LARGE_PACKET_MAX`).
const MAX_PKT_LEN: usize = 65520;

/// How much of receive-pack's output is kept to read its report: the report is one line per
/// ref plus progress messages, so more than this means something is off and the refs are
/// checked instead.
pub(crate) const MAX_REPORT_BYTES: usize = 4 << 20;

/// One pkt-line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Pkt<'a> {
    Flush,
    /// `0001` and `0002`, which the v0/v1 push protocol never sends.
    Special,
    Data(&'a [u8]),
}

/// The pkt-line at the start of `bytes` and its length; `Ok(None)` when it is not complete
/// yet; `Err` when the bytes are not a pkt-line.
pub(super) fn next_pkt(bytes: &[u8]) -> Result<Option<(Pkt<'_>, usize)>, ()> {
    let Some(head) = bytes.get(..4) else { return Ok(None) };
    let mut len = [0u8; 2];
    hex::decode_to_slice(head, &mut len).map_err(|_| ())?;
    let len = usize::from(u16::from_be_bytes(len));
    match len {
        0 => Ok(Some((Pkt::Flush, 4))),
        1 | 2 => Ok(Some((Pkt::Special, 4))),
        3 => Err(()),
        _ if len > MAX_PKT_LEN => Err(()),
        _ => Ok(bytes.get(4..len).map(|payload| (Pkt::Data(payload), len))),
    }
}

/// One ref update a push asks for (the crate's, which records it as a ref event).
pub(crate) use codecommit::refs::RefCommand;

fn is_oid(text: &str) -> bool {
    // SHA-1 or SHA-256 object ids, lower-case hex as git writes them.
    (text.len() == 40 || text.len() == 64)
        && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Reading,
    Done,
    Invalid,
}

/// Reads the commands of a receive-pack request from its first bytes, chunk by chunk.
#[derive(Debug)]
pub(crate) struct CommandParser {
    buffer: Vec<u8>,
    commands: Vec<RefCommand>,
    capabilities: Vec<String>,
    state: State,
}

impl Default for CommandParser {
    fn default() -> CommandParser {
        CommandParser::new()
    }
}

impl CommandParser {
    pub(crate) fn new() -> CommandParser {
        CommandParser {
            buffer: Vec::new(),
            commands: Vec::new(),
            capabilities: Vec::new(),
            state: State::Reading,
        }
    }

    /// Whether the flush that ends the commands has been seen: what follows (push options,
    /// the pack) is none of the parser's business.
    pub(crate) fn is_done(&self) -> bool {
        self.state != State::Reading
    }

    /// Takes the next bytes of the request.
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        if self.state != State::Reading {
            return;
        }
        // Only the bytes of a pkt-line cut by the end of a chunk are kept between calls, so
        // the pack that follows the commands is never copied whole.
        let mut owned = std::mem::take(&mut self.buffer);
        let input: &[u8] = if owned.is_empty() {
            bytes
        } else {
            owned.extend_from_slice(bytes);
            &owned
        };
        let mut at = 0;
        while self.state == State::Reading {
            match next_pkt(&input[at..]) {
                Ok(None) => {
                    self.buffer = input[at..].to_vec();
                    break;
                }
                Ok(Some((Pkt::Flush, len))) => {
                    at += len;
                    self.state = State::Done;
                }
                Ok(Some((Pkt::Special, _))) | Err(()) => self.state = State::Invalid,
                Ok(Some((Pkt::Data(payload), len))) => {
                    at += len;
                    self.line(payload);
                }
            }
        }
    }

    fn line(&mut self, payload: &[u8]) {
        let payload = payload.strip_suffix(b"\n").unwrap_or(payload);
        let (line, capabilities) = match payload.iter().position(|b| *b == 0) {
            Some(nul) => (&payload[..nul], Some(&payload[nul + 1..])),
            None => (payload, None),
        };
        let Ok(line) = std::str::from_utf8(line) else {
            self.state = State::Invalid;
            return;
        };
        // A push from a shallow clone names its shallow commits first.
        if line.starts_with("shallow ") {
            return;
        }
        let mut parts = line.splitn(3, ' ');
        let (Some(old), Some(new), Some(name)) = (parts.next(), parts.next(), parts.next()) else {
            self.state = State::Invalid;
            return;
        };
        if !is_oid(old) || !is_oid(new) || name.is_empty() {
            self.state = State::Invalid;
            return;
        }
        if let Some(capabilities) = capabilities
            && self.commands.is_empty()
        {
            self.capabilities = String::from_utf8_lossy(capabilities)
                .split(' ')
                .filter(|it| !it.is_empty())
                .map(str::to_owned)
                .collect();
        }
        self.commands.push(RefCommand {
            old: old.to_owned(),
            new: new.to_owned(),
            name: name.to_owned(),
        });
    }

    /// The commands and the capabilities the client asked for, when the whole command list
    /// was read and made sense.
    pub(crate) fn finish(self) -> Option<(Vec<RefCommand>, Vec<String>)> {
        (self.state == State::Done).then_some((self.commands, self.capabilities))
    }
}

/// What receive-pack said about one ref.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RefStatus {
    pub(crate) name: String,
    pub(crate) ok: bool,
    /// Why an update was refused (`pre-receive hook declined`); empty when it was done.
    pub(crate) reason: String,
}

/// The per-ref statuses of receive-pack's report (`report-status` or `report-status-v2`),
/// inside band 1 when the client asked for a side band. `None` when there is no complete
/// report.
pub(crate) fn parse_report(output: &[u8], sideband: bool) -> Option<Vec<RefStatus>> {
    let demuxed;
    let report: &[u8] = if sideband {
        let mut data = Vec::new();
        let mut at = 0;
        loop {
            match next_pkt(&output[at..]).ok()?? {
                (Pkt::Flush, _) => break,
                (Pkt::Special, _) => return None,
                (Pkt::Data(payload), len) => {
                    at += len;
                    if let Some((1, rest)) = payload.split_first().map(|(b, r)| (*b, r)) {
                        data.extend_from_slice(rest);
                    }
                }
            }
        }
        demuxed = data;
        &demuxed
    } else {
        output
    };
    let mut statuses = Vec::new();
    let mut at = 0;
    let mut unpack_seen = false;
    loop {
        match next_pkt(&report[at..]).ok()?? {
            (Pkt::Flush, _) => break,
            (Pkt::Special, _) => return None,
            (Pkt::Data(payload), len) => {
                at += len;
                let line = std::str::from_utf8(payload).ok()?;
                let line = line.strip_suffix('\n').unwrap_or(line);
                if line.starts_with("unpack ") {
                    unpack_seen = true;
                } else if let Some(name) = line.strip_prefix("ok ") {
                    let reason = String::new();
                    statuses.push(RefStatus { name: name.to_owned(), ok: true, reason });
                } else if let Some(rest) = line.strip_prefix("ng ") {
                    let (name, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                    let (name, reason) = (name.to_owned(), reason.to_owned());
                    statuses.push(RefStatus { name, ok: false, reason });
                }
                // `option …` lines (report-status-v2) refine the `ok` before them; the ref
                // they name is the one pushed, so they change nothing here.
            }
        }
    }
    unpack_seen.then_some(statuses)
}
