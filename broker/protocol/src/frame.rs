//! Sans-IO framing: `i32 frame_len | i32 proto | header | body`.
//!
//! `frame_len` counts everything after itself; `proto` carries the serialize type in its high
//! byte and the header length in the low 24 bits. [`decode`] consumes a whole frame from a buffer
//! or reports that more bytes are needed; [`encode`] always writes JSON headers.

use crate::command::RemotingCommand;
use crate::error::ProtocolError;
use crate::{header_binary, header_json};
use bytes::{Buf, BufMut, BytesMut};

/// Java's default `com.rocketmq.remoting.frameMaxLength`: 16 MiB.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// Limits applied while decoding.
#[derive(Debug, Clone, Copy)]
pub struct FrameLimits {
    /// Largest accepted `frame_len`.
    pub max_frame: usize,
}

impl Default for FrameLimits {
    fn default() -> Self {
        Self {
            max_frame: DEFAULT_MAX_FRAME,
        }
    }
}

/// Checks the length prefix of the buffered bytes: `Ok(Some(total))` when a whole frame of
/// `total` bytes (prefix included) is buffered, `Ok(None)` when more bytes are needed.
pub fn check(src: &[u8], limits: &FrameLimits) -> Result<Option<usize>, ProtocolError> {
    if src.len() < 4 {
        return Ok(None);
    }
    let len = i32::from_be_bytes([src[0], src[1], src[2], src[3]]);
    if len < 4 {
        return Err(ProtocolError::FrameTooSmall(len.into()));
    }
    let len = len as usize;
    if len > limits.max_frame {
        return Err(ProtocolError::FrameTooLarge {
            len,
            max: limits.max_frame,
        });
    }
    if src.len() < 4 + len {
        return Ok(None);
    }
    Ok(Some(4 + len))
}

/// Removes one whole frame from `src` and decodes it; `Ok(None)` if the frame is not complete.
/// On error the buffer content is unspecified and the connection should be closed.
pub fn decode(
    src: &mut BytesMut,
    limits: &FrameLimits,
) -> Result<Option<RemotingCommand>, ProtocolError> {
    let Some(total) = check(src, limits)? else {
        if src.len() >= 4 {
            let len = i32::from_be_bytes([src[0], src[1], src[2], src[3]]) as usize;
            src.reserve(4 + len - src.len());
        }
        return Ok(None);
    };
    let mut frame = src.split_to(total);
    frame.advance(4);
    let frame_len = total - 4;
    let proto = frame.get_u32();
    let serialize = (proto >> 24) as u8;
    let header_len = (proto & 0x00FF_FFFF) as usize;
    if header_len > frame_len - 4 {
        return Err(ProtocolError::HeaderLength {
            header_len,
            frame_len,
        });
    }
    let header = frame.split_to(header_len);
    let mut cmd = match serialize {
        0 => header_json::decode(&header)?,
        1 => header_binary::decode(&header)?,
        other => return Err(ProtocolError::SerializeType(other)),
    };
    cmd.body = frame.freeze();
    Ok(Some(cmd))
}

/// Appends `cmd` as one frame with a JSON header.
pub fn encode(cmd: &RemotingCommand, dst: &mut BytesMut) {
    let start = dst.len();
    dst.put_u64(0); // placeholders for frame_len and proto
    header_json::encode(cmd, dst);
    let header_len = dst.len() - start - 8;
    dst.put_slice(&cmd.body);
    let frame_len = (dst.len() - start - 4) as u32;
    dst[start..start + 4].copy_from_slice(&frame_len.to_be_bytes());
    dst[start + 4..start + 8].copy_from_slice(&((header_len as u32) & 0x00FF_FFFF).to_be_bytes());
}

