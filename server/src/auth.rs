//! API keys: who may project, and who may switch aliases and reload.
//!
//! The key file has one key a line: `KEY` or `read KEY` may call the read and projection
//! routes, `admin KEY` may call every route. Blank lines and `#` comments are skipped. A
//! request carries its key as `Authorization: Bearer KEY` or `X-API-Key: KEY`. Without a
//! key file every route is open (meant for loopback). The file is read again on reload, so
//! keys rotate without a restart.

use std::path::{Path, PathBuf};

use axum::http::HeaderMap;

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Read,
    Admin,
}

/// The configured keys; empty means auth is off.
///
/// A key file that fails to load on a reload does not leave the old keys working: a key
/// revoked by the new file must not stay valid because of a typo elsewhere in it. The
/// server then fails closed ([`ApiKeys::failed`]): every keyed route answers 503 until the
/// file loads again, `/readyz` is not ready, and the metric `shimkit_key_file_loaded` is 0.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: Vec<(String, Role)>,
    source: Option<PathBuf>,
    /// Why the key file could not be loaded, when it could not.
    failure: Option<String>,
}

/// Why a request may not act. Free of HTTP: the API maps each to a status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error(
        "the API key file failed to load at the last reload: keyed routes are refused until it loads (the server log says why)"
    )]
    KeyFileFailed,
    #[error("an API key is required: send `Authorization: Bearer KEY` or `X-API-Key: KEY`")]
    Missing,
    #[error("the API key is not valid")]
    Invalid,
    #[error("this route needs an admin key")]
    NotAdmin,
}

/// A key file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("API key file {}: {message}", path.display())]
pub struct KeyFileError {
    pub path: PathBuf,
    pub message: String,
}

impl ApiKeys {
    /// No keys: every route open.
    pub fn open() -> Self {
        ApiKeys::default()
    }

    pub fn from_file(path: &Path) -> Result<Self, KeyFileError> {
        let err = |message: String| KeyFileError {
            path: path.to_path_buf(),
            message,
        };
        let text = shimkit_data::read_regular_text(path).map_err(|e| err(e.to_string()))?;
        let mut keys = ApiKeys::parse(&text).map_err(err)?;
        keys.source = Some(path.to_path_buf());
        Ok(keys)
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (role, key) = match fields.as_slice() {
                [key] => (Role::Read, *key),
                ["read", key] => (Role::Read, *key),
                ["admin", key] => (Role::Admin, *key),
                _ => {
                    return Err(format!(
                        "line {}: expected `KEY`, `read KEY` or `admin KEY`",
                        i + 1
                    ));
                }
            };
            if key.len() < 16 {
                return Err(format!(
                    "line {}: a key must have at least 16 characters",
                    i + 1
                ));
            }
            keys.push((key.to_owned(), role));
        }
        if keys.is_empty() {
            return Err("no keys (an empty key file would lock every route)".into());
        }
        Ok(ApiKeys {
            keys,
            source: None,
            failure: None,
        })
    }

    /// The state after the key file at `path` failed to load: no key is accepted.
    pub fn failed(path: &Path, error: &KeyFileError) -> Self {
        ApiKeys {
            keys: Vec::new(),
            source: Some(path.to_path_buf()),
            failure: Some(error.to_string()),
        }
    }

    /// Whether requests must carry a key (keys loaded, or a key file that failed).
    pub fn enabled(&self) -> bool {
        !self.keys.is_empty() || self.failure.is_some()
    }

    /// Why the key file failed to load, if it did.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Whether `headers` carry a valid key (of any role).
    pub fn is_keyed(&self, headers: &HeaderMap) -> bool {
        self.enabled() && self.authorize(headers, Role::Read).is_ok()
    }

    /// The file the keys came from, to read again on reload.
    pub fn source(&self) -> Option<&Path> {
        self.source.as_deref()
    }

    /// Checks that the request may act with `needed`.
    pub fn authorize(&self, headers: &HeaderMap, needed: Role) -> Result<(), AuthError> {
        if self.failure.is_some() {
            return Err(AuthError::KeyFileFailed);
        }
        if !self.enabled() {
            return Ok(());
        }
        let presented = presented_key(headers).ok_or(AuthError::Missing)?;
        // Every configured key is compared in full, so timing does not reveal which matched.
        let role = self
            .keys
            .iter()
            .filter(|(k, _)| constant_time_eq(k.as_bytes(), presented.as_bytes()))
            .map(|(_, r)| *r)
            .max()
            .ok_or(AuthError::Invalid)?;
        if role < needed {
            return Err(AuthError::NotAdmin);
        }
        Ok(())
    }
}

fn presented_key(headers: &HeaderMap) -> Option<&str> {
    if let Some(v) = headers.get("x-api-key").and_then(|v| v.to_str().ok()) {
        return Some(v.trim());
    }
    let auth = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, key) = auth.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn roles_and_headers() {
        let keys = ApiKeys::parse(
            "# ops\nreader-key-0123456789\nadmin admin-key-0123456789\n\nread other-key-0123456789\n",
        )
        .unwrap();
        let bearer = |k: &str| headers(&[("authorization", &format!("Bearer {k}"))]);
        assert!(
            keys.authorize(&bearer("reader-key-0123456789"), Role::Read)
                .is_ok()
        );
        assert!(matches!(
            keys.authorize(&bearer("reader-key-0123456789"), Role::Admin),
            Err(AuthError::NotAdmin)
        ));
        assert!(
            keys.authorize(&bearer("admin-key-0123456789"), Role::Admin)
                .is_ok()
        );
        let x = headers(&[("x-api-key", "other-key-0123456789")]);
        assert!(keys.authorize(&x, Role::Read).is_ok());
        assert!(matches!(
            keys.authorize(&bearer("reader-key-012345678"), Role::Read),
            Err(AuthError::Invalid | AuthError::Missing)
        ));
        assert!(matches!(
            keys.authorize(&HeaderMap::new(), Role::Read),
            Err(AuthError::Invalid | AuthError::Missing)
        ));
        assert!(
            ApiKeys::open()
                .authorize(&HeaderMap::new(), Role::Admin)
                .is_ok()
        );
    }

    #[test]
    fn a_failed_key_file_accepts_no_key() {
        let good = ApiKeys::parse("admin admin-key-0123456789\n").unwrap();
        let bearer = headers(&[("authorization", "Bearer admin-key-0123456789")]);
        assert!(good.authorize(&bearer, Role::Admin).is_ok());
        let error = KeyFileError {
            path: "keys.txt".into(),
            message: "line 2: expected `KEY`, `read KEY` or `admin KEY`".into(),
        };
        let failed = ApiKeys::failed(Path::new("keys.txt"), &error);
        assert!(failed.enabled() && failed.failure().unwrap().contains("line 2"));
        for role in [Role::Read, Role::Admin] {
            assert!(matches!(
                failed.authorize(&bearer, role),
                Err(AuthError::KeyFileFailed)
            ));
        }
        assert!(!failed.is_keyed(&bearer));
    }

    #[test]
    fn bad_key_files_name_the_line() {
        assert!(ApiKeys::parse("short").unwrap_err().contains("line 1"));
        assert!(ApiKeys::parse("# only\n").unwrap_err().contains("no keys"));
        let e = ApiKeys::parse("ok-key-0123456789abc\nroot a-key-0123456789abc\n").unwrap_err();
        assert!(e.contains("line 2"), "{e}");
    }
}
