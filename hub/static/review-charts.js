// Draw the dashboard's charts from the numbers already on the page (data-labels,
// data-values on each canvas). Without JavaScript the tables beside them remain.
(function () {
  "use strict";
  function draw() {
    if (typeof window.Chart === "undefined") { return; }
    var palette = ["#0b5fa5", "#1f7a3a", "#9a6200", "#b3261e", "#6b8fb3", "#5b6b7c", "#7a4fa3", "#2a9d8f", "#e76f51", "#264653"];
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var kind = canvas.dataset.chart;
      var labels = JSON.parse(canvas.dataset.labels || "[]").map(function (l) { return String(l).replace(/_/g, " "); });
      var values = JSON.parse(canvas.dataset.values || "[]");
      var horizontal = kind === "hbar";
      var type = horizontal ? "bar" : kind;
      new window.Chart(canvas, {
        type: type,
        data: {
          labels: labels,
          datasets: [{
            label: canvas.dataset.label || "",
            data: values,
            backgroundColor: type === "line" ? "rgba(11,95,165,0.15)" : labels.map(function (_, i) { return palette[i % palette.length]; }),
            borderColor: type === "line" ? "#0b5fa5" : undefined,
            fill: type === "line",
            tension: 0
          }]
        },
        options: {
          indexAxis: horizontal ? "y" : "x",
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          plugins: { legend: { display: type === "doughnut", position: "right" } },
          scales: type === "doughnut" ? {} : { x: { beginAtZero: true, ticks: { precision: 0 } }, y: { beginAtZero: true, ticks: { precision: 0 } } }
        }
      });
    });
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", draw); } else { draw(); }
}());
