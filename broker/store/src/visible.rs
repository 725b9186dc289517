//! Reads capped at a commit log offset: in controller mode a master shows readers only records
//! every in-sync replica holds (RocketMQ 5's confirm offset), so a consumer never takes a
//! record the next master may not have. The cap is a commit log offset; a queue's visible end
//! is its first unit whose record ends past it. Pure search here; the store applies it.

/// The first queue offset in `[lo, hi)` whose record ends past `limit`, `hi` when none does.
/// `end_at(n)` is where the record at queue offset `n` ends (`None` for a hole or a removed
/// unit: counted as visible). Ends grow with the queue offset; the records past the cap are
/// the newest few, so the search gallops back from `hi` before it halves.
pub fn first_beyond(
    lo: i64,
    hi: i64,
    limit: i64,
    mut end_at: impl FnMut(i64) -> Option<i64>,
) -> i64 {
    let mut beyond = |n: i64| end_at(n).is_some_and(|end| end > limit);
    if lo >= hi || !beyond(hi - 1) {
        return hi;
    }
    // invariant: `top` is beyond the cap; everything below `floor` is not
    let (mut top, mut floor, mut step) = (hi - 1, lo, 1i64);
    loop {
        let probe = top - step;
        if probe < lo {
            break;
        }
        if beyond(probe) {
            top = probe;
            step = step.saturating_mul(2);
        } else {
            floor = probe + 1;
            break;
        }
    }
    while floor < top {
        let mid = floor + (top - floor) / 2;
        if beyond(mid) {
            top = mid;
        } else {
            floor = mid + 1;
        }
    }
    top
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records of 10 bytes each starting at commit log offset 0: offset n ends at 10 (n + 1).
    fn ends(n: i64) -> Option<i64> {
        Some(10 * (n + 1))
    }

    #[test]
    fn finds_the_first_record_past_the_cap() {
        for hi in 0..40 {
            for limit in -5..420 {
                let want = (0..hi).find(|n| ends(*n).unwrap() > limit).unwrap_or(hi);
                assert_eq!(
                    first_beyond(0, hi, limit, ends),
                    want,
                    "hi {hi} limit {limit}"
                );
            }
        }
        // a queue whose oldest units are gone starts at lo
        assert_eq!(first_beyond(30, 40, 0, ends), 30);
        assert_eq!(first_beyond(30, 40, 355, ends), 35);
    }

    #[test]
    fn holes_count_as_visible_and_few_units_are_read_for_a_short_tail() {
        let with_hole = |n: i64| (n != 3).then(|| 10 * (n + 1));
        assert_eq!(first_beyond(0, 10, 45, with_hole), 4);
        assert_eq!(
            first_beyond(0, 10, 35, with_hole),
            4,
            "the hole at 3 is not past the cap"
        );
        let mut reads = 0;
        let found = first_beyond(0, 1_000_000, 10 * 999_998, |n| {
            reads += 1;
            ends(n)
        });
        assert_eq!(found, 999_998);
        assert!(reads <= 4, "{reads} units read for a tail of 2");
    }
}
