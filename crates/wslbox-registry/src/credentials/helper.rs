//! The docker-credential-helpers protocol: `docker-credential-<name> get|store|erase`,
//! with the server URL or a JSON document on stdin.

use std::ffi::OsStr;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::{Credential, CredentialError, keys};

/// A helper program found on the search path.
#[derive(Debug)]
pub(super) struct Helper {
    name: String,
    program: PathBuf,
}

/// What a helper prints when it has nothing for a server.
const NOT_FOUND: &str = "credentials not found";

/// The user name helpers use to mark the secret as an identity token.
const TOKEN_USERNAME: &str = "<token>";

impl Helper {
    pub(super) fn find(name: &str, search_path: &OsStr) -> Option<Helper> {
        let file = format!("docker-credential-{name}{}", std::env::consts::EXE_SUFFIX);
        std::env::split_paths(search_path)
            .map(|dir| dir.join(&file))
            .find(|p| p.is_file())
            .map(|program| Helper {
                name: name.to_owned(),
                program,
            })
    }

    fn run(
        &self,
        action: &'static str,
        registry: &str,
        input: &[u8],
    ) -> Result<(bool, String), CredentialError> {
        let failed = |message: String| CredentialError::HelperFailed {
            helper: self.name.clone(),
            action,
            registry: registry.to_owned(),
            message,
        };
        let mut child = Command::new(&self.program)
            .arg(action)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| failed(format!("could not run {}: {e}", self.program.display())))?;
        let mut stdin = child.stdin.take().expect("stdin is piped");
        // A helper that exits without reading stdin is not our error; its exit status says.
        let _ = stdin.write_all(input);
        drop(stdin);
        let out = child
            .wait_with_output()
            .map_err(|e| failed(e.to_string()))?;
        let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        if out.status.success() {
            return Ok((true, stdout));
        }
        let message = if stdout.is_empty() { stderr } else { stdout };
        if message.contains(NOT_FOUND) {
            return Ok((false, message));
        }
        Err(failed(message))
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct GetReply {
    username: String,
    secret: String,
}

pub(super) fn get(helper: &Helper, registry: &str) -> Result<Option<Credential>, CredentialError> {
    let server = keys::canonical(registry);
    let (found, stdout) = helper.run("get", registry, server.as_bytes())?;
    if !found {
        return Ok(None);
    }
    let reply: GetReply =
        serde_json::from_str(&stdout).map_err(|e| CredentialError::HelperFailed {
            helper: helper.name.clone(),
            action: "get",
            registry: registry.to_owned(),
            message: format!("unexpected reply ({e})"),
        })?;
    if reply.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(if reply.username == TOKEN_USERNAME {
        Credential::IdentityToken {
            token: reply.secret,
        }
    } else {
        Credential::basic(reply.username, reply.secret)
    }))
}

pub(super) fn store(
    helper: &Helper,
    registry: &str,
    credential: &Credential,
) -> Result<(), CredentialError> {
    let (username, secret) = match credential {
        Credential::Basic { username, password } => (username.as_str(), password.as_str()),
        Credential::IdentityToken { token } => (TOKEN_USERNAME, token.as_str()),
    };
    let body = serde_json::json!({ "ServerURL": keys::canonical(registry), "Username": username, "Secret": secret });
    helper.run("store", registry, body.to_string().as_bytes())?;
    Ok(())
}

/// Returns whether the helper had credentials to erase.
pub(super) fn erase(helper: &Helper, registry: &str) -> Result<bool, CredentialError> {
    let (found, _) = helper.run("erase", registry, keys::canonical(registry).as_bytes())?;
    Ok(found)
}
