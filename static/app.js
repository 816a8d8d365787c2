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
    var exp = ev.target.closest && ev.target.closest("button.expander");
    if (exp) {
      var row = document.getElementById(exp.getAttribute("aria-controls"));
      var open = exp.getAttribute("aria-expanded") !== "true";
      exp.setAttribute("aria-expanded", String(open));
      if (row) row.hidden = !open;
      var group = exp.closest("tbody");
      if (group) group.classList.toggle("open", open);
      return;
    }
    var copy = ev.target.closest && ev.target.closest("button[data-copy]");
    if (copy) {
      var field = document.querySelector(copy.dataset.copy);
      if (!field) return;
      field.select();
      var copied = function () { copy.textContent = "Copied"; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(field.value).then(copied, function () { document.execCommand("copy"); copied(); });
      } else {
        document.execCommand("copy");
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
