// The walkthrough pages' enhancements: drag-and-drop step order, the live preview of what the
// agent receives, reading an import file, and the analytics charts. Every page works without
// this script; it only calls the JSON API the forms' handlers also use.
"use strict";

(function () {
  function api(url, method, csrf, body) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-csrf-token": csrf },
      body: JSON.stringify(body),
    });
  }

  // Steps navigator: drag a step onto another to move it there; the order is saved at once.
  function reorderable(list) {
    var dragged = null;
    list.querySelectorAll("li[data-id]").forEach(function (item) {
      item.draggable = true;
      item.addEventListener("dragstart", function (e) {
        dragged = item;
        item.classList.add("dragging");
        e.dataTransfer.effectAllowed = "move";
        e.dataTransfer.setData("text/plain", item.dataset.id);
      });
      item.addEventListener("dragend", function () {
        item.classList.remove("dragging");
        list.querySelectorAll(".drop-target").forEach(function (el) { el.classList.remove("drop-target"); });
      });
      item.addEventListener("dragover", function (e) {
        if (!dragged || dragged === item) return;
        e.preventDefault();
        item.classList.add("drop-target");
      });
      item.addEventListener("dragleave", function () { item.classList.remove("drop-target"); });
      item.addEventListener("drop", function (e) {
        e.preventDefault();
        item.classList.remove("drop-target");
        if (!dragged || dragged === item) return;
        var items = Array.prototype.slice.call(list.children);
        if (items.indexOf(dragged) < items.indexOf(item)) item.after(dragged); else item.before(dragged);
        save(list);
      });
    });
  }

  function save(list) {
    var ids = Array.prototype.map.call(list.querySelectorAll("li[data-id]"), function (li) { return li.dataset.id; });
    api(list.dataset.reorderUrl, "PUT", list.dataset.csrf, { step_ids: ids }).then(function (response) {
      if (!response.ok) { window.location.reload(); return; }
      list.querySelectorAll(".step-number").forEach(function (span, i) { span.textContent = String(i + 1); });
      // The preview's "Step N of M" follows the new place.
      var form = document.querySelector("form[data-preview-url]");
      if (form) preview(form);
    });
  }

  // Step editor: the preview shows what the agent would receive for the text being typed.
  var timer = null;
  function preview(form) {
    var out = document.getElementById("preview");
    var status = document.getElementById("preview-status");
    var field = function (name) { return form.elements[name] ? form.elements[name].value : ""; };
    var body = {
      title: field("title"),
      content_fields: {
        version: "v1",
        introductionForAgent: field("introduction_for_agent"),
        contextForAgent: field("context_for_agent"),
        contentForUser: field("content_for_user"),
        operationsForAgent: field("operations_for_agent"),
      },
    };
    if (form.dataset.stepId) body.step_id = form.dataset.stepId;
    api(form.dataset.previewUrl, "POST", form.dataset.csrf, body).then(function (response) {
      return response.json().then(function (json) {
        if (response.ok) {
          out.textContent = json.text;
          status.textContent = "Live preview of the text above (not saved yet).";
        } else {
          status.textContent = (json.field ? json.field + ": " : "") + json.message;
        }
      });
    }).catch(function () { status.textContent = "The preview is not available right now."; });
  }

  function livePreview(form) {
    form.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { preview(form); }, 300);
    });
  }

  // Import: a chosen file fills the JSON field of the form.
  function fileReader(input) {
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) return;
      file.text().then(function (text) { document.getElementById(input.dataset.fills).value = text; });
    });
  }

  // Analytics: funnel, Sankey of step transitions, completions per day (ECharts).
  function charts() {
    var data = document.getElementById("report-data");
    if (!data || !window.echarts) return;
    var report = JSON.parse(data.textContent);
    var funnelEl = document.getElementById("funnel-chart");
    if (report.funnel.length) {
      var names = report.funnel.map(function (s, i) { return (i + 1) + ". " + s.title; });
      window.echarts.init(funnelEl).setOption({
        tooltip: { trigger: "axis" },
        legend: { data: ["Reached", "Completed", "Dropped off"] },
        grid: { left: 8, right: 24, containLabel: true },
        xAxis: { type: "value", minInterval: 1 },
        yAxis: { type: "category", data: names, inverse: true },
        series: [
          { name: "Reached", type: "bar", data: report.funnel.map(function (s) { return s.reached; }) },
          { name: "Completed", type: "bar", data: report.funnel.map(function (s) { return s.completed; }) },
          { name: "Dropped off", type: "bar", data: report.funnel.map(function (s) { return s.dropped_off; }) },
        ],
      });
    } else {
      funnelEl.hidden = true;
    }
    var flowEl = document.getElementById("flow-chart");
    if (report.flow.links.length) {
      window.echarts.init(flowEl).setOption({
        tooltip: { trigger: "item" },
        series: [{
          type: "sankey",
          emphasis: { focus: "adjacency" },
          nodeAlign: "left",
          data: report.flow.nodes.map(function (name) { return { name: name }; }),
          links: report.flow.links,
          lineStyle: { color: "gradient", curveness: 0.5 },
        }],
      });
    } else {
      flowEl.textContent = "No paths yet in this period.";
      flowEl.className = "empty";
    }
    var daysEl = document.getElementById("completions-chart");
    if (report.completions_by_day.length) {
      window.echarts.init(daysEl).setOption({
        tooltip: { trigger: "axis" },
        xAxis: { type: "category", data: report.completions_by_day.map(function (d) { return d.day; }) },
        yAxis: { type: "value", minInterval: 1 },
        series: [{ name: "Completions", type: "line", data: report.completions_by_day.map(function (d) { return d.count; }) }],
      });
    } else {
      daysEl.textContent = "No completion in this period.";
      daysEl.className = "empty";
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("ol[data-reorder-url]").forEach(reorderable);
    document.querySelectorAll("form[data-preview-url]").forEach(livePreview);
    document.querySelectorAll("input[type=file][data-fills]").forEach(fileReader);
    charts();
  });
})();
