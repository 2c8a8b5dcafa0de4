//! The proxies an API server runs, by name, each with its toxic list (which
//! its live connections follow) and, while enabled, its listener.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::tcp;
use super::toxic::Toxic;
use crate::net::{self, Endpoint, ServerOptions};

/// A proxy as toxiproxy's API shows and takes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProxyConfig {
    /// Unique name.
    pub name: String,
    /// `HOST:PORT` to listen on (port 0 picks one; shown as bound).
    pub listen: String,
    /// `HOST:PORT` to relay to.
    pub upstream: String,
    /// Whether it listens; a disabled proxy closes its connections.
    #[serde(default = "enabled")]
    pub enabled: bool,
}

fn enabled() -> bool {
    true
}

/// A proxy with its toxics, as `GET /proxies/{name}` returns it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProxyView {
    /// Its settings (`listen` as bound while enabled).
    #[serde(flatten)]
    pub config: ProxyConfig,
    /// Its toxics, in the order they act.
    pub toxics: Vec<Toxic>,
}

/// An API error: an HTTP status and toxiproxy's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    /// HTTP status code.
    pub status: u16,
    /// What went wrong.
    pub message: String,
}

impl ApiError {
    /// An error with `status`.
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn proxy_not_found() -> ApiError {
        ApiError::new(404, "proxy not found")
    }

    fn toxic_not_found() -> ApiError {
        ApiError::new(404, "toxic not found")
    }
}

/// What every proxy the registry starts is run with.
#[derive(Debug, Clone)]
pub struct Defaults {
    /// Accept-loop limits of each proxy (its grace is cut to zero: a
    /// disabled proxy drops its connections at once, as toxiproxy's does).
    pub server: ServerOptions,
    /// Connect timeout towards upstream servers.
    pub connect_timeout: Duration,
    /// Seed of the random draws.
    pub seed: Option<u64>,
}

impl Default for Defaults {
    fn default() -> Self {
        Self {
            server: ServerOptions::default(),
            connect_timeout: net::DEFAULT_CONNECT_TIMEOUT,
            seed: None,
        }
    }
}

struct Entry {
    config: ProxyConfig,
    toxics: watch::Sender<Arc<Vec<Toxic>>>,
    running: Option<Running>,
}

