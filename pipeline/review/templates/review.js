(function () {
  "use strict";
  // Tooltips for highlighted quotes (hover or keyboard focus) and a link from each quote
  // of the coding to its place in the ad. Text is copied as DOM nodes, never as HTML.
  var tip = document.getElementById("tip");
  var current = null;

  function place(el) {
    var box = el.getBoundingClientRect();
    var top = box.bottom + 6;
    if (top + tip.offsetHeight > window.innerHeight) { top = box.top - tip.offsetHeight - 6; }
    var left = Math.min(box.left, window.innerWidth - tip.offsetWidth - 8);
    tip.style.top = Math.max(4, top) + "px";
    tip.style.left = Math.max(4, left) + "px";
  }

  function show(el) {
    if (current) { current.classList.remove("active"); }
    current = el;
    el.classList.add("active");
    tip.replaceChildren();
    (el.getAttribute("data-quotes") || "").split(" ").forEach(function (key) {
      var source = document.getElementById("tip-" + key);
      if (!source) { return; }
      var copy = source.cloneNode(true);
      copy.removeAttribute("id");
      tip.appendChild(copy);
    });
    tip.hidden = false;
    place(el);
  }

  function hide() {
    if (current) { current.classList.remove("active"); }
    current = null;
    tip.hidden = true;
  }

  function highlightOf(target) {
    return target && target.closest ? target.closest("mark[data-quotes]") : null;
  }

  document.addEventListener("mouseover", function (event) {
    var el = highlightOf(event.target);
    if (el) { show(el); } else if (current && current !== document.activeElement) { hide(); }
  });
  document.addEventListener("focusin", function (event) {
    var el = highlightOf(event.target);
    if (el) { show(el); } else { hide(); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { hide(); }
  });
  window.addEventListener("scroll", function () {
    if (current) { place(current); }
  }, true);

  function reveal(entry) {
    var key = entry.getAttribute("data-key");
    var marks = document.querySelectorAll("mark[data-quotes~='" + key + "']");
    if (!marks.length) { return; }
    marks[0].scrollIntoView({ block: "center", behavior: "smooth" });
    marks.forEach(function (m) {
      m.classList.remove("flash");
      void m.offsetWidth;  // restart the animation
      m.classList.add("flash");
    });
  }

  document.addEventListener("click", function (event) {
    var entry = event.target.closest && event.target.closest("li.quote[data-key]");
    if (entry) { reveal(entry); }
  });
  // The index: sort the ads by agreement among the merged codings, lowest first, so a
  // coder starts where the codings disagreed most; a second click restores the order.
  var sorter = document.querySelector("button.sort[data-sort='agreement']");
  if (sorter) {
    sorter.addEventListener("click", function () {
      var body = document.querySelector("#ads tbody");
      var rows = Array.prototype.slice.call(body.rows);
      var sorted = sorter.getAttribute("aria-pressed") !== "true";
      function key(row) {
        var value = row.getAttribute("data-agreement");
        return value === null ? Infinity : parseFloat(value);
      }
      rows.sort(function (a, b) {
        var order = +a.getAttribute("data-order") - +b.getAttribute("data-order");
        return sorted ? (key(a) - key(b)) || order : order;
      });
      rows.forEach(function (row) { body.appendChild(row); });
      sorter.setAttribute("aria-pressed", sorted ? "true" : "false");
    });
  }

  document.addEventListener("keydown", function (event) {
    var entry = event.target.closest && event.target.closest("li.quote[data-key]");
    if (entry && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      reveal(entry);
    }
  });
}());
