//! The bounded look-ahead window over a byte stream that the binary readers decode from.

use std::io::{self, Read};

/// A bounded look-ahead window over a byte stream: records are decoded from it in place and
/// resynchronisation scans it, so memory stays constant whatever the stream length.
///
/// The buffer starts at `initial` bytes and grows, only as far as a request needs, up to `cap`.
#[derive(Debug)]
pub(crate) struct ByteWindow<R> {
    input: R,
    buf: Vec<u8>,
    /// Largest size `buf` may grow to.
    cap: usize,
    start: usize,
    end: usize,
    /// Stream offset of `buf[start]`.
    offset: u64,
    eof: bool,
}

impl<R: Read> ByteWindow<R> {
    /// A window of `initial` bytes that may grow to hold at most `cap` bytes.
    pub(crate) fn new(input: R, initial: usize, cap: usize) -> Self {
        let cap = cap.max(1);
        Self {
            input,
            buf: vec![0; initial.clamp(1, cap)],
            cap,
            start: 0,
            end: 0,
            offset: 0,
            eof: false,
        }
    }

    /// Reads until at least `n` bytes (capped at the capacity) are buffered or the input ends;
    /// returns the buffered bytes.
    pub(crate) fn fill(&mut self, n: usize) -> io::Result<&[u8]> {
        let n = n.min(self.cap);
        if self.end - self.start < n && !self.eof {
            if self.buf.len() - self.start < n {
                // Compact, then grow only as far as this request needs.
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if self.buf.len() < n {
                    let grown = n.max(self.buf.len() * 2).min(self.cap);
                    self.buf.resize(grown, 0);
                }
            }
            // There is room after `end` here, so a zero-byte read really is the end.
            while self.end - self.start < n {
                match self.input.read(&mut self.buf[self.end..]) {
                    Ok(0) => {
                        self.eof = true;
                        break;
                    }
                    Ok(k) => self.end += k,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
        }
        Ok(&self.buf[self.start..self.end])
    }

    /// The bytes buffered now.
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The last `n` bytes dropped by [`Self::consume`] (at most what the buffer still holds);
    /// valid until the next [`Self::fill`], which may move or overwrite them.
    pub(crate) fn consumed_tail(&self, n: usize) -> &[u8] {
        &self.buf[self.start - n.min(self.start)..self.start]
    }

    /// Drops `n` buffered bytes (at most what is buffered).
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.offset += n as u64;
    }

    /// Drops everything buffered.
    pub(crate) fn consume_all(&mut self) {
        self.consume(self.end - self.start);
    }

    /// Drops the next `n` bytes of the stream, buffered or not; returns how many there were.
    pub(crate) fn skip(&mut self, n: u64) -> io::Result<u64> {
        let mut left = n;
        while left > 0 {
            let available = self.fill(1)?.len();
            if available == 0 {
                break;
            }
            let k = available.min(usize::try_from(left).unwrap_or(usize::MAX));
            self.consume(k);
            left -= k as u64;
        }
        Ok(n - left)
    }

    /// Stream offset of the first buffered byte.
    pub(crate) fn offset(&self) -> u64 {
        self.offset
    }

    /// Drops the current byte, then scans forward a whole window at a time to the next
    /// position where `is_start` accepts the `len` bytes there, or to the end of the input.
    /// Suits formats whose record starts are rare and cheap to test.
    pub(crate) fn resync(
        &mut self,
        len: usize,
        mut is_start: impl FnMut(&[u8]) -> bool,
    ) -> io::Result<()> {
        let len = len.max(1);
        self.consume(1);
        loop {
            let data = self.fill(self.cap)?;
            let found = data.windows(len).position(&mut is_start);
            let buffered = data.len();
            let step = match found {
                Some(p) => p,
                None if self.eof => buffered,
                // Keep the last `len - 1` bytes: a record start may straddle the refill.
                None => buffered.saturating_sub(len - 1),
            };
            self.consume(step);
            if found.is_some() || self.eof {
                return Ok(());
            }
        }
    }

    /// Drops bytes one at a time until `is_start` accepts the buffered bytes (at least `len` of
    /// them) at the front. Returns false, with up to `len - 1` bytes left buffered, when the
    /// input ends first. Reads no further ahead than `len` bytes, which suits live streams.
    pub(crate) fn advance_to(
        &mut self,
        len: usize,
        mut is_start: impl FnMut(&[u8]) -> bool,
    ) -> io::Result<bool> {
        loop {
            let data = self.fill(len)?;
            if data.len() < len {
                return Ok(false);
            }
            if is_start(data) {
                return Ok(true);
            }
            self.consume(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ByteWindow;
    use std::io::{self, Read};

    /// Hands out at most 3 bytes a read, after one spurious interruption.
    struct Trickle {
        data: io::Cursor<Vec<u8>>,
        interrupted: bool,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if !self.interrupted {
                self.interrupted = true;
                return Err(io::ErrorKind::Interrupted.into());
            }
            let n = buf.len().min(3);
            self.data.read(&mut buf[..n])
        }
    }

    fn window(len: usize, initial: usize, cap: usize) -> ByteWindow<Trickle> {
        let data = (0..len).map(|i| i as u8).collect();
        let input = Trickle {
            data: io::Cursor::new(data),
            interrupted: false,
        };
        ByteWindow::new(input, initial, cap)
    }

    #[test]
    fn fill_grows_up_to_the_cap_and_tracks_offsets() -> io::Result<()> {
        let mut w = window(100, 4, 16);
        assert_eq!(w.fill(10)?.len(), 10);
        w.consume(5);
        assert_eq!(w.offset(), 5);
        // A request over the cap gets the cap.
        assert_eq!(w.fill(40)?, &(5..21).collect::<Vec<u8>>()[..]);
        w.consume(16);
        assert_eq!(w.consumed_tail(3), &[18, 19, 20]);
        assert_eq!(w.skip(1000)?, 79);
        assert_eq!(w.offset(), 100);
        assert!(w.fill(1)?.is_empty());
        Ok(())
    }

    #[test]
    fn scans_stop_at_the_first_match_or_the_end() -> io::Result<()> {
        let mut w = window(50, 8, 8);
        w.resync(2, |b| b == [30, 31])?;
        assert_eq!(w.offset(), 30);
        w.resync(2, |_| false)?;
        assert_eq!((w.offset(), w.data().len()), (50, 0));

        let mut w = window(50, 8, 64);
        assert!(w.advance_to(4, |b| b[0] == 7)?);
        assert_eq!(w.offset(), 7);
        assert!(!w.advance_to(4, |_| false)?);
        assert_eq!((w.offset(), w.data().len()), (47, 3));
        w.consume_all();
        assert_eq!(w.offset(), 50);
        Ok(())
    }
}
