//! Destination URLs and the tracking URL a link redirects to.

use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::field::FieldError;

const MAX_URL_LEN: usize = 2048;

/// An absolute `http`/`https` URL with a host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination(Url);

impl Destination {
    pub fn parse(field: &str, raw: &str) -> Result<Self, FieldError> {
        let raw = raw.trim();
        if raw.len() > MAX_URL_LEN {
            return Err(FieldError::new(
                field,
                format!("must be at most {MAX_URL_LEN} characters"),
            ));
        }
        let url = Url::parse(raw)
            .map_err(|_| FieldError::new(field, "must be an absolute http(s) URL"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(FieldError::new(field, "must use http or https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(FieldError::new(field, "must have a host"));
        }
        Ok(Self(url))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

/// UTM parameters of a link; `None` leaves a parameter out.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Utm {
    pub source: Option<String>,
    pub medium: Option<String>,
    pub campaign: Option<String>,
    pub content: Option<String>,
    pub term: Option<String>,
}

impl Utm {
    fn pairs(&self) -> [(&'static str, Option<&str>); 5] {
        [
            ("utm_source", self.source.as_deref()),
            ("utm_medium", self.medium.as_deref()),
            ("utm_campaign", self.campaign.as_deref()),
            ("utm_content", self.content.as_deref()),
            ("utm_term", self.term.as_deref()),
        ]
    }
}

/// The destination with the link's UTM parameters added. The destination's own query (kept
/// byte for byte) and fragment survive, and a parameter it already sets wins over ours.
pub fn tracking_url(destination: &str, utm: &Utm) -> String {
    let Ok(mut url) = Url::parse(destination) else {
        return destination.to_string();
    };
    let present: Vec<String> = url.query_pairs().map(|(k, _)| k.into_owned()).collect();
    let missing: Vec<(&str, &str)> = utm
        .pairs()
        .into_iter()
        .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k, v)))
        .filter(|(k, _)| !present.iter().any(|p| p == k))
        .collect();
    if !missing.is_empty() {
        let mut query = url.query_pairs_mut();
        for (k, v) in missing {
            query.append_pair(k, v);
        }
    }
    url.into()
}

/// Appends one query parameter to an already valid URL, before its fragment. Used on the
/// redirect path, where re-parsing the URL for every click would be wasted work.
pub fn append_param(url: &str, key: &str, value: &str) -> String {
    let (base, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let separator = match base.find('?') {
        None => "?",
        Some(i) if i + 1 == base.len() || base.ends_with('&') => "",
        Some(_) => "&",
    };
    let mut out = String::with_capacity(url.len() + key.len() + value.len() + 2);
    out.push_str(base);
    out.push_str(separator);
    out.push_str(key);
    out.push('=');
    out.extend(url::form_urlencoded::byte_serialize(value.as_bytes()));
    out.push_str(fragment);
    out
}

/// Shopify's discount link: `{shop_url}/discount/{CODE}?redirect={path and query of target}`.
/// Shopify puts the code in the cart and sends the shopper on to that page of the shop.
pub fn shopify_discount_url(shop_url: &str, code: &str, target: &str) -> String {
    let path = match url::Url::parse(target) {
        Ok(u) => match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        },
        Err(_) => "/".to_string(),
    };
    let code: String = url::form_urlencoded::byte_serialize(code.as_bytes()).collect();
    let redirect: String = url::form_urlencoded::byte_serialize(path.as_bytes()).collect();
    format!("{shop_url}/discount/{code}?redirect={redirect}")
}

/// The UTM parameters a link publishes: its overrides, else the defaults (the influencer's
/// handle, `influencer`, the campaign's slug and the link's label).
pub fn link_utm(overrides: Utm, handle: &str, campaign_slug: &str, label: Option<&str>) -> Utm {
    Utm {
        source: overrides.source.or_else(|| Some(handle.to_string())),
        medium: overrides.medium.or_else(|| Some("influencer".to_string())),
        campaign: overrides
            .campaign
            .or_else(|| Some(campaign_slug.to_string())),
        content: overrides.content.or_else(|| label.map(str::to_string)),
        term: overrides.term,
    }
}

/// Where a link sends its clicks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkTarget {
    pub destination: String,
    pub utm: Utm,
    pub tracking_url: String,
}

/// A link's target: its own destination or else the campaign's, with its UTM overrides or
/// else the defaults.
pub fn link_target(
    link_destination: Option<&str>,
    campaign_destination: &str,
    overrides: Utm,
    handle: &str,
    campaign_slug: &str,
    label: Option<&str>,
) -> LinkTarget {
    let destination = link_destination.unwrap_or(campaign_destination).to_string();
    let utm = link_utm(overrides, handle, campaign_slug, label);
    LinkTarget {
        tracking_url: tracking_url(&destination, &utm),
        destination,
        utm,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn utm() -> Utm {
        Utm {
            source: Some("anna".into()),
            medium: Some("influencer".into()),
            campaign: Some("spring-sale".into()),
            content: Some("reel 1".into()),
            term: None,
        }
    }

    #[test]
    fn adds_utm_and_keeps_query_and_fragment() {
        let url = tracking_url("https://shop.example/p?id=7&x=a%20b#reviews", &utm());
        assert_eq!(
            url,
            "https://shop.example/p?id=7&x=a%20b&utm_source=anna&utm_medium=influencer\
             &utm_campaign=spring-sale&utm_content=reel+1#reviews"
        );
    }

    #[test]
    fn existing_parameters_win() {
        let url = tracking_url("https://shop.example/?utm_source=newsletter", &utm());
        assert!(url.contains("utm_source=newsletter"));
        assert!(!url.contains("utm_source=anna"));
        assert!(url.contains("utm_medium=influencer"));
    }

    #[test]
    fn destinations_must_be_http() {
        assert!(Destination::parse("d", "https://shop.example/x").is_ok());
        for bad in [
            "javascript:alert(1)",
            "ftp://x.example/",
            "/relative",
            "shop.example",
            "http://",
            "data:text/html,hi",
            "",
        ] {
            assert!(Destination::parse("d", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn appends_the_click_id_before_the_fragment() {
        assert_eq!(
            append_param("https://a.example/", "itk_click", "c1"),
            "https://a.example/?itk_click=c1"
        );
        assert_eq!(
            append_param("https://a.example/?x=1#f", "itk_click", "c1"),
            "https://a.example/?x=1&itk_click=c1#f"
        );
        assert_eq!(
            append_param("https://a.example/?", "k", "v"),
            "https://a.example/?k=v"
        );
    }

    proptest! {
        #[test]
        fn tracking_urls_parse_and_lose_nothing(
            host in "[a-z]{1,12}\\.(com|shop|example)",
            path in "(/[a-zA-Z0-9_.~-]{0,8}){0,3}",
            pairs in proptest::collection::vec(("[a-z_]{1,8}", "[a-zA-Z0-9 &=%/?+é-]{0,10}"), 0..5),
            fragment in proptest::option::of("[a-zA-Z0-9_-]{0,10}"),
            content in proptest::option::of("[a-zA-Z0-9 &=é-]{1,10}"),
        ) {
            let mut dest = Url::parse(&format!("https://{host}{path}")).unwrap();
            if !pairs.is_empty() {
                let mut q = dest.query_pairs_mut();
                for (k, v) in &pairs { q.append_pair(k, v); }
            }
            dest.set_fragment(fragment.as_deref());
            let u = Utm { content: content.clone(), ..utm() };
            let out = Url::parse(&tracking_url(dest.as_str(), &u)).expect("parses");
            prop_assert_eq!(out.host_str(), dest.host_str());
            prop_assert_eq!(out.path(), dest.path());
            prop_assert_eq!(out.fragment(), dest.fragment());
            let got: Vec<(String, String)> = out.query_pairs().into_owned().collect();
            let original: Vec<(String, String)> = dest.query_pairs().into_owned().collect();
            // The original pairs come first, unchanged and in order.
            prop_assert_eq!(&got[..original.len()], &original[..]);
            for (k, v) in u.pairs() {
                let Some(v) = v else { continue };
                let ours = got.iter().filter(|(gk, _)| gk == k).count();
                let theirs = original.iter().filter(|(ok, _)| ok == k).count();
                if theirs == 0 {
                    prop_assert_eq!(ours, 1);
                    prop_assert!(got.contains(&(k.to_string(), v.to_string())));
                } else {
                    prop_assert_eq!(ours, theirs);
                }
            }
            let with_click = append_param(out.as_str(), "itk_click", "abc");
            let clicked = Url::parse(&with_click).unwrap();
            prop_assert_eq!(clicked.fragment(), dest.fragment());
            prop_assert!(clicked.query_pairs().any(|(k, v)| k == "itk_click" && v == "abc"));
        }
    }

    #[test]
    fn shopify_discount_links_keep_the_path_and_query() {
        assert_eq!(
            shopify_discount_url(
                "https://acme.myshopify.com",
                "ANNA 15",
                "https://acme.example/products/x?utm_source=anna&itk_click=01a2#top"
            ),
            "https://acme.myshopify.com/discount/ANNA+15?redirect=%2Fproducts%2Fx%3Futm_source%3Danna%26itk_click%3D01a2"
        );
    }
}
