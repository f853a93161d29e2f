//! Records and fields of CSV text (RFC 4180 with a byte-order mark, `\r\n` and blank lines, as
//! the module docs describe), with whether each field was quoted and the line each record
//! starts on.

use std::io::BufRead;

/// One record: its fields' bytes, where each ends, whether each was quoted, and the file line
/// it starts on.
#[derive(Default)]
pub struct Record {
    bytes: Vec<u8>,
    ends: Vec<usize>,
    pub(super) quoted: Vec<bool>,
    pub line: u64,
}

impl Record {
    pub(super) fn count(&self) -> usize {
        self.ends.len()
    }

    pub(super) fn field(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }

    fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
        self.quoted.clear();
    }
}

/// Reads records from CSV text (see the module docs for the dialect).
pub struct RecordReader<R: BufRead> {
    input: R,
    delimiter: u8,
    /// The file line the next byte is on.
    line: u64,
    started: bool,
}

impl<R: BufRead> RecordReader<R> {
    pub fn new(input: R, delimiter: u8) -> Self {
        Self { input, delimiter, line: 1, started: false }
    }

    /// Fills `record` with the next record; false at the end of the input.
    pub fn next_record(&mut self, record: &mut Record) -> std::io::Result<bool> {
        if !self.started {
            self.started = true;
            let buf = self.input.fill_buf()?;
            if buf.starts_with(&[0xEF, 0xBB, 0xBF]) {
                self.input.consume(3);
            }
        }
        loop {
            record.clear();
            record.line = self.line;
            // States: at the start of a field, in an unquoted field, in a quoted field, just
            // after a quote inside a quoted field.
            #[derive(PartialEq)]
            enum State {
                Start,
                Plain,
                Quoted,
                QuoteInQuoted,
            }
            let mut state = State::Start;
            let mut quoted = false;
            let mut any = false;
            let mut ended = false;
            'read: loop {
                let buf = self.input.fill_buf()?;
                if buf.is_empty() {
                    break 'read;
                }
                let mut used = 0;
                for &b in buf {
                    used += 1;
                    any = true;
                    match state {
                        State::Quoted => {
                            if b == b'"' {
                                state = State::QuoteInQuoted;
                            } else {
                                if b == b'\n' {
                                    self.line += 1;
                                }
                                record.bytes.push(b);
                            }
                        }
                        State::QuoteInQuoted if b == b'"' => {
                            record.bytes.push(b'"');
                            state = State::Quoted;
                        }
                        _ if b == self.delimiter => {
                            record.ends.push(record.bytes.len());
                            record.quoted.push(quoted);
                            quoted = false;
                            state = State::Start;
                        }
                        _ if b == b'\n' => {
                            self.line += 1;
                            ended = true;
                            break;
                        }
                        // `\r\n`: the `\r` is dropped here, the `\n` ends the record.
                        _ if b == b'\r' => {}
                        State::Start if b == b'"' => {
                            quoted = true;
                            state = State::Quoted;
                        }
                        // Text after a closing quote (`"ab"c`) is kept, as most readers do.
                        _ => {
                            record.bytes.push(b);
                            state = State::Plain;
                        }
                    }
                }
                self.input.consume(used);
                if ended {
                    break 'read;
                }
            }
            if !any {
                return Ok(false);
            }
            record.ends.push(record.bytes.len());
            record.quoted.push(quoted);
            // A blank line is no record.
            if record.count() == 1 && record.ends[0] == 0 && !quoted {
                if ended {
                    continue;
                }
                return Ok(false);
            }
            return Ok(true);
        }
    }
}
