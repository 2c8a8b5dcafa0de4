//! `socklab lookup`: options in, the library called, its results shown as
//! the texts' tables.

use anyhow::{Result, bail};

use crate::cli::{LookupArgs, Proto};
use socklab::lookup::{self, Service, Transport, family_name, protocol_name, socktype_name};

/// Runs `socklab lookup`.
pub async fn run(args: &LookupArgs) -> Result<()> {
    let transport = args.proto.map(|proto| match proto {
        Proto::Tcp => Transport::Tcp,
        Proto::Udp => Transport::Udp,
    });
    if let Some(name) = &args.service {
        lookup::services_named(name, transport)?
            .iter()
            .for_each(print_service);
        return Ok(());
    }
    if let Some(port) = args.port {
        lookup::services_on_port(port, transport)?
            .iter()
            .for_each(print_service);
        return Ok(());
    }
    let Some(host) = &args.host else {
        bail!("give a HOST, --service NAME or --port N");
    };
    let entries = lookup::addresses(host, args.target_port.as_deref(), transport).await?;
    println!("{:<10}{:<13}{:<11}address", "family", "type", "protocol");
    for entry in &entries {
        // Without a PORT the port is 0: show just the address, as asked.
        let addr = match args.target_port {
            Some(_) => entry.addr.to_string(),
            None => entry.addr.ip().to_string(),
        };
        println!(
            "{:<10}{:<13}{:<11}{addr}",
            family_name(entry.family),
            socktype_name(entry.socktype),
            format!("{} ({})", entry.protocol, protocol_name(entry.protocol)),
        );
    }
    Ok(())
}

fn print_service(service: &Service) {
    let entry = format!("{}/{}", service.port, service.proto);
    let line = format!(
        "{:<16}{:<16}{}",
        service.name,
        entry,
        service.aliases.join(" ")
    );
    println!("{}", line.trim_end());
}
