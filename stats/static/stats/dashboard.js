// The operator dashboard: charts drawn as plain SVG from the stats API, and the live tail over a WebSocket.
// No library and no build step; the page (templates/stats/dashboard.html) gives the URLs as data attributes.
"use strict";

(function () {
  const board = document.querySelector(".gw-board");
  if (!board) return;

  const SVG = "http://www.w3.org/2000/svg";
  const W = 520, H = 200, PAD = {top: 10, right: 10, bottom: 24, left: 52};
  const TOP_ROWS = 8, TAIL_ROWS = 100;

  // Numbers as people read them.
  const num = new Intl.NumberFormat("en", {notation: "compact", maximumFractionDigits: 1});
  const fmt = {
    count: (v) => num.format(v || 0),
    usd: (v) => "$" + Number(v || 0).toFixed(v >= 100 ? 0 : v >= 1 ? 2 : 4),
    ms: (v) => (v == null ? "–" : v >= 10000 ? (v / 1000).toFixed(1) + " s" : Math.round(v) + " ms"),
    pct: (v) => (v == null ? "–" : (v * 100).toFixed(1) + " %"),
  };

  function el(tag, attrs, parent, text) {
    const node = tag.startsWith("svg:") ? document.createElementNS(SVG, tag.slice(4)) : document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, value);
    if (text != null) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function canvas(figure, height = H) {
    figure.querySelectorAll("svg, .gw-legend").forEach((node) => node.remove());
    return el("svg:svg", {viewBox: `0 0 ${W} ${height}`, role: "img"}, figure);
  }

  // A round axis maximum: 1, 2 or 5 times a power of ten, at least the largest value.
  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    return [1, 2, 5, 10].map((m) => m * power).find((m) => m >= value);
  }

  function frame(svg, labels, max, format) {
    const height = H - PAD.top - PAD.bottom, width = W - PAD.left - PAD.right;
    const y = (v) => PAD.top + height - (v / max) * height;
    for (let i = 0; i <= 4; i++) {
      const v = (max * i) / 4;
      el("svg:line", {x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: "gw-grid-line"}, svg);
      el("svg:text", {x: PAD.left - 6, y: y(v) + 4, class: "gw-axis", "text-anchor": "end"}, svg, format(v));
    }
    const step = width / labels.length, every = Math.ceil(labels.length / 8);
    labels.forEach((label, i) => {
      if (i % every) return;
      const x = PAD.left + step * (i + 0.5);
      el("svg:text", {x, y: H - 6, class: "gw-axis", "text-anchor": "middle"}, svg, label.slice(5));
    });
    return {y, step, x: (i) => PAD.left + step * (i + 0.5)};
  }

  function legend(figure, series) {
    const box = el("div", {class: "gw-legend"}, figure);
    for (const s of series) {
      const item = el("span", {}, box);
      el("i", {class: s.cls}, item);
      item.append(s.label);
    }
  }

  function noData(svg) {
    const y = svg.viewBox.baseVal.height / 2;
    el("svg:text", {x: W / 2, y, class: "gw-axis", "text-anchor": "middle"}, svg, "No requests in this range");
  }

  // Stacked columns, one per day: series = [{label, cls, values}].
  function columns(figure, labels, series, format) {
    const svg = canvas(figure);
    const totals = labels.map((_, i) => series.reduce((sum, s) => sum + s.values[i], 0));
    const max = niceMax(Math.max(0, ...totals));
    const {y, step, x} = frame(svg, labels, max, format);
    const width = Math.max(2, Math.min(36, step * 0.7));
    labels.forEach((label, i) => {
      let base = 0;
      for (const s of series) {
        const v = s.values[i];
        if (v > 0) {
          const bar = el("svg:rect", {x: x(i) - width / 2, y: y(base + v), width, height: y(base) - y(base + v),
            class: s.cls}, svg);
          el("svg:title", {}, bar, `${label} · ${s.label}: ${format(v)}`);
        }
        base += v;
      }
    });
    if (!Math.max(0, ...totals)) noData(svg);
    legend(figure, series);
  }

  // Lines with a dot per day that has a value (null: no requests that day).
  function lines(figure, labels, series, format) {
    const svg = canvas(figure);
    const values = series.flatMap((s) => s.values.filter((v) => v != null));
    const {y, x} = frame(svg, labels, niceMax(Math.max(0, ...values)), format);
    for (const s of series) {
      const points = s.values.map((v, i) => (v == null ? null : [x(i), y(v), labels[i], v])).filter(Boolean);
      el("svg:polyline", {points: points.map((p) => p[0] + "," + p[1]).join(" "), class: "gw-line " + s.cls}, svg);
      for (const [px, py, label, v] of points) {
        const dot = el("svg:circle", {cx: px, cy: py, r: 3.5, class: s.cls}, svg);
        el("svg:title", {}, dot, `${label} · ${s.label}: ${format(v)}`);
      }
    }
    if (!values.length) noData(svg);
    legend(figure, series);
  }

  // Horizontal bars of requests (errors in red) for the busiest rows of a group.
  function top(figure, rows) {
    rows = rows.slice(0, TOP_ROWS);
    const rowHeight = 26, barX = 180, barWidth = 230;
    const svg = canvas(figure, rowHeight * Math.max(rows.length, 2));
    const max = Math.max(1, ...rows.map((r) => r.requests));
    rows.forEach((r, i) => {
      const name = r.model || r.name || (r.id == null ? "(none)" : `#${r.id} (deleted)`);
      const top = i * rowHeight, mid = top + rowHeight / 2 + 4;
      const short = name.length > 28 ? name.slice(0, 27) + "…" : name;
      const label = el("svg:text", {x: 0, y: mid, class: "gw-label"}, svg, short);
      el("svg:title", {}, label, name);
      const width = Math.max(1, (r.requests / max) * barWidth);
      const bar = el("svg:rect", {x: barX, y: top + 4, width, height: rowHeight - 8, class: "gw-s0"}, svg);
      el("svg:title", {}, bar, `${name}: ${r.requests} requests, ${r.errors} errors`);
      if (r.errors) el("svg:rect", {x: barX, y: top + 4, width: (r.errors / max) * barWidth, height: rowHeight - 8,
        class: "gw-err"}, svg);
      el("svg:text", {x: barX + width + 6, y: mid, class: "gw-axis"}, svg,
        `${fmt.count(r.requests)} · ${fmt.usd(r.cost)}`);
    });
    if (!rows.length) noData(svg);
  }

  function cards(summary) {
    const box = document.getElementById("gw-summary");
    box.replaceChildren();
    const items = [
      ["Requests", fmt.count(summary.requests), `${fmt.pct(summary.success_rate)} succeeded`],
      ["Errors", fmt.count(summary.errors), "status 400 and above"],
      ["Tokens", fmt.count(summary.total_tokens),
        `${fmt.count(summary.prompt_tokens)} in · ${fmt.count(summary.completion_tokens)} out`],
      ["Cost", fmt.usd(summary.cost), "USD, priced models"],
      ["Latency p50", fmt.ms(summary.latency_p50_ms), `p95 ${fmt.ms(summary.latency_p95_ms)}`],
      ["First token", fmt.ms(summary.ttft_avg_ms), "average, streams"],
    ];
    for (const [title, value, note] of items) {
      const card = el("div", {class: "gw-card"}, box);
      el("h3", {}, card, title);
      el("strong", {}, card, value);
      el("small", {}, card, note);
    }
  }

  async function getJSON(url, query) {
    const options = {credentials: "same-origin", headers: {Accept: "application/json"}};
    const response = await fetch(`${url}?${query}`, options);
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(Object.values(body).flat().join(" ") || `${url}: HTTP ${response.status}`);
    return body;
  }

  async function load() {
    const query = new URLSearchParams(new FormData(document.querySelector(".gw-range"))).toString();
    const error = document.getElementById("gw-error");
    try {
      const [summary, daily] = await Promise.all([getJSON(board.dataset.summary, query),
        getJSON(board.dataset.daily, query)]);
      cards(summary);
      const days = daily.map((d) => d.date), pick = (name) => daily.map((d) => Number(d[name] || 0));
      columns(document.getElementById("chart-requests"), days, [
        {label: "succeeded", cls: "gw-s0", values: daily.map((d) => d.requests - d.errors)},
        {label: "errors", cls: "gw-err", values: pick("errors")},
      ], fmt.count);
      columns(document.getElementById("chart-tokens"), days, [
        {label: "input", cls: "gw-s0", values: pick("prompt_tokens")},
        {label: "output", cls: "gw-s1", values: pick("completion_tokens")},
      ], fmt.count);
      columns(document.getElementById("chart-cost"), days, [{label: "cost", cls: "gw-s2", values: pick("cost")}],
        fmt.usd);
      lines(document.getElementById("chart-latency"), days, [
        {label: "latency", cls: "gw-s0", values: daily.map((d) => d.latency_avg_ms)},
        {label: "time to first token", cls: "gw-s1", values: daily.map((d) => d.ttft_avg_ms)},
      ], fmt.ms);
      await Promise.all([...document.querySelectorAll(".gw-top")].map(async (figure) => {
        top(figure, await getJSON(figure.dataset.url, query));
      }));
      error.hidden = true;
    } catch (failure) {
      error.textContent = `The figures could not be loaded: ${failure.message}`;
      error.hidden = false;
    }
  }

  // The live tail: rows arrive in batches, oldest first; the newest goes on top.
  function tailRow(row) {
    const tr = document.createElement("tr");
    tr.className = row.status >= 400 ? "gw-failed" : "";
    const time = new Date(row.time);
    const cells = [
      time.toLocaleTimeString(), null, row.format, row.model, row.provider || "–", row.key || "–",
      row.status + (row.error_type ? ` ${row.error_type}` : ""), fmt.ms(row.latency_ms),
      `${row.prompt_tokens} / ${row.completion_tokens}`, row.cost == null ? "–" : fmt.usd(row.cost),
    ];
    cells.forEach((text, i) => {
      const td = el("td", i >= 7 ? {class: "gw-num"} : {}, tr, text);
      if (i === 0) td.title = time.toISOString();
      if (i === 1) {
        const link = el("a", {href: `${board.dataset.logAdmin}?q=${encodeURIComponent(row.request_id)}`}, td,
          row.request_id.length > 14 ? row.request_id.slice(0, 13) + "…" : row.request_id);
        link.title = row.request_id;
      }
      if (i === 3 && row.stream) el("span", {class: "gw-quiet"}, td, " stream");
    });
    tr.dataset.requestId = row.request_id;
    return tr;
  }

  function tail(delay) {
    const state = document.getElementById("gw-tail-state");
    const body = document.querySelector("#gw-tail tbody");
    const scheme = location.protocol === "https:" ? "wss://" : "ws://";
    const socket = new WebSocket(scheme + location.host + board.dataset.tail);
    socket.onopen = () => { state.textContent = "live"; state.className = "gw-state gw-live"; delay = 1000; };
    socket.onmessage = (event) => {
      body.querySelector(".gw-empty")?.remove();
      for (const row of JSON.parse(event.data).rows) body.prepend(tailRow(row));
      while (body.rows.length > TAIL_ROWS) body.lastElementChild.remove();
    };
    socket.onclose = () => {
      state.textContent = "disconnected, retrying…";
      state.className = "gw-state";
      setTimeout(() => tail(Math.min(delay * 2, 30000)), delay);
    };
  }

  load();
  tail(1000);
})();
