//! The last lines of a setup script's output, kept while the output streams to the user so a
//! failure can show them.
//!
//! Chunks arrive from stdout and stderr in any order and split anywhere, so each stream keeps
//! its own unfinished line. A `\r` that is not part of `\r\n` starts the line over, as on a
//! terminal: progress bars leave only their last state. Lines are stored lossily decoded and
//! cut at [`MAX_LINE`] bytes, so memory stays bounded whatever the script prints.

use std::collections::VecDeque;

use crate::script::Stream;

/// How many lines a failure shows.
pub const TAIL_LINES: usize = 20;
/// Longer lines are cut (with `…`) in the tail; the user saw them whole.
pub const MAX_LINE: usize = 2000;

#[derive(Debug)]
pub struct OutputTail {
    max_lines: usize,
    lines: VecDeque<String>,
    open: [OpenLine; 2],
}

#[derive(Debug, Default)]
struct OpenLine {
    bytes: Vec<u8>,
    cut: bool,
    /// The last byte seen was a `\r`; the next byte decides whether it ended the line.
    carriage_return: bool,
}

impl OutputTail {
    pub fn new(max_lines: usize) -> OutputTail {
        OutputTail {
            max_lines,
            lines: VecDeque::new(),
            open: Default::default(),
        }
    }

    pub fn push(&mut self, stream: Stream, chunk: &[u8]) {
        let index = stream as usize;
        for &byte in chunk {
            let open = &mut self.open[index];
            if std::mem::take(&mut open.carriage_return) && byte != b'\n' {
                *open = OpenLine::default();
            }
            match byte {
                b'\n' => {
                    let line = std::mem::take(open);
                    self.keep(line);
                }
                b'\r' => open.carriage_return = true,
                _ if open.bytes.len() < MAX_LINE => open.bytes.push(byte),
                _ => open.cut = true,
            }
        }
    }

    fn keep(&mut self, line: OpenLine) {
        let mut text = String::from_utf8_lossy(&line.bytes).into_owned();
        if line.cut {
            text.push('…');
        }
        if self.lines.len() == self.max_lines {
            self.lines.pop_front();
        }
        self.lines.push_back(text);
    }

    /// The last lines, with each stream's unfinished line (stdout's first) counted as a line.
    pub fn finish(mut self) -> Vec<String> {
        for index in 0..self.open.len() {
            let line = std::mem::take(&mut self.open[index]);
            if !line.bytes.is_empty() || line.cut {
                self.keep(line);
            }
        }
        self.lines.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_last_lines_are_kept() {
        let mut tail = OutputTail::new(3);
        for i in 1..=5 {
            tail.push(Stream::Stdout, format!("line {i}\n").as_bytes());
        }
        assert_eq!(tail.finish(), ["line 3", "line 4", "line 5"]);
    }

    #[test]
    fn lines_split_across_chunks_and_streams_stay_whole() {
        let mut tail = OutputTail::new(10);
        tail.push(Stream::Stdout, b"fetch");
        tail.push(Stream::Stderr, b"warn: slow");
        tail.push(Stream::Stdout, b"ing index\r");
        tail.push(Stream::Stdout, b"\nOK\n");
        tail.push(Stream::Stderr, b" mirror\n");
        tail.push(Stream::Stdout, b"no newline at the end");
        assert_eq!(
            tail.finish(),
            [
                "fetching index",
                "OK",
                "warn: slow mirror",
                "no newline at the end"
            ]
        );
    }

    #[test]
    fn carriage_return_redraws_keep_only_the_final_state() {
        let mut tail = OutputTail::new(10);
        tail.push(Stream::Stdout, b" 10%\r 50%\r");
        tail.push(Stream::Stdout, b"100% done\n");
        assert_eq!(tail.finish(), ["100% done"]);
    }

    #[test]
    fn long_lines_are_cut_and_bad_utf8_replaced() {
        let mut tail = OutputTail::new(10);
        let long = vec![b'x'; MAX_LINE + 500];
        tail.push(Stream::Stderr, &long);
        tail.push(Stream::Stderr, b"\n\xff ok\n");
        let lines = tail.finish();
        assert_eq!(lines[0].len(), MAX_LINE + '…'.len_utf8());
        assert!(lines[0].ends_with('…'));
        assert_eq!(lines[1], "\u{fffd} ok");
    }

    #[test]
    fn no_output_is_no_lines() {
        assert!(OutputTail::new(20).finish().is_empty());
    }
}
