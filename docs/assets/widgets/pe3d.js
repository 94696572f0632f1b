/* 3-D animation of position encodings (02-positional-embeddings). Data: the `positional-embeddings/animation`
   experiment's `widget` part, computed by llmkb at build time:
     rope.rotated[m]     a query vector after llmkb.nn.positional.apply_rotary at position m
                         (half-split pairs: channel i is paired with channel i + D/2);
     rope.theta[i]       the frequency of pair i (rope_inv_freq), radians per position;
     sinusoidal.table    sinusoidal_table(arange(N), d); sinusoidal.pca its first 3 principal components;
     learned.table/.pca  the trained learned table of the positional-embeddings/compare run (first seed).
   Nothing is recomputed here except in-between frames: between positions m and m+1 each RoPE pair is
   turned by frac * theta_i from the exported vector at m, and PCA points are interpolated linearly.
   Drawing: canvas 2D at devicePixelRatio, a small perspective projection (yaw around the vertical axis, then
   pitch), rotatable by dragging. The scale is fitted so that the scene stays inside its plot rectangle at every
   rotation (and the plot is clipped to it), above the sequence strip. Colours come from Material's CSS
   variables and are re-read when the palette changes (body[data-md-color-scheme], prefers-color-scheme).
   State for tests: data-frame (frames drawn), data-position, data-mode, data-scheme, data-font-px (smallest
   canvas font, CSS px), data-label-color, data-labels (θ label anchors [x, y]), data-plot (plot rectangle),
   data-bounds (bounding box of what the projection drew), data-strip (strip top, cell width, first, last). */
