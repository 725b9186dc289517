//! Discovery: what already exists for a cluster, found by the `rmq.dev/cluster` tag (one
//! filtered Describe call per resource type), plus the environment the layout depends on (zones,
//! an existing VPC and its subnets, the newest Amazon Linux 2023 AMI, the local artefacts and
//! what the artefact bucket holds). Read-only.
//!
//! - `tagged`: the EC2 and Auto Scaling resources tagged for the cluster.
//! - `monitoring`: the CloudWatch alarms (by name prefix and tag) and the dashboard (by name and
//!   the marker in its body: dashboards carry no tags).
//! - `environment`: zones, an existing VPC, the local binaries.
//! - `images`: the instance types' architectures and the AMIs that go with them.
//! - `artefacts`: what the artefact bucket holds under the cluster's prefix.

use crate::client::Aws;
use crate::discovered::Discovered;
use crate::error::Result;
use crate::params::Params;

mod artefacts;
mod environment;
mod images;
mod monitoring;
mod tagged;

use artefacts::artefacts;
use environment::environment;
use monitoring::monitoring;
use tagged::tagged;

/// Discovers everything `plan` needs.
pub async fn discover(
    aws: &Aws,
    cluster: &str,
    version: &str,
    params: &Params,
) -> Result<Discovered> {
    let mut found = tagged_in_region(aws, cluster).await?;
    environment(aws, params, &mut found).await?;
    artefacts(aws, cluster, version, params, &mut found).await?;
    Ok(found)
}

/// Discovers only the resources tagged for `cluster` (what `destroy` deletes).
pub async fn discover_tagged(
    aws: &Aws,
    cluster: &str,
    version: &str,
    params: &Params,
) -> Result<Discovered> {
    let mut found = tagged_in_region(aws, cluster).await?;
    artefacts(aws, cluster, version, params, &mut found).await?;
    Ok(found)
}

/// The EC2, Auto Scaling and CloudWatch resources of `cluster` in the clients' region.
async fn tagged_in_region(aws: &Aws, cluster: &str) -> Result<Discovered> {
    let mut found = Discovered::default();
    found.env.region = aws.region.clone();
    tagged(aws, cluster, &mut found).await?;
    monitoring(aws, cluster, &mut found).await?;
    Ok(found)
}
