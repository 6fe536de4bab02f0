// Dashboard charts with the vendored uPlot (static/vendor): data comes from json_script
// blocks rendered by the server (analytics/selectors.py), columns ready for uPlot.
(function () {
  "use strict";
  function data(id) { return JSON.parse(document.getElementById(id).textContent); }
  function width(el) { return Math.max(300, el.clientWidth - 8); }
  const volEl = document.getElementById("chart-volume");
  const latEl = document.getElementById("chart-latency");
  if (!volEl || !window.uPlot) return;
  const v = data("volume-data");
  new uPlot({
    width: width(volEl), height: 220,
    series: [{}, { label: "Calls", stroke: "#0b5cad", width: 2 },
      { label: "Contained", stroke: "#2e7d32" }, { label: "Escalated", stroke: "#b26a00" },
      { label: "Abandoned", stroke: "#9e9e9e" }],
    axes: [{}, { label: "calls" }],
  }, [v.t, v.calls, v.contained, v.escalated, v.abandoned], volEl);
  const l = data("latency-data");
  new uPlot({
    width: width(latEl), height: 220, spanGaps: false,
    series: [{}, { label: "p50 ms", stroke: "#0b5cad", width: 2, points: { show: true, size: 6 } }, { label: "p95 ms", stroke: "#b3261e", width: 2, points: { show: true, size: 6 } }],
    axes: [{}, { label: "ms" }],
  }, [l.t, l.p50, l.p95], latEl);
})();
