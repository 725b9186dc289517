//! VPC, internet gateway, subnets, Elastic IPs, NAT gateways, route tables (default route and
//! associations) and the S3 gateway endpoint: create-or-converge and delete.

use super::{Executor, record};
use crate::error::{Error, Result, aws};
use crate::resource::{Actual, Kind, Resource, RouteTarget, Spec};
use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{AttributeBooleanValue, DomainType, ResourceType, VpcEndpointType};

fn yes() -> AttributeBooleanValue {
    AttributeBooleanValue::builder().value(true).build()
}

fn bad_spec(r: &Resource) -> Error {
    Error::Input(format!(
        "internal: {} has the wrong spec for its kind",
        r.key
    ))
}

impl Executor<'_> {
    pub(crate) async fn ensure_vpc(
        &mut self,
        r: &Resource,
        existing: Option<&Actual>,
    ) -> Result<Actual> {
        let Spec::Vpc { cidr } = &r.spec else {
            return Err(bad_spec(r));
        };
        let ec2 = &self.aws.ec2;
        let id = match existing {
            Some(a) => a.id.clone(),
            None => {
                let out = ec2
                    .create_vpc()
                    .cidr_block(cidr)
                    .tag_specifications(self.tag_spec(r, ResourceType::Vpc, &[]))
                    .send()
                    .await
                    .map_err(|e| aws(format!("CreateVpc {}", r.key), e))?;
                out.vpc()
                    .and_then(|v| v.vpc_id())
                    .unwrap_or_default()
                    .to_owned()
            }
        };
        let w = ec2
            .wait_until_vpc_available()
            .vpc_ids(&id)
            .wait(self.opts.wait_timeout)
            .await;
        self.waited(&format!("VPC {id} to be available"), w)?;
        // One attribute per call (an EC2 rule).
        ec2.modify_vpc_attribute()
            .vpc_id(&id)
            .enable_dns_support(yes())
            .send()
            .await
            .map_err(|e| aws(format!("ModifyVpcAttribute {id} EnableDnsSupport"), e))?;
        ec2.modify_vpc_attribute()
            .vpc_id(&id)
            .enable_dns_hostnames(yes())
            .send()
            .await
            .map_err(|e| aws(format!("ModifyVpcAttribute {id} EnableDnsHostnames"), e))?;
        Ok(record(Kind::Vpc, &r.key, &id).with("cidr", cidr.clone()))
    }

    pub(crate) async fn delete_vpc(&self, id: &str) -> Result<()> {
        self.retry_on(&["DependencyViolation"], || async move {
            self.aws
                .ec2
                .delete_vpc()
                .vpc_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws(format!("DeleteVpc {id}"), e))
        })
        .await
    }

    pub(crate) async fn ensure_igw(
        &mut self,
        r: &Resource,
        existing: Option<&Actual>,
    ) -> Result<Actual> {
        let Spec::InternetGateway { vpc } = &r.spec else {
            return Err(bad_spec(r));
        };
        let vpc = self.v(vpc)?;
        let ec2 = &self.aws.ec2;
        let (id, attached) = match existing {
            Some(a) => (a.id.clone(), a.attrs.get("vpc").cloned()),
            None => {
                let out = ec2
                    .create_internet_gateway()
                    .tag_specifications(self.tag_spec(r, ResourceType::InternetGateway, &[]))
                    .send()
                    .await
                    .map_err(|e| aws(format!("CreateInternetGateway {}", r.key), e))?;
                let id = out
                    .internet_gateway()
                    .and_then(|g| g.internet_gateway_id())
                    .unwrap_or_default()
                    .to_owned();
                (id, None)
            }
        };
        if attached.as_deref() != Some(vpc.as_str()) {
            if let Some(other) = attached {
                ec2.detach_internet_gateway()
                    .internet_gateway_id(&id)
                    .vpc_id(&other)
                    .send()
                    .await
                    .map_err(|e| aws(format!("DetachInternetGateway {id} {other}"), e))?;
            }
            ec2.attach_internet_gateway()
                .internet_gateway_id(&id)
                .vpc_id(&vpc)
                .send()
                .await
                .map_err(|e| aws(format!("AttachInternetGateway {id} {vpc}"), e))?;
        }
        Ok(record(Kind::InternetGateway, &r.key, &id).with("vpc", vpc))
    }

    pub(crate) async fn delete_igw(&self, id: &str) -> Result<()> {
        let ec2 = &self.aws.ec2;
        let out = ec2
            .describe_internet_gateways()
            .internet_gateway_ids(id)
            .send()
            .await
            .map_err(|e| aws(format!("DescribeInternetGateways {id}"), e))?;
        for g in out.internet_gateways() {
            for a in g.attachments() {
                if let Some(vpc) = a.vpc_id() {
                    self.retry_on(&["DependencyViolation"], || async move {
                        ec2.detach_internet_gateway()
                            .internet_gateway_id(id)
                            .vpc_id(vpc)
                            .send()
                            .await
                            .map(|_| ())
                            .map_err(|e| aws(format!("DetachInternetGateway {id} {vpc}"), e))
                    })
                    .await?;
                }
            }
        }
        ec2.delete_internet_gateway()
            .internet_gateway_id(id)
            .send()
            .await
            .map_err(|e| aws(format!("DeleteInternetGateway {id}"), e))?;
        Ok(())
    }

    pub(crate) async fn ensure_subnet(
        &mut self,
        r: &Resource,
        existing: Option<&Actual>,
    ) -> Result<Actual> {
        let Spec::Subnet {
            vpc,
            cidr,
            az,
            public,
        } = &r.spec
        else {
            return Err(bad_spec(r));
        };
        let vpc = self.v(vpc)?;
        let ec2 = &self.aws.ec2;
        let id = match existing {
            Some(a) => a.id.clone(),
            None => {
                let out = ec2
                    .create_subnet()
                    .vpc_id(&vpc)
                    .cidr_block(cidr)
                    .availability_zone(az)
                    .tag_specifications(self.tag_spec(r, ResourceType::Subnet, &[]))
                    .send()
                    .await
                    .map_err(|e| aws(format!("CreateSubnet {} {cidr}", r.key), e))?;
                out.subnet()
                    .and_then(|s| s.subnet_id())
                    .unwrap_or_default()
                    .to_owned()
            }
        };
        let w = ec2
            .wait_until_subnet_available()
            .subnet_ids(&id)
            .wait(self.opts.wait_timeout)
            .await;
        self.waited(&format!("subnet {id} to be available"), w)?;
        if *public {
            ec2.modify_subnet_attribute()
                .subnet_id(&id)
                .map_public_ip_on_launch(yes())
                .send()
                .await
                .map_err(|e| aws(format!("ModifySubnetAttribute {id}"), e))?;
        }
        Ok(record(Kind::Subnet, &r.key, &id)
            .with("cidr", cidr.clone())
            .with("az", az.clone()))
    }

    pub(crate) async fn delete_subnet(&self, id: &str) -> Result<()> {
        self.retry_on(&["DependencyViolation"], || async move {
            self.aws
                .ec2
                .delete_subnet()
                .subnet_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws(format!("DeleteSubnet {id}"), e))
        })
        .await
    }

    pub(crate) async fn ensure_eip(
        &mut self,
        r: &Resource,
        existing: Option<&Actual>,
    ) -> Result<Actual> {
        if let Some(a) = existing {
            return Ok(a.clone());
        }
        let out = self
            .aws
            .ec2
            .allocate_address()
            .domain(DomainType::Vpc)
            .tag_specifications(self.tag_spec(r, ResourceType::ElasticIp, &[]))
            .send()
            .await
            .map_err(|e| aws(format!("AllocateAddress {}", r.key), e))?;
        let mut a = record(
            Kind::ElasticIp,
            &r.key,
            out.allocation_id().unwrap_or_default(),
        );
        if let Some(ip) = out.public_ip() {
            a = a.with("ip", ip);
        }
        Ok(a)
    }

    pub(crate) async fn delete_eip(&self, id: &str) -> Result<()> {
        // The NAT gateway that used it may still be releasing it.
        self.retry_on(&["InvalidIPAddress.InUse", "AuthFailure"], || async move {
            self.aws
                .ec2
                .release_address()
                .allocation_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws(format!("ReleaseAddress {id}"), e))
        })
        .await
    }

    pub(crate) async fn ensure_nat(
        &mut self,
        r: &Resource,
        existing: Option<&Actual>,
    ) -> Result<Actual> {
        let Spec::NatGateway { subnet, allocation } = &r.spec else {
            return Err(bad_spec(r));
        };
        let (subnet, allocation) = (self.v(subnet)?, self.v(allocation)?);
        let ec2 = &self.aws.ec2;
        let id = match existing {
            Some(a) => a.id.clone(),
            None => {
                let out = ec2
                    .create_nat_gateway()
                    .subnet_id(&subnet)
                    .allocation_id(&allocation)
                    .tag_specifications(self.tag_spec(r, ResourceType::Natgateway, &[]))
                    .send()
                    .await
                    .map_err(|e| aws(format!("CreateNatGateway {}", r.key), e))?;
                out.nat_gateway()
                    .and_then(|n| n.nat_gateway_id())
                    .unwrap_or_default()
                    .to_owned()
            }
        };
        let w = ec2
            .wait_until_nat_gateway_available()
            .nat_gateway_ids(&id)
            .wait(self.opts.wait_timeout)
            .await;
        self.waited(&format!("NAT gateway {id} to be available"), w)?;
        Ok(record(Kind::NatGateway, &r.key, &id))
    }

    pub(crate) async fn delete_nat(&self, id: &str) -> Result<()> {
        let ec2 = &self.aws.ec2;
        ec2.delete_nat_gateway()
            .nat_gateway_id(id)
            .send()
            .await
            .map_err(|e| aws(format!("DeleteNatGateway {id}"), e))?;
        let w = ec2
            .wait_until_nat_gateway_deleted()
            .nat_gateway_ids(id)
            .wait(self.opts.wait_timeout)
            .await;
        self.waited(&format!("NAT gateway {id} to be deleted"), w)
    }

    pub(crate) async fn ensure_route_table(
        &mut self,
        r: &Resource,
        existing: Option<&Actual>,
    ) -> Result<Actual> {
        let Spec::RouteTable {
            vpc,
            default_route,
            subnets,
        } = &r.spec
        else {
            return Err(bad_spec(r));
        };
        let vpc = self.v(vpc)?;
        let subnets = self.vs(subnets)?;
        let ec2 = &self.aws.ec2;
        let id = match existing {
            Some(a) => a.id.clone(),
            None => {
                let out = ec2
                    .create_route_table()
                    .vpc_id(&vpc)
                    .tag_specifications(self.tag_spec(r, ResourceType::RouteTable, &[]))
                    .send()
                    .await
                    .map_err(|e| aws(format!("CreateRouteTable {}", r.key), e))?;
                out.route_table()
                    .and_then(|t| t.route_table_id())
                    .unwrap_or_default()
                    .to_owned()
            }
        };
        let out = ec2
            .describe_route_tables()
            .route_table_ids(&id)
            .send()
            .await
            .map_err(|e| aws(format!("DescribeRouteTables {id}"), e))?;
        let table = out
            .route_tables()
            .first()
            .ok_or_else(|| Error::Input(format!("route table {id} vanished")))?;
        let (gateway, nat) = match default_route {
            RouteTarget::Gateway(g) => (Some(self.v(g)?), None),
            RouteTarget::Nat(n) => (None, Some(self.v(n)?)),
        };
        let current = table
            .routes()
            .iter()
            .find(|rt| rt.destination_cidr_block() == Some("0.0.0.0/0"));
        let want_target = gateway.clone().or(nat.clone()).unwrap_or_default();
        let matches = current.is_some_and(|rt| {
            rt.gateway_id().or(rt.nat_gateway_id()) == Some(want_target.as_str())
        });
        if !matches {
            if current.is_some() {
                ec2.replace_route()
                    .route_table_id(&id)
                    .destination_cidr_block("0.0.0.0/0")
                    .set_gateway_id(gateway.clone())
                    .set_nat_gateway_id(nat.clone())
                    .send()
                    .await
                    .map_err(|e| aws(format!("ReplaceRoute {id} 0.0.0.0/0 -> {want_target}"), e))?;
            } else {
                ec2.create_route()
                    .route_table_id(&id)
                    .destination_cidr_block("0.0.0.0/0")
                    .set_gateway_id(gateway.clone())
                    .set_nat_gateway_id(nat.clone())
                    .send()
                    .await
                    .map_err(|e| aws(format!("CreateRoute {id} 0.0.0.0/0 -> {want_target}"), e))?;
            }
        }
        let associated: Vec<(String, String)> = table
            .associations()
            .iter()
            .filter(|a| a.main() != Some(true))
            .filter_map(|a| {
                Some((
                    a.subnet_id()?.to_owned(),
                    a.route_table_association_id()?.to_owned(),
                ))
            })
            .collect();
        for (subnet, assoc) in &associated {
            if !subnets.contains(subnet) {
                ec2.disassociate_route_table()
                    .association_id(assoc)
                    .send()
                    .await
                    .map_err(|e| aws(format!("DisassociateRouteTable {assoc}"), e))?;
            }
        }
        for subnet in &subnets {
            if associated.iter().any(|(s, _)| s == subnet) {
                continue;
            }
            // A subnet can have one explicit association; move it if another table has it.
            let other = ec2
                .describe_route_tables()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("association.subnet-id")
                        .values(subnet)
                        .build(),
                )
                .send()
                .await
                .map_err(|e| {
                    aws(
                        format!("DescribeRouteTables association.subnet-id={subnet}"),
                        e,
                    )
                })?;
            let assoc = other
                .route_tables()
                .iter()
                .flat_map(|t| t.associations())
                .find(|a| a.subnet_id() == Some(subnet.as_str()))
                .and_then(|a| a.route_table_association_id().map(str::to_owned));
            match assoc {
                Some(assoc) => {
                    ec2.replace_route_table_association()
                        .association_id(&assoc)
                        .route_table_id(&id)
                        .send()
                        .await
                        .map_err(|e| {
                            aws(format!("ReplaceRouteTableAssociation {assoc} -> {id}"), e)
                        })?;
                }
                None => {
                    ec2.associate_route_table()
                        .route_table_id(&id)
                        .subnet_id(subnet)
                        .send()
                        .await
                        .map_err(|e| aws(format!("AssociateRouteTable {id} {subnet}"), e))?;
                }
            }
        }
        Ok(record(Kind::RouteTable, &r.key, &id))
    }

    pub(crate) async fn delete_route_table(&self, id: &str) -> Result<()> {
        let ec2 = &self.aws.ec2;
        let out = ec2
            .describe_route_tables()
            .route_table_ids(id)
            .send()
            .await
            .map_err(|e| aws(format!("DescribeRouteTables {id}"), e))?;
        for a in out.route_tables().iter().flat_map(|t| t.associations()) {
            if a.main() == Some(true) {
                continue;
            }
            if let Some(assoc) = a.route_table_association_id() {
                ec2.disassociate_route_table()
                    .association_id(assoc)
                    .send()
                    .await
                    .map_err(|e| aws(format!("DisassociateRouteTable {assoc}"), e))?;
            }
        }
        self.retry_on(&["DependencyViolation"], || async move {
            ec2.delete_route_table()
                .route_table_id(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| aws(format!("DeleteRouteTable {id}"), e))
        })
        .await
    }

    pub(crate) async fn ensure_endpoint(
        &mut self,
        r: &Resource,
        existing: Option<&Actual>,
    ) -> Result<Actual> {
        let Spec::VpcEndpoint {
            vpc,
            service,
            route_tables,
        } = &r.spec
        else {
            return Err(bad_spec(r));
        };
        let vpc = self.v(vpc)?;
        let tables = self.vs(route_tables)?;
        let ec2 = &self.aws.ec2;
        let id = match existing {
            Some(a) => {
                let out = ec2
                    .describe_vpc_endpoints()
                    .vpc_endpoint_ids(&a.id)
                    .send()
                    .await
                    .map_err(|e| aws(format!("DescribeVpcEndpoints {}", a.id), e))?;
                let have: Vec<String> = out
                    .vpc_endpoints()
                    .iter()
                    .flat_map(|e| e.route_table_ids())
                    .cloned()
                    .collect();
                let add: Vec<String> = tables
                    .iter()
                    .filter(|t| !have.contains(t))
                    .cloned()
                    .collect();
                let remove: Vec<String> = have
                    .iter()
                    .filter(|t| !tables.contains(t))
                    .cloned()
                    .collect();
                if !add.is_empty() || !remove.is_empty() {
                    ec2.modify_vpc_endpoint()
                        .vpc_endpoint_id(&a.id)
                        .set_add_route_table_ids(Some(add).filter(|v| !v.is_empty()))
                        .set_remove_route_table_ids(Some(remove).filter(|v| !v.is_empty()))
                        .send()
                        .await
                        .map_err(|e| aws(format!("ModifyVpcEndpoint {}", a.id), e))?;
                }
                a.id.clone()
            }
            None => {
                let out = ec2
                    .create_vpc_endpoint()
                    .vpc_id(&vpc)
                    .service_name(service)
                    .vpc_endpoint_type(VpcEndpointType::Gateway)
                    .set_route_table_ids(Some(tables))
                    .tag_specifications(self.tag_spec(r, ResourceType::VpcEndpoint, &[]))
                    .send()
                    .await
                    .map_err(|e| aws(format!("CreateVpcEndpoint {}", r.key), e))?;
                out.vpc_endpoint()
                    .and_then(|e| e.vpc_endpoint_id())
                    .unwrap_or_default()
                    .to_owned()
            }
        };
        Ok(record(Kind::VpcEndpoint, &r.key, &id))
    }

    pub(crate) async fn delete_endpoint(&self, id: &str) -> Result<()> {
        self.aws
            .ec2
            .delete_vpc_endpoints()
            .vpc_endpoint_ids(id)
            .send()
            .await
            .map_err(|e| aws(format!("DeleteVpcEndpoints {id}"), e))?;
        Ok(())
    }
}
