// swanlog dashboard: one page over the read endpoints of HTTP API v1.
//
// The same page runs on `swanlog server` (a key is asked once and kept for the browser
// session) and on `swanlog watch` (no key). It draws with Plotly, served by the server
// from its own install: nothing is fetched from the internet. Every user-named string
// (run, metric, config, caption) reaches the DOM as text, never as HTML.
"use strict";

(() => {
  const API = "api/v1"; // relative to the page: the dashboard also works behind a proxy at /some/path/
  const KEY_ITEM = "swanlog.key";
  const MAX_POINTS = 2000; // points per chart line asked of the server (it downsamples)
  const POLL_MS = 1000; // live refresh while a run in view is running
  const TABLE_ROWS = 500; // rows of the runs table drawn at first, and per "Show more"
  const COLORS = ["#2f6fde", "#e4572e", "#17a673", "#9b51e0", "#f2a516", "#1fb5c9", "#d6336c", "#6c757d",
    "#7a9e1f", "#8c564b"];
  const NONFINITE = { NaN: NaN, Infinity: Infinity, "-Infinity": -Infinity };

  const app = document.getElementById("app");
  // Plotly (4.8 MB) loads on its own: runs, names and points are fetched meanwhile.
  const plotlyReady = new Promise((resolve, reject) => {
    if (window.Plotly) return resolve();
    const tag = document.getElementById("plotly-js");
    tag.addEventListener("load", () => resolve());
    tag.addEventListener("error", () => reject(new Error("static/plotly.min.js did not load (is plotly installed?)")));
  });
  let view = null; // the current view; its stop() runs when the route changes

  // -- DOM ---------------------------------------------------------------------------------

  // el("td", {class: "x", dataset: {run: id}}, "text", child): strings become text nodes.
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "dataset") Object.assign(node.dataset, value);
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else if (name === "text") node.textContent = value;
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  function show(...nodes) {
    app.replaceChildren(...nodes);
  }

  // -- API ---------------------------------------------------------------------------------

  class KeyNeeded extends Error {}

  function authHeaders() {
    const key = sessionStorage.getItem(KEY_ITEM);
    return key ? { Authorization: `Bearer ${key}` } : {};
  }

  async function request(path) {
    const res = await fetch(API + path, { headers: authHeaders(), cache: "no-store" });
    if (res.status === 401) {
      let message = "this server needs an API key";
      try { message = (await res.json()).error || message; } catch (_) { /* not JSON */ }
      throw new KeyNeeded(message);
    }
    if (!res.ok) {
      let message = `${res.status} ${res.statusText}`;
      try { message = (await res.json()).error || message; } catch (_) { /* not JSON */ }
      const error = new Error(message);
      error.status = res.status;
      throw error;
    }
    return res;
  }

  const getJSON = async (path) => (await request(path)).json();
  const runPath = (id) => `/runs/${encodeURIComponent(id)}`;
  // The name goes in the query: a browser drops a path segment "." or ".." even percent-encoded.
  const pointsPath = (id, name, query) => `${runPath(id)}/points?metric=${encodeURIComponent(name)}&${query}`;
  const filePath = (id, path) => `${runPath(id)}/files/${path.split("/").map(encodeURIComponent).join("/")}`;

  // -- formatting --------------------------------------------------------------------------

  function fmtNumber(v) {
    if (typeof v === "string" && v in NONFINITE) return v;
    if (typeof v !== "number") return v === null || v === undefined ? "" : typeof v === "object" ? JSON.stringify(v) : String(v);
    if (Number.isInteger(v)) return String(v);
    const a = Math.abs(v);
    return a !== 0 && (a < 1e-3 || a >= 1e6) ? v.toExponential(4) : String(+v.toPrecision(6));
  }

  function fmtDuration(seconds) {
    if (typeof seconds !== "number" || !isFinite(seconds)) return "";
    if (seconds < 10) return `${+seconds.toFixed(1)}s`;
    const s = Math.round(seconds);
    if (s < 60) return `${s}s`;
    const m = Math.floor(s / 60), h = Math.floor(m / 60), d = Math.floor(h / 24);
    if (d) return `${d}d ${h % 24}h`;
    if (h) return `${h}h ${String(m % 60).padStart(2, "0")}m`;
    return `${m}m ${String(s % 60).padStart(2, "0")}s`;
  }

  function fmtTime(iso) {
    if (!iso) return "";
    const t = new Date(iso);
    return isNaN(t) ? String(iso) : t.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
  }

  function fmtValue(v) {
    if (v && typeof v === "object" && "_type" in v) return `(${v._type})`;
    return fmtNumber(v);
  }

  // {"a": {"b": 1}} -> [["a.b", 1]]; config keys are shown dotted.
  function flatten(obj, prefix = "", out = []) {
    for (const [k, v] of Object.entries(obj || {})) {
      const key = prefix ? `${prefix}.${k}` : k;
      if (v && typeof v === "object" && !Array.isArray(v) && !("_type" in v)) flatten(v, key, out);
      else out.push([key, v]);
    }
    return out;
  }

  const statusNode = (status) =>
    el("span", { class: `run-status status-${status || "unknown"}` }, status || "unknown");
  const runLabel = (run) => run.name || run.id;
  const sectionOf = (name) => (name.includes("/") ? name.slice(0, name.lastIndexOf("/")) : "");

  // -- key ---------------------------------------------------------------------------------

  function showKeyForm(message, refused) {
    const input = el("input", { id: "key-input", type: "password", autocomplete: "off", placeholder: "swl_…" });
    const form = el("form", { id: "key-form", onsubmit: (event) => {
      event.preventDefault();
      const key = input.value.trim();
      if (!key) return;
      sessionStorage.setItem(KEY_ITEM, key);
      route();
    } },
    el("h2", {}, "API key"),
    el("p", { class: "muted" }, "This server needs a key: ", el("code", {}, "swanlog server key create --project P"),
      " prints one. It is kept for this browser tab only."),
    refused ? el("p", { id: "key-error", class: "error" }, `The server refused this key: ${message}`) : null,
    input,
    el("button", { class: "primary", type: "submit" }, "Open"));
    show(form);
    input.focus();
  }

  function failed(error) {
    if (error instanceof KeyNeeded) {
      const hadKey = !!sessionStorage.getItem(KEY_ITEM);
      sessionStorage.removeItem(KEY_ITEM);
      showKeyForm(error.message, hadKey);
    } else {
      show(el("p", { class: "error", id: "load-error" }, `Could not load: ${error.message}`),
        el("p", {}, el("a", { href: "#/" }, "Back to the runs")));
    }
  }

  // -- runs table --------------------------------------------------------------------------

  const BASE_COLUMNS = [
    { key: "name", label: "Name", get: runLabel },
    { key: "project", label: "Project", get: (r) => r.project || "" },
    { key: "status", label: "Status", get: (r) => r.status || "" },
    { key: "created", label: "Created", get: (r) => r.created || "" },
    { key: "duration", label: "Duration", get: (r) => (typeof r.duration === "number" ? r.duration : -1) },
  ];

  function extraColumns(runs) {
    const summary = new Set(), config = new Set();
    for (const run of runs) {
      for (const [k, v] of Object.entries(run.summary || {})) if (!(v && typeof v === "object")) summary.add(k);
      for (const [k] of flatten(run.config)) config.add(k);
    }
    return [...[...summary].sort().map((k) => `summary:${k}`), ...[...config].sort().map((k) => `config:${k}`)];
  }

  function columnValue(run, column) {
    const [kind, key] = [column.slice(0, column.indexOf(":")), column.slice(column.indexOf(":") + 1)];
    if (kind === "summary") return (run.summary || {})[key];
    const found = flatten(run.config).find(([k]) => k === key);
    return found ? found[1] : undefined;
  }

  function compareValues(a, b) {
    const na = typeof a === "number" ? a : NONFINITE[a], nb = typeof b === "number" ? b : NONFINITE[b];
    if (na !== undefined && nb !== undefined) return na === nb ? 0 : isNaN(na) ? 1 : isNaN(nb) ? -1 : na - nb;
    if (a === undefined || a === null) return 1;
    if (b === undefined || b === null) return -1;
    return String(a).localeCompare(String(b));
  }

  function runsView() {
    const saved = JSON.parse(localStorage.getItem("swanlog.columns") || "null");
    const st = {
      runs: [], byId: new Map(), rev: null, // rev: the watermark of the last answer (null: ask for every run)
      sort: { key: "created", dir: -1 }, columns: saved || [], chosen: saved !== null,
      checked: new Set(), limit: TABLE_ROWS, timer: null, stopped: false,
    };
    const restart = () => { st.limit = TABLE_ROWS; renderBody(); };
    const filter = el("input", { id: "run-filter", type: "text", placeholder: "Filter runs by name, id, project, tag",
      oninput: restart });
    const project = el("select", { id: "project-filter", onchange: restart }, el("option", { value: "" }, "All projects"));
    const selected = () => [...st.checked].filter((id) => st.byId.has(id));
    const compare = el("button", { id: "compare-btn", type: "button", disabled: true, onclick: () => {
      const ids = selected();
      if (ids.length) location.hash = `#/runs/${ids.map(encodeURIComponent).join(",")}`;
    } }, "Compare selected");
    const pickerBody = el("div", { hidden: true });
    const picker = el("span", { id: "column-picker" },
      el("button", { type: "button", onclick: () => { pickerBody.hidden = !pickerBody.hidden; } }, "Columns"), pickerBody);
    const table = el("table", { id: "runs-table", class: "grid" });
    const count = el("span", { class: "muted", id: "run-count" });
    show(el("div", { class: "toolbar" }, filter, project, picker, compare, count), table);

    function visibleRuns() {
      const text = filter.value.trim().toLowerCase();
      const proj = project.value;
      let runs = st.runs.filter((r) => (!proj || r.project === proj) && (!text ||
        [r.name, r.id, r.project, ...(r.tags || [])].some((s) => s && String(s).toLowerCase().includes(text))));
      const base = BASE_COLUMNS.find((c) => c.key === st.sort.key);
      const get = base ? base.get : (r) => columnValue(r, st.sort.key);
      const keyed = runs.map((r) => [get(r), r]); // each sort key computed once, not per comparison
      keyed.sort((a, b) => st.sort.dir * compareValues(a[0], b[0]));
      return keyed.map(([, r]) => r);
    }

    function renderHead() {
      const th = (key, label, numeric) => el("th", {
        dataset: { sort: key }, "aria-sort": st.sort.key === key ? (st.sort.dir > 0 ? "ascending" : "descending") : null,
        class: numeric ? "num" : null, title: label,
        onclick: () => { st.sort = { key, dir: st.sort.key === key ? -st.sort.dir : 1 }; renderHead(); restart(); },
      }, label);
      const all = el("input", { type: "checkbox", title: "Select all shown", onchange: () => {
        table.querySelectorAll("input.run-select").forEach((c) => { c.checked = all.checked; check(c); });
        updateCompare();
      } });
      table.replaceChildren(el("thead", { dataset: { columns: st.columns.join("\n") } }, el("tr", {}, el("th", {}, all),
        BASE_COLUMNS.map((c) => th(c.key, c.label)),
        st.columns.map((c) => th(c, c.slice(c.indexOf(":") + 1), true)))), table.tBodies[0] || el("tbody"));
    }

    function check(box) {
      if (box.checked) st.checked.add(box.dataset.runId); else st.checked.delete(box.dataset.runId);
    }

    function updateCompare() {
      const n = selected().length;
      compare.disabled = n === 0;
      compare.textContent = n > 1 ? `Compare ${n} runs` : "Open selected";
    }

    function renderBody() {
      const runs = visibleRuns();
      const shown = runs.slice(0, st.limit); // a table of thousands of rows would make the page crawl
      const rows = shown.map((run) => el("tr", { dataset: { runId: run.id } },
        el("td", {}, el("input", { type: "checkbox", class: "run-select", dataset: { runId: run.id },
          checked: st.checked.has(run.id), onchange: (event) => { check(event.target); updateCompare(); } })),
        el("td", { class: "wrap" }, el("a", { class: "run-name", href: `#/runs/${encodeURIComponent(run.id)}`, title: run.id }, runLabel(run))),
        el("td", { class: "run-project wrap" }, run.project || ""),
        el("td", {}, statusNode(run.status)),
        el("td", { class: "run-created", title: run.created || "" }, fmtTime(run.created)),
        el("td", { class: "run-duration num" }, fmtDuration(run.duration)),
        st.columns.map((c) => el("td", { class: "num", dataset: { column: c } }, fmtValue(columnValue(run, c))))));
      const body = el("tbody", {}, rows);
      table.tBodies[0].replaceWith(body);
      const colspan = 6 + st.columns.length;
      if (!runs.length) body.append(el("tr", {}, el("td", { colspan, class: "muted" },
        st.runs.length ? "No run matches the filter." : "No runs yet.")));
      const hidden = runs.length - shown.length;
      if (hidden > 0) body.append(el("tr", {}, el("td", { colspan, class: "muted" },
        el("button", { id: "more-runs", type: "button", onclick: () => { st.limit += TABLE_ROWS; renderBody(); } },
          `Show ${Math.min(TABLE_ROWS, hidden)} more`), ` ${hidden} not shown`)));
      count.textContent = hidden > 0 ? `${shown.length} shown, ${runs.length} of ${st.runs.length} runs`
        : `${runs.length} of ${st.runs.length} runs`;
      updateCompare();
    }

    function renderPicker(available) {
      pickerBody.replaceChildren(...(available.length ? available.map((c) => el("label", {},
        el("input", { type: "checkbox", dataset: { column: c }, checked: st.columns.includes(c), onchange: (event) => {
          st.columns = event.target.checked ? [...st.columns, c] : st.columns.filter((x) => x !== c);
          st.chosen = true;
          localStorage.setItem("swanlog.columns", JSON.stringify(st.columns));
          renderHead(); renderBody();
        } }), c)) : [el("span", { class: "muted" }, "No summary or config keys yet.")]));
    }

    // The table's columns in one request; then, from a server that keeps revisions, only the
    // runs created or changed since the last answer (a logdir answers every run each time).
    async function load() {
      const since = st.rev === null ? "" : `&since=${st.rev}`;
      const body = await getJSON(`/runs?fields=config,summary${since}`);
      if (st.stopped) return;
      const rev = typeof body.rev === "number" ? body.rev : null;
      if (since && rev !== null && rev < st.rev) { st.rev = null; return load(); } // another database: start over
      if (since && rev !== null) body.runs.forEach((run) => st.byId.set(run.id, run));
      else st.byId = new Map(body.runs.map((run) => [run.id, run]));
      const changed = !since || rev === null || body.runs.length > 0;
      st.rev = rev;
      if (changed) render();
      setLive(st.runs.some((r) => r.status === "running"));
      st.timer = setTimeout(refresh, 3 * POLL_MS); // new runs, statuses, summaries
    }

    function render() {
      const runs = st.runs = [...st.byId.values()];
      const available = extraColumns(runs);
      if (!st.chosen) st.columns = available.filter((c) => c.startsWith("summary:")).slice(0, 4);
      const projects = [...new Set(runs.map((r) => r.project).filter(Boolean))].sort();
      const chosen = project.value;
      project.replaceChildren(el("option", { value: "" }, "All projects"),
        ...projects.map((p) => el("option", { value: p, selected: p === chosen }, p)));
      renderPicker(available);
      if (!table.tHead || table.tHead.dataset.columns !== st.columns.join("\n")) renderHead(); // keep "select all"
      renderBody();
    }

    function refresh() {
      load().catch((error) => { if (!st.stopped) st.timer = retryLater(error, refresh); });
    }

    renderHead();
    load().catch(failed);
    return { stop() { st.stopped = true; clearTimeout(st.timer); } };
  }

  // -- series ------------------------------------------------------------------------------

  // One metric of one run as the chart needs it: steps, values (NaN/±Inf as numbers), ts.
  class Series {
    constructor(runId, name) {
      this.runId = runId; this.name = name;
      this.steps = []; this.values = []; this.ts = []; this.media = [];
      this.total = 0; this.tail = 0; this.loaded = false;
    }

    add(points) {
      for (const p of points) {
        const v = p.value;
        if (v !== null && typeof v === "object") { this.media.push(p); continue; }
        this.steps.push(p.step); this.ts.push(p.ts);
        this.values.push(typeof v === "string" ? (v in NONFINITE ? NONFINITE[v] : Number(v)) : v);
      }
    }

    get last() {
      const a = this.steps.length ? this.steps[this.steps.length - 1] : -1;
      const b = this.media.length ? this.media[this.media.length - 1].step : -1;
      return Math.max(a, b);
    }

    // The whole series, downsampled by the server when it is long.
    async load() {
      const body = await getJSON(pointsPath(this.runId, this.name, `max_points=${MAX_POINTS}`));
      this.steps = []; this.values = []; this.ts = []; this.media = [];
      this.add(body.points);
      this.total = typeof body.total === "number" ? body.total : body.points.length;
      this.tail = 0; this.loaded = true;
    }

    // Points logged since the last call; a long tail is folded back into a downsampled load.
    async update() {
      if (!this.loaded) return this.load();
      const body = await getJSON(pointsPath(this.runId, this.name, `after_step=${this.last}&limit=10000`));
      this.add(body.points);
      this.total += body.points.length; this.tail += body.points.length;
      if (this.tail > MAX_POINTS || body.points.length === 10000) await this.load();
      return body.points.length;
    }

    // Every point, media included (media metrics are short: page through them all).
    async loadAll() {
      const all = [];
      for (let after = -1; ;) {
        const body = await getJSON(pointsPath(this.runId, this.name, `after_step=${after}&limit=10000`));
        all.push(...body.points);
        if (body.points.length < 10000) break;
        after = body.points[body.points.length - 1].step;
      }
      this.steps = []; this.values = []; this.ts = []; this.media = [];
      this.add(all);
      this.total = all.length; this.loaded = true;
    }
  }

  // Exponential moving average with the start-up bias removed; non-finite values are skipped.
  function smooth(values, weight) {
    if (!weight) return values;
    const out = new Array(values.length);
    let acc = 0, n = 0;
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!isFinite(v)) { out[i] = null; continue; }
      acc = acc * weight + (1 - weight) * v; n++;
      out[i] = acc / (1 - Math.pow(weight, n));
    }
    return out;
  }

  // x of each step through another metric (step_metric): linear between its logged steps.
  function interpolate(steps, xs, at) {
    if (!steps.length) return at.map(() => null);
    const out = new Array(at.length);
    let j = 0;
    for (let i = 0; i < at.length; i++) {
      const s = at[i];
      while (j < steps.length - 1 && steps[j + 1] <= s) j++;
      if (s <= steps[0]) out[i] = s === steps[0] ? xs[0] : null;
      else if (j >= steps.length - 1) out[i] = s === steps[j] ? xs[j] : null;
      else out[i] = xs[j] + ((xs[j + 1] - xs[j]) * (s - steps[j])) / (steps[j + 1] - steps[j]);
    }
    return out;
  }

  function globMatch(pattern, name) {
    const re = new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`);
    return re.test(name);
  }

  function stepMetricOf(run, name) {
    const defs = run.metrics || {};
    if (defs[name] && defs[name].step_metric) return defs[name].step_metric;
    for (const [pattern, def] of Object.entries(defs)) {
      if (def && def.step_metric && pattern.includes("*") && globMatch(pattern, name)) return def.step_metric;
    }
    return null;
  }

  // -- run view ----------------------------------------------------------------------------

  const MEDIA_TYPES = new Set(["image", "audio", "video", "text", "html", "table", "histogram"]);

  function runView(ids) {
    const st = {
      ids, runs: [], names: new Set(), // every metric name of the runs in view
      has: new Map(), // run id -> Set of its metric names
      series: new Map(), // `${runId}\u0000${name}` -> Series
      panels: new Map(), // metric name -> panel object
      x: "step", smoothing: 0, log: false, timer: null, stopped: false, consoleAt: 0,
    };
    const key = (id, name) => `${id}\u0000${name}`;
    const seriesOf = (id, name) => {
      const k = key(id, name);
      if (!st.series.has(k)) st.series.set(k, new Series(id, name));
      return st.series.get(k);
    };

    // Ask the server only for metrics the run has (compared runs rarely have the same ones).
    const fetchSeries = (run, name, how) =>
      (st.has.get(run.id) || new Set()).has(name) ? seriesOf(run.id, name)[how]() : Promise.resolve(0);

    const title = el("h1", { id: "run-title" });
    const legend = el("div", { class: "legend" });
    const xAxis = el("select", { id: "x-axis", onchange: () => { st.x = xAxis.value; redrawAll(); } },
      el("option", { value: "step" }, "Step"), el("option", { value: "time" }, "Wall time"),
      el("option", { value: "step_metric" }, "Step metric (define_metric)"));
    const smoothing = el("input", { id: "smoothing", type: "range", min: 0, max: 0.99, step: 0.01, value: 0 });
    const smoothingText = el("span", { class: "muted" }, "0");
    smoothing.addEventListener("input", () => {
      st.smoothing = Number(smoothing.value); smoothingText.textContent = smoothing.value; redrawAll();
    });
    const logScale = el("input", { id: "log-scale", type: "checkbox", onchange: () => { st.log = logScale.checked; redrawAll(); } });
    const metricFilter = el("input", { id: "metric-filter", type: "text", placeholder: "Filter metrics", oninput: () => applyFilter() });
    const controls = el("div", { class: "controls toolbar" },
      el("label", {}, "x axis", xAxis), el("label", {}, "smoothing", smoothing, smoothingText),
      el("label", {}, logScale, "log scale"), metricFilter);
    const sections = el("div", { id: "sections" });
    const info = el("div", { class: "panels", id: "run-info" });
    show(el("div", { id: "run-view" }, el("div", { id: "run-head" }, title), legend, controls, sections, info));

    const observer = new IntersectionObserver((entries) => {
      for (const entry of entries) {
        const panel = entry.target.__panel;
        if (!panel) continue;
        panel.visible = entry.isIntersecting;
        if (entry.isIntersecting && !panel.started) panel.start().catch((e) => panelFailed(panel, e));
        else if (entry.isIntersecting && panel.stale) panel.refresh().catch((e) => panelFailed(panel, e));
        else if (entry.isIntersecting && panel.dirty) redraw(panel);
      }
    }, { rootMargin: "300px 0px" });

    // One panel that cannot load says so in place; the rest of the page goes on.
    function panelFailed(panel, error) {
      if (error instanceof KeyNeeded) return failed(error);
      panel.node.querySelector(".panel-error")?.remove();
      panel.node.append(el("p", { class: "error panel-error" }, `Could not load: ${error.message}`));
    }

    // ---- chart panels (scalars and histograms)

    function chartPanel(name) {
      const plot = el("div", { class: "plot" });
      const node = el("div", { class: "chart", dataset: { metric: name } }, el("div", { class: "title", title: name }, name), plot);
      const panel = {
        node, name, visible: false, started: false, stale: false,
        async start() {
          panel.started = true;
          const all = await Promise.all(st.runs.map(async (run) => {
            await fetchSeries(run, name, "load");
            return seriesOf(run.id, name);
          }));
          const media = all.find((s) => s.media.length && !s.values.length);
          if (media) { replaceMetric(name, media.media[0].value._type); return; } // the summary did not say
          await loadStepMetrics(name);
          await plotlyReady;
          panel.draw();
        },
        async refresh() {
          panel.stale = false;
          await Promise.all(st.runs.map((run) => fetchSeries(run, name, "update")));
          await loadStepMetrics(name);
          await plotlyReady;
          panel.draw();
        },
        draw() {
          if (st.stopped || !panel.started || !window.Plotly) return;
          const traces = [];
          const counts = [], totals = [];
          let xTitle = "step";
          let anyFinite = false;
          st.runs.forEach((run, i) => {
            const s = seriesOf(run.id, name);
            counts.push(s.values.length); totals.push(s.total);
            const color = COLORS[i % COLORS.length];
            let x = s.steps;
            if (st.x === "time") { x = s.ts.map((t) => new Date(t * 1000)); xTitle = "wall time"; }
            else if (st.x === "step_metric") {
              const sm = stepMetricOf(run, name);
              if (sm && sm !== name && st.series.has(key(run.id, sm))) {
                const ref = st.series.get(key(run.id, sm));
                x = interpolate(ref.steps, ref.values, s.steps); xTitle = sm;
              }
            }
            const finite = s.values.map((v) => (isFinite(v) ? v : null)); // gaps, never zero
            const label = st.runs.length > 1 ? runLabel(run) : name;
            const smoothed = st.smoothing > 0;
            traces.push({ x, y: finite, type: "scatter", mode: s.values.length === 1 ? "markers" : "lines",
              name: label, line: { color, width: smoothed ? 1 : 1.6 }, opacity: smoothed ? 0.3 : 1,
              connectgaps: false, showlegend: false, hovertemplate: `%{y}<extra>${escapeTemplate(label)}</extra>` });
            if (smoothed) {
              traces.push({ x, y: smooth(s.values, st.smoothing), type: "scatter", mode: "lines", name: `${label} (smoothed)`,
                line: { color, width: 1.8 }, connectgaps: true, showlegend: false,
                hovertemplate: `%{y}<extra>${escapeTemplate(label)} smoothed</extra>` });
            }
            // Non-finite values: a marker at the last finite value before them, named in the hover.
            const mx = [], my = [], mt = [];
            let near = s.values.find((v) => isFinite(v)); // before the first finite value: that one
            if (near === undefined) near = null; else anyFinite = true;
            s.values.forEach((v, j) => {
              if (isFinite(v)) { near = v; return; }
              mx.push(x[j]); my.push(near === null ? 0 : near); mt.push(String(v));
            });
            if (mx.length) traces.push({ x: mx, y: my, text: mt, type: "scatter", mode: "markers", showlegend: false,
              marker: { symbol: "x-thin-open", size: 10, color: "#c0392b", line: { width: 2, color: "#c0392b" } },
              hovertemplate: `%{text}<extra>${escapeTemplate(label)}</extra>` });
          });
          const layout = {
            margin: { l: 52, r: 12, t: 8, b: 36 }, height: 270, hovermode: "x unified",
            xaxis: { title: { text: xTitle, font: { size: 11 } }, type: st.x === "time" ? "date" : "linear", automargin: true },
            yaxis: { type: st.log ? "log" : "linear", automargin: true, exponentformat: "e" },
            paper_bgcolor: "#fff", plot_bgcolor: "#fff", uirevision: `${st.x}|${st.log}`,
          };
          if (!anyFinite && counts.some((n) => n > 0)) { // only NaN/inf: no y scale to show, say so
            layout.yaxis.visible = false;
            layout.annotations = [{ text: "no finite value (NaN or inf only)", showarrow: false, xref: "paper", yref: "paper",
              x: 0.5, y: 0.9, font: { color: "#c0392b" } }];
          }
          Plotly.react(plot, traces, layout, { displaylogo: false, responsive: true });
          node.dataset.points = counts.join(",");
          node.dataset.total = totals.join(",");
        },
      };
      return panel;
    }

    // Histograms: "over steps" (one run) is a heat map, step on x, value on y, count as
    // colour; "one step" draws the bars of the step the slider picks, runs overlaid.
    function histogramPanel(name) {
      const plot = el("div", { class: "plot" });
      const slider = el("input", { class: "media-step", type: "range", min: 0, max: 0, value: 0, step: 1 });
      const stepText = el("span", { class: "step-text" });
      const view = el("select", { class: "hist-view", title: "histogram view" },
        el("option", { value: "over" }, "over steps"), el("option", { value: "step" }, "one step"));
      const stepRow = el("div", { class: "step-row" }, view, el("span", { class: "slider-part" }, "step"), slider, stepText);
      const node = el("div", { class: "chart", dataset: { metric: name, type: "histogram" } },
        el("div", { class: "title", title: name }, name), stepRow, plot);
      let follow = true;
      slider.addEventListener("input", () => { follow = Number(slider.value) === Number(slider.max); panel.draw(); });
      view.addEventListener("change", () => panel.draw());
      const panel = {
        node, name, visible: false, started: false, stale: false,
        async start() { panel.started = true; await panel.refresh(); },
        async refresh() {
          panel.stale = false;
          await Promise.all(st.runs.map((run) => fetchSeries(run, name, "loadAll")));
          await plotlyReady;
          panel.draw();
        },
        draw() {
          if (st.stopped || !window.Plotly) return;
          const steps = [...new Set(st.runs.flatMap((run) => seriesOf(run.id, name).media.map((p) => p.step)))].sort((a, b) => a - b);
          const over = view.value === "over" && st.runs.length === 1 && steps.length > 1;
          view.hidden = st.runs.length !== 1 || steps.length < 2;
          for (const part of [slider, stepText, stepRow.querySelector(".slider-part")]) part.hidden = over;
          slider.max = Math.max(0, steps.length - 1);
          if (follow) slider.value = slider.max;
          const step = steps[Number(slider.value)];
          stepText.textContent = step === undefined ? "" : String(step);
          const layout = { margin: { l: 52, r: 12, t: 8, b: 30 }, height: 240 };
          let traces;
          if (over) {
            traces = [heatmap(seriesOf(st.runs[0].id, name).media.filter((p) => p.value.bins))];
            layout.xaxis = { title: { text: "step", font: { size: 11 } } };
          } else {
            traces = [];
            st.runs.forEach((run, i) => {
              const p = seriesOf(run.id, name).media.filter((q) => q.step <= step).pop();
              if (!p || !p.value.bins) return;
              const { bins, counts } = p.value;
              traces.push({ type: "bar", x: counts.map((_, j) => (bins[j] + bins[j + 1]) / 2), y: counts,
                width: counts.map((_, j) => bins[j + 1] - bins[j]), name: runLabel(run), opacity: st.runs.length > 1 ? 0.55 : 0.9,
                marker: { color: COLORS[i % COLORS.length] }, showlegend: false });
            });
            Object.assign(layout, { barmode: "overlay", bargap: 0, yaxis: { type: st.log ? "log" : "linear" } });
          }
          Plotly.react(plot, traces, layout, { displaylogo: false, responsive: true });
          node.dataset.points = st.runs.map((run) => seriesOf(run.id, name).media.length).join(",");
          node.dataset.total = node.dataset.points;
        },
      };
      return panel;
    }

    // Each step's counts moved onto one value grid (by bin centre), so the steps line up.
    function heatmap(points, rows = 48) {
      let lo = Infinity, hi = -Infinity;
      for (const p of points) { lo = Math.min(lo, p.value.bins[0]); hi = Math.max(hi, p.value.bins[p.value.bins.length - 1]); }
      if (!(hi > lo)) hi = lo + 1;
      const z = Array.from({ length: rows }, () => new Array(points.length).fill(0));
      points.forEach((p, j) => {
        const { bins, counts } = p.value;
        counts.forEach((c, k) => {
          const r = Math.min(rows - 1, Math.floor((((bins[k] + bins[k + 1]) / 2 - lo) / (hi - lo)) * rows));
          z[r][j] += c;
        });
      });
      const y = Array.from({ length: rows }, (_, r) => lo + ((r + 0.5) * (hi - lo)) / rows);
      return { type: "heatmap", x: points.map((p) => p.step), y, z, colorscale: [[0, "#ffffff"], [0.15, "#c6d7f5"], [1, "#1d3f8f"]], showscale: false,
        hovertemplate: "step %{x}<br>value %{y:.4g}<br>count %{z}<extra></extra>" };
    }

    // ---- media panels (image, audio, video, text, html, table)

    const blobs = new Map(); // `${runId}\u0000${path}` -> Promise of an object URL
    function fileURL(runId, path) {
      const k = key(runId, path);
      if (!blobs.has(k)) blobs.set(k, request(filePath(runId, path)).then((r) => r.blob()).then((b) => URL.createObjectURL(b)));
      return blobs.get(k);
    }
    const fileText = (runId, path) => request(filePath(runId, path)).then((r) => r.text());

    async function mediaElement(runId, value) {
      const type = value._type;
      if (type === "text") return el("pre", { class: "wrap" }, value.text || "");
      if (type === "image" || (type === "video" && value.format === "gif")) {
        return el("img", { src: await fileURL(runId, value.path), alt: value.caption || "", width: value.width, height: value.height });
      }
      if (type === "audio") return el("audio", { controls: true, src: await fileURL(runId, value.path) });
      if (type === "video") return el("video", { controls: true, src: await fileURL(runId, value.path) });
      if (type === "html") {
        // No allow-scripts, no allow-same-origin: the logged page renders inert, in an opaque origin.
        const frame = el("iframe", { sandbox: "", referrerpolicy: "no-referrer", title: value.caption || "html" });
        // ...and it fetches nothing: no tracking pixel, no asset from the internet.
        frame.srcdoc = `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src data:; `
          + `style-src 'unsafe-inline'">${await fileText(runId, value.path)}`;
        return frame;
      }
      if (type === "table") {
        const data = JSON.parse(await fileText(runId, value.path));
        const rows = (data.data || []).slice(0, 1000);
        return el("div", { class: "table-wrap" }, el("table", { class: "grid" },
          el("thead", {}, el("tr", {}, (data.columns || []).map((c) => el("th", {}, String(c))))),
          el("tbody", {}, rows.map((row) => el("tr", {}, row.map((cell) => el("td", {}, fmtNumber(cell))))))),
          (data.data || []).length > rows.length ? el("p", { class: "muted" }, `first 1000 of ${data.data.length} rows`) : null);
      }
      return el("pre", {}, JSON.stringify(value, null, 1));
    }

    function mediaPanel(name, type) {
      const body = el("div", { class: "body" });
      const node = el("div", { class: "media", dataset: { metric: name, type } }, el("div", { class: "title", title: name }, name), body);
      const parts = new Map(); // run id -> {slider, stepText, holder, caption, follow, shown}
      const panel = {
        node, name, visible: false, started: false, stale: false,
        async start() { panel.started = true; await panel.refresh(); },
        async refresh() {
          panel.stale = false;
          await Promise.all(st.runs.map((run) => fetchSeries(run, name, "loadAll")));
          await Promise.all(st.runs.filter((run) => st.has.get(run.id)?.has(name)).map((run) => panel.drawRun(run)));
          node.dataset.points = st.runs.map((run) => seriesOf(run.id, name).media.length).join(",");
          node.dataset.total = node.dataset.points;
        },
        draw() {},
        async drawRun(run) {
          const points = seriesOf(run.id, name).media;
          let part = parts.get(run.id);
          if (!part) {
            const slider = el("input", { class: "media-step", type: "range", min: 0, max: 0, step: 1, value: 0 });
            part = { slider, stepText: el("span", { class: "step-text" }), holder: el("div", { class: "holder" }),
              caption: el("div", { class: "caption muted" }), follow: true, shown: null };
            slider.addEventListener("input", () => {
              part.follow = Number(slider.value) === Number(slider.max);
              panel.drawRun(run).catch(failed);
            });
            parts.set(run.id, part);
            body.append(el("div", { class: "media-run", dataset: { runId: run.id } },
              st.runs.length > 1 ? el("div", { class: "run-label" }, runLabel(run)) : null,
              el("div", { class: "step-row" }, "step", slider, part.stepText), part.holder, part.caption));
          }
          part.slider.max = Math.max(0, points.length - 1);
          if (part.follow) part.slider.value = part.slider.max;
          const point = points[Number(part.slider.value)];
          if (!point) { part.holder.replaceChildren(el("span", { class: "muted" }, "nothing logged")); return; }
          part.stepText.textContent = String(point.step);
          const id = `${point.step}`;
          if (part.shown === id) return;
          part.shown = id;
          const node = await mediaElement(run.id, point.value);
          if (part.shown === id) {
            part.holder.replaceChildren(node);
            part.caption.textContent = point.value.caption || "";
          }
        },
      };
      return panel;
    }

    // ---- layout

    function kindOf(name) {
      for (const run of st.runs) {
        const v = (run.summary || {})[name];
        if (v && typeof v === "object" && MEDIA_TYPES.has(v._type)) return v._type;
      }
      return "scalar";
    }

    function addMetric(name, kind) {
      const type = kind || kindOf(name);
      const panel = type === "scalar" ? chartPanel(name) : type === "histogram" ? histogramPanel(name) : mediaPanel(name, type);
      st.panels.set(name, panel);
      panel.node.__panel = panel;
      const section = sectionOf(name);
      let details = [...sections.children].find((d) => d.dataset.section === section);
      if (!details) {
        details = el("details", { class: "section", open: true, dataset: { section } },
          el("summary", {}, section || "Charts", " ", el("span", { class: "count" })), el("div", { class: "charts" }));
        const after = [...sections.children].find((d) => d.dataset.section.localeCompare(section) > 0 && d.dataset.section !== "");
        if (section === "") sections.prepend(details);
        else sections.insertBefore(details, after || null);
      }
      const grid = details.querySelector(".charts");
      const next = [...grid.children].find((c) => c.dataset.metric.localeCompare(name) > 0);
      grid.insertBefore(panel.node, next || null);
      details.querySelector(".count").textContent = `(${grid.children.length})`;
      observer.observe(panel.node);
    }

    function replaceMetric(name, type) {
      const old = st.panels.get(name);
      observer.unobserve(old.node);
      const panel = MEDIA_TYPES.has(type) ? (type === "histogram" ? histogramPanel(name) : mediaPanel(name, type)) : chartPanel(name);
      st.panels.set(name, panel);
      panel.node.__panel = panel;
      old.node.replaceWith(panel.node);
      observer.observe(panel.node);
    }

    async function loadStepMetrics(name) {
      if (st.x !== "step_metric") return;
      await Promise.all(st.runs.map(async (run) => {
        const sm = stepMetricOf(run, name);
        if (!sm || sm === name || !st.names.has(sm)) return;
        if (!seriesOf(run.id, sm).loaded) await fetchSeries(run, sm, "load");
      }));
    }

    // Controls redraw the charts in view now and the others when they scroll into view:
    // with a hundred charts, redrawing all at once would freeze the page.
    function redrawAll() {
      for (const panel of st.panels.values()) {
        if (!panel.started) continue;
        if (!panel.visible) { panel.dirty = true; continue; }
        redraw(panel);
      }
    }

    function redraw(panel) {
      panel.dirty = false;
      if (st.x === "step_metric") loadStepMetrics(panel.name).then(() => panel.draw()).catch((e) => panelFailed(panel, e));
      else panel.draw();
    }

    function applyFilter() {
      const text = metricFilter.value.trim().toLowerCase();
      for (const panel of st.panels.values()) panel.node.hidden = !!text && !panel.name.toLowerCase().includes(text);
    }

    function renderHeader() {
      title.textContent = st.runs.map(runLabel).join(" vs ");
      document.title = `${title.textContent} - swanlog`;
      legend.replaceChildren(...st.runs.map((run, i) => el("span", { class: "run-legend", dataset: { runId: run.id } },
        el("span", { class: "swatch", style: `background:${COLORS[i % COLORS.length]}` }),
        el("span", { class: "wrap", title: run.id }, runLabel(run)),
        statusNode(run.status),
        el("span", { class: "muted" }, [run.project, fmtTime(run.created), fmtDuration(run.duration)].filter(Boolean).join(" · ")))));
    }

    function kvTable(id, entries) {
      return el("table", { id, class: "grid kv" }, el("tbody", {}, entries.length
        ? entries.map(([k, v]) => el("tr", {}, el("td", { class: "wrap" }, k), el("td", { class: "wrap" }, fmtValue(v))))
        : el("tr", {}, el("td", { class: "muted" }, "empty"))));
    }

    // env.json (docs/format.md) as rows of text: where and how the run ran, and ran before.
    function environment(env, host) {
      const sys = env.system || {}, py = env.python || {}, cmd = env.command || {}, git = env.git;
      const gb = (bytes) => (typeof bytes === "number" ? `${(bytes / 2 ** 30).toFixed(1)} GB` : null);
      const join = (...parts) => parts.filter((p) => p !== null && p !== undefined && p !== "").join(", ");
      const rows = [
        ["host", sys.hostname || host],
        ["os", join(sys.distro || sys.os, sys.kernel && `kernel ${sys.kernel}`)],
        ["cpu", join(sys.cpu_model, sys.cpu_count && `${sys.cpu_available || sys.cpu_count} of ${sys.cpu_count} cores`)],
        ["memory", gb(sys.memory_total)],
        ["gpu", (env.gpu || []).map((g) => join(g.name, gb(g.memory_total), g.driver && `driver ${g.driver}`)).join("; ")],
        ["python", join(py.version, py.executable)],
        ["command", Array.isArray(cmd.argv) ? cmd.argv.join(" ") : null],
        ["cwd", cmd.cwd],
        ["git", git && join(git.commit && git.commit.slice(0, 12), git.branch, git.dirty ? "dirty" : null, git.remote)],
        ["started", env.started],
        ["earlier sessions", (env.previous || []).map((s) => join(s.started, (s.system || {}).hostname)).join("; ")],
      ];
      return rows.filter(([, v]) => v !== undefined && v !== null && v !== "");
    }

    async function renderInfo() {
      if (st.runs.length !== 1) { info.replaceChildren(); return; }
      const run = st.runs[0];
      const envEntries = environment(run.env || {}, run.host);
      const consolePre = el("pre", { id: "run-console" }, "");
      info.replaceChildren(
        el("div", { class: "panel" }, el("h3", {}, "Config"), kvTable("run-config", flatten(run.config))),
        el("div", { class: "panel" }, el("h3", {}, "Summary"), kvTable("run-summary", Object.entries(run.summary || {}))),
        el("div", { class: "panel" }, el("h3", {}, "Environment"), kvTable("run-env", envEntries)),
        el("div", { class: "panel", style: "grid-column: 1 / -1" }, el("h3", {}, "Console"), consolePre));
      await refreshConsole(consolePre);
    }

    async function refreshConsole(pre) {
      const target = pre || document.getElementById("run-console");
      if (!target || st.runs.length !== 1) return;
      st.consoleAt = Date.now();
      try {
        const text = await fileText(st.runs[0].id, "console.log");
        const lines = text.split("\n");
        target.textContent = lines.length > 2000 ? `… ${lines.length - 2000} earlier lines\n${lines.slice(-2000).join("\n")}` : text;
      } catch (error) {
        if (error instanceof KeyNeeded) throw error;
        target.textContent = error.status === 404 ? "(no console output recorded)" : `(could not load: ${error.message})`;
      }
    }

    async function loadRuns() {
      return Promise.all(st.ids.map((id) => getJSON(runPath(id))));
    }

    async function loadNames() {
      const lists = await Promise.all(st.runs.map((run) => getJSON(`${runPath(run.id)}/metrics`)));
      st.runs.forEach((run, i) => st.has.set(run.id, new Set(lists[i].metrics)));
      const added = [];
      for (const name of [...new Set(lists.flatMap((l) => l.metrics))].sort()) {
        if (!st.names.has(name)) { st.names.add(name); added.push(name); }
      }
      return added;
    }

    async function tick() {
      if (st.stopped) return;
      st.runs = await loadRuns();
      renderHeader();
      for (const name of await loadNames()) addMetric(name);
      const shown = [];
      for (const panel of st.panels.values()) {
        if (!panel.started) continue;
        if (panel.visible) shown.push(panel.refresh());
        else panel.stale = true; // refreshed when scrolled back into view
      }
      await Promise.all(shown);
      const summary = document.getElementById("run-summary"); // a live run's summary moves too
      if (summary && st.runs.length === 1) summary.replaceWith(kvTable("run-summary", Object.entries(st.runs[0].summary || {})));
      // The whole file: every 5 s, and once more when the run has ended.
      if (Date.now() - st.consoleAt > 5 * POLL_MS || !st.runs.some((r) => r.status === "running")) await refreshConsole();
      schedule();
    }

    function schedule() {
      const running = st.runs.some((r) => r.status === "running");
      setLive(running);
      if (running && !st.stopped) st.timer = setTimeout(refresh, POLL_MS);
    }

    function refresh() {
      tick().catch((error) => { if (!st.stopped) st.timer = retryLater(error, refresh); });
    }

    (async () => {
      st.runs = await loadRuns();
      renderHeader();
      const names = await loadNames();
      if (!names.length) sections.append(el("p", { class: "muted", id: "no-metrics" }, "No metrics logged yet."));
      for (const name of names) addMetric(name);
      await renderInfo();
      schedule();
    })().catch(failed);

    return {
      stop() {
        st.stopped = true; clearTimeout(st.timer); observer.disconnect();
        for (const url of blobs.values()) url.then((u) => URL.revokeObjectURL(u)).catch(() => {});
      },
    };
  }

  // Text inside a Plotly hover template: its %{...} and HTML-ish characters are neutralised.
  function escapeTemplate(text) {
    return String(text).replace(/[&<>"'%{}]/g, (c) => `&#${c.charCodeAt(0)};`);
  }

  // -- routing -----------------------------------------------------------------------------

  function setLive(on) {
    document.getElementById("live-indicator").hidden = !on;
  }

  // A refresh that failed (the server restarting, a network blip) keeps the page as it is,
  // says so in the header and tries again; a key problem still asks for the key.
  function retryLater(error, again) {
    if (error instanceof KeyNeeded) return failed(error);
    const note = document.getElementById("conn-status");
    note.textContent = `refresh failed (${error.message}); retrying`;
    note.hidden = false;
    return setTimeout(() => {
      note.hidden = true;
      again();
    }, 3 * POLL_MS);
  }

  function route() {
    if (view) view.stop();
    view = null;
    setLive(false);
    document.getElementById("conn-status").hidden = true;
    document.getElementById("forget-key").hidden = !sessionStorage.getItem(KEY_ITEM);
    const hash = location.hash.replace(/^#/, "");
    const match = hash.match(/^\/runs\/(.+)$/);
    if (match) {
      const ids = match[1].split(",").map(decodeURIComponent).filter(Boolean);
      view = runView(ids);
    } else {
      document.title = "swanlog";
      view = runsView();
    }
  }

  document.getElementById("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY_ITEM);
    route();
  });
  window.addEventListener("hashchange", route);
  route();
})();
