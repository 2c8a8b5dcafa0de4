//! The development certificate: a local CA and a leaf it signs, kept in the
//! user's data directory so that a TLS server works the first time and keeps
//! its pin across restarts.
//!
//! ```text
//! $SOCKLAB_DATA_DIR, else $XDG_DATA_HOME/socklab, else ~/.local/share/socklab (0700)
//!   ca.pem       CA certificate (CA:TRUE, keyCertSign), 10 years
//!   ca-key.pem   its key, 0600, made once
//!   cert.pem     leaf for localhost, 127.0.0.1, ::1 and the SANs asked for
//!                (CA:FALSE, serverAuth + clientAuth, digitalSignature), 1 year
//!   key.pem      its key, 0600, kept when the leaf is re-issued
//!   .lock        held while reading or writing, so two servers starting at
//!                once agree on one CA and one leaf
//! ```
//! All keys ECDSA P-256, signatures ECDSA with SHA-256; certificates are
//! backdated an hour against clock skew. The leaf is re-issued (same key,
//! hence the same pin) when it lacks a SAN asked for, expires within 30 days,
//! or was not signed by the stored CA; `renew` makes a new key as well.
//! Every file is written to a temporary name and renamed into place.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions, Permissions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::Duration;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PKCS_ECDSA_P256_SHA256, PublicKeyData, SerialNumber,
};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use time::OffsetDateTime;

use super::error::TlsError;
use super::files;
use super::info::{CertInfo, San};
use super::pin::Pin;

/// The environment variable that overrides the data directory (tests, CI).
pub const DATA_DIR_ENV: &str = "SOCKLAB_DATA_DIR";
/// The names every development leaf is for.
pub const DEFAULT_SANS: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// How long a leaf is valid.
const LEAF_VALIDITY: Duration = Duration::from_secs(365 * 86_400);
/// How long the CA is valid: longer than a leaf, so re-issues keep it.
const CA_VALIDITY: Duration = Duration::from_secs(10 * 365 * 86_400);
/// Backdating against clocks a little behind ours.
const BACKDATE: Duration = Duration::from_secs(3_600);
/// A leaf expiring sooner than this is re-issued.
const RENEW_BEFORE: Duration = Duration::from_secs(30 * 86_400);
/// The CA's common name, followed by a random tag: two stores' CAs must not
/// share a name, or a client trusting one would find the other's "issuer" and
/// report a bad signature instead of an unknown CA.
const CA_NAME: &str = "socklab development CA";

/// The directory holding the development CA and leaf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevStore {
    dir: PathBuf,
}

/// A development leaf, ready for a server.
#[derive(Debug)]
pub struct DevCert {
    /// The leaf certificate (the CA is the client's to trust).
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
    /// What the leaf says.
    pub info: CertInfo,
}

impl DevStore {
    /// A store in `dir` (created when first needed).
    pub fn new(dir: impl Into<PathBuf>) -> DevStore {
        DevStore { dir: dir.into() }
    }

