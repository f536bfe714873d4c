//! The registry client: manifests, platform selection and the config blob (the pull protocol
//! of the OCI distribution spec), and the entry point for downloading an image's blobs.

use std::sync::Arc;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, Response, StatusCode};
use wslbox_cache::BlobStore;
use wslbox_image::ResolvedImage;
use wslbox_image::manifest::{self, BlobRef, ImageManifest, Parsed};
use wslbox_reference::Hasher;
use wslbox_reference::{Digest, Platform, Reference};

use crate::auth::RegistryHost;
use crate::download::{self, Blob};
use crate::error::status_error;
use crate::session::{Endpoint, Session};
use crate::transport::{Peer, Request, connection_error};
use crate::{ClientOptions, NoReporter, RegistryError, Reporter};

/// Manifests larger than this are refused (distribution's own limit is 4 MiB).
const MANIFEST_LIMIT: u64 = 4 << 20;
/// Legacy type, accepted only so the image crate can name it in its "not supported" error.
const SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// A registry client. Cheap to clone; clones share connections, tokens and credentials.
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Session>,
}

/// A manifest or index exactly as the registry served it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawManifest {
    /// Digest of `bytes` (what `@sha256:` references and index entries point at).
    pub digest: Digest,
    /// The `Content-Type` the registry sent, if any.
    pub media_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// The result of [`Client::resolve`]: the image for one platform, plus the raw documents.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The reference that was resolved, as requested.
    pub reference: Reference,
    pub image: ResolvedImage,
    /// The chosen platform's manifest.
    pub manifest: RawManifest,
    /// The index / manifest list it was chosen from, if there was one.
    pub index: Option<RawManifest>,
    /// Size of the config blob (`image.config_digest`), from the manifest.
    pub config_size: u64,
    /// The mirror URL that served the manifest; `None` when the registry itself did.
    pub mirror: Option<String>,
    /// One line per mirror that failed before one served (name, reason, what came next).
    pub warnings: Vec<String>,
}

impl Client {
    pub fn new(options: ClientOptions) -> Result<Self, RegistryError> {
        Ok(Client {
            inner: Arc::new(Session::new(options)?),
        })
    }

    pub fn options(&self) -> &ClientOptions {
        &self.inner.options
    }

    /// Resolves `reference` to one platform's image: fetches the manifest (verifying it
    /// against an `@sha256:` digest), selects `platform` from an index, and fetches and
    /// parses the config. Manifests and the config are stored in `store` as blobs.
    ///
    /// The registry's mirrors are tried first, in order; a mirror that fails in any way
    /// (down, 404, 5xx, refused, wrong digest) is skipped with a warning in
    /// [`Resolved::warnings`].
    pub async fn resolve(
        &self,
        reference: &Reference,
        platform: &Platform,
        store: &BlobStore,
    ) -> Result<Resolved, RegistryError> {
        let endpoints = self.inner.endpoints(reference).await?;
        let (mut warnings, mut failures) = (Vec::new(), Vec::new());
        for (i, endpoint) in endpoints.iter().enumerate() {
            match self.resolve_at(endpoint, reference, platform, store).await {
                Ok(mut resolved) => {
                    resolved.mirror = endpoint.mirror.clone();
                    resolved.warnings = warnings;
                    return Ok(resolved);
                }
                Err(e) if endpoint.mirror.is_some() => {
                    let next = endpoints[i + 1].label();
                    warnings.push(format!("{}: {e}; trying {next}", endpoint.label()));
                    failures.push((endpoint.label(), e.to_string()));
                }
                Err(e) => {
                    let what = format!("manifest {reference}");
                    return Err(RegistryError::all_failed(
                        &what,
                        reference.registry(),
                        failures,
                        e,
                    ));
                }
            }
        }
        unreachable!("the origin is always the last endpoint")
    }

