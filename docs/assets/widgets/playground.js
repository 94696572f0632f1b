/* In-browser playground (docs/playground.md): the site's shared model, exported to ONNX at build time
   (`shared-model/onnx`), generates with onnxruntime-web (the wasm build the site serves from assets/ort/, one
   thread). Loaded on every page like every widget, it does nothing unless a [data-llmkb-widget="playground"]
   element exists, and only then imports ONNX Runtime.
   The graph takes input_ids (1, T), position_ids (T,) and past_key.l / past_value.l (1, H_kv, P, D) and returns
   logits (1, T, V) and present_key.l / present_value.l (1, H_kv, P + T, D): prefill feeds the prompt with empty
   pasts, each later step one token and the presents of the step before.
   Sampling mirrors llmkb.infer.sampling step for step, in float64: repetition penalty -> temperature (0: keep
   the first arg-max only and skip the rest) -> top-k (stable descending sort, lower id wins ties) -> top-p (drop
   a sorted token when the mass strictly before it is >= p) -> min-p (drop p_i < min_p * max p) -> softmax; then
   an inverse-CDF draw with a seeded PRNG (mulberry32), so a seed reproduces its tokens. The step report and the
   KV panel mirror llmkb.infer.step_report. Bytes become text through a streaming TextDecoder, so a character
   split over several tokens appears once its last byte arrives. */
