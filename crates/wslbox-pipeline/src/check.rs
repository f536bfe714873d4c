//! `images --check`: asks each registry, with one `HEAD` per image, whether the tag now
//! points at other content. Nothing else is downloaded.

use futures_util::StreamExt;
use wslbox_reference::Reference;
use wslbox_registry::RegistryError;
use wslbox_source::OpenOptions;
use wslbox_store::Record;

use crate::PipelineError;

/// One image's answer; `images --json --check` prints it (keys documented in the README).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Check {
    /// `current`, `outdated` or `unknown`.
    pub status: CheckStatus,
    /// What the tag points at now, when the registry said.
    pub remote_digest: Option<String>,
    /// Why the status is `unknown`: `offline`, `unauthorized`, `not-found`, `not-a-tag`
    /// (a file, an engine image or a digest-pinned reference), or `error`.
    pub reason: Option<&'static str>,
    /// The registry's or connection's own words, for `unknown`.
    pub message: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CheckStatus {
    Current,
    Outdated,
    Unknown,
}

impl Check {
    fn unknown(reason: &'static str, message: impl Into<String>) -> Self {
        Check {
            status: CheckStatus::Unknown,
            remote_digest: None,
            reason: Some(reason),
            message: Some(message.into()),
        }
    }
}

/// Checks every record, a few registries' answers at a time; the result is in `records`'
/// order.
pub fn check(records: &[&Record], open: &OpenOptions) -> Result<Vec<Check>, PipelineError> {
    // A status query: one retry, not the download budget, so an offline registry answers
    // `unknown` in seconds.
    let mut options = wslbox_source::client_options(open);
    options.retry.max_attempts = 2;
    let client = wslbox_registry::Client::new(options).map_err(wslbox_source::SourceError::from)?;
    let rt = wslbox_source::runtime()?;
    let checks = records.iter().map(|&record| {
        let client = client.clone();
        async move { check_one(&client, record).await }
    });
    Ok(rt.block_on(
        futures_util::stream::iter(checks)
            .buffered(open.jobs.max(1))
            .collect(),
    ))
}

async fn check_one(client: &wslbox_registry::Client, record: &Record) -> Check {
    let reference = match (record.kind.as_str(), record.reference.parse::<Reference>()) {
        ("registry", Ok(r)) if r.digest().is_none() => r,
        ("registry", Ok(_)) => {
            return Check::unknown("not-a-tag", "pinned by digest; it cannot move");
        }
        _ => {
            return Check::unknown(
                "not-a-tag",
                format!("a {} source has no registry tag to check", record.kind),
            );
        }
    };
    let Some(ours) = record.top_digest() else {
        return Check::unknown("error", "the record has no digest to compare");
    };
    match client.current_digest(&reference).await {
        Ok(remote) => Check {
            status: if remote == *ours {
                CheckStatus::Current
            } else {
                CheckStatus::Outdated
            },
            remote_digest: Some(remote.to_string()),
            reason: None,
            message: None,
        },
        Err(e) => {
            let reason = match &e {
                RegistryError::Connection { .. }
                | RegistryError::TokenServiceUnreachable { .. } => "offline",
                RegistryError::Unauthorized { .. } | RegistryError::Denied { .. } => "unauthorized",
                RegistryError::ManifestNotFound { .. } => "not-found",
                _ => "error",
            };
            Check::unknown(reason, e.to_string())
        }
    }
}
