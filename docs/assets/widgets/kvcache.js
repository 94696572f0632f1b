/* KV-cache hit/miss step-through (06-kv-cache). Data: the `kv-cache/hitmiss` experiment's traces, recorded on
   the shared model at build time — one grid per scenario, one row per forward call, one column per token
   position, cells coded 0 empty, 1 hit (read from the cache), 2 miss (computed), 3 evicted (gone).
   Pick a scenario, then step through the forward calls: rows up to the current call are filled, later ones
   drawn as a frame in the same colour around a faded centre; the current row's counts and the running hit rate
   are shown in #kvcache-stats, whose data-* attributes carry the same numbers for tests. The position labels
   (`chars`) come from the lab with the kit's glyphs (llmkb.lab.kit.labels: printable ASCII itself, ␣ space,
   ⏎ newline, ⇥ tab, xNN any other byte).
   Drawing: canvas at devicePixelRatio; cells never narrower than MIN_CELL CSS px, so on a phone the grid
   scrolls sideways in its frame (following the current call) instead of shrinking its labels. Colours: the
   lab's light palette (`colors`, the figures' colours) or its dark one (`colors_dark`), picked by the
   luminance of Material's --md-default-bg-color and re-picked when the palette changes. The canvas carries
   data-font-px, data-cell, data-label-h, data-scheme, data-colors and data-label-color for tests. */
