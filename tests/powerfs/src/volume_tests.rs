//! Self-test of the power-loss model: each rule of the module documentation, alone.

use super::*;

fn name(s: &str) -> &OsStr {
    OsStr::new(s)
}

/// Content of `path` (slash-separated, from the root) or `None` if it does not exist.
fn content(v: &Volume, path: &str) -> Option<Vec<u8>> {
    let mut ino = ROOT;
    for part in path.split('/') {
        ino = v.lookup(ino, name(part)).ok()?.ino;
    }
    let size = v.attr(ino).ok()?.size;
    Some(v.read(ino, 0, size as u32).ok()?.to_vec())
}

fn file(v: &mut Volume, parent: u64, n: &str, bytes: &[u8]) -> u64 {
    let ino = v.create(parent, name(n), Kind::File, 0o644).unwrap().ino;
    v.write(ino, 0, bytes).unwrap();
    ino
}

#[test]
fn unsynced_data_and_entries_are_dropped() {
    let mut v = Volume::new();
    file(&mut v, ROOT, "a", b"never synced");
    let b = file(&mut v, ROOT, "b", b"data synced, entry not");
    v.fsync(b).unwrap();
    let c = file(&mut v, ROOT, "c", b"entry synced, data not");
    v.fsync_dir(ROOT).unwrap();
    let _ = c;
    let after = v.after_power_cut();
    assert_eq!(
        content(&after, "a"),
        Some(vec![]),
        "entry durable, data was not"
    );
    assert_eq!(
        content(&after, "b"),
        Some(b"data synced, entry not".to_vec())
    );
    assert_eq!(content(&after, "c"), Some(vec![]));
    let mut v = Volume::new();
    let d = file(&mut v, ROOT, "d", b"x");
    v.fsync(d).unwrap();
    assert_eq!(
        content(&v.after_power_cut(), "d"),
        None,
        "entry never synced"
    );
}

#[test]
fn synced_file_keeps_synced_content_only() {
    let mut v = Volume::new();
    let f = file(&mut v, ROOT, "f", b"first");
    v.fsync(f).unwrap();
    v.fsync_dir(ROOT).unwrap();
    v.write(f, 5, b"-second").unwrap();
    v.write(f, 0, b"FIRST").unwrap();
    let after = v.after_power_cut();
    assert_eq!(content(&after, "f"), Some(b"first".to_vec()));
    assert_eq!(after.stats.cuts, 1);
}

#[test]
fn rename_is_durable_only_with_the_directory_sync() {
    let mut v = Volume::new();
    let old = file(&mut v, ROOT, "t.json", b"old");
    v.fsync(old).unwrap();
    v.fsync_dir(ROOT).unwrap();
    let tmp = file(&mut v, ROOT, "t.json.tmp", b"new");
    v.fsync(tmp).unwrap();
    v.rename(ROOT, name("t.json.tmp"), ROOT, name("t.json"))
        .unwrap();
    assert_eq!(content(&v, "t.json"), Some(b"new".to_vec()));
    let mut lost = v.after_power_cut();
    assert_eq!(content(&lost, "t.json"), Some(b"old".to_vec()));
    assert_eq!(content(&lost, "t.json.tmp"), None);

    let tmp = file(&mut lost, ROOT, "t.json.tmp", b"new");
    lost.fsync(tmp).unwrap();
    lost.rename(ROOT, name("t.json.tmp"), ROOT, name("t.json"))
        .unwrap();
    lost.fsync_dir(ROOT).unwrap();
    assert_eq!(
        content(&lost.after_power_cut(), "t.json"),
        Some(b"new".to_vec())
    );
}

#[test]
fn nested_directories_need_every_parent_synced() {
    let mut v = Volume::new();
    let cq = v.create(ROOT, name("cq"), Kind::Dir, 0o755).unwrap().ino;
    let topic = v.create(cq, name("T"), Kind::Dir, 0o755).unwrap().ino;
    let f = file(&mut v, topic, "0", b"units");
    v.fsync(f).unwrap();
    v.fsync_dir(topic).unwrap();
    v.fsync_dir(ROOT).unwrap();
    // cq itself was never synced: T is not in it.
    assert_eq!(content(&v.after_power_cut(), "cq/T/0"), None);
    let mut v = Volume::new();
    let cq = v.create(ROOT, name("cq"), Kind::Dir, 0o755).unwrap().ino;
    let topic = v.create(cq, name("T"), Kind::Dir, 0o755).unwrap().ino;
    let f = file(&mut v, topic, "0", b"units");
    for step in [
        v.fsync(f),
        v.fsync_dir(topic),
        v.fsync_dir(cq),
        v.fsync_dir(ROOT),
    ] {
        step.unwrap();
    }
    assert_eq!(
        content(&v.after_power_cut(), "cq/T/0"),
        Some(b"units".to_vec())
    );
}

