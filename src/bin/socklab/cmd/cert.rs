//! `socklab cert show | new | ca`: the development certificate of the data
//! directory, shown as `openssl x509` would name its parts, with its pin last
//! (`certificate sha256//...`, the form `--pin` takes).

use anyhow::{Context, Result};

use crate::cli::{CaArgs, CertArgs, CertCmd};
use socklab::tls::{DevCert, DevStore};

/// Runs `socklab cert`.
pub fn run(command: &CertCmd) -> Result<()> {
    let store = DevStore::locate()?;
    match command {
        CertCmd::Show(args) => show(&store, &store.leaf(&args.sans)?),
        CertCmd::New(CertArgs { sans }) => show(&store, &store.renew(sans)?),
        CertCmd::Ca(CaArgs { pem }) => {
            let path = store.ca()?;
            if *pem {
                let text = std::fs::read_to_string(&path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                print!("{text}");
            } else {
                println!("{}", path.display());
            }
        }
    }
    Ok(())
}

/// Prints what the leaf says, and where its files are.
fn show(store: &DevStore, leaf: &DevCert) {
    let info = &leaf.info;
    let time = |t: &chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M:%S UTC").to_string();
    println!("subject:     {}", info.subject);
    println!("issuer:      {}", info.issuer);
    println!("names:       {}", info.san_list());
    println!("not before:  {}", time(&info.not_before));
    println!("not after:   {}", time(&info.not_after));
    println!("certificate: {}", store.cert_path().display());
    println!("key:         {}", store.key_path().display());
    println!("CA:          {}", store.ca_path().display());
    println!("certificate {}", info.pin);
}