    /// [`resolve`](Self::resolve) against one endpoint.
    async fn resolve_at(
        &self,
        endpoint: &Endpoint,
        reference: &Reference,
        platform: &Platform,
        store: &BlobStore,
    ) -> Result<Resolved, RegistryError> {
        let image = reference.to_string();
        let reg = &endpoint.reg;
        let repo = endpoint.reference.repository();
        let selector = reference.manifest_selector();
        let top = self
            .fetch_manifest(reg, repo, &selector, reference.digest(), &image)
            .await?;
        store.put(&top.digest, &top.bytes)?;

        let (manifest_raw, index_raw, parsed, index_platforms, entry_platform) =
            match manifest::parse(top.media_type.as_deref(), &top.bytes, &image)? {
                Parsed::Manifest(m) => (top, None, m, None, None),
                Parsed::Index(entries) => {
                    let entry = manifest::select(&entries, platform, &image)?;
                    let raw = self
                        .fetch_manifest_by_descriptor(reg, repo, &entry.target, &image)
                        .await?;
                    store.put(&raw.digest, &raw.bytes)?;
                    let media_type = raw
                        .media_type
                        .clone()
                        .or_else(|| Some(entry.target.media_type.clone()));
                    let m = match manifest::parse(media_type.as_deref(), &raw.bytes, &image)? {
                        Parsed::Manifest(m) => m,
                        Parsed::Index(_) => {
                            return Err(RegistryError::InvalidResponse {
                                url: format!("{image}@{}", entry.target.digest),
                                reason: "an index entry points at another index; nested indexes are not supported".into(),
                            });
                        }
                    };
                    let platforms = manifest::platforms(&entries);
                    (raw, Some(top), m, Some(platforms), entry.platform.clone())
                }
            };
        let ImageManifest {
            config: config_ref,
            layers,
        } = parsed;
        let config_bytes = self
            .config_blob(reg, &endpoint.reference, &config_ref, store)
            .await?;
        let (config, config_platform) = manifest::parse_config(&config_bytes, &image)?;
        manifest::check_layer_count(&config_bytes, layers.len(), &image)?;
        let chosen = entry_platform.unwrap_or(config_platform);
        let resolved = ResolvedImage {
            reference: image,
            manifest_digest: manifest_raw.digest.clone(),
            index_digest: index_raw.as_ref().map(|i| i.digest.clone()),
            platforms: index_platforms.unwrap_or_else(|| vec![chosen.clone()]),
            platform: chosen,
            config_digest: config_ref.digest.clone(),
            config,
            layers,
        };
        Ok(Resolved {
            reference: reference.clone(),
            image: resolved,
            manifest: manifest_raw,
            index: index_raw,
            config_size: config_ref.size,
            mirror: None,
            warnings: Vec::new(),
        })
    }

    /// Downloads the config and every layer of `resolved` into `store`, `jobs` at a time,
    /// skipping blobs that are already cached. Each blob is verified (size and digest) before
    /// it is committed. Each blob is tried on the endpoint that served the manifest
    /// ([`Resolved::mirror`]), then on the later mirrors and the registry; a mirror that fails
    /// or serves wrong bytes is reported ([`Reporter::on_endpoint_failed`]) and skipped.
    pub async fn fetch_blobs(
        &self,
        resolved: &Resolved,
        store: &BlobStore,
        reporter: &dyn Reporter,
    ) -> Result<(), RegistryError> {
        let blobs = download::image_blobs(&resolved.image, resolved.config_size);
        let mut endpoints = self.inner.endpoints(&resolved.reference).await?;
        // Mirrors that could not serve the manifest are not asked for blobs.
        let served = endpoints
            .iter()
            .position(|e| e.mirror == resolved.mirror)
            .unwrap_or(endpoints.len() - 1);
        endpoints.drain(..served);
        self.inner
            .fetch_all(&endpoints, &resolved.reference, &blobs, store, reporter)
            .await
    }

    async fn config_blob(
        &self,
        reg: &RegistryHost,
        reference: &Reference,
        config: &BlobRef,
        store: &BlobStore,
    ) -> Result<Vec<u8>, RegistryError> {
        if let Some(bytes) = store.read(&config.digest)? {
            return Ok(bytes);
        }
        let blob = Blob {
            digest: config.digest.clone(),
            size: config.size,
            urls: Vec::new(),
        };
        self.inner
            .fetch_blob(reg, reference, &blob, store, &NoReporter)
            .await?;
        store
            .read(&config.digest)?
            .ok_or_else(|| RegistryError::InvalidResponse {
                url: format!("{reference} config {}", config.digest),
                reason: "the config blob vanished from the cache right after it was stored".into(),
            })
    }

