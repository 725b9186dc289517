//! SDK clients built from an explicit configuration: region, endpoint override, credentials and
//! retries. With `--endpoint-url` the credential chain is environment variables, then the
//! shared profile files, then web identity — never the EC2 instance metadata service (IMDS), so a
//! test against a local moto_server never makes an off-host request. Without an override the
//! SDK's standard chain is used (which ends with IMDS, as on an EC2 host).

use crate::params::Connection;
use aws_config::meta::credentials::CredentialsProviderChain;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, Region};
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};

/// The clients of one region.
#[derive(Debug, Clone)]
pub struct Aws {
    /// EC2: the network, security groups, interfaces, volumes and launch templates.
    pub ec2: aws_sdk_ec2::Client,
    /// Auto Scaling: the groups of one per node and the bastion's group.
    pub asg: aws_sdk_autoscaling::Client,
    /// CloudWatch: the cluster's alarms and dashboard.
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    /// S3 (region of the cluster; see [`Aws::s3_in`]).
    pub s3: aws_sdk_s3::Client,
    /// SSM: the parameters holding `spec.security`'s secrets.
    pub ssm: aws_sdk_ssm::Client,
    /// STS: who the caller is (the account id of the node role's ARNs).
    pub sts: aws_sdk_sts::Client,
    /// The configuration the clients were made from (S3 clients of other regions start
    /// from it).
    pub config: aws_config::SdkConfig,
    /// The region of the clients (`--region`).
    pub region: String,
    /// True when an endpoint override is in use (S3 then uses path-style addressing).
    pub custom_endpoint: bool,
}

impl Aws {
    /// The clients for `conn`.
    pub async fn connect(conn: &Connection) -> Self {
        let http = https_client();
        let mut loader = aws_config::defaults(BehaviorVersion::latest())
            .region(Region::new(conn.region.clone()))
            .http_client(http.clone());
        if let Some(url) = &conn.endpoint_url {
            let providers = ProviderConfig::default().with_http_client(http);
            let chain = CredentialsProviderChain::first_try(
                "Environment",
                aws_config::environment::EnvironmentVariableCredentialsProvider::new(),
            )
            .or_else(
                "Profile",
                aws_config::profile::ProfileFileCredentialsProvider::builder()
                    .configure(&providers)
                    .build(),
            )
            .or_else(
                "WebIdentityToken",
                aws_config::web_identity_token::WebIdentityTokenCredentialsProvider::builder()
                    .configure(&providers)
                    .build(),
            );
            loader = loader.endpoint_url(url.clone()).credentials_provider(chain);
        }
        if conn.no_retries {
            loader = loader.retry_config(RetryConfig::disabled());
        }
        let config = loader.load().await;
        let custom_endpoint = conn.endpoint_url.is_some();
        let s3 = s3_client(&config, None, custom_endpoint);
        Self {
            ec2: aws_sdk_ec2::Client::new(&config),
            asg: aws_sdk_autoscaling::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            s3,
            ssm: aws_sdk_ssm::Client::new(&config),
            sts: aws_sdk_sts::Client::new(&config),
            config,
            region: conn.region.clone(),
            custom_endpoint,
        }
    }

    /// An S3 client for a bucket in `region` (the artefact bucket may live elsewhere).
    pub fn s3_in(&self, region: &str) -> aws_sdk_s3::Client {
        if region == self.region {
            self.s3.clone()
        } else {
            s3_client(&self.config, Some(region), self.custom_endpoint)
        }
    }

    /// The id of the account the credentials belong to (STS GetCallerIdentity).
    pub async fn account_id(&self) -> crate::error::Result<String> {
        let me = self
            .sts
            .get_caller_identity()
            .send()
            .await
            .map_err(|e| crate::error::aws("GetCallerIdentity", e))?;
        me.account().map(str::to_owned).ok_or_else(|| {
            crate::error::Error::Input("GetCallerIdentity returned no account".into())
        })
    }

    /// The ARN partition of the region (`aws`, `aws-cn`, `aws-us-gov`).
    pub fn partition(&self) -> &'static str {
        partition(&self.region)
    }
}

/// The SDK's HTTPS client: hyper + rustls with the ring provider (the same TLS stack as the
/// Kubernetes client), trusting the platform's root certificates.
fn https_client() -> aws_sdk_ec2::config::SharedHttpClient {
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(CryptoMode::Ring))
        .build_https()
}

/// The ARN partition of `region`.
pub fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

fn s3_client(
    config: &aws_config::SdkConfig,
    region: Option<&str>,
    path_style: bool,
) -> aws_sdk_s3::Client {
    let mut b = aws_sdk_s3::config::Builder::from(config).force_path_style(path_style);
    if let Some(r) = region {
        b = b.region(Region::new(r.to_owned()));
    }
    aws_sdk_s3::Client::from_conf(b.build())
}
