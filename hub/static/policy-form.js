// Progressive enhancement of the generated filing form: when the activity changes,
// fields that no criterion for that activity reads are marked "not needed" and their
// controls folded away. Without JavaScript the server marks them after each submit.
(function () {
  "use strict";
  function enhance(form) {
    var name = form.getAttribute("data-applicability") || "activity";
    var select = form.querySelector('select[name="' + name + '"]');
    if (!select) return;
    function labelOf(value) {
      var option = select.querySelector('option[value="' + value + '"]');
      return option ? option.textContent.trim() : value;
    }
    function update() {
      var activity = select.value;
      form.querySelectorAll("[data-activities]").forEach(function (field) {
        var list = field.getAttribute("data-activities").split(" ");
        var off = activity !== "" && list.indexOf(activity) === -1;
        field.classList.toggle("not-needed", off);
        var note = field.querySelector("[data-note]");
        if (note) note.textContent = off ? "Not needed for " + labelOf(activity) + "." : "";
      });
      form.querySelectorAll("fieldset.policy-group").forEach(function (group) {
        var fields = group.querySelectorAll(".pf-field");
        var off = group.querySelectorAll(".pf-field.not-needed");
        group.classList.toggle("all-not-needed", fields.length > 0 && fields.length === off.length);
      });
    }
    select.addEventListener("change", update);
    update();
  }
  function start() {
    document.querySelectorAll("form[data-policy-form]").forEach(enhance);
    var summary = document.getElementById("error-summary");
    if (summary) summary.focus();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
document.addEventListener("click", function (event) {
  if (event.target && event.target.matches && event.target.matches("[data-print]")) window.print();
});
