//! The catalog file format: TOML with one `[[entry]]` table per image. Unknown keys are
//! errors (a typo must not silently drop a fact), and every error names the line.

use serde::Deserialize;
use toml::Spanned;
use wslbox_reference::Reference;

use crate::{ADMIN_GROUPS, CatalogError, Entry};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    entry: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    name: Spanned<String>,
    image: Spanned<String>,
    #[serde(default)]
    description: String,
    family: Spanned<String>,
    #[serde(default)]
    os_ids: Vec<Spanned<String>>,
    package_manager: Spanned<String>,
    admin_group: Spanned<String>,
    systemd: bool,
    #[serde(default)]
    caveats: Vec<String>,
    #[serde(default)]
    docs: String,
}

/// Parses and validates a catalog; `origin` names the file or URL in errors and in
/// [`Entry::origin`].
pub(crate) fn parse(text: &str, origin: &str) -> Result<Vec<Entry>, CatalogError> {
    let invalid = |offset: usize, message: String| CatalogError::Invalid {
        origin: origin.to_owned(),
        line: line_of(text, offset),
        message,
    };
    let raw: RawFile = toml::from_str(text)
        .map_err(|e| invalid(e.span().map_or(0, |s| s.start), e.message().to_owned()))?;
    let mut entries: Vec<(Entry, usize)> = Vec::with_capacity(raw.entry.len());
    for raw in raw.entry {
        let at = raw.name.span().start;
        let entry = validate(raw, origin).map_err(|(offset, message)| invalid(offset, message))?;
        if let Some((_, first)) = entries.iter().find(|(e, _)| e.name == entry.name) {
            return Err(invalid(
                at,
                format!(
                    "entry `{}` is listed twice (first at line {}); keep one",
                    entry.name,
                    line_of(text, *first)
                ),
            ));
        }
        entries.push((entry, at));
    }
    Ok(entries.into_iter().map(|(e, _)| e).collect())
}

/// Checks one entry; an error is the byte offset it is about and the message.
fn validate(raw: RawEntry, origin: &str) -> Result<Entry, (usize, String)> {
    let name = raw.name.get_ref();
    if !is_word(name) || name.len() > 64 {
        return Err((
            raw.name.span().start,
            format!(
                "entry name `{name}` is not valid; use lowercase letters, digits, '.', '_' and '-' (at most 64), e.g. `fedora`"
            ),
        ));
    }
    let image = raw
        .image
        .get_ref()
        .parse::<Reference>()
        .map_err(|e| (raw.image.span().start, format!("`image` of `{name}`: {e}")))?;
    let group = raw.admin_group.get_ref();
    if !ADMIN_GROUPS.contains(&group.as_str()) {
        return Err((
            raw.admin_group.span().start,
            format!(
                "admin_group `{group}` of `{name}` is not one wslbox knows; use {}",
                ADMIN_GROUPS
                    .iter()
                    .map(|g| format!("`{g}`"))
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
        ));
    }
    for (key, value) in [
        ("family", &raw.family),
        ("package_manager", &raw.package_manager),
    ] {
        if value.get_ref().trim().is_empty() {
            return Err((
                value.span().start,
                format!("`{key}` of `{name}` is empty; say what it is, e.g. `debian` or `apt`"),
            ));
        }
    }
    for id in &raw.os_ids {
        if !is_word(id.get_ref()) {
            return Err((
                id.span().start,
                format!(
                    "os_ids value `{}` of `{name}` is not an os-release ID (lowercase letters, digits, '.', '_' and '-'), e.g. `rocky`",
                    id.get_ref()
                ),
            ));
        }
    }
    Ok(Entry {
        name: raw.name.into_inner(),
        image: image.to_string(),
        description: raw.description,
        family: raw.family.into_inner(),
        os_ids: raw.os_ids.into_iter().map(Spanned::into_inner).collect(),
        package_manager: raw.package_manager.into_inner(),
        admin_group: raw.admin_group.into_inner(),
        systemd: raw.systemd,
        caveats: raw.caveats,
        docs: raw.docs,
        origin: origin.to_owned(),
    })
}

/// os-release(5)'s rule for `ID`: `0-9`, `a-z`, `.`, `_`, `-`; we also want a first
/// letter or digit.
fn is_word(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'))
}

/// The 1-based line of byte `offset`.
fn line_of(text: &str, offset: usize) -> usize {
    let end = offset.min(text.len());
    text.as_bytes()[..end]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}
