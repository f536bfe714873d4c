//! Conformance with Docker's `distribution/reference`: the case data of its own test tables
//! (`normalize_test.go`: TestValidateReferenceName, TestValidateRemoteName, TestParseRepositoryInfo,
//! TestParseReferenceWithTagAndDigest, TestParseAnyReference, TestNormalizedSplitHostname;
//! `reference_test.go`: TestReferenceParse), restated as input → expected normalized result.
//!
//! Every input goes through `ParseNormalizedNamed` + `TagNameOnly` semantics, which is what
//! `docker pull` does; TestReferenceParse cases (written for the un-normalized `Parse`) are
//! restated with their normalized outcome.

use wslbox_reference::{Reference, ReferenceError};

const HEX64: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
const ID: &str = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";

/// Expected outcome of parsing one input.
enum Expect {
    /// registry, repository, tag, digest.
    Ok(String, String, Option<String>, Option<String>),
    /// A fragment the error's reason must contain.
    Err(&'static str),
}

fn ok(registry: &str, repository: &str, tag: Option<&str>, digest: Option<&str>) -> Expect {
    Expect::Ok(
        registry.into(),
        repository.into(),
        tag.map(Into::into),
        digest.map(Into::into),
    )
}

/// Docker Hub, `:latest` added.
fn hub(repository: &str) -> Expect {
    ok("docker.io", repository, Some("latest"), None)
}

fn at(registry: &str, repository: &str) -> Expect {
    ok(registry, repository, Some("latest"), None)
}

fn check(cases: Vec<(String, Expect)>) {
    let mut failures = Vec::new();
    for (input, expect) in &cases {
        let got = input.parse::<Reference>();
        match (expect, &got) {
            (Expect::Ok(registry, repository, tag, digest), Ok(r)) => {
                let same = r.registry() == registry
                    && r.repository() == repository
                    && r.tag() == tag.as_deref()
                    && r.digest().map(ToString::to_string) == *digest;
                if !same {
                    failures.push(format!(
                        "`{input}`: got {}|{}|{:?}|{:?}, expected {registry}|{repository}|{tag:?}|{digest:?}",
                        r.registry(),
                        r.repository(),
                        r.tag(),
                        r.digest().map(ToString::to_string)
                    ));
                }
                // The canonical form must parse back to itself.
                let again: Reference = r.to_string().parse().expect("canonical form parses");
                if again != *r {
                    failures.push(format!("`{input}`: canonical `{r}` does not round-trip"));
                }
            }
            (
                Expect::Err(fragment),
                Err(ReferenceError::Invalid {
                    reason,
                    input: echoed,
                }),
            ) => {
                if !reason.contains(fragment) || echoed != input {
                    failures.push(format!("`{input}`: error `{reason}` lacks `{fragment}`"));
                }
            }
            (Expect::Ok(..), Err(e)) => failures.push(format!("`{input}`: unexpected error: {e}")),
            (Expect::Err(fragment), Ok(r)) => failures.push(format!(
                "`{input}`: parsed as {r}, expected error `{fragment}`"
            )),
            (_, Err(e)) => failures.push(format!("`{input}`: unexpected error kind: {e}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

fn s(x: &str) -> String {
    x.to_owned()
}

mod normalize;
mod reference_table;
