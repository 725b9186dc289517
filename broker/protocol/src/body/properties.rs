//! Java properties text (`key=value` lines), the body of UPDATE_BROKER_CONFIG and
//! GET_BROKER_CONFIG.

/// The `key=value` (or `key:value`) lines of `text`, trimmed, in order; blank lines and `#`/`!`
/// comments skipped.
pub fn parse(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#') && !l.starts_with('!'))
        .filter_map(|l| l.split_once(['=', ':']))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_text_as_mqadmin_sends_it() {
        let p = parse("#comment\nfileReservedTime=48\n\ndeleteWhen = 03;15\n!x\nc:x=y\n");
        assert_eq!(
            p,
            vec![
                ("fileReservedTime".to_owned(), "48".to_owned()),
                ("deleteWhen".to_owned(), "03;15".to_owned()),
                ("c".to_owned(), "x=y".to_owned())
            ]
        );
    }
}