#[test]
fn removal_is_durable_only_with_the_directory_sync() {
    let mut v = Volume::new();
    let f = file(&mut v, ROOT, "seg", b"data");
    v.fsync(f).unwrap();
    v.fsync_dir(ROOT).unwrap();
    v.remove(ROOT, name("seg"), Kind::File).unwrap();
    assert_eq!(content(&v, "seg"), None);
    let mut back = v.after_power_cut();
    assert_eq!(content(&back, "seg"), Some(b"data".to_vec()));
    back.remove(ROOT, name("seg"), Kind::File).unwrap();
    back.fsync_dir(ROOT).unwrap();
    assert_eq!(content(&back.after_power_cut(), "seg"), None);
}

#[test]
fn a_failed_fsync_loses_its_pages_for_good() {
    let mut v = Volume::new();
    let f = file(&mut v, ROOT, "log", &[1u8; 4096]);
    v.fsync(f).unwrap();
    v.fsync_dir(ROOT).unwrap();
    v.write(f, 0, &[2u8; 100]).unwrap();
    v.write(f, 4096, &[3u8; 8192]).unwrap();
    v.fail_next_fsyncs(1, None);
    assert_eq!(v.fsync(f), Err(libc::EIO));
    // The retry succeeds without writing the lost pages.
    v.fsync(f).unwrap();
    v.write(f, 8192, &[4u8; 10]).unwrap();
    v.fsync(f).unwrap();
    let after = content(&v.after_power_cut(), "log").unwrap();
    assert_eq!(after.len(), 12288, "the length reached the disk");
    assert_eq!(
        &after[..4096],
        &[1u8; 4096][..],
        "old content of the first page"
    );
    assert!(
        after[4096..8192].iter().all(|&b| b == 0),
        "lost page reads as zeros"
    );
    assert_eq!(&after[8192..8202], &[4u8; 10][..]);
    assert_eq!(v.stats.failed_syncs, 1);
    assert_eq!(v.stats.pages_lost, 3);
}

#[test]
fn shrink_then_regrow_does_not_resurrect_old_bytes() {
    let mut v = Volume::new();
    let f = file(&mut v, ROOT, "cq", &[9u8; 8192]);
    v.fsync(f).unwrap();
    v.fsync_dir(ROOT).unwrap();
    v.set_size(f, 100).unwrap();
    v.set_size(f, 8192).unwrap();
    v.fsync(f).unwrap();
    let after = content(&v.after_power_cut(), "cq").unwrap();
    assert_eq!(&after[..100], &[9u8; 100][..]);
    assert!(after[100..].iter().all(|&b| b == 0));
}

#[test]
fn a_volume_without_power_answers_eio() {
    let mut v = Volume::new();
    let f = file(&mut v, ROOT, "x", b"1");
    let _next = v.after_power_cut();
    assert_eq!(v.write(f, 0, b"2"), Err(libc::EIO));
    assert_eq!(v.fsync(f), Err(libc::EIO));
    assert_eq!(v.lookup(ROOT, name("x")).err(), Some(libc::EIO));
}

#[test]
fn errors_match_posix() {
    let mut v = Volume::new();
    let d = v.create(ROOT, name("d"), Kind::Dir, 0o755).unwrap().ino;
    file(&mut v, d, "f", b"");
    assert_eq!(
        v.create(ROOT, name("d"), Kind::File, 0o644).err(),
        Some(libc::EEXIST)
    );
    assert_eq!(v.remove(ROOT, name("d"), Kind::Dir), Err(libc::ENOTEMPTY));
    assert_eq!(v.remove(ROOT, name("d"), Kind::File), Err(libc::EISDIR));
    assert_eq!(v.remove(d, name("f"), Kind::Dir), Err(libc::ENOTDIR));
    assert_eq!(v.lookup(ROOT, name("nope")).err(), Some(libc::ENOENT));
    assert_eq!(v.rename(ROOT, name("d"), d, name("d2")), Err(libc::EINVAL));
}

#[test]
fn failures_can_be_aimed_at_one_directory() {
    let mut v = Volume::new();
    let log = v
        .create(ROOT, name("commitlog"), Kind::Dir, 0o755)
        .unwrap()
        .ino;
    let seg = file(&mut v, log, "0000", b"records");
    let cfg = file(&mut v, ROOT, "topics.json", b"{}");
    v.fail_next_fsyncs(1, Some(OsStr::new("commitlog")));
    v.fsync(cfg).unwrap();
    assert_eq!(
        v.fsync(seg),
        Err(libc::EIO),
        "the commit log's fsync is the one that fails"
    );
    v.fsync(seg).unwrap();
    assert_eq!(v.stats.failed_syncs, 1);
}
