/* Live token visualizer (01-tokenization). The reader types; the text is encoded IN THE BROWSER by the
   byte-level BPE below, from the vocabulary the build trained (the `tokenization/bpe` experiment, exported
   with llmkb.tokenize.export_vocab_json). The encoder follows llmkb.tokenize (= tiktoken's rule):
     0. lone UTF-16 surrogates become U+FFFD (Python's encode_ordinary does the same);
     1. special tokens (when allowed) are cut out first, longest first at each position, and map to their id;
     2. the rest is split into pieces with the exported JavaScript pattern (flags "gu");
     3. each piece becomes UTF-8 bytes; if those bytes are a token, that is the piece's only id;
     4. otherwise start from single bytes and repeatedly merge the adjacent pair whose concatenation has
        the LOWEST rank (leftmost on ties) until no adjacent concatenation is a token; ids = ranks.
   Step 4 runs with a heap and lazy invalidation (O(n log n) per piece, so long whitespace runs stay fast);
   pieces are cached. All text reaches the page through textContent; token ids are exposed as JSON in the
   widget's data-ids attribute (and the count in data-count). In node, `require` returns createEncoder. */
(function () {
  "use strict";

  // ------------------------------------------------------------------ encoder (no DOM)

  const CHUNK = 8192;

  /** Uint8Array -> "binary string" (one char per byte, codes 0..255): the key of a token. */
  function bytesToKey(bytes) {
    let s = "";
    for (let i = 0; i < bytes.length; i += CHUNK) {
      s += String.fromCharCode.apply(null, bytes.subarray(i, i + CHUNK));
    }
    return s;
  }

  function keyToBytes(key) {
    const out = new Uint8Array(key.length);
    for (let i = 0; i < key.length; i++) out[i] = key.charCodeAt(i);
    return out;
  }

  /** Escape the syntax characters (the only identity escapes a "u" RegExp accepts). */
  function escapeRegExp(s) {
    return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
  }

  /** A binary min-heap of [rank, left, right, leftVersion, rightVersion], ordered by (rank, left). */
  function heapPush(heap, item) {
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(heap[i], heap[p])) break;
      const t = heap[i]; heap[i] = heap[p]; heap[p] = t;
      i = p;
    }
  }

  function heapPop(heap) {
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l], heap[m])) m = l;
        if (r < heap.length && less(heap[r], heap[m])) m = r;
        if (m === i) break;
        const t = heap[i]; heap[i] = heap[m]; heap[m] = t;
        i = m;
      }
    }
    return top;
  }

  function less(a, b) {
    return a[0] < b[0] || (a[0] === b[0] && a[1] < b[1]);
  }

  /**
   * Build an encoder from the exported vocabulary
   * ({pattern, flags, ranks: [base64 by rank], special_tokens: {text: id}, vocab_size}).
   */
  function createEncoder(vocab) {
    const ranks = new Map();
    const tokens = [];
    vocab.ranks.forEach(function (b64, rank) {
      const key = atob(b64);
      ranks.set(key, rank);
      tokens.push(key);
    });
    const specials = new Map();
    Object.keys(vocab.special_tokens || {}).forEach(function (text) {
      specials.set(text, vocab.special_tokens[text]);
      tokens[vocab.special_tokens[text]] = bytesToKey(new TextEncoder().encode(text));
    });
    const split = new RegExp(vocab.pattern, vocab.flags);
    const ordered = Array.from(specials.keys()).sort(function (a, b) {
      return b.length - a.length || (a < b ? -1 : a > b ? 1 : 0);
    });
    const cutter = ordered.length ? new RegExp(ordered.map(escapeRegExp).join("|"), "gu") : null;
    const utf8 = new TextEncoder();
    const cache = new Map();

    /** Ids of the UTF-8 bytes `key` (a binary string) by lowest-rank-first merging. */
    function mergeBytes(key) {
      const n = key.length;
      const next = new Int32Array(n), prev = new Int32Array(n), end = new Int32Array(n);
      const version = new Int32Array(n);
      for (let i = 0; i < n; i++) { next[i] = i + 1 < n ? i + 1 : -1; prev[i] = i - 1; end[i] = i + 1; }
      const heap = [];
      // nodes are named by their first byte offset, so "leftmost" is the smaller name
      function pushPair(left) {
        const right = next[left];
        if (right < 0) return;
        const rank = ranks.get(key.slice(left, end[right]));
        if (rank !== undefined) heapPush(heap, [rank, left, right, version[left], version[right]]);
      }
      for (let i = 0; i + 1 < n; i++) pushPair(i);
      while (heap.length) {
        const item = heapPop(heap);
        const left = item[1], right = item[2];
        if (next[left] !== right || version[left] !== item[3] || version[right] !== item[4]) continue;
        end[left] = end[right];
        next[left] = next[right];
        if (next[right] >= 0) prev[next[right]] = left;
        version[left] += 1;
        version[right] = -1; // gone
        if (prev[left] >= 0) pushPair(prev[left]);
        pushPair(left);
      }
      const ids = [];
      for (let i = 0; i >= 0; i = next[i]) ids.push(ranks.get(key.slice(i, end[i])));
      return ids;
    }

    function encodePiece(piece) {
      let ids = cache.get(piece);
      if (ids !== undefined) return ids;
      const key = bytesToKey(utf8.encode(piece));
      const whole = ranks.get(key);
      ids = whole !== undefined ? [whole] : mergeBytes(key);
      if (cache.size >= 100000) cache.clear();
      cache.set(piece, ids);
      return ids;
    }

    /** Ids of `text` with special-token strings treated as ordinary text. */
    function encodeOrdinary(text) {
      const clean = text.replace(/[\uD800-\uDFFF]/gu, "\uFFFD"); // only lone surrogates match with "u"
      const ids = [];
      for (const m of clean.matchAll(split)) {
        const part = encodePiece(m[0]);
        for (let i = 0; i < part.length; i++) ids.push(part[i]);
      }
      return ids;
    }

    /** Ids of `text`; with `allowSpecial`, special tokens in it are encoded as their single id. */
    function encode(text, allowSpecial) {
      if (!allowSpecial || !cutter) return encodeOrdinary(text);
      const ids = [];
      let pos = 0;
      for (const m of text.matchAll(cutter)) {
        if (m.index > pos) encodeOrdinary(text.slice(pos, m.index)).forEach(function (i) { ids.push(i); });
        ids.push(specials.get(m[0]));
        pos = m.index + m[0].length;
      }
      if (pos < text.length) encodeOrdinary(text.slice(pos)).forEach(function (i) { ids.push(i); });
      return ids;
    }

    return {
      encode: encode,
      encodeOrdinary: encodeOrdinary,
      tokenBytes: function (id) { return keyToBytes(tokens[id]); },
      isSpecial: function (id) { return id >= vocab.ranks.length; },
      vocabSize: vocab.vocab_size,
      specialTokens: ordered,
    };
  }

  // ------------------------------------------------------------------ labels

  /** Length of the well-formed UTF-8 sequence starting at bytes[i], or 0 (a stray byte). */
  function sequenceLength(bytes, i) {
    const b = bytes[i];
    let n, lo = 0x80, hi = 0xbf;
    if (b < 0x80) return 1;
    if (b >= 0xc2 && b <= 0xdf) n = 2;
    else if (b >= 0xe0 && b <= 0xef) { n = 3; if (b === 0xe0) lo = 0xa0; if (b === 0xed) hi = 0x9f; }
    else if (b >= 0xf0 && b <= 0xf4) { n = 4; if (b === 0xf0) lo = 0x90; if (b === 0xf4) hi = 0x8f; }
    else return 0;
    if (i + n > bytes.length) return 0;
    for (let k = 1; k < n; k++) {
      const c = bytes[i + k];
      if (c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return 0;
    }
    return n;
  }

  /** A token's text: whole characters as themselves, stray bytes of a split character as \xNN. */
  function tokenLabel(bytes) {
    const dec = new TextDecoder("utf-8");
    let out = "", partial = false;
    for (let i = 0; i < bytes.length;) {
      const n = sequenceLength(bytes, i);
      if (n === 0) {
        out += "\\x" + (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16);
        partial = true;
        i += 1;
      } else {
        out += dec.decode(bytes.subarray(i, i + n));
        i += n;
      }
    }
    return { text: out, partial: partial };
  }

  function hex(bytes) {
    return Array.from(bytes, function (b) { return (b < 16 ? "0" : "") + b.toString(16); }).join(" ");
  }

  const api = { createEncoder: createEncoder, tokenLabel: tokenLabel };
  if (typeof module === "object" && module.exports) module.exports = api;
  if (typeof window === "undefined") return;
  window.llmkbTokenizer = api;

  // ------------------------------------------------------------------ widget

  const MAX_SHOWN = 4000;
  const COLOURS = ["#fde68a", "#bfdbfe", "#bbf7d0", "#fecaca", "#ddd6fe", "#fbcfe8", "#c7d2fe", "#a5f3fc"];
  const CSS = [
    ".llmkb-tokenizer{border:1px solid var(--md-default-fg-color--lightest);border-radius:6px;padding:.8em 1em;margin:1em 0}",
    ".llmkb-tokenizer textarea{width:100%;box-sizing:border-box;min-height:5.5em;font-family:var(--md-code-font-family,monospace);" +
      "font-size:.85em;padding:.4em .5em;border:1px solid var(--md-default-fg-color--lighter);border-radius:4px;" +
      "background:var(--md-default-bg-color);color:var(--md-default-fg-color);resize:vertical}",
    ".llmkb-tokenizer .t-bar{display:flex;flex-wrap:wrap;gap:.4em .8em;align-items:center;margin:.4em 0;font-size:.8em}",
    ".llmkb-tokenizer .t-bar button{font:inherit;padding:.1em .6em;border-radius:4px;cursor:pointer;" +
      "border:1px solid var(--md-default-fg-color--lighter);background:transparent;color:var(--md-default-fg-color)}",
    ".llmkb-tokenizer .t-stats{font-size:.85em;margin:.3em 0;font-variant-numeric:tabular-nums}",
    ".llmkb-tokenizer .t-chunks{white-space:pre-wrap;word-break:break-all;font-family:var(--md-code-font-family,monospace);" +
      "font-size:.85em;line-height:1.9;padding:.4em .5em;background:var(--md-code-bg-color);border-radius:4px;" +
      "max-height:18em;overflow:auto}",
    ".llmkb-tokenizer .t-tok{color:#111;border-radius:2px;padding:.05em 0;box-shadow:inset -1px 0 rgba(0,0,0,.25)}",
    ".llmkb-tokenizer .t-tok.t-partial{outline:1px dashed #b91c1c}",
    ".llmkb-tokenizer .t-tok.t-special{background:#111 !important;color:#fde68a}",
    ".llmkb-tokenizer .t-tok.t-active{outline:2px solid var(--md-accent-fg-color)}",
    ".llmkb-tokenizer .t-ids{font-family:var(--md-code-font-family,monospace);font-size:.78em;max-height:8em;overflow:auto;" +
      "margin:.4em 0 0;padding:.3em .5em;background:var(--md-code-bg-color);border-radius:4px;white-space:pre-wrap}",
    ".llmkb-tokenizer .t-info{font-size:.8em;min-height:1.3em;color:var(--md-default-fg-color--light)}",
  ].join("\n");

  function injectStyle() { window.llmkb.injectStyle("llmkb-tokenizer-style", CSS); }

  function h(tag, attrs, text) { return window.llmkb.el(tag, attrs, text); }

  function build(el, data) {
    injectStyle();
    const enc = createEncoder(data.vocab);
    const examples = data.examples || {};
    el.textContent = "";
    el.classList.add("llmkb-tokenizer");

    const input = h("textarea", { "aria-label": "Text to tokenize", spellcheck: "false", class: "t-input" });
    input.value = examples.prose || "";
    const bar = h("div", { class: "t-bar" });
    bar.appendChild(h("span", {}, "Examples:"));
    Object.keys(examples).forEach(function (name) {
      const b = h("button", { type: "button", "data-example": name }, name);
      b.addEventListener("click", function () { input.value = examples[name]; update(); });
      bar.appendChild(b);
    });
    const specialLabel = h("label", {});
    const special = h("input", { type: "checkbox", class: "t-special-toggle" });
    special.checked = true;
    specialLabel.appendChild(special);
    specialLabel.appendChild(
      document.createTextNode(" special tokens (" + (enc.specialTokens.join(", ") || "none") + ") as one id")
    );
    bar.appendChild(specialLabel);

    const stats = h("div", { class: "t-stats", "aria-live": "polite" });
    const chunks = h("div", { class: "t-chunks" });
    const info = h("div", { class: "t-info" }, "Hover or tap a token to see its id and bytes.");
    const idsBox = h("pre", { class: "t-ids" });
    [input, bar, stats, chunks, info, idsBox].forEach(function (x) { el.appendChild(x); });

    function describe(span) {
      const id = Number(span.dataset.id);
      const b = enc.tokenBytes(id);
      info.textContent = "id " + id + (enc.isSpecial(id) ? " (special)" : "") + " \u00b7 " + b.length +
        " byte" + (b.length === 1 ? "" : "s") + ": " + hex(b);
    }
    chunks.addEventListener("mouseover", function (ev) {
      const t = ev.target.closest && ev.target.closest(".t-tok");
      if (t) describe(t);
    });
    chunks.addEventListener("click", function (ev) {
      const t = ev.target.closest && ev.target.closest(".t-tok");
      if (!t) return;
      chunks.querySelectorAll(".t-active").forEach(function (x) { x.classList.remove("t-active"); });
      t.classList.add("t-active");
      describe(t);
    });

    function update() {
      const text = input.value;
      const ids = enc.encode(text, special.checked);
      const frag = document.createDocumentFragment();
      const shown = Math.min(ids.length, MAX_SHOWN);
      for (let n = 0; n < shown; n++) {
        const id = ids[n];
        const label = tokenLabel(enc.tokenBytes(id));
        const span = h("span", { class: "t-tok", "data-id": String(id) }, label.text);
        span.style.background = COLOURS[n % COLOURS.length];
        if (label.partial) span.classList.add("t-partial");
        if (enc.isSpecial(id)) span.classList.add("t-special");
        span.title = "id " + id;
        frag.appendChild(span);
      }
      if (ids.length > shown) frag.appendChild(h("span", { class: "t-more" }, " \u2026 " + (ids.length - shown) + " more"));
      chunks.textContent = "";
      chunks.appendChild(frag);
      const nBytes = utf8Length(text);
      stats.textContent = ids.length + " tokens \u00b7 " + Array.from(text).length + " characters \u00b7 " + nBytes +
        " UTF-8 bytes" + (ids.length ? " \u00b7 " + (nBytes / ids.length).toFixed(2) + " bytes/token" : "") +
        " \u00b7 vocabulary " + enc.vocabSize;
      idsBox.textContent = "[" + ids.join(", ") + "]";
      el.dataset.ids = JSON.stringify(ids);
      el.dataset.count = String(ids.length);
    }

    input.addEventListener("input", update);
    special.addEventListener("change", update);
    update();
    el.dataset.state = "ready";
    el.dataset.ready = "1";
  }

  function utf8Length(text) {
    return new TextEncoder().encode(text.replace(/[\uD800-\uDFFF]/gu, "\uFFFD")).length;
  }

  function init(el) {
    el.textContent = "Loading the tokenizer\u2026";
    window.llmkb.fetchJSON(el.dataset.src).then(function (data) { build(el, data); }).catch(function (err) {
      el.textContent = "The tokenizer could not load its vocabulary.";
      el.dataset.state = "error";
      console.error("llmkb tokenizer widget:", err);
    });
  }

  function register() { window.llmkb.register("tokenizer", init); }
  if (window.llmkb) register();
  else document.addEventListener("DOMContentLoaded", register);
})();
