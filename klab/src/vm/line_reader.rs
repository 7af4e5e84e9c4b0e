//! A byte stream from the guest into lines of bounded length.
//!
//! A line longer than its cap keeps its head and its tail (where the command protocol's
//! sentinel sits when a command's output had no final newline), with a marker for the bytes
//! between: memory stays bounded whatever the guest sends, a 10 MB line without a newline
//! included. Bytes are decoded lossily (invalid UTF-8 becomes U+FFFD) and carriage returns go.

use std::io::{BufRead, BufReader, ErrorKind, Read};

use crate::vm::limits::cut_marker;

/// Reads bounded lines from `R`.
pub struct LineReader<R> {
    inner: BufReader<R>,
    head_max: usize,
    tail_max: usize,
    /// The line so far: its first `head_max` bytes, then the latest `tail_max` of the rest.
    head: Vec<u8>,
    tail: Vec<u8>,
    /// Bytes of the line so far, kept or not (its newline is not one of them).
    total: u64,
}

impl<R: Read> LineReader<R> {
    /// Lines keep at most `head_max` bytes from their start and `tail_max` from their end.
    pub fn new(inner: R, head_max: usize, tail_max: usize) -> LineReader<R> {
        LineReader {
            inner: BufReader::with_capacity(64 << 10, inner),
            head_max,
            tail_max,
            head: Vec::new(),
            tail: Vec::new(),
            total: 0,
        }
    }

    /// The next line without its newline; `None` at the end of the stream. `raw` sees every
    /// byte read, as read (for a log). An error (a socket's read timeout among them) keeps
    /// the partial line: the next call goes on with it.
    pub fn next_line(&mut self, raw: &mut dyn FnMut(&[u8])) -> std::io::Result<Option<String>> {
        loop {
            let buf = match self.inner.fill_buf() {
                Ok(buf) => buf,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok((self.total > 0).then(|| self.finish()));
            }
            let (part, ended) = match buf.iter().position(|&b| b == b'\n') {
                Some(i) => (&buf[..=i], true),
                None => (buf, false),
            };
            raw(part);
            let body = if ended { &part[..part.len() - 1] } else { part };
            let used = part.len();
            self.total += body.len() as u64;
            keep(
                &mut self.head,
                self.head_max,
                &mut self.tail,
                self.tail_max,
                body,
            );
            self.inner.consume(used);
            if ended {
                return Ok(Some(self.finish()));
            }
        }
    }

    fn finish(&mut self) -> String {
        let cut = self.total - (self.head.len() + self.tail.len()) as u64;
        let line = if cut == 0 {
            // Whole: decoded in one piece, so a char across head and tail stays one.
            self.head.extend_from_slice(&self.tail);
            String::from_utf8_lossy(&self.head).into_owned()
        } else {
            format!(
                "{} {} {}",
                String::from_utf8_lossy(&self.head),
                cut_marker(cut),
                String::from_utf8_lossy(&self.tail)
            )
        };
        self.head.clear();
        self.tail.clear();
        self.total = 0;
        line.replace('\r', "")
    }
}

