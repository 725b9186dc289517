//! Fuzzes every decoder that reads bytes from the network: frames (JSON and binary headers),
//! stored message records, client batch bodies and the JSON bodies. None may panic.
#![no_main]

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use rmq_protocol::body::heartbeat::HeartbeatData;
use rmq_protocol::body::register::RegisterBrokerBody;
use rmq_protocol::frame::{self, FrameLimits};
use rmq_protocol::message::{decode_batch, decode_messages, decode_offset_msg_id, Properties};

fuzz_target!(|data: &[u8]| {
    let limits = FrameLimits { max_frame: 1 << 20 };
    let mut buf = BytesMut::from(data);
    while let Ok(Some(cmd)) = frame::decode(&mut buf, &limits) {
        let _ = cmd.header::<rmq_protocol::header::send::SendMessageRequestHeaderV2>();
        let _ = cmd.header::<rmq_protocol::header::pull::PullMessageRequestHeader>();
    }
    let bytes = Bytes::copy_from_slice(data);
    let _ = decode_messages(&bytes);
    let _ = decode_batch(&bytes);
    let _ = HeartbeatData::decode(data);
    let _ = RegisterBrokerBody::decode(data, data.first() == Some(&1), 1 << 20);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = Properties::parse(text);
        let _ = decode_offset_msg_id(text);
    }
});
