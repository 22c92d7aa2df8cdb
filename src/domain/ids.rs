//! Typed ids: a `CampaignId` is not an `EnrollmentId`, and the compiler says so. Every id is a
//! UUID (v7, time-ordered) kept in its canonical hyphenated text.

macro_rules! ids {
    ($( $(#[$meta:meta])* $name:ident ),+ $(,)?) => {$(
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// A new id, ordered by the time it was made.
            #[allow(clippy::new_without_default)]
            pub fn new() -> Self {
                Self(uuid::Uuid::now_v7().to_string())
            }

            /// An id as a client spells it (any UUID form); `None` when it is not a UUID,
            /// which no stored id can be.
            pub fn parse(raw: &str) -> Option<Self> {
                uuid::Uuid::parse_str(raw).ok().map(|u| Self(u.hyphenated().to_string()))
            }

            /// An id as stored (always written canonical by [`Self::new`] or [`Self::parse`]).
            pub fn stored(text: String) -> Self {
                Self(text)
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }
    )+};
}

ids! {
    BrandId,
    /// An API key's id (not the key).
    KeyId,
    InfluencerId,
    CampaignId,
    /// An influencer in a campaign.
    EnrollmentId,
    LinkId,
    /// A discount code's id (not the code's text).
    CodeId,
    /// A click, the `itk_click` a redirect appends.
    ClickId,
    /// An order as stored (not the storefront's `order_id`).
    OrderId,
    RefundId,
    EventId,
    /// A signed webhook delivery that was refused.
    RejectionId,
    PostId,
    PayoutId,
    /// An entry of a campaign's prune log.
    PruneLogId,
    /// A job of the outbox.
    JobId,
    CostId,
    /// An endpoint that receives the brand's webhooks.
    WebhookId,
    /// One event sent (or to be sent) to one endpoint.
    DeliveryId,
    /// An event as receivers see it: the same across deliveries and redeliveries.
    HookEventId,
    /// A rule that takes clicks or orders out of a campaign's figures.
    ExclusionId,
}

impl ClickId {
    /// The smallest id of a millisecond: clicks made before `micros` sort below it.
    pub fn floor(micros: i64) -> Self {
        let ms = (micros.max(0) / 1_000) as u64 & 0xffff_ffff_ffff;
        let hex = format!("{ms:012x}");
        Self(format!(
            "{}-{}-7000-8000-000000000000",
            &hex[..8],
            &hex[8..]
        ))
    }

    /// A click id made now, from a user-space random generator (no system call per click).
    pub fn now() -> Self {
        Self(uuid::Uuid::new_v7(uuid::Timestamp::now(uuid::NoContext)).to_string())
    }

    /// The time of the id's millisecond, in microseconds (0 for a text that is no id, such as
    /// the empty fence of a database that never raised it).
    pub fn micros(&self) -> i64 {
        let hex: String = self.0.chars().filter(|c| *c != '-').take(12).collect();
        i64::from_str_radix(&hex, 16).map_or(0, |ms| ms * 1_000)
    }

    /// A click id of the millisecond of `micros` (the click writer's, never below the fence).
    pub fn at(micros: i64) -> Self {
        let micros = micros.max(0) as u64;
        let ts = uuid::Timestamp::from_unix(
            uuid::NoContext,
            micros / 1_000_000,
            ((micros % 1_000_000) * 1_000) as u32,
        );
        Self(uuid::Uuid::new_v7(ts).to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_made_at_a_time_sort_within_its_millisecond() {
        let micros = 1_780_000_000_123_456;
        for _ in 0..100 {
            let id = ClickId::at(micros);
            assert!(ClickId::floor(micros) <= id);
            assert!(id < ClickId::floor(micros + 1_000));
            assert_eq!(id.micros(), micros / 1_000 * 1_000);
        }
        assert_eq!(ClickId::stored(String::new()).micros(), 0);
    }

    #[test]
    fn ids_parse_any_uuid_spelling_to_one_text() {
        let id = CampaignId::new();
        let upper = id.as_str().to_uppercase().replace('-', "");
        assert_eq!(CampaignId::parse(&upper), Some(id.clone()));
        assert_eq!(CampaignId::parse(&format!("urn:uuid:{id}")), Some(id));
        assert_eq!(CampaignId::parse("not-a-uuid"), None);
    }

    #[test]
    fn floors_sort_like_uuid_v7() {
        let micros = 1_763_800_000_123_456;
        let floor = ClickId::floor(micros);
        let id = uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            1_763_800_000,
            123_456_000,
        ))
        .to_string();
        assert!(floor.as_str() <= id.as_str(), "{floor} > {id}");
        assert!(
            id.as_str() < ClickId::floor(micros + 1_000).as_str(),
            "{id}"
        );
    }
}
