// Registers the service worker; the rest of the pages work without this file.
// Words for people with JavaScript ("this page updates itself") are shown only to them.
document.addEventListener("DOMContentLoaded", function () {
  Array.prototype.forEach.call(document.querySelectorAll("[data-js-only]"), function (el) { el.hidden = false; });
});
window.addEventListener("online", function () {
  Array.prototype.forEach.call(document.querySelectorAll("[data-as-of]"), function (el) { el.hidden = true; });
});
if ("serviceWorker" in navigator) {
  window.addEventListener("load", function () {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () {});
  });
}
// Pictures marked data-src (catalogue cards below the first screen) load only when the phone scrolls
// near them: the browser's own lazy loading fetches everything within 2-3 screens, paid data a
// resident may never look at. Without JavaScript the <noscript> copy loads them the usual way.
(function () {
  function show(img) { img.loading = "lazy"; img.src = img.getAttribute("data-src"); img.removeAttribute("data-src"); }
  var seen = "IntersectionObserver" in window && new IntersectionObserver(function (entries) {
    entries.forEach(function (e) { if (e.isIntersecting) { seen.unobserve(e.target); show(e.target); } });
  }, { rootMargin: "300px 0px" });
  function scan(root) {
    Array.prototype.forEach.call((root || document).querySelectorAll("img[data-src]"), function (img) {
      if (seen) seen.observe(img); else show(img);
    });
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", function () { scan(); });
  else scan();
  document.addEventListener("htmx:load", function (e) { scan(e.target); });
})();
// Back to a page that says what was already done ("Anda sudah memesan…", a form's error summary): the
// browser restores the old scroll position, which may hide it; bring the marked element into view.
window.addEventListener("pageshow", function () {
  var el = document.querySelector("[autofocus][tabindex='-1']");
  if (el) setTimeout(function () { el.focus(); el.scrollIntoView({ block: "nearest" }); }, 0);
});

// A request kept offline (js/offline.js) that the service worker filed once the signal returned,
// perhaps after the app was closed: said on whatever page is open, with its receipt.
if ("serviceWorker" in navigator) {
  navigator.serviceWorker.addEventListener("message", function (e) {
    if (!e.data || e.data.type !== "drafts") return;
    e.data.results.forEach(function (r) {
      var box = document.getElementById("draft-note") || document.createElement("p");
      box.id = "draft-note";
      box.className = "flash";
      box.setAttribute("role", "status");
      box.textContent = r.ok ? "Permohonan yang tersimpan sudah terkirim. " : "Permohonan yang tersimpan belum bisa dikirim: ada isian yang perlu diperbaiki. ";
      var a = document.createElement("a");
      a.href = r.ok ? r.url : r.action;
      a.textContent = r.ok ? "Lihat tanda terima" : "Buka formulirnya";
      box.appendChild(a);
      if (!box.parentNode) { var main = document.querySelector("main") || document.body; main.insertBefore(box, main.firstChild); }
      var m = r.ok && /\/(?:tanda-terima|lacak)\/([^/?#]+)/.exec(r.url);
      if (m) {  // "Permohonan saya" lists it from this phone's storage too (js/mine.js)
        try {
          var codes = JSON.parse(localStorage.getItem("balai.codes") || "[]").filter(function (c) { return c !== m[1]; });
          localStorage.setItem("balai.codes", JSON.stringify([m[1]].concat(codes).slice(0, 20)));
        } catch (err) { /* private mode: the server's session still lists it */ }
      }
    });
  });
  // Filed while no page was open (the signal came back with the app closed): ask when this page loads.
  if (navigator.serviceWorker.controller) navigator.serviceWorker.controller.postMessage({ type: "drafts?" });
}
