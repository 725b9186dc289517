//! Tests of the commit log: rolling, fillers, batches, truncation.

use super::*;
use crate::scan::ScanStop;
use rmq_protocol::message::{MessageRecord, encode_record, patch_record};

fn rec(body_len: usize) -> BytesMut {
    let r = MessageRecord {
        topic: "T".into(),
        queue_id: 0,
        flag: 0,
        sys_flag: 0,
        born_timestamp: 1,
        born_host: "1.1.1.1:1".parse().unwrap(),
        store_host: "2.2.2.2:2".parse().unwrap(),
        reconsume_times: 0,
        prepared_transaction_offset: 0,
        body: Bytes::from(vec![7u8; body_len]),
        properties: String::new(),
    };
    let mut b = BytesMut::new();
    encode_record(&r, &mut b).unwrap();
    b
}

/// A record of exactly `total` bytes (whatever the fixed overhead of the record format).
fn rec_of_len(total: usize) -> BytesMut {
    let overhead = rec(0).len();
    let r = rec(total - overhead);
    assert_eq!(r.len(), total);
    r
}

/// Every record offset a full scan from 0 visits, where it stopped and why.
fn scan_all(cl: &CommitLog) -> (Vec<i64>, i64, ScanStop) {
    let mut seen = vec![];
    let (end, stop) = cl
        .scan(0, i64::MAX, true, |o, _, _| {
            seen.push(o);
            Ok(())
        })
        .unwrap();
    (seen, end, stop)
}

#[test]
fn filler_and_roll() {
    let dir = tempfile::tempdir().unwrap();
    let cl = CommitLog::open(dir.path(), 512, 4096).unwrap();
    let mut tail = Tail::new(0);
    let mut offsets = vec![];
    for _ in 0..5 {
        let mut r = rec_of_len(192); // two per segment (384 + 8 <= 512)
        let off = cl
            .append(&mut tail, &mut r, |b, p| patch_record(b, 0, p, 1))
            .unwrap();
        offsets.push(off);
        cl.publish(tail.pos);
    }
    assert_eq!(offsets, vec![0, 192, 512, 704, 1024]);
    let blank = cl.read(384, 8).unwrap().unwrap();
    assert_eq!(record::head(&blank), Head::Blank(128));
    assert_eq!(cl.read_record(384).unwrap(), None);
    assert_eq!(cl.read_record(512).unwrap().unwrap().len(), 192);
    assert_eq!(cl.segments().len(), 3);
    assert_eq!(scan_all(&cl), (offsets, 1216, ScanStop::End));
    // raw reads stop at the segment end and include the filler's zero tail
    let raw = cl.read_raw(0, 10_000).unwrap().unwrap();
    assert_eq!(raw.len(), 512);
    assert_eq!(cl.read_raw(1024, 10).unwrap().unwrap().len(), 10);
    assert!(cl.read_raw(2000, 10).unwrap().is_none());
    let mut too_big = rec(600);
    assert!(matches!(
        cl.append(&mut tail, &mut too_big, |_, _| {}),
        Err(StoreError::RecordTooLarge { .. })
    ));
    assert_eq!(tail.pos, 1216);
}

#[test]
fn batch_crosses_segments() {
    let dir = tempfile::tempdir().unwrap();
    let cl = CommitLog::open(dir.path(), 512, 4096).unwrap();
    let mut tail = Tail::new(0);
    let mut recs: Vec<BytesMut> = (0..5).map(|_| rec_of_len(192)).collect();
    let mut offsets = vec![];
    cl.append_batch(&mut tail, &mut recs, &mut offsets, |i, b, p| {
        patch_record(b, i as i64, p, 1)
    })
    .unwrap();
    cl.publish(tail.pos);
    assert_eq!(offsets, vec![0, 192, 512, 704, 1024]);
    for (i, o) in offsets.iter().enumerate() {
        let r = cl.read_record(*o).unwrap().unwrap();
        assert_eq!(record::parse(&r).unwrap().queue_offset, i as i64);
    }
}

#[test]
fn truncate_and_gap_detection() {
    let dir = tempfile::tempdir().unwrap();
    {
        let cl = CommitLog::open(dir.path(), 512, 0).unwrap();
        let mut tail = Tail::new(0);
        for _ in 0..5 {
            cl.append(&mut tail, &mut rec(100), |b, p| patch_record(b, 0, p, 1))
                .unwrap();
        }
        cl.publish(tail.pos);
        cl.truncate(600).unwrap();
        assert_eq!(cl.segments().len(), 2);
        assert_eq!(cl.segments()[1].file_len().unwrap(), 88);
        cl.truncate(512).unwrap();
        assert_eq!(cl.segments().len(), 1);
    }
    std::fs::write(dir.path().join(crate::segment::file_name(2048)), b"x").unwrap();
    assert!(matches!(
        CommitLog::open(dir.path(), 512, 0),
        Err(StoreError::Corrupt(_))
    ));
}

/// Appends `n` records of 192 bytes; returns their offsets.
fn append_n(cl: &CommitLog, tail: &mut Tail, n: usize) -> Vec<i64> {
    let offsets = (0..n)
        .map(|_| {
            let mut r = rec_of_len(192);
            cl.append(tail, &mut r, |b, p| patch_record(b, 0, p, 1))
                .unwrap()
        })
        .collect();
    cl.publish(tail.pos);
    offsets
}

