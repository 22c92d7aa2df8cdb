//! Destination validation, tracking URLs (UTM added) and the click id appended on redirect.
#![no_main]

use arbitrary::Arbitrary;
use influtrack::domain::urls::{append_param, link_target, tracking_url, Destination, Utm};
use libfuzzer_sys::fuzz_target;
use url::Url;

#[derive(Arbitrary, Debug)]
struct Input {
    campaign_destination: String,
    link_destination: Option<String>,
    source: Option<String>,
    medium: Option<String>,
    campaign: Option<String>,
    content: Option<String>,
    term: Option<String>,
    handle: String,
    slug: String,
    label: Option<String>,
    click_id: String,
}

fn pairs(url: &Url) -> Vec<(String, String)> {
    url.query_pairs().into_owned().collect()
}

/// Everything of `b` but its query is `a`'s.
fn same_but_query(a: &Url, b: &Url) {
    assert_eq!(a.scheme(), b.scheme());
    assert_eq!(a.username(), b.username());
    assert_eq!(a.password(), b.password());
    assert_eq!(a.host_str(), b.host_str());
    assert_eq!(a.port(), b.port());
    assert_eq!(a.path(), b.path());
    assert_eq!(a.fragment(), b.fragment());
}

fuzz_target!(|input: Input| {
    let overrides = Utm {
        source: input.source,
        medium: input.medium,
        campaign: input.campaign,
        content: input.content,
        term: input.term,
    };

    // Whatever a destination is, building its tracking URL does not fail; what `url` cannot
    // parse is passed through untouched.
    let raw = tracking_url(&input.campaign_destination, &overrides);
    if Url::parse(&input.campaign_destination).is_err() {
        assert_eq!(raw, input.campaign_destination);
    }

    // Stored destinations are validated ones.
    let Ok(campaign) = Destination::parse("destination_url", &input.campaign_destination) else {
        return;
    };
    let link = input
        .link_destination
        .as_deref()
        .and_then(|d| Destination::parse("destination_url", d).ok());
    for d in [Some(&campaign), link.as_ref()].into_iter().flatten() {
        let url = Url::parse(d.as_str()).expect("a destination parses");
        assert!(matches!(url.scheme(), "http" | "https"));
        assert!(url.host_str().is_some_and(|h| !h.is_empty()));
        if d.as_str().len() <= 2048 {
            assert_eq!(
                Destination::parse("destination_url", d.as_str()).as_ref(),
                Ok(d),
                "a destination is stable"
            );
        }
    }

    let target = link_target(
        link.as_ref().map(Destination::as_str),
        campaign.as_str(),
        overrides.clone(),
        &input.handle,
        &input.slug,
        input.label.as_deref(),
    );
    let destination = link.as_ref().unwrap_or(&campaign);
    assert_eq!(target.destination, destination.as_str());
    // Overrides win, then the defaults.
    let utm = &target.utm;
    assert_eq!(
        utm.source.as_ref(),
        overrides.source.as_ref().or(Some(&input.handle))
    );
    assert_eq!(
        utm.medium.as_deref(),
        overrides.medium.as_deref().or(Some("influencer"))
    );
    assert_eq!(
        utm.campaign.as_ref(),
        overrides.campaign.as_ref().or(Some(&input.slug))
    );
    assert_eq!(
        utm.content.as_ref(),
        overrides.content.as_ref().or(input.label.as_ref())
    );
    assert_eq!(utm.term, overrides.term);

    let dest = Url::parse(destination.as_str()).expect("a destination parses");
    let out = Url::parse(&target.tracking_url).expect("a tracking URL parses");
    same_but_query(&out, &dest);
    // The destination's query is kept byte for byte, its pairs first and in order.
    if let Some(q) = dest.query() {
        assert!(out.query().unwrap_or_default().starts_with(q));
    }
    let original = pairs(&dest);
    let got = pairs(&out);
    assert_eq!(&got[..original.len()], &original[..]);
    // Each non-empty UTM parameter is there once, unless the destination sets it (then it
    // wins and ours is left out).
    let mut added = 0;
    for (key, value) in [
        ("utm_source", &utm.source),
        ("utm_medium", &utm.medium),
        ("utm_campaign", &utm.campaign),
        ("utm_content", &utm.content),
        ("utm_term", &utm.term),
    ] {
        let Some(value) = value.as_deref().filter(|v| !v.is_empty()) else {
            continue;
        };
        let theirs = original.iter().filter(|(k, _)| k == key).count();
        let ours = got.iter().filter(|(k, _)| k == key).count();
        if theirs == 0 {
            assert_eq!(ours, 1, "{key}");
            assert!(got.contains(&(key.to_string(), value.to_string())), "{key}");
            added += 1;
        } else {
            assert_eq!(ours, theirs, "{key}");
        }
    }
    assert_eq!(got.len(), original.len() + added);
    // Building it again from itself changes nothing.
    assert_eq!(tracking_url(&target.tracking_url, utm), target.tracking_url);

    // The redirect appends the click id without re-parsing.
    let clicked = append_param(&target.tracking_url, "itk_click", &input.click_id);
    let clicked = Url::parse(&clicked).expect("a redirect URL parses");
    same_but_query(&clicked, &dest);
    let mut expected = got;
    expected.push(("itk_click".to_string(), input.click_id));
    assert_eq!(pairs(&clicked), expected);
});
