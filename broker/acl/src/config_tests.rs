use super::*;
use std::net::IpAddr;

const GOOD: &str = "\
globalWhiteRemoteAddresses:
  - 10.10.103.*
  - 192.168.0.{1,2}

accounts:
  - accessKey: producer-app
    secretKey: 12345678        # a number in YAML, text to Java
    whiteRemoteAddress:
    admin: false
    defaultTopicPerm: DENY
    defaultGroupPerm: SUB
    topicPerms:
      - orders=PUB
      - audit=PUB|SUB
      - legacy = SUB|PUB
    groupPerms:
      - billing=DENY
  - accessKey: operator-admin
    secretKey: \"s3cret-admin\"
    whiteRemoteAddress: 192.168.1.*
    admin: true
dataVersion:
  - timestamp: 1700000000000
    counter: 3
";

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn problems(src: &str) -> ConfigError {
    AclConfig::parse(src, "plain_acl.yml").expect_err("config must be refused")
}

#[test]
fn reads_a_full_file() {
    let c = AclConfig::parse(GOOD, "plain_acl.yml").expect("valid");
    assert_eq!(c.global_white_remote_addresses().len(), 2);
    assert!(c.global_white_remote_addresses()[1].matches(ip("192.168.0.2")));
    assert_eq!(c.accounts().len(), 2);
    let p = c.account("producer-app").expect("account");
    assert_eq!(p.secret_key.expose(), "12345678");
    assert!(p.white_remote_address.is_blank());
    assert!(!p.admin);
    assert_eq!(p.default_topic_perm, Perm::DENY);
    assert_eq!(p.default_group_perm, Perm::SUB);
    assert_eq!(p.topic_perms.get("orders"), Some(&Perm::PUB));
    assert_eq!(p.topic_perms.get("audit"), Some(&Perm::PUB_SUB));
    assert_eq!(p.topic_perms.get("legacy"), Some(&Perm::PUB_SUB));
    assert_eq!(p.group_perms.get("billing"), Some(&Perm::DENY));
    assert_eq!(
        p.perm_for(&Resource::Topic("orders".into())),
        (Perm::PUB, true)
    );
    assert_eq!(
        p.perm_for(&Resource::Topic("other".into())),
        (Perm::DENY, false)
    );
    assert_eq!(
        p.perm_for(&Resource::Group("other".into())),
        (Perm::SUB, false)
    );
    let a = c.account("operator-admin").expect("admin");
    assert!(a.admin);
    assert!(a.white_remote_address.matches(ip("192.168.1.77")));
    assert!(c.account("nobody-here").is_none());
}

#[test]
fn absent_defaults_are_deny_and_empty_files_are_empty() {
    let c = AclConfig::parse(
        "accounts:\n- accessKey: minimal1\n  secretKey: minimal-secret\n",
        "f",
    )
    .expect("valid");
    let a = c.account("minimal1").expect("account");
    assert_eq!(
        (a.default_topic_perm, a.default_group_perm),
        (Perm::DENY, Perm::DENY)
    );
    assert!(!a.admin);
    let empty = AclConfig::parse("  \n", "f").expect("empty is valid");
    assert!(empty.accounts().is_empty());
    assert!(empty.global_white_remote_addresses().is_empty());
    let no_accounts = AclConfig::parse("globalWhiteRemoteAddresses: ['*']\n", "f").expect("valid");
    assert!(no_accounts.global_white_remote_addresses()[0].matches(ip("8.8.8.8")));
}

#[test]
fn a_typo_in_a_key_names_the_line() {
    let src = "accounts:\n  - accessKey: producer-app\n    secretKey: 12345678\n    topicPerm:\n      - a=PUB\n";
    let e = problems(src);
    let text = e.to_string();
    assert!(text.starts_with("plain_acl.yml: line 4"), "{text}");
    assert!(text.contains("unknown field `topicPerm`"), "{text}");
}