    /// A manifest request for `selector` (a tag or digest), accepting every type we read.
    pub(crate) fn manifest_request(
        reg: &RegistryHost,
        repo: &str,
        selector: &str,
        method: Method,
    ) -> Result<Request, RegistryError> {
        let url = reg
            .base
            .join(&format!("v2/{repo}/manifests/{selector}"))
            .map_err(|e| RegistryError::InvalidRegistry {
                registry: reg.name.clone(),
                reason: e.to_string(),
            })?;
        let mut request = Request::get(url);
        request.method = method;
        let accept = manifest::ACCEPT
            .iter()
            .copied()
            .chain([SCHEMA1])
            .collect::<Vec<_>>()
            .join(", ");
        request.headers.insert(
            ACCEPT,
            HeaderValue::from_str(&accept).expect("static media types"),
        );
        Ok(request)
    }

    pub(crate) async fn fetch_manifest(
        &self,
        reg: &RegistryHost,
        repo: &str,
        selector: &str,
        expected: Option<&Digest>,
        image: &str,
    ) -> Result<RawManifest, RegistryError> {
        let mut request = Self::manifest_request(reg, repo, selector, Method::GET)?;
        request.retry = !reg.mirror;
        let url = request.url.clone();
        let response = self
            .inner
            .registry_request(reg, repo, &request, &format!("manifest {image}"))
            .await?;
        if response.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::ManifestNotFound {
                registry: reg.name.clone(),
                repository: repo.to_owned(),
                selector: selector.to_owned(),
            });
        }
        if !response.status().is_success() {
            return Err(status_error(&url, response).await);
        }
        let media_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|v| v.split(';').next().unwrap_or(v).trim().to_owned())
            .filter(|v| !v.is_empty());
        // The digest the registry says it sent; checked like the one asked for, so that a tag
        // resolved through a proxy or mirror cannot come back as other bytes unnoticed.
        let header: Option<Digest> = (response.headers().get("docker-content-digest"))
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse().ok());
        let bytes = read_limited(response, &crate::redact_url(&url), image).await?;
        let algorithm = expected.map_or(wslbox_reference::Algorithm::Sha256, Digest::algorithm);
        let digest = Hasher::digest(algorithm, &bytes);
        // (A signed schema 1 manifest's digest leaves out its signatures; those are refused
        // later, by media type, with a message of their own.)
        if let Some(header) = header
            && media_type.as_deref() != Some(SCHEMA1)
            && Hasher::digest(header.algorithm(), &bytes) != header
        {
            return Err(RegistryError::ManifestHeaderMismatch {
                registry: reg.name.clone(),
                reference: image.to_owned(),
                actual: Hasher::digest(header.algorithm(), &bytes),
                header,
            });
        }
        if let Some(expected) = expected
            && *expected != digest
        {
            return Err(RegistryError::ManifestDigestMismatch {
                reference: image.to_owned(),
                expected: expected.clone(),
                actual: digest,
            });
        }
        Ok(RawManifest {
            digest,
            media_type,
            bytes,
        })
    }

    async fn fetch_manifest_by_descriptor(
        &self,
        reg: &RegistryHost,
        repo: &str,
        target: &BlobRef,
        image: &str,
    ) -> Result<RawManifest, RegistryError> {
        if target.size > MANIFEST_LIMIT {
            return Err(RegistryError::ManifestTooLarge {
                reference: image.to_owned(),
                source_name: target.digest.to_string(),
                size: target.size,
                limit: MANIFEST_LIMIT,
            });
        }
        let raw = self
            .fetch_manifest(
                reg,
                repo,
                &target.digest.to_string(),
                Some(&target.digest),
                image,
            )
            .await?;
        if raw.bytes.len() as u64 != target.size {
            return Err(RegistryError::InvalidResponse {
                url: format!("{image}@{}", target.digest),
                reason: format!(
                    "the manifest is {} bytes but the index says {}",
                    raw.bytes.len(),
                    target.size
                ),
            });
        }
        Ok(raw)
    }
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

async fn read_limited(
    mut response: Response,
    url: &str,
    image: &str,
) -> Result<Vec<u8>, RegistryError> {
    let too_large = |size: u64| RegistryError::ManifestTooLarge {
        reference: image.to_owned(),
        source_name: url.to_owned(),
        size,
        limit: MANIFEST_LIMIT,
    };
    if let Some(len) = response.content_length().filter(|&l| l > MANIFEST_LIMIT) {
        return Err(too_large(len));
    }
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                bytes.extend_from_slice(&chunk);
                if bytes.len() as u64 > MANIFEST_LIMIT {
                    return Err(too_large(bytes.len() as u64));
                }
            }
            Ok(None) => return Ok(bytes),
            Err(e) => return Err(connection_error(response.url(), &e, Peer::Registry)),
        }
    }
}
