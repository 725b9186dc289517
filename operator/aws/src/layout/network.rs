//! The network half of the layout of a new VPC: VPC, internet gateway, subnets, NAT gateways,
//! route tables and the S3 endpoint (the same resources as `cloudformation/templates/rmq-vpc.yaml`).

use super::res;
use crate::params::subnet_cidrs;
use crate::resource::{Resource, RouteTarget, Spec, Value};

/// VPC, internet gateway, subnets, NAT gateways, route tables and the S3 endpoint.
pub(super) fn network(
    c: &str,
    cidr: &str,
    azs: &[String],
    nat_per_az: bool,
    region: &str,
    out: &mut Vec<Resource>,
) -> Result<(), String> {
    let n = azs.len();
    let (private, public) = subnet_cidrs(cidr, n)?;
    let vpc = Value::id("vpc");
    out.push(res(
        "vpc",
        c.to_owned(),
        "network",
        Spec::Vpc { cidr: cidr.into() },
    ));
    out.push(res(
        "igw",
        c.to_owned(),
        "network",
        Spec::InternetGateway { vpc: vpc.clone() },
    ));
    for (i, az) in azs.iter().enumerate() {
        let z = i + 1;
        out.push(res(
            &format!("subnet/public-{z}"),
            format!("{c}-public-{z}"),
            "network",
            Spec::Subnet {
                vpc: vpc.clone(),
                cidr: public[i].clone(),
                az: az.clone(),
                public: true,
            },
        ));
        out.push(res(
            &format!("subnet/private-{z}"),
            format!("{c}-private-{z}"),
            "network",
            Spec::Subnet {
                vpc: vpc.clone(),
                cidr: private[i].clone(),
                az: az.clone(),
                public: false,
            },
        ));
    }
    let nats = if nat_per_az { n } else { 1 };
    for z in 1..=nats {
        out.push(res(
            &format!("eip/nat-{z}"),
            format!("{c}-nat-{z}"),
            "network",
            Spec::ElasticIp,
        ));
        out.push(res(
            &format!("nat/{z}"),
            format!("{c}-nat-{z}"),
            "network",
            Spec::NatGateway {
                subnet: Value::id(format!("subnet/public-{z}")),
                allocation: Value::id(format!("eip/nat-{z}")),
            },
        ));
    }
    out.push(res(
        "rtb/public",
        format!("{c}-public"),
        "network",
        Spec::RouteTable {
            vpc: vpc.clone(),
            default_route: RouteTarget::Gateway(Value::id("igw")),
            subnets: (1..=n)
                .map(|z| Value::id(format!("subnet/public-{z}")))
                .collect(),
        },
    ));
    for z in 1..=n {
        let nat = if nat_per_az { z } else { 1 };
        out.push(res(
            &format!("rtb/private-{z}"),
            format!("{c}-private-{z}"),
            "network",
            Spec::RouteTable {
                vpc: vpc.clone(),
                default_route: RouteTarget::Nat(Value::id(format!("nat/{nat}"))),
                subnets: vec![Value::id(format!("subnet/private-{z}"))],
            },
        ));
    }
    out.push(res(
        "endpoint/s3",
        format!("{c}-s3"),
        "network",
        Spec::VpcEndpoint {
            vpc,
            service: format!("com.amazonaws.{region}.s3"),
            route_tables: (1..=n)
                .map(|z| Value::id(format!("rtb/private-{z}")))
                .collect(),
        },
    ));
    Ok(())
}
