// locusta's web UI: a page over Locust's web API (see crates/locusta-web/src/api.rs).
// Framework-free: it polls the JSON endpoints and re-renders plain DOM; charts use uPlot.
import "uplot/dist/uPlot.min.css";
import "./style.css";
import { Charts } from "./charts";
import { $, api, esc, fmtMs, fmtNum, postForm, toast } from "./util";

interface StatRow {
  method: string;
  name: string;
  num_requests: number;
  num_failures: number;
  min_response_time: number;
  max_response_time: number;
  exact_min_response_time: number;
  exact_max_response_time: number;
  current_rps: number;
  current_fail_per_sec: number;
  avg_response_time: number;
  median_response_time: number;
  total_rps: number;
  total_fail_per_sec: number;
  avg_content_length: number;
  [key: string]: number | string;
}

interface ErrorRow { method: string; name: string; error: string; occurrences: number }
interface Worker { id: string; state: string; user_count: number; cpu_usage: number; memory_usage: number }

interface StatsReport {
  stats: StatRow[];
  errors: ErrorRow[];
  total_rps: number;
  fail_ratio: number;
  current_rps: number;
  state: string;
  user_count: number;
  workers?: Worker[];
  worker_count?: number;
}

export interface UiInfo {
  locustfile: string;
  version: string;
  num_users: number | null;
  spawn_rate: number | null;
  run_time: number | null;
  host: string;
  is_host_required: boolean;
  user_classes: string[];
  shape_class: string | null;
  class_picker: boolean;
  extra_options: { name: string; default_value: string; help: string; choices: string[] | null; is_secret: boolean; has_value: boolean }[];
  stats_history_enabled: boolean;
  percentiles_to_statistics: number[];
  history_percentiles: number[];
  max_rows: number;
  has_report: boolean;
}

const REFRESH_MS = 1500;

// Columns of the statistics table: Locust's, in Locust's order.
const COLUMNS: { key: string; title: string; fmt: (r: StatRow) => string }[] = [
  { key: "method", title: "Type", fmt: (r) => esc(r.method) },
  { key: "name", title: "Name", fmt: (r) => esc(r.name) },
  { key: "num_requests", title: "# Requests", fmt: (r) => String(r.num_requests) },
  { key: "num_failures", title: "# Fails", fmt: (r) => String(r.num_failures) },
  { key: "median_response_time", title: "Median (ms)", fmt: (r) => fmtMs(r.median_response_time) },
  { key: "response_time_percentile_0.95", title: "95%ile (ms)", fmt: (r) => fmtMs(Number(r["response_time_percentile_0.95"])) },
  { key: "response_time_percentile_0.99", title: "99%ile (ms)", fmt: (r) => fmtMs(Number(r["response_time_percentile_0.99"])) },
  { key: "avg_response_time", title: "Average (ms)", fmt: (r) => fmtMs(r.avg_response_time) },
  { key: "min_response_time", title: "Min (ms)", fmt: (r) => fmtMs(r.exact_min_response_time ?? r.min_response_time) },
  { key: "max_response_time", title: "Max (ms)", fmt: (r) => fmtMs(r.exact_max_response_time ?? r.max_response_time) },
  { key: "avg_content_length", title: "Average size (bytes)", fmt: (r) => fmtNum(r.avg_content_length, 0) },
  { key: "current_rps", title: "Current RPS", fmt: (r) => fmtNum(r.current_rps, 1) },
  { key: "current_fail_per_sec", title: "Current Failures/s", fmt: (r) => fmtNum(r.current_fail_per_sec, 1) },
];

const state = {
  info: null as UiInfo | null,
  sort: null as { key: string; order: "asc" | "desc" } | null,
  search: "",
  tab: "stats",
  last: null as StatsReport | null,
  charts: null as Charts | null,
};

