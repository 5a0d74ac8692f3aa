// Offline drafts: a request form sent with no signal is kept on the phone (IndexedDB) and posted
// when the network returns: by the service worker (Background Sync, or the next page it serves),
// or by this page when it comes back online. The form's idempotency_key makes a repeat harmless:
// the server answers a replay with the same receipt, so a draft is filed exactly once.
// Runs in pages (forms with data-offline-draft or an idempotency_key field) and in the service
// worker (importScripts), which shares the IndexedDB code below.
var BalaiDrafts = (function () {
  "use strict";
  var DB = "balai-offline";
  var STORE = "drafts";
  // What happened to drafts the service worker filed, kept until a page of this app is there to say
  // so: the signal may return (Background Sync) while no page is open.
  var NEWS = "news";

  function open() {
    return new Promise(function (resolve, reject) {
      var req = indexedDB.open(DB, 2);
      req.onupgradeneeded = function () {
        var names = req.result.objectStoreNames;
        if (!names.contains(STORE)) req.result.createObjectStore(STORE, { keyPath: "id", autoIncrement: true });
        if (!names.contains(NEWS)) req.result.createObjectStore(NEWS, { autoIncrement: true });
      };
      req.onsuccess = function () { resolve(req.result); };
      req.onerror = function () { reject(req.error); };
    });
  }
  function tx(mode, work, store) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var t = db.transaction(store || STORE, mode);
        var result = work(t.objectStore(store || STORE));
        t.oncomplete = function () { db.close(); resolve(result && "result" in result ? result.result : result); };
        t.onerror = function () { db.close(); reject(t.error); };
      });
    });
  }
  function all() { return tx("readonly", function (s) { return s.getAll(); }); }
  function put(draft) { return tx("readwrite", function (s) { return s.put(draft); }); }
  function remove(id) { return tx("readwrite", function (s) { return s.delete(id); }); }

  // Post one draft; resolves to {ok, url} or {ok: false, status} (kept for the resident to fix),
  // rejects on a network failure (kept, tried again later).
  function post(draft, token) {
    var body = new FormData();
    draft.fields.forEach(function (f) { body.append(f[0], f[0] === "csrf_token" && token ? token : f[1]); });
    return fetch(draft.action, { method: "POST", body: body, credentials: "same-origin" }).then(function (r) {
      var done = r.ok && r.redirected && /\/(tanda-terima|lacak)\//.test(r.url);
      if (r.status === 400 && !token) return freshToken(draft.action).then(function (t) { return t ? post(draft, t) : { ok: false, status: 400 }; });
      return done ? { ok: true, url: r.url } : { ok: false, status: r.status };
    });
  }
  // The session the draft's form token belongs to may be gone by the time the signal returns:
  // the form page itself gives a token for the session this phone has now.
  function freshToken(action) {
    return fetch(action, { credentials: "same-origin" }).then(function (r) { return r.text(); }).then(function (html) {
      var m = /name="csrf_token"[^>]*value="([^"]+)"/.exec(html);
      return m && m[1];
    });
  }

  // Page and service worker may both try: a draft is claimed in IndexedDB (transactions do not
  // interleave) before it is posted, and a claim lapses after HOLD in case its sender died.
  var HOLD = 120000;
  function claim(id) {
    var taken = null;
    return tx("readwrite", function (s) {
      var get = s.get(id);
      get.onsuccess = function () {
        var d = get.result;
        if (!d || d.failed || (d.sending && Date.now() - d.sending < HOLD)) return;
        d.sending = Date.now();
        s.put(d);
        taken = d;
      };
    }).then(function () { return taken; });
  }
  function sendOne(id) {
    return claim(id).then(function (draft) {
      if (!draft) return null;
      return post(draft).then(function (res) {
        res.draft = draft;
        if (res.ok) return remove(draft.id).then(function () { return res; });
        draft.failed = res.status;
        return put(draft).then(function () { return res; });
      }, function (err) {
        delete draft.sending;
        return put(draft).then(function () { throw err; });
      });
    });
  }
  // Send every waiting draft once; resolves to what happened to each one this call sent.
  function flush() {
    return all().then(function (drafts) {
      var results = [];
      return drafts.reduce(function (chain, d) {
        return chain.then(function () { return sendOne(d.id); }).then(function (r) { if (r) results.push(r); });
      }, Promise.resolve()).then(function () { return results; });
    });
  }
  // News of filed drafts: kept by the service worker, taken (read and cleared in one transaction, so
  // told once) by whichever page of the app is open first.
  function keepNews(results) {
    return tx("readwrite", function (s) { results.forEach(function (r) { s.add(r); }); }, NEWS);
  }
  function takeNews() {
    return tx("readwrite", function (s) {
      var got = s.getAll();
      got.onsuccess = function () { s.clear(); };
      return got;
    }, NEWS);
  }
  return { all: all, put: put, remove: remove, flush: flush, keepNews: keepNews, takeNews: takeNews };
})();

