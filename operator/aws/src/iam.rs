//! The node role's least-privilege policy, the same statements as `rmq-cluster.yaml`'s
//! `NodeRole`. rmq-aws does not create IAM objects (that would need another SDK crate and IAM
//! write rights for whoever runs `apply`); `rmqctl aws plan --print-iam-policy` prints this
//! document so an administrator can create the role and instance profile once, and
//! `--instance-profile` names it.

use crate::layout::monitoring::NAMESPACE;
use serde_json::{Value, json};

/// The node role policy for a cluster whose `rmq:stack` tag is `stack`, reading artefacts from
/// `bucket`/`prefix`, optionally writing to `log_group`. The CloudWatch agent needs both halves:
/// `PutMetricData` (namespace `rmq`: memory and disk) and the log group's write rights (the
/// scraped `/metrics` travel as embedded metrics through `log_group`, which the alarms read).
pub fn node_policy(
    partition: &str,
    stack: &str,
    bucket: &str,
    prefix: &str,
    log_group: Option<&str>,
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
        let p = node_policy("aws", "demo", "bkt", "rmq/demo/0.1.0/", None);
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
        let p = node_policy("aws", "demo", "bkt", "p/", Some("rmq-logs")).to_string();
        assert!(p.contains(r#""cloudwatch:namespace":"rmq""#), "{p}");
        assert!(p.contains("logs:PutLogEvents") && p.contains("log-group:rmq-logs:*"));
    }
}
