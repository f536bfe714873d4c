//! The labels and config of a pushed image: the source image's, then wslbox's own (OCI
//! annotations, `io.wslbox.*`, and the ones Wsl-Manager's catalogs read), then `--label`.

use std::collections::BTreeMap;

use wslbox_image::ImageConfigSummary;

use crate::push::{BuildFacts, LABEL_PREFIX, PushRequest, PushedFacts};

/// wslbox's labels over the source image's, then `--label` over both.
pub(crate) fn labels(
    facts: &PushedFacts,
    source: &ImageConfigSummary,
    request: &PushRequest,
    created: &str,
) -> BTreeMap<String, String> {
    let mut labels = source.labels.clone();
    let mut put = |k: &str, v: &str| {
        labels.insert(k.to_owned(), v.to_owned());
    };
    let build = &facts.build;
    put("org.opencontainers.image.created", created);
    put("org.opencontainers.image.source", &build.reference);
    put(&format!("{LABEL_PREFIX}version"), &request.tool_version);
    put(&format!("{LABEL_PREFIX}source"), &build.reference);
    if let Some(d) = &build.digest {
        put(&format!("{LABEL_PREFIX}source.digest"), d);
    }
    if let Some(os) = &build.os {
        put("org.opencontainers.image.title", &os.pretty_name);
        put(
            "org.opencontainers.image.description",
            &format!(
                "{} as a WSL distribution, made by wslbox from {}",
                os.pretty_name, build.reference
            ),
        );
        put("org.opencontainers.image.flavor", &os.id);
        put(&format!("{LABEL_PREFIX}os.id"), &os.id);
        put(&format!("{LABEL_PREFIX}os.name"), &os.name);
        put(&format!("{LABEL_PREFIX}os.pretty-name"), &os.pretty_name);
        if let Some(v) = &os.version_id {
            put("org.opencontainers.image.version", v);
            put(&format!("{LABEL_PREFIX}os.version-id"), v);
        }
    }
    let (user, uid) = match &build.default_user {
        Some(u) => (u.name.clone(), u.uid.unwrap_or(0)),
        None => ("root".to_owned(), 0),
    };
    put(&format!("{LABEL_PREFIX}default-user"), &user);
    put(&format!("{LABEL_PREFIX}default-uid"), &uid.to_string());
    put("com.kaweezle.wsl.rootfs.username", &user);
    put("com.kaweezle.wsl.rootfs.uid", &uid.to_string());
    // Wsl-Manager's "configured": made ready to log in as a user of its own.
    let configured = !request.raw && build.default_user.is_some();
    put(
        "com.kaweezle.wsl.rootfs.configured",
        &configured.to_string(),
    );
    labels.extend(request.labels.clone());
    labels
}

/// The pushed config: the source's Env, WorkingDir, Entrypoint and Cmd; User is the default
/// user when there is one (as Wsl-Manager's images set it).
pub(crate) fn image_config(
    source: &ImageConfigSummary,
    build: &BuildFacts,
    labels: BTreeMap<String, String>,
) -> ImageConfigSummary {
    ImageConfigSummary {
        user: build
            .default_user
            .as_ref()
            .map(|u| u.name.clone())
            .or_else(|| source.user.clone()),
        labels,
        ..source.clone()
    }
}
