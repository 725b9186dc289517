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

#[test]
fn filler_and_roll() {
    let dir = tempfile::tempdir().unwrap();
    let cl = CommitLog::open(dir.path(), 512).unwrap();
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
    let mut seen = vec![];
    let (end, stop) = cl
        .scan(0, i64::MAX, true, |o, _, _| {
            seen.push(o);
            Ok(())
        })
        .unwrap();
    assert_eq!((end, stop), (1216, ScanStop::End));
    assert_eq!(seen, offsets);
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
    let cl = CommitLog::open(dir.path(), 512).unwrap();
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
        let cl = CommitLog::open(dir.path(), 512).unwrap();
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
        CommitLog::open(dir.path(), 512),
        Err(StoreError::Corrupt(_))
    ));
}
