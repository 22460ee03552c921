// nexpress client: link clicks and action forms without full reloads, prefetch on
// hover and in view, history with scroll, data-live forms, data-keep, aria-current.
// Plain JavaScript, no build step. Anything unexpected (an error, a non-HTML answer)
// falls back to what the browser does.
// Wire format: docs/actions.md and nexpress/pages/navigation.py.
(function () {
  "use strict";
  var w = window, d = document, loc = location, hist = history;
  if (w.__nexpress || !w.fetch || !hist.pushState || !w.DOMParser || !w.Map || !w.Set) return;
  w.nexpress = w.__nexpress = { version: 1, navigate: function (url, o) {
    var push = !(o && o.replace);
    if (push) remember();
    return visit(url, push);
  } };

  var NAV = "x-nexpress-nav";
  var COOKIE = "x-nexpress-set-cookie"; // the server's word that an answer set cookies
  var TTL = 30000; // a prefetched page is used for 30 s
  var WAIT = 3000; // a navigation waits at most this long for prefetches in flight
  var MARK = /^nx:([0-9a-f]{8}):([0-9a-f]{8})$/;
  var prefetched = new Map(); // url -> {at, p}
  var snapshots = new Map(); // history key -> {head, body, x, y}
  var key = newKey();
  var shown = here();
  var busy = 0;
  // Cookies and prefetch: an answer is rendered for the cookies its request carried.
  // A sign-in page sets a CSRF cookie and a form with its token; two such answers
  // fetched at once (two links to it in view) each set their own, and the browser
  // keeps the last. So an answer is shown only if no other answer changed cookies
  // since it was asked for, and a navigation first lets the prefetches in flight land.
  var jar = 0; // answers seen that set cookies
  var inflight = new Set(); // prefetches not answered yet

  function newKey() { return Math.random().toString(36).slice(2); }
  function here() { return loc.pathname + loc.search; }
  function strip(url) { var u = new URL(url, loc.href); u.hash = ""; return u.href; }
  function setState(push, url) {
    var state = { nx: key };
    if (push) hist.pushState(state, "", url); else hist.replaceState(state, "", url);
    shown = here();
  }
  hist.scrollRestoration = "manual";
  setState(false, loc.href);

  // --- layout markers: what the server may leave out of its answer ---------------
  function comments(root) {
    var walker = d.createTreeWalker(root, NodeFilter.SHOW_COMMENT), out = [], node;
    while ((node = walker.nextNode())) out.push(node);
    return out;
  }
  function chain() {
    var out = [];
    comments(d.body).forEach(function (c) {
      var m = MARK.exec(c.data);
      if (m) out.push(m[1] + ":" + m[2]);
    });
    return out.join(",");
  }
  function slot(id) {
    var start = null, end = null;
    comments(d.body).forEach(function (c) {
      if (!start && c.data.indexOf("nx:" + id + ":") === 0) start = c;
      else if (start && !end && c.data === "/nx:" + id) end = c;
    });
    return start && end && start.parentNode === end.parentNode ? { start: start, end: end } : null;
  }

  // --- fetching pages ----------------------------------------------------------------
  function request(url, init, prefetch) {
    var headers = { accept: "text/html" };
    headers[NAV] = chain();
    if (prefetch) headers["x-nexpress-prefetch"] = "1";
    init = init || {};
    init.headers = headers;
    init.credentials = "same-origin";
    init.cache = "no-cache"; // always ask the server (a 304 is cheap): never an old page
    var sent = jar;
    return fetch(url, init).then(function (r) {
      var cookie = !!r.headers.get(COOKIE);
      if (cookie) jar++;
      var html = /^text\/html/.test(r.headers.get("content-type") || "");
      return (html ? r.text() : Promise.resolve(null)).then(function (text) {
        return { url: r.url, status: r.status, redirected: r.redirected, partial: r.headers.get("x-nexpress-partial"), html: text, sent: sent, cookie: cookie };
      });
    });
  }
  // no answer but its own has set cookies since it was asked for: its forms agree with them
  function current(r) { return jar - r.sent === (r.cookie ? 1 : 0); }
  function settle() {
    var all = [];
    inflight.forEach(function (p) { all.push(p); });
    if (!all.length) return Promise.resolve();
    return Promise.race([Promise.all(all), new Promise(function (done) { setTimeout(done, WAIT); })]);
  }
  function fresh(url) {
    var hit = prefetched.get(url);
    if (hit && Date.now() - hit.at < TTL) return hit.p;
    prefetched.delete(url);
    return null;
  }
  function prefetch(a) {
    if (!linkable(a) || a.getAttribute("data-prefetch") === "false") return;
    var url = strip(a.href);
    if (url === strip(loc.href) || fresh(url)) return;
    var p = request(url, null, true).then(function (r) { return r.status === 200 && r.html ? r : null; }, function () { return null; });
    var hit = { at: Date.now(), p: p };
    inflight.add(p);
    p.then(function () { inflight.delete(p); hit.done = true; });
    prefetched.set(url, hit);
  }

  // --- loading.html at once while a page is fetched (nexpress/pages/loading.py) ----------
  var loadingMeta = d.querySelector('meta[name="nexpress-loading"]'), loadings = null;
  function manifest() {
    if (!loadingMeta || loadings) return;
    loadings = [];
    fetch(loadingMeta.content, { credentials: "same-origin" }).then(function (r) { return r.ok ? r.json() : []; })
      .then(function (list) { loadings = list; }, function () {});
  }
  function showLoading(url) {
    var path = new URL(url, loc.href).pathname, hit = prefetched.get(url);
    if (!loadings || (hit && hit.done)) return; // an answer already here: no flash
    for (var i = 0; i < loadings.length; i++) {
      if (!new RegExp(loadings[i].pattern).test(path)) continue;
      var range = slot(loadings[i].layout);
      if (!range) return;
      while (range.start.nextSibling && range.start.nextSibling !== range.end) range.start.nextSibling.remove();
      range.end.parentNode.insertBefore(d.createRange().createContextualFragment(loadings[i].html), range.end);
      return;
    }
  }

  // --- putting a page in place ---------------------------------------------------------
  function runnable(old) {
    if (old.tagName !== "SCRIPT") return d.importNode(old, true);
    var s = d.createElement("script");
    for (var i = 0; i < old.attributes.length; i++) s.setAttribute(old.attributes[i].name, old.attributes[i].value);
    s.textContent = old.textContent;
    s.async = false;
    return s;
  }
  function runScripts(nodes) {
    nodes.forEach(function (n) {
      if (n.nodeType !== 1) return;
      var found = n.tagName === "SCRIPT" ? [n] : Array.prototype.slice.call(n.querySelectorAll("script"));
      found.forEach(function (s) {
        if (!s.hasAttribute("data-nexpress-client")) s.parentNode.replaceChild(runnable(s), s);
      });
    });
  }
  function mergeHead(next) {
    var old = Array.prototype.slice.call(d.head.children), keep = new Set(), waits = [];
    var have = new Map(old.map(function (el) { return [el.outerHTML, el]; }));
    Array.prototype.forEach.call(next.children, function (el) {
      if (el.tagName === "TITLE") return;
      var same = have.get(el.outerHTML);
      if (same) return keep.add(same);
      var added = runnable(el);
      if (added.tagName === "LINK" && /stylesheet/i.test(added.rel)) {
        waits.push(new Promise(function (done) { added.onload = added.onerror = done; setTimeout(done, 2000); }));
      }
      d.head.appendChild(added);
    });
    return Promise.all(waits).then(function () {
      old.forEach(function (el) { if (!keep.has(el) && el.tagName !== "TITLE") el.remove(); });
      var title = next.querySelector("title");
      if (title) d.title = title.textContent;
    });
  }
  // data-keep, and a live form's focused field, survive a swap
  function keepers(live) {
    var out = [], a = d.activeElement, f = live && a && a.form;
    d.querySelectorAll("[data-keep][id]").forEach(function (el) { out.push(["#" + CSS.escape(el.id), el]); });
    if (f && (a.id || a.name)) out.push([a.id ? "#" + CSS.escape(a.id) : "form[data-live] [name=\"" + CSS.escape(a.name) + "\"]", a]);
    return out;
  }
  function render(r, live) {
    var next = new DOMParser().parseFromString(r.html, "text/html");
    var part = r.partial ? next.querySelector("template[data-nexpress-partial]") : null;
    var range = part ? slot(part.getAttribute("data-nexpress-partial")) : null;
    if (r.partial && !range) return Promise.reject(new Error("stale partial"));
    var lang = next.documentElement.getAttribute("lang");
    if (lang && lang !== d.documentElement.lang) d.documentElement.lang = lang;
    return mergeHead(next.head).then(function () {
      var kept = keepers(live), f = d.activeElement, sel, nodes;
      try { sel = [f.selectionStart, f.selectionEnd]; } catch (e) { /* no caret */ }
      if (range) {
        while (range.start.nextSibling && range.start.nextSibling !== range.end) range.start.nextSibling.remove();
        var content = d.importNode(part.content, true);
        nodes = Array.prototype.slice.call(content.childNodes);
        range.end.parentNode.insertBefore(content, range.end);
      } else {
        var body = d.adoptNode(next.body);
        d.body.replaceWith(body);
        nodes = [body];
      }
      kept.forEach(function (k) {
        var n = d.querySelector(k[0]);
        if (n && n !== k[1]) n.replaceWith(k[1]);
      });
      if (f && f !== d.activeElement && f.isConnected && kept.some(function (k) { return k[1].contains(f); })) {
        f.focus({ preventScroll: true });
        try { f.setSelectionRange(sel[0], sel[1]); } catch (e) { /* no caret */ }
      }
      runScripts(nodes);
    });
  }
  // aria-current: nexpress/pages/links.py's rule
  function trim(p) { return p.replace(/\/+$/, "") || "/"; }
  function mark() {
    var p = trim(loc.pathname);
    d.querySelectorAll("a[href]").forEach(function (a) {
      var was = a.getAttribute("aria-current"), u = new URL(a.href), q = trim(u.pathname);
      if (was && was !== "page") return;
      if (u.origin === loc.origin && (q === p || a.getAttribute("data-current") === "prefix" && p.indexOf(q === "/" ? q : q + "/") === 0) && (!u.search || u.search === loc.search)) a.setAttribute("aria-current", "page");
      else if (was) a.removeAttribute("aria-current");
    });
  }
  function loaded() {
    mark();
    observe();
    (w.requestIdleCallback || setTimeout)(manifest);
    d.dispatchEvent(new CustomEvent("nexpress:load", { detail: { url: loc.href } }));
  }
  function focusPage() {
    var el = d.querySelector("[autofocus]") || d.querySelector("main h1, h1");
    if (!el) return;
    if (!el.hasAttribute("tabindex") && !/^(A|BUTTON|INPUT|SELECT|TEXTAREA)$/.test(el.tagName)) el.setAttribute("tabindex", "-1");
    el.focus({ preventScroll: true });
  }
  function scrollTo(hash, x, y) {
    var target = hash && d.getElementById(decodeURIComponent(hash.slice(1)));
    if (target) target.scrollIntoView();
    else w.scrollTo(x || 0, y || 0);
  }
  function remember() {
    snapshots.set(key, { head: d.head.cloneNode(true), body: d.body.cloneNode(true), x: w.scrollX, y: w.scrollY });
    if (snapshots.size > 20) snapshots.delete(snapshots.keys().next().value);
  }
  function full(url) { loc.href = url; }

  // --- navigating ----------------------------------------------------------------------
  function visit(url, push, live) {
    var target = new URL(url, loc.href), token = ++busy, clean = strip(url);
    var page = settle().then(function () { return fresh(clean); }).then(function (r) {
      return r && current(r) && (!r.partial || slot(r.partial)) ? r : request(clean);
    }).then(function (r) {
      return current(r) ? r : settle().then(function () { return request(clean); }); // cookies changed meanwhile
    });
    d.documentElement.setAttribute("aria-busy", "true");
    showLoading(clean);
    return page.then(function (r) {
      if (token !== busy) return;
      if (r.status !== 200 || !r.html || new URL(r.url).origin !== loc.origin) return full(url);
      return render(r, live).then(function () {
        if (push) key = newKey();
        var final = new URL(r.url);
        final.hash = target.hash;
        setState(push, final.href);
        if (!live) {
          scrollTo(target.hash);
          focusPage();
        }
        loaded();
      });
    }).catch(function () { full(url); }).then(function () {
      if (token === busy) d.documentElement.removeAttribute("aria-busy");
    });
  }
  function linkable(a) {
    if (!a || !a.href || a.hasAttribute("download") || a.getAttribute("data-nexpress") === "false") return false;
    if ((a.target && a.target !== "_self") || /(^|\s)external(\s|$)/i.test(a.getAttribute("rel") || "")) return false;
    var u = new URL(a.href, loc.href);
    if (u.origin !== loc.origin || (u.hash && u.pathname + u.search === here())) return false;
    var ext = /\.([a-z0-9]{1,5})$/i.exec(u.pathname); // /feed.json, /style.css: not pages
    return !ext || /^html?$/i.test(ext[1]);
  }
  d.addEventListener("click", function (e) {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    var a = e.target.closest && e.target.closest("a[href]");
    if (!linkable(a)) return;
    e.preventDefault();
    // a link to the very page shown replaces its history entry, as browsers do
    var same = strip(a.href) === strip(loc.href);
    if (!same) remember();
    visit(a.href, !same);
  });
  w.addEventListener("popstate", function (e) {
    var state = e.state;
    if (here() === shown && !(state && state.nx && state.nx !== key && snapshots.has(state.nx))) {
      if (state && state.nx) key = state.nx;
      return; // a hash change on the same page: the browser scrolls
    }
    remember();
    key = state && state.nx ? state.nx : newKey();
    shown = here();
    var saved = snapshots.get(key);
    if (!saved) {
      visit(loc.href, false);
      return;
    }
    var title = saved.head.querySelector("title");
    mergeHead(saved.head).then(function () {
      d.body.replaceWith(saved.body.cloneNode(true));
      if (title) d.title = title.textContent;
      w.scrollTo(saved.x, saved.y);
      loaded();
    }).catch(function () { loc.reload(); });
  });

  // data-live forms; the form is found when the timer fires (a swap may replace it)
  var typing;
  function liveForm(el) {
    var f = el && el.form;
    return f && f.method === "get" && f.hasAttribute("data-live") ? f : null;
  }
  function goLive(f) {
    clearTimeout(typing);
    if (!f) return;
    var u = new URL(f.getAttribute("action") || loc.href, loc.href);
    u.search = new URLSearchParams(new FormData(f));
    u.hash = "";
    if (u.origin !== loc.origin) native(f);
    else if (strip(u.href) !== strip(loc.href)) visit(u.href, false, true);
  }
  d.addEventListener("input", function (e) {
    var el = e.target, f = liveForm(el), ms = f && parseInt(f.getAttribute("data-live"), 10);
    if (!f) return;
    clearTimeout(typing);
    typing = setTimeout(function () { goLive(liveForm(el)); }, ms >= 0 ? ms : 300);
  });

  // --- action forms ----------------------------------------------------------------------
  function native(form, sub) {
    form.setAttribute("data-nexpress", "false");
    if (form.requestSubmit) form.requestSubmit(sub || undefined); else form.submit();
  }
  d.addEventListener("submit", function (e) {
    var form = e.target, sub = e.submitter;
    var action = new URL((sub && sub.getAttribute("formaction")) || form.getAttribute("action") || "", loc.href);
    var method = ((sub && sub.getAttribute("formmethod")) || form.method || "get").toLowerCase();
    if (method === "get" && form.hasAttribute("data-live") && !e.defaultPrevented && form.getAttribute("data-nexpress") !== "false") {
      e.preventDefault();
      return goLive(form);
    }
    if (e.defaultPrevented || method !== "post" || form.getAttribute("data-nexpress") === "false") return;
    if (action.origin !== loc.origin || !action.searchParams.has("_action") || (form.target && form.target !== "_self")) return;
    e.preventDefault();
    var data;
    try { data = new FormData(form, sub); } catch (err) { data = new FormData(form); }
    var body = form.enctype === "multipart/form-data" ? data : new URLSearchParams(data);
    var x = w.scrollX, y = w.scrollY;
    remember();
    form.setAttribute("aria-busy", "true");
    request(action.href, { method: "POST", body: body }).then(function (r) {
      prefetched.clear(); // the action may have changed any page
      form.removeAttribute("aria-busy");
      if (new URL(r.url).origin !== loc.origin || (!r.html && r.redirected)) return full(r.url);
      if (!r.html) return native(form, sub); // a file or JSON answer: let the browser show it
      return render(r.status === 200 || r.status === 422 ? r : { html: r.html }).then(function () {
        if (r.redirected) {
          key = newKey();
          setState(true, r.url);
          scrollTo(new URL(r.url).hash);
          focusPage();
        } else {
          w.scrollTo(x, y);
          var first = d.querySelector("[aria-invalid=true], [autofocus]");
          if (first) first.focus({ preventScroll: true });
        }
        loaded();
      });
    }).catch(function () {
      form.removeAttribute("aria-busy");
      native(form, sub);
    });
  });

  // --- prefetch: hover, touch, and links in view ----------------------------------------------
  function onPoint(e) {
    var a = e.target.closest && e.target.closest("a[href]");
    if (a) prefetch(a);
  }
  d.addEventListener("mouseover", onPoint, { passive: true });
  d.addEventListener("touchstart", onPoint, { passive: true });
  d.addEventListener("focusin", onPoint, { passive: true });
  var saveData = navigator.connection && navigator.connection.saveData;
  var io = w.IntersectionObserver && !saveData ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;
      io.unobserve(entry.target);
      (w.requestIdleCallback || setTimeout)(function () { prefetch(entry.target); });
    });
  }) : null;
  function observe() {
    if (!io) return;
    io.disconnect();
    d.querySelectorAll("a[href]").forEach(function (a) {
      var mode = a.getAttribute("data-prefetch");
      if (mode !== "false" && mode !== "hover" && linkable(a)) io.observe(a);
    });
  }
  if (d.readyState === "loading") d.addEventListener("DOMContentLoaded", loaded);
  else loaded();
})();
