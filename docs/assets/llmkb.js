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
  function initAll() { initGraph(document); initWidgets(document); }
  window.llmkb = {
    register: function (name, init) { registry[name] = init; initWidgets(document); },
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
