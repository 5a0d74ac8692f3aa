// Upload progress for forms with photos (slow 3G!). Without this file the forms post normally.
// htmx sends these forms with XMLHttpRequest; its xhr:progress events carry the upload's bytes.
(function () {
  "use strict";
  function parts(form) {
    return { bar: form.querySelector("progress.upload"), note: form.querySelector(".upload-status") };
  }
  function say(form, text) {
    var p = parts(form);
    if (p.note) p.note.textContent = text;
  }
  function tooBig(input) {
    var max = parseInt(input.getAttribute("data-max-bytes"), 10);
    var file = input.files && input.files[0];
    return max && file && file.size > max;
  }
  function showError(input, text) {
    var box = document.getElementById(input.id + "-err");
    if (!box) return;
    box.textContent = text;
    box.hidden = !text;
    input.setAttribute("aria-invalid", text ? "true" : "false");
  }
  // Refuse an oversized photo before spending minutes uploading it.
  document.addEventListener("change", function (e) {
    var input = e.target;
    if (!input.matches || !input.matches("form[data-upload] input[type=file]")) return;
    if (tooBig(input)) {
      var mb = Math.round(parseInt(input.getAttribute("data-max-bytes"), 10) / 1048576);
      showError(input, "Foto terlalu besar (batas " + mb + " MB). Pilih foto lain atau kecilkan resolusi kamera.");
      input.value = "";
    } else {
      showError(input, "");
    }
  });
  document.addEventListener("htmx:xhr:loadstart", function (e) {
    var form = e.target.closest && e.target.closest("form[data-upload]");
    if (!form) return;
    var p = parts(form);
    if (p.bar) { p.bar.hidden = false; p.bar.value = 0; }
    say(form, "Mengirim…");
    var button = form.querySelector("button");
    if (button) button.disabled = true;
  });
  document.addEventListener("htmx:xhr:progress", function (e) {
    var form = e.target.closest && e.target.closest("form[data-upload]");
    if (!form || !e.detail.lengthComputable || !e.detail.total) return;
    var pct = Math.round((e.detail.loaded / e.detail.total) * 100);
    var p = parts(form);
    if (p.bar) p.bar.value = pct;
    say(form, "Mengirim… " + pct + "%");
  });
  function failed(e) {
    var form = e.target.closest && e.target.closest("form[data-upload]");
    if (!form) return;
    var p = parts(form);
    if (p.bar) p.bar.hidden = true;
    var button = form.querySelector("button");
    if (button) button.disabled = false;
    say(form, "Koneksi terputus. Isian Anda masih ada; tekan tombol lagi untuk mencoba.");
  }
  document.addEventListener("htmx:sendError", failed);
  document.addEventListener("htmx:timeout", failed);
  document.addEventListener("htmx:responseError", failed);
})();
