//! Local image sources with skopeo's transport prefixes: `oci:DIR[:TAG]`, `oci-archive:FILE`,
//! `docker-archive:FILE`. Filled in by the image work.
