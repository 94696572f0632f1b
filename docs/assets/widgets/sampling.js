/* Sampling dashboard (05-sampling). Data: the shared model's next-byte logits for a few prompts plus
   continuations sampled by Python over a (temperature, top-k, top-p) grid, exported at build time by the
   `sampling/grid` experiment. The filters below re-implement llmkb.infer.sampling step for step, in float64:
     1. temperature: T = 0 keeps only the arg-max (lowest index among ties) and skips every later filter;
        T = 1 is the identity; otherwise l -> (l - max) / T (the max itself stays exactly 0);
     2. top-k: keep the k highest logits by a stable descending sort (ties: lower index), k >= V = off;
     3. top-p: P = softmax of what is left; sort P descending; keep sorted position j iff the mass
        strictly before it (cumsum_j - P_j) is < p; p >= 1 = off;
   then softmax; entropy in nats (0 ln 0 = 0); survivors = tokens with probability > 0.
   Displayed numbers live in elements with stable ids (#sampling-entropy etc.) and data-value attributes.
   The chart's viewBox is its own width in CSS px (redrawn when that changes), so its 12 px labels stay 12 px on a
   phone; a label too wide for its bar (xNN) stands upright below it. */
(function () {
  "use strict";

  const TOP_N = 20;
  const CSS = [
    ".llmkb-sampling{border:1px solid var(--md-default-fg-color--lightest);border-radius:6px;padding:.8em 1em;margin:1em 0}",
    ".llmkb-sampling .s-controls{display:grid;grid-template-columns:max-content minmax(0,1fr) max-content;" +
      "gap:.35em .8em;align-items:center}",
    ".llmkb-sampling .s-controls input[type=range]{width:100%;min-width:0;margin:0}",
    ".llmkb-sampling .s-controls select{width:100%;min-width:0;max-width:100%;font:inherit;font-size:.85em;" +
      "text-overflow:ellipsis;color:var(--md-default-fg-color);background:var(--md-default-bg-color);" +
      "border:1px solid var(--md-default-fg-color--lighter);border-radius:4px}",
    ".llmkb-sampling .s-controls output{font-variant-numeric:tabular-nums;white-space:nowrap}",
    ".llmkb-sampling .s-stats{display:flex;flex-wrap:wrap;gap:.4em 1.6em;margin:.6em 0;font-size:.9em}",
    ".llmkb-sampling .s-stats b{font-variant-numeric:tabular-nums}",
    ".llmkb-sampling svg{width:100%;height:auto;display:block}",
    ".llmkb-sampling .s-ghost{fill:none;stroke:var(--md-default-fg-color--light);stroke-dasharray:2 2}",
    // the link colour: Material picks it per scheme to read on the page (the primary colour is too dark on slate)
    ".llmkb-sampling .s-bar{fill:var(--md-typeset-a-color)}",
    ".llmkb-sampling .s-bar.s-cut{fill:none}",
    ".llmkb-sampling .s-label{font:12px monospace;fill:var(--md-default-fg-color);text-anchor:middle}",
    ".llmkb-sampling .s-label.s-upright{text-anchor:start;dominant-baseline:central}",
    ".llmkb-sampling .s-label.s-cut{fill:var(--md-default-fg-color--lighter);text-decoration:line-through}",
    ".llmkb-sampling .s-axis{font:12px sans-serif;fill:var(--md-default-fg-color--light)}",
    ".llmkb-sampling .s-text{white-space:pre-wrap;font-family:var(--md-code-font-family,monospace);font-size:.85em;" +
      "background:var(--md-code-bg-color);padding:.5em .7em;border-radius:4px;max-height:12em;overflow:auto;" +
      "overflow-wrap:anywhere}",
    ".llmkb-sampling .s-text .s-prompt{font-weight:bold;opacity:.75}",
    ".llmkb-sampling .s-note{font-size:.8em;color:var(--md-default-fg-color--light)}",
  ].join("\n");

  // softmax, descendingOrder, entropy and byteLabel are shared by the widgets: window.llmkb (docs/assets/llmkb.js),
  // looked up when called (a widget's script may run before llmkb.js)

  function injectStyle() { window.llmkb.injectStyle("llmkb-sampling-style", CSS); }

  // ------------------------------------------------------------------ math (mirrors llmkb.infer.sampling)

  /** Filtered logits: temperature -> top-k -> top-p (k = null and p >= 1 mean off). */
  function pipeline(logits, t, k, p) {
    const V = logits.length;
    let l = logits.slice();
    if (t === 0) {
      let a = 0;
      for (let i = 1; i < V; i++) if (l[i] > l[a]) a = i; // first maximal index
      return l.map(function (v, i) { return i === a ? v : -Infinity; });
    }
    if (t !== 1) {
      let m = -Infinity;
      for (const v of l) if (v > m) m = v;
      if (!isFinite(m)) m = 0;
      l = l.map(function (v) { const d = v - m; return d === 0 ? d : d / t; });
    }
    if (k !== null && k < V) {
      const order = window.llmkb.descendingOrder(l);
      for (let j = k; j < V; j++) l[order[j]] = -Infinity;
    }
    if (p !== null && p < 1) {
      const probs = window.llmkb.softmax(l);
      const order = window.llmkb.descendingOrder(probs);
      let cum = 0;
      const drop = [];
      for (const i of order) {
        cum += probs[i];
        if (cum - probs[i] >= p) drop.push(i);
      }
      for (const i of drop) l[i] = -Infinity;
    }
    return l;
  }

  function filteredProbs(logits, t, k, p) { return window.llmkb.softmax(pipeline(logits, t, k, p)); }

  function survivors(probs) {
    let n = 0;
    for (const q of probs) if (q > 0) n++;
    return n;
  }

  /** Index of the nearest value (ties: lower index), as llmkb.lab.topics.sampling.analysis.nearest_index. */
  function nearestIndex(values, x) {
    let best = 0, bestD = Math.abs(values[0] - x);
    for (let i = 1; i < values.length; i++) {
      const d = Math.abs(values[i] - x);
      if (d < bestD) { best = i; bestD = d; }
    }
    return best;
  }

  window.llmkbSampling = {
    pipeline: pipeline, filteredProbs: filteredProbs, survivors: survivors, nearestIndex: nearestIndex,
    entropy: function (p) { return window.llmkb.entropy(p); },
    byteLabel: function (b) { return window.llmkb.byteLabel(b); },
  };

  // ------------------------------------------------------------------ DOM helpers

  const SVGNS = "http://www.w3.org/2000/svg";

  function h(tag, attrs, text) { return window.llmkb.el(tag, attrs, text); }

  function s(tag, attrs, text) {
    const e = document.createElementNS(SVGNS, tag);
    for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function slider(grid, id, label, min, max, step, value) {
    const lab = h("label", { for: id }, label);
    const input = h("input", { type: "range", id: id, min: min, max: max, step: step, value: value });
    const out = h("output", { for: id, id: id + "-value" });
    grid.append(lab, input, out);
    return { input: input, out: out };
  }

  function setValue(el, value, text) {
    el.dataset.value = String(value);
    el.textContent = text;
  }

  // ------------------------------------------------------------------ widget

  function build(el, data) {
    injectStyle();
    el.textContent = "";
    el.classList.add("llmkb-sampling");
    const V = data.vocab_size;

    const controls = h("div", { class: "s-controls" });
    const promptLab = h("label", { for: "sampling-prompt" }, "Prompt");
    const select = h("select", { id: "sampling-prompt" });
    data.prompts.forEach(function (pr, i) { select.appendChild(h("option", { value: String(i) }, JSON.stringify(pr))); });
    controls.append(promptLab, select, h("span"));
    const T = slider(controls, "sampling-temperature", "Temperature", 0, 2, 0.05, 1);
    const K = slider(controls, "sampling-top-k", "Top-k", 1, V, 1, V);
    const P = slider(controls, "sampling-top-p", "Top-p", 0.01, 1, 0.01, 1);
    el.appendChild(controls);

    const stats = h("div", { class: "s-stats" });
    function stat(label, id) {
      const span = h("span", {}, label + " ");
      const b = h("b", { id: id });
      span.appendChild(b);
      stats.appendChild(span);
      return b;
    }
    const outEntropy = stat("Entropy (nats):", "sampling-entropy");
    const outBits = stat("bits:", "sampling-entropy-bits");
    const outSurv = stat("Tokens that survive:", "sampling-survivors");
    const outTop = stat("Top token:", "sampling-top");
    el.appendChild(stats);

    const chart = s("svg", { id: "sampling-chart", viewBox: "0 0 640 200", role: "img" });
    let last = null; // the arguments of the last drawChart, to redraw at a new width
    el.appendChild(chart);
    el.appendChild(h("div", { class: "s-note" },
      "Bars: the distribution you sample from (top " + TOP_N + " bytes of the model). Dashed outline: the " +
      "model's own distribution (T = 1, no filters). Struck-out labels were filtered away."));

    const contHead = h("div", { class: "s-note", id: "sampling-grid-point" });
    const text = h("div", { class: "s-text", id: "sampling-continuation" });
    const again = h("button", { type: "button", class: "md-button", id: "sampling-next-sample" }, "another sample");
    el.append(h("p", { class: "s-note" }, "Continuation sampled by Python with llmkb at the nearest grid point:"),
      contHead, text, again);

    let sample = 0;

    function params() {
      const t = parseFloat(T.input.value);
      const kRaw = parseInt(K.input.value, 10);
      const k = kRaw >= V ? null : kRaw;
      const p = parseFloat(P.input.value);
      return { t: t, k: k, p: p };
    }

    function drawChart(logits, probs) {
      last = [logits, probs];
      const raw = window.llmkb.softmax(logits);
      const order = window.llmkb.descendingOrder(logits).slice(0, TOP_N);
      let ymax = 1e-12;
      for (const i of order) ymax = Math.max(ymax, probs[i], raw[i]);
      chart.textContent = "";
      const W = Math.max(200, Math.round(chart.getBoundingClientRect().width) || 640);
      const left = 4, top = 18, bw = (W - left) / TOP_N;
      const glyph = 0.62 * 12; // advance of a 12 px monospace glyph
      const upright = function (lab) { return lab.length * glyph > bw - 2; };
      let tallest = 0;
      for (const b of order) if (upright(window.llmkb.byteLabel(b))) tallest = Math.max(tallest, window.llmkb.byteLabel(b).length * glyph);
      const bottom = Math.max(30, Math.ceil(tallest) + 10);
      const H = Math.round(Math.min(200, Math.max(160, W * 0.3))) + bottom - 30;
      chart.setAttribute("viewBox", "0 0 " + W + " " + H);
      const scale = function (q) { return (H - top - bottom) * q / ymax; };
      chart.appendChild(s("text", { x: W - 2, y: 12, class: "s-axis", "text-anchor": "end" },
        "max " + ymax.toFixed(3)));
      order.forEach(function (b, j) {
        const x = left + j * bw;
        const hp = scale(probs[b]), hr = scale(raw[b]);
        const cut = !(probs[b] > 0);
        const bar = s("rect", {
          class: "s-bar" + (cut ? " s-cut" : ""), x: x + 3, width: bw - 6, y: H - bottom - hp, height: hp,
          "data-byte": String(b), "data-p": String(probs[b]),
        });
        bar.appendChild(s("title", {}, window.llmkb.byteLabel(b) + ": p = " + probs[b].toFixed(4) +
          " (model: " + raw[b].toFixed(4) + ")"));
        chart.appendChild(bar);
        chart.appendChild(s("rect", { class: "s-ghost", x: x + 3, width: bw - 6, y: H - bottom - hr, height: hr }));
        const lab = window.llmkb.byteLabel(b);
        const cls = "s-label" + (cut ? " s-cut" : "");
        chart.appendChild(upright(lab)
          ? s("text", { class: cls + " s-upright", x: x + bw / 2, y: H - bottom + 4,
                        transform: "rotate(90 " + (x + bw / 2) + " " + (H - bottom + 4) + ")" }, lab)
          : s("text", { class: cls, x: x + bw / 2, y: H - bottom + 15 }, lab));
      });
      chart.setAttribute("data-rendered", [T.input.value, K.input.value, P.input.value, select.value].join("|"));
    }

    function update() {
      const q = params();
      const pi = parseInt(select.value, 10);
      const logits = data.logits[pi];
      const probs = filteredProbs(logits, q.t, q.k, q.p);
      const hNats = window.llmkb.entropy(probs);
      T.out.textContent = q.t === 0 ? "0 (greedy)" : q.t.toFixed(2);
      K.out.textContent = q.k === null ? "off" : String(q.k);
      P.out.textContent = q.p >= 1 ? "1 (off)" : q.p.toFixed(2);
      setValue(outEntropy, hNats, hNats.toFixed(4));
      setValue(outBits, hNats / Math.LN2, (hNats / Math.LN2).toFixed(4));
      const n = survivors(probs);
      setValue(outSurv, n, n + " / " + V);
      let best = 0;
      for (let i = 1; i < V; i++) if (probs[i] > probs[best]) best = i;
      setValue(outTop, probs[best], window.llmkb.byteLabel(best) + " (" + probs[best].toFixed(3) + ")");
      drawChart(logits, probs);

      const g = data.grid;
      const ks = g.top_k.map(function (v) { return v === null ? V : v; });
      const it = nearestIndex(g.temperature, q.t);
      const ik = nearestIndex(ks, q.k === null ? V : q.k);
      const ip = nearestIndex(g.top_p, q.p);
      const setting = data.cells[it][ik][ip];
      const samples = data.continuations[pi][setting];
      const si = sample % samples.length;
      const tv = g.temperature[it], kv = g.top_k[ik], pv = g.top_p[ip];
      contHead.dataset.setting = String(setting);
      contHead.dataset.cell = [it, ik, ip].join(",");
      contHead.dataset.sample = String(si);
      contHead.textContent = "T = " + tv + (tv === 0 ? " (greedy: k and p do not matter)" :
        ", top-k = " + (kv === null ? "off" : kv) + ", top-p = " + (pv >= 1 ? "off" : pv)) +
        " \u00b7 sample " + (si + 1) + " of " + samples.length;
      text.textContent = "";
      text.append(h("span", { class: "s-prompt" }, data.prompts[pi]), document.createTextNode(samples[si]));
    }

    let width = 0;
    const sizes = new ResizeObserver(function () {
      if (!el.isConnected) { sizes.disconnect(); return; }
      const w = Math.round(chart.getBoundingClientRect().width);
      if (w !== width && last) { width = w; drawChart(last[0], last[1]); }
    });
    sizes.observe(chart);
    [T.input, K.input, P.input].forEach(function (inp) { inp.addEventListener("input", update); });
    [T.input, K.input, P.input].forEach(function (inp) { inp.addEventListener("change", update); });
    select.addEventListener("change", function () { sample = 0; update(); });
    again.addEventListener("click", function () { sample += 1; update(); });
    update();
    el.dataset.ready = "1";
  }

  function init(el) {
    el.textContent = "Loading the sampling dashboard\u2026";
    window.llmkb.fetchJSON(el.dataset.src).then(function (data) { build(el, data); }).catch(function (err) {
      el.textContent = "The sampling dashboard could not load its data.";
      console.error("llmkb sampling widget:", err);
    });
  }

  function register() { window.llmkb.register("sampling", init); }
  if (window.llmkb) register();
  else document.addEventListener("DOMContentLoaded", register);
})();
