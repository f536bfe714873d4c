//! SHA-512 crypt (`$6$`, the glibc/libxcrypt default) for `/etc/shadow`. The plain text
//! never leaves this module and is never logged.

use super::CustomizeError;

/// crypt(3)'s salt alphabet: 64 characters, so a random byte masked to 6 bits is uniform.
const SALT_ALPHABET: &[u8; 64] =
    b"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Hashes `password` with a random 16-character salt and the default 5000 rounds, giving
/// `$6$SALT$HASH` as `passwd`/`chpasswd` would store it.
pub(crate) fn hash(password: &str) -> Result<String, CustomizeError> {
    let mut random = [0u8; 16];
    getrandom::fill(&mut random).map_err(|e| CustomizeError::PasswordHash {
        reason: format!("no OS randomness for the salt: {e}"),
    })?;
    let salt: String = random
        .iter()
        .map(|b| SALT_ALPHABET[usize::from(b & 63)] as char)
        .collect();
    hash_with_salt(password, &salt)
}

/// [`hash`] with a given salt (tests compare it against an independent implementation).
pub(crate) fn hash_with_salt(password: &str, salt: &str) -> Result<String, CustomizeError> {
    if password.is_empty() {
        return Err(CustomizeError::EmptyPassword);
    }
    let params = sha_crypt::Sha512Params::new(sha_crypt::ROUNDS_DEFAULT).map_err(|e| {
        CustomizeError::PasswordHash {
            reason: format!("{e:?}"),
        }
    })?;
    let hashed = sha_crypt::sha512_crypt_b64(password.as_bytes(), salt.as_bytes(), &params)
        .map_err(|e| CustomizeError::PasswordHash {
            reason: format!("{e:?}"),
        })?;
    Ok(format!("$6${salt}${hashed}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// openssl's implementation is independent of the crate we use.
    fn openssl_passwd(password: &str, salt: &str) -> String {
        let out = std::process::Command::new("openssl")
            .args(["passwd", "-6", "-salt", salt, password])
            .output()
            .expect("openssl must be installed (scripts/install-test-deps) to check SHA-512 crypt hashes");
        assert!(
            out.status.success(),
            "openssl passwd failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    }

    #[test]
    fn hash_matches_openssl_passwd_6() {
        for (password, salt) in [
            ("secret", "saltsaltsaltsalt"),
            ("pä ss:wörd$\\", "./Ab9"),
            ("x", "abcdefgh"),
        ] {
            assert_eq!(
                hash_with_salt(password, salt).unwrap(),
                openssl_passwd(password, salt),
                "{password:?}"
            );
        }
    }

    #[test]
    fn random_salt_is_16_crypt_characters_and_differs_each_time() {
        let a = hash("secret").unwrap();
        let b = hash("secret").unwrap();
        assert_ne!(a, b);
        let salt = a.split('$').nth(2).unwrap();
        assert_eq!(salt.len(), 16);
        assert!(salt.bytes().all(|c| SALT_ALPHABET.contains(&c)));
        assert_eq!(a, openssl_passwd("secret", salt));
    }

    #[test]
    fn empty_password_is_refused() {
        assert!(matches!(hash(""), Err(CustomizeError::EmptyPassword)));
    }
}
