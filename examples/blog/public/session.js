// Who is signed in, in the nav of every page. The layout is the same HTML for every
// visitor (the home and post pages are ISR, cached once for everyone), so it cannot
// hold the user: the browser asks /api/auth/session (private, no-store) and fills the
// badge. Signed out, without JavaScript or without a server (a static export), the
// nav keeps its "Sign in" link.
(function () {
  "use strict";
  var session = null; // one request per page load, shared by client navigations

  function show(badge, data) {
    var user = data && data.user;
    if (!user) return;
    var name = document.createElement("strong");
    name.textContent = user.name || user.email || "you"; // text, never HTML
    var out = document.createElement("a");
    out.href = "/api/auth/signout";
    out.textContent = "Sign out";
    out.setAttribute("data-prefetch", "false");
    badge.replaceChildren("Signed in as ", name, " · ", out);
  }

  function fill() {
    var badges = document.querySelectorAll("[data-session]:not([data-session-done])");
    if (!badges.length) return;
    session = session || fetch("/api/auth/session", { headers: { accept: "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .catch(function () { return null; });
    session.then(function (data) {
      badges.forEach(function (badge) {
        badge.setAttribute("data-session-done", "");
        show(badge, data);
      });
    });
  }

  fill();
  document.addEventListener("nexpress:load", fill);
})();