    /// The user's store: `$SOCKLAB_DATA_DIR`, else `$XDG_DATA_HOME/socklab`,
    /// else `~/.local/share/socklab`.
    pub fn locate() -> Result<DevStore, TlsError> {
        let var = |name| {
            std::env::var_os(name)
                .filter(|value| !value.is_empty())
                .map(PathBuf::from)
        };
        if let Some(dir) = var(DATA_DIR_ENV) {
            return Ok(DevStore::new(dir));
        }
        // The XDG spec says a relative XDG_DATA_HOME is to be ignored.
        if let Some(xdg) = var("XDG_DATA_HOME").filter(|dir| dir.is_absolute()) {
            return Ok(DevStore::new(xdg.join("socklab")));
        }
        let home = var("HOME").ok_or(TlsError::NoDataDir)?;
        Ok(DevStore::new(home.join(".local/share/socklab")))
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The CA certificate's file.
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// The leaf certificate's file.
    pub fn cert_path(&self) -> PathBuf {
        self.dir.join("cert.pem")
    }

    /// The leaf key's file.
    pub fn key_path(&self) -> PathBuf {
        self.dir.join("key.pem")
    }

    /// The CA key's file.
    fn ca_key_path(&self) -> PathBuf {
        self.dir.join("ca-key.pem")
    }

    /// Makes the CA if there is none; returns its certificate's file.
    pub fn ca(&self) -> Result<PathBuf, TlsError> {
        let _lock = self.lock()?;
        self.load_or_make_ca()?;
        Ok(self.ca_path())
    }

    /// The leaf for the default SANs and `extra_sans`, reused if it will do.
    pub fn leaf(&self, extra_sans: &[String]) -> Result<DevCert, TlsError> {
        self.issue(extra_sans, false)
    }

    /// A new leaf with a new key (so a new pin), for the SANs the old one
    /// had plus `extra_sans`.
    pub fn renew(&self, extra_sans: &[String]) -> Result<DevCert, TlsError> {
        self.issue(extra_sans, true)
    }

    /// The leaf, re-issued when needed; a new key when `new_key`.
    fn issue(&self, extra_sans: &[String], new_key: bool) -> Result<DevCert, TlsError> {
        let _lock = self.lock()?;
        let (ca, ca_subject, ca_is_new) = self.load_or_make_ca()?;
        let mut sans: BTreeSet<San> = DEFAULT_SANS
            .iter()
            .copied()
            .chain(extra_sans.iter().map(String::as_str))
            .map(San::parse)
            .filter(|san| !matches!(san, Ok(San::Ip(ip)) if ip.is_unspecified()))
            .collect::<Result<_, _>>()?;
        // The stored key, unless a new one is asked for or it is unreadable.
        let stored_key = fs::read_to_string(self.key_path())
            .ok()
            .and_then(|pem| KeyPair::from_pem(&pem).ok())
            .filter(|_| !new_key);
        if let Some((cert, info)) = self.stored_leaf() {
            let fresh = info.not_after > chrono::Utc::now() + RENEW_BEFORE;
            let covers = sans.iter().all(|san| info.covers(san));
            let ours = info.issuer == ca_subject && !ca_is_new;
            // A key file replaced behind our back must not be paired with
            // the old certificate.
            let matched = stored_key
                .as_ref()
                .filter(|key| Pin::of_spki(&key.subject_public_key_info()) == info.pin);
            if fresh
                && covers
                && ours
                && let Some(key) = matched
            {
                return Ok(DevCert {
                    chain: vec![cert],
                    key: pkcs8(key),
                    info,
                });
            }
            // A re-issue keeps the names the old leaf served.
            sans.extend(info.sans.iter().cloned());
        }
        let key = match stored_key {
            Some(key) => key,
            None => {
                let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
                self.write(&self.key_path(), &key.serialize_pem(), 0o600)?;
                key
            }
        };
        let cert = leaf_params(&sans)?.signed_by(&key, &ca)?;
        self.write(&self.cert_path(), &cert.pem(), 0o644)?;
        let info = CertInfo::parse(cert.der())?;
        Ok(DevCert {
            chain: vec![cert.der().clone()],
            key: pkcs8(&key),
            info,
        })
    }

    /// The stored leaf and what it says, if there is a readable one.
    fn stored_leaf(&self) -> Option<(CertificateDer<'static>, CertInfo)> {
        let cert = files::read_certs(&self.cert_path())
            .ok()?
            .into_iter()
            .next()?;
        let info = CertInfo::parse(&cert).ok()?;
        Some((cert, info))
    }

    /// The CA as an issuer, its subject, and whether it was just made.
    fn load_or_make_ca(&self) -> Result<(Issuer<'static, KeyPair>, String, bool), TlsError> {
        if self.ca_path().exists() || self.ca_key_path().exists() {
            let (issuer, subject) = self.load_ca()?;
            return Ok((issuer, subject, false));
        }
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)?;
        let serial = random_serial()?;
        let tag: String = serial.to_bytes()[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut params = CertificateParams::default();
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{CA_NAME} {tag}"));
        params
            .distinguished_name
            .push(DnType::OrganizationName, "socklab");
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        set_validity(&mut params, CA_VALIDITY);
        params.serial_number = Some(serial);
        let cert = params.self_signed(&key)?;
        // The key first: a CA certificate without its key would be useless.
        self.write(&self.ca_key_path(), &key.serialize_pem(), 0o600)?;
        self.write(&self.ca_path(), &cert.pem(), 0o644)?;
        let subject = CertInfo::parse(cert.der())?.subject;
        Ok((Issuer::new(params, key), subject, true))
    }

    /// The stored CA as an issuer, and its subject. A damaged CA is an error,
    /// not something to replace: clients may trust it.
    fn load_ca(&self) -> Result<(Issuer<'static, KeyPair>, String), TlsError> {
        let damaged = |path: PathBuf, why: String| TlsError::DamagedStore { path, why };
        // read_certs fails rather than return an empty list: index 0 exists.
        let cert = files::read_certs(&self.ca_path())?.swap_remove(0);
        let key_path = self.ca_key_path();
        let key_pem = fs::read_to_string(&key_path).map_err(|cause| TlsError::Read {
            path: key_path.clone(),
            cause,
        })?;
        let key = KeyPair::from_pem(&key_pem).map_err(|e| damaged(key_path, e.to_string()))?;
        let info = CertInfo::parse(&cert)?;
        let issuer = Issuer::from_ca_cert_der(&cert, key)
            .map_err(|e| damaged(self.ca_path(), e.to_string()))?;
        Ok((issuer, info.subject))
    }

    /// Creates the directory (0700) and takes the store's lock.
    fn lock(&self) -> Result<File, TlsError> {
        let failed = |path: &Path| {
            let path = path.to_path_buf();
            move |cause| TlsError::Write { path, cause }
        };
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&self.dir)
            .map_err(failed(&self.dir))?;
        let path = self.dir.join(".lock");
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(failed(&path))?;
        file.lock().map_err(failed(&path))?;
        Ok(file)
    }