if (typeof document !== "undefined") (function () {
  "use strict";
  var SAVED = "Tidak ada sinyal. Isian Anda disimpan di HP ini dan dikirim otomatis saat sinyal kembali, juga bila aplikasi ditutup dulu. Tidak perlu mengisi ulang.";
  var SENT = "Permohonan yang tersimpan sudah terkirim.";
  var FAILED = "Permohonan yang tersimpan belum bisa dikirim: ada isian yang perlu diperbaiki. Periksa lalu kirim lagi.";
  function draftable(form) {
    return form && form.tagName === "FORM" &&
      (form.hasAttribute("data-offline-draft") || !!form.querySelector("input[name=idempotency_key]"));
  }
  var submitter = null;

  // The note goes where the resident is looking: right under the button they pressed.
  function note(text, link, near) {
    var box = document.getElementById("draft-note");
    if (!box) {
      box = document.createElement("p");
      box.id = "draft-note";
      box.className = "flash";
      box.setAttribute("role", "status");
    }
    var anchor = near && (near.closest(".actions") || near);
    if (anchor) anchor.insertAdjacentElement("afterend", box);
    else if (!box.parentNode) { var main = document.querySelector("main") || document.body; main.insertBefore(box, main.firstChild); }
    box.textContent = text + " ";
    if (link) {
      var a = document.createElement("a");
      a.href = link;
      a.textContent = "Lihat tanda terima";
      box.appendChild(a);
    }
    if (anchor && box.scrollIntoView) box.scrollIntoView({ block: "nearest" });
  }
  function remember(url) {
    var m = /\/(?:tanda-terima|lacak)\/([^/?#]+)/.exec(url);
    if (!m) return;
    try {
      var codes = JSON.parse(localStorage.getItem("balai.codes") || "[]").filter(function (c) { return c !== m[1]; });
      codes.unshift(m[1]);
      localStorage.setItem("balai.codes", JSON.stringify(codes.slice(0, 20)));
    } catch (err) { /* private mode: the server's session still lists it */ }
  }
  function reported(results) {
    (results || []).forEach(function (r) {
      if (r.ok) { remember(r.url); note(SENT, r.url); } else note(FAILED);
    });
  }
  function send() {
    BalaiDrafts.flush().then(reported, function () {});
  }
  function save(form, by) {
    var fields = [];
    var overrides = {};
    (form.getAttribute("data-offline-draft") || "step=send").split("&").forEach(function (pair) {
      var kv = pair.split("=");
      if (kv[0]) overrides[kv[0]] = decodeURIComponent(kv[1] || "");
    });
    var shrinking = window.BalaiUpload ? BalaiUpload.ready() : Promise.resolve();
    return shrinking.then(function () {
      new FormData(form).forEach(function (value, name) {
        if (typeof value !== "string" && !value.size) return;
        if (!(name in overrides)) fields.push([name, value]);
      });
      Object.keys(overrides).forEach(function (name) {
        if (form.elements[name] || name === "step") fields.push([name, overrides[name]]);
      });
      // One draft per form: pressing again replaces it (the same idempotency key files it once).
      return BalaiDrafts.all();
    }).then(function (drafts) {
      var key = form.elements.idempotency_key && form.elements.idempotency_key.value;
      var same = drafts.filter(function (d) {
        return key && d.fields.some(function (f) { return f[0] === "idempotency_key" && f[1] === key; });
      })[0];
      var draft = { action: form.action, fields: fields, saved: Date.now() };
      if (same) draft.id = same.id;
      return BalaiDrafts.put(draft);
    }).then(function () {
      note(SAVED, null, by || form.querySelector("button"));
      var sw = navigator.serviceWorker;
      if (sw) sw.ready.then(function (reg) { return reg.sync && reg.sync.register("balai-drafts"); }).catch(function () {});
    });
  }

  document.addEventListener("click", function (e) {
    var b = e.target.closest && e.target.closest("button, input[type=submit]");
    if (b && b.form) submitter = b;
  }, true);
  window.addEventListener("submit", function (e) {
    var form = e.target;
    if (!draftable(form)) return;
    if (navigator.onLine !== false) return forget(form.action);
    e.preventDefault();
    e.stopImmediatePropagation();
    save(form, e.submitter || (submitter && submitter.form === form ? submitter : null));
  }, true);
  // Online by the phone's account but no answer (one bar of signal): keep the form as a draft too.
  document.addEventListener("balai:send-error", function (e) {
    if (draftable(e.target)) save(e.target, e.detail && e.detail.submitter);
  });
  window.addEventListener("online", send);
  function forget(action) {
    BalaiDrafts.all().then(function (drafts) {
      drafts.forEach(function (d) { if (d.failed && d.action === action) BalaiDrafts.remove(d.id); });
    }, function () {});
  }
  // A draft the server refused goes back into its form (minus photos and the old CSRF token).
  function restore(draft) {
    var form = Array.prototype.filter.call(document.forms, function (f) {
      return draftable(f) && f.action === draft.action;
    })[0];
    if (!form) return;
    draft.fields.forEach(function (f) {
      var el = form.elements[f[0]];
      if (!el || typeof f[1] !== "string" || f[0] === "csrf_token" || f[0] === "step") return;
      if (el.type === "checkbox") el.checked = true;
      else if (el.type !== "file") el.value = f[1];
    });
  }
  BalaiDrafts.all().then(function (drafts) {
    var failed = drafts.filter(function (d) { return d.failed; });
    failed.forEach(restore);
    if (failed.length) note(FAILED);
    if (drafts.length > failed.length && navigator.onLine !== false) send();
  }, function () {});
  // Back to this page from the receipt, restored as it was (back/forward cache): the server's
  // copy says that this form was already sent.
  window.addEventListener("pageshow", function (e) {
    var key = document.querySelector("input[name=idempotency_key]");
    if (e.persisted && key && sessionStorage.getItem("balai.sent") === key.value) return location.reload();
    // Back from the receipt: the browser would put the page where it was left, below the note.
    var sent = document.querySelector(".sent-note");
    if (sent) setTimeout(function () { sent.scrollIntoView({ block: "start" }); }, 0);
  });
  window.addEventListener("submit", function (e) {
    var form = e.target;
    var step = e.submitter && e.submitter.name === "step" ? e.submitter.value : "";
    if (draftable(form) && step === "send") {
      try { sessionStorage.setItem("balai.sent", form.elements.idempotency_key.value); } catch (err) { /* private mode */ }
    }
  });
})();