(function () {
  "use strict";

  const SCRIPT = document.currentScript ? document.currentScript.src : "";
  const TOP_N = 10;
  const CSS = [
    ".llmkb-pg{border:1px solid var(--md-default-fg-color--lightest);border-radius:6px;padding:.8em 1em;margin:1em 0}",
    ".llmkb-pg textarea{width:100%;box-sizing:border-box;font-family:var(--md-code-font-family,monospace);" +
      "font-size:.85em;color:var(--md-default-fg-color);background:var(--md-code-bg-color);border:1px solid " +
      "var(--md-default-fg-color--lighter);border-radius:4px;padding:.4em}",
    ".llmkb-pg .pg-controls{display:grid;grid-template-columns:repeat(auto-fill,minmax(9.5em,1fr));gap:.4em .8em;" +
      "margin:.5em 0;font-size:.85em}",
    ".llmkb-pg .pg-controls label{display:flex;flex-direction:column;gap:.15em}",
    ".llmkb-pg .pg-controls label.pg-check{flex-direction:row;align-items:center;gap:.5em}",
    ".llmkb-pg .pg-controls input[type=number]{font:inherit;width:100%;box-sizing:border-box;" +
      "color:var(--md-default-fg-color);background:var(--md-default-bg-color);" +
      "border:1px solid var(--md-default-fg-color--lighter);border-radius:4px}",
    ".llmkb-pg .pg-buttons{display:flex;flex-wrap:wrap;gap:.5em;margin:.4em 0}",
    ".llmkb-pg .pg-out{white-space:pre-wrap;font-family:var(--md-code-font-family,monospace);font-size:.85em;" +
      "background:var(--md-code-bg-color);padding:.5em .7em;border-radius:4px;max-height:14em;overflow:auto;" +
      "overflow-wrap:anywhere;min-height:2.5em}",
    ".llmkb-pg .pg-prompt{font-weight:bold;opacity:.75}",
    ".llmkb-pg .pg-stats{display:flex;flex-wrap:wrap;gap:.3em 1.4em;margin:.5em 0;font-size:.85em}",
    ".llmkb-pg .pg-stats b{font-variant-numeric:tabular-nums}",
    ".llmkb-pg .pg-tables{display:flex;flex-wrap:wrap;gap:1em}",
    ".llmkb-pg .pg-tables table{font-size:.8em;border-collapse:collapse;min-width:12em;" +
      "border:1px solid var(--md-default-fg-color--lightest)}",
    ".llmkb-pg .pg-tables caption{font-weight:bold;text-align:left;padding:.2em .5em}",
    ".llmkb-pg .pg-tables td,.llmkb-pg .pg-tables th{padding:.1em .5em;text-align:left}",
    ".llmkb-pg .pg-tables td.pg-p{text-align:right;font-variant-numeric:tabular-nums}",
    ".llmkb-pg .pg-tables tr.pg-chosen{font-weight:bold;background:var(--md-accent-fg-color--transparent)}",
    ".llmkb-pg .pg-note{font-size:.8em;color:var(--md-default-fg-color--light)}",
  ].join("\n");

  // ------------------------------------------------------------------ math (mirrors llmkb.infer.sampling)

  // softmax, descendingOrder, entropy and byteLabel are shared by the widgets: window.llmkb (docs/assets/llmkb.js),
  // looked up when called (a widget's script may run before llmkb.js)

  function argmax(l) {
    let a = 0;
    for (let i = 1; i < l.length; i++) if (l[i] > l[a]) a = i; // first maximal index
    return a;
  }

  /** The canonical pipeline on logits (an Array of numbers); cfg: {temperature, topK, topP, minP, repetitionPenalty}
      with topK null/0, topP >= 1 and minP 0 meaning off; history: token ids so far. */
  function filteredLogits(logits, cfg, history) {
    const V = logits.length;
    let l = Array.from(logits);
    const r = cfg.repetitionPenalty;
    if (r !== 1 && history && history.length) {
      const seen = new Set(history.filter(function (i) { return i >= 0; }));
      l = l.map(function (v, i) { return seen.has(i) ? (v > 0 ? v / r : v * r) : v; });
    }
    const t = cfg.temperature;
    if (t === 0) {
      const a = argmax(l);
      return l.map(function (v, i) { return i === a ? v : -Infinity; });
    }
    if (t !== 1) {
      let m = -Infinity;
      for (const v of l) if (v > m) m = v;
      if (!isFinite(m)) m = 0;
      l = l.map(function (v) { const d = v - m; return d === 0 ? d : d / t; });
    }
    if (cfg.topK && cfg.topK < V) {
      const order = window.llmkb.descendingOrder(l);
      for (let j = cfg.topK; j < V; j++) l[order[j]] = -Infinity;
    }
    if (cfg.topP !== null && cfg.topP < 1) {
      const probs = window.llmkb.softmax(l);
      const order = window.llmkb.descendingOrder(probs);
      let cum = 0;
      const drop = [];
      for (const i of order) { cum += probs[i]; if (cum - probs[i] >= cfg.topP) drop.push(i); }
      for (const i of drop) l[i] = -Infinity;
    }
    if (cfg.minP > 0) {
      const probs = window.llmkb.softmax(l);
      let mx = 0;
      for (const q of probs) if (q > mx) mx = q;
      const thr = cfg.minP * mx;
      l = l.map(function (v, i) { return probs[i] < thr ? -Infinity : v; });
    }
    return l;
  }

  function filteredProbs(logits, cfg, history) { return window.llmkb.softmax(filteredLogits(logits, cfg, history)); }

  function topTokens(probs, k) {
    return window.llmkb.descendingOrder(probs).slice(0, k).map(function (i) { return [i, probs[i]]; });
  }

  /** mulberry32: a small seeded PRNG, uniform in [0, 1). */
  function rng(seed) {
    let a = seed >>> 0;
    return function () {
      a = (a + 0x6d2b79f5) >>> 0;
      let t = a;
      t = Math.imul(t ^ (t >>> 15), t | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  /** The next token: arg-max of the penalized logits when greedy (no random number used), else a draw. */
  function chooseToken(logits, cfg, history, random) {
    const after = filteredProbs(logits, cfg, history);
    if (cfg.temperature === 0) return { id: argmax(after), after: after };
    const u = random();
    let cum = 0, last = 0;
    for (let i = 0; i < after.length; i++) {
      if (after[i] <= 0) continue;
      cum += after[i];
      last = i;
      if (u < cum) return { id: i, after: after };
    }
    return { id: last, after: after }; // rounding left u above the total
  }

  /** As llmkb.infer.step_report.kv_panel. */
  function kvPanel(nLayers, kvHeads, headDim, length, windowSize, bytesPer) {
    const per = 2 * nLayers * kvHeads * headDim * (bytesPer || 4);
    const kept = windowSize ? Math.min(length, windowSize) : length;
    return { entries_per_layer: length, bytes: per * length, window_kept: kept,
      window_evicted: length - kept, window_bytes: per * kept };
  }

  window.llmkbPlayground = {
    filteredLogits: filteredLogits, filteredProbs: filteredProbs, topTokens: topTokens, chooseToken: chooseToken,
    rng: rng, kvPanel: kvPanel, state: null,
    entropy: function (p) { return window.llmkb.entropy(p); },
    byteLabel: function (b) { return window.llmkb.byteLabel(b); },
  };

  // ------------------------------------------------------------------ ONNX Runtime (loaded on first use)

  let ortPromise = null;
  const sessions = {};

  function loadOrt() {
    if (!ortPromise) {
      const base = new URL("../ort/", SCRIPT || location.href).href;
      ortPromise = import(base + "ort.wasm.min.mjs").then(function (ort) {
        ort.env.wasm.wasmPaths = base;
        ort.env.wasm.numThreads = 1;
        ort.env.wasm.proxy = false;
        return ort;
      });
    }
    return ortPromise;
  }

  function loadSession(modelUrl) {
    if (!sessions[modelUrl]) {
      sessions[modelUrl] = loadOrt().then(function (ort) {
        return ort.InferenceSession.create(modelUrl, { executionProviders: ["wasm"] }).then(function (s) {
          return { ort: ort, session: s };
        });
      });
    }
    return sessions[modelUrl];
  }

  // ------------------------------------------------------------------ widget

  function h(tag, attrs, text) { return window.llmkb.el(tag, attrs, text); }

  function numberInput(grid, id, label, value, min, max, step) {
    const input = h("input", { type: "number", id: id, value: String(value), min: String(min), max: String(max),
      step: String(step) });
    const lab = h("label", { for: id }, label);
    lab.appendChild(input);
    grid.appendChild(lab);
    return input;
  }

  function fmt(p) { return p.toFixed(4); }

  function build(el, data, dataUrl, rt) {
    window.llmkb.injectStyle("llmkb-playground-style", CSS);
    el.textContent = "";
    el.classList.add("llmkb-pg");
    const V = data.vocab_size, L = data.n_layers, H = data.kv_heads, D = data.head_dim;
    const ort = rt.ort, session = rt.session;

    const prompt = h("textarea", { id: "pg-prompt", rows: "3", "aria-label": "Prompt" });
    prompt.value = data.prompts[0];
    const examples = h("div", { class: "pg-buttons" });
    data.prompts.forEach(function (p, i) {
      const b = h("button", { type: "button", class: "md-button", "data-example": String(i) }, JSON.stringify(p));
      b.addEventListener("click", function () { prompt.value = p; reset(); });
      examples.appendChild(b);
    });
    const grid = h("div", { class: "pg-controls" });
    const inMax = numberInput(grid, "pg-max", "Max new tokens", 48, 1, data.max_seq_len, 1);
    const inT = numberInput(grid, "pg-temperature", "Temperature", 0.8, 0, 5, 0.05);
    const inK = numberInput(grid, "pg-top-k", "Top-k (0 = off)", 40, 0, V, 1);
    const inP = numberInput(grid, "pg-top-p", "Top-p (1 = off)", 0.95, 0.01, 1, 0.01);
    const inMinP = numberInput(grid, "pg-min-p", "Min-p (0 = off)", 0, 0, 1, 0.01);
    const inR = numberInput(grid, "pg-rep", "Repetition penalty", 1, 0.05, 5, 0.05);
    const inSeed = numberInput(grid, "pg-seed", "Seed", 0, 0, 4294967295, 1);
    const inW = numberInput(grid, "pg-window", "Sliding window W", 64, 1, data.max_seq_len, 1);
    const greedyLab = h("label", { for: "pg-greedy", class: "pg-check" }, "Greedy (temperature 0)");
    const inGreedy = h("input", { type: "checkbox", id: "pg-greedy" });
    greedyLab.appendChild(inGreedy);
    grid.appendChild(greedyLab);
    const buttons = h("div", { class: "pg-buttons" });
    const bRun = h("button", { type: "button", id: "pg-run", class: "md-button md-button--primary" }, "Run");
    const bStep = h("button", { type: "button", id: "pg-step", class: "md-button" }, "Step (one token)");
    const bReset = h("button", { type: "button", id: "pg-reset", class: "md-button" }, "Reset");
    buttons.append(bRun, bStep, bReset);
    const out = h("div", { class: "pg-out", id: "pg-output", "aria-live": "polite" });
    const stats = h("div", { class: "pg-stats" });
    function stat(label, id) {
      const span = h("span", {}, label + " ");
      const b = h("b", { id: id }, "\u2013");
      span.appendChild(b);
      stats.appendChild(span);
      return b;
    }
    const sChosen = stat("Chosen:", "pg-chosen");
    const sEntB = stat("Entropy before (nats):", "pg-entropy-before");
    const sEnt = stat("after filters:", "pg-entropy");
    const sSurv = stat("Tokens left:", "pg-survivors");
    const sFirst = stat("First token:", "pg-first-token");
    const sRate = stat("Decode:", "pg-rate");
    const kv = h("div", { class: "pg-stats", id: "pg-kv" });
    const tables = h("div", { class: "pg-tables" });
    const tBefore = h("table", { id: "pg-before", class: "pg-table" }); // a class: not Material's table style
    const tAfter = h("table", { id: "pg-after", class: "pg-table" });
    tables.append(tBefore, tAfter);
    el.append(prompt, examples, grid, buttons, out, stats, tables, kv,
      h("div", { class: "pg-note" }, "Left: the model's own next-byte distribution; right: the distribution " +
        "the token is drawn from, after every filter. Bytes outside printable ASCII show as xNN."));

    let st = null; // the current generation

    function config() {
      const t = inGreedy.checked ? 0 : Math.max(0, Number(inT.value));
      const k = Math.floor(Number(inK.value));
      return { temperature: t, topK: k > 0 ? k : null, topP: Math.min(1, Number(inP.value) || 1),
        minP: Math.max(0, Number(inMinP.value) || 0), repetitionPenalty: Number(inR.value) || 1 };
    }

    function reset() {
      st = null;
      out.textContent = "";
      el.dataset.status = "ready";
      window.llmkbPlayground.state = null;
    }

    function emptyPast() {
      const past = [];
      for (let i = 0; i < 2 * L; i++) past.push(new ort.Tensor("float32", new Float32Array(0), [1, H, 0, D]));
      return past;
    }

    async function forward(ids, past, start) {
      const T = ids.length;
      const feeds = {
        input_ids: new ort.Tensor("int64", BigInt64Array.from(ids, function (i) { return BigInt(i); }), [1, T]),
        position_ids: new ort.Tensor("int64", BigInt64Array.from(ids, function (_, i) { return BigInt(start + i); }), [T]),
      };
      for (let l = 0; l < L; l++) { feeds["past_key." + l] = past[2 * l]; feeds["past_value." + l] = past[2 * l + 1]; }
      const res = await session.run(feeds);
      const all = res.logits.data; // (1, T, V) float32
      const last = Array.from(all.subarray((T - 1) * V, T * V));
      const present = [];
      for (let l = 0; l < L; l++) present.push(res["present_key." + l], res["present_value." + l]);
      return { logits: last, present: present };
    }

    function start() {
      const ids = Array.from(new TextEncoder().encode(prompt.value));
      if (!ids.length) throw new Error("the prompt is empty");
      st = { ids: ids, promptLen: ids.length, past: null, logits: null, random: rng(Number(inSeed.value) >>> 0),
        decoder: new TextDecoder("utf-8"), text: "", steps: [], firstMs: null, decodeMs: 0 };
      window.llmkbPlayground.state = st;
      out.textContent = "";
      out.append(h("span", { class: "pg-prompt" }, prompt.value), h("span", { id: "pg-generated" }));
    }

    async function step() {
      if (!st) start();
      if (st.ids.length >= data.max_seq_len) return false;
      const t0 = performance.now();
      if (st.logits === null) {
        const r = await forward(st.ids, emptyPast(), 0);
        st.logits = r.logits; st.past = r.present;
      } else {
        const r = await forward([st.ids[st.ids.length - 1]], st.past, st.ids.length - 1);
        st.logits = r.logits; st.past = r.present;
      }
      const cfg = config();
      const before = window.llmkb.softmax(st.logits);
      const pick = chooseToken(st.logits, cfg, st.ids, st.random);
      const ms = performance.now() - t0;
      if (st.firstMs === null) st.firstMs = ms; else st.decodeMs += ms;
      const rec = { chosen: pick.id, before: topTokens(before, TOP_N), after: topTokens(pick.after, TOP_N),
        entropyBefore: window.llmkb.entropy(before), entropyAfter: window.llmkb.entropy(pick.after),
        survivors: pick.after.filter(function (q) { return q > 0; }).length, cacheLength: st.past[0].dims[2] };
      st.steps.push(rec);
      st.ids.push(pick.id);
      st.text += st.decoder.decode(new Uint8Array([pick.id]), { stream: true });
      document.getElementById("pg-generated").textContent = st.text;
      show(rec);
      return true;
    }

    function table(t, rows, title, chosen) {
      t.textContent = "";
      t.appendChild(h("caption", {}, title));
      rows.forEach(function (r) {
        const tr = h("tr", { "data-id": String(r[0]), "data-p": String(r[1]) });
        if (r[0] === chosen) tr.classList.add("pg-chosen");
        tr.append(h("td", {}, window.llmkb.byteLabel(r[0])), h("td", { class: "pg-p" }, fmt(r[1])));
        t.appendChild(tr);
      });
    }

    function setStat(b, value, text) { b.dataset.value = String(value); b.textContent = text; }

    function show(rec) {
      table(tBefore, rec.before, "Before filters", rec.chosen);
      table(tAfter, rec.after, "After filters", rec.chosen);
      setStat(sChosen, rec.chosen, window.llmkb.byteLabel(rec.chosen) + " (" + rec.chosen + ")");
      setStat(sEntB, rec.entropyBefore, rec.entropyBefore.toFixed(3));
      setStat(sEnt, rec.entropyAfter, rec.entropyAfter.toFixed(3));
      setStat(sSurv, rec.survivors, rec.survivors + " / " + V);
      if (st.firstMs !== null) setStat(sFirst, st.firstMs, st.firstMs.toFixed(1) + " ms");
      const n = st.steps.length - 1;
      if (n > 0) { const rate = 1000 * n / st.decodeMs; setStat(sRate, rate, rate.toFixed(0) + " tokens/s"); }
      showKv(rec.cacheLength);
    }

    function showKv(length) {
      const W = Math.max(1, Math.floor(Number(inW.value)) || 1);
      const p = kvPanel(L, H, D, length, W, 4);
      let bytes = 0;
      for (const t of st.past) bytes += t.data.byteLength; // what the session actually returned
      kv.textContent = "";
      kv.dataset.length = String(length);
      kv.dataset.bytes = String(bytes);
      kv.dataset.evicted = String(p.window_evicted);
      const gone = st.ids.slice(0, p.window_evicted);
      const goneText = new TextDecoder("utf-8").decode(new Uint8Array(gone.slice(-24)));
      kv.append(
        h("span", {}, "KV cache: " + L + " layers \u00d7 " + p.entries_per_layer + " positions"),
        h("span", {}, (bytes / 1024).toFixed(1) + " KiB (float32 keys and values)"),
        h("span", {}, "a window of " + W + " would keep " + p.window_kept + " and evict " + p.window_evicted +
          (p.window_evicted ? " (positions 0\u2013" + (p.window_evicted - 1) + ", ending \u201c" + goneText + "\u201d)" : "")));
    }

    let busy = false;
    async function guarded(fn) {
      if (busy) return;
      busy = true;
      el.dataset.status = "running";
      try { await fn(); el.dataset.status = "done"; } catch (err) {
        el.dataset.status = "error";
        out.textContent = "Generation failed: " + err.message;
        console.error("llmkb playground:", err);
      } finally { busy = false; }
    }

    bRun.addEventListener("click", function () {
      guarded(async function () {
        reset();
        start();
        const n = Math.max(1, Math.floor(Number(inMax.value)) || 1);
        for (let i = 0; i < n; i++) {
          if (!(await step())) break;
          if (i % 8 === 7) await new Promise(function (r) { setTimeout(r, 0); }); // let the page paint
        }
      });
    });
    bStep.addEventListener("click", function () { guarded(step); });
    bReset.addEventListener("click", reset);
    inW.addEventListener("input", function () { if (st && st.past) showKv(st.past[0].dims[2]); });
    prompt.addEventListener("input", function () { st = null; });
    reset();
    el.dataset.ready = "1";
  }

  function init(el) {
    el.textContent = "Loading the model and ONNX Runtime\u2026";
    const dataUrl = new URL(el.dataset.src, location.href).href;
    const t0 = performance.now();
    window.llmkb.fetchJSON(el.dataset.src).then(function (data) {
      const modelUrl = new URL(data.artifacts.model, dataUrl).href;
      return loadSession(modelUrl).then(function (rt) {
        el.dataset.loadMs = String(performance.now() - t0);
        build(el, data, dataUrl, rt);
      });
    }).catch(function (err) {
      el.textContent = "The playground could not load its model: " + err.message;
      console.error("llmkb playground:", err);
    });
  }

  function register() { window.llmkb.register("playground", init); }
  if (window.llmkb) register();
  else document.addEventListener("DOMContentLoaded", register);
})();
