//! Sequential validation of the commit log from a record boundary: used by recovery (find the
//! valid end, re-dispatch) and by raw appends on a slave (dispatch completed records).

use crate::commit_log::CommitLog;
use crate::error::StoreError;
use crate::record::{self, FILLER_LEN, Head, Layout};
use crate::segment::Segment;

/// Read-ahead of the scanner.
const SCAN_CHUNK: usize = 1 << 20;

/// Why a scan stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScanStop {
    /// No more data (end of files, or the limit reached at a record boundary).
    End,
    /// A record or filler extends past the limit (replication: not fully received yet).
    Incomplete,
    /// Bytes that are not a valid record (torn write, garbage, checksum mismatch).
    Invalid(&'static str),
}

impl CommitLog {
    /// Walks records from `from` (a record boundary) while they are valid and end before
    /// `limit`, calling `on_record(offset, bytes, layout)`; returns where it stopped and why.
    /// With `verify_crc`, each record gets the full integrity check of [`record::verify`] (body
    /// CRC, whole-record checksum or strict structure: no torn record passes). A record whose PHYSICALOFFSET field differs
    /// from its position is invalid (stale data).
    pub fn scan(
        &self,
        from: i64,
        limit: i64,
        verify_crc: bool,
        mut on_record: impl FnMut(i64, &[u8], &Layout) -> Result<(), StoreError>,
    ) -> Result<(i64, ScanStop), StoreError> {
        let mut pos = from;
        let mut win = Window::new();
        loop {
            let Some(seg) = self.segment_at(pos) else {
                return Ok((pos, ScanStop::End));
            };
            let in_seg = pos - seg.start();
            let room = self.segment_size() - in_seg;
            if pos + FILLER_LEN as i64 > limit {
                return Ok((pos, ScanStop::Incomplete));
            }
            // read ahead no further than `limit`: a scan following the live tail (the key
            // indexer) would otherwise zero and read a whole chunk for every few new records
            let ahead = room.min(limit.saturating_sub(pos));
            let Some(h) = win.get(self, &seg, in_seg, FILLER_LEN, ahead)? else {
                return Ok((pos, ScanStop::End));
            };
            match record::head(h) {
                Head::Blank(rem) if rem == room => {
                    if seg.start() + self.segment_size() > limit {
                        return Ok((pos, ScanStop::Incomplete));
                    }
                    pos = seg.start() + self.segment_size();
                }
                Head::Message(total) if total as i64 + FILLER_LEN as i64 <= room => {
                    if pos + total as i64 > limit {
                        return Ok((pos, ScanStop::Incomplete));
                    }
                    let Some(rec) = win.get(self, &seg, in_seg, total, ahead)? else {
                        return Ok((pos, ScanStop::Invalid("record cut by the end of the file")));
                    };
                    let layout = match record::parse(rec) {
                        Ok(l) => l,
                        Err(why) => return Ok((pos, ScanStop::Invalid(why))),
                    };
                    if layout.physical_offset != pos {
                        return Ok((pos, ScanStop::Invalid("physical offset field mismatch")));
                    }
                    if verify_crc && let Err(why) = record::verify(rec, &layout) {
                        return Ok((pos, ScanStop::Invalid(why)));
                    }
                    on_record(pos, rec, &layout)?;
                    pos += total as i64;
                }
                Head::Message(_) => return Ok((pos, ScanStop::Invalid("record size too large"))),
                Head::Blank(_) => return Ok((pos, ScanStop::Invalid("filler size mismatch"))),
                Head::Invalid => {
                    let zero = h.iter().all(|b| *b == 0);
                    let why = if zero { "zeros" } else { "bad magic or size" };
                    return Ok((pos, ScanStop::Invalid(why)));
                }
            }
        }
    }
}

thread_local! {
    /// The read-ahead buffer of this thread's last scan, kept for the next one: the key index
    /// scans a few dozen records at a time, and a fresh buffer per scan cost an allocation and
    /// a zero-fill of up to [`SCAN_CHUNK`] bytes each time.
    static SCAN_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Read-ahead buffer over one segment for sequential scans.
struct Window {
    seg_start: i64,
    start: i64,
    /// Holds `valid` bytes read from `start`; the rest is left over from earlier reads.
    buf: Vec<u8>,
    valid: usize,
}

impl Drop for Window {
    fn drop(&mut self) {
        SCAN_BUFFER.set(std::mem::take(&mut self.buf));
    }
}

impl Window {
    /// An empty window over this thread's buffer.
    fn new() -> Self {
        Self {
            seg_start: 0,
            start: 0,
            buf: SCAN_BUFFER.take(),
            valid: 0,
        }
    }

    /// `len` bytes at `in_seg` of `seg` (from its file or `cl`'s write-back buffer), or `None`
    /// if the data is shorter. `room` bounds the read-ahead (to the segment and the scan's
    /// limit).
    fn get(
        &mut self,
        cl: &CommitLog,
        seg: &Segment,
        in_seg: i64,
        len: usize,
        room: i64,
    ) -> Result<Option<&[u8]>, StoreError> {
        let covered = self.seg_start == seg.start()
            && in_seg >= self.start
            && in_seg + len as i64 <= self.start + self.valid as i64;
        if !covered {
            let want = (len.max(SCAN_CHUNK) as i64).min(room).max(len as i64) as usize;
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
            self.valid = 0;
            let n = cl.read_some(seg, in_seg, &mut self.buf[..want])?;
            self.valid = n;
            self.seg_start = seg.start();
            self.start = in_seg;
            if n < len {
                return Ok(None);
            }
        }
        let from = (in_seg - self.start) as usize;
        Ok(self.buf[..self.valid].get(from..from + len))
    }
}