#[test]
fn bad_values_name_account_item_and_line() {
    let src = GOOD
        .replace("- audit=PUB|SUB", "- audit=PUBSUB")
        .replace("192.168.1.*", "192.168.1.300")
        .replace("defaultGroupPerm: SUB", "defaultGroupPerm: sub");
    let e = problems(&src);
    assert_eq!(e.problems.len(), 3, "{e}");
    let [group, topic, white] = e.problems.as_slice() else {
        panic!("{e}")
    };
    assert_eq!(group.line, Some(11));
    assert_eq!(
        group.place,
        "accounts[0] (accessKey \"producer-app\") defaultGroupPerm"
    );
    assert!(
        group
            .message
            .contains("\"sub\" is not a permission; write DENY, PUB, SUB or PUB|SUB")
    );
    assert_eq!(topic.line, Some(14));
    assert_eq!(
        topic.place,
        "accounts[0] (accessKey \"producer-app\") topicPerms[1] \"audit=PUBSUB\""
    );
    assert_eq!(white.line, Some(20));
    assert!(
        white
            .place
            .starts_with("accounts[1] (accessKey \"operator-admin\")"),
        "{white}"
    );
    assert!(white.message.contains("192.168.1.300"), "{white}");
    let text = e.to_string();
    assert!(
        text.starts_with("plain_acl.yml: 3 problems:\n  line 11, accounts[0]"),
        "{text}"
    );
}

#[test]
fn keys_too_short_or_missing_and_secrets_never_echoed() {
    let src = "accounts:\n  - accessKey: short\n    secretKey: tiny42\n  - secretKey: long-enough-secret\n";
    let e = problems(src);
    let text = e.to_string();
    assert!(
        text.contains("line 2, accounts[0] (accessKey \"short\"): accessKey is 5 characters"),
        "{text}"
    );
    assert!(text.contains("line 3, accounts[0] (accessKey \"short\"): secretKey is 6 characters; use a secretKey of at least 7"), "{text}");
    assert!(
        text.contains("line 4, accounts[1]: accessKey is missing"),
        "{text}"
    );
    assert!(!text.contains("tiny42"), "the secret leaked: {text}");
    assert!(
        !text.contains("long-enough-secret"),
        "the secret leaked: {text}"
    );
}

#[test]
fn duplicates_are_refused() {
    let src = "accounts:\n- accessKey: twice-key\n  secretKey: secret-one\n- accessKey: twice-key\n  secretKey: secret-two\n";
    let e = problems(src);
    assert_eq!(e.problems.len(), 1);
    assert_eq!(e.problems[0].line, Some(4));
    assert!(
        e.problems[0]
            .message
            .contains("already used by accounts[0]"),
        "{e}"
    );
    let src = "accounts:\n- accessKey: dup-perms\n  secretKey: secret-one\n  topicPerms: [a=PUB, a=SUB]\n";
    assert!(problems(src).to_string().contains("\"a\" is listed twice"));
    let a = Account::new("same-key", "secret-1");
    let e = AclConfig::new(vec![], vec![a.clone(), a]).expect_err("duplicate");
    assert!(
        e.to_string().starts_with("ACL configuration: accounts[1]"),
        "{e}"
    );
}

#[test]
fn malformed_resource_items() {
    for (item, says) in [
        (
            "justaname",
            "not of the form name=PERM; write e.g. topicA=PUB|SUB",
        ),
        ("a=b=PUB", "not of the form name=PERM"),
        ("=PUB", "the name before '=' is empty"),
        (
            "'%RETRY%billing=SUB'",
            "write billing=SUB under groupPerms instead",
        ),
    ] {
        let src = format!(
            "accounts:\n- accessKey: resource-items\n  secretKey: secret-one\n  topicPerms:\n  - {item}\n"
        );
        let e = problems(&src);
        assert_eq!(e.problems[0].line, Some(5), "{item}: {e}");
        assert!(e.to_string().contains(says), "{item}: {e}");
    }
}

#[test]
fn bad_global_white_address_names_its_line() {
    let src = "globalWhiteRemoteAddresses:\n  - 10.0.0.*\n  - 10.0.0\naccounts: []\n";
    let e = problems(src);
    assert_eq!(e.problems[0].line, Some(3), "{e}");
    assert_eq!(e.problems[0].place, "globalWhiteRemoteAddresses[1]");
}

#[test]
fn debug_output_redacts_secrets() {
    let c = AclConfig::parse(GOOD, "plain_acl.yml").expect("valid");
    let debug = format!("{c:?}");
    assert!(debug.contains("producer-app"));
    assert!(!debug.contains("12345678"), "{debug}");
    assert!(!debug.contains("s3cret-admin"), "{debug}");
}

#[test]
fn loads_from_a_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("plain_acl.yml");
    std::fs::write(&path, GOOD).expect("write");
    let c = AclConfig::load_from_path(&path).expect("load");
    assert_eq!(c.accounts().len(), 2);
    let missing = dir.path().join("missing.yml");
    let e = AclConfig::load_from_path(&missing).expect_err("missing file");
    let text = e.to_string();
    assert!(text.contains("missing.yml: file: cannot be read"), "{text}");
    assert!(text.contains("check the path"), "{text}");
}
