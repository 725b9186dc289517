//! The network half of the layout of a new VPC: VPC, internet gateway, subnets, NAT gateways,
//! route tables and the S3 endpoint (the same resources as `cloudformation/templates/rmq-vpc.yaml`).

use crate::params::subnet_cidrs;
use crate::resource::{Resource, RouteTarget, Spec, Value};

/// The new VPC of cluster `c` over `azs`.
pub(super) struct NewVpc<'a> {
    /// Cluster name (the prefix of every `Name` tag).
    pub(super) c: &'a str,
    /// The VPC's block (`--vpc-cidr`).
    pub(super) cidr: &'a str,
    /// The zones, in order: zone i gets public and private subnet i + 1.
    pub(super) azs: &'a [String],
    /// One NAT gateway per zone (else one, in zone 1, for every private subnet).
    pub(super) nat_per_az: bool,
    /// The region (names the S3 endpoint's service).
    pub(super) region: &'a str,
}

/// A resource of the `network` component.
fn net(key: impl Into<String>, name: impl Into<String>, spec: Spec) -> Resource {
    Resource::new(key, name, "network", spec)
}

impl NewVpc<'_> {
    /// VPC, internet gateway, subnets, NAT gateways, route tables and the S3 endpoint; an
    /// error when `cidr` cannot be carved into the subnets.
    pub(super) fn resources(&self, out: &mut Vec<Resource>) -> Result<(), String> {
        let (private, public) = subnet_cidrs(self.cidr, self.azs.len())?;
        let c = self.c;
        let vpc = Spec::Vpc {
            cidr: self.cidr.into(),
        };
        out.push(net("vpc", c, vpc));
        let igw = Spec::InternetGateway {
            vpc: Value::id("vpc"),
        };
        out.push(net("igw", c, igw));
        self.subnets(&private, &public, out);
        self.nat_gateways(out);
        self.route_tables(out);
        out.push(self.s3_endpoint());
        Ok(())
    }

    /// A public and a private subnet per zone, carved as the templates carve them.
    fn subnets(&self, private: &[String], public: &[String], out: &mut Vec<Resource>) {
        let c = self.c;
        for (i, az) in self.azs.iter().enumerate() {
            let z = i + 1;
            for (kind, cidr, is_public) in [
                ("public", &public[i], true),
                ("private", &private[i], false),
            ] {
                let spec = Spec::Subnet {
                    vpc: Value::id("vpc"),
                    cidr: cidr.clone(),
                    az: az.clone(),
                    public: is_public,
                };
                out.push(net(
                    format!("subnet/{kind}-{z}"),
                    format!("{c}-{kind}-{z}"),
                    spec,
                ));
            }
        }
    }

    /// An Elastic IP and a NAT gateway in public subnet z, per zone or in zone 1 only.
    fn nat_gateways(&self, out: &mut Vec<Resource>) {
        let c = self.c;
        let nats = if self.nat_per_az { self.azs.len() } else { 1 };
        for z in 1..=nats {
            out.push(net(
                format!("eip/nat-{z}"),
                format!("{c}-nat-{z}"),
                Spec::ElasticIp,
            ));
            let spec = Spec::NatGateway {
                subnet: Value::id(format!("subnet/public-{z}")),
                allocation: Value::id(format!("eip/nat-{z}")),
            };
            out.push(net(format!("nat/{z}"), format!("{c}-nat-{z}"), spec));
        }
    }

    /// The public table (to the internet gateway) and one private table per zone (to its NAT
    /// gateway, or to the only one).
    fn route_tables(&self, out: &mut Vec<Resource>) {
        let (c, n) = (self.c, self.azs.len());
        let public = Spec::RouteTable {
            vpc: Value::id("vpc"),
            default_route: RouteTarget::Gateway(Value::id("igw")),
            subnets: (1..=n)
                .map(|z| Value::id(format!("subnet/public-{z}")))
                .collect(),
        };
        out.push(net("rtb/public", format!("{c}-public"), public));
        for z in 1..=n {
            let nat = if self.nat_per_az { z } else { 1 };
            let spec = Spec::RouteTable {
                vpc: Value::id("vpc"),
                default_route: RouteTarget::Nat(Value::id(format!("nat/{nat}"))),
                subnets: vec![Value::id(format!("subnet/private-{z}"))],
            };
            out.push(net(
                format!("rtb/private-{z}"),
                format!("{c}-private-{z}"),
                spec,
            ));
        }
    }

    /// The S3 gateway endpoint on the private route tables.
    fn s3_endpoint(&self) -> Resource {
        let spec = Spec::VpcEndpoint {
            vpc: Value::id("vpc"),
            service: format!("com.amazonaws.{}.s3", self.region),
            route_tables: (1..=self.azs.len())
                .map(|z| Value::id(format!("rtb/private-{z}")))
                .collect(),
        };
        net("endpoint/s3", format!("{}-s3", self.c), spec)
    }
}