#[test]
fn buffered_appends_are_readable_before_and_after_their_write_out() {
    let dir = tempfile::tempdir().unwrap();
    let cl = CommitLog::open(dir.path(), 1 << 16, 1024).unwrap();
    let mut tail = Tail::new(0);
    cl.prepare_tail(&mut tail).unwrap();
    let first = append_n(&cl, &mut tail, 1);
    let seg = cl.segment_at(0).unwrap();
    assert_eq!(seg.file_len().unwrap(), 0, "still in the buffer");
    assert_eq!((cl.written(), cl.max_offset()), (0, 192));
    // readers see the buffered record: by offset (pulls), scan (index, slaves)
    assert_eq!(cl.read_record(first[0]).unwrap().unwrap().len(), 192);
    assert_eq!(cl.store_timestamp_at(0).unwrap(), Some(1));
    let scanned = |cl: &CommitLog| {
        let mut seen = 0;
        let (end, stop) = cl
            .scan(0, cl.max_offset(), true, |_, _, _| {
                seen += 1;
                Ok(())
            })
            .unwrap();
        (seen, end, stop)
    };
    assert_eq!(scanned(&cl), (1, 192, ScanStop::Incomplete));
    // the sixth record fills the buffer past 1 KiB: one write of all six
    append_n(&cl, &mut tail, 5);
    assert_eq!(seg.file_len().unwrap(), 6 * 192);
    assert_eq!(cl.written(), 6 * 192);
    // one more, buffered: a read across the boundary takes the file and the buffer part
    append_n(&cl, &mut tail, 1);
    assert_eq!(seg.file_len().unwrap(), 6 * 192);
    let all = cl.read(0, 7 * 192).unwrap().unwrap();
    assert_eq!(all.len(), 7 * 192);
    assert_eq!(record::head(&all[6 * 192..]), Head::Message(192));
    assert_eq!(scanned(&cl), (7, 7 * 192, ScanStop::Incomplete));
    cl.write_out().unwrap();
    assert_eq!(seg.file_len().unwrap(), 7 * 192);
    assert_eq!(cl.read(0, 7 * 192).unwrap().unwrap(), all);
    // replication reads write the buffer out first: a slave never holds unwritten bytes
    append_n(&cl, &mut tail, 1);
    assert_eq!((seg.file_len().unwrap(), cl.written()), (7 * 192, 7 * 192));
    assert_eq!(
        cl.read_raw(6 * 192, 1 << 20).unwrap().unwrap().len(),
        2 * 192
    );
    assert_eq!((seg.file_len().unwrap(), cl.written()), (8 * 192, 8 * 192));
    assert_eq!(cl.read_raw(8 * 192, 1 << 20).unwrap().unwrap().len(), 0);
}

#[test]
fn a_roll_writes_the_finished_segment_out_and_raw_appends_are_written() {
    let dir = tempfile::tempdir().unwrap();
    let cl = CommitLog::open(dir.path(), 512, 1 << 20).unwrap();
    let mut tail = Tail::new(0);
    let offsets = append_n(&cl, &mut tail, 3);
    assert_eq!(offsets, vec![0, 192, 512]);
    let segs = cl.segments();
    assert_eq!(
        segs[0].file_len().unwrap(),
        384 + 8,
        "records and filler written"
    );
    assert_eq!(
        segs[1].file_len().unwrap(),
        0,
        "the new segment's record is buffered"
    );
    assert_eq!(cl.written(), 512);
    assert_eq!(cl.read_record(512).unwrap().unwrap().len(), 192);
    // a batch rolls the same way
    let mut recs: Vec<BytesMut> = (0..3).map(|_| rec_of_len(192)).collect();
    let mut batch = vec![];
    cl.append_batch(&mut tail, &mut recs, &mut batch, |_, b, p| {
        patch_record(b, 0, p, 1)
    })
    .unwrap();
    cl.publish(tail.pos);
    assert_eq!(batch, vec![704, 1024, 1216]);
    assert_eq!(cl.segments()[1].file_len().unwrap(), 384 + 8);
    assert_eq!(cl.written(), 1024);
    // replicated bytes are in the file when append_raw returns (after the buffered ones)
    let raw = cl.read_raw(0, 512).unwrap().unwrap();
    let other = tempfile::tempdir().unwrap();
    let slave = CommitLog::open(other.path(), 512, 1 << 20).unwrap();
    let mut slave_tail = Tail::new(0);
    slave.append_raw(&mut slave_tail, &raw[..300]).unwrap();
    slave.append_raw(&mut slave_tail, &raw[300..]).unwrap();
    assert_eq!(slave.segments()[0].file_len().unwrap(), 512);
    assert_eq!(slave.written(), 512);
}

#[test]
fn a_scan_sees_nothing_an_earlier_scan_on_the_same_thread_read() {
    // the read-ahead buffer is kept per thread: a shorter log scanned after a longer one
    // must end at its own end, not at bytes left over in the buffer
    let open_with = |records: usize| {
        let dir = tempfile::tempdir().unwrap();
        let cl = CommitLog::open(dir.path(), 1 << 16, 4096).unwrap();
        append_n(&cl, &mut Tail::new(0), records);
        cl.write_out().unwrap();
        (dir, cl)
    };
    let (_long_dir, long) = open_with(5);
    assert_eq!(
        scan_all(&long),
        (vec![0, 192, 384, 576, 768], 960, ScanStop::End)
    );
    let (_short_dir, short) = open_with(2);
    assert_eq!(scan_all(&short), (vec![0, 192], 384, ScanStop::End));
}
