/* llmkb page behaviour. Material's instant navigation swaps page content without a reload, so every
   initialiser runs on each `document$` emission (and once on plain loads). Widgets register with
   window.llmkb.register(name, init): init(el) runs for every element [data-llmkb-widget="name"].
   Contract: a widget injects its stylesheet as <style id="llmkb-<name>-style"> (window.llmkb.injectStyle)
   and sets el.dataset.ready = "1" once it has drawn; the browser tests wait for that. */
(function () {
  "use strict";
  const registry = {};
  function initGraph(root) {
    root.querySelectorAll("svg.llmkb-graph").forEach(function (svg) {
      if (svg.dataset.llmkbReady) return;
      svg.dataset.llmkbReady = "1";
      const nodes = svg.querySelectorAll(".llmkb-node");
      nodes.forEach(function (node) {
        node.addEventListener("mouseenter", function () {
          const id = node.dataset.id;
          const nb = new Set((node.dataset.neighbors || "").split(" ").filter(Boolean));
          svg.classList.add("llmkb-hovering");
          nodes.forEach(function (n) {
            n.classList.toggle("llmkb-active", n === node);
            n.classList.toggle("llmkb-neighbor", nb.has(n.dataset.id));
          });
          svg.querySelectorAll(".llmkb-edge").forEach(function (e) {
            e.classList.toggle("llmkb-active", e.dataset.source === id || e.dataset.target === id);
          });
        });
        function go() { window.location.assign(node.dataset.href); }
        node.addEventListener("click", go);
        node.addEventListener("keydown", function (ev) { if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); go(); } });
        node.addEventListener("mouseleave", function () {
          svg.classList.remove("llmkb-hovering");
          svg.querySelectorAll(".llmkb-active,.llmkb-neighbor").forEach(function (n) {
            n.classList.remove("llmkb-active", "llmkb-neighbor");
          });
        });
      });
    });
  }
  function initWidgets(root) {
    root.querySelectorAll("[data-llmkb-widget]").forEach(function (el) {
      const name = el.dataset.llmkbWidget;
      if (el.dataset.llmkbReady || !registry[name]) return;
      el.dataset.llmkbReady = "1";
      try { registry[name](el); } catch (err) { console.error("llmkb widget " + name + " failed", err); }
    });
  }
  /* A click on a figure opens it full size in an overlay (the link still works without script). */
  function openLightbox(link) {
    const img = link.querySelector("img");
    const box = document.createElement("div");
    box.className = "llmkb-lightbox";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "true");
    box.setAttribute("aria-label", img ? img.alt : "figure");
    const big = document.createElement("img");
    big.src = link.getAttribute("href");
    big.alt = img ? img.alt : "";
    // full size: at least the figure's natural width, as wide as the window allows up to twice that
    const natural = img ? Number(img.getAttribute("width")) || img.naturalWidth : 0;
    if (natural) big.style.width = Math.max(natural, Math.min(window.innerWidth * 0.96, 2 * natural)) + "px";
    const close = document.createElement("button");
    close.className = "llmkb-lightbox-close";
    close.setAttribute("aria-label", "Close");
    close.textContent = "×";
    box.append(big, close);
    function done() { box.remove(); document.removeEventListener("keydown", onKey); link.focus(); }
    function onKey(ev) { if (ev.key === "Escape") done(); }
    box.addEventListener("click", done);
    document.addEventListener("keydown", onKey);
    document.body.appendChild(box);
    close.focus();
  }
  function initFigures(root) {
    root.querySelectorAll("a.llmkb-figure-link").forEach(function (a) {
      if (a.dataset.llmkbReady) return;
      a.dataset.llmkbReady = "1";
      a.addEventListener("click", function (ev) {
        if (ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
        ev.preventDefault();
        ev.stopPropagation(); // Material's instant navigation must not take a figure file for a page
        openLightbox(a);
      }, true);
    });
  }
  /* Whatever scrolls sideways (a wide table, a figure kept readable on a phone) gets a visible hint. */
  const SCROLLERS = ".md-typeset__scrollwrap, .llmkb-figure-frame, .llmkb-graph-wrap";
  function updateHint(el) {
    const hint = el.previousElementSibling;
    if (!hint || !hint.classList.contains("llmkb-scroll-hint")) return;
    const more = el.scrollWidth - el.clientWidth > 1;
    const atEnd = el.scrollLeft + el.clientWidth >= el.scrollWidth - 1;
    hint.classList.toggle("llmkb-on", more && !atEnd);
  }
  const resized = typeof ResizeObserver !== "undefined"
    ? new ResizeObserver(function (entries) { entries.forEach(function (e) { updateHint(e.target); }); })
    : null;
  function initScrollHints(root) {
    root.querySelectorAll(SCROLLERS).forEach(function (el) {
      if (el.dataset.llmkbHint) return;
      el.dataset.llmkbHint = "1";
      const hint = document.createElement("div");
      hint.className = "llmkb-scroll-hint";
      hint.textContent = el.classList.contains("md-typeset__scrollwrap") ? "scroll for more columns" : "scroll for the whole figure";
      el.parentNode.insertBefore(hint, el);
      el.addEventListener("scroll", function () { updateHint(el); }, { passive: true });
      el.querySelectorAll("img").forEach(function (img) { img.addEventListener("load", function () { updateHint(el); }); });
      if (resized) resized.observe(el);
      updateHint(el);
    });
  }
  function initAll() { initGraph(document); initWidgets(document); initFigures(document); initScrollHints(document); }
  let probe = null;
  window.llmkb = {
    /** [r, g, b, a] (0..255, alpha 0..1) of any CSS colour a canvas accepts. */
    rgba: function (color) {
      if (!probe) probe = document.createElement("canvas").getContext("2d");
      probe.fillStyle = "#000";
      probe.fillStyle = color;
      const v = probe.fillStyle;
      if (v[0] === "#") return [parseInt(v.slice(1, 3), 16), parseInt(v.slice(3, 5), 16), parseInt(v.slice(5, 7), 16), 1];
      const n = v.match(/[\d.]+/g).map(Number);
      return [n[0], n[1], n[2], n.length > 3 ? n[3] : 1];
    },
    /** WCAG relative luminance of an [r, g, b] colour (0..255). */
    luminance: function (c) {
      const f = function (x) { x /= 255; return x <= 0.03928 ? x / 12.92 : Math.pow((x + 0.055) / 1.055, 2.4); };
      return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]);
    },
    register: function (name, init) { registry[name] = init; initWidgets(document); },
    /** Indices sorted by value, descending; stable, so ties keep increasing index order (as Python's sort). */
    descendingOrder: function (values) {
      const idx = Array.from(values, function (_, i) { return i; });
      idx.sort(function (a, b) {
        const x = values[a], y = values[b];
        return (y > x) - (y < x); // -inf vs -inf compares equal instead of NaN
      });
      return idx;
    },
    /** Probabilities from logits (the maximum subtracted first; -inf becomes 0). */
    softmax: function (logits) {
      let m = -Infinity;
      for (const v of logits) if (v > m) m = v;
      const e = Array.from(logits, function (v) { return Math.exp(v - m); });
      let s = 0;
      for (const v of e) s += v;
      return e.map(function (v) { return v / s; });
    },
    /** Entropy in nats of a probability vector (zero terms skipped). */
    entropy: function (probs) {
      let h = 0;
      for (const q of probs) if (q > 0) h -= q * Math.log(q);
      return h;
    },
    /** A byte as the site writes it everywhere (llmkb.lab.kit.byte_label): ␣ ⏎ ⇥, printable ASCII, else xNN. */
    byteLabel: function (b) {
      if (b === 0x20) return "\u2423";
      if (b === 0x0a) return "\u23ce";
      if (b === 0x09) return "\u21e5";
      if (b >= 0x21 && b <= 0x7e) return String.fromCharCode(b);
      return "x" + (b < 16 ? "0" : "") + b.toString(16);
    },
    /** Add a <style id=id> with css to the document head once (widgets ship their own styles). */
    injectStyle: function (id, css) {
      if (document.getElementById(id)) return;
      const s = document.createElement("style");
      s.id = id;
      s.textContent = css;
      document.head.appendChild(s);
    },
    /** document.createElement with attributes and optional text content (never parsed as HTML). */
    el: function (tag, attrs, text) {
      const e = document.createElement(tag);
      Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
      if (text !== undefined) e.textContent = text;
      return e;
    },
    fetchJSON: function (url) {
      return fetch(url).then(function (r) {
        if (!r.ok) throw new Error("llmkb: " + url + " -> HTTP " + r.status);
        return r.json();
      });
    },
  };
  if (typeof document$ !== "undefined" && document$.subscribe) document$.subscribe(initAll);
  else document.addEventListener("DOMContentLoaded", initAll);
})();
