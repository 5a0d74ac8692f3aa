// Registers the service worker; the rest of the pages work without this file.
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
