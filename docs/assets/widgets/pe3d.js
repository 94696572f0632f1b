/* 3-D animation of position encodings (02-positional-embeddings). Data: the `positional-embeddings/animation`
   experiment's `widget` part, computed by llmkb at build time:
     rope.rotated[m]     a query vector after llmkb.nn.positional.apply_rotary at position m
                         (half-split pairs: channel i is paired with channel i + D/2);
     rope.theta[i]       the frequency of pair i (rope_inv_freq), radians per position;
     sinusoidal.table    sinusoidal_table(arange(N), d); sinusoidal.pca its first 3 principal components;
     learned.table/.pca  the trained learned table of the positional-embeddings/compare run (first seed).
   Nothing is recomputed here except in-between frames: between positions m and m+1 each RoPE pair is
   turned by frac * theta_i from the exported vector at m, and PCA points are interpolated linearly.
   Drawing: canvas 2D and a small perspective projection (yaw around the vertical axis, then pitch),
   rotatable by dragging. State for tests: data-frame (frames drawn), data-position, data-mode. */
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

  function injectStyle() { window.llmkb.injectStyle("llmkb-pe3d-style", CSS); }

  function make(tag, attrs, text) { return window.llmkb.el(tag, attrs, text); }

  function cssVar(el, name, fallback) {
    const v = getComputedStyle(el).getPropertyValue(name).trim();
    return v || fallback;
  }

  /** Colour of pair / item i of n: from warm (fast, i = 0) to cool (slow). */
  function hue(i, n) {
    const h = 15 + (250 * i) / Math.max(1, n - 1);
    return "hsl(" + h.toFixed(0) + ",75%,50%)";
  }

  // ------------------------------------------------------------------ projection

  function camera(yaw, pitch, w, h, scale) {
    const cy = Math.cos(yaw), sy = Math.sin(yaw), cp = Math.cos(pitch), sp = Math.sin(pitch);
    const dist = 6;
    return function (x, y, z) {
      const x1 = x * cy - y * sy;
      const y1 = x * sy + y * cy;
      const y2 = y1 * cp - z * sp;
      const z2 = y1 * sp + z * cp;
      const s = dist / (dist + y2);
      return [w / 2 + x1 * s * scale, h / 2 - z2 * s * scale, y2];
    };
  }

  // ------------------------------------------------------------------ scenes

  /** Fit PCA coordinates into [-1.3, 1.3]^3 with one common scale (keeps the shape). */
  function normalise(points) {
    let m = 1e-9;
    points.forEach(function (p) { p.forEach(function (v) { m = Math.max(m, Math.abs(v)); }); });
    return points.map(function (p) { return p.map(function (v) { return (1.3 * v) / m; }); });
  }

  function lerp3(a, b, t) {
    return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
  }

  function drawRope(ctx, P, data, m, colors) {
    const rope = data.rope;
    const half = rope.head_dim / 2;
    const N = rope.rotated.length;
    const k = Math.min(Math.floor(m), N - 1);
    const frac = Math.min(m - k, 1);
    const gap = 2.4 / Math.max(1, half - 1);
    // the axis
    line(ctx, P(0, 0, -1.35), P(0, 0, 1.35), colors.faint, 1);
    for (let i = 0; i < half; i++) {
      const z = -1.2 + i * gap;
      const col = hue(i, half);
      const ring = [];
      for (let s = 0; s <= 48; s++) {
        const a = (2 * Math.PI * s) / 48;
        ring.push(P(Math.cos(a), Math.sin(a), z));
      }
      poly(ctx, ring, colors.faint, 1);
      // trail: the exported vectors of positions 0..k
      for (let p = 0; p <= k; p++) {
        const v = rope.rotated[p];
        const q = P(v[i], v[i + half], z);
        ctx.globalAlpha = 0.15 + (0.55 * (p + 1)) / (k + 1);
        dot(ctx, q, 2, col);
      }
      ctx.globalAlpha = 1;
      // current vector: position k turned on by frac * theta_i
      const v = rope.rotated[k];
      const a = frac * rope.theta[i];
      const x = v[i] * Math.cos(a) - v[i + half] * Math.sin(a);
      const y = v[i + half] * Math.cos(a) + v[i] * Math.sin(a);
      const o = P(0, 0, z), tip = P(x, y, z);
      line(ctx, o, tip, col, 2.5);
      dot(ctx, tip, 4, col);
      const edge = P(-1.05, 0, z);
      ctx.fillStyle = col;
      ctx.font = "10px sans-serif";
      ctx.textAlign = "right";
      ctx.fillText("θ" + i + " = " + fmtTheta(rope.theta[i]), edge[0] - 6, edge[1] + 3);
      ctx.textAlign = "left";
    }
  }

  function fmtTheta(t) {
    return t >= 0.01 ? t.toFixed(3) : t.toExponential(1);
  }

  function drawCloud(ctx, P, pts, m, colors) {
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
      ctx.globalAlpha = p <= k ? 1 : 0.25;
      dot(ctx, all[p], p <= k ? 3 : 2, hue(p, N));
    }
    ctx.globalAlpha = 1;
    if (k > 0) poly(ctx, all.slice(0, k + 1), colors.fg, 1.5);
    const cur = k + 1 < N ? lerp3(pts[k], pts[k + 1], frac) : pts[k];
    const c = P(cur[0], cur[1], cur[2]);
    dot(ctx, c, 6, colors.accent);
    ctx.fillStyle = colors.fg;
    ctx.font = "12px sans-serif";
    ctx.fillText("p = " + k, c[0] + 8, c[1] - 8);
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
    ctx.font = "10px sans-serif";
    ctx.fillText("position ↓ × dimension →", x0, y0 - 4);
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
    const canvas = make("canvas", { role: "img", "aria-label": "3-D view of the position encoding" });
    const note = make("div", { class: "p-note" });
    el.replaceChildren(bar, canvas, note);

    const state = { mode: "rope", m: 0, playing: false, yaw: -0.6, pitch: 0.45, data: null, last: null,
                    frames: 0, pending: false, drag: null };

    function nPositions() {
      const d = state.data;
      if (state.mode === "learned") return d.learned.pca.length;
      if (state.mode === "sinusoidal") return d.sinusoidal.pca.length;
      return d.rope.rotated.length;
    }

    function size() {
      const w = Math.max(280, Math.min(el.clientWidth - 2, 900));
      const h = Math.round(Math.max(280, Math.min(460, w * 0.58)));
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
      const colors = {
        fg: cssVar(el, "--md-default-fg-color", "#222"),
        faint: cssVar(el, "--md-default-fg-color--lightest", "rgba(0,0,0,.12)"),
        accent: cssVar(el, "--md-accent-fg-color", "#e8710a"),
      };
      const N = nPositions();
      const k = Math.min(Math.floor(state.m), N - 1);
      const plotW = state.mode === "rope" ? w : w * 0.68;
      const P = camera(state.yaw, state.pitch, plotW, h, Math.min(plotW, h) * 0.3);
      let info;
      if (state.mode === "rope") {
        drawRope(ctx, P, data, state.m, colors);
        const th = data.rope.theta;
        info = "pair 0 turns " + th[0].toFixed(3) + " rad per position, pair " + (th.length - 1) + " only " +
          th[th.length - 1].toExponential(1) + " rad: angle = m · θᵢ";
      } else {
        const part = data[state.mode];
        drawCloud(ctx, P, state.mode === "learned" ? state.learnedPts : state.sinPts, state.m, colors);
        const hw = w - plotW - 16;
        drawHeatmap(ctx, part.table, k, plotW + 8, 24, hw, h - 48, colors);
        const ex = part.explained.reduce(function (a, b) { return a + b; }, 0);
        info = "3 principal components of the " + part.table[0].length + "-dim vectors (" +
          (100 * ex).toFixed(0) + "% of the variance)";
      }
      // the toy sequence along the bottom, current byte highlighted
      const text = data.text;
      ctx.font = "12px monospace";
      const cw = Math.min(12, (w - 20) / Math.max(1, N));
      for (let p = 0; p < N && p < text.length; p++) {
        const x = 10 + p * cw;
        if (p === k) {
          ctx.fillStyle = colors.accent;
          ctx.fillRect(x - 1, h - 18, cw, 16);
        }
        ctx.fillStyle = colors.fg;
        ctx.fillText(text[p] === " " ? "·" : text[p], x, h - 6);
      }
      ctx.fillStyle = colors.fg;
      ctx.font = "11px sans-serif";
      ctx.fillText(info, 10, 14);
      state.frames += 1;
      el.dataset.frame = String(state.frames);
      el.dataset.position = String(k);
      el.dataset.mode = state.mode;
      slider.value = String(k);
      const ch = text[k] === undefined ? "" : text[k];
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
    function onResize() {
      if (!el.isConnected) { window.removeEventListener("resize", onResize); return; }
      dims = size();
      request();
    }
    window.addEventListener("resize", onResize);

    window.llmkb.fetchJSON(el.dataset.src).then(function (data) {
      state.data = data;
      state.sinPts = normalise(data.sinusoidal.pca);
      state.learnedPts = normalise(data.learned.pca);
      setMode("rope");
      el.dataset.ready = "1";
    }).catch(function (err) {
      readout.textContent = "could not load the data";
      console.error("llmkb pe3d:", err);
    });
  }

  window.llmkb.register("pe3d", init);
})();
