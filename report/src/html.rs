//! The page: one HTML document with the vendored ECharts, the page's script and style, and the
//! data, all inline.
//!
//! Nothing from the input is ever markup: the data is JSON inside a
//! `<script type="application/json">` (every `<` written `\u003c`, so no name can close the
//! element), and the page puts names into the document as text only. A Content-Security-Policy
//! forbids every fetch, so even a bug cannot make the page reach the network, and lets only the
//! two known scripts run (by hash).

use crate::model::Data;

/// Apache ECharts 6.1.0, `dist/echarts.min.js` of the npm package (see `vendor/README.md`).
const ECHARTS: &str = include_str!("../vendor/echarts.min.js");
/// The licence and notice ECharts is redistributed under.
const ECHARTS_LICENSES: [&str; 3] = [
    include_str!("../vendor/LICENSE-echarts"),
    include_str!("../vendor/NOTICE-echarts"),
    include_str!("../vendor/LICENSE-d3"),
];
/// The page's own script: controls, charts, tables.
const SCRIPT: &str = include_str!("../assets/report.js");
/// The page's style.
const STYLE: &str = include_str!("../assets/report.css");
/// The base64 sha256 of [`ECHARTS`] and [`SCRIPT`]: the Content-Security-Policy lets only these
/// two scripts run, so not even an injected handler could. Editing `report.js` changes its hash:
/// the browser test (`report/tests/browser/check.mjs`) recomputes both and names the new value.
const SCRIPT_HASHES: [&str; 2] = [
    "tmslrrTfhOMxmdwhaUAU0zbSIsvZ3rDlp8FL1qoND9A=",
    "A+FltjPnRdebIog2p/OZVw1h7AUyWMdtDgzit5Kv7SQ=",
];
/// The page's markup, with `{{STYLE}}`, `{{DATA}}`, `{{ECHARTS}}`, `{{SCRIPT}}`, `{{LICENSES}}`
/// and `{{SCRIPT_HASHES}}`.
const TEMPLATE: &str = include_str!("../assets/report.html");

/// The whole document.
pub(crate) fn page(data: &Data) -> String {
    let json = serde_json::to_string(data)
        .expect("the page data is plain strings and numbers")
        .replace('<', "\\u003c");
    let licenses = ECHARTS_LICENSES.join("\n");
    let hashes = SCRIPT_HASHES
        .map(|hash| format!("'sha256-{hash}'"))
        .join(" ");
    let mut out = String::with_capacity(ECHARTS.len() + json.len() + 64 * 1024);
    let mut rest = TEMPLATE;
    while let Some(at) = rest.find("{{") {
        out.push_str(&rest[..at]);
        let end = at
            + rest[at..]
                .find("}}")
                .expect("the template closes every placeholder");
        out.push_str(match &rest[at + 2..end] {
            "STYLE" => STYLE,
            "DATA" => &json,
            "ECHARTS" => ECHARTS,
            "SCRIPT" => SCRIPT,
            "LICENSES" => &licenses,
            "SCRIPT_HASHES" => &hashes,
            other => panic!("unknown placeholder {other} in report.html"),
        });
        rest = &rest[end + 2..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inlined_texts_cannot_close_their_elements() {
        assert!(!ECHARTS.to_ascii_lowercase().contains("</script"));
        assert!(!ECHARTS.contains("<!--"));
        assert!(!SCRIPT.to_ascii_lowercase().contains("</script"));
        assert!(!STYLE.to_ascii_lowercase().contains("</style"));
        for text in ECHARTS_LICENSES {
            assert!(!text.contains("-->") && !text.contains("<!--"));
        }
    }

    #[test]
    fn vendored_echarts_is_the_recorded_file() {
        // The browser test checks the sha256 recorded in vendor/README.md; this catches a
        // swapped file without a browser.
        assert!(include_str!("../vendor/README.md").contains("**echarts 6.1.0**"));
        assert_eq!(
            ECHARTS.len(),
            1_121_883,
            "update vendor/README.md for the new file"
        );
    }
}
