(function () {
  "use strict";
  // The editor of `autocode review --serve`. Every text from the ad, the draft or the coder is
  // set with textContent, never as HTML. The server holds the truth: the page keeps the
  // coder's work as a state object, sends it as work in progress as the coder goes, and
  // saves it through PUT /api/ads/{id} with the gold file's ETag.
  var config = JSON.parse(document.getElementById("config").textContent);
  var headers = { "X-Autocode-Token": config.token, "Content-Type": "application/json" };

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { node.textContent = text; }
    return node;
  }

  function api(method, path, body, extra) {
    var h = Object.assign({}, headers, extra || {});
    return fetch(path, { method: method, headers: h, body: body, keepalive: method !== "GET" });
  }

  function withToken(path) { return path + "?token=" + encodeURIComponent(config.token); }

  if (config.index) { return indexPage(); }

  // ------------------------------------------------------------------ state
  var book = config.codebook;
  var kinds = { quotes: [], tools: [] };
  var names = {};
  book.categories.forEach(function (c) {
    (kinds[c.kind] || (kinds[c.kind] = [])).push(c);
    names[c.id] = c.name;
  });
  var order = kinds.quotes.map(function (c) { return c.id; });
  var ad = null, text = "", etag = null, draftN = null;
  var state = null, history = [], current = -1, dirty = false;
  var seconds = 0, lastInput = Date.now();
  var status = document.getElementById("status");

  function colour(cat) {
    var i = order.indexOf(cat);
    return i < 0 ? "hsl(0, 0%, 85%)" : "hsl(" + Math.round(i * 137.508 % 360) + ", 72%, 82%)";
  }

  function unitsOf(s) {
    // code point offset -> UTF-16 offset (the server counts code points, the page units)
    var map = [0], units = 0;
    for (var ch of s) { units += ch.length; map.push(units); }
    return map;
  }

  function fromRecord(record, cpMap) {
    function span(q) { return q.span ? [cpMap[q.span[0]], cpMap[q.span[1]]] : null; }
    return {
      profile: record.profile || "",
      reasoning: record.reasoning || "",
      quotes: (record.quotes || []).map(function (q) {
        return { category: q.category, text: q.text, note: q.note || "", span: span(q),
                 support: q.support || null, reviewed: false };
      }),
      tools: (record.tools || []).map(function (t) {
        return { category: t.category, name: t.name, note: t.note || "", support: t.support || null };
      }),
      remarks: (record.remarks || []).map(function (r) { return { category: r.category, text: r.text }; })
    };
  }

  function toRecord() {
    function clean(s) { return (s || "").trim() || null; }
    return {
      ad_id: config.id,
      profile: state.profile || null,
      reasoning: clean(state.reasoning),
      quotes: state.quotes.map(function (q) {
        return { category: q.category, text: q.text, note: clean(q.note) };
      }),
      tools: state.tools.filter(function (t) { return t.name.trim(); }).map(function (t) {
        return { category: t.category, name: t.name.trim(), note: clean(t.note) };
      }),
      remarks: state.remarks.filter(function (r) { return r.text.trim(); }).map(function (r) {
        return { category: r.category, text: r.text.trim() };
      })
    };
  }

  // ------------------------------------------------------------------ changes
  function change(mutate) {
    history.push(JSON.stringify(state));
    if (history.length > 200) { history.shift(); }
    mutate();
    touched();
    render();
  }

  function touched() {
    dirty = true;
    lastInput = Date.now();
    setStatus("unsaved changes", "");
    scheduleWip();
  }

  function undo() {
    if (!history.length) { setStatus("nothing to undo", ""); return; }
    state = JSON.parse(history.pop());
    current = Math.min(current, state.quotes.length - 1);
    touched();
    render();
    setStatus("undone", "");
  }

  var wipTimer = null;
  function scheduleWip() {
    clearTimeout(wipTimer);
    wipTimer = setTimeout(saveWip, 600);
  }

  function saveWip() {
    clearTimeout(wipTimer);
    if (!dirty) { return Promise.resolve(); }
    var body = JSON.stringify({ state: state, seconds: seconds, etag: etag });
    return api("PUT", "/api/ads/" + encodeURIComponent(config.id) + "/wip", body)
      .catch(function () { setStatus("work in progress not sent (server unreachable)", "bad"); });
  }

  // Minutes on the ad: seconds while the page is visible and the coder acted in the last 2 min.
  setInterval(function () {
    if (document.visibilityState === "visible" && Date.now() - lastInput < 120000) { seconds += 1; }
  }, 1000);
  ["keydown", "mousedown", "scroll"].forEach(function (type) {
    document.addEventListener(type, function () { lastInput = Date.now(); }, true);
  });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { saveWip(); }
  });

  function setStatus(message, cls) {
    status.textContent = message;
    status.className = cls || "";
  }

  function showProblems(title, problems) {
    var box = document.getElementById("problems");
    box.replaceChildren();
    if (!problems) { box.hidden = true; return; }
    box.appendChild(el("h3", {}, title));
    var list = el("ul");
    problems.forEach(function (p) { list.appendChild(el("li", {}, p)); });
    box.appendChild(list);
    box.hidden = false;
  }

  // ------------------------------------------------------------------ the ad text
  function renderAd() {
    var pre = document.getElementById("ad-text");
    var spans = [];
    state.quotes.forEach(function (q, i) { if (q.span) { spans.push([i, q.span[0], q.span[1]]); } });
    var cuts = [0, text.length];
    spans.forEach(function (s) { cuts.push(s[1], s[2]); });
    cuts = Array.from(new Set(cuts)).sort(function (a, b) { return a - b; });
    pre.replaceChildren();
    for (var c = 0; c + 1 < cuts.length; c++) {
      var a = cuts[c], b = cuts[c + 1];
      var covering = spans.filter(function (s) { return s[1] <= a && b <= s[2]; });
      var piece = text.slice(a, b);
      if (!covering.length) { pre.appendChild(document.createTextNode(piece)); continue; }
      var mark = el("mark", { "class": "hl", "data-quotes": covering.map(function (s) { return s[0]; }).join(" ") }, piece);
      var colours = covering.map(function (s) { return colour(state.quotes[s[0]].category); });
      if (colours.length === 1) { mark.style.backgroundColor = colours[0]; } else {
        var step = 100 / colours.length;
        mark.style.backgroundImage = "linear-gradient(to bottom, " + colours.map(function (col, k) {
          return col + " " + (k * step) + "% " + ((k + 1) * step) + "%";
        }).join(", ") + ")";
        mark.classList.add("overlap");
      }
      mark.title = covering.map(function (s) {
        var q = state.quotes[s[0]];
        return q.category + " " + (names[q.category] || "");
      }).join("\n");
      if (covering.some(function (s) { return s[0] === current; })) { mark.classList.add("current-mark"); }
      pre.appendChild(mark);
    }
  }

  function selection() {
    // The selected passage as offsets into the ad text, trimmed of surrounding whitespace.
    var sel = window.getSelection();
    var pre = document.getElementById("ad-text");
    if (!sel.rangeCount || sel.isCollapsed) { return null; }
    var range = sel.getRangeAt(0);
    if (!pre.contains(range.startContainer) || !pre.contains(range.endContainer)) { return null; }
    var before = document.createRange();
    before.selectNodeContents(pre);
    before.setEnd(range.startContainer, range.startOffset);
    var start = before.toString().length, end = start + range.toString().length;
    while (start < end && /\s/.test(text[start])) { start++; }
    while (end > start && /\s/.test(text[end - 1])) { end--; }
    return end > start ? { start: start, end: end, text: text.slice(start, end) } : null;
  }

  // ------------------------------------------------------------------ the coding panel
  function entryRow(q, i) {
    var li = el("li", { "class": "quote entry", "data-i": String(i), "tabindex": "0" });
    if (i === current) { li.classList.add("current"); }
    if (q.reviewed) { li.classList.add("reviewed"); }
    var body = el("div");
    var label = el("span", { "class": "qtext" }, "“" + q.text + "”");
    body.appendChild(label);
    if (q.support && draftN) {
      var badge = el("span", { "class": "badge support" + (q.support < draftN ? " partial" : "") },
        "support " + q.support + "/" + draftN);
      body.appendChild(badge);
    }
    if (!q.span) { body.appendChild(el("span", { "class": "badge g-not_found" }, "not found in the ad")); }
    var note = el("input", { "class": "note", "type": "text", "placeholder": "note", "aria-label": "note" });
    note.value = q.note;
    note.addEventListener("change", function () { change(function () { q.note = note.value; }); });
    body.appendChild(note);
    li.appendChild(body);
    var actions = el("div", { "class": "actions" });
    actions.appendChild(button("✓", "keep as it is (a)", function () { keep(i); }, "keep"));
    actions.appendChild(button(q.category, "change category (c)", function () { recategorise(i); }, "cat"));
    actions.appendChild(button("↔", "re-span to the selected text (r)", function () { respan(i); }, "respan"));
    actions.appendChild(button("✕", "delete (x)", function () { remove(i); }, "delete"));
    li.appendChild(actions);
    li.addEventListener("focus", function () { setCurrent(i, false); });
    return li;
  }

  function button(label, title, action, cls) {
    var b = el("button", { "type": "button", "title": title, "aria-label": title, "class": cls || "" }, label);
    b.addEventListener("click", function (event) { event.stopPropagation(); action(); });
    return b;
  }

  function renderEntries() {
    var box = document.getElementById("entries");
    box.replaceChildren();
    var bySupport = document.getElementById("order").value === "support";
    var indices = state.quotes.map(function (_, i) { return i; });
    if (bySupport) {
      indices.sort(function (a, b) {
        var sa = state.quotes[a].support || Infinity, sb = state.quotes[b].support || Infinity;
        return sa - sb || a - b;
      });
      var list = el("ul", { "class": "entries" });
      indices.forEach(function (i) { list.appendChild(entryRow(state.quotes[i], i)); });
      box.appendChild(list);
      return indices;
    }
    var shown = [];
    var cats = order.concat(Array.from(new Set(state.quotes.map(function (q) { return q.category; })))
      .filter(function (c) { return order.indexOf(c) < 0; }));
    cats.forEach(function (cat) {
      var mine = indices.filter(function (i) { return state.quotes[i].category === cat; });
      if (!mine.length) { return; }
      var block = el("div", { "class": "category", "data-category": cat });
      var head = el("div", { "class": "cat-label" });
      var swatch = el("span", { "class": "swatch" });
      swatch.style.backgroundColor = colour(cat);
      head.appendChild(swatch);
      head.appendChild(el("b", {}, cat));
      head.appendChild(document.createTextNode(" " + (names[cat] || "(not in the codebook)")));
      block.appendChild(head);
      var list = el("ul");
      mine.forEach(function (i) { list.appendChild(entryRow(state.quotes[i], i)); shown.push(i); });
      block.appendChild(list);
      box.appendChild(block);
    });
    if (!state.quotes.length) { box.appendChild(el("p", { "class": "muted" }, "No quotes yet: select a passage in the ad and press q.")); }
    return shown;
  }

  function categorySelect(kind, value, onChange) {
    var select = el("select", { "aria-label": "category" });
    (kinds[kind] || []).forEach(function (c) {
      var option = el("option", { "value": c.id }, c.id + " " + c.name);
      if (c.id === value) { option.selected = true; }
      select.appendChild(option);
    });
    select.addEventListener("change", function () { onChange(select.value); });
    return select;
  }

  function renderTools() {
    var list = document.getElementById("tools");
    list.replaceChildren();
    state.tools.forEach(function (t, i) {
      var li = el("li", { "class": "tool", "data-i": String(i) });
      var name = el("input", { "type": "text", "class": "tool-name", "aria-label": "tool name" });
      name.value = t.name;
      name.addEventListener("change", function () { change(function () { t.name = name.value; }); });
      li.appendChild(name);
      li.appendChild(categorySelect("tools", t.category, function (v) { change(function () { t.category = v; }); }));
      var note = el("input", { "type": "text", "class": "note", "placeholder": "note", "aria-label": "tool note" });
      note.value = t.note;
      note.addEventListener("change", function () { change(function () { t.note = note.value; }); });
      li.appendChild(note);
      if (t.support && draftN) { li.appendChild(el("span", { "class": "badge support" }, t.support + "/" + draftN)); }
      li.appendChild(button("✕", "remove the tool", function () {
        change(function () { state.tools.splice(i, 1); });
      }, "delete"));
      list.appendChild(li);
    });
  }

  function renderRemarks() {
    var list = document.getElementById("remarks");
    list.replaceChildren();
    state.remarks.forEach(function (r, i) {
      var li = el("li", { "class": "remark" });
      li.appendChild(categorySelect("quotes", r.category, function (v) { change(function () { r.category = v; }); }));
      var input = el("input", { "type": "text", "aria-label": "remark" });
      input.value = r.text;
      input.addEventListener("change", function () { change(function () { r.text = input.value; }); });
      li.appendChild(input);
      li.appendChild(button("✕", "remove the remark", function () {
        change(function () { state.remarks.splice(i, 1); });
      }, "delete"));
      list.appendChild(li);
    });
  }

  var shownOrder = [];
  function render() {
    renderAd();
    shownOrder = renderEntries();
    renderTools();
    renderRemarks();
    var profile = document.getElementById("profile");
    if (profile.value !== state.profile) { profile.value = state.profile; }
    var reasoning = document.getElementById("reasoning");
    if (reasoning.value !== state.reasoning && document.activeElement !== reasoning) {
      reasoning.value = state.reasoning;
    }
  }

  // ------------------------------------------------------------------ actions
  function setCurrent(i, focus) {
    current = i;
    document.querySelectorAll(".entry.current").forEach(function (n) { n.classList.remove("current"); });
    document.querySelectorAll("mark.current-mark").forEach(function (n) { n.classList.remove("current-mark"); });
    var row = document.querySelector(".entry[data-i='" + i + "']");
    if (row) {
      row.classList.add("current");
      if (focus) { row.focus(); }
    }
    document.querySelectorAll("mark[data-quotes]").forEach(function (m) {
      if (m.getAttribute("data-quotes").split(" ").indexOf(String(i)) >= 0) { m.classList.add("current-mark"); }
    });
  }

  function move(step) {
    if (!shownOrder.length) { return; }
    var at = shownOrder.indexOf(current);
    var next = at < 0 ? 0 : Math.max(0, Math.min(shownOrder.length - 1, at + step));
    setCurrent(shownOrder[next], true);
    reveal(shownOrder[next]);
  }

  function reveal(i) {
    var mark = document.querySelector("mark.current-mark") ||
      Array.prototype.find.call(document.querySelectorAll("mark[data-quotes]"), function (m) {
        return m.getAttribute("data-quotes").split(" ").indexOf(String(i)) >= 0;
      });
    if (mark) { mark.scrollIntoView({ block: "center" }); }
  }

  function keep(i) { change(function () { state.quotes[i].reviewed = true; }); setCurrent(i, true); }

  function remove(i) {
    change(function () { state.quotes.splice(i, 1); });
    var at = Math.min(shownOrder.indexOf(i), shownOrder.length - 1);
    current = -1;
    if (shownOrder.length) { setCurrent(shownOrder[Math.max(0, at)], true); }
  }

  function recategorise(i) {
    choose("quotes", "Category of “" + state.quotes[i].text.slice(0, 60) + "”", function (cat) {
      change(function () { state.quotes[i].category = cat; state.quotes[i].reviewed = true; });
      setCurrent(i, true);
    });
  }

  function respan(i) {
    var sel = selection();
    if (i < 0 || !state.quotes[i]) { setStatus("choose an entry to re-span first (j / k)", "bad"); return; }
    if (!sel) { setStatus("select the new passage in the ad first", "bad"); return; }
    change(function () {
      var q = state.quotes[i];
      q.text = sel.text.replace(/\s+/g, " ");
      q.span = [sel.start, sel.end];
      q.reviewed = true;
    });
    window.getSelection().removeAllRanges();
    setCurrent(i, true);
  }

  function addQuote(cat, sel) {
    change(function () {
      state.quotes.push({ category: cat, text: sel.text.replace(/\s+/g, " "), note: "",
                          span: [sel.start, sel.end], support: null, reviewed: true });
    });
    window.getSelection().removeAllRanges();
    setCurrent(state.quotes.length - 1, true);
  }

  function addFromSelection(kind, pick) {
    var sel = selection();
    if (!sel) { setStatus("select a passage in the ad first", "bad"); return; }
    if (kind === "tools") {
      choose("tools", "Tool “" + sel.text.slice(0, 60) + "”", function (cat) {
        change(function () { state.tools.push({ category: cat, name: sel.text.replace(/\s+/g, " "), note: "", support: null }); });
        window.getSelection().removeAllRanges();
      });
      return;
    }
    if (pick !== undefined && kinds.quotes[pick]) { addQuote(kinds.quotes[pick].id, sel); return; }
    choose("quotes", "Quote “" + sel.text.slice(0, 60) + "”", function (cat) { addQuote(cat, sel); });
  }

  // ------------------------------------------------------------------ the category chooser
  var chooser = document.getElementById("chooser");
  var filter = document.getElementById("chooser-filter");
  var chooserList = document.getElementById("chooser-list");
  var chooserDone = null, chooserKind = "quotes", chooserActive = 0, returnFocus = null;

  function choices() {
    var words = filter.value.toLowerCase().split(/\s+/).filter(Boolean);
    return (kinds[chooserKind] || []).filter(function (c) {
      var label = (c.id + " " + c.name).toLowerCase();
      return words.every(function (w) { return label.indexOf(w) >= 0; });
    });
  }

  function renderChoices() {
    chooserList.replaceChildren();
    choices().forEach(function (c, k) {
      var li = el("li", { "data-category": c.id }, c.id + " " + c.name);
      if (k === chooserActive) { li.classList.add("active"); }
      li.addEventListener("mousedown", function (event) { event.preventDefault(); pickChoice(c.id); });
      chooserList.appendChild(li);
    });
  }

  function choose(kind, title, done) {
    chooserKind = kind;
    chooserDone = done;
    chooserActive = 0;
    returnFocus = document.activeElement;
    document.getElementById("chooser-title").textContent = title;
    filter.value = "";
    renderChoices();
    chooser.hidden = false;
    filter.focus();
  }

  function closeChooser() {
    chooser.hidden = true;
    if (returnFocus && returnFocus.focus) { returnFocus.focus(); }
  }

  function pickChoice(cat) {
    var done = chooserDone;
    closeChooser();
    if (done) { done(cat); }
  }

  filter.addEventListener("input", function () { chooserActive = 0; renderChoices(); });
  filter.addEventListener("keydown", function (event) {
    var list = choices();
    if (event.key === "Escape") { event.preventDefault(); closeChooser(); }
    else if (event.key === "Enter" && list.length) { event.preventDefault(); pickChoice(list[chooserActive].id); }
    else if (event.key === "ArrowDown") { event.preventDefault(); chooserActive = Math.min(list.length - 1, chooserActive + 1); renderChoices(); }
    else if (event.key === "ArrowUp") { event.preventDefault(); chooserActive = Math.max(0, chooserActive - 1); renderChoices(); }
    event.stopPropagation();
  });

  // ------------------------------------------------------------------ saving
  function save() {
    clearTimeout(wipTimer);
    setStatus("saving…", "");
    var body = JSON.stringify(toRecord());
    var extra = { "If-Match": etag, "X-Autocode-Seconds": String(seconds) };
    return api("PUT", "/api/ads/" + encodeURIComponent(config.id), body, extra).then(function (response) {
      return response.json().then(function (data) {
        if (response.status === 200) {
          etag = response.headers.get("ETag");
          dirty = false;
          showProblems(null, null);
          setStatus("saved as gold (" + Math.round(seconds / 6) / 10 + " min on this ad)", "ok");
          return true;
        }
        var title = response.status === 409 ? "Not saved: the gold file changed on disk" : "Not saved";
        showProblems(title, data.problems || ["the server answered " + response.status]);
        setStatus(title, "bad");
        dirty = true;
        saveWip();
        return false;
      });
    }).catch(function () {
      setStatus("not saved: the server is unreachable (your work stays in this tab)", "bad");
      return false;
    });
  }

  // ------------------------------------------------------------------ keyboard
  var help = document.getElementById("help");
  function typing(target) {
    return target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT");
  }

  document.addEventListener("keydown", function (event) {
    if ((event.ctrlKey || event.metaKey) && event.key === "s") { event.preventDefault(); save(); return; }
    if (event.key === "Escape") { help.hidden = true; if (typing(event.target)) { event.target.blur(); } return; }
    if (typing(event.target) || event.altKey || !chooser.hidden) { return; }
    if ((event.ctrlKey || event.metaKey) && event.key === "z") { event.preventDefault(); undo(); return; }
    if (event.ctrlKey || event.metaKey) { return; }
    var keys = {
      "j": function () { move(1); }, "ArrowDown": function () { move(1); },
      "k": function () { move(-1); }, "ArrowUp": function () { move(-1); },
      "Enter": function () { reveal(current); },
      "a": function () { if (current >= 0) { keep(current); } },
      "x": function () { if (current >= 0) { remove(current); } },
      "Delete": function () { if (current >= 0) { remove(current); } },
      "c": function () { if (current >= 0) { recategorise(current); } },
      "n": function () {
        var row = document.querySelector(".entry[data-i='" + current + "'] input.note");
        if (row) { row.focus(); }
      },
      "r": function () { respan(current); },
      "q": function () { addFromSelection("quotes"); },
      "t": function () { addFromSelection("tools"); },
      "p": function () { document.getElementById("profile").focus(); },
      "u": undo,
      "?": function () { help.hidden = !help.hidden; },
      "]": function () { go("next"); },
      "[": function () { go("prev"); }
    };
    if (/^[1-9]$/.test(event.key)) { event.preventDefault(); addFromSelection("quotes", +event.key - 1); return; }
    if (keys[event.key]) { event.preventDefault(); keys[event.key](); }
  });

  function go(which) {
    var link = document.getElementById(which);
    if (link.hidden) { return; }
    saveWip().then(function () { window.location.href = link.href; });
  }

  // ------------------------------------------------------------------ start
  function wire() {
    document.getElementById("save").addEventListener("click", save);
    document.getElementById("undo").addEventListener("click", undo);
    document.getElementById("help-button").addEventListener("click", function () { help.hidden = !help.hidden; });
    document.getElementById("order").addEventListener("change", render);
    document.getElementById("add-tool").addEventListener("click", function () {
      change(function () { state.tools.push({ category: kinds.tools[0].id, name: "", note: "", support: null }); });
      var names = document.querySelectorAll("#tools input.tool-name");
      if (names.length) { names[names.length - 1].focus(); }
    });
    document.getElementById("add-remark").addEventListener("click", function () {
      var cat = current >= 0 && state.quotes[current] ? state.quotes[current].category : kinds.quotes[0].id;
      change(function () { state.remarks.push({ category: cat, text: "" }); });
    });
    var profile = document.getElementById("profile");
    profile.appendChild(el("option", { "value": "" }, "(choose a profile)"));
    book.profiles.forEach(function (p) { profile.appendChild(el("option", { "value": p }, p)); });
    profile.addEventListener("change", function () { change(function () { state.profile = profile.value; }); });
    var reasoning = document.getElementById("reasoning");
    reasoning.addEventListener("input", function () { state.reasoning = reasoning.value; touched(); });
    document.getElementById("ad-text").addEventListener("click", function (event) {
      var mark = event.target.closest && event.target.closest("mark[data-quotes]");
      if (mark && window.getSelection().isCollapsed) {
        var i = +mark.getAttribute("data-quotes").split(" ")[0];
        setCurrent(i, false);
        var row = document.querySelector(".entry[data-i='" + i + "']");
        if (row) { row.scrollIntoView({ block: "nearest" }); }
      }
    });
    window.addEventListener("beforeunload", function () { if (dirty) { saveWip(); } });
  }

  function header(data) {
    document.getElementById("title").textContent = data.title || data.id;
    var meta = document.getElementById("meta");
    meta.replaceChildren();
    var parts = [data.organisation, "ad " + data.id, data.blind ? "blind: the ad alone, no draft" : null,
      data.status === "saved" ? "saved as gold" : null, "coder " + data.coder].filter(Boolean);
    meta.textContent = parts.join(" · ");
    document.getElementById("position").textContent = data.position + " of " + data.total;
    ["prev", "next"].forEach(function (which) {
      var link = document.getElementById(which);
      if (data[which]) { link.href = withToken("/ads/" + encodeURIComponent(data[which])); link.hidden = false; }
    });
  }

  function start(response) {
    etag = response.headers.get("ETag");
    return response.json().then(function (data) {
      ad = data;
      text = data.text || "";
      header(data);
      draftN = data.draft && data.draft.n_codings;
      var cpMap = unitsOf(text);
      var base = data.gold || data.draft || { quotes: [], tools: [] };
      state = fromRecord(base, cpMap);
      if (data.wip && data.wip.state) {
        state = data.wip.state;
        seconds = data.wip.seconds || 0;
        dirty = true;
        setStatus("restored your unsaved work from " + data.wip.saved_at, "");
        if (data.wip.etag && data.wip.etag !== etag) {
          // Told now, the coder decides: saving replaces the version saved in between.
          showProblems("The gold file changed on disk since this work was begun",
            ["Another tab or coder saved this ad after you began. Your work is restored " +
             "here; saving it now replaces their version (reload without saving to see it)."]);
        }
      } else if (data.gold) {
        setStatus("editing the saved gold coding", "");
      }
      wire();
      render();
      document.body.setAttribute("data-ready", "true");
      performance.mark("autocode-ready");
    });
  }

  api("GET", "/api/ads/" + encodeURIComponent(config.id)).then(function (response) {
    if (!response.ok) { throw new Error("the server answered " + response.status); }
    return start(response);
  }).catch(function (error) { setStatus("cannot load the ad: " + error.message, "bad"); });

  // ------------------------------------------------------------------ the queue page
  function indexPage() {
    var body = document.querySelector("#queue tbody");
    var more = document.getElementById("more");
    var offset = 0, firstUnsaved = null;
    function row(item) {
      var tr = el("tr", { "data-ad": item.id, "data-status": item.status });
      tr.appendChild(el("td", { "class": "num" }, String(item.position)));
      var link = el("a", { "href": withToken("/ads/" + encodeURIComponent(item.id)) }, item.id);
      var cell = el("td");
      cell.appendChild(link);
      tr.appendChild(cell);
      tr.appendChild(el("td", {}, item.title || ""));
      tr.appendChild(el("td", {}, item.organisation || ""));
      tr.appendChild(el("td", { "class": "status status-" + item.status.replace(/ /g, "-") }, item.status));
      tr.appendChild(el("td", {}, item.coder || ""));
      if (!config.blind) {
        tr.appendChild(el("td", { "class": "num" }, item.agreement === null ? "" : item.agreement.toFixed(2)));
      }
      if (firstUnsaved === null && item.status !== "saved") {
        firstUnsaved = item.id;
        var next = document.getElementById("next-unsaved");
        next.href = link.href;
        next.hidden = false;
      }
      return tr;
    }
    function page() {
      api("GET", "/api/ads?offset=" + offset + "&limit=200").then(function (r) { return r.json(); })
        .then(function (data) {
          data.items.forEach(function (item) { body.appendChild(row(item)); });
          offset += data.items.length;
          more.hidden = offset >= data.total;
          document.body.setAttribute("data-ready", "true");
        });
    }
    more.addEventListener("click", page);
    page();
  }
}());
