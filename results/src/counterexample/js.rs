//! The counterexample page's script: plain JS (no libraries, nothing
//! fetched) that the page works without, and that adds two things.
//!
//! - The stepper: buttons, a slider, the arrow, Home and End keys, and
//!   clicks on bars and table rows step through the longest linearization,
//!   greying the operations still to come and showing the state after each
//!   step. Stepping to an operation out of view pans the timeline to it.
//! - Zooming: each timeline opens on its failing window (`data-view-lo` and
//!   `data-view-hi` on the `<svg>`), and the buttons, the mouse wheel (at
//!   the pointer) and dragging zoom and pan it, out to the whole part. The
//!   SVG is made as wide as its box and every x position is computed again
//!   from the axis values in `data-` attributes, and the ticks redrawn
//!   (with the rules of the Rust side: steps of 1, 2 or 5 times a power of
//!   ten; seconds once the view reaches a second), so text keeps its size.
//!   The view shown is written back as `data-shown-lo` and `data-shown-hi`
//!   on the `<svg>`, which tests (and curious readers) can check.

/// The script, inlined at the end of the page.
pub(super) const JS: &str = r##"(function () {
  "use strict";
  var blob = document.getElementById("witness-data");
  if (!blob) { return; }
  var data = JSON.parse(blob.textContent);
  var views = [];
  var active = 0;

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) { e.className = cls; }
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  }
  function withCode(label, value) {
    var d = el("div", null, label);
    d.appendChild(el("code", null, value));
    return d;
  }
  function opText(who, text) {
    return (who === null || who === undefined ? "" : who + ": ") + text;
  }

  // ---- The timeline: zoom and pan.

  function num(e, name) { return Number(e.getAttribute(name)); }
  function niceStep(span, target) {
    var raw = Math.max(span / Math.max(target, 1), Number.MIN_VALUE);
    var mag = Math.pow(10, Math.floor(Math.log10(raw)));
    var norm = raw / mag;
    return (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  }
  function decimals(step, most) {
    return step >= 1 ? 0 : Math.min(most, Math.max(0, Math.ceil(-Math.log10(step) - 1e-9)));
  }
  function timeLabel(ns, step, max) {
    if (max >= 1e9) { return (ns / 1e9).toFixed(decimals(step / 1e9, 9)) + " s"; }
    return (ns / 1e6).toFixed(decimals(step / 1e6, 6)) + " ms";
  }
  function cut(s, most) {
    var cs = Array.from(s);
    if (cs.length <= most) { return s; }
    return most >= 4 ? cs.slice(0, most - 1).join("") + "\u2026" : "";
  }

  function Timeline(view) {
    var svg = view.querySelector("svg.timeline-svg");
    var t = this;
    t.view = view;
    t.box = view.querySelector(".timeline");
    t.svg = svg;
    t.ns = svg.namespaceURI;
    t.byTime = svg.getAttribute("data-axis") === "time";
    t.lo = num(svg, "data-lo");
    t.hi = num(svg, "data-hi");
    t.fitLo = num(svg, "data-view-lo");
    t.fitHi = num(svg, "data-view-hi");
    t.left = num(svg, "data-left");
    t.right = num(svg, "data-right");
    t.top = num(svg, "data-top");
    t.font = num(svg, "data-font");
    t.height = num(svg, "height");
    t.axis = svg.querySelector("line.axis");
    t.axisY = num(t.axis, "y1");
    t.title = svg.querySelector("text.axis-title");
    t.ticks = svg.querySelector("g.ticks");
    t.clip = svg.querySelector("clipPath rect");
    t.stripes = svg.querySelectorAll("rect.stripe");
    t.shown = view.querySelector(".zoom .shown");
    // Nothing narrower than a microsecond or two records: past that,
    // zooming in shows nothing new.
    var whole = t.hi - t.lo;
    t.minSpan = Math.min(whole, Math.max(whole * 1e-6, t.byTime ? 1e3 : 2));
    var win = svg.querySelector("rect.window");
    t.win = win ? {
      rect: win,
      label: svg.querySelector("text.window-label"),
      a: num(win, "data-a"),
      b: win.hasAttribute("data-b") ? num(win, "data-b") : null
    } : null;
    t.ops = [];
    var gs = svg.querySelectorAll("g.op");
    for (var i = 0; i < gs.length; i++) {
      var g = gs[i];
      var o = {
        g: g,
        bar: g.querySelector("rect.op-bar"),
        t0: num(g, "data-t0"),
        t1: g.hasAttribute("data-t1") ? num(g, "data-t1") : null,
        pos: g.hasAttribute("data-pos") ? num(g, "data-pos") : null,
        words: g.getAttribute("data-words") || "",
        badge: g.querySelector("g.badge"),
        label: g.querySelector("text.op-label")
      };
      var y = num(o.bar, "y"), h = num(o.bar, "height");
      if (o.badge) {
        o.badgeRect = o.badge.querySelector("rect");
        o.badgeText = o.badge.querySelector("text");
        o.badgeW = num(o.badgeRect, "width");
      }
      if (!o.label) {
        // Too narrow for words in the whole view, but maybe not when
        // zoomed in.
        o.label = document.createElementNS(t.ns, "text");
        o.label.setAttribute("class", "op-label");
        o.label.setAttribute("y", (y + h / 2).toFixed(1));
        o.label.setAttribute("font-size", String(t.font));
        g.appendChild(o.label);
      }
      o.roomy = h >= 10;
      t.ops.push(o);
    }
    t.vlo = t.fitLo;
    t.vhi = t.fitHi;
    t.pending = false;
    t.box.classList.add("zoomable");
    var controls = view.querySelector(".zoom");
    if (controls) { controls.hidden = false; }
  }

  Timeline.prototype.layout = function () {
    var width = Math.max(360, Math.floor(this.box.clientWidth || 0));
    this.width = width;
    this.pw = Math.max(100, width - this.left - this.right);
    this.svg.setAttribute("width", String(width));
    this.svg.setAttribute("viewBox", "0 0 " + width + " " + this.height);
  };
  Timeline.prototype.x = function (v) {
    return this.left + (v - this.vlo) / (this.vhi - this.vlo) * this.pw;
  };
  Timeline.prototype.label = function (v, step) {
    return this.byTime ? timeLabel(v, step, this.vhi) : String(Math.round(v));
  };
  Timeline.prototype.line = function (cls, x1, y1, x2, y2) {
    var l = document.createElementNS(this.ns, "line");
    l.setAttribute("class", cls);
    l.setAttribute("x1", x1.toFixed(1));
    l.setAttribute("y1", y1.toFixed(1));
    l.setAttribute("x2", x2.toFixed(1));
    l.setAttribute("y2", y2.toFixed(1));
    this.ticks.appendChild(l);
  };
  Timeline.prototype.draw = function () {
    var t = this, L = t.left, R = t.left + t.pw, i;
    t.pending = false;
    t.clip.setAttribute("width", t.pw.toFixed(1));
    for (i = 0; i < t.stripes.length; i++) { t.stripes[i].setAttribute("width", t.pw.toFixed(1)); }
    t.axis.setAttribute("x2", R.toFixed(1));
    t.title.setAttribute("x", (L + t.pw / 2).toFixed(1));

    // Ticks: about one per 100 pixels, at multiples of the step.
    while (t.ticks.firstChild) { t.ticks.removeChild(t.ticks.firstChild); }
    var span = t.vhi - t.vlo;
    var step = niceStep(span, t.pw / 100);
    if (!t.byTime) { step = Math.max(1, Math.round(step)); }
    for (var k = Math.ceil(t.vlo / step); k * step <= t.vhi + step * 1e-9; k++) {
      var v = k * step, x = t.x(v);
      t.line("grid", x, t.top, x, t.axisY);
      t.line("tick", x, t.axisY, x, t.axisY + 5);
      var tx = document.createElementNS(t.ns, "text");
      tx.setAttribute("class", "tick-label");
      tx.setAttribute("x", x.toFixed(1));
      tx.setAttribute("y", (t.axisY + 17).toFixed(1));
      tx.textContent = t.label(v, step);
      t.ticks.appendChild(tx);
    }

    // The failing window.
    if (t.win) {
      var wa = t.x(t.win.a), wb = t.win.b === null ? t.x(t.hi) : t.x(t.win.b);
      var a = Math.max(Math.min(wa, wb), L - 4), b = Math.min(Math.max(wa, wb), R + 4);
      var off = b < L || a > R;
      t.win.rect.style.display = t.win.label.style.display = off ? "none" : "";
      if (!off) {
        t.win.rect.setAttribute("x", a.toFixed(1));
        t.win.rect.setAttribute("width", Math.max(4, b - a).toFixed(1));
        t.win.label.setAttribute("x", (Math.max(a, L) + 4).toFixed(1));
      }
    }

    // The bars, their badges and words: only what is in view is shown,
    // and a bar running off either edge starts or ends just past it.
    var charW = t.font * 0.6;
    for (i = 0; i < t.ops.length; i++) {
      var o = t.ops[i];
      var x1 = t.x(o.t0), x2 = o.t1 === null ? t.x(t.hi) : t.x(o.t1);
      if (x2 < x1 + 3) { x2 = x1 + 3; }
      if (x2 < L || x1 > R) { o.g.style.display = "none"; continue; }
      o.g.style.display = "";
      var s = Math.max(x1, L - 4), e = Math.min(x2, R + 4);
      o.bar.setAttribute("x", s.toFixed(1));
      o.bar.setAttribute("width", Math.max(3, e - s).toFixed(1));
      var lx = Math.max(s, L) + 3;
      if (o.badge) {
        // A badge wider than what is seen of its bar would hide the bars
        // beside it (the tooltip still says the step).
        var fitsBadge = Math.min(e, R) - Math.max(s, L) >= o.badgeW + 2;
        o.badge.style.display = fitsBadge ? "" : "none";
        if (fitsBadge) {
          o.badgeRect.setAttribute("x", (lx - 2).toFixed(1));
          o.badgeText.setAttribute("x", (lx - 2 + o.badgeW / 2).toFixed(1));
          lx += o.badgeW + 1;
        }
      }
      o.label.setAttribute("x", lx.toFixed(1));
      var fits = Math.floor((Math.min(e, R) - lx - 3) / charW);
      o.label.textContent = o.roomy && fits >= 4 ? cut(o.words, fits) : "";
    }

    t.svg.setAttribute("data-shown-lo", String(t.vlo));
    t.svg.setAttribute("data-shown-hi", String(t.vhi));
    if (t.shown) {
      var inView = niceStep(span, 10), inWhole = niceStep(t.hi - t.lo, 10);
      var f = function (v, d, max) {
        return t.byTime ? timeLabel(v, d, max) : String(Math.round(v));
      };
      t.shown.textContent = (t.byTime ? "showing " : "showing records ") +
        f(t.vlo, inView, t.vhi) + " to " + f(t.vhi, inView, t.vhi) + " of " +
        f(t.lo, inWhole, t.hi) + " to " + f(t.hi, inWhole, t.hi);
    }
  };
  Timeline.prototype.redraw = function () {
    var t = this;
    if (t.pending) { return; }
    t.pending = true;
    window.requestAnimationFrame(function () { t.draw(); });
  };
  // Sets the view to lo..hi, kept within the whole part and no narrower
  // than minSpan. Callers draw: at once after a click, at the next frame
  // for the many events of a wheel turn or a drag.
  // (A view already within bounds is kept exactly as asked.)
  Timeline.prototype.show = function (lo, hi) {
    var t = this;
    if (!(hi - lo >= t.minSpan)) {
      var mid = (lo + hi) / 2;
      lo = mid - t.minSpan / 2;
      hi = mid + t.minSpan / 2;
    }
    if (hi - lo >= t.hi - t.lo) { lo = t.lo; hi = t.hi; }
    else if (lo < t.lo) { hi += t.lo - lo; lo = t.lo; }
    else if (hi > t.hi) { lo -= hi - t.hi; hi = t.hi; }
    t.vlo = lo;
    t.vhi = hi;
  };
  // Zooms by `factor` (below 1: in) keeping axis value v where it is.
  Timeline.prototype.zoom = function (factor, v) {
    var span = this.vhi - this.vlo;
    var f = (v - this.vlo) / span, next = span * factor;
    this.show(v - f * next, v - f * next + next);
  };
  Timeline.prototype.pan = function (px) {
    var d = px / this.pw * (this.vhi - this.vlo);
    this.show(this.vlo + d, this.vhi + d);
  };
  // Pans (at the same zoom) to the op at step `pos` if it is out of view.
  Timeline.prototype.reveal = function (pos) {
    for (var i = 0; i < this.ops.length; i++) {
      var o = this.ops[i];
      if (o.pos !== pos) { continue; }
      var end = o.t1 === null ? o.t0 : o.t1;
      if (end < this.vlo || o.t0 > this.vhi) {
        var half = (this.vhi - this.vlo) / 2, mid = (o.t0 + end) / 2;
        this.show(mid - half, mid + half);
        this.draw();
      }
      return;
    }
  };
  // The axis value under a pointer event's x.
  Timeline.prototype.at = function (e) {
    var r = this.svg.getBoundingClientRect();
    var x = (e.clientX - r.left) * (this.width / Math.max(1, r.width));
    if (x < this.left) { return (this.vlo + this.vhi) / 2; }
    return this.vlo + (x - this.left) / this.pw * (this.vhi - this.vlo);
  };
  Timeline.prototype.listen = function () {
    var t = this, svg = t.svg, drag = null, swallow = false;
    var buttons = t.view.querySelectorAll(".zoom button[data-zoom]");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].addEventListener("click", function (e) {
        var mid = (t.vlo + t.vhi) / 2;
        switch (e.currentTarget.getAttribute("data-zoom")) {
          case "in": t.zoom(0.5, mid); break;
          case "out": t.zoom(2, mid); break;
          case "window": t.show(t.fitLo, t.fitHi); break;
          case "all": t.show(t.lo, t.hi); break;
        }
        t.draw();
      });
    }
    svg.addEventListener("wheel", function (e) {
      var unit = e.deltaMode === 1 ? 16 : e.deltaMode === 2 ? 400 : 1;
      var dx = e.deltaX * unit, dy = e.deltaY * unit;
      var was = [t.vlo, t.vhi];
      if (Math.abs(dx) > Math.abs(dy)) { t.pan(dx); }
      else { t.zoom(Math.exp(Math.max(-300, Math.min(300, dy)) * 0.002), t.at(e)); }
      // A wheel that changes nothing (zooming out of the whole, or in
      // past the finest view) scrolls the page as it would elsewhere.
      if (t.vlo === was[0] && t.vhi === was[1]) { return; }
      t.redraw();
      e.preventDefault();
    }, { passive: false });
    svg.addEventListener("pointerdown", function (e) {
      if (e.button !== 0) { return; }
      swallow = false;
      drag = { id: e.pointerId, x: e.clientX, lo: t.vlo, hi: t.vhi, moved: false };
    });
    svg.addEventListener("pointermove", function (e) {
      if (!drag || e.pointerId !== drag.id) { return; }
      var dx = e.clientX - drag.x;
      // A few pixels of jitter are still a click on a bar.
      if (!drag.moved && Math.abs(dx) < 4) { return; }
      if (!drag.moved) {
        drag.moved = true;
        svg.classList.add("dragging");
        // Keeps the drag going when the pointer leaves the SVG; a pointer
        // already gone (or a synthetic one) cannot be captured, and the
        // drag works without.
        try { svg.setPointerCapture(drag.id); } catch (err) { /* see above */ }
      }
      var r = svg.getBoundingClientRect();
      var d = -dx * (t.width / Math.max(1, r.width)) / t.pw * (drag.hi - drag.lo);
      t.show(drag.lo + d, drag.hi + d);
      t.redraw();
    });
    function end() {
      if (!drag) { return; }
      if (drag.moved) { swallow = true; svg.classList.remove("dragging"); }
      drag = null;
    }
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    // The click that ends a drag is not a click on a bar.
    svg.addEventListener("click", function (e) {
      if (swallow) { swallow = false; e.stopPropagation(); }
    }, true);
  };

  var timelines = [];
  window.addEventListener("resize", function () {
    for (var i = 0; i < timelines.length; i++) { timelines[i].layout(); timelines[i].redraw(); }
  });

  // ---- The stepper.

  function render(v) {
    var w = v.data, n = w.steps.length, k = v.step, i;
    for (i = 0; i < v.bars.length; i++) {
      var p = Number(v.bars[i].getAttribute("data-pos"));
      v.bars[i].classList.toggle("future", p > k);
      v.bars[i].classList.toggle("current", p === k);
    }
    for (i = 0; i < v.rows.length; i++) {
      var q = Number(v.rows[i].getAttribute("data-pos"));
      v.rows[i].classList.toggle("future", q > k);
      v.rows[i].classList.toggle("current", q === k);
    }
    v.sec.classList.toggle("at-end", k === n);
    v.slider.value = String(k);
    v.pos.textContent = "step " + k + " of " + n;
    v.first.disabled = v.prev.disabled = (k === 0);
    v.last.disabled = v.next.disabled = (k === n);

    var panel = v.panel;
    panel.textContent = "";
    if (k === 0) {
      panel.appendChild(el("div", "panel-head", "Start: nothing linearized yet"));
      panel.appendChild(withCode("State: ", w.initial_state));
    } else {
      var s = w.steps[k - 1];
      panel.appendChild(el("div", "panel-head", "Step " + k + " of " + n));
      panel.appendChild(el("div", null, "#" + s.op + " " + opText(s.who, s.text)));
      panel.appendChild(withCode("State after: ", s.state_after));
    }
    if (k === n && w.blocked.length > 0) {
      panel.appendChild(el("div", "panel-stuck", "None of these operations can come next:"));
      var ul = el("ul");
      for (i = 0; i < w.blocked.length; i++) {
        var b = w.blocked[i];
        var what = b.who === null || b.who === undefined
          ? "#" + b.op
          : opText(b.who, b.text) + " (line " + b.line + ")";
        ul.appendChild(el("li", null, what + ": " + b.reason));
      }
      panel.appendChild(ul);
    }
  }

  function go(v, k) {
    var n = v.data.steps.length;
    v.step = Math.max(0, Math.min(n, k));
    render(v);
    if (v.timeline && v.step > 0) { v.timeline.reveal(v.step); }
  }

  var sections = document.querySelectorAll("section.witness");
  for (var si = 0; si < sections.length; si++) {
    (function (sec) {
      var box = sec.querySelector(".timeline-view");
      var tl = null;
      if (box && box.querySelector("svg.timeline-svg")) {
        tl = new Timeline(box);
        tl.layout();
        tl.draw();
        tl.listen();
        timelines.push(tl);
      }
      var wi = Number(sec.getAttribute("data-w"));
      var w = data.witnesses[wi];
      if (!w) { return; }
      var v = {
        sec: sec, data: w, step: w.steps.length, timeline: tl,
        bars: sec.querySelectorAll("g.op[data-pos]"),
        rows: sec.querySelectorAll("table.order tr[data-pos]"),
        slider: sec.querySelector(".slider"),
        pos: sec.querySelector(".pos"),
        panel: sec.querySelector(".panel"),
        first: sec.querySelector("button.first"),
        prev: sec.querySelector("button.prev"),
        next: sec.querySelector("button.next"),
        last: sec.querySelector("button.last")
      };
      var index = views.length;
      views.push(v);
      v.first.addEventListener("click", function () { go(v, 0); });
      v.prev.addEventListener("click", function () { go(v, v.step - 1); });
      v.next.addEventListener("click", function () { go(v, v.step + 1); });
      v.last.addEventListener("click", function () { go(v, v.data.steps.length); });
      v.slider.addEventListener("input", function () { go(v, Number(v.slider.value)); });
      var j;
      for (j = 0; j < v.bars.length; j++) {
        v.bars[j].addEventListener("click", function (e) {
          go(v, Number(e.currentTarget.getAttribute("data-pos")));
        });
      }
      for (j = 0; j < v.rows.length; j++) {
        v.rows[j].addEventListener("click", function (e) {
          go(v, Number(e.currentTarget.getAttribute("data-pos")));
        });
      }
      sec.addEventListener("pointerdown", function () { active = index; });
      sec.addEventListener("focusin", function () { active = index; });
      render(v);
    })(sections[si]);
  }

  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey || views.length === 0) { return; }
    var t = e.target;
    var tag = t && t.tagName ? t.tagName.toLowerCase() : "";
    if (tag === "input" || tag === "textarea" || tag === "select") { return; }
    var v = views[active];
    if (e.key === "ArrowLeft") { go(v, v.step - 1); }
    else if (e.key === "ArrowRight") { go(v, v.step + 1); }
    else if (e.key === "Home") { go(v, 0); }
    else if (e.key === "End") { go(v, v.data.steps.length); }
    else { return; }
    e.preventDefault();
  });
})();
"##;
