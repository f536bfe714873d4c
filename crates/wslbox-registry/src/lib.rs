//! OCI distribution-spec client: auth challenges, credentials, manifests, blob streams, retries, resumable parallel downloads.