(function () {
  "use strict";

  const CSS = [
    ".llmkb-pe3d{border:1px solid var(--md-default-fg-color--lightest);border-radius:6px;padding:.7em .9em;margin:1em 0}",
    ".llmkb-pe3d .p-bar{display:flex;flex-wrap:wrap;gap:.4em .6em;align-items:center;margin-bottom:.5em}",
    ".llmkb-pe3d button{font:inherit;font-size:.8em;padding:.2em .7em;border-radius:4px;cursor:pointer;" +
      "border:1px solid var(--md-default-fg-color--lighter);background:transparent;color:var(--md-default-fg-color)}",
    ".llmkb-pe3d button[aria-pressed=true]{background:var(--md-primary-fg-color);color:var(--md-primary-bg-color);" +
      "border-color:var(--md-primary-fg-color)}",
    ".llmkb-pe3d input[type=range]{flex:1 1 12em;min-width:8em}",
    ".llmkb-pe3d .p-read{font-variant-numeric:tabular-nums;font-size:.85em;min-width:11em}",
    ".llmkb-pe3d .p-info{font-size:.8em;margin:.2em 0 .3em;color:var(--md-default-fg-color)}",
    ".llmkb-pe3d canvas{width:100%;display:block;touch-action:none;cursor:grab;border-radius:4px}",
    ".llmkb-pe3d canvas.p-drag{cursor:grabbing}",
    ".llmkb-pe3d .p-note{font-size:.8em;color:var(--md-default-fg-color--light);margin-top:.4em}",
  ].join("\n");

  const MODES = [
    { id: "rope", label: "RoPE" },
    { id: "sinusoidal", label: "Sinusoidal" },
    { id: "learned", label: "Learned (trained)" },
  ];
  const SPEED = 3; // positions per second while playing
  const FONT_PX = 12; // every text drawn on the canvas, in CSS px
  const MONO_CELL = 11; // narrowest cell of the sequence strip (a 12 px monospace glyph is ~7 px wide)
  const STRIP_H = 22; // height of the sequence strip at the bottom
  const DIST = 8; // camera distance (scene units)

  function injectStyle() { window.llmkb.injectStyle("llmkb-pe3d-style", CSS); }

  function make(tag, attrs, text) { return window.llmkb.el(tag, attrs, text); }

  function cssVar(el, name, fallback) {
    const v = getComputedStyle(el).getPropertyValue(name).trim();
    return v || fallback;
  }

  // ------------------------------------------------------------------ colours

  const rgba = window.llmkb.rgba;  // shared colour helpers (llmkb.js)
  const luminance = window.llmkb.luminance;

  /** The page's colours, resolved now (the palette may have changed since the last frame). */
  function palette(el) {
    const bg = cssVar(el, "--md-default-bg-color", "#fff");
    const dark = luminance(rgba(bg)) < 0.4;
    const accent = cssVar(el, "--md-accent-fg-color", "#e8710a");
    return {
      dark: dark,
      bg: bg,
      fg: cssVar(el, "--md-default-fg-color", dark ? "#e2e4e9" : "#222"),
      faint: cssVar(el, "--md-default-fg-color--lightest", dark ? "rgba(255,255,255,.12)" : "rgba(0,0,0,.12)"),
      accent: accent,
      onAccent: luminance(rgba(accent)) > 0.3 ? "#000" : "#fff",
      light: dark ? 68 : 42, // lightness of the hue scale: readable on either background
    };
  }

  /** Colour of pair / item i of n: from warm (fast, i = 0) to cool (slow). */
  function hue(i, n, colors) {
    const h = 15 + (250 * i) / Math.max(1, n - 1);
    return "hsl(" + h.toFixed(0) + ",75%," + colors.light + "%)";
  }

  // ------------------------------------------------------------------ projection

  /** Projection fitted into rect [x0, y0, x1, y1] for a scene within radius R of the origin, inside the rect
      at every rotation: a point at depth y (|y| <= R) lies at most sqrt(R² - y²) off the view axis and is
      magnified by DIST / (DIST + y); the product peaks at y = -R²/DIST, at R·DIST / sqrt(DIST² - R²). */
  function camera(yaw, pitch, rect, R, bounds) {
    const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
    const half = Math.min(rect[2] - rect[0], rect[3] - rect[1]) / 2 - 4;
    const scale = (Math.max(1, half) * Math.sqrt(DIST * DIST - R * R)) / (DIST * R);
    const ox = (rect[0] + rect[2]) / 2, oy = (rect[1] + rect[3]) / 2;
    return function (x, y, z) {
      const x1 = x * cy - y * sy;
      const y1 = x * sy + y * cy;
      const y2 = y1 * cp - z * sp;
      const z2 = y1 * sp + z * cp;
      const s = DIST / (DIST + y2);
      const p = [ox + x1 * s * scale, oy - z2 * s * scale, y2];
      bounds[0] = Math.min(bounds[0], p[0]); bounds[1] = Math.min(bounds[1], p[1]);
      bounds[2] = Math.max(bounds[2], p[0]); bounds[3] = Math.max(bounds[3], p[1]);
      return p;
    };
  }

  // ------------------------------------------------------------------ scenes

  /** Fit PCA coordinates into [-1.3, 1.3]^3 with one common scale (keeps the shape). */
  function normalise(points) {
    let m = 1e-9;
    points.forEach(function (p) { p.forEach(function (v) { m = Math.max(m, Math.abs(v)); }); });
    return points.map(function (p) { return p.map(function (v) { return (1.3 * v) / m; }); });
  }

  /** Largest distance from the origin among points (and at least r). */
  function radius(points, r) {
    points.forEach(function (p) { r = Math.max(r, Math.hypot(p[0], p[1], p[2])); });
    return r;
  }

  const ROPE_Z = 1.2, ROPE_AXIS = 1.35, LABEL_R = 1.12;
  const ROPE_RADIUS = Math.max(ROPE_AXIS, Math.hypot(LABEL_R, ROPE_Z));

  function lerp3(a, b, t) {
    return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
  }

  /** Draws the rings; returns the θ labels' anchors, which are fixed points of the scene (they rotate with it). */
  function drawRope(ctx, P, data, m, colors, rect) {
    const rope = data.rope;
    const half = rope.head_dim / 2;
    const N = rope.rotated.length;
    const k = Math.min(Math.floor(m), N - 1);
    const frac = Math.min(m - k, 1);
    const gap = (2 * ROPE_Z) / Math.max(1, half - 1);
    const centre = (rect[0] + rect[2]) / 2;
    const anchors = [];
    line(ctx, P(0, 0, -ROPE_AXIS), P(0, 0, ROPE_AXIS), colors.faint, 1);
    ctx.font = FONT_PX + "px sans-serif";
    ctx.textBaseline = "middle";
    for (let i = 0; i < half; i++) {
      const z = -ROPE_Z + i * gap;
      const col = hue(i, half, colors);
      const ring = [];
      for (let s = 0; s <= 48; s++) {
        const a = (2 * Math.PI * s) / 48;
        ring.push(P(Math.cos(a), Math.sin(a), z));
      }
      poly(ctx, ring, colors.faint, 1);
      // trail: the exported vectors of positions 0..k
      for (let p = 0; p <= k; p++) {
        const v = rope.rotated[p];
        ctx.globalAlpha = 0.15 + (0.55 * (p + 1)) / (k + 1);
        dot(ctx, P(v[i], v[i + half], z), 2, col);
      }
      ctx.globalAlpha = 1;
      // current vector: position k turned on by frac * theta_i
      const v = rope.rotated[k];
      const a = frac * rope.theta[i];
      const x = v[i] * Math.cos(a) - v[i + half] * Math.sin(a);
      const y = v[i + half] * Math.cos(a) + v[i] * Math.sin(a);
      const tip = P(x, y, z);
      line(ctx, P(0, 0, z), tip, col, 2.5);
      dot(ctx, tip, 4, col);
      // the label hangs off a fixed point of the ring's plane, on the side of the axis it projects to
      const at = P(-LABEL_R, 0, z);
      anchors.push([Math.round(at[0]), Math.round(at[1])]);
      const text = "θ" + i + " = " + fmtTheta(rope.theta[i]);
      const tw = ctx.measureText(text).width;
      const left = at[0] < centre;
      let x0 = left ? at[0] - 14 - tw : at[0] + 14;
      x0 = Math.max(rect[0] + 2, Math.min(rect[2] - tw - 2, x0));
      dot(ctx, [left ? x0 + tw + 7 : x0 - 7, at[1]], 3.5, col); // colour key of the ring
      ctx.fillStyle = colors.fg;
      ctx.textAlign = "left";
      ctx.fillText(text, x0, at[1]);
    }
    ctx.textBaseline = "alphabetic";
    return anchors;
  }

  function fmtTheta(t) {
    return t >= 0.01 ? t.toFixed(3) : t.toExponential(1);
  }

  function drawCloud(ctx, P, pts, m, colors, rect) {
    const N = pts.length;
    const k = Math.min(Math.floor(m), N - 1);
    const frac = Math.min(m - k, 1);
    // box of axes
    [[[-1.4, 0, 0], [1.4, 0, 0]], [[0, -1.4, 0], [0, 1.4, 0]], [[0, 0, -1.4], [0, 0, 1.4]]].forEach(function (ax) {
      line(ctx, P(ax[0][0], ax[0][1], ax[0][2]), P(ax[1][0], ax[1][1], ax[1][2]), colors.faint, 1);
    });
    const all = pts.map(function (p) { return P(p[0], p[1], p[2]); });
    poly(ctx, all, colors.faint, 1);
    for (let p = 0; p < N; p++) {
      ctx.globalAlpha = p <= k ? 1 : 0.35;
      dot(ctx, all[p], p <= k ? 3 : 2, hue(p, N, colors));
    }
    ctx.globalAlpha = 1;
    if (k > 0) poly(ctx, all.slice(0, k + 1), colors.fg, 1.5);
    const cur = k + 1 < N ? lerp3(pts[k], pts[k + 1], frac) : pts[k];
    const c = P(cur[0], cur[1], cur[2]);
    dot(ctx, c, 6, colors.accent);
    ctx.fillStyle = colors.fg;
    ctx.font = FONT_PX + "px sans-serif";
    const label = "p = " + k;
    const tw = ctx.measureText(label).width;
    const lx = Math.max(rect[0] + 2, Math.min(rect[2] - tw - 2, c[0] + 8));
    const ly = Math.max(rect[1] + FONT_PX, Math.min(rect[3] - 2, c[1] - 8));
    ctx.fillText(label, lx, ly);
  }

  function drawHeatmap(ctx, table, k, x0, y0, w, h, colors) {
    const N = table.length, d = table[0].length;
    let mx = 1e-9;
    table.forEach(function (r) { r.forEach(function (v) { mx = Math.max(mx, Math.abs(v)); }); });
    const cw = w / d, ch = h / N;
    for (let p = 0; p < N; p++) {
      for (let j = 0; j < d; j++) {
        const t = table[p][j] / mx; // -1..1: blue .. white .. red
        const r = t > 0 ? 255 : Math.round(255 * (1 + t));
        const b = t < 0 ? 255 : Math.round(255 * (1 - t));
        const g = Math.round(255 * (1 - Math.abs(t)));
        ctx.fillStyle = "rgb(" + r + "," + g + "," + b + ")";
        ctx.fillRect(x0 + j * cw, y0 + p * ch, Math.ceil(cw), Math.ceil(ch));
      }
    }
    ctx.strokeStyle = colors.fg;
    ctx.lineWidth = 1.5;
    ctx.strokeRect(x0 - 1, y0 + k * ch - 1, w + 2, Math.max(2, ch) + 2);
    ctx.fillStyle = colors.fg;
    ctx.font = FONT_PX + "px sans-serif";
    const long = "position ↓ × dimension →";
    ctx.fillText(ctx.measureText(long).width <= w ? long : "pos ↓ × dim →", x0, y0 - 5);
  }

  /** The toy sequence along the bottom, current byte highlighted; a window around it when it does not fit. */
  function drawStrip(ctx, text, N, k, w, top, colors) {
    const n = Math.min(N, text.length);
    const cw = Math.min(14, Math.max(MONO_CELL, (w - 20) / Math.max(1, n)));
    const fits = Math.max(1, Math.floor((w - 20) / cw));
    const first = n <= fits ? 0 : Math.max(0, Math.min(n - fits, k - Math.floor(fits / 2)));
    const last = Math.min(n, first + fits) - 1;
    ctx.font = FONT_PX + "px monospace";
    ctx.textBaseline = "middle";
    ctx.textAlign = "center";
    const mid = top + STRIP_H / 2;
    for (let p = first; p <= last; p++) {
      const x = 10 + (p - first) * cw;
      if (p === k) {
        ctx.fillStyle = colors.accent;
        ctx.fillRect(x, top + 2, cw, STRIP_H - 4);
      }
      ctx.fillStyle = p === k ? colors.onAccent : colors.fg;
      ctx.fillText(text[p] === " " ? "·" : text[p], x + cw / 2, mid);
    }
    ctx.fillStyle = colors.fg;
    if (first > 0) ctx.fillText("‹", 4, mid);
    if (last < n - 1) ctx.fillText("›", 10 + fits * cw + 4, mid);
    ctx.textAlign = "left";
    ctx.textBaseline = "alphabetic";
    return [top, +cw.toFixed(2), first, last];
  }

  function line(ctx, a, b, color, width) {
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    ctx.moveTo(a[0], a[1]);
    ctx.lineTo(b[0], b[1]);
    ctx.stroke();
  }

  function poly(ctx, pts, color, width) {
    if (pts.length < 2) return;
    ctx.strokeStyle = color;
    ctx.lineWidth = width;
    ctx.beginPath();
    ctx.moveTo(pts[0][0], pts[0][1]);
    for (let i = 1; i < pts.length; i++) ctx.lineTo(pts[i][0], pts[i][1]);
    ctx.stroke();
  }

  function dot(ctx, p, r, color) {
    ctx.fillStyle = color;
    ctx.beginPath();
    ctx.arc(p[0], p[1], r, 0, 2 * Math.PI);
    ctx.fill();
  }

  // ------------------------------------------------------------------ the widget

  function init(el) {
    injectStyle();
    el.classList.add("llmkb-pe3d");
    el.dataset.frame = "0";
    el.dataset.position = "0";
    const bar = make("div", { class: "p-bar" });
    const modeButtons = {};
    MODES.forEach(function (md) {
      const b = make("button", { type: "button", "data-mode": md.id, "aria-pressed": "false" }, md.label);
      modeButtons[md.id] = b;
      bar.appendChild(b);
    });
    const play = make("button", { type: "button", class: "p-play", "aria-label": "play" }, "▶ play");
    const slider = make("input", { type: "range", min: "0", max: "1", step: "1", value: "0",
                                   "aria-label": "position" });
    const readout = make("span", { class: "p-read", "aria-live": "polite" }, "loading…");
    bar.append(play, slider, readout);
    const info = make("div", { class: "p-info" });
    const canvas = make("canvas", { role: "img", "aria-label": "3-D view of the position encoding" });
    const note = make("div", { class: "p-note" });
    el.replaceChildren(bar, info, canvas, note);

    const state = { mode: "rope", m: 0, playing: false, yaw: -0.6, pitch: 0.45, data: null, last: null,
                    frames: 0, pending: false, drag: null };

    function nPositions() {
      const d = state.data;
      if (state.mode === "learned") return d.learned.pca.length;
      if (state.mode === "sinusoidal") return d.sinusoidal.pca.length;
      return d.rope.rotated.length;
    }

    /** The canvas at its displayed CSS width, with a backing store of devicePixelRatio pixels per CSS px. */
    function size() {
      const w = Math.max(1, Math.round(canvas.getBoundingClientRect().width || el.clientWidth));
      const h = Math.round(Math.max(300, Math.min(460, w * 0.62)));
      const r = window.devicePixelRatio || 1;
      canvas.width = Math.round(w * r);
      canvas.height = Math.round(h * r);
      canvas.style.height = h + "px";
      return [w, h, r];
    }
    let dims = size();

    function draw() {
      state.pending = false;
      const data = state.data;
      if (!data) return;
      const [w, h, r] = dims;
      const ctx = canvas.getContext("2d");
      ctx.setTransform(r, 0, 0, r, 0, 0);
      ctx.clearRect(0, 0, w, h);
      const colors = palette(el);
      const N = nPositions();
      const k = Math.min(Math.floor(state.m), N - 1);
      const stripTop = h - STRIP_H;
      const plotW = state.mode === "rope" ? w : Math.round(w * (w < 520 ? 0.62 : 0.68));
      const plot = [0, 4, plotW, stripTop - 4];
      const bounds = [Infinity, Infinity, -Infinity, -Infinity];
      const R = state.mode === "rope" ? ROPE_RADIUS
        : radius(state.mode === "learned" ? state.learnedPts : state.sinPts, 1.4);
      const P = camera(state.yaw, state.pitch, plot, R, bounds);
      ctx.save();
      ctx.beginPath();
      ctx.rect(plot[0], plot[1], plot[2] - plot[0], plot[3] - plot[1]);
      ctx.clip(); // a safety net: the fitted scale already keeps the scene inside
      let text, anchors = [];
      if (state.mode === "rope") {
        anchors = drawRope(ctx, P, data, state.m, colors, plot);
        const th = data.rope.theta;
        text = "pair 0 turns " + th[0].toFixed(3) + " rad per position, pair " + (th.length - 1) + " only " +
          th[th.length - 1].toExponential(1) + " rad: angle = m · θᵢ";
      } else {
        const part = data[state.mode];
        drawCloud(ctx, P, state.mode === "learned" ? state.learnedPts : state.sinPts, state.m, colors, plot);
        const ex = part.explained.reduce(function (a, b) { return a + b; }, 0);
        text = "3 principal components of the " + part.table[0].length + "-dim vectors (" +
          (100 * ex).toFixed(0) + "% of the variance)";
      }
      ctx.restore();
      if (state.mode !== "rope") {
        const x0 = plotW + 8;
        drawHeatmap(ctx, data[state.mode].table, k, x0, 4 + FONT_PX + 8, w - x0 - 4, stripTop - 8 - (4 + FONT_PX + 8), colors);
      }
      const strip = drawStrip(ctx, data.text, N, k, w, stripTop, colors);
      if (info.textContent !== text) info.textContent = text;
      state.frames += 1;
      const ds = el.dataset;
      ds.frame = String(state.frames);
      ds.position = String(k);
      ds.mode = state.mode;
      ds.scheme = colors.dark ? "dark" : "light";
      ds.fontPx = String(FONT_PX);
      ds.labelColor = "rgba(" + rgba(colors.fg).join(",") + ")";
      ds.labels = JSON.stringify(anchors);
      ds.plot = JSON.stringify(plot);
      ds.bounds = JSON.stringify(bounds.map(function (v) { return Math.round(v * 10) / 10; }));
      ds.strip = JSON.stringify(strip);
      slider.value = String(k);
      const ch = data.text[k] === undefined ? "" : data.text[k];
      readout.textContent = "position " + k + " / " + (N - 1) + " · byte '" + ch + "'";
    }

    function request() {
      if (!state.pending) {
        state.pending = true;
        window.requestAnimationFrame(draw);
      }
    }

    function tick(now) {
      if (!el.isConnected) { state.playing = false; return; }
      if (!state.playing) return;
      const dt = state.last === null ? 0 : Math.min(0.1, (now - state.last) / 1000);
      state.last = now;
      state.m += dt * SPEED;
      if (state.m >= nPositions() - 1) state.m = 0;
      draw();
      window.requestAnimationFrame(tick);
    }

    function setPlaying(on) {
      state.playing = on;
      play.textContent = on ? "❚❚ pause" : "▶ play";
      play.setAttribute("aria-label", on ? "pause" : "play");
      play.setAttribute("aria-pressed", on ? "true" : "false");
      if (on) { state.last = null; window.requestAnimationFrame(tick); }
    }

    function setMode(id) {
      state.mode = id;
      Object.keys(modeButtons).forEach(function (k) {
        modeButtons[k].setAttribute("aria-pressed", k === id ? "true" : "false");
      });
      slider.max = String(nPositions() - 1);
      state.m = Math.min(state.m, nPositions() - 1);
      note.textContent = id === "rope"
        ? "Each ring is one pair of channels of a query vector (head_dim " + state.data.rope.head_dim +
          "). RoPE turns pair i by m·θᵢ at position m: fast pairs at the bottom, slow ones at the top. " +
          "Dots are the positions already visited. Drag to rotate."
        : id === "sinusoidal"
          ? "Every position's " + state.data.sinusoidal.d_model + "-dim sinusoidal vector, projected to 3-D. " +
            "Right: the table itself (red positive, blue negative). Drag to rotate."
          : "The learned table after training (first " + state.data.learned.n_positions + " rows, training " +
            "length " + state.data.learned.train_len + "), projected to 3-D. Drag to rotate.";
      request();
    }

    play.addEventListener("click", function () { setPlaying(!state.playing); });
    slider.addEventListener("input", function () { state.m = Number(slider.value); request(); });
    Object.keys(modeButtons).forEach(function (k) {
      modeButtons[k].addEventListener("click", function () { setMode(k); });
    });
    canvas.addEventListener("pointerdown", function (ev) {
      state.drag = [ev.clientX, ev.clientY, state.yaw, state.pitch];
      canvas.classList.add("p-drag");
      if (canvas.setPointerCapture) canvas.setPointerCapture(ev.pointerId);
    });
    canvas.addEventListener("pointermove", function (ev) {
      if (!state.drag) return;
      state.yaw = state.drag[2] + (ev.clientX - state.drag[0]) * 0.01;
      state.pitch = Math.max(-1.5, Math.min(1.5, state.drag[3] + (ev.clientY - state.drag[1]) * 0.01));
      request();
    });
    function endDrag() { state.drag = null; canvas.classList.remove("p-drag"); }
    canvas.addEventListener("pointerup", endDrag);
    canvas.addEventListener("pointercancel", endDrag);

    // redraw at the new size, and with the new colours when the reader switches the palette
    function detached() {
      if (el.isConnected) return false;
      window.removeEventListener("resize", onResize);
      sizes.disconnect();
      scheme.disconnect();
      if (media) media.removeEventListener("change", request);
      return true;
    }
    function onResize() {
      if (detached()) return;
      dims = size();
      request();
    }
    window.addEventListener("resize", onResize); // also a new devicePixelRatio (zoom)
    const sizes = new ResizeObserver(function () { // the column changed width without a window resize
      if (Math.round(canvas.getBoundingClientRect().width) !== dims[0]) onResize();
    });
    sizes.observe(el);
    const scheme = new MutationObserver(function () { if (!detached()) request(); });
    scheme.observe(document.body, { attributes: true, attributeFilter: ["data-md-color-scheme"] });
    const media = window.matchMedia ? window.matchMedia("(prefers-color-scheme: dark)") : null;
    if (media) media.addEventListener("change", request);

    window.llmkb.fetchJSON(el.dataset.src).then(function (data) {
      state.data = data;
      state.sinPts = normalise(data.sinusoidal.pca);
      state.learnedPts = normalise(data.learned.pca);
      dims = size(); // the layout may have settled since init
      setMode("rope");
      el.dataset.ready = "1";
    }).catch(function (err) {
      readout.textContent = "could not load the data";
      console.error("llmkb pe3d:", err);
    });
  }

  window.llmkb.register("pe3d", init);
})();
