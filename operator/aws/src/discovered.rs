//! What discovery found, as plain data: the resources tagged for the cluster and the
//! environment the layout depends on. [`mod@crate::discover`] fills it (read-only AWS calls);
//! [`crate::layout`] and [`mod@crate::plan`] read it (pure). It lives apart from all three so
//! that the pure half never imports the half that talks to AWS.

use crate::resource::{Actual, ArtefactFile, State};
use std::collections::{BTreeMap, BTreeSet};

/// What discovery learnt about the account that the layout depends on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Environment {
    /// The region the cluster lives in (`--region`).
    pub region: String,
    /// Zones in use, in order (2 or 3).
    pub azs: Vec<String>,
    /// The existing VPC (when `Network::Existing`).
    pub existing_vpc: Option<ExistingVpc>,
    /// The newest Amazon Linux 2023 AMI of each architecture an instance type needs (`x86_64`,
    /// `arm64`: [`crate::arch`]), when `--ami-id` is not given.
    pub latest_amis: BTreeMap<String, String>,
    /// The architecture each instance type runs (from `DescribeInstanceTypes`); a type not
    /// listed counts as `x86_64`.
    pub instance_archs: BTreeMap<String, String>,
    /// The architecture of the AMIs in use or asked for (pinned, `--ami-id`), as EC2 describes
    /// them; an AMI not listed is not checked.
    pub ami_archs: BTreeMap<String, String>,
    /// AMI recorded on existing launch templates, by key (kept so a new AMI release does not
    /// replace every instance; `--ami-id` overrides; dropped when the instance type's
    /// architecture changes).
    pub pinned_amis: BTreeMap<String, String>,
    /// The local binaries to upload (with their SHA-256), from `--artefact-dir`.
    pub artefact_files: Vec<ArtefactFile>,
    /// The architecture each binary was built for, by name: from the ELF header of the local
    /// file, else from the `rmq-arch` metadata of the one under the prefix; empty when the local
    /// file is no ELF executable (not checked).
    pub binary_archs: BTreeMap<String, String>,
    /// SHA-256 of the binaries already under the prefix, by name (`rmq-broker`), as their
    /// `rmq-sha256` object metadata (the same digest as `NAME.sha256`) records it: what the nodes'
    /// user data pins when no `--artefact-dir` is given, so that such an apply rolls nothing.
    pub published_sha256: BTreeMap<String, String>,
}

impl Environment {
    /// The architecture `instance_type` runs ([`Environment::instance_archs`], else x86_64).
    pub fn arch_of(&self, instance_type: &str) -> &str {
        self.instance_archs
            .get(instance_type)
            .map_or(crate::arch::X86_64, String::as_str)
    }

    /// The SHA-256 a node's user data pins for `binary`: the local file's with
    /// `--artefact-dir`, else the published one, else empty (the bootstrap then checks only
    /// `NAME.sha256`).
    pub fn binary_sha256(&self, binary: &str) -> String {
        self.artefact_files
            .iter()
            .find(|f| f.name == binary)
            .map(|f| f.sha256.clone())
            .or_else(|| self.published_sha256.get(binary).cloned())
            .unwrap_or_default()
    }
}

/// An existing VPC the cluster goes into (`--vpc-id`, `--subnet-ids`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExistingVpc {
    /// The VPC id (`vpc-…`).
    pub id: String,
    /// The VPC's IPv4 block (the nodes' rules open ports to it with `--allow-clients-from-vpc`).
    pub cidr: String,
    /// The private subnets (id, zone), in the order given.
    pub subnets: Vec<(String, String)>,
}

/// What discovery found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Discovered {
    /// Zones, existing VPC, AMIs, local artefacts.
    pub env: Environment,
    /// Managed resources by key, plus external ones (see `external`).
    pub state: State,
    /// Keys in `state` that the cluster uses but does not own (an existing VPC and subnets).
    pub external: BTreeSet<String>,
    /// Extra copies of a key (found more than once); deleted by the next apply.
    pub duplicates: Vec<Actual>,
}

impl Discovered {
    /// Managed resources (not external), in deletion order (reverse creation order).
    pub fn managed(&self) -> Vec<&Actual> {
        let mut v: Vec<&Actual> = self
            .state
            .resources
            .values()
            .filter(|a| !self.external.contains(&a.key))
            .chain(self.duplicates.iter())
            .collect();
        v.sort_by_key(|a| std::cmp::Reverse(a.kind.rank()));
        v
    }
}
