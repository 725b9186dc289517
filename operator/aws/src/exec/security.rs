//! Security groups and their rule sets. A group is created empty; its rules are a separate step
//! (the groups refer to each other, so all groups exist before any rule). Converging rules reads
//! the group's current permissions, authorizes the missing ones and revokes the rest (including
//! EC2's default allow-all egress where the layout restricts egress). Deleting a rule set revokes
//! everything, which is what lets groups that refer to each other be deleted.

use super::{Executor, ignore, wrong_spec};
use crate::error::{Error, Result, aws};
use crate::resource::{Actual, Kind, Peer, Resource, Rule, Spec, TAG_RULES_HASH};
use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, UserIdGroupPair};

/// A rule reduced to what identifies it: (protocol, from, to, peer).
type Key = (String, i32, i32, String);

/// The side of a group a rule is on.
#[derive(Debug, Clone, Copy)]
enum Direction {
    /// Inbound rules.
    Ingress,
    /// Outbound rules.
    Egress,
}

/// Whether rules are added to a group or taken away.
#[derive(Debug, Clone, Copy)]
enum Change {
    /// AuthorizeSecurityGroupIngress/Egress.
    Authorize,
    /// RevokeSecurityGroupIngress/Egress.
    Revoke,
}

/// Sends `$perms` for group `$id` with `$call`, one of the four authorize/revoke
/// ingress/egress calls (the same input on four builder types).
macro_rules! send_permissions {
    ($ec2:expr, $call:ident, $id:expr, $perms:expr, $what:expr) => {
        $ec2.$call()
            .group_id($id)
            .set_ip_permissions(Some($perms))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws($what, e))
    };
}

impl Direction {
    fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

fn flatten(perms: &[IpPermission]) -> Vec<Key> {
    let mut out = Vec::new();
    for p in perms {
        let proto = p.ip_protocol().unwrap_or("-1").to_owned();
        let (from, to) = (p.from_port().unwrap_or(-1), p.to_port().unwrap_or(-1));
        for r in p.ip_ranges() {
            if let Some(c) = r.cidr_ip() {
                out.push((proto.clone(), from, to, c.to_owned()));
            }
        }
        for g in p.user_id_group_pairs() {
            if let Some(id) = g.group_id() {
                out.push((proto.clone(), from, to, id.to_owned()));
            }
        }
    }
    out
}

fn permission(k: &Key, description: &str) -> IpPermission {
    let (proto, from, to, peer) = k;
    let b = IpPermission::builder()
        .ip_protocol(proto)
        .from_port(*from)
        .to_port(*to);
    let description = (!description.is_empty()).then(|| description.to_owned());
    if peer.starts_with("sg-") {
        b.user_id_group_pairs(
            UserIdGroupPair::builder()
                .group_id(peer)
                .set_description(description)
                .build(),
        )
        .build()
    } else {
        b.ip_ranges(
            IpRange::builder()
                .cidr_ip(peer)
                .set_description(description)
                .build(),
        )
        .build()
    }
}

impl Executor<'_> {
    pub(crate) async fn ensure_security_group(
        &mut self,
        r: &Resource,
        existing: Option<&Actual>,
    ) -> Result<Actual> {
        let Spec::SecurityGroup {
            vpc,
            name,
            description,
        } = &r.spec
        else {
            return Err(wrong_spec(r));
        };
        let vpc = self.v(vpc)?;
        if let Some(a) = existing {
            return Ok(a.clone());
        }
        let out = self
            .aws
            .ec2
            .create_security_group()
            .group_name(name)
            .description(description)
            .vpc_id(&vpc)
            .tag_specifications(self.tag_spec(r, ResourceType::SecurityGroup, &[]))
            .send()
            .await
            .map_err(|e| aws(format!("CreateSecurityGroup {} {name}", r.key), e))?;
        Ok(Actual::new(
            Kind::SecurityGroup,
            &r.key,
            out.group_id().unwrap_or_default(),
        )
        .with("vpc", vpc))
    }

    fn resolve_rules(&self, rules: &[Rule]) -> Result<Vec<(Key, String)>> {
        rules
            .iter()
            .map(|r| {
                let peer = match &r.peer {
                    Peer::Cidr(c) => c.clone(),
                    Peer::Group(g) => self.v(g)?,
                };
                Ok((
                    (r.protocol.clone(), r.from, r.to, peer),
                    r.description.clone(),
                ))
            })
            .collect()
    }

