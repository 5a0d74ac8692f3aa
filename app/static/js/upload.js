// Photos on their way up from a cheap phone over 3G. Without this file the forms post normally.
// - A chosen photo is made smaller on the phone (long edge 1600 px, JPEG 0.8: a 2-3 MB camera photo
//   travels as ~200-400 KB) and put back into its file field, so however the form is then sent
//   (below, by htmx, as an offline draft) it carries the small one.
// - A form with a photo in it is sent with XMLHttpRequest and a progress bar; the answer replaces
//   the form's part of the page (data-upload="#step"), or the page's <main>.
// - A form with hx-post is left to htmx: its xhr:progress events drive the same bar.
var BalaiUpload = (function () {
  "use strict";
  var EDGE = 1600;
  var QUALITY = 0.8;
  var busy = [];

  function kb(n) { return n >= 1048576 ? (n / 1048576).toFixed(1).replace(".", ",") + " MB" : Math.round(n / 1024) + " KB"; }
  function parts(form) {
    return { bar: form.querySelector("progress.upload"), note: form.querySelector(".upload-status") };
  }
  function say(form, text) {
    var p = parts(form);
    if (p.note) p.note.textContent = text;
  }
  function showError(input, text) {
    var box = document.getElementById(input.id + "-err");
    if (box) { box.textContent = text; box.hidden = !text; }
    input.setAttribute("aria-invalid", text ? "true" : "false");
  }
  function shrink(file) {
    if (!/^image\/(jpeg|png|webp)$/.test(file.type) || !window.createImageBitmap) return Promise.resolve(file);
    return createImageBitmap(file).then(function (bitmap) {
      var scale = Math.min(1, EDGE / Math.max(bitmap.width, bitmap.height));
      if (scale === 1 && file.size < 512000) return file;
      var canvas = document.createElement("canvas");
      canvas.width = Math.round(bitmap.width * scale);
      canvas.height = Math.round(bitmap.height * scale);
      canvas.getContext("2d").drawImage(bitmap, 0, 0, canvas.width, canvas.height);
      if (bitmap.close) bitmap.close();
      return new Promise(function (resolve) {
        canvas.toBlob(function (blob) {
          if (!blob || blob.size >= file.size) return resolve(file);
          resolve(new File([blob], file.name.replace(/\.[^.]*$/, "") + ".jpg", { type: "image/jpeg" }));
        }, "image/jpeg", QUALITY);
      });
    }).catch(function () { return file; });  // not decodable here: the server says what is wrong
  }
  function swapIn(input, file) {
    try {
      var dt = new DataTransfer();
      dt.items.add(file);
      input.files = dt.files;
      return true;
    } catch (err) { return false; }
  }
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("form input[type=file]") || !input.files || !input.files[0]) return;
    var form = input.form;
    var original = input.files[0];
    var max = parseInt(input.getAttribute("data-max-bytes"), 10) || 0;
    showError(input, "");
    say(form, "Mengecilkan foto…");
    var job = shrink(original).then(function (file) {
      if (file !== original && !swapIn(input, file)) file = original;
      if (max && file.size > max) {
        showError(input, "Foto terlalu besar (" + kb(file.size) + "). Batasnya " + kb(max) + ". Pilih foto lain atau kecilkan resolusi kamera.");
        input.value = "";
        say(form, "");
        return;
      }
      say(form, file === original ? "" : "Foto dikecilkan: " + kb(original.size) + " → " + kb(file.size) + ".");
    });
    busy.push(job);
  });
  // Resolves when every photo chosen so far has been made small.
  function ready() {
    var jobs = busy;
    busy = [];
    return Promise.all(jobs);
  }

  function target(form, doc) {
    var sel = form.getAttribute("data-upload");
    var here = sel && document.querySelector(sel);
    var there = sel && doc.querySelector(sel);
    if (here && there) return [here, there];
    return [document.querySelector("main"), doc.querySelector("main")];
  }
  function shown(form, xhr) {
    var doc = new DOMParser().parseFromString(xhr.responseText, "text/html");
    var url = new URL(xhr.responseURL || form.action, location.href);
    var pair = target(form, doc);
    if (!pair[0] || !pair[1]) { location.assign(url.href); return; }
    pair[0].innerHTML = pair[1].innerHTML;
    if (doc.title) document.title = doc.title;
    if (url.href !== location.href) history.pushState(null, "", url.href);
    window.scrollTo(0, 0);
    var focus = pair[0].querySelector("[role=alert], h1");
    if (focus) { focus.setAttribute("tabindex", "-1"); focus.focus({ preventScroll: true }); }
    document.dispatchEvent(new CustomEvent("balai:swapped", { detail: { root: pair[0] } }));
  }
  function send(form, submitter) {
    var data = new FormData(form);
    if (submitter && submitter.name) data.append(submitter.name, submitter.value);
    var p = parts(form);
    var button = submitter || form.querySelector("button");
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.onprogress = function (e) {
      if (!e.lengthComputable) return;
      var pct = Math.round((e.loaded / e.total) * 100);
      if (p.bar) p.bar.value = pct;
      say(form, "Mengirim… " + pct + "% (" + kb(e.loaded) + " dari " + kb(e.total) + ")");
    };
    xhr.onload = function () { shown(form, xhr); };
    xhr.onerror = xhr.ontimeout = function () {
      if (p.bar) p.bar.hidden = true;
      if (button) button.disabled = false;
      say(form, "Koneksi terputus. Isian Anda masih ada; tekan tombol lagi untuk mencoba.");
      form.dispatchEvent(new CustomEvent("balai:send-error", { bubbles: true, detail: { submitter: submitter } }));
    };
    if (p.bar) { p.bar.hidden = false; p.bar.value = 0; }
    if (button) button.disabled = true;
    say(form, "Mengirim…");
    xhr.send(data);
  }
  // A form without its own bar (the BUMDes product form) gets one next to its button.
  function withBar(form, submitter) {
    if (form.querySelector("progress.upload")) return;
    var bar = document.createElement("progress");
    bar.className = "upload";
    bar.max = 100;
    bar.hidden = true;
    var note = document.createElement("p");
    note.className = "upload-status";
    note.setAttribute("role", "status");
    var anchor = (submitter && submitter.closest(".actions")) || submitter || form.lastElementChild;
    anchor.parentNode.insertBefore(bar, anchor);
    anchor.parentNode.insertBefore(note, anchor);
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (e.defaultPrevented || form.hasAttribute("hx-post") || form.enctype !== "multipart/form-data") return;
    var files = Array.prototype.some.call(form.querySelectorAll("input[type=file]"), function (i) { return i.files && i.files.length; });
    if (!files || !window.FormData || !window.DOMParser) return;
    e.preventDefault();
    withBar(form, e.submitter);
    var submitter = e.submitter;
    ready().then(function () { send(form, submitter); });
  });

  // htmx forms (hx-post): the same bar from htmx's own upload events.
  function htmxForm(e) { return e.target.closest && e.target.closest("form"); }
  document.addEventListener("htmx:xhr:progress", function (e) {
    var form = htmxForm(e);
    if (!form || !e.detail.lengthComputable || !e.detail.total) return;
    var p = parts(form);
    var pct = Math.round((e.detail.loaded / e.detail.total) * 100);
    if (p.bar) { p.bar.hidden = false; p.bar.value = pct; }
    say(form, "Mengirim… " + pct + "%");
  });
  return { ready: ready };
})();
