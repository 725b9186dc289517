//! Route tables (the 0.0.0.0/0 route and the subnet associations) and the S3 gateway endpoint
//! (on the private route tables): create-or-converge and delete.

use super::{Executor, wrong_spec};
use crate::error::{Error, Result, aws};
use crate::resource::{Actual, Kind, Resource, RouteTarget, Spec};
use aws_sdk_ec2::types::{Filter, ResourceType, RouteTable, VpcEndpointType};

impl Executor<'_> {
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
            return Err(wrong_spec(r));
        };
        let vpc = self.v(vpc)?;
        let subnets = self.vs(subnets)?;
        let id = match existing {
            Some(a) => a.id.clone(),
            None => self.create_route_table(r, &vpc).await?,
        };
        let out = self
            .aws
            .ec2
            .describe_route_tables()
            .route_table_ids(&id)
            .send()
            .await
            .map_err(|e| aws(format!("DescribeRouteTables {id}"), e))?;
        let table = out
            .route_tables()
            .first()
            .ok_or_else(|| Error::Input(format!("route table {id} vanished")))?;
        self.ensure_default_route(&id, table, default_route).await?;
        self.ensure_associations(&id, table, &subnets).await?;
        Ok(Actual::new(Kind::RouteTable, &r.key, &id))
    }

    /// Creates the route table of `r` in `vpc`; returns its id.
    async fn create_route_table(&self, r: &Resource, vpc: &str) -> Result<String> {
        let out = self
            .aws
            .ec2
            .create_route_table()
            .client_token(self.client_token("CreateRouteTable", &r.key))
            .vpc_id(vpc)
            .tag_specifications(self.tag_spec(r, ResourceType::RouteTable, &[]))
            .send()
            .await
            .map_err(|e| aws(format!("CreateRouteTable {}", r.key), e))?;
        Ok(out
            .route_table()
            .and_then(|t| t.route_table_id())
            .unwrap_or_default()
            .to_owned())
    }

    /// Points table `id`'s 0.0.0.0/0 route at `target` (created, or replaced when it goes
    /// elsewhere).
    async fn ensure_default_route(
        &self,
        id: &str,
        table: &RouteTable,
        target: &RouteTarget,
    ) -> Result<()> {
        let ec2 = &self.aws.ec2;
        let (gateway, nat) = match target {
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
        if matches {
            return Ok(());
        }
        if current.is_some() {
            ec2.replace_route()
                .route_table_id(id)
                .destination_cidr_block("0.0.0.0/0")
                .set_gateway_id(gateway)
                .set_nat_gateway_id(nat)
                .send()
                .await
                .map_err(|e| aws(format!("ReplaceRoute {id} 0.0.0.0/0 -> {want_target}"), e))?;
        } else {
            ec2.create_route()
                .route_table_id(id)
                .destination_cidr_block("0.0.0.0/0")
                .set_gateway_id(gateway)
                .set_nat_gateway_id(nat)
                .send()
                .await
                .map_err(|e| aws(format!("CreateRoute {id} 0.0.0.0/0 -> {want_target}"), e))?;
        }
        Ok(())
    }

    /// Makes `subnets` exactly the subnets explicitly associated with table `id`.
    async fn ensure_associations(
        &self,
        id: &str,
        table: &RouteTable,
        subnets: &[String],
    ) -> Result<()> {
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
                self.aws
                    .ec2
                    .disassociate_route_table()
                    .association_id(assoc)
                    .send()
                    .await
                    .map_err(|e| aws(format!("DisassociateRouteTable {assoc}"), e))?;
            }
        }
        for subnet in subnets {
            if !associated.iter().any(|(s, _)| s == subnet) {
                self.associate(id, subnet).await?;
            }
        }
        Ok(())
    }

    /// Associates `subnet` with table `id`. A subnet can have one explicit association: it is
    /// moved if another table has it.
    async fn associate(&self, id: &str, subnet: &str) -> Result<()> {
        let ec2 = &self.aws.ec2;
        let other = ec2
            .describe_route_tables()
            .filters(
                Filter::builder()
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
            .find(|a| a.subnet_id() == Some(subnet))
            .and_then(|a| a.route_table_association_id().map(str::to_owned));
        match assoc {
            Some(assoc) => {
                ec2.replace_route_table_association()
                    .association_id(&assoc)
                    .route_table_id(id)
                    .send()
                    .await
                    .map_err(|e| aws(format!("ReplaceRouteTableAssociation {assoc} -> {id}"), e))?;
            }
            None => {
                ec2.associate_route_table()
                    .route_table_id(id)
                    .subnet_id(subnet)
                    .send()
                    .await
                    .map_err(|e| aws(format!("AssociateRouteTable {id} {subnet}"), e))?;
            }
        }
        Ok(())
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
            return Err(wrong_spec(r));
        };
        let vpc = self.v(vpc)?;
        let tables = self.vs(route_tables)?;
        let id = match existing {
            Some(a) => {
                self.ensure_endpoint_tables(&a.id, &tables).await?;
                a.id.clone()
            }
            None => {
                let out = self
                    .aws
                    .ec2
                    .create_vpc_endpoint()
                    .client_token(self.client_token("CreateVpcEndpoint", &r.key))
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
        Ok(Actual::new(Kind::VpcEndpoint, &r.key, &id))
    }

    /// Makes `tables` exactly the route tables of endpoint `id`.
    async fn ensure_endpoint_tables(&self, id: &str, tables: &[String]) -> Result<()> {
        let ec2 = &self.aws.ec2;
        let out = ec2
            .describe_vpc_endpoints()
            .vpc_endpoint_ids(id)
            .send()
            .await
            .map_err(|e| aws(format!("DescribeVpcEndpoints {id}"), e))?;
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
        if add.is_empty() && remove.is_empty() {
            return Ok(());
        }
        ec2.modify_vpc_endpoint()
            .vpc_endpoint_id(id)
            .set_add_route_table_ids(Some(add).filter(|v| !v.is_empty()))
            .set_remove_route_table_ids(Some(remove).filter(|v| !v.is_empty()))
            .send()
            .await
            .map_err(|e| aws(format!("ModifyVpcEndpoint {id}"), e))?;
        Ok(())
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
