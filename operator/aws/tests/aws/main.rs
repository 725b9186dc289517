//! rmq-aws's integration tests, one module per subject, in one test binary: sixteen binaries
//! each linked the AWS SDK's clients again (a quarter of the workspace's cold build). The moto
//! tests need the moto_server that `operator/aws/run-tests.sh` starts (`RMQ_AWS_TEST_ENDPOINT`;
//! without it they are skipped, with `RMQ_AWS_REQUIRE_MOTO=1` they fail). Each test uses its own
//! cluster name, so the tests of every module share one moto server.

mod common;

mod apply_lock;
mod aws_failover;
mod aws_secrets;
mod existing_vpc;
mod failover_moto;
mod instance_arch;
mod layout;
mod monitoring;
mod plan_safety;
mod provision;
mod readiness_gate;
mod roll_readiness;
mod shared_bucket;
mod template_parity;
mod userdata_failover;
mod userdata_sandbox;
