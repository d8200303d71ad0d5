// Behaviour every page may use, loaded by base.html. The Content-Security-Policy
// (hub/security.py) allows no inline script, no event-handler attribute and no style
// attribute, so templates say what they need with data- attributes instead:
//
//   data-print                 a button that prints the page
//   <form data-confirm="...">  a form that asks the question before it is sent
//   data-width="42.5"          an element's width, in % of its parent (bars)
//   data-left="80"             an element's left offset, in % (threshold and today marks)
//   data-grow="31"             an element's flex-grow (timeline segments, a weight)
//
// Geometry is set through the CSSOM (element.style), which the policy permits.
(function () {
  "use strict";
  function number(el, name) {
    var value = parseFloat(el.getAttribute(name));
    return isFinite(value) ? value : null;
  }
  function geometry(root) {
    root.querySelectorAll("[data-width]").forEach(function (el) {
      var v = number(el, "data-width");
      if (v !== null) el.style.width = v + "%";
    });
    root.querySelectorAll("[data-left]").forEach(function (el) {
      var v = number(el, "data-left");
      if (v !== null) el.style.left = v + "%";
    });
    root.querySelectorAll("[data-grow]").forEach(function (el) {
      var v = number(el, "data-grow");
      if (v !== null && v >= 0) el.style.flexGrow = String(v);
    });
  }
  function start() {
    geometry(document);
    document.querySelectorAll("[data-print]").forEach(function (el) {
      el.addEventListener("click", function () { window.print(); });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
