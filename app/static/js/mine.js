// "Permohonan saya": the tracking codes this phone sent, kept in localStorage (no account),
// with their statuses fetched in one request. Also keeps polled pages from blanking on 304.
(function () {
  "use strict";
  var KEY = "balai.codes";
  var MAX = 20;
  function load() {
    try {
      var list = JSON.parse(localStorage.getItem(KEY) || "[]");
      return Array.isArray(list) ? list.filter(function (c) { return typeof c === "string"; }) : [];
    } catch (err) {
      return [];
    }
  }
  function save(list) {
    try { localStorage.setItem(KEY, JSON.stringify(list.slice(0, MAX))); } catch (err) { /* private mode */ }
  }
  function remember(code) {
    var list = load().filter(function (c) { return c !== code; });
    list.unshift(code);
    save(list);
  }
  // A poll answered 304 means "nothing changed": keep what is on screen.
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.xhr && e.detail.xhr.status === 304) e.detail.shouldSwap = false;
  });
  document.addEventListener("DOMContentLoaded", function () {
    var receipt = document.querySelector("[data-remember-code]");
    if (receipt) remember(receipt.getAttribute("data-remember-code"));
    var box = document.querySelector("[data-mine-list]");
    if (!box) return;
    var shown = box.querySelectorAll("[data-code]");
    for (var i = shown.length - 1; i >= 0; i--) {
      var code = shown[i].getAttribute("data-code");
      if (load().indexOf(code) === -1) remember(code);
    }
    var codes = load();
    if (!codes.length) return;
    var url = box.getAttribute("data-status-url") + "?" + codes.map(function (c) {
      return "kode=" + encodeURIComponent(c);
    }).join("&");
    var xhr = new XMLHttpRequest();
    xhr.open("GET", url);
    xhr.setRequestHeader("HX-Request", "true");
    xhr.onload = function () {
      if (xhr.status === 200) box.innerHTML = xhr.responseText;
    };
    xhr.send();
  });
})();
