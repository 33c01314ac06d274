// Tessera CRM: the live parts of the pages. Everything here is an enhancement: without
// JavaScript every page still works, only the live notifications and the conveniences below
// are missing. Text from the server is set with textContent, never parsed as markup.
(function () {
  "use strict";

  // Danger buttons ask first.
  document.addEventListener("submit", function (e) {
    var form = e.target;
    var question = form.getAttribute && form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      e.preventDefault();
    }
  });

  // "Select all" boxes of list pages.
  document.addEventListener("change", function (e) {
    var box = e.target;
    var name = box.getAttribute && box.getAttribute("data-select-all");
    if (!name) return;
    var form = box.form || document;
    form.querySelectorAll('input[type="checkbox"][name="' + name + '"]').forEach(function (c) {
      c.checked = box.checked;
    });
  });

  function setUnread(n) {
    var count = document.getElementById("unread-count");
    if (!count) return;
    count.textContent = String(n);
    count.setAttribute("data-count", String(n));
    count.classList.toggle("has-unread", n > 0);
  }

  function toast(n) {
    var box = document.getElementById("toasts");
    if (!box) return;
    var item = document.createElement("div");
    item.className = "toast";
    item.setAttribute("role", "status");
    item.setAttribute("data-kind", n.kind || "");
    var title = document.createElement(n.link ? "a" : "strong");
    title.textContent = n.title || "";
    if (n.link && n.link.charAt(0) === "/" && n.link.charAt(1) !== "/") {
      title.setAttribute("href", n.link);
      title.className = "toast-title";
    }
    item.appendChild(title);
    if (n.body) {
      var body = document.createElement("div");
      body.textContent = n.body;
      item.appendChild(body);
    }
    box.appendChild(item);
    window.setTimeout(function () { item.remove(); }, 15000);
  }

  // Live notifications over server-sent events; the browser reconnects by itself and sends
  // the last id it saw, so none is lost.
  function live() {
    var url = document.body.getAttribute("data-live");
    var count = document.getElementById("unread-count");
    if (count) setUnread(parseInt(count.getAttribute("data-count") || "0", 10));
    if (!url || !window.EventSource) return;
    var source = new EventSource(url);
    source.addEventListener("notification", function (e) {
      var n;
      try { n = JSON.parse(e.data); } catch (err) { return; }
      var c = document.getElementById("unread-count");
      setUnread(parseInt((c && c.getAttribute("data-count")) || "0", 10) + 1);
      toast(n);
      document.dispatchEvent(new CustomEvent("tessera:notification", { detail: n }));
    });
    document.body.setAttribute("data-live-state", "connecting");
    source.addEventListener("open", function () { document.body.setAttribute("data-live-state", "open"); });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", live);
  } else {
    live();
  }
})();

// Import progress: the progress page of a customer import follows a run live, asking the API
// how many rows are done, and shows the outcome (the page itself) once the run ends. Without
// JavaScript the page refreshes itself while the run goes on.
(function () {
  "use strict";

  function follow() {
    var box = document.querySelector("[data-import-poll]");
    if (!box || box.getAttribute("data-status") !== "running" || !window.fetch) return;
    var url = box.getAttribute("data-import-poll");
    var done = box.getAttribute("data-import-done");
    var bar = box.querySelector("progress");
    var count = box.querySelector("[data-import-processed]");
    var lang = document.documentElement.getAttribute("lang") || undefined;
    var failures = 0;
    function tick() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) {
          if (!r.ok) throw new Error("HTTP " + r.status);
          return r.json();
        })
        .then(function (info) {
          failures = 0;
          if (info.status !== "running") {
            if (done && done.charAt(0) === "/" && done.charAt(1) !== "/") window.location.replace(done);
            return;
          }
          var n = typeof info.processed === "number" ? info.processed : 0;
          if (bar) bar.value = Math.min(n, parseFloat(bar.getAttribute("max") || "1"));
          if (count) count.textContent = n.toLocaleString(lang);
          window.setTimeout(tick, 1500);
        })
        .catch(function () {
          // A few more tries, further apart; then the page's Refresh link is the way on.
          failures += 1;
          if (failures < 5) window.setTimeout(tick, 3000 * failures);
        });
    }
    window.setTimeout(tick, 1000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", follow);
  } else {
    follow();
  }
})();