    /// Writes `contents` to `path` through a temporary file and a rename, so
    /// that no reader ever sees half a file.
    fn write(&self, path: &Path, contents: &str, mode: u32) -> Result<(), TlsError> {
        let failed = |cause| TlsError::Write {
            path: path.to_path_buf(),
            cause,
        };
        let name = path
            .file_name()
            .map_or_else(Default::default, |n| n.to_string_lossy());
        let temp = self.dir.join(format!(".{name}.{}.tmp", std::process::id()));
        let mut file = OpenOptions::new()
            .create(true)
            .truncate(true)
            .write(true)
            .mode(mode)
            .open(&temp)
            .map_err(failed)?;
        // A leftover temporary file keeps its old mode; set it again.
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(failed)?;
        file.write_all(contents.as_bytes()).map_err(failed)?;
        file.sync_all().map_err(failed)?;
        fs::rename(&temp, path).map_err(failed)
    }
}

/// An rcgen key as rustls takes it.
fn pkcs8(key: &KeyPair) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()))
}

/// A leaf's parameters: `sans`, server and client use, one year.
fn leaf_params(sans: &BTreeSet<San>) -> Result<CertificateParams, TlsError> {
    let names: Vec<String> = sans.iter().map(San::to_string).collect();
    let mut params = CertificateParams::new(names)?;
    let common_name = sans
        .iter()
        .find_map(|san| match san {
            San::Dns(name) => Some(name.clone()),
            San::Ip(_) => None,
        })
        .unwrap_or_else(|| "localhost".to_string());
    params.distinguished_name = rcgen::DistinguishedName::new();
    params
        .distinguished_name
        .push(DnType::CommonName, common_name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, "socklab");
    params.is_ca = IsCa::ExplicitNoCa;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    set_validity(&mut params, LEAF_VALIDITY);
    params.serial_number = Some(random_serial()?);
    Ok(params)
}

/// Valid from an hour ago for `validity`.
fn set_validity(params: &mut CertificateParams, validity: Duration) {
    let now = OffsetDateTime::now_utc();
    params.not_before = now - BACKDATE;
    params.not_after = now + validity;
}

