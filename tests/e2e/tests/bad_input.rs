//! Malformed input: garbage bytes, an oversize frame, a truncated frame, a broken JSON header,
//! an unknown request code and a header missing a field. Each connection gets an error or is
//! closed; the broker and nameserver keep serving real clients afterwards.

#![allow(clippy::unwrap_used)]

use rmq_e2e::{BrokerOpts, BrokerProc, Client, NamesrvProc, run_line};
use rmq_protocol::{RemotingCommand, frame, response_code};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

/// Writes `bytes` and expects the server to close the connection (EOF or reset).
fn expect_closed(addr: &str, bytes: &[u8], shutdown_write: bool) {
    let mut s = connect(addr);
    s.write_all(bytes).unwrap();
    if shutdown_write {
        s.shutdown(std::net::Shutdown::Write).unwrap();
    }
    let mut buf = [0u8; 256];
    match s.read(&mut buf) {
        Ok(0) | Err(_) => {}
        Ok(n) => panic!("expected the connection to close, got {n} bytes"),
    }
}

fn roundtrip(addr: &str, cmd: &RemotingCommand) -> RemotingCommand {
    let mut s = connect(addr);
    let mut out = bytes::BytesMut::new();
    frame::encode(cmd, &mut out);
    s.write_all(&out).unwrap();
    let mut buf = bytes::BytesMut::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(resp) = frame::decode(&mut buf, &Default::default()).unwrap() {
            return resp;
        }
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed before the response");
        buf.extend_from_slice(&chunk[..n]);
    }
}

fn abuse(addr: &str, oversize: u32) {
    expect_closed(addr, &[0xFF; 64], false);
    // A frame announced above the limit is refused before any body arrives.
    expect_closed(addr, &oversize.to_be_bytes(), false);
    // A frame cut short by the peer.
    let mut truncated = 1000u32.to_be_bytes().to_vec();
    truncated.extend_from_slice(&[0, 0, 0, 2, b'{', b'}']);
    expect_closed(addr, &truncated, true);
    // A header that is not JSON.
    let header = b"{not json";
    let mut bad_json = ((4 + header.len()) as u32).to_be_bytes().to_vec();
    bad_json.extend_from_slice(&(header.len() as u32).to_be_bytes());
    bad_json.extend_from_slice(header);
    expect_closed(addr, &bad_json, false);
    // Unknown request code: an error response, matched by opaque.
    let req = RemotingCommand::request(9999);
    let resp = roundtrip(addr, &req);
    assert_eq!(resp.code, response_code::REQUEST_CODE_NOT_SUPPORTED);
    assert_eq!(resp.opaque, req.opaque);
    assert!(resp.remark_str().contains("9999"));
}

#[test]
fn broker_and_namesrv_survive_bad_input() {
    let ns = NamesrvProc::start();
    let mut opts = BrokerOpts::default();
    opts.set.push(("frameMaxLength".into(), "1048576".into()));
    let broker = BrokerProc::start(&ns.addr, opts);
    abuse(&ns.addr, 32 << 20);
    abuse(&broker.addr, 2 << 20);

    // A send whose header lacks the topic is answered with an error naming the field.
    let mut req = RemotingCommand::request(rmq_protocol::request_code::SEND_MESSAGE_V2);
    req.ext_fields.insert("a", "pg");
    req.ext_fields.insert("e", "0");
    let resp = roundtrip(&broker.addr, &req);
    assert_eq!(resp.code, response_code::SYSTEM_ERROR);
    assert!(
        resp.remark_str().contains("custom field b"),
        "{:?}",
        resp.remark
    );

    // Real clients still work.
    let r = run_line(
        Client::Java5,
        &format!(
            "produce --namesrv {} --topic AfterAbuse --count 100 --prefix x --send-timeout-ms 10000",
            ns.addr
        ),
    );
    if !r.ok() {
        eprintln!("broker log:\n{}", broker.log());
    }
    r.assert_ok();
    let r = run_line(
        Client::Java5,
        &format!(
            "consume --namesrv {} --topic AfterAbuse --group after-abuse --expect 100 --prefix x",
            ns.addr
        ),
    );
    r.assert_ok();
    assert!(
        broker.log().contains("malformed frame"),
        "the reason is logged"
    );
}
