/* Policy studio: a dependency-free code editor (textarea + line-number gutter),
   jumps to the lines errors name, and progress polling for background runs. */
(function () {
  "use strict";

  function setupEditor(box) {
    var area = box.querySelector("textarea");
    var gutter = box.querySelector(".gutter");
    var errors = (box.getAttribute("data-error-lines") || "").split(",").filter(Boolean).map(Number);
    var count = -1;
    function render() {
      var n = area.value.split("\n").length;
      if (n === count) return;
      count = n;
      var out = [];
      for (var i = 1; i <= n; i++) {
        out.push(errors.indexOf(i) >= 0 ? '<span class="err" title="error on this line">' + i + "</span>" : String(i));
      }
      gutter.innerHTML = out.join("\n") + "\n";
    }
    function sync() { gutter.scrollTop = area.scrollTop; }
    area.addEventListener("input", render);
    area.addEventListener("scroll", sync);
    area.addEventListener("keydown", function (e) {
      if (e.key === "Tab" && !e.shiftKey && !area.readOnly) {  // indent with two spaces, as YAML and Gherkin want
        e.preventDefault();
        var s = area.selectionStart;
        area.setRangeText("  ", s, area.selectionEnd, "end");
        render();
      }
    });
    render();
    sync();
  }

  function gotoLine(area, line) {
    var lines = area.value.split("\n");
    var start = 0;
    for (var i = 0; i < line - 1 && i < lines.length; i++) start += lines[i].length + 1;
    var end = start + (lines[line - 1] || "").length;
    area.focus();
    area.setSelectionRange(start, end);
    var style = window.getComputedStyle(area);
    var lh = parseFloat(style.lineHeight) || 18;
    area.scrollTop = Math.max(0, (line - 5) * lh);
    area.dispatchEvent(new Event("scroll"));
    area.scrollIntoView({block: "center"});
  }

  function setupGoto() {
    document.addEventListener("click", function (e) {
      var a = e.target.closest("[data-goto-line]");
      if (!a) return;
      var area = document.getElementById(a.getAttribute("data-editor"));
      if (!area) return;
      e.preventDefault();
      gotoLine(area, Number(a.getAttribute("data-goto-line")));
    });
  }

  function setupProgress(box) {
    var url = box.getAttribute("data-job-url");
    var bar = box.querySelector("progress");
    var state = box.querySelector(".job-state");
    var countEl = box.querySelector(".job-count");
    function poll() {
      fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (r) { return r.json(); })
        .then(function (job) {
          bar.max = job.total || 1;
          bar.value = job.done;
          state.textContent = job.state.charAt(0).toUpperCase() + job.state.slice(1) + "…";
          countEl.textContent = job.done + " of " + (job.total || "?") +
            (job.kind === "impact" ? " chunks of companies" : "");
          if (job.finished) { window.location.reload(); } else { setTimeout(poll, 700); }
        })
        .catch(function () { setTimeout(poll, 2000); });
    }
    setTimeout(poll, 300);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".code-editor").forEach(setupEditor);
    document.querySelectorAll("[data-job-url]").forEach(setupProgress);
    setupGoto();
    var first = document.querySelector("#validation-errors [data-goto-line]");
    var asked = Number(new URLSearchParams(window.location.search).get("line"));
    if (first) gotoLine(document.getElementById("text"), Number(first.getAttribute("data-goto-line")));
    else if (asked && document.getElementById("features_text")) gotoLine(document.getElementById("features_text"), asked);
  });
})();