/// Appends `cmd` as one frame with a ROCKETMQ binary header (used by tests and by peers that
/// prefer it; rmq itself answers in JSON).
pub fn encode_binary(cmd: &RemotingCommand, dst: &mut BytesMut) {
    let start = dst.len();
    dst.put_u64(0);
    header_binary::encode(cmd, dst);
    let header_len = dst.len() - start - 8;
    dst.put_slice(&cmd.body);
    let frame_len = (dst.len() - start - 4) as u32;
    dst[start..start + 4].copy_from_slice(&frame_len.to_be_bytes());
    let proto = (1u32 << 24) | ((header_len as u32) & 0x00FF_FFFF);
    dst[start + 4..start + 8].copy_from_slice(&proto.to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codes::request_code;

    fn sample() -> RemotingCommand {
        let mut cmd = RemotingCommand::request(request_code::GET_ROUTEINFO_BY_TOPIC);
        cmd.opaque = 5;
        cmd.ext_fields.insert("topic", "TopicTest");
        cmd.body = bytes::Bytes::from_static(b"hello");
        cmd
    }

    #[test]
    fn round_trip_json_and_binary() {
        for binary in [false, true] {
            let cmd = sample();
            let mut buf = BytesMut::new();
            if binary {
                encode_binary(&cmd, &mut buf);
            } else {
                encode(&cmd, &mut buf);
            }
            buf.extend_from_slice(b"\x00\x00"); // start of the next frame
            let back = decode(&mut buf, &FrameLimits::default()).unwrap().unwrap();
            assert_eq!(back.code, cmd.code);
            assert_eq!(back.opaque, 5);
            assert_eq!(back.ext_fields.get("topic"), Some("TopicTest"));
            assert_eq!(&back.body[..], b"hello");
            assert_eq!(&buf[..], b"\x00\x00");
        }
    }

    #[test]
    fn golden_json_frame() {
        let mut cmd = RemotingCommand::request(34);
        cmd.opaque = 1;
        cmd.version = 0;
        let mut buf = BytesMut::new();
        encode(&cmd, &mut buf);
        let header = br#"{"code":34,"language":"JAVA","version":0,"opaque":1,"flag":0,"extFields":{},"serializeTypeCurrentRPC":"JSON"}"#;
        let mut expected = Vec::new();
        expected.extend_from_slice(&((4 + header.len()) as u32).to_be_bytes());
        expected.extend_from_slice(&(header.len() as u32).to_be_bytes());
        expected.extend_from_slice(header);
        assert_eq!(&buf[..], &expected[..]);
    }

    #[test]
    fn partial_frames_wait_for_more() {
        let mut full = BytesMut::new();
        encode(&sample(), &mut full);
        for cut in 0..full.len() {
            let mut part = BytesMut::from(&full[..cut]);
            assert!(
                decode(&mut part, &FrameLimits::default())
                    .unwrap()
                    .is_none()
            );
        }
    }

    #[test]
    fn bad_frames_are_errors() {
        let limits = FrameLimits { max_frame: 1024 };
        let mut too_big = BytesMut::from(&2048u32.to_be_bytes()[..]);
        assert!(matches!(
            decode(&mut too_big, &limits),
            Err(ProtocolError::FrameTooLarge { len: 2048, .. })
        ));
        let mut negative = BytesMut::from(&(-1i32).to_be_bytes()[..]);
        assert!(decode(&mut negative, &limits).is_err());
        let mut tiny = BytesMut::from(&[0, 0, 0, 2, 0, 0][..]);
        assert!(decode(&mut tiny, &limits).is_err());
        // header length beyond frame
        let mut bad_header = BytesMut::new();
        bad_header.put_u32(8);
        bad_header.put_u32(100);
        bad_header.put_u32(0);
        assert!(matches!(
            decode(&mut bad_header, &limits),
            Err(ProtocolError::HeaderLength { .. })
        ));
        // unknown serialize type
        let mut bad_type = BytesMut::new();
        bad_type.put_u32(6);
        bad_type.put_u32((7 << 24) | 2);
        bad_type.put_slice(b"{}");
        assert!(matches!(
            decode(&mut bad_type, &limits),
            Err(ProtocolError::SerializeType(7))
        ));
        // garbage JSON
        let mut garbage = BytesMut::new();
        garbage.put_u32(8);
        garbage.put_u32(4);
        garbage.put_slice(b"\xff\xfe{x");
        assert!(decode(&mut garbage, &limits).is_err());
    }
}
