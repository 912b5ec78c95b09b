/* The backprop player: restyles the graphviz SVG for step k and fills the side panel from the embedded data.
   Everything shown was computed in Python (viz/player.py) from the stepper's record; nothing is recomputed here. */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("player-data").textContent);
  var N = D.total, steps = D.steps;
  var svg = document.querySelector("#graph svg");
  var pane = document.getElementById("graph-pane");
  var panel = document.getElementById("panel");
  var slider = document.getElementById("slider");
  var state = { smooth: true, k: -1, quiz: false, revealed: {}, guesses: {}, checked: {}, timer: null, zoom: 1, term: null, fwd: null,
                answers: {}, weight: null };
  var SVGNS = "http://www.w3.org/2000/svg";
  var PENDING = "#cfcfcf";
  var READABLE_PX = 11;          // "fit" zooms out no further than this text height

  // ---- numbers ---------------------------------------------------------------------------------
  function num(x) { return typeof x === "string" ? Number(x) : x; }
  function fmt(x) {
    x = num(x);
    if (x === null || x === undefined) return "–";
    if (!isFinite(x)) return String(x);
    if (x === 0) return "0";
    var a = Math.abs(x);
    if (a >= 1e4 || a < 1e-3) return x.toExponential(2).replace("e+", "e");
    return String(parseFloat(x.toPrecision(4)));
  }
  // Every text from the data reaches the page through shown() (as textContent) or esc() (inside HTML).
  var INVISIBLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff\ufffe\uffff]/gu;
  var MAX_TEXT = 300;
  function shown(s) {             // one line that shows what it holds: \n, \x00, \u2028 as text; long: start … end
    s = String(s).replace(INVISIBLE, function (c) {
      var code = c.charCodeAt(0), hex = code.toString(16);
      return { 10: "\\n", 13: "\\r", 9: "\\t" }[code] || (code < 256 ? "\\x" + ("0" + hex).slice(-2) : "\\u" + ("000" + hex).slice(-4));
    });
    return s.length > MAX_TEXT ? s.slice(0, 200) + "…" + s.slice(s.length - 99) : s;
  }
  function esc(s) {
    return shown(s).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }
  function shapeText(shape) { return shape.length ? shape.join("×") : "scalar"; }
  function nameParts(name) {      // dot.py's name_html rule: s_1 -> [s, "", 1], weight_ih_l0, h^(1)_3; else null
    var m = /^([^_\s^]+)(?:\^\((\w{1,3})\))?_((?:[^_\s]{1,5}_){0,2}[^_\s]{1,5})$/.exec(shown(name));
    return m && [m[1], m[2] || "", m[3].replace(/_/g, ",")];
  }
  function sub(name) {            // a name as HTML with its sub- and superscript; an expression (s_1 @ W) as code
    var p = nameParts(name);
    if (!p) return /\s/.test(shown(name)) ? "<code class='expr'>" + esc(name) + "</code>" : esc(name);
    return esc(p[0]) + (p[1] ? "<sup>(" + esc(p[1]) + ")</sup>" : "") + "<sub>" + esc(p[2]) + "</sub>";
  }
  function svgName(t, name) {     // the same into SVG text: the subscript and superscript as shifted tspans
    var p = nameParts(name) || [shown(name), "", ""];
    t.appendChild(document.createTextNode(p[0]));
    [[p[1] && "(" + p[1] + ")", "super"], [p[2], "sub"]].forEach(function (part) {
      if (!part[0]) return;
      var span = document.createElementNS(SVGNS, "tspan");
      span.setAttribute("baseline-shift", part[1]);
      span.setAttribute("font-size", "80%");          // as dot's subscripts (viz/fit.py SCRIPT_SCALE)
      span.textContent = part[0];
      t.appendChild(span);
    });
  }
  function prose(s) {             // the quiz's text: `code` as code, names such as W_s, s_2, E_3 with subscripts
    return esc(s).split("`").map(function (part, i) {
      return i % 2 ? "<code>" + part + "</code>" :
        part.replace(/\b([A-Za-z]{1,2})_([A-Za-z0-9]{1,3})\b/g, "$1<sub>$2</sub>");
    }).join("");
  }
  // MathML made and checked in Python (viz/mathml.py); without latex2mathml it is absent and the text is shown
  function own(table, key) {      // table[key] for a key from the data ("constructor" is a name, not Object's)
    return table && Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
  }
  function math(mml, text, cls) {
    return mml ? "<span class='math" + (cls ? " " + cls : "") + "'>" + mml + "</span>" :
      "<span class='rule" + (cls ? " " + cls : "") + "'>" + esc(text) + "</span>";
  }
  // A <math> never breaks a line. Cut each formula into one <math> per piece, so that it wraps as prose does:
  // after a relation or a binary operator of its top row (=, +=, +, −, ⊙), and between the words of its text. A
  // formula of several clauses (rules apart by a quad) keeps each clause on one line where it fits.
  var MATHNS = "http://www.w3.org/1998/Math/MathML";
  var BREAK_AFTER = { "=": 1, "+=": 1, "≈": 1, "+": 1, "−": 1, "-": 1, "⊙": 1 };
  function formulaClauses(m) {    // [clause: [piece: [its elements, a space before it?]]] of the formula's top row
    var row = m.children.length === 1 && m.firstElementChild.localName === "mrow" ? m.firstElementChild : m;
    var all = Array.prototype.slice.call(row.children), clauses = [], pieces = [], cur = [];
    function flush(space) { if (cur.length) pieces.push([cur, space]); cur = []; }
    all.forEach(function (el, i) {
      if (el.localName === "mspace" && parseFloat(el.getAttribute("width")) >= 0.5) {   // \quad between clauses
        flush(false);
        if (pieces.length) clauses.push(pieces);
        pieces = [];
        return;
      }
      if (el.localName === "mtext") {          // its words, apart (latex2mathml joins them with no-break spaces)
        flush(false);
        el.textContent.split(/[\s\u00a0]+/).filter(Boolean).forEach(function (word) {
          var t = document.createElementNS(MATHNS, "mtext");
          t.textContent = word;
          pieces.push([[t], true]);
        });
        return;
      }
      cur.push(el);
      var before = all[i - 1], unary = !before || (before.localName === "mo" && !/^[)\]]$/.test(before.textContent));
      if (el.localName === "mo" && BREAK_AFTER[el.textContent] && !unary && i < all.length - 1) {
        el.setAttribute("form", "infix");      // its spacing, though it now ends a row
        flush(false);
      }
    });
    flush(false);
    if (pieces.length) clauses.push(pieces);
    return clauses;
  }
  function wrapFormulas(where) {
    Array.prototype.forEach.call(where.querySelectorAll(".math > math"), function (m) {
      var clauses = formulaClauses(m);
      if (clauses.length < 2 && (!clauses.length || clauses[0].length < 2)) return;
      var out = document.createDocumentFragment();
      clauses.forEach(function (pieces, c) {
        var into = out;
        if (clauses.length > 1) {
          if (c) out.appendChild(document.createTextNode(" "));
          into = out.appendChild(document.createElement("span"));
          into.className = "clause";
        }
        pieces.forEach(function (p, i) {
          if (i && p[1]) into.appendChild(document.createTextNode(" "));
          var piece = m.cloneNode(false), row = document.createElementNS(MATHNS, "mrow");
          p[0].forEach(function (el) { row.appendChild(el); });
          piece.appendChild(row);
          into.appendChild(piece);
        });
      });
      m.parentNode.classList.add("wrapped");
      m.parentNode.replaceChild(out, m);
    });
  }
  function dname(label) { return "∂" + sub(D.loss) + "/∂" + (/\s/.test(label) ? "(" + esc(label) + ")" : sub(label)); }

  // ---- arrays: values, norm, heatmap -------------------------------------------------------------
  function values(a) {
    if (!a) return "<span class='sub'>none</span>";
    if (a.size === 1) return "<span class='arr'>" + fmt(a.values[0]) + "</span>";
    if (!a.size) return "<span class='arr'>[]</span>";
    if (a.values.length === a.size) return matrix(a);
    return "<span class='arr'>[" + a.values.map(fmt).join(", ") + ", <span class='more'>… " +
      (a.size - a.values.length) + " more</span>]</span>";
  }
  function matrix(a) {            // every entry, laid out as numpy prints it: one line per row of the last axis,
    var dims = a.shape.length, last = a.shape[dims - 1], lead = a.shape.slice(0, -1);   // its columns aligned
    var cells = a.values.map(fmt), width = Math.max.apply(null, cells.map(function (c) { return c.length; }));
    var rows = [];
    for (var r = 0; r * last < cells.length; r++) {
      var opens = 1, closes = 1, rest = r;          // brackets: one per axis whose block starts (ends) at this row
      for (var d = lead.length - 1; d >= 0; d--) {
        var at = rest % lead[d];
        rest = (rest - at) / lead[d];
        if (at === 0 && opens === lead.length - d) opens++;
        if (at === lead[d] - 1 && closes === lead.length - d) closes++;
      }
      var row = cells.slice(r * last, (r + 1) * last).map(function (c, j) {   // the comma stays with its entry
        return "<span class='v'>" + "\u00a0".repeat(width - c.length) + esc(c) + (j < last - 1 ? "," : "") + "</span>";
      });
      rows.push("<div>" + "\u00a0".repeat(dims - opens) + "[".repeat(opens) + row.join(" ") + "]".repeat(closes) +
        "</div>");
    }
    return "<span class='arr mat d" + Math.min(dims, 4) + "'>" + rows.join("") + "</span>";
  }
  function heatColour(v, m) {
    v = num(v);
    if (!isFinite(v)) return "#000";
    var t = m > 0 ? Math.max(-1, Math.min(1, v / m)) : 0;
    var c = t >= 0 ? [178, 24, 43] : [33, 102, 172];
    var f = Math.pow(Math.abs(t), 0.8);
    return "rgb(" + c.map(function (x) { return Math.round(255 + (x - 255) * f); }).join(",") + ")";
  }
  function heatmap(a) {
    if (!a || !a.heat) return "";
    var h = a.heat, cell = Math.max(8, Math.min(16, Math.floor(300 / h.cols))), m = num(a.absmax) || 0;
    var out = "<svg class='heat' width='" + (h.cols * cell + 1) + "' height='" + (h.rows * cell + 1) + "'>";
    for (var r = 0; r < h.rows; r++)
      for (var c = 0; c < h.cols; c++) {
        var v = h.data[r * h.cols + c];
        out += "<rect x='" + (c * cell + 0.5) + "' y='" + (r * cell + 0.5) + "' width='" + (cell - 1) + "' height='" +
          (cell - 1) + "' fill='" + heatColour(v, m) + "'><title>[" + r + "," + c + "] " + fmt(v) + "</title></rect>";
      }
    out += "</svg>";
    var cut = h.of[0] > h.rows || h.of[1] > h.cols;
    return out + "<div class='heatnote'>blue &lt; 0 &lt; red, ±" + fmt(m) + (cut ? "; showing " + h.rows + "×" + h.cols +
      " of " + h.of.join("×") : "") + "</div>";
  }
  function arrayBlock(a, what) {
    if (!a) return "<span class='sub'>no gradient (a constant)</span>";
    return "<div class='eq'><span class='k'>shape</span><span>" + shapeText(a.shape) + "</span>" +
      "<span class='k'>‖" + what + "‖</span><span class='nrm' data-v='" + esc(a.norm) + "'>" + fmt(a.norm) + "</span>" +
      "<span class='k'>values</span><span>" + values(a) + "</span></div>" + heatmap(a);
  }

  // ---- which events are visible at step k ----------------------------------------------------------
  function seen(step) {            // quiz mode keeps the current step's results hidden until revealed
    return step < state.k || (step === state.k && (!state.quiz || state.revealed[state.k]));
  }
  function lastSeen(events) {
    var got = null;
    for (var i = 0; i < events.length; i++) { if (seen(events[i][0])) got = events[i]; else if (events[i][0] > state.k) break; }
    return got;
  }

  // ---- the graph -----------------------------------------------------------------------------------
  var G = {}, root = null, halos = null, gradTexts = {};
  function isGradText(t) { return /^∇ /.test(t.textContent.trim()); }   // dot.py writes "∇ 0.0123"; a name ∇₁ is not one
  function setupGraph() {
    if (!svg) return;
    root = svg.querySelector("g.graph") || svg.querySelector("g");
    Object.keys(D.vertices).concat(Object.keys(D.edges)).forEach(function (id) {
      var g = svg.getElementById ? svg.getElementById(id) : document.getElementById(id);
      if (g) G[id] = g;
    });
    Object.keys(D.vertices).forEach(function (id) {
      if (!G[id]) return;
      gradTexts[id] = Array.prototype.filter.call(G[id].querySelectorAll("text"), isGradText);
    });
    Object.keys(D.edges).forEach(function (id) {
      var g = G[id];
      if (!g) return;
      g._path = g.querySelector("path");
      g._heads = g.querySelectorAll("polygon");
      g._text = g.querySelector("text");
    });
    halos = document.createElementNS(SVGNS, "g");
    halos.setAttribute("id", "halos");
    var bg = root.querySelector("polygon");
    root.insertBefore(halos, bg && bg.parentNode === root ? bg.nextSibling : root.firstChild);
  }
  function setClass(g, cls) {
    ["pl-pending", "pl-recv", "pl-current", "pl-done", "pl-now", "pl-fwd", "pl-fwd-cur"].forEach(function (c) {
      g.classList.remove(c);
    });
    if (cls) g.classList.add(cls);
  }
  function vertexState(id, v, cur) {
    if (id === cur) return "pl-current";
    if (!seen(v.arrive) && v.first !== state.k) return "pl-pending";
    if (state.k >= v.last && seen(v.last)) return "pl-done";
    return "pl-recv";
  }
  function halo(g, cls, pad) {
    var b = g.getBBox(), r = document.createElementNS(SVGNS, "rect");
    r.setAttribute("x", b.x - pad); r.setAttribute("y", b.y - pad);
    r.setAttribute("width", b.width + 2 * pad); r.setAttribute("height", b.height + 2 * pad);
    r.setAttribute("rx", 6); r.setAttribute("class", cls);
    halos.appendChild(r);
  }
  function styleEdge(g, ev) {
    var path = g._path, colour = ev ? ev[1] : PENDING, width = ev ? ev[2] : 0.8;
    if (path) {
      path.setAttribute("stroke", colour);
      path.setAttribute("stroke-width", width);
      path.setAttribute("stroke-dasharray", ev && ev[4] ? "2,2" : "");
    }
    Array.prototype.forEach.call(g._heads, function (p) { p.setAttribute("fill", colour); p.setAttribute("stroke", colour); });
    if (g._text) {
      if (ev && ev[3]) { g._text.textContent = ev[3]; g._text.classList.remove("pl-hidden"); }
      else g._text.classList.add("pl-hidden");
    }
  }
  function restyleGraph() {
    if (!svg) return;
    var k = state.k, cur = k >= 0 ? D.step_vertex[k] : null;
    while (halos.firstChild) halos.removeChild(halos.firstChild);
    var receivers = {};
    Object.keys(D.edges).forEach(function (id) {
      var g = G[id], e = D.edges[id];
      if (!g) return;
      var ev = lastSeen(e.events);
      var now = e.events.some(function (x) { return x[0] === k && x[5] !== null; });   // gradient flows now
      styleEdge(g, ev);
      setClass(g, ev ? (now && seen(k) ? "pl-now" : null) : "pl-pending");
      if (now && e.src !== cur) receivers[e.src] = true;
    });
    Object.keys(D.vertices).forEach(function (id) {
      var g = G[id], v = D.vertices[id];
      if (!g) return;
      var st = vertexState(id, v, cur);
      setClass(g, st);
      var texts = gradTexts[id] || [];
      if (v.grad_text) {
        var ev = lastSeen(v.grad_text);
        texts.forEach(function (t) {
          if (ev) { t.textContent = ev[1]; t.classList.remove("pl-hidden"); } else t.classList.add("pl-hidden");
        });
      } else {
        var show = st === "pl-done" || (st === "pl-current" && seen(k)) || (v.first === null && st !== "pl-pending");
        texts.forEach(function (t) { t.classList.toggle("pl-hidden", !show); });
      }
    });
    Object.keys(receivers).forEach(function (id) { if (G[id]) halo(G[id], "halo-recv", 3); });
    highlightTerm();
    highlightUses();
    if (cur && G[cur]) {
      halo(G[cur], "halo", 5);
      scrollTo([G[cur]].concat(Object.keys(receivers).map(function (id) { return G[id]; }).filter(Boolean)));
    } else if (k < 0 && G[D.step_vertex[0]]) scrollTo([G[D.step_vertex[0]]]);     // the start: show the loss
    updateStrip();
  }
  function scrollTo(gs) {        // bring gs[0] (the current node) and, where they fit with it, the others into view
    var p = pane.getBoundingClientRect(), margin = 40, box = gs[0].getBoundingClientRect();
    var want = { left: box.left, right: box.right, top: box.top, bottom: box.bottom };
    gs.slice(1).forEach(function (g) {
      var b = g.getBoundingClientRect(), u = { left: Math.min(want.left, b.left), right: Math.max(want.right, b.right),
        top: Math.min(want.top, b.top), bottom: Math.max(want.bottom, b.bottom) };
      if (u.right - u.left <= p.width - 2 * margin && u.bottom - u.top <= p.height - 2 * margin) want = u;
    });
    var dx = 0, dy = 0;
    if (want.left < p.left + margin || want.right > p.right - margin) dx = (want.left + want.right - p.left - p.right) / 2;
    if (want.top < p.top + margin || want.bottom > p.bottom - margin) dy = (want.top + want.bottom - p.top - p.bottom) / 2;
    // an absolute target, set even when nothing moves: a smooth scroll still running from an earlier step
    // would otherwise carry the current node out of view
    pane.scrollTo({ left: pane.scrollLeft + dx, top: pane.scrollTop + dy,
                    behavior: state.smooth ? "smooth" : "instant" });
  }

  // ---- the strip of ||dE/ds_t|| under the time steps -------------------------------------------------
  var strip = null;
  function columns() {          // t -> [x0, x1] in the graph's coordinates, from the step clusters
    var cols = {};
    Object.keys(D.cols).forEach(function (t) {
      var g = svg.getElementById(D.cols[t]);
      if (g) { var b = g.getBBox(); cols[t] = [b.x, b.x + b.width]; }
    });
    if (D.elided) {          // the hidden steps share the room between their drawn neighbours' strip cells
      var a = D.elided[0], z = D.elided[1], n = z - a + 1, box = svg.getElementById("elided");
      var before = cols[a - 1], after = cols[z + 1];
      var x0 = before ? (before[0] + before[1]) / 2 + 40 : null, x1 = after ? (after[0] + after[1]) / 2 - 40 : null;
      if (box) {
        var b = box.getBBox();
        x0 = x0 === null ? b.x : Math.min(x0, b.x);
        x1 = x1 === null ? b.x + b.width : Math.max(x1, b.x + b.width);
      }
      if (x0 !== null && x1 !== null)
        for (var t = a; t <= z; t++) cols[t] = [x0 + (t - a) * (x1 - x0) / n, x0 + (t - a + 1) * (x1 - x0) / n];
    }
    return cols;
  }
  function bottomOver(x0, x1) {   // the lowest point of what the graph draws between x0 and x1
    var low = -Infinity;
    Array.prototype.forEach.call(root.querySelectorAll("g.node, g.cluster"), function (g) {
      var b = g.getBBox();
      if (b.width && b.x < x1 && b.x + b.width > x0) low = Math.max(low, b.y + b.height);
    });
    return isFinite(low) ? low : root.getBBox().y + root.getBBox().height;
  }
  function tickEvery(width, t) {  // the step numbers under narrow bars: every 1, 2, 5, 10, ... steps, clear of each other
    var need = String(t).length * 6.2 + 6;                       // 11 px digits and a gap
    return [1, 2, 5, 10, 20, 50, 100, 200, 500].filter(function (k) { return k * width >= need; })[0] || 1000;
  }
  function buildStrip() {
    if (!D.strip.length) return;
    var cols = columns(), rowH = 80, spans = Object.keys(cols).map(function (t) { return cols[t]; });
    if (!spans.length) return;
    var x0 = Math.min.apply(null, spans.map(function (x) { return x[0]; }));
    var x1 = Math.max.apply(null, spans.map(function (x) { return x[1]; }));
    var top = bottomOver(x0, x1) + 8, bb = root.getBBox();
    strip = document.createElementNS(SVGNS, "g");
    strip.setAttribute("id", "strip");
    root.appendChild(strip);
    D.strip.forEach(function (row, r) {
      var y = top + r * rowH, scale = logScale(row.cells);
      var title = text(strip, x0, y + 12, "strip-title", "‖∂");
      svgName(title, D.loss);
      title.appendChild(document.createTextNode("/∂"));
      svgName(title, row.name + "_t");
      title.appendChild(document.createTextNode("‖" + (row.layer ? " (" + shown(row.layer) + ")" : "") +
        " per time step, as the walk reaches each state (light: partial, a use still to come)" +
        (scale ? "; bar height on a log scale from " + fmt(scale[0]) + " to " + fmt(scale[1]) : "")));
      row.cells.forEach(function (c) {
        var x = cols[c.t];
        if (!x) return;
        var w = Math.max(2, Math.min(70, x[1] - x[0] - 4)), cx = (x[0] + x[1]) / 2, narrow = w < 40;
        var val = text(strip, cx, y + 28, "strip-num", "");
        var slot = rect(strip, cx - w / 2, y + 31, w, 28, "strip-slot");
        var bar = rect(strip, cx - w / 2, y + 59, w, 0, "strip-bar");
        var name = text(strip, cx, y + 73, "strip-name", narrow ? (c.t % tickEvery(x[1] - x[0], c.t) ? "" : String(c.t)) : "");
        if (!narrow) svgName(name, c.label);                     // s_2 as s with a subscript 2
        slot.appendChild(document.createElementNS(SVGNS, "title")).textContent = shown(c.label);
        val.setAttribute("text-anchor", "middle");
        name.setAttribute("text-anchor", "middle");
        c._el = { slot: slot, bar: bar, val: val, y: y, scale: scale, narrow: narrow };
      });
    });
    var extra = Math.max(0, top + D.strip.length * rowH + 4 - (bb.y + bb.height));
    var vb = svg.getAttribute("viewBox").split(/[\s,]+/).map(Number);
    vb[3] += extra;
    svg.setAttribute("viewBox", vb.join(" "));
    svg.setAttribute("height", (parseFloat(svg.getAttribute("height")) + extra) + "pt");
    var bg = root.querySelector("polygon");
    if (bg && bg.parentNode === root) {         // stretch the white background too
      var b = bg.getBBox(), pts = [[b.x, b.y], [b.x, b.y + b.height + extra], [b.x + b.width, b.y + b.height + extra],
        [b.x + b.width, b.y], [b.x, b.y]];
      bg.setAttribute("points", pts.map(function (p) { return p.join(","); }).join(" "));
    }
  }
  function logScale(cells) {    // [smallest, largest] finite positive norm of a strip row, or null
    var lo = Infinity, hi = 0;
    cells.forEach(function (c) {
      c.events.forEach(function (e) { var v = num(e[1]); if (v > 0 && isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); } });
    });
    return hi > 0 ? [lo, hi] : null;
  }
  function barHeight(v, scale, full) {   // log10 of v placed between the row's smallest (2 px) and largest (full)
    if (!scale || !(v > 0)) return 0;
    if (!isFinite(v)) return full;
    var lo = Math.log10(scale[0]), hi = Math.log10(scale[1]);
    return hi > lo ? 2 + (full - 2) * (Math.log10(v) - lo) / (hi - lo) : full;
  }
  function rect(parent, x, y, w, h, cls) {
    var r = document.createElementNS(SVGNS, "rect");
    r.setAttribute("x", x); r.setAttribute("y", y); r.setAttribute("width", Math.max(0, w)); r.setAttribute("height", h);
    r.setAttribute("class", cls);
    parent.appendChild(r);
    return r;
  }
  function text(parent, x, y, cls, s) {
    var t = document.createElementNS(SVGNS, "text");
    t.setAttribute("x", x); t.setAttribute("y", y); t.setAttribute("class", cls);
    t.textContent = s;
    parent.appendChild(t);
    return t;
  }
  function updateStrip() {
    if (!strip) return;
    var cur = state.k >= 0 ? steps[state.k] : null;
    D.strip.forEach(function (row) {
      row.cells.forEach(function (c) {
        if (!c._el) return;
        var ev = lastSeen(c.events), el = c._el, h = 0;
        if (ev) h = barHeight(num(ev[1]), el.scale, 28);
        el.bar.setAttribute("y", el.y + 59 - h);
        el.bar.setAttribute("height", h);
        el.bar.setAttribute("class", "strip-bar" + (ev && !ev[2] ? " partial" : ""));
        el.val.textContent = ev && !el.narrow ? fmt(ev[1]) + (ev[2] ? "" : " so far") : "";
        el.slot.firstChild.textContent = shown(c.label) + (ev ? ": " + fmt(ev[1]) + (ev[2] ? "" : " so far") : ": not reached yet");
        el.slot.setAttribute("class", "strip-slot" + (cur && cur.name === c.label && cur.time === "t=" + c.t ? " strip-cur" : ""));
      });
    });
  }

  // ---- a term's path: the edges its gradient flowed along, from the loss to the leaf ------------------
  function pathSteps(start) {           // the steps between the loss and `start`: those it feeds, again and again
    var path = {}, todo = [start];
    path[start] = true;
    while (todo.length) steps[todo.pop()].feeds.forEach(function (j) { if (!path[j]) { path[j] = true; todo.push(j); } });
    return Object.keys(path).map(Number).sort(function (a, b) { return a - b; });
  }
  function termPath(t) {
    var verts = {}, edges = {};
    pathSteps(t.step).forEach(function (i) { if (D.step_vertex[i]) verts[D.step_vertex[i]] = true; });
    Object.keys(D.edges).forEach(function (id) {      // between two vertices of the path: the gradient went along
      var e = D.edges[id];
      if (verts[e.src] && verts[e.dst] && e.src !== e.dst) edges[id] = true;
    });
    if (t.edge) edges[t.edge] = true;                 // and the edge into the leaf that carried this term
    return { vertices: verts, edges: edges };
  }
  function highlightTerm() {
    Array.prototype.forEach.call(document.querySelectorAll("#graph .pl-path, #graph .pl-path-leaf"), function (g) {
      g.classList.remove("pl-path"); g.classList.remove("pl-path-leaf");
    });
    if (state.term === null || !svg) return;
    var t = D.terms[state.term], p = termPath(t);
    Object.keys(p.vertices).concat(Object.keys(p.edges)).forEach(function (id) { if (G[id]) G[id].classList.add("pl-path"); });
    if (t.edge && G[t.edge]) G[t.edge].classList.add("pl-path-leaf");
  }
  function selectTerm(i) {
    state.term = state.term === i ? null : i;
    if (state.term !== null && state.weight !== null) selectWeight(state.weight);   // clears the weight's uses
    restyleGraph();
    renderPanel();
  }
  function termSection() {
    if (state.term === null) return "";
    var t = D.terms[state.term], h = "<section id='term'><h3>the term of ∂" + sub(D.loss) + "/∂" + sub(t.leaf) +
      " from " + esc(t.when) + " (walk step " + (t.step + 1) + ") <button class='small' id='term-clear'>close</button></h3>";
    if (t.chain_mathml) h += "<div class='formula'>" + math(t.chain_mathml, t.chain, "chain") + "</div>";
    else if (t.branches) h += "<div class='sub'>its path branches (through the cell's gates): the term is a sum over " +
      "those paths, so no single chain of factors is written; the path is drawn in the graph</div>";
    h += "<div class='sub'>the gradient that arrived at each tensor on its path (click to go there):</div><table class='factors'>";
    pathSteps(t.step).forEach(function (i) {        // the named tensors on the path (not the loss: ∂E/∂E = 1)
      var f = steps[i];
      if (i === 0 || !f.name) return;
      h += "<tr><td><button class='small jump' data-step='" + i + "'>" + dname(f.label) + "</button></td><td>" +
        values(f.grad) + "</td><td class='nrm' data-v='" + (f.grad ? esc(f.grad.norm) : "") + "'>" + (f.grad ? fmt(f.grad.norm) : "") + "</td></tr>";
    });
    h += "</table><div class='sub'>the term, sent along the edge into " + sub(t.leaf) + ":</div>" + arrayBlock(t.value, "term");
    return h + "</section>";
  }
  function termButton(id, text) {
    return id === null || id === undefined ? esc(text) : "<button class='small term" + (state.term === id ? " on" : "") +
      "' data-term='" + esc(id) + "' title='show the path of this term in the graph'>" + esc(text) + "</button>";
  }

  // ---- the folded view above the graph: a click on a weight marks its uses in the unrolled graph --------
  var foldedSvg = document.querySelector("#folded svg"), foldPane = document.getElementById("folded-pane");
  // the folded view's zoom: its text (dot's 14 pt = 18.7 px at zoom 1) at 11 px at least, 13.4 px on a wide screen,
  // larger (up to 15 px) where the whole picture still fits its pane
  var FOLD_ZOOM = { least: 0.6, wide: 0.72, most: 0.8 }, WIDE = 1600;
  var SMALL = 720;               // a window less tall than this starts with the folded pane closed
  var FOLD_HEAD = "folded: each loop once — click a weight to mark its uses in the unrolled graph below";
  var foldGradTexts = [];        // its gradient numbers: ∇ on each vertex, and a weight's terms and sparkline below
  function setupFolded() {
    if (!foldedSvg) { foldPane.hidden = true; document.getElementById("folded-toggle").hidden = true; return; }
    fitFolded();
    Object.keys(D.folded.weights).forEach(function (id) {
      var g = foldedSvg.getElementById(id);
      if (g) { g.classList.add("fold-weight"); g.setAttribute("tabindex", "0"); }
    });
    Array.prototype.forEach.call(foldedSvg.querySelectorAll("g.node"), function (g) {
      var texts = Array.prototype.slice.call(g.querySelectorAll("text")), at = texts.findIndex(isGradText);
      if (at >= 0) foldGradTexts = foldGradTexts.concat(own(D.folded.weights, g.id) ? texts.slice(at) : [texts[at]]);
    });
    foldedSvg.addEventListener("click", function (ev) {
      var g = ev.target.closest ? ev.target.closest("g.node") : null;
      if (g && own(D.folded.weights, g.id)) selectWeight(g.id);
    });
    document.getElementById("show-folded").onchange = function (ev) { showFolded(ev.target.checked); };
  }
  function showFolded(on) {
    document.getElementById("show-folded").checked = on;
    foldPane.hidden = !on;
    fitFolded();
  }
  function fitFolded() {
    var vb = foldedSvg.getAttribute("viewBox").split(/[\s,]+/).map(Number), w = vb[2] * 4 / 3, h = vb[3] * 4 / 3;
    var room = parseFloat(getComputedStyle(foldPane).maxHeight) - document.getElementById("fold-head").offsetHeight;
    var fit = foldPane.clientWidth ? Math.min((foldPane.clientWidth - 14) / w, (room - 6) / h) : 0;
    var z = Math.max(innerWidth >= WIDE ? FOLD_ZOOM.wide : FOLD_ZOOM.least, Math.min(FOLD_ZOOM.most, fit));
    foldedSvg.style.width = (w * z) + "px";
    foldedSvg.style.height = (h * z) + "px";
  }
  function uses(id) {            // the unrolled graph's elements that show the weight's uses
    var w = own(D.folded.weights, id);
    return w ? w.edges.concat(w.vertices).map(function (u) { return svg.getElementById(u); }).filter(Boolean) : [];
  }
  function highlightUses() {
    Array.prototype.forEach.call(document.querySelectorAll("#graph .pl-use, #folded .fold-on"), function (g) {
      g.classList.remove("pl-use"); g.classList.remove("fold-on");
    });
    if (state.weight === null || !svg) return;
    uses(state.weight).forEach(function (g) { g.classList.add("pl-use"); });
    var mine = foldedSvg.getElementById(state.weight);
    if (mine) mine.classList.add("fold-on");
  }
  function selectWeight(id) {
    state.weight = state.weight === id ? null : id;
    if (state.weight !== null) state.term = null;       // one selection at a time: the weight's uses, or a term
    var w = state.weight === null ? null : D.folded.weights[state.weight];
    document.getElementById("fold-head").innerHTML = w ? sub(w.name) + ": its " + w.edges.length + " use" +
      (w.edges.length === 1 ? "" : "s") + " marked in the unrolled graph below (click it again to clear)" : esc(FOLD_HEAD);
    restyleGraph();
    renderPanel();
    if (w && svg) { var gs = uses(state.weight); if (gs.length) scrollTo(gs); }
  }

  function foldedForward(on) {   // the forward pass computes no gradient: the folded view hides its own, as the graph
    if (!foldedSvg || foldPane.classList.contains("fold-forward") === on) return;
    foldPane.classList.toggle("fold-forward", on);
    foldGradTexts.forEach(function (t) { t.classList.toggle("pl-hidden", on); });
    if (on || state.weight === null) document.getElementById("fold-head").textContent = on ?
      "folded: the forward pass — no gradients yet (the backward walk brings them)" : FOLD_HEAD;
  }

  // ---- the forward pass: values flow forward, one vertex per tick, before the backward walk ----------
  var fwdOrder = null;
  function forwardOrder() {
    if (!fwdOrder) fwdOrder = Object.keys(D.vertices).filter(function (id) { return G[id]; }).sort(function (a, b) {
      return D.vertices[a].fwd - D.vertices[b].fwd;
    });
    return fwdOrder;
  }
  function showForward(j) {
    var order = forwardOrder(), done = {}, cur = order[j];
    state.fwd = j;
    foldedForward(true);
    order.forEach(function (id, i) { if (i <= j) done[id] = true; });
    while (halos.firstChild) halos.removeChild(halos.firstChild);
    Object.keys(D.vertices).forEach(function (id) {
      if (!G[id]) return;
      setClass(G[id], !done[id] ? "pl-pending" : id === cur ? "pl-fwd-cur" : "pl-fwd");
      (gradTexts[id] || []).forEach(function (t) { t.classList.add("pl-hidden"); });
    });
    Object.keys(D.edges).forEach(function (id) {
      var g = G[id], e = D.edges[id];
      if (!g) return;
      styleEdge(g, null);
      setClass(g, done[e.src] && done[e.dst] ? "pl-fwd" : "pl-pending");
    });
    if (G[cur]) { halo(G[cur], "halo-fwd", 5); scrollTo([G[cur]]); }
    document.getElementById("pos").textContent = "forward " + (j + 1) + " / " + order.length;
    var v = D.vertices[cur], step = v.first !== null ? steps[v.first] : null;
    var leaf = D.leaves.filter(function (l) { return l.vertex === cur; })[0];
    var value = step ? step.out : leaf ? leaf.value : null;
    panel.innerHTML = "<h2 id='panel-head'>forward pass: " + (j + 1) + " / " + order.length + "</h2>" +
      "<div class='sub'>values flow forward, in the order the tape recorded them; the backward walk follows</div>" +
      "<section id='forward-now'><h3>" + (step ? esc(step.op) + " → " + sub(step.label) : sub(v.label)) + "</h3>" +
      (value ? arrayBlock(value, "value") : "<div class='sub'>an input</div>") + "</section>";
  }

  // ---- the quiz: questions made from the graph (viz/quiz.py), checked here, and a score --------------
  function questionsAt(k) { return (D.questions || []).filter(function (q) { return q.step === k; }); }
  function questionBlock(q) {
    var chosen = state.answers[q.id], answered = chosen !== undefined;
    var h = "<div class='question' data-q='" + q.id + "'><div class='qtext'>" + prose(q.text) + "</div>" +
      "<div class='options'>";
    q.options.forEach(function (o, i) {
      var cls = !answered ? "" : q.answer.indexOf(o) >= 0 ? " right" : o === chosen ? " wrong" : "";
      h += "<button class='small answer" + cls + "' data-q='" + q.id + "' data-o='" + i + "'" + (answered ? " disabled" : "") +
        ">" + prose(o) + "</button> ";
    });
    h += "</div>";
    if (answered) h += "<div class='why " + (q.answer.indexOf(chosen) >= 0 ? "ok'>✓ " : "bad'>✗ ") + prose(q.why) +
      "</div>";
    return h + "</div>";
  }
  function close(g, v) { return isFinite(g) && Math.abs(g - v) <= Math.max(1e-3, 0.02 * Math.abs(v)); }   // within 2%
  function guessScore(text, a) {          // [values within 2%, values guessed] of a numeric guess
    var guess = String(text).split(/[\s,;\[\]]+/).filter(Boolean).map(Number).slice(0, a ? a.values.length : 0);
    var good = guess.filter(function (g, i) { return close(g, num(a.values[i])); }).length;
    return [good, guess.length];
  }
  function score() {
    var right = 0, answered = 0, asked = 0;
    (D.questions || []).forEach(function (q) {
      if (q.step > state.k) return;
      asked++;
      if (state.answers[q.id] === undefined) return;
      answered++;
      if (q.answer.indexOf(state.answers[q.id]) >= 0) right++;
    });
    Object.keys(state.guesses).forEach(function (key) {
      var kj = key.split(":").map(Number), step = steps[kj[0]];
      if (!state.guesses[key] || !state.revealed[kj[0]] || !step || !step.inputs[kj[1]]) return;
      var r = guessScore(state.guesses[key], step.inputs[kj[1]].grad);
      answered++; asked++;
      if (r[1] && r[0] === r[1]) right++;
    });
    return { right: right, answered: answered, asked: asked };
  }
  function scoreLine() {
    var s = score();
    return "<div class='score' id='quiz-score'>score: <b>" + s.right + " / " + s.answered + "</b> answered correctly" +
      " (" + s.asked + " questions so far)</div>";
  }
  function questionsSection(k) {
    if (!state.quiz) return "";
    var qs = questionsAt(k);
    return "<section id='questions'><h3>questions at this step</h3>" + scoreLine() +
      (qs.length ? qs.map(questionBlock).join("") : "<div class='sub'>none here: guess the contributions below</div>") +
      "</section>";
  }
  function needsBlock(s, e) {             // the operands a contribution is computed from, besides ∂E/∂y (shown above)
    if (!e.needs || !e.needs.length) return "";
    return "<div class='needs'>you need the upstream gradient (above) and " + e.needs.map(function (key) {
      var name = key === "y" ? s.label : s.inputs[key === "a" ? 0 : 1].name;
      var value = key === "y" ? s.out : s.inputs[key === "a" ? 0 : 1].value;
      return sub(name) + (value ? " <span class='sub'>(" + shapeText(value.shape) + ")</span>" : "") + " = " +
        values(value);
    }).join(" and ") + "</div>";
  }
  function answer(btn) {
    var q = D.questions[Number(btn.getAttribute("data-q"))];
    if (!q || state.answers[q.id] !== undefined) return;
    state.answers[q.id] = q.options[Number(btn.getAttribute("data-o"))];
    renderPanel();
  }

  // ---- the side panel ------------------------------------------------------------------------------
  function intro() {
    return "<div class='intro'><h2>Backprop, one node at a time</h2>" + staleNote() + conventionNote() +
      "<p>The graph is the forward computation of <b>" + sub(D.loss) + " = " + fmt(D.loss_value) + "</b>, unrolled over " +
      "time (left to right). Backprop visits its <b>" + N + "</b> nodes in reverse, starting at " + sub(D.loss) + ".</p>" +
      "<p>At each node the gradient that arrived at its output (the <i>upstream</i> gradient ∂" + sub(D.loss) + "/∂y; <code>g</code> in numpy) is multiplied " +
      "by the op's local derivative; the result is the <i>contribution</i> sent back along each input edge. A weight " +
      "used at every time step receives one contribution per use; its .grad is their running sum.</p>" +
      (D.strip.length ? "<p>Under the time steps, a strip fills in with the size of the gradient reaching each " +
      "state, ‖∂" + sub(D.loss) + "/∂" + sub(D.strip[0].name + "_t") + "‖: watch it shrink (or grow) as the walk goes back in time.</p>" : "") +
      "<p>Press <kbd>→</kbd> or <b>next</b> to start; <kbd>←</kbd> goes back, <kbd>space</kbd> plays. Turn on " +
      "<b>quiz</b> to guess each contribution before it is shown.</p>" + leavesTable(true) + "</div>";
  }
  function fdBlock(fd, what) {
    if (!fd) return "";
    var rows = fd.rows.map(function (r) {
      return "<tr><td>[" + r.index.join(",") + "]</td><td>" + fmt(r.bp) + "</td><td>" + fmt(r.fd) + "</td><td>" +
        num(r.err).toExponential(1) + "</td></tr>";
    }).join("");
    return "<div class='fd'><table><tr><th>entry</th><th>backprop</th><th>finite diff.</th><th>rel. error</th></tr>" + rows +
      "</table><span class='" + (fd.ok ? "ok'>✓ agree" : "bad'>✗ disagree") + "</span> (central differences, ε = " +
      fmt(fd.eps) + ", " + esc(what) + ")</div>";
  }
  function leavesTable(noted) {
    if (!D.leaves.length) return "";
    var k = state.k, sums = {};
    for (var i = 0; i <= k && i < N; i++)
      steps[i].accs.forEach(function (a) {
        if (a.kind !== "leaf" || !seen(i)) return;
        var s = sums[a.name] || (sums[a.name] = { terms: [], total: null });
        s.terms.push(termButton(a.term, a.when + ": " + fmt(a.norm)));
        s.total = a.total;
      });
    var rows = D.leaves.map(function (l, j) {
      var s = sums[l.name];
      var terms = s ? s.terms : [];
      var shown = terms.length > 5 ? terms.slice(0, 2).concat(["…"], terms.slice(-2)) : terms;
      var key = "leaf:" + j;
      var btn = l.fd ? " <button class='small check-leaf' data-leaf='" + j + "'>check</button>" : "";
      return "<tr data-leaf='" + esc(l.name) + "'><td>" + sub(l.name) + "<div class='sub'>" + shapeText(l.shape) + "</div></td>" +
        "<td>" + terms.length + " / " + esc(l.uses) + "</td><td class='nrm' data-v='" + (s ? esc(s.total.norm) : "") + "'>" +
        (s ? fmt(s.total.norm) : "–") + "</td><td class='terms'>" + (shown.length ? "‖terms‖ " + shown.join(" + ") : "") +
        btn + (state.checked[key] ? fdBlock(l.fd, "this backward's sum, after all " + l.uses + " uses") : "") + "</td></tr>" +
        (l.before ? "<tr class='before' data-leaf-before='" + esc(l.name) + "'><td class='sub'>" + sub(l.name) +
          ".grad before this backward</td><td></td><td class='nrm' data-v='" + esc(l.before.norm) + "'>" + fmt(l.before.norm) +
          "</td><td class='terms'>not part of the sum above: " + sub(l.name) + ".grad = this + the sum</td></tr>" : "");
    }).join("");
    return "<section id='leaves'><h3>Leaves (weights): this backward's terms so far</h3>" + (noted ? "" : staleNote()) +
      "<table class='leaves'><tr><th>leaf</th>" +
      "<th>uses</th><th>‖sum‖</th><th>contributions so far</th></tr>" + rows + "</table></section>";
  }
  function conventionNote(scope) {  // where PyTorch's LSTM/GRU (ours) differ from the seed's figures
    var c = D.conventions || {}, kinds = Object.keys(c);
    if (scope !== undefined) kinds = kinds.filter(function (k) {
      return k === "gru" ? /(^|\/)(update_gate|reset_gate|candidate)(\/|$)/.test(scope) :
        /(^|\/)(forget_gate|input_gate|output_gate|cell)(\/|$)/.test(scope);
    });
    return kinds.map(function (k) { return "<div class='convention'>" + esc(c[k]) + "</div>"; }).join("");
  }
  function staleNote() {            // leaves whose .grad was not empty when the walk started
    var held = D.leaves.filter(function (l) { return l.before; });
    if (!held.length) return "";
    return "<div class='stale-note' id='stale'>" + held.map(function (l) { return sub(l.name); }).join(", ") +
      (held.length > 1 ? " already held gradients" : " already held a gradient") + " before this backward (an earlier " +
      "backward() without zero_grad()). The sums here are this walk's terms only; the earlier gradient is its own " +
      "\u201cbefore this backward\u201d row, and .grad is the two added.</div>";
  }
  function renderPanel() {
    var k = state.k;
    if (k < 0) { panel.innerHTML = termSection() + intro(); wrapFormulas(panel); bindPanel(); return; }
    var s = steps[k], hide = state.quiz && !state.revealed[k];
    var h = "<h2 id='panel-head'>step " + (k + 1) + " / " + N + ": <span id='panel-op'>" + esc(s.op) + "</span> → " +
      "<span id='panel-label' data-label='" + esc(s.label) + "'>" + sub(s.label) + "</span></h2>" +
      "<div class='sub'>output shape " + shapeText(s.shape) + (s.scope ? " · scope " + esc(s.scope) : "") + "</div>" +
      conventionNote(s.scope || "") +
      "<div class='rulebox' id='panel-rule'>rule: " + math(own(D.rules, s.op), s.rule) +
      (own(D.rules, s.op) ? "<details><summary class='sub'>as text</summary><code>" + esc(s.rule) + "</code></details>" : "") +
      "</div>";
    h += termSection() + questionsSection(k);
    h += "<section id='upstream'><h3>upstream gradient arriving at the output: " + math(s.grad_mathml, "∂" + D.loss + "/∂" + s.label) +
      " <span class='sub'>(<code>g</code> in numpy)</span></h3>";
    if (k === 0) h += "<div class='sub'>the walk starts here with " + dname(s.label) + " = 1</div>";
    if (s.parts.length > 1) {
      h += "<div class='parts' id='panel-parts'>" + sub(s.label) + " is used " + s.parts.length + " times, so g is the sum " +
        "of what each use sent back:<br>g = " + s.parts.map(function (p) {
          return "(from " + esc(p.from) + ", norm <span class='nrm' data-v='" + esc(p.norm) + "'>" + fmt(p.norm) + "</span>)";
        }).join(" + ") + "</div>";
    }
    h += arrayBlock(s.grad, "g");
    if (s.fd) {
      h += "<button class='small' id='check'>check g with finite differences</button>";
      if (state.checked[k]) h += fdBlock(s.fd, "of " + D.loss + " with respect to " + s.label);
    } else {
      h += "<div class='sub'>(no finite-difference check embedded for this node; check=" + esc(D.check) + ")</div>";
    }
    h += "<details><summary class='sub'>forward value of " + esc(s.label) + "</summary>" + arrayBlock(s.out, "value") + "</details>";
    h += "</section><section id='inputs'><h3>g × local derivative = contribution to each input</h3>";
    s.inputs.forEach(function (e, j) {
      h += "<div class='input " + esc(e.kind) + "' data-pos='" + esc(e.pos) + "'><div><span class='to'>→ input " + e.pos + ": " +
        sub(e.name) + "</span><span class='tag " + esc(e.kind) + "'>" + esc({ leaf: "leaf", node: "intermediate", "const": "constant" }[e.kind]) +
        "</span> <span class='sub'>" + shapeText(e.shape) + "</span></div>";
      if (e.kind === "const") {
        h += "<div class='sub'>a constant: no gradient is sent (value " + values(e.value) + ")</div></div>";
        return;
      }
      h += "<div class='formula'>" + (e.mathml ? math(e.mathml, "") + "<br>" : "") +
        "<span class='sub'>numpy:</span> <code class='numpy'>" + esc(e.formula) + "</code></div>";
      h += hide ? needsBlock(s, e) : "<details><summary class='sub'>value of " + esc(e.name) + "</summary>" + values(e.value) + "</details>";
      if (hide) {
        var g = state.guesses[k + ":" + j] || "";
        h += "<div class='quiz'>Your guess for this contribution (its first values, comma-separated; shape " +
          shapeText(e.shape) + "):<input class='guess' data-j='" + j + "' value='" + esc(g) + "' placeholder='e.g. 0.12, -0.3'></div>";
      } else {
        h += "<div class='contrib'>" + arrayBlock(e.grad, "contribution") + "</div>";
        var guess = state.guesses[k + ":" + j];
        if (state.quiz && guess) h += compare(guess, e.grad);
      }
      h += "</div>";
    });
    if (hide) h += "<button id='reveal'>reveal the contributions</button>";
    h += "</section>";
    var accs = s.accs.filter(function (a) { return a.uses > 1 || a.kind === "leaf"; });
    if (accs.length) {
      h += "<section id='accs'><h3>running sums (weights and tensors used more than once)</h3>";
      accs.forEach(function (a) {
        h += "<div class='acc " + esc(a.kind) + "'>" + (hide ? "<span class='hidden-val'>" + gradOf(a) +
          " += ? (reveal to see)</span>" : "<span class='acc-what'>" + accCaption(a) + "</span>" +
          (a.term !== null && a.term !== undefined ? " " + termButton(a.term, "path of this term") : "") +
          (a.mathml ? "<br>" + math(a.mathml, "", "sum") : "") +
          "<br><span class='sub'>‖contribution‖ " + fmt(a.norm) +
          ", ‖" + (a.kind === "leaf" ? "this backward's sum so far" : "sum so far") + "‖ " + fmt(a.total.norm) +
          (a.before ? " (plus " + esc(a.name) + ".grad before this backward, ‖·‖ " + fmt(a.before.norm) + ")" : "") +
          "</span>") + "</div>";
      });
      h += "</section>";
    }
    h += leavesTable();
    if (k === N - 1 && state.quiz) h += "<section><h3>quiz: the end</h3>" + scoreLine() + "</section>";
    if (k === N - 1) h += "<section><div class='done-note' id='done'>Done: every leaf's sum is final — the same terms " +
      "that " + esc(D.loss) + ".backward() adds to .grad" + (D.leaves.some(function (l) { return l.before; }) ?
      " (the leaves that held a gradient before this backward now hold that plus the sum)" : "") +
      ". The table in the graph lists each weight's per-step terms.</div></section>";
    panel.innerHTML = h;
    wrapFormulas(panel);
    bindPanel();
  }
  function gradOf(a) { return a.grad_mathml ? math(a.grad_mathml, "") : dname(a.name); }
  function ordinal(n) { return n + (n % 100 > 10 && n % 100 < 14 ? "th" : ["th", "st", "nd", "rd"][n % 10] || "th"); }
  function accCaption(a) {        // ∂E₃/∂W_s += the term from t=2 (2nd of 3 uses); W_s.grad holds the sum
    var h = gradOf(a) + (a.uses > 1 ? " += the term from " + sub(a.when) + " (" + ordinal(a.use) + " of " + a.uses +
      " uses)" : " = the term from " + sub(a.when) + " (its only use)");
    return a.kind === "leaf" ? h + "; " + sub(a.name) + ".grad holds " + (a.uses > 1 ? "the sum" : "it") : h;
  }
  function compare(text, a) {
    var guess = text.split(/[\s,;\[\]]+/).filter(Boolean).map(Number);
    if (!guess.length || !a) return "";
    var rows = guess.slice(0, a.values.length).map(function (g, i) {
      var v = num(a.values[i]), ok = close(g, v);
      return "<tr><td>" + i + "</td><td>" + (isFinite(g) ? fmt(g) : "?") + "</td><td>" + fmt(v) + "</td><td class='" +
        (ok ? "ok'>✓" : "bad'>✗") + "</td></tr>";
    });
    var good = rows.filter(function (r) { return r.indexOf("ok'>") >= 0; }).length;
    return "<div class='quiz result'><b>your guess:</b> " + good + " of " + rows.length + " values within 2%" +
      "<table><tr><th>#</th><th>you</th><th>actual</th><th></th></tr>" + rows.join("") + "</table></div>";
  }
  function bindPanel() {
    var b = document.getElementById("check");
    if (b) b.onclick = function () { state.checked[state.k] = !state.checked[state.k]; renderPanel(); };
    Array.prototype.forEach.call(panel.querySelectorAll(".check-leaf"), function (btn) {
      btn.onclick = function () { var key = "leaf:" + btn.getAttribute("data-leaf"); state.checked[key] = !state.checked[key]; renderPanel(); };
    });
    Array.prototype.forEach.call(panel.querySelectorAll("input.guess"), function (inp) {
      inp.oninput = function () { state.guesses[state.k + ":" + inp.getAttribute("data-j")] = inp.value; };
      inp.onkeydown = function (ev) { if (ev.key === "Enter") reveal(); ev.stopPropagation(); };
    });
    var r = document.getElementById("reveal");
    if (r) r.onclick = reveal;
    Array.prototype.forEach.call(panel.querySelectorAll("button.answer"), function (btn) {
      btn.addEventListener("click", function () { answer(btn); });
    });
    Array.prototype.forEach.call(panel.querySelectorAll("button.term"), function (btn) {
      btn.addEventListener("click", function () { selectTerm(Number(btn.getAttribute("data-term"))); });
    });
    Array.prototype.forEach.call(panel.querySelectorAll("button.jump"), function (btn) {
      btn.addEventListener("click", function () { go(Number(btn.getAttribute("data-step"))); });
    });
    var close = document.getElementById("term-clear");
    if (close) close.addEventListener("click", function () { selectTerm(state.term); });
  }
  function reveal() { state.revealed[state.k] = true; render(); }

  // ---- moving ----------------------------------------------------------------------------------------
  function render() {
    var k = state.k;
    foldedForward(false);
    slider.value = k;
    document.getElementById("pos").textContent = k < 0 ? "start (0 / " + N + ")" : "step " + (k + 1) + " / " + N;
    document.getElementById("prev").disabled = k < 0;
    document.getElementById("first").disabled = k < 0;
    document.getElementById("next").disabled = k >= N - 1;
    document.getElementById("last").disabled = k >= N - 1;
    document.body.setAttribute("data-step", k);
    document.body.setAttribute("data-current", k >= 0 && D.step_vertex[k] ? D.step_vertex[k] : "");
    restyleGraph();
    renderPanel();
  }
  function go(k) {
    k = Math.max(-1, Math.min(N - 1, k));
    if (k === state.k && state.fwd === null) return;
    state.k = k;
    state.fwd = null;
    render();
  }
  function play() {
    var btn = document.getElementById("play");
    if (state.timer) { clearTimeout(state.timer); state.timer = null; btn.textContent = "▶ play"; btn.classList.remove("playing"); return; }
    if (state.k >= N - 1) go(-1);
    if (state.k < 0 && state.fwd === null && document.getElementById("forward").checked && svg) showForward(0);
    btn.textContent = "❚❚ pause"; btn.classList.add("playing");
    var tick = function () {                   // the delay is read at every step: the speed can change while playing
      if (state.fwd !== null && state.fwd < forwardOrder().length - 1) showForward(state.fwd + 1);
      else if (state.fwd !== null) go(0);
      else if (state.k >= N - 1) { state.timer = null; btn.textContent = "▶ play"; btn.classList.remove("playing"); return; }
      else go(state.k + 1);
      state.timer = setTimeout(tick, Number(document.getElementById("speed").value));
    };
    state.timer = setTimeout(tick, Number(document.getElementById("speed").value));
  }
  function vertexClicked(ev) {                 // a click on a vertex goes to its step (a weight: its first term)
    var g = ev.target.closest ? ev.target.closest("g.node") : null;
    var v = g && Object.prototype.hasOwnProperty.call(D.vertices, g.id) ? D.vertices[g.id] : null;
    if (v) go(v.first !== null ? v.first : v.arrive);
  }
  function zoom(z) {
    if (!svg) return;
    var vb = svg.getAttribute("viewBox").split(/[\s,]+/).map(Number);
    state.zoom = Math.max(0.15, Math.min(3, z));
    svg.style.width = (vb[2] * 4 / 3 * state.zoom) + "px";
    svg.style.height = (vb[3] * 4 / 3 * state.zoom) + "px";
  }
  function fitZoom() {          // the whole graph in the pane, but never text below READABLE_PX: pan instead
    var vb = svg.getAttribute("viewBox").split(/[\s,]+/).map(Number);
    var fit = Math.min((pane.clientWidth - 16) / (vb[2] * 4 / 3), (pane.clientHeight - 16) / (vb[3] * 4 / 3));
    return Math.max(fit, READABLE_PX / fontPx());
  }
  function fontPx() {           // the graph's text height in px at zoom 1 (graphviz writes font-size in pt)
    var t = root.querySelector("g.node text"), pt = t ? parseFloat(t.getAttribute("font-size")) : 14;
    return (pt > 0 ? pt : 14) * 4 / 3;
  }

  slider.max = N - 1;
  slider.oninput = function () { go(Number(slider.value)); };
  document.getElementById("next").onclick = function () { go(state.k + 1); };
  document.getElementById("prev").onclick = function () { go(state.k - 1); };
  document.getElementById("first").onclick = function () { go(-1); };
  document.getElementById("last").onclick = function () { go(N - 1); };
  document.getElementById("play").onclick = play;
  if (svg) svg.addEventListener("click", vertexClicked);
  document.getElementById("quiz").onchange = function (ev) { state.quiz = ev.target.checked; render(); };
  document.getElementById("zoom-in").onclick = function () { zoom(state.zoom * 1.25); };
  document.getElementById("zoom-out").onclick = function () { zoom(state.zoom / 1.25); };
  document.getElementById("zoom-fit").onclick = function () { zoom(fitZoom()); };
  var toLeaves = document.getElementById("to-leaves");
  toLeaves.hidden = !D.leaves.length;
  toLeaves.onclick = function () {
    var section = document.getElementById("leaves");
    if (section) section.scrollIntoView({ block: "start" });
  };
  document.addEventListener("keydown", function (ev) {
    var tag = (ev.target && ev.target.tagName) || "";
    if (tag === "INPUT" && ev.target.type !== "range" && ev.target.type !== "checkbox") return;
    if (ev.key === "ArrowRight") { go(state.k + 1); ev.preventDefault(); }
    else if (ev.key === "ArrowLeft") { go(state.k - 1); ev.preventDefault(); }
    else if (ev.key === "Home") { go(-1); ev.preventDefault(); }
    else if (ev.key === "End") { go(N - 1); ev.preventDefault(); }
    else if (ev.key === " ") { play(); ev.preventDefault(); }
    else if (ev.key === "l") toLeaves.onclick();
    else if (ev.key === "o" && foldedSvg) showFolded(foldPane.hidden);
    else if (ev.key === "f") { var f = document.getElementById("forward"); f.checked = !f.checked; }
    else if (ev.key === "q") { var q = document.getElementById("quiz"); q.checked = !q.checked; q.onchange({ target: q }); }
  });
  // ---- what needs the page laid out -------------------------------------------------------------------
  // Inside an iframe that is still hidden or not yet laid out (a notebook's output), every box measures 0: the
  // strip would put all its bars at one point. The strip, the first zoom and the folded pane (open or closed, its
  // zoom) wait until the graph has a size.
  var laidOut = false;
  function sized() { return pane.clientWidth > 0 && (!svg || root.getBBox().width > 0); }
  function layOut() {
    if (laidOut || !sized()) return;
    laidOut = true;
    if (svg) { buildStrip(); zoom(Math.max(0.8, Math.min(1.25, fitZoom()))); }
    if (foldedSvg) showFolded(innerHeight >= SMALL);     // a small window keeps its height for the graph
    restyleGraph();
  }

  setupGraph();
  setupFolded();
  render();
  layOut();
  window.addEventListener("load", layOut);
  window.addEventListener("resize", function () { layOut(); if (foldedSvg) fitFolded(); });
  if (window.ResizeObserver) new ResizeObserver(layOut).observe(pane);
  window.player = { go: go, state: state, data: D, selectTerm: selectTerm, forward: showForward, selectWeight: selectWeight };
})();
