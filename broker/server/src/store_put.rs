//! Storing messages the broker builds itself — retries, dead letters, delayed deliveries,
//! transaction commits, check copies and op records: optional delay transform, encode, put.

use crate::broker::Broker;
use bytes::BytesMut;
use rmq_protocol::message::{MessageRecord, encode_record};
use rmq_store::PutResult;

/// Stores `record`, applying the delay transform first when `delay` is set (so a `DELAY`
/// property sends it to `SCHEDULE_TOPIC_XXXX`). The error says what failed.
pub fn put_record(b: &Broker, mut record: MessageRecord, delay: bool) -> Result<PutResult, String> {
    if delay {
        crate::schedule::apply_delay(&b.config.features.delay_levels, &mut record);
    }
    let tags = crate::schedule::levels::tags_code(&record.properties);
    let mut buf = BytesMut::new();
    encode_record(&record, &mut buf).map_err(|e| e.to_string())?;
    let put = b
        .store
        .put(&record.topic, record.queue_id, buf, tags)
        .map_err(|e| {
            format!(
                "store put to {}/{} failed: {e}",
                record.topic, record.queue_id
            )
        })?;
    b.stats.add_puts(1);
    Ok(put)
}
