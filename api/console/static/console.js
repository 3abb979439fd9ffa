// The console's only script of its own: no inline code anywhere (the CSP forbids it).
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  // Every htmx request carries the CSRF token, whatever element sends it (htmx 2 and 4).
  function addToken(event) {
    var headers = event.detail.headers || (event.detail.ctx && event.detail.ctx.request.headers);
    if (headers) {
      headers["X-CSRFToken"] = csrfToken();
    }
  }
  document.addEventListener("htmx:configRequest", addToken);
  document.addEventListener("htmx:config:request", addToken);

  // Charts: each <canvas data-chart="ID"> draws the JSON in <script type="application/json"
  // id="ID">, the same numbers as the table beside it.
  var palette = ["#1f5fa8", "#c2571a", "#2e7d32", "#7b3fa0", "#8a6d00", "#b0003a", "#00707a"];

  // Each axis is titled with its unit, from the island's "axes" ({x: "...", y: "..."}).
  function axisTitle(spec, axis) {
    var text = spec.axes && spec.axes[axis];
    return { display: !!text, text: text || "", font: { weight: "bold" } };
  }

  function drawCharts(root) {
    if (typeof Chart === "undefined") {
      return;
    }
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var island = document.getElementById(canvas.getAttribute("data-chart"));
      if (!island || Chart.getChart(canvas)) {
        return;
      }
      var spec = JSON.parse(island.textContent);
      spec.datasets.forEach(function (set, i) {
        set.backgroundColor = set.backgroundColor || palette[i % palette.length];
        set.borderColor = set.borderColor || palette[i % palette.length];
      });
      new Chart(canvas, {
        type: spec.type || "bar",
        data: { labels: spec.labels, datasets: spec.datasets },
        options: {
          animation: false,
          responsive: true,
          maintainAspectRatio: false,
          indexAxis: spec.indexAxis || "x",
          plugins: { legend: { display: true } },
          scales: {
            y: {
              beginAtZero: true,
              stacked: !!spec.stacked,
              // whole counts unless the island says otherwise ("precision": null: hours)
              ticks: { precision: "precision" in spec ? spec.precision : 0 },
              title: axisTitle(spec, "y")
            },
            x: { stacked: !!spec.stacked, title: axisTitle(spec, "x") }
          }
        }
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    drawCharts(event.target);
  });
})();
