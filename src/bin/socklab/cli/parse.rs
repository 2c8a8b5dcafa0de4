//! Value parsers: a HOST that is not a number in disguise, durations, probabilities.

use std::ffi::OsStr;
use std::time::Duration;

use clap::builder::TypedValueParser;
use clap::error::ErrorKind;

use socklab::net;

/// A HOST argument (`Host`), or an address argument whose host parts are
/// checked (`Addrs`: `HOST:PORT`, `[V6]:PORT`, `HOST`, or a comma-separated
/// list of them), refused as a usage error (exit 2) that shows the command's argument order when
/// [`net::check_host`] refuses the host.
#[derive(Debug, Clone, Copy)]
pub enum HostArg {
    /// The argument is a host.
    Host,
    /// The argument is one address, which may carry a port.
    Addr,
    /// The argument is a comma-separated list of addresses (often one), each
    /// of which may carry a port.
    Addrs,
}

impl TypedValueParser for HostArg {
    type Value = String;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        _arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<String, clap::Error> {
        let text = utf8(cmd, value)?;
        let items: Vec<&str> = match self {
            HostArg::Addrs => text.split(',').map(str::trim).collect(),
            HostArg::Host | HostArg::Addr => vec![text],
        };
        for item in items {
            let host = match self {
                HostArg::Host => item.to_string(),
                HostArg::Addr | HostArg::Addrs => {
                    net::split_host_port(item)
                        .map_err(|why| {
                            clap::Error::raw(
                                ErrorKind::ValueValidation,
                                format!("invalid address: {why}\n"),
                            )
                            .with_cmd(cmd)
                        })?
                        .0
                }
            };
            net::check_host(&host).map_err(|err| not_a_host(cmd, err))?;
        }
        Ok(text.to_string())
    }
}

fn utf8<'a>(cmd: &clap::Command, value: &'a OsStr) -> Result<&'a str, clap::Error> {
    value
        .to_str()
        .ok_or_else(|| clap::Error::new(ErrorKind::InvalidUtf8).with_cmd(cmd))
}

/// `'1000000' is not a host (...); usage: socklab upper client [HOST] [PORT] [BYTES]`
fn not_a_host(cmd: &clap::Command, err: net::HostError) -> clap::Error {
    let name = cmd.get_bin_name().unwrap_or_else(|| cmd.get_name());
    let mut usage = name.to_string();
    for arg in cmd.get_positionals() {
        let names = arg.get_value_names().unwrap_or_default();
        let id = arg.get_id().as_str().to_uppercase();
        let value = names.first().map_or(id.as_str(), |n| n.as_str());
        let dots = if arg.get_num_args().is_some_and(|n| n.max_values() > 1) {
            "..."
        } else {
            ""
        };
        if arg.is_required_set() {
            usage.push_str(&format!(" <{value}>{dots}"));
        } else {
            usage.push_str(&format!(" [{value}]{dots}"));
        }
    }
    clap::Error::raw(
        ErrorKind::ValueValidation,
        format!("{err}; usage: {usage}\n"),
    )
}

/// Parses `1.5`, `1.5s`, `250ms`, `2m` or `1h` into a duration; a bare number is seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("invalid duration {text:?} (try 10s, 250ms, 1.5)"))?;
    let scale = match unit.trim() {
        "" | "s" | "sec" | "secs" => 1.0,
        "ms" => 0.001,
        "us" | "µs" => 0.000_001,
        "m" | "min" => 60.0,
        "h" => 3600.0,
        other => {
            return Err(format!(
                "unknown unit {other:?} in {text:?} (use ms, s, m or h)"
            ));
        }
    };
    Duration::try_from_secs_f64(value * scale)
        .map_err(|err| format!("invalid duration {text:?}: {err}"))
}

/// Parses a probability between 0 and 1 inclusive.
pub fn parse_probability(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(p) if (0.0..=1.0).contains(&p) => Ok(p),
        _ => Err(format!(
            "invalid probability {text:?} (a number from 0 to 1)"
        )),
    }
}

/// Parses a duration that must not be zero (a zero backoff would never grow).
pub fn parse_positive_duration(text: &str) -> Result<Duration, String> {
    match parse_duration(text)? {
        d if d.is_zero() => Err(format!("{text:?} must be longer than zero")),
        d => Ok(d),
    }
}

/// Ends the process with a usage error (exit 2, clap's wording) for an
/// argument clap could not check itself, such as one of `[HOST] PORT`.
pub fn usage_error(message: &str) -> ! {
    clap::Error::raw(ErrorKind::ValueValidation, format!("{message}\n")).exit()
}