(function () {
  "use strict";

  const FONT_PX = 12; // the position labels, CSS px
  const MIN_CELL = 15; // narrowest cell, CSS px: a 12 px glyph fits with a gap
  const MAX_CELL = 22;
  const CURRENT = { light: "#d01884", dark: "#ff6bb5" }; // outline of the current call

  const CSS = [
    ".llmkb-kvcache{border:1px solid var(--md-default-fg-color--lightest);border-radius:6px;padding:.8em 1em;margin:1em 0}",
    ".llmkb-kvcache .kv-modes{display:flex;flex-wrap:wrap;gap:.4em;margin-bottom:.6em}",
    ".llmkb-kvcache button{font:inherit;font-size:.85em;line-height:1.6;cursor:pointer;background:none;" +
      "color:var(--md-default-fg-color);border:1px solid var(--md-default-fg-color--lighter)}",
    ".llmkb-kvcache .kv-modes button{border-radius:4px;padding:.15em .7em}",
    ".llmkb-kvcache button[aria-pressed=true]{background:var(--md-primary-fg-color);" +
      "color:var(--md-primary-bg-color);border-color:var(--md-primary-fg-color)}",
    ".llmkb-kvcache button:hover{border-color:var(--md-accent-fg-color)}",
    ".llmkb-kvcache .kv-step{display:grid;grid-template-columns:auto minmax(4em,1fr) auto;gap:.6em;align-items:center}",
    ".llmkb-kvcache .kv-buttons{display:inline-flex}",
    ".llmkb-kvcache .kv-buttons button{padding:.15em .6em;min-width:2.6em;border-radius:0;margin-left:-1px}",
    ".llmkb-kvcache .kv-buttons button:first-child{border-radius:4px 0 0 4px;margin-left:0}",
    ".llmkb-kvcache .kv-buttons button:last-child{border-radius:0 4px 4px 0}",
    ".llmkb-kvcache .kv-buttons button.kv-play{min-width:4.2em}",
    ".llmkb-kvcache .kv-step input[type=range]{width:100%;min-width:0}",
    ".llmkb-kvcache .kv-step output{font-size:.9em;font-variant-numeric:tabular-nums;white-space:nowrap}",
    ".llmkb-kvcache .kv-scroll{overflow-x:auto;max-width:100%;margin:.6em 0}",
    ".llmkb-kvcache canvas{display:block}",
    ".llmkb-kvcache .kv-title{font-weight:bold;font-size:.9em;margin:.2em 0}",
    ".llmkb-kvcache .kv-stats{font-size:.9em;font-variant-numeric:tabular-nums}",
    ".llmkb-kvcache .kv-legend{display:flex;flex-wrap:wrap;gap:.3em 1.2em;font-size:.8em;margin-top:.3em}",
    ".llmkb-kvcache .kv-legend span::before{content:'';display:inline-block;width:.9em;height:.9em;" +
      "margin-right:.35em;vertical-align:-.1em;background:var(--kv-c)}",
  ].join("\n");

  function injectStyle() { window.llmkb.injectStyle("llmkb-kvcache-style", CSS); }

  function make(tag, attrs, text) { return window.llmkb.el(tag, attrs, text); }

  /** Counts of each state (0..3) in one row. */
  function rowCounts(row) {
    const c = [0, 0, 0, 0];
    row.forEach(function (v) { c[v] += 1; });
    return c;
  }

  const rgba = window.llmkb.rgba;  // shared colour helpers (llmkb.js)
  const luminance = window.llmkb.luminance;

  /** `a` mixed with `b`: t = 0 is a, t = 1 is b (opaque result). */
  function mix(a, b, t) {
    const x = rgba(a), y = rgba(b);
    return "rgb(" + [0, 1, 2].map(function (i) { return Math.round(x[i] + (y[i] - x[i]) * t); }).join(",") + ")";
  }

  /** The palette for the page's current background. */
  function palette(el, data) {
    const bgVar = getComputedStyle(el).getPropertyValue("--md-default-bg-color").trim() || "#fff";
    const bg = rgba(bgVar);
    const dark = luminance(bg) < 0.4 && bg[3] > 0;
    return {
      dark: dark,
      bg: "rgb(" + bg.slice(0, 3).join(",") + ")",
      states: dark && data.colors_dark ? data.colors_dark : data.colors,
      current: dark ? CURRENT.dark : CURRENT.light,
    };
  }

  /** Draw the grid; returns its geometry in CSS px. */
  function draw(canvas, mode, step, pal, avail) {
    const grid = mode.grid;
    const rows = grid.length;
    const cols = rows ? grid[0].length : 0;
    const cell = Math.max(MIN_CELL, Math.min(MAX_CELL, Math.floor(avail / Math.max(cols, 1))));
    const chars = mode.chars[step] || [];
    const ctx = canvas.getContext("2d");
    ctx.font = FONT_PX + "px monospace";
    let longest = 0;
    chars.forEach(function (ch) { if (ch.length > 1) longest = Math.max(longest, ctx.measureText(ch).width); });
    const labelH = Math.ceil(Math.max(FONT_PX + 6, longest + 6)); // multi-glyph labels (xNN) stand upright
    const w = cols * cell, h = rows * cell + labelH;
    const r = window.devicePixelRatio || 1;
    canvas.width = Math.round(w * r);
    canvas.height = Math.round(h * r);
    canvas.style.width = w + "px";
    canvas.style.height = h + "px";
    ctx.setTransform(r, 0, 0, r, 0, 0);
    ctx.clearRect(0, 0, w, h);
    const faded = pal.states.map(function (c) { return mix(c, pal.bg, 0.8); });
    for (let rr = 0; rr < rows; rr++) {
      for (let c = 0; c < cols; c++) {
        const s = grid[rr][c];
        const x = c * cell, y = rr * cell;
        ctx.fillStyle = pal.states[s];
        ctx.fillRect(x, y, cell - 1, cell - 1);
        if (rr > step && s !== 0) { // a later call: a thin frame in the state's colour around a faded centre
          ctx.fillStyle = faded[s];
          ctx.fillRect(x + 1, y + 1, cell - 3, cell - 3);
        }
      }
    }
    ctx.strokeStyle = pal.current;
    ctx.lineWidth = 2;
    ctx.strokeRect(1, step * cell + 1, w - 2, cell - 2);
    const label = getComputedStyle(canvas).color || "#000";
    ctx.fillStyle = label;
    ctx.font = FONT_PX + "px monospace";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let c = 0; c < chars.length; c++) {
      if (chars[c].length > 1) {
        ctx.save();
        ctx.translate(c * cell + cell / 2 - FONT_PX / 2, rows * cell + 3);
        ctx.rotate(Math.PI / 2);
        ctx.textAlign = "left";
        ctx.fillText(chars[c], 0, 0);
        ctx.restore();
      } else {
        ctx.fillText(chars[c], c * cell + cell / 2, rows * cell + 4);
      }
    }
    const ds = canvas.dataset;
    ds.fontPx = String(FONT_PX);
    ds.cell = String(cell);
    ds.labelH = String(labelH);
    ds.scheme = pal.dark ? "dark" : "light";
    ds.colors = JSON.stringify(pal.states);
    ds.labelColor = label;
    return { cell: cell, cols: cols };
  }

  window.llmkb.register("kvcache", function (el) {
    injectStyle();
    el.classList.add("llmkb-kvcache");
    const status = make("p", { class: "kv-stats" }, "loading the traces…");
    el.appendChild(status);
    window.llmkb
      .fetchJSON(el.dataset.src)
      .then(function (data) {
        el.textContent = "";
        const modes = data.modes;
        const names = data.states;
        let current = 0;
        let step = 0;
        let timer = null;

        const bar = make("div", { class: "kv-modes", role: "group", "aria-label": "scenario" });
        const buttons = modes.map(function (m, i) {
          const b = make("button", { type: "button", "data-mode": m.name, "aria-pressed": "false" }, m.name);
          b.addEventListener("click", function () { selectMode(i); });
          bar.appendChild(b);
          return b;
        });
        const title = make("div", { class: "kv-title" });
        const controls = make("div", { class: "kv-step" });
        const group = make("div", { class: "kv-buttons", role: "group", "aria-label": "step through the calls" });
        const prev = make("button", { type: "button", "aria-label": "previous call" }, "◀");
        const play = make("button", { type: "button", id: "kvcache-play", class: "kv-play", "aria-pressed": "false" },
          "play");
        const next = make("button", { type: "button", "aria-label": "next call" }, "▶");
        group.append(prev, play, next);
        const slider = make("input", { type: "range", id: "kvcache-step", min: "0", step: "1", value: "0",
          "aria-label": "forward call" });
        const stepOut = make("output", { for: "kvcache-step" });
        controls.append(group, slider, stepOut);
        const scroll = make("div", { class: "kv-scroll" });
        const canvas = make("canvas", { role: "img", "aria-label": "hit/miss grid" });
        scroll.appendChild(canvas);
        const stats = make("p", { class: "kv-stats", id: "kvcache-stats", "aria-live": "polite" });
        const legend = make("div", { class: "kv-legend" });
        const swatches = [1, 2, 3].map(function (s) {
          const item = make("span", {}, names[s]);
          legend.appendChild(item);
          return item;
        });
        [bar, title, controls, scroll, legend, stats].forEach(function (x) { el.appendChild(x); });

        function paint() {
          const mode = modes[current];
          const pal = palette(el, data);
          swatches.forEach(function (item, i) { item.style.setProperty("--kv-c", pal.states[i + 1]); });
          const geo = draw(canvas, mode, step, pal, scroll.clientWidth);
          // keep the newest position of the current call in view when the grid scrolls
          const row = mode.grid[step];
          let newest = 0;
          for (let c = 0; c < row.length; c++) if (row[c] !== 0) newest = c;
          const right = (newest + 1) * geo.cell, view = scroll.clientWidth;
          if (right > scroll.scrollLeft + view || right - geo.cell < scroll.scrollLeft) {
            scroll.scrollLeft = Math.max(0, right - view + geo.cell);
          }
        }

        function render() {
          const mode = modes[current];
          slider.max = String(mode.grid.length - 1);
          slider.value = String(step);
          stepOut.textContent = (step + 1) + " / " + mode.grid.length;
          title.textContent = mode.title;
          paint();
          const c = rowCounts(mode.grid[step]);
          let hits = 0, misses = 0;
          for (let r = 0; r <= step; r++) {
            const rc = rowCounts(mode.grid[r]);
            hits += rc[1];
            misses += rc[2];
          }
          const rate = hits + misses ? hits / (hits + misses) : 0;
          stats.textContent = mode.labels[step] + ": " + c[1] + " reused (hit), " + c[2] + " computed (miss), " +
            c[3] + " evicted. Running hit rate " + rate.toFixed(3) + " (" + hits + " hits, " + misses +
            " misses so far).";
          stats.dataset.mode = mode.name;
          stats.dataset.step = String(step);
          stats.dataset.hits = String(c[1]);
          stats.dataset.misses = String(c[2]);
          stats.dataset.evicted = String(c[3]);
          stats.dataset.rate = rate.toFixed(6);
        }
        function stop() {
          if (timer !== null) clearInterval(timer);
          timer = null;
          play.textContent = "play";
          play.setAttribute("aria-pressed", "false");
        }
        function selectMode(i) {
          stop();
          current = i;
          step = 0;
          buttons.forEach(function (b, j) { b.setAttribute("aria-pressed", String(i === j)); });
          render();
        }
        function go(s) {
          const last = modes[current].grid.length - 1;
          step = Math.max(0, Math.min(last, s));
          render();
        }
        slider.addEventListener("input", function () { stop(); go(parseInt(slider.value, 10)); });
        prev.addEventListener("click", function () { stop(); go(step - 1); });
        next.addEventListener("click", function () { stop(); go(step + 1); });
        play.addEventListener("click", function () {
          if (timer !== null) { stop(); return; }
          if (step >= modes[current].grid.length - 1) step = -1;
          play.textContent = "pause";
          play.setAttribute("aria-pressed", "true");
          timer = setInterval(function () {
            if (!document.body.contains(el) || step >= modes[current].grid.length - 1) { stop(); return; }
            go(step + 1);
          }, 350);
        });

        // repaint at a new width, and with the other palette when the reader switches it
        let width = scroll.clientWidth;
        function detached() {
          if (el.isConnected) return false;
          sizes.disconnect();
          scheme.disconnect();
          if (media) media.removeEventListener("change", paint);
          return true;
        }
        const sizes = new ResizeObserver(function () {
          if (detached() || scroll.clientWidth === width) return;
          width = scroll.clientWidth;
          paint();
        });
        sizes.observe(el);
        const scheme = new MutationObserver(function () { if (!detached()) paint(); });
        scheme.observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
        const media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
        if (media) media.addEventListener("change", paint);

        selectMode(Math.min(1, modes.length - 1));
        el.dataset.ready = "1";
      })
      .catch(function (err) {
        status.textContent = "Could not load the cache traces.";
        console.error(err);
      });
  });
})();
