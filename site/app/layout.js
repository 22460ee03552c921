// The docs site's search: /search.json (built with the pages by nexpress build,
// written as a file by nexpress export) searched in the browser; no service. The
// index URL comes from the <link title="search index"> in the layout, so the site
// works under any base path; result URLs in it are relative to that file.
(function () {
  "use strict";
  var d = document, loaded = null, LIMIT = 8;

  function load() {
    if (!loaded) {
      var link = d.querySelector('link[title="search index"]');
      var url = link ? link.href : new URL("/search.json", location.href).href;
      loaded = fetch(url).then(function (r) { return r.json(); }).then(function (rows) {
        return rows.map(function (row) {
          return { url: new URL(row.u, url).href, page: row.p, heading: row.h, text: row.t, lower: row.t.toLowerCase(), head: (row.p + " " + row.h).toLowerCase() };
        });
      });
      loaded.catch(function () { loaded = null; });
    }
    return loaded;
  }

  function count(text, term) {
    var n = 0, at = text.indexOf(term);
    while (at !== -1 && n < 20) { n++; at = text.indexOf(term, at + term.length); }
    return n;
  }

  // every term must appear; headings and page titles weigh more than body text
  function search(rows, query) {
    var terms = query.toLowerCase().split(/\s+/).filter(Boolean);
    if (!terms.length) return [];
    var found = [];
    rows.forEach(function (row) {
      var score = 0;
      for (var i = 0; i < terms.length; i++) {
        var inBody = count(row.lower, terms[i]), inHead = count(row.head, terms[i]);
        if (!inBody && !inHead) return;
        score += inBody + 10 * inHead;
      }
      found.push({ row: row, score: score });
    });
    found.sort(function (a, b) { return b.score - a.score; });
    return found.slice(0, LIMIT).map(function (f) { return f.row; });
  }

  function snippet(row, query) {
    var term = query.toLowerCase().split(/\s+/).filter(Boolean)[0] || "";
    var at = Math.max(0, row.lower.indexOf(term));
    var start = Math.max(0, at - 60);
    return (start ? "…" : "") + row.text.slice(start, at + 100).replace(/\s+/g, " ") + "…";
  }

  function show(list, rows, query) {
    list.replaceChildren();
    if (!rows.length) {
      var none = d.createElement("li");
      none.className = "empty";
      none.textContent = "Nothing found for “" + query + "”";
      list.append(none);
    }
    rows.forEach(function (row) {
      var li = d.createElement("li"), a = d.createElement("a"), title = d.createElement("strong"), text = d.createElement("span");
      a.href = row.url;
      title.textContent = row.heading ? row.page + " › " + row.heading : row.page; // text, never HTML
      text.textContent = snippet(row, query);
      a.append(title, text);
      li.append(a);
      list.append(li);
    });
    list.hidden = false;
  }

  function bind() {
    var input = d.getElementById("search"), list = d.getElementById("search-results");
    if (!input || !list || input.hasAttribute("data-bound")) return;
    input.setAttribute("data-bound", "");
    var asked = 0;
    input.addEventListener("focus", load);
    input.addEventListener("input", function () {
      var query = input.value.trim(), mine = ++asked;
      if (!query) { list.hidden = true; return; }
      load().then(function (rows) { if (mine === asked) show(list, search(rows, query), query); });
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Escape") { list.hidden = true; input.blur(); }
      if (e.key === "Enter") { var first = list.querySelector("a"); if (first) first.click(); }
    });
    list.addEventListener("click", function (e) {
      if (e.target.closest("a")) { list.hidden = true; input.value = ""; }
    });
  }

  bind();
  d.addEventListener("nexpress:load", bind);
})();
