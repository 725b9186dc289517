//! Unit tests of the parent module.
use super::*;

#[test]
fn golden_encoding() {
    let mut cmd = RemotingCommand {
        code: 0,
        opaque: 42,
        flag: 1,
        version: 479,
        remark: Some("a\"b\u{1}".into()),
        ..Default::default()
    };
    cmd.ext_fields.insert("queueOffset", "7");
    let mut out = BytesMut::new();
    encode(&cmd, &mut out);
    assert_eq!(
        std::str::from_utf8(&out).unwrap(),
        r#"{"code":0,"language":"JAVA","version":479,"opaque":42,"flag":1,"remark":"a\"b\u0001","extFields":{"queueOffset":"7"},"serializeTypeCurrentRPC":"JSON"}"#
    );
    let back = decode(&out).unwrap();
    assert_eq!(back.remark.as_deref(), Some("a\"b\u{1}"));
    assert_eq!(back.ext_fields.get("queueOffset"), Some("7"));
    assert_eq!(back.opaque, 42);
}

#[test]
fn decodes_go_and_java_dialects() {
    let go = br#"{"code":105,"language":"GO","version":317,"opaque":3,"flag":0,"remark":"","extFields":{"topic":"T"}}"#;
    let c = decode(go).unwrap();
    assert_eq!(c.language, LanguageCode::Go);
    assert_eq!(c.ext_fields.get("topic"), Some("T"));
    let minimal = br#"{"code":34,"opaque":9}"#;
    let c = decode(minimal).unwrap();
    assert!(c.ext_fields.is_empty());
    assert_eq!(c.language, LanguageCode::Java);
    let ordinal = br#"{"code":34,"language":9,"extFields":null}"#;
    assert_eq!(decode(ordinal).unwrap().language, LanguageCode::Go);
    assert!(decode(b"{\"opaque\":1}").is_err());
    assert!(decode(b"not json").is_err());
}

#[test]
fn negative_numbers() {
    let mut out = BytesMut::new();
    put_int(&mut out, i64::from(i32::MIN));
    assert_eq!(&out[..], b"-2147483648");
}

/// The fast path must agree with serde wherever it answers, and answer for the usual shapes.
#[test]
fn fast_path_matches_serde() {
    let common: &[&[u8]] = &[
        br#"{"code":310,"extFields":{"a":"pg","b":"BenchTest","c":"TBW102","d":"4","e":"-1","f":"0","g":"1795617003673","h":"0","i":"UNIQ_KEY\u0001AC1\u0002WAIT\u0001true\u0002","j":"0","k":"false","m":"false","n":"broker-a"},"flag":0,"language":"JAVA","opaque":1234,"serializeTypeCurrentRPC":"JSON","version":479}"#,
        br#"{"code":105,"language":"GO","version":317,"opaque":3,"flag":0,"remark":"","extFields":{"topic":"T"}}"#,
        br#"{"code":34,"opaque":9}"#,
        br#"{"code":34,"language":9,"extFields":null}"#,
        br#" { "code" : -1 , "remark" : null , "extFields" : { } } "#,
        br#"{"code":0,"remark":"a\"b\\c\/\n\t\u00e9\u4e2d","extFields":{"k":"v\u0001"}}"#,
        br#"{"code":1,"extFields":{"queueId":0,"batch":"0","unitMode":false,"x":null,"s":"a","n":-12,"u":18446744073709551615}}"#,
        br#"{"code":1,"extFields":{"a":"1","b":"2","a":"3","c":null,"b":null}}"#,
        br#"{"code":-2147483648,"opaque":2147483647,"extFields":{"n":-9223372036854775807}}"#,
        br#"{"code":1,"language":-3,"x":true,"y":null,"z":"q\"","w":12}"#,
        "{\"code\":2,\"remark\":\"h\u{e9}llo \u{4e2d}\"}".as_bytes(),
    ];
    for h in common {
        let fast = fast::decode(h);
        assert!(
            fast.is_some(),
            "fast path declined {}",
            String::from_utf8_lossy(h)
        );
        assert_eq!(
            fast.unwrap(),
            decode_serde(h).unwrap(),
            "{}",
            String::from_utf8_lossy(h)
        );
    }
    // shapes left to serde (it decides: a value or an error)
    let odd: &[&[u8]] = &[
        br#"{"code":1.0}"#,
        br#"{"code":1,"code":2}"#,
        br#"{"opaque":1}"#,
        br#"{"code":1}x"#,
        br#"{"code":1,"extFields":{"f":1.5}}"#,
        br#"{"code":1,"extFields":{"f":-0}}"#,
        br#"{"code":1,"nested":{"a":[1,2]}}"#,
        br#"{"code":1,"remark":"\ud83d\ude00"}"#,
        br#"{"code":1,"remark":"\ud83d"}"#,
        br#"{"code":2147483648}"#,
        br#"{"code":01}"#,
        br#"{"code":1,"remark":"tab	raw"}"#,
        br#"{"code":1,"extFields":{"f":-9223372036854775809}}"#,
        // past u64: the digits scanned so far must not wrap into a small number
        br#"{"code":1,"extFields":{"f":18446744073709551616}}"#,
        br#"{"code":1,"extFields":{"f":99999999999999999999}}"#,
        b"\xff",
        b"",
    ];
    for h in odd {
        assert!(
            fast::decode(h).is_none(),
            "fast path answered {}",
            String::from_utf8_lossy(h)
        );
    }
}

