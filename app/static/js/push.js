// Web Push opt-in (receipt, tracking page of the phone that sent it, private page): subscribe this browser and send the subscription to Balai.
(function () {
  var box = document.querySelector("[data-push]");
  if (!box || !("serviceWorker" in navigator) || !("PushManager" in window)) return;
  var status = box.querySelector("[data-push-status]");
  var button = box.querySelector("button");
  function key(b64) {
    var s = atob((b64 + "===".slice((b64.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/"));
    var out = new Uint8Array(s.length);
    for (var i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  box.hidden = false;
  button.addEventListener("click", function () {
    button.disabled = true;
    navigator.serviceWorker.register("/sw.js", { scope: "/" })
      .then(function () { return navigator.serviceWorker.ready; })
      .then(function (reg) {
        return reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key(box.dataset.key) });
      })
      .then(function (sub) {
        var body = sub.toJSON();
        // On the private page the link is what proves this is the resident's own request.
        if (box.dataset.token) body.token = box.dataset.token;
        return fetch(box.dataset.url, {
          method: "POST",
          headers: { "Content-Type": "application/json", "X-CSRFToken": box.dataset.csrf },
          body: JSON.stringify(body),
          credentials: "same-origin",
        });
      })
      .then(function (r) { return r.json(); })
      .then(function (data) { status.textContent = data.message || data.error || ""; button.hidden = !!data.ok; })
      .catch(function () { status.textContent = box.dataset.denied || "Notifikasi tidak bisa dinyalakan."; button.disabled = false; });
  });
})();