    pub(crate) async fn ensure_rules(&mut self, r: &Resource, hash: &str) -> Result<String> {
        let Spec::SecurityGroupRules {
            group,
            ingress,
            egress,
        } = &r.spec
        else {
            return Err(wrong_spec(r));
        };
        let id = self.v(group)?;
        let out = self
            .aws
            .ec2
            .describe_security_groups()
            .group_ids(&id)
            .send()
            .await
            .map_err(|e| aws(format!("DescribeSecurityGroups {id}"), e))?;
        let sg = out
            .security_groups()
            .first()
            .ok_or_else(|| Error::Input(format!("security group {id} vanished")))?;
        let sides = [
            (
                Direction::Ingress,
                self.resolve_rules(ingress)?,
                flatten(sg.ip_permissions()),
            ),
            (
                Direction::Egress,
                self.resolve_rules(egress)?,
                flatten(sg.ip_permissions_egress()),
            ),
        ];
        for (dir, want, have) in sides {
            self.converge_side(dir, &id, &want, &have).await?;
        }
        self.tag_ec2(&id, &[(TAG_RULES_HASH, hash)], &r.key).await?;
        Ok(id)
    }

    /// Revokes the rules side `dir` of group `id` has but should not (`have` minus `want`),
    /// then authorizes those it lacks.
    async fn converge_side(
        &self,
        dir: Direction,
        id: &str,
        want: &[(Key, String)],
        have: &[Key],
    ) -> Result<()> {
        for k in have.iter().filter(|k| !want.iter().any(|(w, _)| w == *k)) {
            let what = format!("Revoke {} {id} {k:?}", dir.as_str());
            let res = self
                .change(Change::Revoke, dir, id, vec![permission(k, "")], what)
                .await;
            ignore(res, &["InvalidPermission.NotFound"])?;
        }
        for (k, description) in want.iter().filter(|(w, _)| !have.contains(w)) {
            let what = format!("Authorize {} {id} {k:?}", dir.as_str());
            let perms = vec![permission(k, description)];
            let res = self.change(Change::Authorize, dir, id, perms, what).await;
            ignore(res, &["InvalidPermission.Duplicate"])?;
        }
        Ok(())
    }

    /// Authorizes or revokes `perms` on side `dir` of group `id`; `what` names the call in an
    /// error.
    async fn change(
        &self,
        change: Change,
        dir: Direction,
        id: &str,
        perms: Vec<IpPermission>,
        what: String,
    ) -> Result<()> {
        let ec2 = &self.aws.ec2;
        match (change, dir) {
            (Change::Authorize, Direction::Ingress) => {
                send_permissions!(ec2, authorize_security_group_ingress, id, perms, what)
            }
            (Change::Authorize, Direction::Egress) => {
                send_permissions!(ec2, authorize_security_group_egress, id, perms, what)
            }
            (Change::Revoke, Direction::Ingress) => {
                send_permissions!(ec2, revoke_security_group_ingress, id, perms, what)
            }
            (Change::Revoke, Direction::Egress) => {
                send_permissions!(ec2, revoke_security_group_egress, id, perms, what)
            }
        }
    }

    /// Revokes every rule of group `id` (so that groups referring to each other can go).
    pub(crate) async fn delete_rules(&self, id: &str) -> Result<()> {
        let ec2 = &self.aws.ec2;
        let out = match ec2.describe_security_groups().group_ids(id).send().await {
            Ok(o) => o,
            Err(e) => {
                return ignore(
                    Err(aws(format!("DescribeSecurityGroups {id}"), e)),
                    &["InvalidGroup.NotFound"],
                );
            }
        };
        for sg in out.security_groups() {
            for (dir, perms, call) in [
                (
                    Direction::Ingress,
                    sg.ip_permissions(),
                    "RevokeSecurityGroupIngress",
                ),
                (
                    Direction::Egress,
                    sg.ip_permissions_egress(),
                    "RevokeSecurityGroupEgress",
                ),
            ] {
                if !perms.is_empty() {
                    let what = format!("{call} {id}");
                    let res = self
                        .change(Change::Revoke, dir, id, perms.to_vec(), what)
                        .await;
                    ignore(res, &["InvalidPermission.NotFound"])?;
                }
            }
        }
        let _ = ec2
            .delete_tags()
            .resources(id)
            .tags(
                aws_sdk_ec2::types::Tag::builder()
                    .key(TAG_RULES_HASH)
                    .build(),
            )
            .send()
            .await;
        Ok(())
    }

    pub(crate) async fn delete_security_group(&self, id: &str) -> Result<()> {
        let res = self
            .retry_on(&["DependencyViolation"], || async move {
                self.aws
                    .ec2
                    .delete_security_group()
                    .group_id(id)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| aws(format!("DeleteSecurityGroup {id}"), e))
            })
            .await;
        ignore(res, &["InvalidGroup.NotFound"])
    }
}
