//! The security context of every cluster pod: what the `restricted` Pod Security Standard asks
//! (non-root, no privilege escalation, every capability dropped, the runtime's default seccomp
//! profile), plus a read-only root filesystem (nameservers and brokers write only to their data
//! volume) and `fsGroup`, so a freshly provisioned volume is writable by the image's user.

use k8s_openapi::api::core::v1::{
    Capabilities, PodSecurityContext, SeccompProfile, SecurityContext,
};

/// The uid and gid of the `rmq` user of the rmq image (Dockerfile, scripts/image-rootfs.sh).
pub const IMAGE_USER: i64 = 65532;

/// The pod-level context: the image's user, volumes group-owned by it, default seccomp.
pub fn pod() -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(IMAGE_USER),
        run_as_group: Some(IMAGE_USER),
        fs_group: Some(IMAGE_USER),
        fs_group_change_policy: Some("OnRootMismatch".to_owned()),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".to_owned(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

/// The container-level context: no escalation, no capabilities, a read-only root filesystem.
pub fn container() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            ..Capabilities::default()
        }),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        ..SecurityContext::default()
    }
}
