//! fastjson dialect helpers: Java peers write maps with integer keys unquoted
//! (`{0:"10.0.0.1:10911"}`); this module turns them into standard JSON before parsing.

use std::borrow::Cow;

/// Quotes bare numeric object keys outside of strings. Input that has none is returned as is.
pub fn quote_numeric_keys(input: &[u8]) -> Cow<'_, [u8]> {
    let mut out: Option<Vec<u8>> = None;
    let mut in_string = false;
    let mut escaped = false;
    let mut expect_key = false;
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
            expect_key = false;
        } else if b == b'{' || b == b',' {
            expect_key = true;
        } else if expect_key && (b.is_ascii_digit() || b == b'-') {
            let start = i;
            let mut end = i + 1;
            while end < input.len() && input[end].is_ascii_digit() {
                end += 1;
            }
            let mut after = end;
            while after < input.len() && input[after].is_ascii_whitespace() {
                after += 1;
            }
            if after < input.len() && input[after] == b':' {
                let buf = out.get_or_insert_with(|| input[..start].to_vec());
                buf.push(b'"');
                buf.extend_from_slice(&input[start..end]);
                buf.push(b'"');
                i = end;
                expect_key = false;
                continue;
            }
            expect_key = false;
        } else if !b.is_ascii_whitespace() {
            expect_key = false;
        }
        if let Some(buf) = out.as_mut() {
            buf.push(b);
        }
        i += 1;
    }
    match out {
        Some(v) => Cow::Owned(v),
        None => Cow::Borrowed(input),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_only_bare_numeric_keys() {
        let java = br#"{"brokerAddrs":{0:"10.0.0.1:10911",1:"a,{2:x}"},"list":[1,2],"n":{-3 :4}}"#;
        let fixed = quote_numeric_keys(java);
        assert_eq!(
            std::str::from_utf8(&fixed).unwrap(),
            r#"{"brokerAddrs":{"0":"10.0.0.1:10911","1":"a,{2:x}"},"list":[1,2],"n":{"-3" :4}}"#
        );
        let standard = br#"{"a":[1,{"b":2}]}"#;
        assert!(matches!(quote_numeric_keys(standard), Cow::Borrowed(_)));
    }
}