/// Deterministic mutations of real headers: wherever the fast path answers, serde agrees.
#[test]
fn fast_path_differential_mutations() {
    let seeds: &[&[u8]] = &[
        br#"{"code":310,"extFields":{"a":"pg","b":"T","e":"-1","i":"K\u0001v\u0002","k":"false"},"flag":0,"language":"JAVA","opaque":7,"serializeTypeCurrentRPC":"JSON","version":479}"#,
        br#"{"code":105,"language":"GO","version":317,"opaque":3,"flag":0,"remark":"x\"y","extFields":{"topic":"T","n":5}}"#,
    ];
    let alphabet = b"{}[]\",:\\u0123456789-+.eEtrufalsn \x01\xc3\xa9abc";
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let mut answered = 0;
    for _ in 0..20_000 {
        let seed = seeds[(next() % seeds.len() as u64) as usize];
        let mut h = seed.to_vec();
        for _ in 0..=(next() % 3) {
            let pos = (next() % (h.len() as u64 + 1)) as usize;
            let c = alphabet[(next() % alphabet.len() as u64) as usize];
            match next() % 3 {
                0 if pos < h.len() => h[pos] = c,
                1 if pos < h.len() => {
                    h.remove(pos);
                }
                _ => h.insert(pos, c),
            }
        }
        if let Some(fast) = fast::decode(&h) {
            answered += 1;
            let serde = decode_serde(&h).unwrap_or_else(|e| {
                panic!(
                    "fast path accepted what serde rejects ({e}): {}",
                    String::from_utf8_lossy(&h)
                )
            });
            assert_eq!(fast, serde, "{}", String::from_utf8_lossy(&h));
        }
    }
    assert!(
        answered > 1000,
        "only {answered} mutated headers took the fast path"
    );
}

#[test]
fn strings_are_written_as_serde_writes_them() {
    // the 8-byte scan must find a byte to escape in any position of a chunk and in the short
    // tail; multi-byte UTF-8 and DEL pass through unescaped, as serde leaves them
    let specials = ['"', '\\', '\u{0}', '\u{1}', '\n', '\u{1f}'];
    let mut texts: Vec<String> = vec![
        String::new(),
        "queueOffset".into(),
        "0A01020300002A9F0000000000001234".into(),
        "é中😀 \u{7f} ~".into(),
    ];
    for len in [1, 7, 8, 9, 15, 16, 17, 31] {
        for at in 0..len {
            for c in specials {
                let mut t: Vec<char> = "abcdefghijklmnopqrstuvwxyz01234"
                    .chars()
                    .take(len)
                    .collect();
                t[at] = c;
                texts.push(t.into_iter().collect());
            }
        }
    }
    for t in &texts {
        let mut out = BytesMut::new();
        put_json_str(&mut out, t);
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            serde_json::to_string(t).unwrap(),
            "{t:?}"
        );
    }
}

#[test]
fn integers_are_written_in_full() {
    for v in [0, 7, -1, 10, 479, i64::from(i32::MIN), i64::MAX, i64::MIN] {
        let mut out = BytesMut::new();
        put_int(&mut out, v);
        assert_eq!(std::str::from_utf8(&out).unwrap(), v.to_string());
    }
}

#[test]
fn the_chunked_scan_stops_exactly_at_the_first_byte_to_escape() {
    // a byte-at-a-time reference over the same 8-byte chunks
    let reference = |s: &[u8], mut i: usize| {
        while i + 8 <= s.len() {
            if let Some(k) = s[i..i + 8].iter().position(|b| needs_escape(*b)) {
                return i + k;
            }
            i += 8;
        }
        i
    };
    let bytes = [
        b'a', b' ', b'"', b'\\', 0x00, 0x1f, 0x20, 0x21, 0x5b, 0x7f, 0x80, 0xa0, 0xdc, 0xff,
    ];
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    for _ in 0..20_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let len = (x % 40) as usize;
        let s: Vec<u8> = (0..len)
            .map(|k| bytes[((x >> (k % 60)) as usize + k * 7) % bytes.len()])
            .collect();
        for from in 0..=len.min(9) {
            assert_eq!(
                skip_plain_chunks(&s, from),
                reference(&s, from),
                "{s:?} from {from}"
            );
        }
    }
}
