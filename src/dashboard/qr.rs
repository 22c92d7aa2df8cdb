//! QR codes of links: an SVG to show in the page, and SVG and PNG files to download (as data
//! URLs, so no route serves them and the page's CSP, which allows `data:` images, holds).

use base64::Engine;
use maud::{html, Markup, PreEscaped};
use qrcode::{render::svg, Color, QrCode};

/// Modules of white around the code, as the standard asks.
const QUIET: usize = 4;
/// Pixels per module in the PNG.
const SCALE: usize = 8;

fn png(code: &QrCode) -> Option<Vec<u8>> {
    let width = code.width();
    let side = (width + 2 * QUIET) * SCALE;
    let colors = code.to_colors();
    let mut pixels = vec![255u8; side * side];
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (x, y) = ((i % width + QUIET) * SCALE, (i / width + QUIET) * SCALE);
            for row in y..y + SCALE {
                pixels[row * side + x..row * side + x + SCALE].fill(0);
            }
        }
    }
    let mut out = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut out, side as u32, side as u32);
        encoder.set_color(png::ColorType::Grayscale);
        encoder.set_depth(png::BitDepth::Eight);
        let mut writer = encoder.write_header().ok()?;
        writer.write_image_data(&pixels).ok()?;
    }
    Some(out)
}

/// The QR code of `url`, shown folded under the link, with downloads named after `name`.
pub fn block(url: &str, name: &str) -> Markup {
    let Ok(code) = QrCode::new(url.as_bytes()) else {
        return html! {};
    };
    let image = code
        .render::<svg::Color<'_>>()
        .min_dimensions(160, 160)
        .quiet_zone(true)
        .build();
    // Inline, without the XML declaration.
    let inline = image
        .find("<svg")
        .map_or(image.as_str(), |i| &image[i..])
        .to_string();
    let b64 = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(bytes);
    html! {
        details.qr {
            summary { "QR code" }
            figure {
                (PreEscaped(inline))
                figcaption {
                    a download={ "qr-" (name) ".svg" } href={ "data:image/svg+xml;base64," (b64(image.as_bytes())) } { "Download SVG" }
                    @if let Some(png) = png(&code) {
                        " · "
                        a download={ "qr-" (name) ".png" } href={ "data:image/png;base64," (b64(&png)) } { "Download PNG" }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_gets_an_svg_and_a_png() {
        let html = block("https://track.example/r/abc123", "abc123").into_string();
        assert!(html.contains("<svg") && !html.contains("<?xml"));
        assert!(html.contains("data:image/svg+xml;base64,"));
        let png_b64 = html
            .split("data:image/png;base64,")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .expect("a PNG");
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png_b64)
            .unwrap();
        assert_eq!(&bytes[1..4], b"PNG");
    }
}
