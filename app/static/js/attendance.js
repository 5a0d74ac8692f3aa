// Location proof for the check-in button, and "use this phone's location" on the attendance settings.
// The browser's Geolocation API is asked only when the official taps; the server gets latitude,
// longitude and accuracy once, checks the distance to the balai and keeps only yes or no.
(function () {
  "use strict";
  function locate(done) {
    if (!("geolocation" in navigator)) { done(null, "unavailable"); return; }
    navigator.geolocation.getCurrentPosition(
      function (p) { done(p.coords, ""); },
      function (e) { done(null, e.code === 1 ? "denied" : "unavailable"); },
      { enableHighAccuracy: true, timeout: 20000, maximumAge: 0 }
    );
  }
  function waiting(root) {
    var status = root.querySelector("[data-geo-status]");
    if (status) status.textContent = status.getAttribute("data-wait");
  }
  document.addEventListener("submit", function (e) {
    var form = e.target;
    if (!form.hasAttribute("data-geo") || form.hasAttribute("data-geo-done")) return;
    e.preventDefault();
    waiting(form);
    locate(function (c, err) {
      if (c) {
        form.elements.lat.value = c.latitude;
        form.elements.lon.value = c.longitude;
        form.elements.acc.value = c.accuracy;
      }
      form.elements.geo_error.value = err;
      form.setAttribute("data-geo-done", "");
      form.submit();
    });
  });
  document.addEventListener("DOMContentLoaded", function () {
    var button = document.querySelector("[data-geo-fill]");
    if (!button || !("geolocation" in navigator)) return;
    button.hidden = false;
    button.addEventListener("click", function () {
      var form = button.form;
      waiting(form);
      locate(function (c) {
        var status = form.querySelector("[data-geo-status]");
        if (!c) { if (status) status.textContent = ""; return; }
        form.elements.latitude.value = c.latitude.toFixed(6);
        form.elements.longitude.value = c.longitude.toFixed(6);
        if (status) status.textContent = "";
      });
    });
  });
})();
