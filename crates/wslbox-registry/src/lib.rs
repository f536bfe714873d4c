//! OCI distribution-spec client: auth challenges, credentials, manifests, blob streams,
//! retries, resumable parallel downloads.
//!
//! The main type is [`Client`], built from [`ClientOptions`]:
//!
//! - [`Client::resolve`] turns a [`Reference`](wslbox_reference::Reference) and a
//!   [`Platform`](wslbox_reference::Platform) into a [`Resolved`] image: the
//!   [`ResolvedImage`](wslbox_image::ResolvedImage) model plus the raw manifest (and index)
//!   bytes. Manifests and the config are stored in the [`BlobStore`](wslbox_cache::BlobStore).
//! - [`Client::fetch_blobs`] downloads the config and layers into the store in parallel,
//!   verifying each blob and resuming interrupted downloads with `Range`. `jobs` bounds the
//!   connections in total: a big blob is fetched as bounded `Range` chunks over several of
//!   them ([`ChunkPolicy`]), handed to the cache in order so it is hashed while streaming.
//!   Progress goes to a [`Reporter`].
//! - [`CachedBlobs`] then opens the cached layers for the flattener (it implements
//!   [`BlobOpener`](wslbox_image::BlobOpener)).
//! - Pushing: [`Client::push_target`], then [`Client::blob_exists`] / [`Client::mount_blob`]
//!   to skip a blob, [`Client::upload_blob`] (one `PUT`) or [`Client::blob_writer`] (a
//!   blocking writer that uploads in resumable `PATCH` chunks as bytes arrive), and
//!   [`Client::put_manifest`] last.
//! - Pulls try the registry's [`Mirror`]s first ([`ClientOptions::mirrors`]), then the
//!   registry; [`Resolved::mirror`] says which one served the manifest.
//! - [`Client::login`] checks credentials against a registry and stores them;
//!   [`Client::logout`] removes them. Credentials are read like Docker and podman do
//!   ([`CredentialStore`]).
//!
//! The transport trusts the OS certificate store (`SSL_CERT_FILE`/`SSL_CERT_DIR` override it),
//! uses [`ProxyConfig`] proxies, talks plain HTTP only to loopback and `insecure_registries`,
//! retries connection errors, 429 and 5xx within a [`RetryPolicy`], and follows redirects
//! itself so an `Authorization` header is never sent to another host (a CDN).
//!
//! Everything here is async (tokio). The binary owns the runtime:
//!
//! ```no_run
//! # async fn pull() -> Result<(), Box<dyn std::error::Error>> {
//! use wslbox_registry::{Client, ClientOptions, NoReporter};
//! let store = wslbox_cache::BlobStore::open("/tmp/wslbox-cache")?;
//! let client = Client::new(ClientOptions::default())?;
//! let reference = "alpine:3.20".parse()?;
//! let platform = wslbox_reference::Platform::host_default();
//! let resolved = client.resolve(&reference, &platform, &store).await?;
//! client.fetch_blobs(&resolved, &store, &NoReporter).await?;
//! println!("{} {}", resolved.image.reference, resolved.image.manifest_digest);
//! # Ok(()) }
//! ```

mod auth;
mod blob_writer;
pub mod challenge;
mod check;
mod chunked;
mod client;
pub mod credentials;
mod download;
mod error;
mod login;
mod mirrors;
mod opener;
mod options;
mod redact;
mod registries_conf;
mod reporter;
mod session;
mod transport;
mod upload;
mod url_reader;

pub use auth::Token;
pub use blob_writer::{BlobWriter, UploadedBlob};
pub use client::{Client, RawManifest, Resolved};
pub use credentials::{Credential, CredentialError, CredentialLocation, CredentialStore};
pub use error::RegistryError;
pub use login::registry_name;
pub use mirrors::{Mirror, MirrorError, PullFrom};
pub use opener::CachedBlobs;
pub use options::{ChunkPolicy, ClientOptions, ProxyConfig, RetryPolicy};
pub use redact::{redact_url, redact_url_text};
pub use registries_conf::{Blocked, RegistriesConf, RegistriesConfError};
pub use reporter::{NoReporter, Reporter};
pub use transport::is_insecure_registry;
pub use upload::PushTarget;
pub use url_reader::UrlReader;
