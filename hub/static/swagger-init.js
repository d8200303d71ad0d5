// Starts Swagger UI on /api/docs/ (hub/templates/api/docs.html): its configuration is the
// JSON of the #swagger-ui element's data-config attribute, so the page needs no inline
// script (the Content-Security-Policy refuses them).
(function () {
  "use strict";
  function start() {
    var root = document.getElementById("swagger-ui");
    if (!root || typeof window.SwaggerUIBundle !== "function") return;
    var config = JSON.parse(root.getAttribute("data-config") || "{}");
    config.presets = [window.SwaggerUIBundle.presets.apis];
    config.plugins = [window.SwaggerUIBundle.plugins.DownloadUrl];
    window.ui = window.SwaggerUIBundle(config);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
