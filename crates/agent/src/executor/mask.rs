//! Masking secret values in build output.
//!
//! Output is masked line by line: a secret printed across two reads of the pipe is still
//! found, because a line is only released once it is complete.

/// Replaces every secret value in the text that passes through it with `***`.
#[derive(Debug, Default)]
pub(crate) struct Masker {
    /// Longest first, so that a secret containing another is masked whole.
    secrets: Vec<String>,
    partial: Vec<u8>,
}

/// Values shorter than this are not masked on their own: masking `1` or `true` everywhere
/// would make the log unreadable and hide nothing.
const MIN_SECRET_LEN: usize = 3;

/// The longest line held back while waiting for its end.
const MAX_LINE: usize = 1024 * 1024;

impl Masker {
    pub(crate) fn new(values: impl IntoIterator<Item = String>) -> Masker {
        let mut secrets: Vec<String> = Vec::new();
        for value in values {
            // A multi-line secret (a key file, a JSON document) is masked line by line too,
            // since output is masked one line at a time.
            let lines = value
                .lines()
                .map(str::trim)
                .filter(|it| it.len() >= MIN_SECRET_LEN)
                .map(str::to_owned);
            let whole = Some(value.clone()).filter(|it| it.len() >= MIN_SECRET_LEN);
            for secret in whole.into_iter().chain(lines) {
                if !secrets.contains(&secret) {
                    secrets.push(secret);
                }
            }
        }
        secrets.sort_by_key(|it| std::cmp::Reverse(it.len()));
        Masker { secrets, partial: Vec::new() }
    }

    /// Masks a whole text at once (a message, a value).
    pub(crate) fn mask(&self, text: &str) -> String {
        let mut text = text.to_owned();
        for secret in &self.secrets {
            if text.contains(secret.as_str()) {
                text = text.replace(secret.as_str(), "***");
            }
        }
        text
    }

    /// Takes output bytes and returns the complete lines among them, masked.
    pub(crate) fn push(&mut self, bytes: &[u8]) -> Option<String> {
        self.partial.extend_from_slice(bytes);
        // A program that never ends its line (a progress bar) must not grow the buffer
        // without bound: past this size the line is released as it is.
        if self.partial.len() > MAX_LINE && !self.partial.contains(&b'\n') {
            let line = std::mem::take(&mut self.partial);
            return Some(self.mask(&String::from_utf8_lossy(&line)));
        }
        let end = self.partial.iter().rposition(|b| *b == b'\n')? + 1;
        let lines: Vec<u8> = self.partial.drain(..end).collect();
        Some(self.mask(&String::from_utf8_lossy(&lines)))
    }

    /// Releases an incomplete last line, ended with a newline.
    pub(crate) fn flush(&mut self) -> Option<String> {
        if self.partial.is_empty() {
            return None;
        }
        self.partial.push(b'\n');
        let rest = std::mem::take(&mut self.partial);
        Some(self.mask(&String::from_utf8_lossy(&rest)))
    }
}

#[cfg(test)]
mod tests;
