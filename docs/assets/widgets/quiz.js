/* Test yourself (quiz.md). Data: quiz.json, written by the build from every topic page's Q&A
   ({"topics": [{"id", "title", "items": [{"q", "a"}]}]}; q and a are the pages' own rendered HTML, parsed here
   into an inert document before being shown).
   What the reader answered stays in this browser: localStorage["llmkb-quiz-v1"] maps "<topic id>|<question
   text>" to {k: 1 knew it / 0 didn't, n: times answered, t: when last (ms)}. Order of the questions: those last
   answered "didn't know" first (longest ago first), then those never answered, then those known (longest ago
   first); page order breaks ties. ?topic=<topic id> in the address picks that topic alone (each topic page's
   Q&A section links here so; not a #fragment, which Material's navigation tracking rewrites as the reader scrolls). Keys: space shows the answer, k "knew it", d "didn't know".
   For tests: el.dataset.ready, data-current on the card (the item's key), data-known / data-total / data-due
   on the status line. */
(function () {
  "use strict";

  const STORE = "llmkb-quiz-v1";
  const CSS = [
    ".llmkb-quiz{border:1px solid var(--md-default-fg-color--lightest);border-radius:6px;padding:.8em 1em;margin:1em 0}",
    ".llmkb-quiz fieldset{border:0;margin:0 0 .6em;padding:0;display:flex;flex-wrap:wrap;gap:.3em 1em}",
    ".llmkb-quiz legend{font-weight:bold;font-size:.85em;margin-bottom:.3em;padding:0}",
    ".llmkb-quiz label{font-size:.85em;cursor:pointer;display:inline-flex;gap:.3em;align-items:baseline;max-width:100%}",
    ".llmkb-quiz button{font:inherit;font-size:.85em;line-height:1.6;cursor:pointer;background:none;border-radius:4px;" +
      "padding:.15em .8em;color:var(--md-default-fg-color);border:1px solid var(--md-default-fg-color--lighter)}",
    ".llmkb-quiz button:hover,.llmkb-quiz button:focus-visible{border-color:var(--md-accent-fg-color)}",
    ".llmkb-quiz button.qz-primary{background:var(--md-primary-fg-color);color:var(--md-primary-bg-color);" +
      "border-color:var(--md-primary-fg-color)}",
    ".llmkb-quiz .qz-status{font-size:.85em;font-variant-numeric:tabular-nums;margin:.2em 0 .6em}",
    ".llmkb-quiz .qz-card{border-top:1px solid var(--md-default-fg-color--lightest);padding-top:.6em}",
    ".llmkb-quiz .qz-topic{font-size:.8em}",
    ".llmkb-quiz .qz-question{font-weight:bold;margin:.3em 0 .6em}",
    ".llmkb-quiz .qz-answer{border-left:3px solid var(--md-accent-fg-color);padding-left:.8em;margin:.6em 0}",
    ".llmkb-quiz .qz-answer[hidden],.llmkb-quiz [hidden]{display:none}",
    ".llmkb-quiz .qz-buttons{display:flex;flex-wrap:wrap;gap:.5em;margin-top:.4em}",
  ].join("\n");

  function make(tag, attrs, text) { return window.llmkb.el(tag, attrs, text); }

  /** Nodes of an HTML fragment, parsed in an inert document (no script, no handler runs). */
  function fragment(html) {
    const doc = new DOMParser().parseFromString("<div>" + html + "</div>", "text/html");
    const out = document.createDocumentFragment();
    Array.from(doc.body.firstChild.childNodes).forEach(function (n) { out.appendChild(document.adoptNode(n)); });
    return out;
  }

  function plain(html) {
    return new DOMParser().parseFromString(html, "text/html").body.textContent.replace(/\s+/g, " ").trim();
  }

  function loadState() {
    try {
      const s = JSON.parse(window.localStorage.getItem(STORE) || "{}");
      return s && typeof s === "object" ? s : {};
    } catch (err) {
      return {};
    }
  }

  function saveState(state) {
    try { window.localStorage.setItem(STORE, JSON.stringify(state)); } catch (err) { /* private mode: forget */ }
  }

  /** 0: last answered "didn't know", 1: never answered, 2: known. */
  function group(rec) { return !rec ? 1 : rec.k ? 2 : 0; }

  /** The questions in the order they are asked (see the header). */
  function order(items, state) {
    return items.slice().sort(function (a, b) {
      const ra = state[a.key], rb = state[b.key];
      const ga = group(ra), gb = group(rb);
      if (ga !== gb) return ga - gb;
      const ta = ra ? ra.t : 0, tb = rb ? rb.t : 0;
      if (ta !== tb) return ta - tb;
      return a.index - b.index;
    });
  }

  window.llmkb.register("quiz", function (el) {
    window.llmkb.injectStyle("llmkb-quiz-style", CSS);
    el.classList.add("llmkb-quiz");
    const status = make("p", { class: "qz-status", role: "status", "aria-live": "polite" }, "Loading the questions…");
    el.appendChild(status);
    window.llmkb.fetchJSON(el.dataset.src)
      .then(function (data) {
        let index = 0;
        const topics = data.topics.map(function (t) {
          return {
            id: t.id,
            title: t.title,
            items: t.items.map(function (it) {
              return { key: t.id + "|" + plain(it.q), q: it.q, a: it.a, topic: t, index: index++ };
            }),
          };
        });
        let state = loadState();

        const picks = make("fieldset");
        picks.appendChild(make("legend", {}, "Topics"));
        const boxes = {};
        topics.forEach(function (t) {
          const label = make("label");
          const box = make("input", { type: "checkbox", value: t.id });
          boxes[t.id] = box;
          label.appendChild(box);
          label.appendChild(make("span", {}, t.title + " (" + t.items.length + ")"));
          picks.appendChild(label);
        });
        const all = make("button", { type: "button" }, "all topics");
        picks.appendChild(all);
        el.insertBefore(picks, status);

        const card = make("div", { class: "qz-card" });
        const where = make("div", { class: "qz-topic" });
        const question = make("div", { class: "qz-question" });
        const answer = make("div", { class: "qz-answer", hidden: "" });
        const show = make("button", { type: "button", class: "qz-primary qz-show" }, "Show answer");
        const knew = make("button", { type: "button", class: "qz-primary qz-knew", hidden: "" }, "Knew it");
        const missed = make("button", { type: "button", class: "qz-missed", hidden: "" }, "Didn't know");
        const reset = make("button", { type: "button", class: "qz-reset" }, "Forget my answers");
        const buttons = make("div", { class: "qz-buttons" });
        [show, knew, missed, reset].forEach(function (b) { buttons.appendChild(b); });
        [where, question, answer, buttons].forEach(function (n) { card.appendChild(n); });
        el.appendChild(card);

        let queue = [];
        let current = null;

        function chosen() {
          return topics.filter(function (t) { return boxes[t.id].checked; });
        }

        function updateStatus() {
          const items = [].concat.apply([], chosen().map(function (t) { return t.items; }));
          const known = items.filter(function (it) { return group(state[it.key]) === 2; }).length;
          const due = items.filter(function (it) { return group(state[it.key]) === 0; }).length;
          status.dataset.total = String(items.length);
          status.dataset.known = String(known);
          status.dataset.due = String(due);
          status.textContent = items.length
            ? "Known " + known + " of " + items.length + " questions" + (due ? ", " + due + " to review" : "") + "."
            : "Choose at least one topic.";
        }

        function showItem(item) {
          current = item;
          card.hidden = !item;
          if (!item) { delete card.dataset.current; return; }
          card.dataset.current = item.key;
          where.replaceChildren(
            document.createTextNode("From "),
            make("a", { href: "../" + item.topic.id + "/" }, item.topic.title),
          );
          question.replaceChildren(fragment(item.q));
          answer.replaceChildren(fragment(item.a));
          answer.hidden = true;
          show.hidden = false;
          knew.hidden = true;
          missed.hidden = true;
        }

        function restart() {
          const items = [].concat.apply([], chosen().map(function (t) { return t.items; }));
          queue = order(items, state);
          updateStatus();
          showItem(queue.shift() || null);
        }

        function reveal() {
          if (!current || !answer.hidden) return;
          answer.hidden = false;
          show.hidden = true;
          knew.hidden = false;
          missed.hidden = false;
          knew.focus();
        }

        function record(known) {
          if (!current || answer.hidden) return;
          const rec = state[current.key] || { n: 0 };
          state[current.key] = { k: known ? 1 : 0, n: rec.n + 1, t: Date.now() };
          saveState(state);
          updateStatus();
          if (!queue.length) queue = order([].concat.apply([], chosen().map(function (t) { return t.items; })), state);
          showItem(queue.shift() || null);
          show.focus();
        }

        function pickFromAddress() {
          const id = new URLSearchParams(window.location.search).get("topic");
          const only = topics.some(function (t) { return t.id === id; }) ? id : null;
          topics.forEach(function (t) { boxes[t.id].checked = !only || t.id === only; });
        }

        show.addEventListener("click", reveal);
        knew.addEventListener("click", function () { record(true); });
        missed.addEventListener("click", function () { record(false); });
        reset.addEventListener("click", function () {
          chosen().forEach(function (t) { t.items.forEach(function (it) { delete state[it.key]; }); });
          saveState(state);
          restart();
        });
        all.addEventListener("click", function () {
          topics.forEach(function (t) { boxes[t.id].checked = true; });
          restart();
        });
        picks.addEventListener("change", restart);
        function onKey(ev) {
          if (!el.isConnected) { document.removeEventListener("keydown", onKey); return; }
          const tag = (ev.target && ev.target.tagName) || "";
          if (ev.ctrlKey || ev.metaKey || ev.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(tag)) return;
          if (ev.key === " " && tag !== "BUTTON" && tag !== "A" && current && answer.hidden) { ev.preventDefault(); reveal(); }
          else if (ev.key === "k") record(true);
          else if (ev.key === "d") record(false);
        }
        document.addEventListener("keydown", onKey);

        pickFromAddress();
        restart();
        el.dataset.ready = "1";
      })
      .catch(function (err) {
        status.textContent = "Could not load the questions.";
        console.error(err);
      });
  });
})();
