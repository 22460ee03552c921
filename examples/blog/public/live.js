// New posts appear without a reload: lists marked data-live-posts get each post the
// server announces on /live/posts (Server-Sent Events). Without JavaScript, or where
// /live/posts does not exist (a static export), the pages stay as rendered.
// With client navigation (nexpress client.js) the page changes without a reload:
// the stream opens the first time a page with such a list is shown.
(function () {
  "use strict";
  if (!window.EventSource) return;
  var source = null;

  function truncate(text, length) {
    return text.length <= length ? text : text.slice(0, length - 3) + "...";
  }

  function entry(list, post) {
    var link = document.createElement("a");
    link.href = "/blog/" + encodeURIComponent(post.slug);
    link.textContent = post.title; // text, never HTML: a title cannot inject markup
    var item;
    if (list.dataset.livePosts === "articles") {
      item = document.createElement("article");
      var heading = document.createElement("h2");
      heading.appendChild(link);
      var excerpt = document.createElement("p");
      excerpt.textContent = truncate(post.body || "", 120);
      item.appendChild(heading);
      item.appendChild(excerpt);
    } else {
      item = document.createElement("li");
      item.appendChild(link);
    }
    item.dataset.slug = post.slug;
    item.className = "live-new";
    return item;
  }

  function received(event) {
    var post = JSON.parse(event.data);
    document.querySelectorAll("[data-live-posts]").forEach(function (list) {
      var known = Array.prototype.some.call(list.children, function (child) {
        return child.dataset.slug === post.slug;
      });
      if (known) return;
      var empty = list.querySelector("p:only-child");
      if (empty) empty.remove(); // "No posts yet."
      list.insertBefore(entry(list, post), list.firstElementChild);
      var limit = parseInt(list.dataset.limit || "0", 10);
      while (limit && list.children.length > limit) list.lastElementChild.remove();
    });
  }

  function listen() {
    if (source || !document.querySelector("[data-live-posts]")) return;
    source = new EventSource("/live/posts");
    source.addEventListener("post", received);
  }

  listen();
  document.addEventListener("nexpress:load", listen);
})();