/// Adds `bytes` of a line: to `head` up to `head_max`, the rest to `tail`, of which the last
/// `tail_max` stay.
fn keep(head: &mut Vec<u8>, head_max: usize, tail: &mut Vec<u8>, tail_max: usize, bytes: &[u8]) {
    let into_head = (head_max - head.len()).min(bytes.len());
    head.extend_from_slice(&bytes[..into_head]);
    let rest = &bytes[into_head..];
    if rest.len() >= tail_max {
        tail.clear();
        tail.extend_from_slice(&rest[rest.len() - tail_max..]);
    } else {
        tail.extend_from_slice(rest);
        let over = tail.len().saturating_sub(tail_max);
        tail.drain(..over);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out its parts one per read; `None` is a read timeout.
    struct Parts(std::collections::VecDeque<Option<Vec<u8>>>);

    impl Read for Parts {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            match self.0.pop_front() {
                None => Ok(0),
                Some(None) => Err(ErrorKind::WouldBlock.into()),
                Some(Some(mut part)) => {
                    let n = part.len().min(out.len());
                    out[..n].copy_from_slice(&part[..n]);
                    if n < part.len() {
                        self.0.push_front(Some(part.split_off(n)));
                    }
                    Ok(n)
                }
            }
        }
    }

    fn lines(input: &[u8], head: usize, tail: usize) -> Vec<String> {
        let mut reader = LineReader::new(input, head, tail);
        std::iter::from_fn(|| reader.next_line(&mut |_| {}).unwrap()).collect()
    }

    #[test]
    fn splits_lines_drops_carriage_returns_and_keeps_a_last_partial_line() {
        assert_eq!(
            lines(b"one\r\n\ntwo\rx\nlast", 100, 10),
            ["one", "", "twox", "last"]
        );
        assert!(lines(b"", 100, 10).is_empty());
        assert_eq!(
            lines(b"bad \xff\xfe utf8\n", 100, 10),
            ["bad \u{fffd}\u{fffd} utf8"]
        );
    }

    #[test]
    fn a_ten_megabyte_line_without_newline_is_cut_and_memory_stays_bounded() {
        let mut input = vec![b'x'; 10 << 20];
        input.extend_from_slice(b"END\nnext\n");
        let mut reader = LineReader::new(&input[..], 1000, 16);
        let mut logged = 0;
        let first = reader
            .next_line(&mut |bytes| logged += bytes.len())
            .unwrap()
            .unwrap();
        assert!(first.len() < 1100, "{}", first.len());
        let cut = (10 << 20) + 3 - 1000 - 16;
        assert_eq!(
            first,
            format!(
                "{} [… {cut} bytes cut] {}END",
                "x".repeat(1000),
                "x".repeat(13)
            )
        );
        assert!(
            reader.head.capacity() <= 2 * 1000,
            "{}",
            reader.head.capacity()
        );
        assert!(reader.tail.capacity() <= 64, "{}", reader.tail.capacity());
        assert_eq!(
            reader.next_line(&mut |_| {}).unwrap().as_deref(),
            Some("next")
        );
        assert_eq!(
            logged,
            input.len() - 5,
            "the log sees every byte of the line"
        );
    }

    #[test]
    fn a_sentinel_after_a_huge_unterminated_output_survives() {
        let mut input = vec![b'y'; 3 << 20];
        input.extend_from_slice(b"@@KLAB-DONE 7 0@@\n");
        let line = &lines(
            &input,
            crate::vm::limits::LINE_BYTES,
            crate::vm::limits::LINE_TAIL_BYTES,
        )[0];
        assert!(
            line.ends_with("y@@KLAB-DONE 7 0@@"),
            "{}",
            &line[line.len() - 40..]
        );
        assert!(line.contains("bytes cut]"));
    }

    #[test]
    fn a_line_just_over_the_head_is_kept_whole_even_across_a_multibyte_char() {
        // `é` straddles the head's end: decoded whole, not as two replacement chars.
        let text = format!("{}é{}", "a".repeat(9), "b".repeat(5));
        assert_eq!(lines(text.as_bytes(), 10, 16), [text]);
    }

    #[test]
    fn a_read_timeout_keeps_the_partial_line() {
        let parts = [Some(&b"hal"[..]), None, Some(b"f\nwhole\n")];
        let mut reader = LineReader::new(
            Parts(parts.iter().map(|p| p.map(<[u8]>::to_vec)).collect()),
            100,
            10,
        );
        let err = reader.next_line(&mut |_| {}).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::WouldBlock);
        assert_eq!(
            reader.next_line(&mut |_| {}).unwrap().as_deref(),
            Some("half")
        );
        assert_eq!(
            reader.next_line(&mut |_| {}).unwrap().as_deref(),
            Some("whole")
        );
        assert_eq!(reader.next_line(&mut |_| {}).unwrap(), None);
    }
}
