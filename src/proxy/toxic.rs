//! Toxics with toxiproxy's names, parameters and JSON shape, and the
//! command line's compact form of one.
//!
//! ```text
//! JSON   {"name":"latency_downstream","type":"latency","stream":"downstream",
//!         "toxicity":1.0,"attributes":{"latency":100,"jitter":10}}
//! --toxic latency:latency=100,jitter=10[,stream=upstream][,toxicity=0.5][,name=slow]
//! ```
//! Units as in toxiproxy: milliseconds, except slicer's `delay` in
//! microseconds; bandwidth's `rate` in KB/s (1 KB = 1000 bytes).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Which way a toxic acts: `upstream` is client to server, `downstream`
/// server to client (toxiproxy's default).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the client to the upstream server.
    Upstream,
    /// From the upstream server to the client.
    #[default]
    Downstream,
}

impl Direction {
    /// `upstream` or `downstream`.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Upstream => "upstream",
            Direction::Downstream => "downstream",
        }
    }
}

/// What a toxic does, with its attributes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", content = "attributes", rename_all = "snake_case")]
pub enum Kind {
    /// Delays every chunk by `latency` ± `jitter` ms.
    Latency {
        /// Delay in ms.
        #[serde(default)]
        latency: u64,
        /// Uniform spread around it, in ms.
        #[serde(default)]
        jitter: u64,
    },
    /// Limits the rate to `rate` KB/s.
    Bandwidth {
        /// KB (1000 bytes) per second.
        #[serde(default)]
        rate: u64,
    },
    /// Delays the close (the FIN) by `delay` ms.
    SlowClose {
        /// Delay in ms.
        #[serde(default)]
        delay: u64,
    },
    /// Lets nothing through and closes after `timeout` ms (0: never closes).
    Timeout {
        /// Time in ms.
        #[serde(default)]
        timeout: u64,
    },
    /// Resets the connection after `timeout` ms (0: at once).
    ResetPeer {
        /// Time in ms.
        #[serde(default)]
        timeout: u64,
    },
    /// Cuts the stream into writes of `average_size` ± `size_variation`
    /// bytes, `delay` µs apart.
    Slicer {
        /// Mean write size in bytes.
        #[serde(default)]
        average_size: u64,
        /// Spread around it in bytes.
        #[serde(default)]
        size_variation: u64,
        /// Pause between writes in µs.
        #[serde(default)]
        delay: u64,
    },
    /// Closes the connection once `bytes` have gone through.
    LimitData {
        /// Bytes let through.
        #[serde(default)]
        bytes: u64,
    },
}

impl Kind {
    /// toxiproxy's name of the type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Kind::Latency { .. } => "latency",
            Kind::Bandwidth { .. } => "bandwidth",
            Kind::SlowClose { .. } => "slow_close",
            Kind::Timeout { .. } => "timeout",
            Kind::ResetPeer { .. } => "reset_peer",
            Kind::Slicer { .. } => "slicer",
            Kind::LimitData { .. } => "limit_data",
        }
    }
}

/// One toxic on a proxy.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Toxic {
    /// Unique on its proxy; `TYPE_STREAM` when not given.
    #[serde(default)]
    pub name: String,
    /// Which way it acts.
    #[serde(default)]
    pub stream: Direction,
    /// The probability that it applies to a connection (0 to 1).
    #[serde(default = "always")]
    pub toxicity: f64,
    /// What it does.
    #[serde(flatten)]
    pub kind: Kind,
}

fn always() -> f64 {
    1.0
}

/// Why a toxic was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ToxicError {
    /// The JSON or the compact form does not describe a toxic.
    #[error("invalid toxic: {0}")]
    Invalid(String),
}

impl Toxic {
    /// A toxic from toxiproxy's JSON, with its defaults filled in and checked.
    pub fn from_json(value: Value) -> Result<Toxic, ToxicError> {
        let mut value = value;
        // toxiproxy takes a toxic without attributes (all zero).
        if let Some(object) = value.as_object_mut() {
            object
                .entry("attributes")
                .or_insert_with(|| Value::Object(Map::new()));
        }
        let toxic: Toxic =
            serde_json::from_value(value).map_err(|err| ToxicError::Invalid(err.to_string()))?;
        toxic.checked()
    }

