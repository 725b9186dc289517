//! Controller mode (RocketMQ 5's automatic failover): Java's broker.conf keys that make the
//! broker ask a group of `rmq-controller` replicas for its id and its role instead of taking
//! `brokerRole`/`brokerId` from the file.

use super::ConfigError;
use super::parse::{boolean, invalid, parse, positive_ms};
use std::time::Duration;

/// The keys [`ControllerModeConfig::apply`] handles.
pub const KEYS: &[&str] = &[
    "enableControllerMode",
    "controllerAddr",
    "syncBrokerMetadataPeriod",
    "checkSyncStateSetPeriod",
    "haMaxTimeSlaveNotCatchup",
    "brokerElectionPriority",
    "controllerHeartBeatTimeoutMills",
    "allAckInSyncStateSet",
    "syncControllerMetadataPeriod",
];

/// Controller-mode settings.
#[derive(Debug, Clone)]
pub struct ControllerModeConfig {
    /// `enableControllerMode`: the controllers decide the broker's id and role.
    pub enabled: bool,
    /// `controllerAddr`: every controller replica, `host:port;host:port`.
    pub addrs: Vec<String>,
    /// `syncBrokerMetadataPeriod`: how often the broker asks the controller for its group's
    /// master and epoch (GET_REPLICA_INFO), to notice a role change it was not told about.
    pub sync_metadata_period: Duration,
    /// `checkSyncStateSetPeriod`: how often a master re-checks its in-sync replica set.
    pub check_sync_state_set_period: Duration,
    /// `haMaxTimeSlaveNotCatchup`: how long a slave may stay behind the master's end before
    /// the master removes it from the in-sync set.
    pub max_time_slave_not_catchup: Duration,
    /// `brokerElectionPriority`: sent in heartbeats (lower is preferred by the controller).
    pub election_priority: i32,
    /// `controllerHeartBeatTimeoutMills`: the controller deems the broker dead after this long
    /// without a heartbeat; the broker beats every third of it.
    pub heartbeat_timeout: Duration,
    /// `allAckInSyncStateSet`: a send is acknowledged only once every member of the in-sync
    /// set has it.
    pub all_ack_in_sync_state_set: bool,
    /// The master epoch this run serves under, assigned by the controllers at start (not a
    /// setting; 0 outside controller mode). Registrations carry it as the topic table's
    /// `stateVersion`, so a nameserver refuses the master registration of a deposed master
    /// (a lower epoch than the live master's) as RocketMQ 5's does.
    pub epoch: i32,
}

impl Default for ControllerModeConfig {
    fn default() -> Self {
        Self {
            enabled: false,
            addrs: Vec::new(),
            sync_metadata_period: Duration::from_secs(5),
            check_sync_state_set_period: Duration::from_secs(5),
            max_time_slave_not_catchup: Duration::from_secs(15),
            election_priority: i32::MAX,
            heartbeat_timeout: Duration::from_secs(10),
            all_ack_in_sync_state_set: false,
            epoch: 0,
        }
    }
}

impl ControllerModeConfig {
    /// Applies one of [`KEYS`].
    pub fn apply(&mut self, key: &str, v: &str, origin: &str) -> Result<(), ConfigError> {
        match key {
            "enableControllerMode" => self.enabled = boolean(origin, key, v)?,
            "controllerAddr" => {
                self.addrs = v
                    .split(';')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned)
                    .collect();
                if self.addrs.iter().any(|a| !a.contains(':')) {
                    return Err(invalid(
                        origin,
                        key,
                        v,
                        "host:port;host:port of controllers",
                    ));
                }
            }
            "syncBrokerMetadataPeriod" | "syncControllerMetadataPeriod" => {
                self.sync_metadata_period = positive_ms(origin, key, v)?
            }
            "checkSyncStateSetPeriod" => {
                self.check_sync_state_set_period = positive_ms(origin, key, v)?
            }
            "haMaxTimeSlaveNotCatchup" => {
                self.max_time_slave_not_catchup = positive_ms(origin, key, v)?
            }
            "brokerElectionPriority" => {
                self.election_priority = parse(origin, key, v, "an integer (lower wins)")?
            }
            "controllerHeartBeatTimeoutMills" => {
                self.heartbeat_timeout = positive_ms(origin, key, v)?
            }
            "allAckInSyncStateSet" => self.all_ack_in_sync_state_set = boolean(origin, key, v)?,
            _ => {}
        }
        Ok(())
    }

    /// Checks that controller mode has controllers to ask.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.enabled && self.addrs.is_empty() {
            return Err(ConfigError::Inconsistent(
                "enableControllerMode=true needs controllerAddr=host:port;host:port;...".into(),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_and_controller_mode_needs_addresses() {
        let mut c = ControllerModeConfig::default();
        c.apply("enableControllerMode", "true", "t").unwrap();
        assert!(c.validate().is_err());
        c.apply("controllerAddr", "a:1; b:2;", "t").unwrap();
        c.apply("haMaxTimeSlaveNotCatchup", "3000", "t").unwrap();
        assert_eq!(c.addrs, vec!["a:1", "b:2"]);
        assert_eq!(c.max_time_slave_not_catchup, Duration::from_secs(3));
        assert!(c.validate().is_ok());
        assert!(c.apply("controllerAddr", "nohost", "t").is_err());
    }
}
