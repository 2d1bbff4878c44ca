//! The counterexample page's style sheet and the colours its SVG uses.

/// Fill of an operation in the longest linearization.
pub(super) const LIN: &str = "#7cc47f";
/// Fill of an operation that cannot come next.
pub(super) const BLOCKED: &str = "#ee6b65";
/// Fill of any other operation.
pub(super) const OTHER: &str = "#cdd1d5";
/// The stripes over an open-ended operation.
pub(super) const OPEN: &str = "#f0a020";

/// The page's whole style sheet (the colours above appear again as CSS
/// variables: SVG patterns cannot read CSS variables in every browser).
pub(super) const CSS: &str = r#"
:root { --lin: #7cc47f; --blocked: #ee6b65; --other: #cdd1d5; --open: #f0a020; --win: #6f42c1; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1b1f23;
  margin: 0; background: #f6f7f9; }
header { background: #fff; border-bottom: 1px solid #d8dce0; padding: 14px 24px; }
h1 { font-size: 20px; margin: 0 0 8px; }
h2 { font-size: 17px; margin: 0 0 6px; }
h2 .model { font-weight: normal; color: #57606a; font-size: 14px; margin-left: 8px; }
h3 { font-size: 14px; margin: 18px 0 6px; }
main { padding: 12px 24px 40px; }
.summary { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 13px; }
.summary-line { white-space: pre-wrap; }
.no-witness { font-size: 15px; background: #fff; border: 1px solid #d8dce0; border-radius: 6px;
  padding: 14px 18px; }
.toc a { margin-left: 8px; }
section.witness { background: #fff; border: 1px solid #d8dce0; border-radius: 6px; padding: 14px 18px;
  margin: 12px 0 20px; }
.lead { margin: 0 0 10px; color: #333; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12.5px;
  background: #f1f3f5; padding: 0 3px; border-radius: 3px; word-break: break-all; }
.timeline { overflow-x: auto; border: 1px solid #e3e6e9; border-radius: 4px; background: #fff; }
.timeline-svg { display: block; font-family: system-ui, sans-serif; }
.timeline-view { margin: 0 0 4px; }
.zoom { display: flex; align-items: center; gap: 6px; flex-wrap: wrap; margin: 0 0 6px; font-size: 12.5px; }
.zoom[hidden] { display: none; }
.zoom button { font: inherit; padding: 2px 9px; border: 1px solid #b8bfc6; border-radius: 4px;
  background: #f6f8fa; cursor: pointer; }
.zoom .shown { color: #444; font-variant-numeric: tabular-nums; margin-left: 6px; }
.zoom .hint { color: #6a737d; }
.timeline.zoomable { overflow: hidden; }
.zoomable .timeline-svg { cursor: grab; touch-action: pan-y; user-select: none; -webkit-user-select: none; }
.zoomable .timeline-svg.dragging { cursor: grabbing; }
.stripe { fill: #f5f6f8; }
.proc { text-anchor: end; dominant-baseline: central; fill: #444; }
.axis, .tick { stroke: #666; stroke-width: 1; }
.grid { stroke: #e6e8eb; stroke-width: 1; }
.tick-label { text-anchor: middle; font-size: 11px; fill: #555; }
.axis-title { text-anchor: middle; font-size: 12px; fill: #333; }
.window { fill: var(--win); fill-opacity: 0.1; stroke: var(--win); stroke-opacity: 0.7;
  stroke-dasharray: 5 3; }
.window-label { font-size: 12px; fill: var(--win); font-weight: 600; }
.op { cursor: default; transition: opacity 0.15s; }
.op.lin { cursor: pointer; }
.op-bar { stroke: rgba(0,0,0,0.35); stroke-width: 1; }
.op.lin .op-bar { fill: var(--lin); }
.op.blocked .op-bar { fill: var(--blocked); }
.op.other .op-bar { fill: var(--other); }
.op.open .op-bar { stroke: #b36b00; stroke-width: 1.5; stroke-dasharray: 4 2; }
.op.future { opacity: 0.25; }
.op.future .badge { display: none; }
.op.current .op-bar { stroke: #111; stroke-width: 2.5; stroke-dasharray: none; }
.at-end .op.blocked .op-bar { stroke: #8b0000; stroke-width: 2; }
.op:hover .op-bar { stroke: #000; }
.badge rect { fill: #1b1f23; fill-opacity: 0.82; }
.badge text { fill: #fff; text-anchor: middle; dominant-baseline: central; font-weight: 600; }
.op-label { dominant-baseline: central; fill: #1b1f23; pointer-events: none; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 16px; margin: 8px 0 12px; font-size: 12.5px; color: #444; }
.sw { display: inline-block; width: 22px; height: 11px; vertical-align: -1px; margin-right: 5px;
  border: 1px solid rgba(0,0,0,0.35); border-radius: 2px; }
.sw-lin { background: var(--lin); }
.sw-blocked { background: var(--blocked); }
.sw-other { background: var(--other); }
.sw-open { background: repeating-linear-gradient(45deg, var(--open) 0 3px, var(--other) 3px 8px);
  border: 1.5px dashed #b36b00; }
.sw-window { background: rgba(111,66,193,0.12); border: 1px dashed var(--win); }
.stepper { display: flex; align-items: center; gap: 8px; margin: 6px 0; flex-wrap: wrap; }
.stepper button { font: inherit; padding: 3px 10px; border: 1px solid #b8bfc6; border-radius: 4px;
  background: #f6f8fa; cursor: pointer; }
.stepper button:disabled { opacity: 0.45; cursor: default; }
.stepper .slider { flex: 1 1 260px; min-width: 160px; }
.stepper .pos { font-variant-numeric: tabular-nums; color: #444; min-width: 96px; }
.panel { border: 1px solid #d8dce0; border-left: 4px solid var(--lin); border-radius: 4px;
  padding: 8px 12px; background: #fbfcfd; min-height: 64px; }
.at-end .panel { border-left-color: var(--blocked); }
.panel-head { font-weight: 600; }
.panel-stuck { margin-top: 6px; font-weight: 600; color: #a11d18; }
.panel ul { margin: 4px 0 0; padding-left: 20px; }
table { border-collapse: collapse; font-size: 13px; margin: 4px 0; }
th, td { border: 1px solid #e1e4e8; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f3f5f7; font-weight: 600; }
table.blocked td:last-child { color: #a11d18; }
table.order tr[data-pos] { cursor: pointer; }
table.order tr.future { color: #9aa0a6; }
table.order tr.current { background: #e6f4e7; }
details { margin-top: 14px; }
details pre { background: #f6f8fa; border: 1px solid #e1e4e8; padding: 8px 10px; overflow-x: auto;
  font-size: 12.5px; }
.note { color: #57606a; }
"#;
