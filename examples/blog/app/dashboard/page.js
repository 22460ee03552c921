// Only on /dashboard (a route asset): suggest a slug from the title as you type.
(function () {
  "use strict";
  function slugify(text) {
    return text.toLowerCase().normalize("NFKD").replace(/[^a-z0-9]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 80);
  }
  function wire() {
    var form = document.querySelector(".post-form");
    if (!form || form.dataset.wired) return;
    form.dataset.wired = "1";
    var title = form.elements.title, slug = form.elements.slug;
    var touched = slug.value !== "";
    slug.addEventListener("input", function () { touched = slug.value !== ""; });
    title.addEventListener("input", function () { if (!touched) slug.value = slugify(title.value); });
  }
  wire();
  document.addEventListener("nexpress:load", wire);
})();
