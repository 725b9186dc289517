//! Volume sizes: Kubernetes quantities (`20Gi`, `500M`) and storage classes of
//! `spec.brokers.storage` and `spec.controller.storage`.

use super::ValidationError;
use crate::types::StorageSpec;

/// The size in bytes of the volume `storage` at `path` (0 when malformed), and a non-blank
/// storage class.
pub fn check_storage(storage: &StorageSpec, path: &str, errs: &mut Vec<ValidationError>) -> u64 {
    let bytes = parse_quantity(&storage.size).unwrap_or_else(|| {
        errs.push(ValidationError::new(
            format!("{path}.size"),
            format!("{:?} is not a size", storage.size),
            "write a Kubernetes quantity such as 20Gi, 500Mi or 1Ti",
        ));
        0
    });
    if let Some(class) = &storage.storage_class
        && class.trim().is_empty()
    {
        errs.push(ValidationError::new(
            format!("{path}.storageClass"),
            "is empty",
            "name a StorageClass / volume type, or remove the field for the platform default",
        ));
    }
    bytes
}

/// Bytes of a Kubernetes quantity (`20Gi`, `500M`, `1.5Ti`, `1000`); `None` if malformed.
pub fn parse_quantity(q: &str) -> Option<u64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(q.len());
    let (num, unit) = q.split_at(split);
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        _ => return None,
    };
    let n: f64 = num.parse().ok()?;
    let bytes = n * mult;
    (1.0..1.8e19).contains(&bytes).then_some(bytes as u64)
}
