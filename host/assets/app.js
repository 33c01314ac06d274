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

  // The bell counts a notification as it arrives, then asks the server, whose count is the
  // truth: a notification replayed after a page load (the tab asks for those since the last one
  // it saw) was already in the count the page was drawn with.
  var recount = null;
  function recountUnread() {
    if (recount) window.clearTimeout(recount);
    recount = window.setTimeout(function () {
      recount = null;
      window.fetch("/api/v1/notifications/unread-count", { credentials: "same-origin", headers: { accept: "application/json" } })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (body) { if (body && typeof body.unread === "number") setUnread(body.unread); })
        .catch(function () { /* offline: the count as counted stays */ });
    }, 300);
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

  // Popups: a plugin's page opened at once over whatever the user is doing (an incoming call),
  // in every tab the user has open. Closing one closes it in the other tabs too. A popup that
  // arrives late (a tab reconnecting after a while) is left in the inbox instead. An open popup
  // stays open as the user moves from page to page in the tab, until closed or half an hour old.
  var POPUP_FRESH_MS = 120000;
  var POPUP_KEEP_MS = 1800000;
  var OPEN_POPUPS = "tessera-open-popups";
  var popupChannel = window.BroadcastChannel ? new BroadcastChannel("tessera-popups") : null;

  function openPopups() {
    try {
      var kept = JSON.parse(window.sessionStorage.getItem(OPEN_POPUPS) || "[]");
      return Array.isArray(kept) ? kept : [];
    } catch (err) {
      return [];
    }
  }

  function keepPopups(list) {
    try { window.sessionStorage.setItem(OPEN_POPUPS, JSON.stringify(list)); } catch (err) { /* storage off */ }
  }

  function closePopup(id) {
    var box = document.querySelector('.popup[data-notification="' + id + '"]');
    if (box) box.remove();
    keepPopups(openPopups().filter(function (n) { return String(n.id) !== id; }));
  }

  if (popupChannel) {
    popupChannel.onmessage = function (e) {
      if (e.data && e.data.closed) closePopup(String(e.data.closed));
    };
  }

  function local(link) {
    return typeof link === "string" && link.charAt(0) === "/" && link.charAt(1) !== "/";
  }

  // Shows again the popups this tab had open on the page before.
  function restorePopups() {
    openPopups().forEach(function (n) { popup(n, true); });
  }

  function popup(n, restoring) {
    var made = Date.parse(n.created_at || "");
    var age = made ? Date.now() - made : 0;
    if (restoring) {
      if (!local(n.link) || age > POPUP_KEEP_MS) {
        closePopup(String(n.id));
        return;
      }
    } else if (!local(n.link) || age > POPUP_FRESH_MS) {
      toast(n);
      return;
    }
    var stack = document.getElementById("popups");
    if (!stack) {
      stack = document.createElement("div");
      stack.id = "popups";
      stack.className = "popups";
      document.body.appendChild(stack);
    }
    var id = String(n.id);
    var shown = document.querySelector('.popup[data-notification="' + id + '"]');
    if (shown) shown.remove();
    if (!restoring) keepPopups(openPopups().filter(function (k) { return String(k.id) !== id; }).concat([n]));
    var box = document.createElement("section");
    box.className = "popup";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-label", n.title || "");
    box.setAttribute("data-notification", id);
    var head = document.createElement("header");
    var title = document.createElement("strong");
    title.textContent = n.title || "";
    head.appendChild(title);
    var close = document.createElement("button");
    close.type = "button";
    close.className = "popup-close";
    close.textContent = "×";
    close.setAttribute("aria-label", document.body.getAttribute("data-close") || "Close");
    close.addEventListener("click", function () {
      closePopup(id);
      if (popupChannel) popupChannel.postMessage({ closed: id });
    });
    head.appendChild(close);
    box.appendChild(head);
    var frame = document.createElement("iframe");
    frame.title = n.title || "";
    frame.src = n.link + (n.link.indexOf("?") < 0 ? "?" : "&") + "embed=1";
    // Fits the page it shows, up to most of the window.
    frame.addEventListener("load", function () {
      try {
        var doc = frame.contentDocument;
        var h = doc && doc.documentElement ? doc.documentElement.scrollHeight : 0;
        if (h) frame.style.height = Math.min(h + 4, Math.round(window.innerHeight * 0.75)) + "px";
      } catch (err) { /* another origin: keep the default height */ }
    });
    box.appendChild(frame);
    stack.insertBefore(box, stack.firstChild);
    document.body.setAttribute("data-popups", String(stack.children.length));
  }

  var LAST_SEEN = "tessera-last-notification";

  // Signing out forgets where this tab's stream was, so the next person starts afresh.
  document.addEventListener("submit", function (e) {
    var action = e.target && e.target.getAttribute && e.target.getAttribute("action");
    if (action === "/sign-out") {
      try { window.sessionStorage.removeItem(LAST_SEEN); } catch (err) { /* storage off */ }
    }
  });

  // Live notifications over server-sent events; the browser reconnects by itself and sends
  // the last id it saw, so none is lost.
  function live() {
    var url = document.body.getAttribute("data-live");
    var count = document.getElementById("unread-count");
    if (count) setUnread(parseInt(count.getAttribute("data-count") || "0", 10));
    if (!url || !window.EventSource) return;
    // The tab remembers the last notification it received, so that one made while it moved
    // from page to page (a popup raised by the action that loads the next page) still arrives.
    var last = null;
    try { last = window.sessionStorage.getItem(LAST_SEEN); } catch (err) { /* storage off */ }
    if (last && /^[0-9]+$/.test(last)) url += (url.indexOf("?") < 0 ? "?" : "&") + "after=" + last;
    var source = new EventSource(url);
    source.addEventListener("notification", function (e) {
      var n;
      try { n = JSON.parse(e.data); } catch (err) { return; }
      try { window.sessionStorage.setItem(LAST_SEEN, String(n.id)); } catch (err) { /* storage off */ }
      var c = document.getElementById("unread-count");
      setUnread(parseInt((c && c.getAttribute("data-count")) || "0", 10) + 1);
      recountUnread();
      if (n.kind === "plugin_popup") popup(n); else toast(n);
      document.dispatchEvent(new CustomEvent("tessera:notification", { detail: n }));
    });
    document.body.setAttribute("data-live-state", "connecting");
    source.addEventListener("open", function () { document.body.setAttribute("data-live-state", "open"); });
  }

  // Inside a popup: links open in the main window, forms stay in the popup, and when the
  // plugin sends the user elsewhere the main window goes there.
  function embedded() {
    var body = document.body;
    if (!body.hasAttribute("data-embed")) return false;
    var leave = body.getAttribute("data-leave");
    if (local(leave)) {
      window.top.location.assign(leave);
      return true;
    }
    document.querySelectorAll("a[href]").forEach(function (a) { a.target = "_top"; });
    return true;
  }

  function start() {
    if (embedded()) return;
    restorePopups();
    live();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
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

// Location fields of plugin forms (clocking in at a site): the browser asks for the device's
// position once the form is shown and fills in `lat,lon,accuracy`. A form sent before the
// position arrives waits for it (at most 15 s), then goes without it; the plugin decides what
// a missing position means.
(function () {
  "use strict";

  function status(input, key, value) {
    var line = input.parentNode && input.parentNode.querySelector("[data-location-status]");
    if (!line) return;
    var text = line.getAttribute("data-" + key) || "";
    line.textContent = text.replace("{}", value == null ? "" : String(value));
    line.setAttribute("data-state", key);
  }

  function locate(input) {
    return new Promise(function (resolve) {
      if (!navigator.geolocation) {
        status(input, "failed", "-");
        resolve();
        return;
      }
      status(input, "pending");
      navigator.geolocation.getCurrentPosition(
        function (pos) {
          var c = pos.coords;
          input.value = c.latitude + "," + c.longitude + "," + Math.round(c.accuracy);
          status(input, "found", Math.round(c.accuracy));
          resolve();
        },
        function (err) {
          input.value = "";
          status(input, "failed", err && err.message ? err.message : "-");
          resolve();
        },
        { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 }
      );
    });
  }

  function start() {
    var inputs = document.querySelectorAll("input[data-location]");
    if (!inputs.length) return;
    var pending = new Map();
    inputs.forEach(function (input) {
      pending.set(input.form, locate(input));
    });
    document.addEventListener("submit", function (e) {
      var form = e.target;
      var waiting = pending.get(form);
      if (!waiting || form.getAttribute("data-located") === "1") return;
      e.preventDefault();
      var button = form.querySelector("button[type=submit]");
      if (button) button.disabled = true;
      var limit = new Promise(function (resolve) { setTimeout(resolve, 15000); });
      Promise.race([waiting, limit]).then(function () {
        // In a task of its own: a form ignores a submission asked for while it is still
        // dispatching this one.
        setTimeout(function () {
          form.setAttribute("data-located", "1");
          if (button) button.disabled = false;
          if (form.requestSubmit) form.requestSubmit(button || undefined); else form.submit();
        }, 0);
      });
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
