//! VPC, internet gateway, subnets, Elastic IPs and NAT gateways: create-or-converge and delete.
//! Route tables and the S3 endpoint are in `routes`.

use super::{Executor, wrong_spec};
use crate::error::{Result, aws};
use crate::resource::{Actual, Kind, Resource, Spec};
use aws_sdk_ec2::client::Waiters;
use aws_sdk_ec2::types::{AttributeBooleanValue, DomainType, ResourceType};

fn yes() -> AttributeBooleanValue {
    AttributeBooleanValue::builder().value(true).build()
}

impl Executor<'_> {
    pub(crate) async fn ensure_vpc(
        &mut self,
        r: &Resource,
        existing: Option<&Actual>,
    ) -> Result<Actual> {
        let Spec::Vpc { cidr } = &r.spec else {
            return Err(wrong_spec(r));
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
        Ok(Actual::new(Kind::Vpc, &r.key, &id).with("cidr", cidr.clone()))
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
            return Err(wrong_spec(r));
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
        Ok(Actual::new(Kind::InternetGateway, &r.key, &id).with("vpc", vpc))
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
            return Err(wrong_spec(r));
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
        Ok(Actual::new(Kind::Subnet, &r.key, &id)
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
        let mut a = Actual::new(
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
            return Err(wrong_spec(r));
        };
        let (subnet, allocation) = (self.v(subnet)?, self.v(allocation)?);
        let ec2 = &self.aws.ec2;
        let id = match existing {
            Some(a) => a.id.clone(),
            None => {
                let out = ec2
                    .create_nat_gateway()
                    .client_token(self.client_token("CreateNatGateway", &r.key))
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
        Ok(Actual::new(Kind::NatGateway, &r.key, &id))
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
}