    /// Parses the compact form `TYPE:key=value,...` (`stream`, `toxicity`
    /// and `name` among the keys).
    pub fn parse(spec: &str) -> Result<Toxic, ToxicError> {
        let invalid = |why: String| ToxicError::Invalid(format!("{why} in {spec:?}"));
        let (kind, rest) = spec.split_once(':').unwrap_or((spec, ""));
        let mut toxic = Map::new();
        let mut attributes = Map::new();
        toxic.insert("type".into(), kind.trim().into());
        for pair in rest.split(',').filter(|p| !p.trim().is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| invalid(format!("{pair:?} is not key=value")))?;
            let (key, value) = (key.trim(), value.trim());
            match key {
                "stream" | "name" => {
                    toxic.insert(key.into(), value.into());
                }
                _ => {
                    let number: f64 = value
                        .parse()
                        .map_err(|_| invalid(format!("{key}={value:?} is not a number")))?;
                    let number = if key == "toxicity" {
                        Value::from(number)
                    } else if number >= 0.0 && number.fract() == 0.0 {
                        Value::from(number as u64)
                    } else {
                        return Err(invalid(format!("{key}={value} is not a whole number")));
                    };
                    let into = if key == "toxicity" {
                        &mut toxic
                    } else {
                        &mut attributes
                    };
                    into.insert(key.into(), number);
                }
            }
        }
        toxic.insert("attributes".into(), Value::Object(attributes));
        Toxic::from_json(Value::Object(toxic)).map_err(|ToxicError::Invalid(why)| invalid(why))
    }

    /// The toxic with `update` (toxiproxy's partial JSON: any of
    /// `attributes`, `toxicity`, `stream`) laid over it.
    pub fn updated(&self, update: Value) -> Result<Toxic, ToxicError> {
        let Value::Object(update) = update else {
            return Err(ToxicError::Invalid("expected a JSON object".into()));
        };
        // Serializing our own type cannot fail.
        let mut merged = serde_json::to_value(self).unwrap_or(Value::Null);
        let Some(object) = merged.as_object_mut() else {
            return Err(ToxicError::Invalid("cannot update".into()));
        };
        for (key, value) in update {
            match (key.as_str(), object.get_mut("attributes"), value) {
                ("attributes", Some(Value::Object(old)), Value::Object(new)) => old.extend(new),
                // A toxic keeps its name and type.
                ("name" | "type", _, _) => {}
                (_, _, value) => {
                    object.insert(key, value);
                }
            }
        }
        Toxic::from_json(merged)
    }

    fn checked(mut self) -> Result<Toxic, ToxicError> {
        if self.name.is_empty() {
            self.name = format!("{}_{}", self.kind.type_name(), self.stream.as_str());
        }
        if !(0.0..=1.0).contains(&self.toxicity) {
            return Err(ToxicError::Invalid(format!(
                "toxicity {} is not between 0 and 1",
                self.toxicity
            )));
        }
        if let Kind::Slicer {
            average_size: 0, ..
        } = self.kind
        {
            return Err(ToxicError::Invalid(
                "slicer needs an average_size above 0".into(),
            ));
        }
        Ok(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compact_form_is_toxiproxys_json() {
        let toxic = Toxic::parse("latency:latency=100,jitter=10,toxicity=0.5").expect("parses");
        assert_eq!(
            serde_json::to_value(&toxic).expect("json"),
            serde_json::json!({
                "name": "latency_downstream",
                "type": "latency",
                "stream": "downstream",
                "toxicity": 0.5,
                "attributes": {"latency": 100, "jitter": 10}
            })
        );
        let toxic = Toxic::parse("slow_close:delay=50,stream=upstream,name=x").expect("parses");
        assert_eq!(toxic.name, "x");
        assert_eq!(toxic.stream, Direction::Upstream);
        assert_eq!(toxic.kind, Kind::SlowClose { delay: 50 });
        assert_eq!(
            Toxic::parse("timeout").expect("no attributes").kind,
            Kind::Timeout { timeout: 0 }
        );
    }

    #[test]
    fn bad_toxics_are_refused() {
        for spec in [
            "latency:latency=-1",
            "latency:latency=fast",
            "latency:1",
            "bandwidth:rate=1.5",
            "teleport:speed=1",
            "latency:toxicity=2",
            "latency:stream=sideways",
            "slicer:average_size=0",
        ] {
            assert!(Toxic::parse(spec).is_err(), "{spec} was taken");
        }
    }

    #[test]
    fn an_update_keeps_what_it_does_not_name() {
        let toxic = Toxic::parse("latency:latency=100,jitter=10").expect("parses");
        let updated = toxic
            .updated(serde_json::json!({"attributes": {"jitter": 20}, "toxicity": 0.25}))
            .expect("update");
        assert_eq!(
            updated.kind,
            Kind::Latency {
                latency: 100,
                jitter: 20
            }
        );
        assert_eq!(updated.toxicity, 0.25);
        assert_eq!(updated.name, "latency_downstream");
    }
}
