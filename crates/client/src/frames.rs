//! Docker's multiplexed stream (logs and attach of a container without a
//! terminal): frames of an 8-byte header (stream id, 0, 0, 0, length as
//! big-endian u32) and the payload, arriving in pieces of any size.

/// Reassembles frames from the pieces fed to it.
#[derive(Default)]
pub struct Frames {
    buf: Vec<u8>,
}

/// stdout's and stderr's stream ids.
pub const STDOUT: u8 = 1;
pub const STDERR: u8 = 2;

impl Frames {
    /// The complete frames in what was held and `data`, as (stream id,
    /// payload); an incomplete one is held for the next piece.
    pub fn feed(&mut self, data: &[u8]) -> Vec<(u8, Vec<u8>)> {
        self.buf.extend_from_slice(data);
        let mut out = Vec::new();
        let mut at = 0;
        while self.buf.len() - at >= 8 {
            let h = &self.buf[at..at + 8];
            let len = u32::from_be_bytes([h[4], h[5], h[6], h[7]]) as usize;
            if self.buf.len() - at - 8 < len {
                break;
            }
            out.push((h[0], self.buf[at + 8..at + 8 + len].to_vec()));
            at += 8 + len;
        }
        self.buf.drain(..at);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_split_anywhere_come_back_whole() {
        let mut wire = vec![1, 0, 0, 0, 0, 0, 0, 3];
        wire.extend_from_slice(b"abc");
        wire.extend_from_slice(&[2, 0, 0, 0, 0, 0, 0, 2]);
        wire.extend_from_slice(b"de");
        let mut f = Frames::default();
        let mut got = Vec::new();
        for piece in wire.chunks(5) {
            got.extend(f.feed(piece));
        }
        assert_eq!(got, vec![(1, b"abc".to_vec()), (2, b"de".to_vec())]);
    }
}
