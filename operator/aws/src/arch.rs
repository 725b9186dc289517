//! CPU architectures, in EC2's names (`x86_64`, `arm64`): which one an instance type runs (from
//! `DescribeInstanceTypes`' supported architectures), which Amazon Linux 2023 AMI goes with it
//! (the public SSM parameter [`al2023_parameter`]), and which one a binary was built for (its
//! ELF header). The layout refuses a binary built for another architecture than the instances
//! that would run it, instead of nodes that cannot start.

use std::io::Read;
use std::path::Path;

/// 64-bit x86 (EC2's name).
pub const X86_64: &str = "x86_64";
/// 64-bit ARM, Graviton (EC2's name).
pub const ARM64: &str = "arm64";

/// The architecture rmq runs an instance type with, of those the type supports (EC2 lists
/// e.g. `i386, x86_64` or `arm64`): x86_64 when offered, else arm64; `None` for anything else.
pub fn instance_arch<S: AsRef<str>>(supported: &[S]) -> Option<&'static str> {
    let has = |a: &str| supported.iter().any(|s| s.as_ref() == a);
    if has(X86_64) {
        Some(X86_64)
    } else if has(ARM64) {
        Some(ARM64)
    } else {
        None
    }
}

/// The public SSM parameter holding the newest Amazon Linux 2023 AMI for `arch` (the one the
/// CloudFormation templates' `LatestAmiId` defaults to, for x86_64).
pub fn al2023_parameter(arch: &str) -> String {
    format!("/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-{arch}")
}

/// The architecture of an ELF file from its first 20 bytes: `x86_64`, `arm64`, `ELF machine N`
/// for another machine; `None` when `header` is not an ELF header (a script, a stand-in).
pub fn elf_arch(header: &[u8]) -> Option<String> {
    if header.len() < 20 || &header[..4] != b"\x7fELF" {
        return None;
    }
    let machine = match header[5] {
        2 => u16::from_be_bytes([header[18], header[19]]),
        _ => u16::from_le_bytes([header[18], header[19]]),
    };
    Some(match machine {
        62 => X86_64.to_owned(),
        183 => ARM64.to_owned(),
        n => format!("ELF machine {n}"),
    })
}

/// [`elf_arch`] of the file at `path` (reads its first 20 bytes only).
pub fn file_arch(path: &Path) -> std::io::Result<Option<String>> {
    let mut header = Vec::with_capacity(20);
    std::fs::File::open(path)?
        .take(20)
        .read_to_end(&mut header)?;
    Ok(elf_arch(&header))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(class_data: u8, machine: [u8; 2]) -> Vec<u8> {
        let mut h = b"\x7fELF\x02".to_vec();
        h.push(class_data);
        h.resize(18, 0);
        h.extend(machine);
        h
    }

    #[test]
    fn elf_machines_map_to_ec2_names() {
        assert_eq!(elf_arch(&header(1, [62, 0])).as_deref(), Some(X86_64));
        assert_eq!(elf_arch(&header(1, [183, 0])).as_deref(), Some(ARM64));
        assert_eq!(elf_arch(&header(2, [0, 183])).as_deref(), Some(ARM64));
        assert_eq!(
            elf_arch(&header(1, [243, 0])).as_deref(),
            Some("ELF machine 243")
        );
        assert_eq!(elf_arch(b"#!/bin/sh\necho rmq-broker\n"), None);
    }

    #[test]
    fn instance_types_prefer_x86_64() {
        assert_eq!(instance_arch(&["i386", "x86_64"]), Some(X86_64));
        assert_eq!(instance_arch(&["arm64"]), Some(ARM64));
        assert_eq!(instance_arch(&["x86_64_mac"]), None);
        assert_eq!(
            al2023_parameter(ARM64),
            "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-arm64"
        );
    }
}
