//! CloudWatch: the cluster's metric alarms and its dashboard. Both calls that make them
//! (`PutMetricAlarm`, `PutDashboard`) create or replace the whole object, so converging is the
//! same call as creating. An alarm's `rmq.dev/hash` tag is written last with `TagResource`; the
//! dashboard's hash is in its marker widget, written with the body in one call.

use super::{Executor, ignore, wrong_spec};
use crate::error::{Error, Result, aws};
use crate::layout::monitoring::dashboard_body;
use crate::resource::{Actual, AlarmSpec, Kind, Resource, Spec, TAG_HASH};
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic, Tag};
use std::time::Instant;

/// The error codes of an alarm or dashboard that is gone already.
const GONE: [&str; 2] = ["ResourceNotFound", "ResourceNotFoundException"];

impl Executor<'_> {
    /// Puts alarm `r`, then tags it with every tag of `r` and, last, `hash` (the tags given to
    /// `PutMetricAlarm` count only when it creates the alarm).
    pub(crate) async fn ensure_alarm(&mut self, r: &Resource, hash: &str) -> Result<Actual> {
        let Spec::Alarm(a) = &r.spec else {
            return Err(wrong_spec(r));
        };
        let mut tags = self.cloudwatch_tags(r);
        self.put_alarm(a, tags.clone()).await?;
        let arn = self.alarm_arn(&a.name).await?;
        tags.push(Tag::builder().key(TAG_HASH).value(hash).build());
        self.aws
            .cloudwatch
            .tag_resource()
            .resource_arn(&arn)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws(format!("TagResource {}", a.name), e))?;
        Ok(Actual::new(Kind::Alarm, &r.key, &a.name)
            .with("arn", arn)
            .with("threshold", a.threshold.to_string())
            .with("metric", a.metric.clone())
            .with("namespace", a.namespace.clone()))
    }

    /// `PutMetricAlarm` of `a` (every property: what is left out is removed).
    async fn put_alarm(&self, a: &AlarmSpec, tags: Vec<Tag>) -> Result<()> {
        let dimensions = a
            .dimensions
            .iter()
            .map(|(name, value)| Dimension::builder().name(name).value(value).build())
            .collect();
        let actions = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        self.aws
            .cloudwatch
            .put_metric_alarm()
            .alarm_name(&a.name)
            .alarm_description(&a.description)
            .namespace(&a.namespace)
            .metric_name(&a.metric)
            .set_dimensions(Some(dimensions))
            .statistic(Statistic::from(a.statistic.as_str()))
            .period(a.period)
            .evaluation_periods(a.evaluation_periods)
            .threshold(a.threshold)
            .comparison_operator(ComparisonOperator::from(a.comparison.as_str()))
            .treat_missing_data(&a.treat_missing_data)
            .actions_enabled(true)
            .set_alarm_actions(actions(&a.alarm_actions))
            .set_ok_actions(actions(&a.ok_actions))
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| aws(format!("PutMetricAlarm {}", a.name), e))?;
        Ok(())
    }

    /// The ARN of alarm `name` (polled: a new alarm may take a moment to be listed).
    async fn alarm_arn(&self, name: &str) -> Result<String> {
        let deadline = Instant::now() + self.opts.wait_timeout;
        loop {
            let out = self
                .aws
                .cloudwatch
                .describe_alarms()
                .alarm_names(name)
                .send()
                .await
                .map_err(|e| aws(format!("DescribeAlarms {name}"), e))?;
            if let Some(arn) = out.metric_alarms().iter().find_map(|m| m.alarm_arn()) {
                return Ok(arn.to_owned());
            }
            if Instant::now() >= deadline {
                return Err(Error::Timeout {
                    what: format!("alarm {name} to be listed"),
                    secs: self.opts.wait_timeout.as_secs(),
                });
            }
            tokio::time::sleep(self.opts.poll_interval).await;
        }
    }

    /// Every tag of `r` as CloudWatch tags.
    fn cloudwatch_tags(&self, r: &Resource) -> Vec<Tag> {
        r.tags(&self.plan.cluster, &self.plan.stack)
            .into_iter()
            .map(|(k, v)| Tag::builder().key(k).value(v).build())
            .collect()
    }

    /// Puts dashboard `r`: its metric widgets, the widget of the alarms (their ARNs from the
    /// state) and the marker naming the cluster and `hash`.
    pub(crate) async fn ensure_dashboard(&mut self, r: &Resource, hash: &str) -> Result<Actual> {
        let Spec::Dashboard {
            name,
            widgets,
            alarms,
        } = &r.spec
        else {
            return Err(wrong_spec(r));
        };
        let arns = self.vs(alarms)?;
        let body = dashboard_body(widgets, &arns, &self.plan.cluster, hash);
        // Validation messages without an error are warnings about rendering: the dashboard
        // was saved (an invalid body is an error, DashboardInvalidInputError).
        self.aws
            .cloudwatch
            .put_dashboard()
            .dashboard_name(name)
            .dashboard_body(body)
            .send()
            .await
            .map_err(|e| aws(format!("PutDashboard {name}"), e))?;
        Ok(Actual::new(Kind::Dashboard, &r.key, name))
    }

    /// Deletes alarm `name` (nothing to do when it is gone).
    pub(crate) async fn delete_alarm(&self, name: &str) -> Result<()> {
        let r = self
            .aws
            .cloudwatch
            .delete_alarms()
            .alarm_names(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws(format!("DeleteAlarms {name}"), e));
        ignore(r, &GONE)
    }

    /// Deletes dashboard `name` (nothing to do when it is gone).
    pub(crate) async fn delete_dashboard(&self, name: &str) -> Result<()> {
        let r = self
            .aws
            .cloudwatch
            .delete_dashboards()
            .dashboard_names(name)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| aws(format!("DeleteDashboards {name}"), e));
        ignore(r, &GONE)
    }
}
