//! Fuzzes what the ACL reads from outside: `plain_acl.yml` text, and requests (ext fields,
//! `AccessKey`/`Signature`, bodies of heartbeats and queue locks) decided against a fixed
//! account file and against the parsed input. Nothing may panic; a request whose signed bytes
//! were changed must never be allowed. The same checks run in CI, seeded, in
//! `broker/acl/tests/fuzz_smoke.rs`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rmq_acl::fuzzing::one_input(data);
});
