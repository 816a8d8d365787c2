// artifactapi dashboard: upload progress, sortable headers, small helpers.
// Everything else is htmx. No inline scripts (the pages send a strict CSP).
(function () {
  "use strict";

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }

  function flash(kind, msg) {
    var box = document.getElementById("flash");
    if (!box) return;
    var div = document.createElement("div");
    div.className = "alert alert-" + kind;
    div.setAttribute("role", kind === "error" ? "alert" : "status");
    div.textContent = msg;
    box.replaceChildren(div);
  }

  function formatBytes(n) {
    if (n < 1024) return n + " B";
    var units = ["KiB", "MiB", "GiB", "TiB"], i = -1;
    do { n /= 1024; i++; } while (n >= 1024 && i < units.length - 1);
    return n.toFixed(1) + " " + units[i];
  }

  // Copies text where the asynchronous clipboard is not available (plain http).
  function copyByHand(text) {
    var ta = document.createElement("textarea");
    ta.value = text;
    ta.setAttribute("readonly", "");
    ta.style.position = "fixed";
    ta.style.opacity = "0";
    document.body.append(ta);
    ta.select();
    document.execCommand("copy");
    ta.remove();
  }

  // A listing row's details are loaded on first opening, then toggled.
  var detailSeq = 0;
  function toggleDetail(exp) {
    var group = exp.closest("tbody");
    if (!group) return;
    var open = exp.getAttribute("aria-expanded") !== "true";
    exp.setAttribute("aria-expanded", String(open));
    group.classList.toggle("open", open);
    var row = group.querySelector(".detail-row");
    if (row) {
      row.hidden = !open;
      return;
    }
    if (!open) return;
    htmx.ajax("GET", exp.getAttribute("href"), { target: group, swap: "beforeend" }).then(function () {
      var r = group.querySelector(".detail-row");
      if (!r) return;
      r.id = "artifact-detail-" + (++detailSeq);
      exp.setAttribute("aria-controls", r.id);
      r.hidden = exp.getAttribute("aria-expanded") !== "true";
    });
  }

  // Keeps the keyboard focus across a swap: htmx restores an element with
  // an id; any other focused control is found again in the new content by
  // what it is (tag, name, label, row), so that polling, sorting and paging
  // never leave the focus on the page's body.
  function focusKey(el) {
    var row = el.closest("[data-path], [data-idx], [data-remote]");
    return [el.id, el.tagName, el.getAttribute("name") || "", el.getAttribute("aria-label") || "", el.getAttribute("rel") || "",
      el.dataset.sort || "", (el.textContent || "").trim().slice(0, 80),
      row ? row.getAttribute("data-path") || row.getAttribute("data-idx") || row.getAttribute("data-remote") : ""].join("\u0000");
  }
  function focusFallback(el) {
    if (el.getAttribute("rel") === "next" || el.getAttribute("rel") === "prev") return ".pager a";
    return null;
  }
  var pendingFocus = null;
  function saveFocus(target) {
    var el = document.activeElement;
    pendingFocus = null;
    if (!el || el === document.body || !target || !target.contains(el)) return;
    pendingFocus = { key: focusKey(el), fallback: focusFallback(el), scope: target.id ? "#" + target.id : null };
  }
  function restoreFocus() {
    var p = pendingFocus;
    pendingFocus = null;
    if (!p) return;
    var active = document.activeElement;
    if (active && active !== document.body && active.isConnected) return;
    var scope = (p.scope && document.querySelector(p.scope)) || document;
    var all = scope.querySelectorAll("a[href], button, input, select, textarea, [tabindex]");
    for (var i = 0; i < all.length; i++) {
      if (focusKey(all[i]) === p.key) {
        all[i].focus({ preventScroll: true });
        return;
      }
    }
    var fb = p.fallback && scope.querySelector(p.fallback);
    if (fb) fb.focus({ preventScroll: true });
  }
  document.addEventListener("htmx:beforeSwap", function (ev) { saveFocus(ev.detail.target); });
  document.addEventListener("htmx:afterSettle", restoreFocus);

  // Open detail rows stay open when their listing is swapped (live updates).
  function openDetails(target) {
    var out = {};
    if (!target || !target.querySelectorAll) return out;
    target.querySelectorAll("tbody.artifact.open").forEach(function (g) {
      var tr = g.querySelector("tr[data-path]"), d = g.querySelector(".detail-row");
      if (tr && d) out[tr.dataset.path] = d;
    });
    return out;
  }
  function reopenDetails(scope, open) {
    if (!scope) return;
    scope.querySelectorAll("tbody.artifact").forEach(function (g) {
      var tr = g.querySelector("tr[data-path]");
      var d = tr && open[tr.dataset.path];
      var exp = g.querySelector("a.expander");
      if (!d || !exp) return;
      g.append(d);
      g.classList.add("open");
      exp.setAttribute("aria-expanded", "true");
      if (d.id) exp.setAttribute("aria-controls", d.id);
    });
  }

  // Live regions: an element with data-live (its URL) is fetched again
  // every data-live-every seconds while the page is visible; the server
  // answers 204 when the region is unchanged (its signature, data-live-sig,
  // is sent back), and the wait then doubles up to data-live-max seconds.
  // A changed region is swapped in place, keeping focus, scroll and open
  // details; a region rendered without data-live stops polling.
  function Live(id) {
    this.id = id;
    this.wait = 0;
    this.timer = null;
    this.node = null;
  }
  Live.prototype.el = function () { return document.getElementById(this.id); };
  Live.prototype.schedule = function () {
    var el = this.el(), self = this;
    clearTimeout(this.timer);
    if (!el || !el.dataset.live) return;
    var base = Number(el.dataset.liveEvery || 5), most = Number(el.dataset.liveMax || 60);
    this.wait = this.wait ? Math.min(this.wait * 2, most) : base;
    this.timer = setTimeout(function () { self.poll(); }, this.wait * 1000);
  };
  Live.prototype.poll = function () {
    var el = this.el(), self = this;
    if (!el || !el.dataset.live) return;
    if (document.hidden) { this.paused = true; return; }
    if (el.classList.contains("htmx-request")) { this.schedule(); return; }
    var url = el.dataset.live;
    fetch(url, { headers: { "HX-Request": "true", "HX-Live-Sig": el.dataset.liveSig || "" }, credentials: "same-origin" })
      .then(function (r) {
        if (r.status === 204) return null;
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.text();
      })
      .then(function (html) {
        var cur = self.el();
        if (html !== null && cur && cur.dataset.live === url && !cur.classList.contains("htmx-request")) {
          var open = openDetails(cur);
          saveFocus(cur);
          htmx.swap(cur, html, { swapStyle: "outerHTML", swapDelay: 0, settleDelay: 0 }, {});
          reopenDetails(self.el(), open);
          restoreFocus();
          self.wait = 0;
        }
        self.schedule();
      })
      .catch(function () { self.schedule(); });
  };
  var lives = {};
  function startLive(root) {
    var els = root.querySelectorAll ? root.querySelectorAll("[data-live]") : [];
    if (root.matches && root.matches("[data-live]")) els = [root].concat(Array.prototype.slice.call(els));
    Array.prototype.forEach.call(els, function (el) {
      if (!el.id) return;
      var l = lives[el.id] || (lives[el.id] = new Live(el.id));
      if (l.node !== el) {
        // A new region (first load, or swapped by a search, a sort or an
        // eviction): start again from the shortest wait.
        l.node = el;
        l.wait = 0;
        l.schedule();
      }
    });
  }
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) return;
    Object.keys(lives).forEach(function (id) {
      var l = lives[id];
      if (l.paused) { l.paused = false; l.wait = 0; l.poll(); }
    });
  });

  if (window.htmx) {
    htmx.onLoad(function (elt) {
      // Disclosure links act as buttons once the script runs (without it
      // they open the artifact's own page).
      elt.querySelectorAll("a.expander").forEach(function (a) { a.setAttribute("role", "button"); });
      startLive(elt);
    });
  }
  // A table scrolling sideways in its box (narrow windows) can be scrolled
  // from the keyboard: it becomes a focusable, named region.
  function scrollables() {
    var named = {};
    document.querySelectorAll(".table-wrap[role=region]").forEach(function (w) { named[w.getAttribute("aria-label")] = true; });
    document.querySelectorAll(".table-wrap").forEach(function (w) {
      if (w.scrollWidth > w.clientWidth + 1) {
        if (w.getAttribute("tabindex") === "0") return;
        var section = w.closest("section"), h = section && section.querySelector("h2, h1");
        var cap = w.querySelector("caption");
        var label = (h ? h.textContent.trim().replace(/\s+/g, " ") + ": " : "") + (cap ? cap.textContent.trim() + ", " : "") + "table, scrolls sideways";
        // Landmarks need distinct names: number the second table of a section.
        for (var n = 2, base = label; named[label]; n++) label = base + " (" + n + ")";
        named[label] = true;
        w.setAttribute("tabindex", "0");
        w.setAttribute("role", "region");
        w.setAttribute("aria-label", label);
      } else if (w.getAttribute("role") === "region") {
        w.removeAttribute("tabindex");
        w.removeAttribute("role");
        w.removeAttribute("aria-label");
      }
    });
  }
  var resizing = null;
  function soon() {
    clearTimeout(resizing);
    resizing = setTimeout(scrollables, 100);
  }
  window.addEventListener("resize", soon);
  window.addEventListener("load", scrollables);
  document.addEventListener("htmx:afterSettle", soon);
  document.addEventListener("DOMContentLoaded", function () {
    scrollables();
    // Rows added by a script (uploads) widen a table without a resize.
    if (window.ResizeObserver) {
      var ro = new ResizeObserver(soon);
      document.querySelectorAll(".table-wrap > table").forEach(function (t) { ro.observe(t); });
    }
  });

  document.addEventListener("keydown", function (ev) {
    if (ev.key === " " && ev.target.matches && ev.target.matches("a.expander[role=button]")) {
      ev.preventDefault();
      toggleDetail(ev.target);
    }
  });

  // Column headers sort through the toolbar, so that its selects stay in step.
  document.addEventListener("click", function (ev) {
    var a = ev.target.closest && ev.target.closest("a[data-sort]");
    if (a && !ev.ctrlKey && !ev.metaKey && !ev.shiftKey) {
      var sort = document.getElementById("sort"), order = document.getElementById("order");
      if (sort && order) {
        ev.preventDefault();
        sort.value = a.dataset.sort;
        order.value = a.dataset.order;
        order.dispatchEvent(new Event("change", { bubbles: true }));
      }
      return;
    }
    var exp = ev.target.closest && ev.target.closest("a.expander");
    if (exp && !ev.ctrlKey && !ev.metaKey && !ev.shiftKey && window.htmx) {
      ev.preventDefault();
      toggleDetail(exp);
      return;
    }
    var copy = ev.target.closest && ev.target.closest("button[data-copy], button[data-copy-text]");
    if (copy) {
      var field = copy.dataset.copy ? document.querySelector(copy.dataset.copy) : null;
      var text = field ? field.value : copy.dataset.copyText;
      if (field) field.select();
      var copied = function () {
        var label = copy.textContent;
        copy.textContent = "Copied";
        if (!field) setTimeout(function () { copy.textContent = label; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(copied, function () { copyByHand(text); copied(); });
      } else {
        copyByHand(text);
        copied();
      }
      return;
    }
    var clear = ev.target.closest && ev.target.closest("[data-clear]");
    if (clear) {
      var target = document.querySelector(clear.dataset.clear);
      if (target) target.replaceChildren();
    }
  });

  // A listing row's Evict asks with the row's path (the question is built
  // here so that each row need not carry it).
  document.addEventListener("htmx:confirm", function (ev) {
    var elt = ev.detail.elt;
    if (!elt || elt.tagName !== "FORM" || ev.detail.question) return;
    var table = elt.closest("table[data-confirm]"), input = elt.querySelector('input[name="path"]');
    if (!table || !input) return;
    ev.preventDefault();
    if (window.confirm(table.dataset.confirm.replace("{path}", input.value))) ev.detail.issueRequest(true);
  });

  document.addEventListener("htmx:sendError", function () {
    flash("error", "The server could not be reached. Check the connection and try again.");
  });

  // Uploads: one streamed PUT per file, with its own progress bar.
  function resultRow(file) {
    var tr = document.createElement("tr");
    tr.className = "upload-row";
    tr.dataset.state = "uploading";
    var name = document.createElement("td");
    name.className = "mono break";
    name.textContent = file.name;
    var size = document.createElement("td");
    size.className = "num";
    size.textContent = formatBytes(file.size);
    var prog = document.createElement("td");
    var cell = document.createElement("div");
    cell.className = "progress-cell";
    var bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    bar.setAttribute("aria-label", "Upload progress of " + file.name);
    var pct = document.createElement("span");
    pct.className = "small muted";
    pct.textContent = "0 %";
    cell.append(bar, pct);
    prog.append(cell);
    var res = document.createElement("td");
    res.className = "result muted";
    res.textContent = "Uploading…";
    tr.append(name, size, prog, res);
    return { tr: tr, bar: bar, pct: pct, res: res };
  }

  function failRow(row, msg) {
    row.tr.dataset.state = "failed";
    row.res.className = "result text-error";
    row.res.textContent = msg;
    row.pct.textContent = "failed";
  }

  function uploadOne(form, file, remote, prefix, tbody) {
    return new Promise(function (resolve) {
      var row = resultRow(file);
      tbody.prepend(row.tr);
      var dir = prefix.replace(/^\/+|\/+$/g, "");
      var path = (dir ? dir + "/" : "") + file.name;
      var xhr = new XMLHttpRequest();
      xhr.open("PUT", form.dataset.uploadUrl + "?remote=" + encodeURIComponent(remote) + "&path=" + encodeURIComponent(path));
      xhr.setRequestHeader("X-CSRF-Token", csrfToken());
      xhr.upload.onprogress = function (ev) {
        if (!ev.lengthComputable) return;
        var p = Math.floor((ev.loaded / ev.total) * 100);
        row.bar.value = p;
        row.pct.textContent = p + " % · " + formatBytes(ev.loaded);
      };
      xhr.onload = function () {
        var body = (xhr.responseText || "").trim();
        if (body.indexOf("<tr") === 0) {
          var tpl = document.createElement("template");
          tpl.innerHTML = body; // rendered and escaped by the server's templates
          row.tr.replaceWith(tpl.content.firstElementChild);
          resolve(xhr.status === 201);
          return;
        } else {
          var doc = new DOMParser().parseFromString(body, "text/html");
          var alert = doc.querySelector(".alert");
          failRow(row, alert ? alert.textContent : "Upload failed (HTTP " + xhr.status + ").");
        }
        resolve(false);
      };
      xhr.onerror = function () {
        failRow(row, "The connection failed during the upload.");
        resolve(false);
      };
      xhr.send(file);
    });
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (form.id !== "upload-form") return;
    ev.preventDefault();
    var input = form.querySelector('input[type="file"]');
    var files = Array.prototype.slice.call(input.files || []);
    if (files.length === 0) return;
    var remote = form.querySelector('[name="remote"]').value;
    var prefix = form.querySelector('[name="prefix"]').value || "";
    var tbody = document.querySelector("#upload-results tbody");
    var empty = document.getElementById("upload-empty");
    if (empty) empty.remove();
    var button = form.querySelector('button[type="submit"]');
    button.disabled = true;
    var chain = Promise.resolve(), ok = 0;
    files.forEach(function (f) {
      chain = chain.then(function () { return uploadOne(form, f, remote, prefix, tbody); })
        .then(function (done) { if (done) ok++; });
    });
    chain.then(function () {
      button.disabled = false;
      input.value = "";
      var failed = files.length - ok;
      if (failed === 0) flash("success", ok === 1 ? "1 file uploaded." : ok + " files uploaded.");
      else flash("error", failed + " of " + files.length + " uploads failed: see each file below.");
    });
  });
})();
