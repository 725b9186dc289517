//! The node role's least-privilege policy, the same statements as `rmq-cluster.yaml`'s
//! `NodeRole`. rmq-aws does not create IAM objects (that would need another SDK crate and IAM
//! write rights for whoever runs `apply`); `rmqctl aws plan --print-iam-policy` prints this
//! document so an administrator can create the role and instance profile once, and
//! `--instance-profile` names it.
//!
//! A cluster with `spec.security` adds read access to its own secrets' SSM parameters
//! (`/rmq/<cluster>/*` of its account and region, nothing else) and `kms:Decrypt` only through
//! SSM and only for those parameters ([`SecretsScope`]).

use crate::layout::monitoring::NAMESPACE;
use serde_json::{Value, json};

/// Where the parameters of a cluster's secrets live: what the node role may read and decrypt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsScope {
    /// The cluster's region (parameters are regional).
    pub region: String,
    /// The account id.
    pub account: String,
    /// The cluster's name (`/rmq/<cluster>/`).
    pub cluster: String,
}

impl SecretsScope {
    /// `arn:<partition>:ssm:<region>:<account>:parameter/rmq/<cluster>/*`.
    pub fn parameters_arn(&self, partition: &str) -> String {
        format!(
            "arn:{partition}:ssm:{}:{}:parameter{}*",
            self.region,
            self.account,
            crate::secrets::path(&self.cluster)
        )
    }

    /// The `kms:ViaService` value of SSM in the region.
    pub fn ssm_service(&self, partition: &str) -> String {
        let suffix = if partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("ssm.{}.{suffix}", self.region)
    }

    /// The statements: read the parameters, decrypt them through SSM only.
    fn statements(&self, partition: &str) -> [Value; 2] {
        let parameters = self.parameters_arn(partition);
        [
            json!({
                "Sid": "ReadThisClustersSecrets", "Effect": "Allow",
                "Action": ["ssm:GetParameter", "ssm:GetParameters", "ssm:GetParametersByPath"],
                "Resource": parameters,
            }),
            json!({
                "Sid": "DecryptThisClustersSecretsThroughSsm", "Effect": "Allow",
                "Action": "kms:Decrypt",
                "Resource": format!("arn:{partition}:kms:{}:{}:key/*", self.region, self.account),
                "Condition": {
                    "StringEquals": {"kms:ViaService": self.ssm_service(partition)},
                    "StringLike": {"kms:EncryptionContext:PARAMETER_ARN": parameters},
                },
            }),
        ]
    }
}

/// The node role policy for a cluster whose `rmq:stack` tag is `stack`, reading artefacts from
/// `bucket`/`prefix`, optionally writing to `log_group`, and reading its secrets when
/// `secrets` is given. The CloudWatch agent needs both halves:
/// `PutMetricData` (namespace `rmq`: memory and disk) and the log group's write rights (the
/// scraped `/metrics` travel as embedded metrics through `log_group`, which the alarms read).
pub fn node_policy(
    partition: &str,
    stack: &str,
    bucket: &str,
    prefix: &str,
    log_group: Option<&str>,
    secrets: Option<&SecretsScope>,
) -> Value {
    let mut statements = vec![
        json!({
            "Sid": "ReadArtefacts", "Effect": "Allow", "Action": "s3:GetObject",
            "Resource": format!("arn:{partition}:s3:::{bucket}/{prefix}*"),
        }),
        json!({
            "Sid": "AttachThisClustersInterfaces", "Effect": "Allow",
            "Action": "ec2:AttachNetworkInterface",
            "Resource": [
                format!("arn:{partition}:ec2:*:*:network-interface/*"),
                format!("arn:{partition}:ec2:*:*:instance/*"),
            ],
            "Condition": {"StringEquals": {"aws:ResourceTag/rmq:stack": stack}},
        }),
        json!({
            "Sid": "AttachThisClustersBrokerVolumesToBrokers", "Effect": "Allow",
            "Action": "ec2:AttachVolume",
            "Resource": [
                format!("arn:{partition}:ec2:*:*:volume/*"),
                format!("arn:{partition}:ec2:*:*:instance/*"),
            ],
            "Condition": {"StringEquals": {
                "aws:ResourceTag/rmq:stack": stack, "aws:ResourceTag/rmq:role": "broker"}},
        }),
        json!({
            "Sid": "SeeAttachmentState", "Effect": "Allow",
            "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeVolumes"], "Resource": "*",
        }),
        json!({
            "Sid": "PutOwnMetrics", "Effect": "Allow", "Action": "cloudwatch:PutMetricData",
            "Resource": "*", "Condition": {"StringEquals": {"cloudwatch:namespace": NAMESPACE}},
        }),
    ];
    if let Some(group) = log_group {
        statements.push(json!({
            "Sid": "WriteOwnLogs", "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            "Resource": format!("arn:{partition}:logs:*:*:log-group:{group}:*"),
        }));
    }
    if let Some(scope) = secrets {
        statements.extend(scope.statements(partition));
    }
    json!({"Version": "2012-10-17", "Statement": statements})
}

/// The trust policy of the node role (EC2 assumes it).
pub fn trust_policy() -> Value {
    json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scoped_to_the_stack_tag_and_the_prefix() {
        let p = node_policy("aws", "demo", "bkt", "rmq/demo/0.1.0/", None, None);
        let text = p.to_string();
        assert!(text.contains("arn:aws:s3:::bkt/rmq/demo/0.1.0/*"));
        assert!(text.contains(r#""aws:ResourceTag/rmq:stack":"demo""#));
        assert!(!text.contains("RunInstances") && !text.contains("logs:"));
        let actions: Vec<String> = p["Statement"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| s["Action"].to_string())
            .collect();
        assert!(actions.iter().all(|a| !a.contains('*')), "{actions:?}");
    }

    #[test]
    fn the_agent_may_publish_what_the_alarms_read() {
        let p = node_policy("aws", "demo", "bkt", "p/", Some("rmq-logs"), None).to_string();
        assert!(p.contains(r#""cloudwatch:namespace":"rmq""#), "{p}");
        assert!(p.contains("logs:PutLogEvents") && p.contains("log-group:rmq-logs:*"));
    }

    #[test]
    fn secrets_are_the_clusters_path_only_decrypted_through_ssm_only() {
        let scope = SecretsScope {
            region: "eu-west-1".into(),
            account: "123456789012".into(),
            cluster: "demo".into(),
        };
        let p = node_policy("aws", "demo", "bkt", "p/", None, Some(&scope));
        let statements = p["Statement"].as_array().cloned().unwrap_or_default();
        let read = statements
            .iter()
            .find(|s| s["Sid"] == "ReadThisClustersSecrets")
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            read["Resource"],
            "arn:aws:ssm:eu-west-1:123456789012:parameter/rmq/demo/*"
        );
        assert!(!read["Action"].to_string().contains("Put"));
        let kms = statements
            .iter()
            .find(|s| s["Action"] == "kms:Decrypt")
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            kms["Condition"]["StringEquals"]["kms:ViaService"],
            "ssm.eu-west-1.amazonaws.com"
        );
        assert_eq!(
            kms["Condition"]["StringLike"]["kms:EncryptionContext:PARAMETER_ARN"],
            read["Resource"]
        );
        let without = node_policy("aws", "demo", "bkt", "p/", None, None).to_string();
        assert!(!without.contains("ssm:") && !without.contains("kms:"));
    }
}
