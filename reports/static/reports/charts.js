/* Report charts: every <canvas data-report-chart="ID"> is drawn from the JSON in <script id="ID">.
   Sparklines: <canvas data-sparkline="[1,2,3]">. Chart.js is served locally (vendor/chart.umd.js). */
(function () {
  "use strict";

  function money(value) {
    return typeof value === "number" ? value.toLocaleString(undefined, { maximumFractionDigits: 2 }) : value;
  }

  function reportChart(canvas) {
    var source = document.getElementById(canvas.dataset.reportChart);
    if (!source || typeof Chart === "undefined") return;
    var payload = JSON.parse(source.textContent);
    var kind = payload.kind;
    var type = kind === "stacked_bar" ? "bar" : kind;
    var hasSecondary = payload.datasets.some(function (d) { return d.axis === "y1"; });
    var datasets = payload.datasets.map(function (d, index) {
      var isLine = type === "line" || (hasSecondary && d.axis === "y1" && type === "bar");
      return {
        label: d.label,
        data: d.data,
        yAxisID: d.axis || "y",
        type: isLine && type !== "doughnut" ? "line" : undefined,
        borderColor: type === "doughnut" ? "#fff" : d.color,
        backgroundColor: type === "doughnut" ? payload.datasets.length === 1 && payload.labels.map(function (_, i) {
          return ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000", "#999999"][i % 9];
        }) : d.color,
        borderDash: /prev_/.test(d.key || "") ? [6, 4] : undefined,
        tension: 0.25,
        pointRadius: payload.labels.length > 60 ? 0 : 3,
      };
    });
    var scales = {};
    if (type !== "doughnut") {
      scales.x = { stacked: kind === "stacked_bar" };
      scales.y = { stacked: kind === "stacked_bar", beginAtZero: true, ticks: { callback: money } };
      if (hasSecondary) {
        scales.y1 = { position: "right", beginAtZero: true, grid: { drawOnChartArea: false }, ticks: { callback: money } };
      }
    }
    canvas.chart = new Chart(canvas, {
      type: type,
      data: { labels: payload.labels, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: type === "doughnut" ? "nearest" : "index", intersect: false },
        plugins: { legend: { position: "bottom" } },
        scales: scales,
      },
    });
    canvas.dataset.rendered = "1";
  }

  function sparkline(canvas) {
    if (typeof Chart === "undefined") return;
    var values = JSON.parse(canvas.dataset.sparkline || "[]");
    canvas.chart = new Chart(canvas, {
      type: "line",
      data: { labels: values.map(function (_, i) { return i; }), datasets: [{ data: values, borderColor: canvas.dataset.color || "#0072B2", borderWidth: 2, pointRadius: 0, tension: 0.3, fill: false }] },
      options: {
        responsive: false,
        animation: false,
        plugins: { legend: { display: false }, tooltip: { enabled: false } },
        scales: { x: { display: false }, y: { display: false, beginAtZero: true } },
      },
    });
    canvas.dataset.rendered = "1";
  }

  function init() {
    document.querySelectorAll("canvas[data-report-chart]").forEach(reportChart);
    document.querySelectorAll("canvas[data-sparkline]").forEach(sparkline);
    var period = document.getElementById("id_period");
    if (period) {
      var toggle = function () {
        document.querySelectorAll(".report-field-date_from, .report-field-date_to").forEach(function (el) {
          el.style.display = period.value === "custom" ? "" : "none";
        });
      };
      period.addEventListener("change", toggle);
      toggle();
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
