// Prepares a page for the Jupyter widget manager served from _static/vendor/
// (installed by tools/web/install_assets.py). myst-nb loads it, on pages that
// hold widgets, after RequireJS and before
// vendor/jupyter-widgets/html-manager/dist/embed-amd.js (see _config.yml).
(function () {
  "use strict";
  var here = document.currentScript.src.replace(/[^\/]*$/, "");

  // 1. Module URLs. Each @jupyter-widgets/* module bundled in embed-amd.js
  // (base, controls, html-manager/dist/libembed-amd, ...) computes where its
  // icon fonts are from its RequireJS module URL, which by default lies under
  // the page's own folder. Map every one of them into the folder that holds
  // embed-amd.js and the fonts. The modules themselves are already defined by
  // embed-amd.js, so RequireJS fetches nothing from these URLs.
  // RequireJS uses the longest matching prefix: "@jupyter-widgets/controls"
  // becomes <dist>/controls.js, "@jupyter-widgets/html-manager/dist/libembed-amd"
  // becomes <dist>/libembed-amd.js; all of them lie in <dist>.
  var dist = here + "vendor/jupyter-widgets/html-manager/dist";
  window.requirejs.config({
    paths: {
      "@jupyter-widgets": dist,
      "@jupyter-widgets/html-manager/dist": dist,
    },
  });

  // 2. MathJax. @jupyter-widgets/base typesets widget labels with MathJax 2's
  // API, MathJax.Hub.Queue(["Typeset", MathJax.Hub, element]); the book loads
  // MathJax 3, which has no Hub. Keep a Hub on whatever object window.MathJax
  // is (the configuration object first, then MathJax itself once it loads) and
  // hand each element to MathJax 3's typesetPromise when MathJax is ready.
  var pending = [];
  var flushing = null;

  function typesetWhenReady() {
    var mj = window.MathJax;
    if (!(mj && mj.startup && mj.startup.promise && mj.typesetPromise)) {
      if (flushing === null) {
        flushing = window.setInterval(typesetWhenReady, 100);
      }
      return;
    }
    if (flushing !== null) {
      window.clearInterval(flushing);
      flushing = null;
    }
    var elements = pending.splice(0);
    mj.startup.promise
      .then(function () { return mj.typesetPromise(elements); })
      .catch(function (err) { console.warn("kit: MathJax could not typeset a widget label", err); });
  }

  var hub = {
    Queue: function (command) {
      var element = command && command[2];
      if (element) {
        // Widget labels write inline math as $...$ (as in JupyterLab); the
        // book's MathJax 3 only knows \(...\) for inline math, so that a
        // dollar sign in prose stays a dollar sign. Convert, in labels only.
        if (element.childElementCount === 0 && element.textContent.indexOf("$") >= 0) {
          element.textContent = element.textContent.replace(/\$([^$]+)\$/g, "\\($1\\)");
        }
        pending.push(element);
        typesetWhenReady();
      }
    },
  };

  function withHub(mj) {
    if (mj && typeof mj === "object" && !mj.Hub) {
      mj.Hub = hub;
    }
    return mj;
  }

  var current = withHub(window.MathJax);
  Object.defineProperty(window, "MathJax", {
    configurable: true,
    enumerable: true,
    get: function () { return current; },
    set: function (value) { current = withHub(value); },
  });
})();
