// The Charts tab: requests and failures per second, response-time percentiles and users over
// time, drawn with uPlot from the history the server keeps (so a reload loses nothing).
import uPlot from "uplot";
import { $, api, esc } from "./util";

type Columns = Record<string, (number | null)[]>;

const COLORS = {
  rps: "#2e7d32",
  fail: "#c62828",
  p50: "#1565c0",
  p95: "#ef6c00",
  extra: "#8e24aa",
  users: "#00838f",
};

function pctKey(p: number): string {
  return `response_time_percentile_${p}`;
}

function pctLabel(p: number): string {
  return `${+(p * 100).toFixed(2)}th percentile`;
}

function fmtValue(v: number): string {
  return Math.abs(v) >= 100 ? v.toFixed(0) : String(+v.toFixed(2));
}

// The newest value of a series (its last non-empty point).
function latest(column: uPlot.AlignedData[number]): number | null {
  for (let i = column.length - 1; i >= 0; i--) {
    const v = column[i];
    if (v !== null && v !== undefined) return v;
  }
  return null;
}

// Legend values: off the chart (where uPlot shows "--") each series' latest value, on it the
// values under the cursor.
const timeValue: uPlot.Series.Value = (_u, v, _s, idx) =>
  idx == null || v == null ? "latest" : new Date(v * 1000).toLocaleTimeString();

function seriesValue(unit: string): uPlot.Series.Value {
  return (u, v, sidx, idx) => {
    const x = idx == null ? latest(u.data[sidx]) : v;
    return x == null ? "" : fmtValue(x) + unit;
  };
}

export class Charts {
  private plots: uPlot[] = [];
  private endpoint = "";
  private extraPct: number;
  private lastTotal: Columns | null = null;
  private lastSeries: Columns | null = null;
  private known = new Set<string>();

  constructor(private readonly percentiles: number[]) {
    const sel = $<HTMLSelectElement>("chart-percentile");
    const choices = percentiles.filter((p) => p !== 0.5 && p !== 0.95);
    this.extraPct = choices.includes(0.99) ? 0.99 : choices[0] ?? 0.99;
    sel.innerHTML = choices
      .map((p) => `<option value="${p}"${p === this.extraPct ? " selected" : ""}>${pctLabel(p)}</option>`)
      .join("");
    sel.addEventListener("change", () => {
      this.extraPct = Number(sel.value);
      this.redraw();
    });
    $<HTMLSelectElement>("chart-endpoint").addEventListener("change", (e) => {
      this.endpoint = (e.target as HTMLSelectElement).value;
      void this.refresh();
    });
    window.addEventListener("resize", () => this.redraw());
  }

  /// Offers the endpoints of the statistics table in the endpoint chooser.
  setEndpoints(rows: { method: string; name: string }[]) {
    const sel = $<HTMLSelectElement>("chart-endpoint");
    let added = false;
    for (const r of rows) {
      const v = JSON.stringify([r.method, r.name]);
      if (this.known.has(v) || this.known.size >= 1000) continue;
      this.known.add(v);
      const opt = document.createElement("option");
      opt.value = v;
      opt.textContent = `${r.method} ${r.name}`;
      sel.appendChild(opt);
      added = true;
    }
    if (added) sel.value = this.endpoint;
  }

  clear() {
    this.lastTotal = null;
    this.lastSeries = null;
    this.redraw();
  }

  async refresh() {
    const total = await api<Columns>("./stats/history");
    let series = total;
    const note = $("chart-note");
    note.textContent = "";
    if (this.endpoint) {
      const [method, name] = JSON.parse(this.endpoint) as [string, string];
      const url = `./stats/history?method=${encodeURIComponent(method)}&name=${encodeURIComponent(name)}`;
      const res = await fetch(url);
      if (res.ok) {
        series = (await res.json()) as Columns;
      } else {
        const body = (await res.json().catch(() => ({ message: "" }))) as { message?: string };
        note.innerHTML = esc(body.message ?? "no history for this endpoint");
      }
    }
    this.lastTotal = total;
    this.lastSeries = series;
    this.draw();
  }

  redraw() {
    this.draw();
  }

  private draw() {
    for (const p of this.plots) p.destroy();
    this.plots = [];
    const total = this.lastTotal;
    const series = this.lastSeries;
    if (!total || !series) return;
    const fg = getComputedStyle(document.body).color;
    const grid = getComputedStyle(document.documentElement).getPropertyValue("--border").trim() || "#ddd";
    const width = Math.max(320, $("tab-charts").clientWidth - 20);
    const axes = (label: string): uPlot.Axis[] => [
      { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } },
      { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid }, label, labelGap: 4 },
    ];
    const mk = (el: string, title: string, label: string, cols: [string, string, string][], src: Columns, unit = "") => {
      const time = (src.time ?? []) as number[];
      const data: uPlot.AlignedData = [time, ...cols.map(([key]) => (src[key] ?? time.map(() => null)) as (number | null)[])];
      const opts: uPlot.Options = {
        title,
        width,
        height: 260,
        axes: axes(label),
        scales: { x: { time: true } },
        series: [
          { label: "Time", value: timeValue },
          ...cols.map(([, name, color]) => ({
            label: name,
            stroke: color,
            width: 2,
            spanGaps: false,
            value: seriesValue(unit),
          })),
        ],
      };
      const container = $(el);
      container.innerHTML = "";
      this.plots.push(new uPlot(opts, data, container));
    };
    const ep = this.endpoint ? " — " + (JSON.parse(this.endpoint) as string[]).join(" ") : "";
    mk("chart-rps", `Total Requests per Second${ep}`, "per second", [
      ["current_rps", "RPS", COLORS.rps],
      ["current_fail_per_sec", "Failures/s", COLORS.fail],
    ], series);
    const extra = pctKey(this.extraPct);
    const rt: [string, string, string][] = [
      [pctKey(0.5), "50th percentile", COLORS.p50],
      [pctKey(0.95), "95th percentile", COLORS.p95],
    ];
    if (series[extra]) {
      rt.push([extra, pctLabel(this.extraPct), COLORS.extra]);
    } else if (this.endpoint) {
      $("chart-note").textContent = `Per endpoint, the history keeps the 50th, 95th and 99th percentiles.`;
    }
    mk("chart-rt", `Response Times (ms)${ep}`, "ms", rt, series, " ms");
    mk("chart-users", "Number of Users", "users", [["user_count", "Users", COLORS.users]], total);
  }
}
