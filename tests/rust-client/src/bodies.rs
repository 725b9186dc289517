//! Message bodies: `<prefix>-<index>`, and when --body-size is larger, `#` then a filler up to
//! exactly body-size bytes: xorshift64 over 'a'..'z' seeded with (index+1)*0x9E3779B97F4A7C15.
//! Identical to tests/java/.../Bodies.java and tests/go/bodies.go, so every harness can verify the
//! others' bodies.

use std::collections::BTreeSet;

pub fn body_id(prefix: &str, index: i64) -> String {
    format!("{prefix}-{index}")
}

fn fill(b: &mut [u8], from: usize, index: i64) {
    let mut s = (index as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    for x in b.iter_mut().skip(from) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        *x = b'a' + ((s >> 40) % 26) as u8;
    }
}

pub fn make_body(prefix: &str, index: i64, size: usize) -> Vec<u8> {
    let id = body_id(prefix, index).into_bytes();
    if size <= id.len() + 1 {
        return id;
    }
    let mut b = vec![0u8; size];
    b[..id.len()].copy_from_slice(&id);
    b[id.len()] = b'#';
    fill(&mut b, id.len() + 1, index);
    b
}

/// `(index, corrupt)`; index -1 when the body is not one of ours (or has another prefix).
pub fn parse_body(body: &[u8], prefix: &str) -> (i64, bool) {
    let hash = body.iter().position(|&c| c == b'#');
    let id = &body[..hash.unwrap_or(body.len())];
    let Ok(id) = std::str::from_utf8(id) else {
        return (-1, false);
    };
    let Some((p, n)) = id.rsplit_once('-') else {
        return (-1, false);
    };
    if p != prefix {
        return (-1, false);
    }
    let Ok(n) = n.parse::<i64>() else {
        return (-1, false);
    };
    if !(0..=(1i64 << 31) - 2).contains(&n) {
        return (-1, false);
    }
    let mut corrupt = false;
    if let Some(h) = hash {
        let mut exp = vec![0u8; body.len()];
        fill(&mut exp, h + 1, n);
        corrupt = exp[h + 1..] != body[h + 1..];
    }
    (n, corrupt)
}

/// Compact ranges of a sorted set: `0-99,105`.
pub fn ranges(set: &BTreeSet<i64>) -> String {
    let v: Vec<i64> = set.iter().copied().collect();
    ranges_of(&v)
}

pub fn ranges_of(sorted: &[i64]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < sorted.len() {
        let mut j = i;
        while j + 1 < sorted.len() && sorted[j + 1] == sorted[j] + 1 {
            j += 1;
        }
        if !out.is_empty() {
            out.push(',');
        }
        if j > i {
            out.push_str(&format!("{}-{}", sorted[i], sorted[j]));
        } else {
            out.push_str(&sorted[i].to_string());
        }
        i = j + 1;
    }
    out
}

/// Ranges of `[from, to)` not in `set`.
pub fn missing(set: &BTreeSet<i64>, from: i64, to: i64) -> String {
    let miss: Vec<i64> = (from..to).filter(|i| !set.contains(i)).collect();
    ranges_of(&miss)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let b = make_body("p", 42, 64);
        assert_eq!(b.len(), 64);
        assert_eq!(parse_body(&b, "p"), (42, false));
        let mut bad = b.clone();
        bad[63] = b'#';
        assert_eq!(parse_body(&bad, "p"), (42, true));
        assert_eq!(parse_body(b"p-7", "p"), (7, false));
        assert_eq!(parse_body(b"q-7", "p"), (-1, false));
        assert_eq!(parse_body(b"a-b-7", "a-b"), (7, false));
    }

    #[test]
    fn compact_ranges() {
        assert_eq!(ranges_of(&[0, 1, 2, 5, 7, 8]), "0-2,5,7-8");
        assert_eq!(ranges_of(&[]), "");
        let s: BTreeSet<i64> = [1, 3].into_iter().collect();
        assert_eq!(missing(&s, 0, 5), "0,2,4");
    }
}
