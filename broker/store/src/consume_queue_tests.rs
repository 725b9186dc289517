//! Unit tests of the consume queue.

use super::*;

fn u(i: i64) -> CqUnit {
    CqUnit {
        offset: i * 100,
        size: 100,
        tags_code: i,
    }
}

#[test]
fn append_read_roll_reload_truncate() {
    let dir = tempfile::tempdir().unwrap();
    let q = ConsumeQueue::new(dir.path(), "T", 1, 4);
    for i in 0..10 {
        assert_eq!(q.append(&u(i)).unwrap(), i);
    }
    assert_eq!(q.max_offset(), 10);
    assert_eq!(q.unit(5).unwrap(), Some(u(5)));
    match q.read_units(2, 100).unwrap() {
        Units::Found(b) => assert_eq!(b.len(), 8 * CQ_UNIT_SIZE), // across files
        Units::Missing(_) => panic!(),
    }
    q.sync().unwrap();
    let names = list_numbered(q.dir()).unwrap();
    assert_eq!(
        names.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        vec![0, 80, 160]
    );
    drop(q);
    // a torn partial unit and zero units at the end are dropped on load
    let last = dir.path().join("T/1").join(file_name(160));
    let mut bytes = std::fs::read(&last).unwrap();
    bytes.extend_from_slice(&[0u8; 30]);
    std::fs::write(&last, &bytes).unwrap();
    let q = ConsumeQueue::load(dir.path(), "T", 1, 4).unwrap();
    assert_eq!(q.max_offset(), 10);
    q.init_min_offset(300).unwrap();
    assert_eq!(q.min_offset(), 3);
    q.truncate(4).unwrap();
    assert_eq!(q.max_offset(), 4);
    assert_eq!(list_numbered(q.dir()).unwrap().len(), 1);
    assert_eq!(q.append(&u(4)).unwrap(), 4);
    assert_eq!(q.unit(4).unwrap(), Some(u(4)));
    q.delete().unwrap();
    assert!(!q.dir().exists());
}

#[test]
fn write_back_buffer_is_read_through_and_drained() {
    let dir = tempfile::tempdir().unwrap();
    let q = ConsumeQueue::new(dir.path(), "W", 0, 1000);
    for i in 0..300 {
        q.append(&u(i)).unwrap(); // 204 units trigger one write-back
    }
    let on_disk = |q: &ConsumeQueue| {
        std::fs::metadata(q.dir().join(file_name(0))).map_or(0, |m| m.len() as usize / CQ_UNIT_SIZE)
    };
    assert_eq!(on_disk(&q), 205);
    for from in [0, 100, 204, 205, 250, 299] {
        match q.read_units(from, 1000).unwrap() {
            Units::Found(b) => {
                assert_eq!(b.len(), (300 - from) as usize * CQ_UNIT_SIZE);
                for (k, c) in b.chunks(CQ_UNIT_SIZE).enumerate() {
                    assert_eq!(CqUnit::decode(c), Some(u(from + k as i64)));
                }
            }
            Units::Missing(_) => panic!(),
        }
    }
    // truncating inside the buffer keeps the rest of it; sync drains
    q.truncate(250).unwrap();
    assert_eq!(q.max_offset(), 250);
    assert_eq!(q.unit(249).unwrap(), Some(u(249)));
    assert_eq!(q.unit(250).unwrap(), None);
    q.append(&u(250)).unwrap();
    q.sync().unwrap();
    assert_eq!(on_disk(&q), 251);
    let reloaded = ConsumeQueue::load(dir.path(), "W", 0, 1000).unwrap();
    assert_eq!(reloaded.max_offset(), 251);
    assert_eq!(reloaded.unit(250).unwrap(), Some(u(250)));
}

#[test]
fn queue_starting_late_reports_missing_files() {
    let dir = tempfile::tempdir().unwrap();
    let q = ConsumeQueue::new(dir.path(), "T", 0, 4);
    q.write_units(9, &u(9).encode()).unwrap();
    q.publish_max(10);
    q.set_min_offset(9);
    assert!(matches!(q.read_units(3, 10).unwrap(), Units::Missing(8)));
    assert_eq!(q.unit(9).unwrap(), Some(u(9)));
    assert_eq!(q.unit(8).unwrap().map(|x| x.is_present()), Some(false));
}

#[test]
fn the_newest_units_record_end_is_known_until_a_cut() {
    let dir = tempfile::tempdir().unwrap();
    let q = ConsumeQueue::new(dir.path(), "T", 1, 4);
    assert_eq!(q.newest_end(), i64::MAX, "nothing appended: not known");
    for i in 0..3 {
        q.append(&u(i)).unwrap();
        assert_eq!(q.newest_end(), i * 100 + 100);
    }
    let two: Vec<u8> = [u(3).encode(), u(4).encode()].concat();
    q.append_units(3, &two).unwrap();
    assert_eq!(q.newest_end(), 500, "the last unit of a batch");
    q.truncate(2).unwrap();
    assert_eq!(q.newest_end(), i64::MAX, "after a cut: not known");
}
