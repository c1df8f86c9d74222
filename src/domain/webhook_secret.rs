//! The signing secret of a webhook channel.

use std::fmt;

use rand::RngCore;
use sea_orm::DeriveValueType;

/// Every signing secret starts with this, so a leaked one is easy to
/// recognise (the same habit as API tokens' `dbf_`).
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";

/// The key a channel's webhook calls are signed with (HMAC-SHA256): shown
/// once, when the channel is created. `Debug` never prints it.
#[derive(Clone, PartialEq, Eq, DeriveValueType)]
pub struct WebhookSecret(String);

impl WebhookSecret {
    /// A new secret: `whsec_` and 32 random bytes in lower-case hex.
    pub fn generate() -> Self {
        let mut bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut bytes);
        Self(format!("{WEBHOOK_SECRET_PREFIX}{}", hex::encode(bytes)))
    }

    /// A secret as stored, for tests of what uses it.
    #[cfg(test)]
    pub(crate) fn from_stored(text: &str) -> Self {
        Self(text.to_string())
    }

    /// The secret itself: call only where it is used or shown once, never
    /// to log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_random_and_never_debug_printed() {
        let a = WebhookSecret::generate();
        let b = WebhookSecret::generate();
        assert_ne!(a, b);
        assert!(a.expose().starts_with(WEBHOOK_SECRET_PREFIX));
        assert_eq!(a.expose().len(), WEBHOOK_SECRET_PREFIX.len() + 64);
        assert!(!format!("{a:?}").contains(&a.expose()[6..]));
    }
}
