//! Finds the line of a YAML item in `plain_acl.yml` text, so config errors can name it. A
//! heuristic over the text (serde keeps no spans): good for the block style the file is written
//! in; when it finds nothing, errors still name the item by its index.

/// 1-based line numbers of the items of the top-level list `key:` (`- ` entries).
pub(crate) fn list_item_lines(src: &str, key: &str) -> Vec<usize> {
    let mut lines = src.lines().enumerate();
    let header = format!("{key}:");
    if !lines.any(|(_, l)| l.trim_end() == header || l.starts_with(&format!("{header} "))) {
        return Vec::new();
    }
    let mut item_indent: Option<usize> = None;
    let mut out = Vec::new();
    for (i, line) in lines {
        let trimmed = line.trim_start();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let indent = line.len() - trimmed.len();
        let is_item = trimmed == "-" || trimmed.starts_with("- ");
        if indent == 0 && !is_item {
            break; // the next top-level key
        }
        match item_indent {
            None if is_item => {
                item_indent = Some(indent);
                out.push(i + 1);
            }
            Some(n) if is_item && indent == n => out.push(i + 1),
            Some(n) if indent < n => break,
            _ => {}
        }
    }
    out
}

/// The first line in `from..to` (1-based, `to` exclusive, 0 = to the end) containing `needle`.
pub(crate) fn find_line(src: &str, from: usize, to: usize, needle: &str) -> Option<usize> {
    if needle.is_empty() {
        return None;
    }
    src.lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l))
        .skip(from.saturating_sub(1))
        .take_while(|(n, _)| to == 0 || *n < to)
        .find(|(_, l)| l.contains(needle))
        .map(|(n, _)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: &str = "\
# comment
globalWhiteRemoteAddresses:
  - 10.10.103.*
  - 192.168.0.*

accounts:
  - accessKey: RocketMQ
    secretKey: 12345678
    topicPerms:
      - topicA=DENY
  # between accounts
  - accessKey: rocketmq2
    admin: true
dataVersion:
- counter: 1
";

    #[test]
    fn finds_items() {
        assert_eq!(list_item_lines(SRC, "accounts"), [7, 12]);
        assert_eq!(list_item_lines(SRC, "globalWhiteRemoteAddresses"), [3, 4]);
        assert_eq!(list_item_lines(SRC, "dataVersion"), [15]);
        assert!(list_item_lines(SRC, "missing").is_empty());
        assert_eq!(
            list_item_lines("accounts:\n- accessKey: a\n- accessKey: b\n", "accounts"),
            [2, 3]
        );
    }

    #[test]
    fn finds_text_in_a_range() {
        assert_eq!(find_line(SRC, 7, 12, "topicA=DENY"), Some(10));
        assert_eq!(find_line(SRC, 12, 0, "topicA=DENY"), None);
        assert_eq!(find_line(SRC, 12, 0, "admin"), Some(13));
        assert_eq!(find_line(SRC, 1, 0, ""), None);
    }
}