/// A listening proxy: cancelling `stop` closes it and its connections.
struct Running {
    bound: SocketAddr,
    stop: CancellationToken,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

/// The proxies, shared by the API's connections (a cheap clone).
#[derive(Clone)]
pub struct Registry {
    proxies: Arc<Mutex<BTreeMap<String, Entry>>>,
    defaults: Arc<Defaults>,
}

impl Registry {
    /// An empty registry whose proxies run with `defaults`.
    pub fn new(defaults: Defaults) -> Registry {
        Registry {
            proxies: Arc::default(),
            defaults: Arc::new(defaults),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Entry>> {
        // A panic under the lock leaves plain data behind: still usable.
        self.proxies.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every proxy, by name.
    pub fn list(&self) -> BTreeMap<String, ProxyView> {
        self.lock()
            .iter()
            .map(|(name, entry)| (name.clone(), view(entry)))
            .collect()
    }

    /// One proxy.
    pub fn get(&self, name: &str) -> Result<ProxyView, ApiError> {
        self.lock()
            .get(name)
            .map(view)
            .ok_or_else(ApiError::proxy_not_found)
    }

    /// Creates a proxy with `toxics` and starts it if enabled (409 if the
    /// name is taken).
    pub async fn create(
        &self,
        config: ProxyConfig,
        toxics: Vec<Toxic>,
    ) -> Result<ProxyView, ApiError> {
        if config.name.is_empty() {
            return Err(ApiError::new(400, "missing required field: name"));
        }
        if self.lock().contains_key(&config.name) {
            return Err(ApiError::new(409, "proxy already exists"));
        }
        let (sender, _) = watch::channel(Arc::new(toxics));
        let running = match config.enabled {
            true => Some(self.start(&config, sender.subscribe()).await?),
            false => None,
        };
        let mut proxies = self.lock();
        if proxies.contains_key(&config.name) {
            return Err(ApiError::new(409, "proxy already exists"));
        }
        let entry = Entry {
            config: config.clone(),
            toxics: sender,
            running,
        };
        let shown = view(&entry);
        proxies.insert(config.name, entry);
        Ok(shown)
    }

    /// Changes `listen`, `upstream` or `enabled` of a proxy (restarting it
    /// as needed).
    pub async fn update(&self, name: &str, update: Value) -> Result<ProxyView, ApiError> {
        let (config, toxics) = {
            let proxies = self.lock();
            let entry = proxies.get(name).ok_or_else(ApiError::proxy_not_found)?;
            let mut merged = serde_json::to_value(&entry.config).unwrap_or(Value::Null);
            if let (Some(merged), Value::Object(update)) = (merged.as_object_mut(), update) {
                for (key, value) in update {
                    if key != "name" {
                        merged.insert(key, value);
                    }
                }
            }
            let config: ProxyConfig = serde_json::from_value(merged)
                .map_err(|err| ApiError::new(400, err.to_string()))?;
            (config, entry.toxics.subscribe())
        };
        let restart = {
            let proxies = self.lock();
            let entry = proxies.get(name).ok_or_else(ApiError::proxy_not_found)?;
            let moved =
                entry.config.listen != config.listen || entry.config.upstream != config.upstream;
            config.enabled && (moved || entry.running.is_none())
        };
        let running = match restart {
            true => {
                // The old listener goes first: the new one may want its port.
                if let Some(entry) = self.lock().get_mut(name) {
                    entry.running = None;
                }
                Some(self.start(&config, toxics).await?)
            }
            false => None,
        };
        let mut proxies = self.lock();
        let entry = proxies
            .get_mut(name)
            .ok_or_else(ApiError::proxy_not_found)?;
        if !config.enabled {
            entry.running = None;
        } else if running.is_some() {
            entry.running = running;
        }
        entry.config = config;
        Ok(view(entry))
    }

    /// Stops and forgets a proxy; its connections close.
    pub fn delete(&self, name: &str) -> Result<(), ApiError> {
        self.lock()
            .remove(name)
            .map(drop)
            .ok_or_else(ApiError::proxy_not_found)
    }

    /// Enables every proxy and removes every toxic.
    pub async fn reset(&self) -> Result<(), ApiError> {
        let names: Vec<String> = self.lock().keys().cloned().collect();
        for name in names {
            let disabled = {
                let proxies = self.lock();
                let Some(entry) = proxies.get(&name) else {
                    continue;
                };
                entry.toxics.send_replace(Arc::new(Vec::new()));
                !entry.config.enabled || entry.running.is_none()
            };
            if disabled {
                self.update(&name, serde_json::json!({"enabled": true}))
                    .await?;
            }
        }
        Ok(())
    }

    /// The toxics of a proxy.
    pub fn toxics(&self, name: &str) -> Result<Vec<Toxic>, ApiError> {
        self.get(name).map(|view| view.toxics)
    }

    /// One toxic of a proxy.
    pub fn toxic(&self, name: &str, toxic: &str) -> Result<Toxic, ApiError> {
        self.toxics(name)?
            .into_iter()
            .find(|t| t.name == toxic)
            .ok_or_else(ApiError::toxic_not_found)
    }

    /// Adds a toxic to a proxy; its live connections take it up at once.
    pub fn add_toxic(&self, name: &str, toxic: Toxic) -> Result<Toxic, ApiError> {
        self.change_toxics(name, |toxics| {
            if toxics.iter().any(|t| t.name == toxic.name) {
                return Err(ApiError::new(409, "toxic already exists"));
            }
            toxics.push(toxic.clone());
            Ok(toxic)
        })
    }

    /// Updates a toxic's attributes, toxicity or stream.
    pub fn update_toxic(&self, name: &str, toxic: &str, update: Value) -> Result<Toxic, ApiError> {
        self.change_toxics(name, |toxics| {
            let old = toxics
                .iter_mut()
                .find(|t| t.name == toxic)
                .ok_or_else(ApiError::toxic_not_found)?;
            *old = old
                .updated(update)
                .map_err(|err| ApiError::new(400, err.to_string()))?;
            Ok(old.clone())
        })
    }

    /// Removes a toxic.
    pub fn delete_toxic(&self, name: &str, toxic: &str) -> Result<(), ApiError> {
        self.change_toxics(name, |toxics| {
            let before = toxics.len();
            toxics.retain(|t| t.name != toxic);
            match toxics.len() < before {
                true => Ok(()),
                false => Err(ApiError::toxic_not_found()),
            }
        })
    }

    fn change_toxics<T>(
        &self,
        name: &str,
        change: impl FnOnce(&mut Vec<Toxic>) -> Result<T, ApiError>,
    ) -> Result<T, ApiError> {
        let proxies = self.lock();
        let entry = proxies.get(name).ok_or_else(ApiError::proxy_not_found)?;
        let mut toxics = entry.toxics.borrow().as_ref().clone();
        let result = change(&mut toxics)?;
        entry.toxics.send_replace(Arc::new(toxics));
        Ok(result)
    }

    /// Binds a proxy's listener and runs it in its own task.
    async fn start(
        &self,
        config: &ProxyConfig,
        toxics: super::Toxics,
    ) -> Result<Running, ApiError> {
        let (host, port) = host_port(&config.listen, "listen")?;
        let (up_host, up_port) = host_port(&config.upstream, "upstream")?;
        let listener = net::bind_tcp(&host, port)
            .await
            .map_err(|err| ApiError::new(500, err.to_string()))?;
        let bound = listener
            .local_addr()
            .map_err(|err| ApiError::new(500, err.to_string()))?;
        let stop = CancellationToken::new();
        let options = tcp::Options {
            upstream: Endpoint {
                connect_timeout: self.defaults.connect_timeout,
                ..Endpoint::new(up_host, up_port)
            },
            toxics,
            seed: self.defaults.seed,
            server: ServerOptions {
                grace: Duration::ZERO,
                ..self.defaults.server.clone()
            },
            relay: Default::default(),
        };
        let name = config.name.clone();
        let stopped = stop.clone().cancelled_owned();
        tokio::spawn(async move {
            info!("proxy {name} listening on {bound}");
            if let Err(err) = tcp::serve(listener, options, stopped).await {
                warn!("proxy {name}: {err}");
            }
            info!("proxy {name} stopped");
        });
        Ok(Running { bound, stop })
    }
}

/// `HOST:PORT` split, the host checked by the HOST rule.
fn host_port(text: &str, field: &str) -> Result<(String, u16), ApiError> {
    let bad = |why: String| ApiError::new(400, format!("{field}: {why}"));
    let (host, port) = net::split_host_port(text).map_err(bad)?;
    let port = port.ok_or_else(|| bad(format!("{text:?} has no port")))?;
    net::check_host(&host).map_err(|err| bad(err.to_string()))?;
    Ok((host, port))
}

fn view(entry: &Entry) -> ProxyView {
    let mut config = entry.config.clone();
    if let Some(running) = &entry.running {
        config.listen = running.bound.to_string();
    }
    ProxyView {
        config,
        toxics: entry.toxics.borrow().as_ref().clone(),
    }
}
