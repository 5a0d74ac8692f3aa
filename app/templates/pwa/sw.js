// Balai service worker: the shell and static files from cache, pages from the network first,
// the offline page when there is no network.
const VERSION = "balai-{{ version }}";
const SHELL = [
  "/offline",
  "{{ asset('css/balai.css') }}",
  "{{ asset('vendor/htmx.min.js') }}",
  "{{ asset('js/balai.js') }}",
  "{{ asset('icons/icon.svg') }}",
  "{{ asset('icons/icon-192.png') }}",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(VERSION).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== VERSION).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(
      caches.match(request).then((hit) => hit || fetch(request).then((response) => {
        if (response.ok) {
          const copy = response.clone();
          caches.open(VERSION).then((cache) => cache.put(request, copy));
        }
        return response;
      }))
    );
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request).catch(() => caches.match(request).then((hit) => hit || caches.match("/offline")))
    );
  }
});