// ---- theme ----------------------------------------------------------------
function applyTheme(theme: string) {
  document.documentElement.dataset.theme = theme;
  localStorage.setItem("locusta-theme", theme);
  state.charts?.redraw();
}
const savedTheme = localStorage.getItem("locusta-theme");
applyTheme(savedTheme ?? (matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light"));
$("btn-theme").addEventListener("click", () =>
  applyTheme(document.documentElement.dataset.theme === "dark" ? "light" : "dark"),
);

// ---- tabs -----------------------------------------------------------------
function showTab(tab: string) {
  state.tab = tab;
  document.querySelectorAll<HTMLButtonElement>("#tabs button").forEach((b) =>
    b.classList.toggle("active", b.dataset.tab === tab),
  );
  document.querySelectorAll<HTMLElement>(".tab-panel").forEach((p) =>
    p.classList.toggle("active", p.id === `tab-${tab}`),
  );
  location.hash = tab;
  void refreshTab();
}
document.querySelectorAll<HTMLButtonElement>("#tabs button").forEach((b) =>
  b.addEventListener("click", () => showTab(b.dataset.tab ?? "stats")),
);

// ---- statistics table -----------------------------------------------------
function renderStatsHead() {
  const head = $("stats-table").querySelector("thead")!;
  head.innerHTML =
    "<tr>" +
    COLUMNS.map((c) => {
      const cls = state.sort?.key === c.key ? `sorted-${state.sort.order}` : "";
      return `<th data-key="${c.key}" class="${cls}">${c.title}</th>`;
    }).join("") +
    "</tr>";
  head.querySelectorAll<HTMLElement>("th").forEach((th) =>
    th.addEventListener("click", () => {
      const key = th.dataset.key!;
      const numeric = key !== "name" && key !== "method";
      if (state.sort?.key === key) {
        state.sort = { key, order: state.sort.order === "asc" ? "desc" : "asc" };
      } else {
        // Numbers start with the biggest (the slowest endpoint first), text A to Z.
        state.sort = { key, order: numeric ? "desc" : "asc" };
      }
      renderStatsHead();
      void refreshStats();
    }),
  );
}

function rowHtml(r: StatRow): string {
  return "<tr>" + COLUMNS.map((c) => `<td${c.key === "name" ? ' class="name"' : ""}>${c.fmt(r)}</td>`).join("") + "</tr>";
}

function renderStats(rep: StatsReport, entries: number, matching: number) {
  const table = $("stats-table");
  const rows = rep.stats.slice(0, -1);
  const total = rep.stats[rep.stats.length - 1];
  table.querySelector("tbody")!.innerHTML = rows.map(rowHtml).join("");
  table.querySelector("tfoot")!.innerHTML = total ? rowHtml(total) : "";
  const max = state.info?.max_rows ?? 500;
  let note = "";
  if (matching > rows.length) {
    note = `Showing ${rows.length} of ${matching} ${state.search ? "matching " : ""}endpoints (at most ${max}); sort or search to find the others.`;
  } else if (state.search) {
    note = `${matching} of ${entries} endpoints match.`;
  }
  $("stats-note").textContent = note;
}

let searchTimer: number | undefined;
$<HTMLInputElement>("stats-search").addEventListener("input", (e) => {
  state.search = (e.target as HTMLInputElement).value;
  clearTimeout(searchTimer);
  searchTimer = window.setTimeout(() => void refreshStats(), 250);
});

// ---- navbar ---------------------------------------------------------------
function renderNav(rep: StatsReport) {
  $("nav-state").textContent = rep.state.toUpperCase();
  $("nav-users").textContent = String(rep.user_count);
  $("nav-rps").textContent = fmtNum(rep.current_rps ?? rep.total_rps, 1);
  $("nav-fail").textContent = `${Math.round((rep.fail_ratio ?? 0) * 100)}%`;
  const workers = rep.worker_count ?? 0;
  $("nav-workers-item").hidden = workers === 0;
  $("nav-workers").textContent = String(workers);
  $("tab-workers").hidden = workers === 0 && !(rep.workers && rep.workers.length);
  const running = rep.state === "running" || rep.state === "spawning";
  $("btn-stop").hidden = !running;
  $("btn-edit").hidden = !running;
  $("btn-new").hidden = running;
  $("btn-reset").hidden = false;
}

// ---- polling --------------------------------------------------------------
async function refreshStats() {
  const params = new URLSearchParams();
  if (state.sort) {
    params.set("sort", state.sort.key);
    params.set("order", state.sort.order);
  }
  if (state.search) params.set("q", state.search);
  const res = await fetch(`./stats/requests${params.toString() ? "?" + params : ""}`);
  if (!res.ok) return;
  const rep = (await res.json()) as StatsReport;
  state.last = rep;
  renderNav(rep);
  renderStats(
    rep,
    Number(res.headers.get("x-locusta-entries") ?? rep.stats.length - 1),
    Number(res.headers.get("x-locusta-matching") ?? rep.stats.length - 1),
  );
  if (state.tab === "failures") renderFailures(rep);
  if (state.tab === "workers") renderWorkers(rep);
  state.charts?.setEndpoints(rep.stats.slice(0, -1));
}

function renderFailures(rep: StatsReport) {
  const rows = [...rep.errors].sort((a, b) => b.occurrences - a.occurrences);
  $("failures-table").querySelector("tbody")!.innerHTML = rows
    .map((e) => `<tr><td>${e.occurrences}</td><td>${esc(e.method)}</td><td>${esc(e.name)}</td><td>${esc(e.error)}</td></tr>`)
    .join("");
}

function renderWorkers(rep: StatsReport) {
  $("workers-table").querySelector("tbody")!.innerHTML = (rep.workers ?? [])
    .map(
      (w) =>
        `<tr><td>${esc(w.id)}</td><td>${esc(w.state)}</td><td>${w.user_count}</td><td>${fmtNum(w.cpu_usage, 1)}%</td><td>${fmtNum(w.memory_usage / 1048576, 1)} MB</td></tr>`,
    )
    .join("");
}

async function refreshExceptions() {
  const data = await api<{ exceptions: { count: number; msg: string; traceback: string; nodes: string }[] }>("./exceptions");
  $("exceptions-table").querySelector("tbody")!.innerHTML = data.exceptions
    .map((e) => `<tr><td>${e.count}</td><td>${esc(e.msg)}</td><td><pre class="tb">${esc(e.traceback)}</pre></td><td>${esc(e.nodes)}</td></tr>`)
    .join("");
}

type Ratio = Record<string, { ratio: number; tasks?: Ratio }>;
function ratioHtml(r: Ratio): string {
  return (
    "<ul>" +
    Object.entries(r)
      .map(([name, v]) => `<li>${(v.ratio * 100).toFixed(1)}% ${esc(name)}${v.tasks ? ratioHtml(v.tasks) : ""}</li>`)
      .join("") +
    "</ul>"
  );
}
async function refreshRatio() {
  const data = await api<{ per_class: Ratio; total: Ratio }>("./tasks");
  $("ratio-per-class").innerHTML = ratioHtml(data.per_class);
  $("ratio-total").innerHTML = ratioHtml(data.total);
}

async function refreshLogs() {
  const data = await api<{ master: string[]; workers: Record<string, string[]> }>("./logs");
  const level = (l: string) => (/\/(WARNING|ERROR|CRITICAL)\//.exec(l)?.[1] ?? "");
  const lines = data.master.map((l) => `<span class="${level(l)}">${esc(l)}</span>`);
  for (const [w, ls] of Object.entries(data.workers)) {
    lines.push(`\n== ${esc(w)} ==`, ...ls.map((l) => `<span class="${level(l)}">${esc(l)}</span>`));
  }
  const el = $("logs");
  const atBottom = el.scrollTop + el.clientHeight >= el.scrollHeight - 5;
  el.innerHTML = lines.join("\n");
  if (atBottom) el.scrollTop = el.scrollHeight;
}

async function refreshTab() {
  try {
    if (state.tab === "exceptions") await refreshExceptions();
    if (state.tab === "ratio") await refreshRatio();
    if (state.tab === "logs") await refreshLogs();
    if (state.tab === "charts") await state.charts?.refresh();
    if (state.tab === "failures" && state.last) renderFailures(state.last);
    if (state.tab === "workers" && state.last) renderWorkers(state.last);
  } catch {
    // The next poll tries again.
  }
}

async function poll() {
  try {
    await refreshStats();
    await refreshTab();
  } catch {
    $("nav-state").textContent = "DISCONNECTED";
  }
  window.setTimeout(() => void poll(), REFRESH_MS);
}

// ---- start, edit, stop, reset ---------------------------------------------
function openStart() {
  const info = state.info;
  if (!info) return;
  $<HTMLInputElement>("f-users").value = String(info.num_users ?? 1);
  $<HTMLInputElement>("f-rate").value = String(info.spawn_rate ?? 1);
  $<HTMLInputElement>("f-host").value = $("nav-host").textContent || info.host;
  $<HTMLInputElement>("f-host").required = info.is_host_required;
  $<HTMLInputElement>("f-runtime").value = info.run_time ? `${info.run_time}s` : "";
  $("start-error").hidden = true;
  $<HTMLDialogElement>("start-dialog").showModal();
}

function buildAdvanced(info: UiInfo) {
  $("f-classes").innerHTML = info.user_classes.length
    ? `<p>User classes</p><div class="checks">${info.user_classes
        .map(
          (c) =>
            `<label><input type="checkbox" name="user_classes" value="${esc(c)}" checked${info.class_picker ? "" : " disabled"} /> ${esc(c)}</label>`,
        )
        .join("")}</div>`
    : "";
  $("f-shape").innerHTML = info.shape_class
    ? `<label>Shape class <select name="shape_class"><option>${esc(info.shape_class)}</option></select></label>`
    : "";
  $("f-extra").innerHTML = info.extra_options
    .map((o) => {
      const input = o.choices
        ? `<select name="${esc(o.name)}">${o.choices.map((c) => `<option${c === o.default_value ? " selected" : ""}>${esc(c)}</option>`).join("")}</select>`
        : o.is_secret
          ? // the server never sends a secret's value: left empty, the field keeps it
            `<input name="${esc(o.name)}" type="password" data-secret="1" autocomplete="off" placeholder="${o.has_value ? "(set; leave empty to keep)" : ""}" />`
          : `<input name="${esc(o.name)}" type="text" value="${esc(o.default_value)}" />`;
      return `<label>${esc(o.name)}${o.help ? ` <span class="note">${esc(o.help)}</span>` : ""}${input}</label>`;
    })
    .join("");
  if (info.shape_class) {
    // A shape decides users and rate.
    $<HTMLInputElement>("f-users").required = false;
    $<HTMLInputElement>("f-rate").required = false;
  }
}

$("btn-new").addEventListener("click", openStart);
$("start-cancel").addEventListener("click", () => $<HTMLDialogElement>("start-dialog").close());
$("start-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const form = ev.target as HTMLFormElement;
  const data = new URLSearchParams();
  const keepSecrets = new Set(
    Array.from(form.querySelectorAll<HTMLInputElement>("input[data-secret]"))
      .filter((i) => i.value === "")
      .map((i) => i.name),
  );
  for (const [k, v] of new FormData(form)) {
    // Classes are chosen only with --class-picker; otherwise every class runs.
    if ((k === "user_classes" && !state.info?.class_picker) || keepSecrets.has(k)) continue;
    data.append(k, String(v));
  }
  const res = await postForm("./swarm", data);
  if (!res.success) {
    $("start-error").textContent = res.message;
    $("start-error").hidden = false;
    return;
  }
  $<HTMLDialogElement>("start-dialog").close();
  $("nav-host").textContent = res.host ?? "";
  state.charts?.clear();
  void refreshStats();
});

$("btn-edit").addEventListener("click", () => {
  $<HTMLInputElement>("e-users").value = String(state.last?.user_count ?? state.info?.num_users ?? 1);
  $<HTMLInputElement>("e-rate").value = String(state.info?.spawn_rate ?? 1);
  $("edit-error").hidden = true;
  $<HTMLDialogElement>("edit-dialog").showModal();
});
$("edit-cancel").addEventListener("click", () => $<HTMLDialogElement>("edit-dialog").close());
$("edit-form").addEventListener("submit", async (ev) => {
  ev.preventDefault();
  const data = new URLSearchParams();
  data.set("user_count", $<HTMLInputElement>("e-users").value);
  data.set("spawn_rate", $<HTMLInputElement>("e-rate").value);
  const res = await postForm("./swarm", data);
  if (!res.success) {
    $("edit-error").textContent = res.message;
    $("edit-error").hidden = false;
    return;
  }
  $<HTMLDialogElement>("edit-dialog").close();
  void refreshStats();
});

$("btn-stop").addEventListener("click", async () => {
  await fetch("./stop", { method: "POST" });
  toast("Stopping the test");
  void refreshStats();
});
$("btn-reset").addEventListener("click", async () => {
  await fetch("./stats/reset", { method: "POST" });
  state.charts?.clear();
  toast("Statistics reset");
  void refreshStats();
});

// ---- start-up ---------------------------------------------------------------
async function init() {
  const info = await api<UiInfo>("./ui/info");
  state.info = info;
  document.title = `locusta: ${info.locustfile}`;
  $("nav-host").textContent = info.host;
  buildAdvanced(info);
  $("dl-history").hidden = !info.stats_history_enabled;
  $("dl-report").hidden = !info.has_report;
  $("dl-note").textContent = info.stats_history_enabled
    ? ""
    : "The full history CSV needs --csv and --csv-full-history.";
  state.charts = new Charts(info.history_percentiles);
  renderStatsHead();
  const hash = location.hash.replace("#", "");
  showTab(document.getElementById(`tab-${hash}`) ? hash : "stats");
  await refreshStats();
  if (state.last?.state === "ready") openStart();
  void poll();
}
void init();
