// Balai service worker. Static files (fingerprinted, never changing) come from the cache; pages
// come from the network first, else from the cache, else the offline page. The last-seen copies
// of /saya and of each /lacak/<code> page are kept for use without signal, never a page the server
// marks no-store (everything rendered for a signed-in official), and all of them are dropped when
// someone logs out. Request forms saved offline as drafts (static/js/offline.js, imported here)
// are posted when the network returns.
importScripts("{{ asset('js/offline.js') }}");

const SHELL = [
  "/offline",
  "{{ asset('css/balai.css') }}",
  "{{ asset('vendor/htmx.min.js') }}",
  "{{ asset('js/balai.js') }}",
  "{{ asset('js/mine.js') }}",
  "{{ asset('js/offline.js') }}",
  "{{ asset('icons/icon.svg') }}",
  "{{ asset('icons/icon-192.png') }}",
];
// A new list of fingerprinted files is a new version: its cache replaces the old one.
const VERSION = "balai-{{ version }}-" + SHELL.join("|").split("").reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 7);
// Pages the resident saw, kept across versions (they are data, not code). Renamed once so that
// activation drops copies an older worker kept of pages rendered for officials.
const PAGES = "balai-pages-2";
const KEPT_PAGE = /^\/(saya|lacak\/[A-Za-z0-9-]+)$/;
const MAX_PAGES = 30;

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(VERSION)
      .then((cache) => cache.addAll(SHELL))
      .then(() => keepPage(new Request("/saya")).catch(() => undefined))
      .then(() => self.skipWaiting())
  );
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== VERSION && k !== PAGES).map((k) => caches.delete(k))))
      .then(() => self.clients.claim())
  );
});

function keepPage(request, response) {
  const got = response ? Promise.resolve(response) : fetch(request, { credentials: "same-origin" });
  return got.then((res) => {
    if (!res.ok || res.redirected || /no-store/i.test(res.headers.get("Cache-Control") || "")) return;
    return caches.open(PAGES).then((cache) =>
      cache.put(request.url, res).then(() => cache.keys()).then((keys) => {
        // Oldest first: drop what is over the limit, but never /saya.
        const extra = keys.filter((k) => !k.url.endsWith("/saya")).slice(0, Math.max(0, keys.length - MAX_PAGES));
        return Promise.all(extra.map((k) => cache.delete(k)));
      })
    );
  });
}

// A kept page shown without signal says so, with the time it was made: its <p data-as-of hidden>
// (app/templates/_as_of.html) is shown.
function fromCache(request) {
  return caches.match(request, { ignoreVary: true }).then((hit) => {
    if (!hit) return caches.match("/offline");
    if (!/text\/html/.test(hit.headers.get("Content-Type") || "")) return hit;
    return hit.text().then((html) => new Response(html.replace(/data-as-of hidden/g, "data-as-of"), {
      status: hit.status, statusText: hit.statusText, headers: hit.headers,
    }));
  });
}

// What became of the drafts filed is kept (IndexedDB) until a page is there to tell: pages open now
// hear it at once, a page opened later asks for it when it loads (js/balai.js).
function sendDrafts() {
  return BalaiDrafts.flush().then((results) => {
    if (!results.length) return;
    const plain = results.map((r) => ({ ok: r.ok, url: r.url, status: r.status, action: r.draft.action }));
    return Promise.all([
      keepPage(new Request("/saya")).catch(() => undefined),
      BalaiDrafts.keepNews(plain).then(() => self.clients.matchAll({ type: "window" })).then((list) => {
        if (!list.length) return;
        return BalaiDrafts.takeNews().then((news) => {
          if (news.length) list.forEach((client) => client.postMessage({ type: "drafts", results: news }));
        });
      }),
    ]);
  });
}

self.addEventListener("message", (event) => {
  if (!event.data || event.data.type !== "drafts?" || !event.source) return;
  event.waitUntil(BalaiDrafts.takeNews().then((news) => {
    if (news.length) event.source.postMessage({ type: "drafts", results: news });
  }));
});

self.addEventListener("sync", (event) => {
  if (event.tag === "balai-drafts") event.waitUntil(sendDrafts());
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.method === "POST" && url.pathname === "{{ url_for('auth.logout') }}") {
    // Whoever uses the phone next must not find pages seen in this session.
    event.waitUntil(caches.delete(PAGES));
    return;
  }
  if (request.method !== "GET") return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(
      caches.match(request).then((hit) => hit || fetch(request).then((response) => {
        if (response.ok && url.searchParams.has("v")) {
          const copy = response.clone();
          caches.open(VERSION).then((cache) => cache.put(request, copy));
        }
        return response;
      }))
    );
    return;
  }
  if (request.mode === "navigate") {
    const kept = KEPT_PAGE.test(url.pathname) && !url.search;
    const answer = fetch(request).then((response) => {
      if (kept) event.waitUntil(keepPage(request, response.clone()).catch(() => undefined));
      // The network is back: this is the "next time the app opens" for drafts left waiting.
      event.waitUntil(sendDrafts().catch(() => undefined));
      return response;
    }, () => fromCache(request));
    event.respondWith(answer);
  }
});

// --- push (notifications) ---
// Web Push (notifications area): show the message; a newer one with the same tag replaces it.
self.addEventListener("push", (event) => {
  let data = {};
  try {
    data = event.data ? event.data.json() : {};
  } catch (e) {
    data = { body: event.data ? event.data.text() : "" };
  }
  const url = typeof data.url === "string" && data.url.startsWith("/") ? data.url : "/";
  event.waitUntil(
    self.registration.showNotification(data.title || "Balai", {
      body: data.body || "",
      tag: data.tag || undefined,
      renotify: Boolean(data.tag),
      icon: "{{ asset('icons/icon-192.png') }}",
      data: { url: url },
    })
  );
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const url = (event.notification.data && event.notification.data.url) || "/";
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((list) => {
      for (const client of list) {
        if (new URL(client.url).pathname === url && "focus" in client) return client.focus();
      }
      return self.clients.openWindow(url);
    })
  );
});
