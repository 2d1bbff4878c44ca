//! The report's stylesheet.

use crate::plots::SampleOutcome;

/// The page's CSS. Outcome colours come from [`SampleOutcome::colour_hex`]
/// so the timeline, the plots and the legend agree.
pub(super) fn stylesheet() -> String {
    let ok = SampleOutcome::Ok.colour_hex();
    let fail = SampleOutcome::Fail.colour_hex();
    let info = SampleOutcome::Info.colour_hex();
    format!(
        r#"body {{ font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #222; background: #fafafa; }}
main {{ padding: 0 1.5rem 2rem; max-width: 1200px; }}
nav {{ padding: 0.5rem 1.5rem; background: #eee; font-size: 0.9rem; }}
h1 {{ margin: 0.2rem 0 0.4rem; font-size: 1.3rem; font-weight: 600; }}
h2 {{ margin-top: 1.8rem; border-bottom: 1px solid #ddd; padding-bottom: 0.2rem; font-size: 1.15rem; }}
h3 {{ margin: 0.8rem 0 0.3rem; font-size: 1rem; }}
.banner {{ padding: 1rem 1.5rem; color: #fff; }}
.banner .headline {{ font-size: 1.6rem; font-weight: 700; text-transform: uppercase; letter-spacing: 0.03em; }}
.banner ul {{ margin: 0.3rem 0 0; padding-left: 1.2rem; }}
.verdict-valid {{ background: #2e7d32; }}
.verdict-anomaly {{ background: #c62828; }}
.verdict-unknown {{ background: #b26a00; }}
.verdict-interrupted {{ background: #616161; }}
.verdict-other {{ background: #455a64; }}
.badge {{ color: #fff; border-radius: 3px; padding: 0.05rem 0.4rem; font-size: 0.8rem; font-weight: 600; }}
.none {{ color: #777; font-style: italic; }}
table {{ border-collapse: collapse; background: #fff; }}
th, td {{ text-align: left; vertical-align: top; padding: 0.25rem 0.8rem 0.25rem 0; border-bottom: 1px solid #eee; }}
th {{ font-weight: 600; }}
td.value {{ font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 0.9rem; white-space: pre-wrap; word-break: break-word; }}
.checker {{ background: #fff; border: 1px solid #e4e4e4; border-radius: 4px; padding: 0.2rem 1rem 0.6rem; margin-bottom: 0.8rem; }}
.checker ul {{ margin: 0.2rem 0; }}
figure.plot {{ margin: 0.8rem 0; overflow-x: auto; }}
figure.plot svg {{ max-width: 100%; height: auto; background: #fff; }}
.timeline-scroll {{ overflow-x: auto; background: #fff; border: 1px solid #e4e4e4; }}
.legend {{ font-size: 0.9rem; margin: 0.4rem 0; }}
.swatch {{ display: inline-block; width: 0.9em; height: 0.9em; vertical-align: -0.1em; margin: 0 0.25em 0 0.8em; border-radius: 2px; }}
.swatch.ok, .op.ok {{ background: {ok}; fill: {ok}; }}
.swatch.fail, .op.fail {{ background: {fail}; fill: {fail}; }}
.swatch.info, .op.info {{ background: {info}; fill: {info}; }}
.swatch.fault {{ background: rgba(232, 163, 0, 0.3); }}
.op:hover {{ stroke: #000; stroke-width: 1; }}
.op.open {{ fill-opacity: 0.45; }}
.fault {{ fill: #e8a300; fill-opacity: 0.2; }}
.fault-label {{ fill: #8a5a00; font-size: 11px; }}
.lane-bg {{ fill: #f4f4f4; }}
.lane-label, .tick-label {{ fill: #555; font-size: 11px; font-family: sans-serif; }}
.tick {{ stroke: #e0e0e0; stroke-width: 1; }}
.axis-title {{ fill: #333; font-size: 12px; font-family: sans-serif; }}
details pre {{ background: #fff; border: 1px solid #e4e4e4; padding: 0.6rem; overflow-x: auto; }}
"#
    )
}
