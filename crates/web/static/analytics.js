// The analytics overview's chart, and its refresh while the page is open. The page shows every
// number without this script; it draws the series and swaps in a fresh copy every 30 seconds.
"use strict";

(function () {
  var REFRESH_MS = 30000;
  var chart = null;

  function draw() {
    var data = document.getElementById("series-data");
    var el = document.getElementById("calls-chart");
    if (chart) { chart.dispose(); chart = null; }
    if (!data || !el || !window.echarts) return;
    var series = JSON.parse(data.textContent);
    var times = series.map(function (p) { return p.start; });
    var ok = series.map(function (p) { return p.calls - p.protocol_errors - p.tool_errors; });
    chart = window.echarts.init(el);
    chart.setOption({
      tooltip: { trigger: "axis" },
      legend: { data: ["Succeeded", "Tool errors", "Protocol errors", "p95 latency"] },
      grid: { left: 8, right: 8, containLabel: true },
      xAxis: {
        type: "category",
        data: times,
        axisLabel: { formatter: function (t) { return t.slice(5, 16).replace("T", " "); } },
      },
      yAxis: [
        { type: "value", name: "Calls", minInterval: 1 },
        { type: "value", name: "ms", splitLine: { show: false } },
      ],
      series: [
        { name: "Succeeded", type: "bar", stack: "calls", data: ok, color: "#4f8a5b" },
        { name: "Tool errors", type: "bar", stack: "calls", data: series.map(function (p) { return p.tool_errors; }), color: "#e0a526" },
        { name: "Protocol errors", type: "bar", stack: "calls", data: series.map(function (p) { return p.protocol_errors; }), color: "#c8443a" },
        { name: "p95 latency", type: "line", yAxisIndex: 1, connectNulls: false, data: series.map(function (p) { return p.p95_ms; }), color: "#3b6fb6" },
      ],
    });
  }

  // A metric page: its value (or a distribution's mean) as a line, and the count as bars.
  function drawMetric() {
    var data = document.getElementById("metric-data");
    var el = document.getElementById("metric-chart");
    if (!data || !el || !window.echarts) return;
    var points = JSON.parse(data.textContent);
    var times = points.map(function (p) { return p.time.slice(5, 19).replace("T", " "); });
    var series = [{ name: "Value", type: "line", data: points.map(function (p) { return p.value; }), color: "#3b6fb6" }];
    var axes = [{ type: "value", scale: true }];
    if (points.some(function (p) { return p.count !== null; })) {
      series.push({ name: "Count", type: "bar", yAxisIndex: 1, data: points.map(function (p) { return p.count; }), color: "#b8c4d6" });
      axes.push({ type: "value", minInterval: 1, splitLine: { show: false } });
    }
    window.echarts.init(el).setOption({
      tooltip: { trigger: "axis" },
      legend: {},
      grid: { left: 8, right: 8, containLabel: true },
      xAxis: { type: "category", data: times },
      yAxis: axes,
      series: series,
    });
  }

  function refresh() {
    var live = document.getElementById("live");
    var toggle = document.getElementById("auto-refresh");
    if (!live || !toggle || !toggle.checked || document.hidden) return;
    fetch(live.dataset.refreshUrl, { credentials: "same-origin" }).then(function (response) {
      if (!response.ok) return null;
      return response.text();
    }).then(function (html) {
      if (!html) return;
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("live");
      if (!fresh) return;
      live.innerHTML = fresh.innerHTML;
      draw();
    }).catch(function () { /* The next tick tries again. */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    draw();
    drawMetric();
    var toggle = document.getElementById("auto-refresh");
    if (toggle) {
      toggle.checked = window.localStorage.getItem("analytics-refresh") !== "off";
      toggle.addEventListener("change", function () {
        window.localStorage.setItem("analytics-refresh", toggle.checked ? "on" : "off");
        if (toggle.checked) refresh();
      });
      window.setInterval(refresh, REFRESH_MS);
    }
    window.addEventListener("resize", function () { if (chart) chart.resize(); });
  });
})();