/// A random positive 128-bit serial: a re-issued leaf must not repeat its
/// predecessor's serial (rcgen derives one from the key otherwise, and
/// browsers refuse two certificates with one issuer and serial).
fn random_serial() -> Result<SerialNumber, TlsError> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| TlsError::Generate(rcgen::Error::RingUnspecified))?;
    bytes[0] &= 0x7f;
    Ok(SerialNumber::from_slice(&bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leaf_is_reused_and_reissued_with_the_same_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DevStore::new(dir.path().join("store"));
        let first = store.leaf(&[]).expect("first leaf");
        let sans: Vec<String> = first.info.sans.iter().map(San::to_string).collect();
        assert_eq!(sans, ["localhost", "127.0.0.1", "::1"]);

        let again = store
            .leaf(&["0.0.0.0".into(), "localhost".into()])
            .expect("again");
        assert_eq!(
            again.chain, first.chain,
            "an unspecified address adds no SAN"
        );

        let wider = store.leaf(&["127.0.0.7".into()]).expect("wider");
        assert_ne!(wider.chain, first.chain, "a missing SAN re-issues");
        assert_eq!(wider.info.pin, first.info.pin, "with the same key");
        assert!(wider.info.covers(&San::Ip([127, 0, 0, 7].into())));

        let renewed = store.renew(&[]).expect("renew");
        assert_ne!(renewed.info.pin, first.info.pin, "renew makes a new key");
        let kept = renewed.info.covers(&San::Ip([127, 0, 0, 7].into()));
        assert!(kept, "and keeps the SANs");
        let err = store.leaf(&["bad name!".into()]).expect_err("not a name");
        assert!(matches!(err, TlsError::San(_)), "{err:?}");
        let mode = |name: &str| {
            let meta = fs::metadata(store.dir().join(name)).expect("metadata");
            meta.permissions().mode() & 0o777
        };
        assert_eq!((mode("key.pem"), mode("ca-key.pem")), (0o600, 0o600));
        assert_eq!(mode("."), 0o700);
    }

    #[test]
    fn a_leaf_near_its_end_is_reissued_on_the_same_key() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DevStore::new(dir.path());
        let first = store.leaf(&[]).expect("first leaf");
        // Replace the leaf by one, on the same key, that expires in 10 days.
        let read = |path: PathBuf| fs::read_to_string(path).expect("stored PEM");
        let ca_key = KeyPair::from_pem(&read(store.ca_key_path())).expect("CA key");
        let ca = Issuer::from_ca_cert_pem(&read(store.ca_path()), ca_key).expect("CA");
        let key = KeyPair::from_pem(&read(store.key_path())).expect("leaf key");
        let sans = DEFAULT_SANS
            .iter()
            .map(|name| San::parse(name))
            .collect::<Result<_, _>>();
        let mut params = leaf_params(&sans.expect("SANs")).expect("params");
        params.not_after = OffsetDateTime::now_utc() + Duration::from_secs(10 * 86_400);
        let short = params.signed_by(&key, &ca).expect("short leaf");
        fs::write(store.cert_path(), short.pem()).expect("write");

        let renewed = store.leaf(&[]).expect("renewed");
        assert_ne!(renewed.chain[0], *short.der(), "re-issued");
        assert_eq!(renewed.info.pin, first.info.pin, "on the same key");
        assert!(renewed.info.not_after > chrono::Utc::now() + Duration::from_secs(364 * 86_400));
    }

    #[test]
    fn servers_starting_at_once_agree_on_one_ca_and_leaf() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DevStore::new(dir.path());
        let leaves: Vec<DevCert> = std::thread::scope(|scope| {
            let runs: Vec<_> = (0..4).map(|_| scope.spawn(|| store.leaf(&[]))).collect();
            runs.into_iter()
                .map(|run| run.join().expect("no panic").expect("leaf"))
                .collect()
        });
        assert!(leaves.iter().all(|leaf| leaf.chain == leaves[0].chain));
        let stored = files::read_certs(&store.cert_path()).expect("stored leaf");
        assert_eq!(stored, leaves[0].chain);
    }

    #[test]
    fn a_key_file_that_does_not_match_the_leaf_re_issues_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DevStore::new(dir.path());
        let first = store.leaf(&[]).expect("first leaf");
        let other = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).expect("key");
        fs::write(store.key_path(), other.serialize_pem()).expect("replace the key");
        let leaf = store.leaf(&[]).expect("leaf");
        assert_ne!(leaf.info.pin, first.info.pin);
        assert_eq!(
            leaf.info.pin,
            Pin::of_spki(&other.subject_public_key_info())
        );
    }

    #[test]
    fn a_damaged_ca_is_an_error_not_replaced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = DevStore::new(dir.path());
        store.ca().expect("CA");
        fs::write(store.ca_key_path(), "not a key").expect("damage");
        let err = store.leaf(&[]).expect_err("damaged");
        assert!(matches!(err, TlsError::DamagedStore { .. }), "{err:?}");
        assert!(
            err.to_string().ends_with("(delete it to make a new CA)"),
            "{err}"
        );
        fs::remove_file(store.ca_key_path()).expect("remove");
        let err = store.ca().expect_err("half a CA");
        assert!(err.to_string().starts_with("cannot read "), "{err}");
    }

    #[test]
    fn locate_prefers_the_override() {
        // Only reads the environment: SOCKLAB_DATA_DIR is set by no other test
        // in this binary.
        if std::env::var_os(DATA_DIR_ENV).is_none() {
            let store = DevStore::locate().expect("a HOME or XDG_DATA_HOME");
            assert!(store.dir().ends_with("socklab"), "{:?}", store.dir());
        }
    }
}
