/* KV-cache hit/miss step-through (06-kv-cache). Data: the `kv-cache/hitmiss` experiment's traces, recorded on
   the shared model at build time — one grid per scenario, one row per forward call, one column per token
   position, cells coded 0 empty, 1 hit (read from the cache), 2 miss (computed), 3 evicted (gone).
   Pick a scenario, then step through the forward calls: rows up to the current call are drawn in full,
   later ones faded; the current row's counts and the running hit rate are shown in #kvcache-stats, whose
   data-* attributes carry the same numbers for tests. The position labels (`chars`) come from the lab with the
   kit's glyphs (llmkb.lab.kit.labels: printable ASCII itself, ␣ space, ⏎ newline, ⇥ tab, xNN any other byte). */
(function () {
  "use strict";

  const CSS = [
    ".llmkb-kvcache{border:1px solid var(--md-default-fg-color--lightest);border-radius:6px;padding:.8em 1em;margin:1em 0}",
    ".llmkb-kvcache .kv-modes{display:flex;flex-wrap:wrap;gap:.4em;margin-bottom:.6em}",
    ".llmkb-kvcache .kv-modes button{border:1px solid var(--md-default-fg-color--lighter);border-radius:4px;" +
      "padding:.15em .7em;cursor:pointer;background:none;color:var(--md-default-fg-color);font-size:.85em}",
    ".llmkb-kvcache .kv-modes button[aria-pressed=true]{background:var(--md-primary-fg-color);" +
      "color:var(--md-primary-bg-color);border-color:var(--md-primary-fg-color)}",
    ".llmkb-kvcache .kv-step{display:grid;grid-template-columns:auto auto 1fr auto auto;gap:.5em;align-items:center}",
    ".llmkb-kvcache .kv-step input[type=range]{width:100%}",
    ".llmkb-kvcache .kv-step button{cursor:pointer;border:1px solid var(--md-default-fg-color--lighter);" +
      "border-radius:4px;background:none;color:var(--md-default-fg-color);min-width:2.2em}",
    ".llmkb-kvcache canvas{width:100%;display:block;margin:.6em 0;image-rendering:pixelated}",
    ".llmkb-kvcache .kv-title{font-weight:bold;font-size:.9em;margin:.2em 0}",
    ".llmkb-kvcache .kv-stats{font-size:.9em;font-variant-numeric:tabular-nums}",
    ".llmkb-kvcache .kv-legend{display:flex;gap:1.2em;font-size:.8em;margin-top:.3em}",
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

  function draw(canvas, mode, step, colors) {
    const grid = mode.grid;
    const rows = grid.length;
    const cols = rows ? grid[0].length : 0;
    const cell = Math.max(6, Math.min(22, Math.floor(720 / Math.max(cols, 1))));
    const labelH = 14;
    canvas.width = cols * cell;
    canvas.height = rows * cell + labelH;
    const ctx = canvas.getContext("2d");
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    for (let r = 0; r < rows; r++) {
      ctx.globalAlpha = r <= step ? 1 : 0.18;
      for (let c = 0; c < cols; c++) {
        ctx.fillStyle = colors[grid[r][c]];
        ctx.fillRect(c * cell, r * cell, cell - 1, cell - 1);
      }
    }
    ctx.globalAlpha = 1;
    ctx.strokeStyle = "#d01884";
    ctx.lineWidth = 2;
    ctx.strokeRect(1, step * cell + 1, cols * cell - 2, cell - 2);
    const chars = mode.chars[step] || [];
    ctx.fillStyle = getComputedStyle(canvas).color || "#000";
    ctx.font = Math.min(12, cell) + "px monospace";
    ctx.textAlign = "center";
    ctx.textBaseline = "top";
    for (let c = 0; c < chars.length; c++) ctx.fillText(chars[c], c * cell + cell / 2, rows * cell + 2);
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
        const colors = data.colors;
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
        const prev = make("button", { type: "button", "aria-label": "previous call" }, "◀");
        const next = make("button", { type: "button", "aria-label": "next call" }, "▶");
        const slider = make("input", { type: "range", id: "kvcache-step", min: "0", step: "1", value: "0",
          "aria-label": "forward call" });
        const play = make("button", { type: "button", id: "kvcache-play" }, "play");
        const stepOut = make("output", { for: "kvcache-step" });
        [prev, next, slider, stepOut, play].forEach(function (x) { controls.appendChild(x); });
        const canvas = make("canvas", { role: "img", "aria-label": "hit/miss grid" });
        const stats = make("p", { class: "kv-stats", id: "kvcache-stats", "aria-live": "polite" });
        const legend = make("div", { class: "kv-legend" });
        [1, 2, 3].forEach(function (s) {
          const item = make("span", {}, names[s]);
          item.style.setProperty("--kv-c", colors[s]);
          legend.appendChild(item);
        });
        [bar, title, controls, canvas, legend, stats].forEach(function (x) { el.appendChild(x); });

        function render() {
          const mode = modes[current];
          slider.max = String(mode.grid.length - 1);
          slider.value = String(step);
          stepOut.textContent = (step + 1) + " / " + mode.grid.length;
          title.textContent = mode.title;
          draw(canvas, mode, step, colors);
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
          timer = setInterval(function () {
            if (!document.body.contains(el) || step >= modes[current].grid.length - 1) { stop(); return; }
            go(step + 1);
          }, 350);
        });
        selectMode(Math.min(1, modes.length - 1));
        el.dataset.ready = "1";
      })
      .catch(function (err) {
        status.textContent = "Could not load the cache traces.";
        console.error(err);
      });
  });
})();
