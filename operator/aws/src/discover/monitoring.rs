//! The cluster's CloudWatch alarms and dashboard. Alarms are listed by their name prefix
//! (`rmq-<cluster>-`) and kept when their tags name the cluster (a cluster `a` must not take
//! cluster `a-b`'s alarms); the dashboard `rmq-<cluster>` carries no tags, so it is kept when the
//! marker widget of its body names the cluster (one `rmqctl aws` did not make is left alone).

use super::tagged::record;
use crate::client::Aws;
use crate::discovered::Discovered;
use crate::error::{Result, aws as sdk_err};
use crate::layout::monitoring::{DASHBOARD_KEY, alarm_prefix, dashboard_name, marker};
use crate::resource::{Kind, TAG_CLUSTER, TAG_HASH, TAG_RESOURCE};
use aws_sdk_cloudwatch::types::AlarmType;
use aws_sdk_ec2::types::Tag;

/// Records the alarms and the dashboard of `cluster`.
pub(super) async fn monitoring(aws: &Aws, cluster: &str, found: &mut Discovered) -> Result<()> {
    alarms(aws, cluster, found).await?;
    dashboard(aws, cluster, found).await
}

/// The metric alarms named `rmq-<cluster>-...` and tagged for `cluster`, with their ARN and the
/// properties the plan checks for drift.
async fn alarms(aws: &Aws, cluster: &str, found: &mut Discovered) -> Result<()> {
    let cw = &aws.cloudwatch;
    let pages = cw
        .describe_alarms()
        .alarm_name_prefix(alarm_prefix(cluster))
        .alarm_types(AlarmType::MetricAlarm)
        .into_paginator()
        .send()
        .collect::<std::result::Result<Vec<_>, _>>()
        .await
        .map_err(|e| sdk_err("DescribeAlarms", e))?;
    for alarm in pages.iter().flat_map(|p| p.metric_alarms()) {
        let (Some(name), Some(arn)) = (alarm.alarm_name(), alarm.alarm_arn()) else {
            continue;
        };
        let listed = cw
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| sdk_err(format!("ListTagsForResource {name}"), e))?;
        let tags: Vec<Tag> = listed
            .tags()
            .iter()
            .map(|t| {
                Tag::builder()
                    .set_key(t.key().map(str::to_owned))
                    .set_value(t.value().map(str::to_owned))
                    .build()
            })
            .collect();
        let threshold = alarm.threshold().map(|t| t.to_string());
        let attrs = [
            ("arn", Some(arn)),
            ("threshold", threshold.as_deref()),
            ("metric", alarm.metric_name()),
            ("namespace", alarm.namespace()),
        ];
        record(found, cluster, Kind::Alarm, name, &tags, &attrs);
    }
    Ok(())
}

/// The dashboard `rmq-<cluster>` when its marker names `cluster`; the marker's hash is its
/// `rmq.dev/hash`.
async fn dashboard(aws: &Aws, cluster: &str, found: &mut Discovered) -> Result<()> {
    let cw = &aws.cloudwatch;
    let name = dashboard_name(cluster);
    let pages = cw
        .list_dashboards()
        .dashboard_name_prefix(&name)
        .into_paginator()
        .send()
        .collect::<std::result::Result<Vec<_>, _>>()
        .await
        .map_err(|e| sdk_err("ListDashboards", e))?;
    let exists = pages
        .iter()
        .flat_map(|p| p.dashboard_entries())
        .any(|d| d.dashboard_name() == Some(name.as_str()));
    if !exists {
        return Ok(());
    }
    let got = cw
        .get_dashboard()
        .dashboard_name(&name)
        .send()
        .await
        .map_err(|e| sdk_err(format!("GetDashboard {name}"), e))?;
    let Some((owner, hash)) = got.dashboard_body().and_then(marker) else {
        return Ok(());
    };
    let tags = [
        (TAG_CLUSTER, owner),
        (TAG_RESOURCE, DASHBOARD_KEY.to_owned()),
        (TAG_HASH, hash),
    ]
    .into_iter()
    .map(|(k, v)| Tag::builder().key(k).value(v).build())
    .collect::<Vec<_>>();
    record(found, cluster, Kind::Dashboard, &name, &tags, &[]);
    Ok(())
}
