// Material for MkDocs puts a <nav class="md-code__nav"> (the copy button) into every code block,
// with no name: a screen reader lists a page's code blocks as identical navigation landmarks
// (axe rule landmark-unique). Name each after its block: "Code block 3: accounts/models.py".
// Material creates the navs after the page loads and again on instant navigation, hence the observer.
(function () {
  "use strict";

  function nameCodeNavs() {
    document.querySelectorAll("nav.md-code__nav").forEach(function (nav, index) {
      var block = nav.closest(".highlight");
      var title = block && block.querySelector(".filename");
      var name = "Code block " + (index + 1) + (title ? ": " + title.textContent.trim() : "");
      if (nav.getAttribute("aria-label") !== name) {
        nav.setAttribute("aria-label", name);
      }
    });
  }

  var pending = false;
  new MutationObserver(function () {
    if (!pending) {
      pending = true;
      requestAnimationFrame(function () {
        pending = false;
        nameCodeNavs();
      });
    }
  }).observe(document.body, { childList: true, subtree: true });
  nameCodeNavs();
})();
