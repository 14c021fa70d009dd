// End-to-end test of the web UI in a real headless Chromium (Debian's, driven by
// playwright-core): start a test from the form against the demo target, watch rows appear,
// sort, see the charts draw (and survive a reload), edit the user count, stop, reset, and
// download the CSV. With SCREENSHOTS=dir it also saves a picture of every tab.
//
//   LOCUSTA_BIN=target/debug/locusta node web/e2e/ui.e2e.mjs
import { spawn } from "node:child_process";
import { readFileSync, mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const BIN = process.env.LOCUSTA_BIN ?? "target/debug/locusta";
// A program whose users fail on purpose (examples/web_showcase.rs), for the Failures and
// Exceptions tabs.
const SHOWCASE = process.env.LOCUSTA_SHOWCASE ?? "target/debug/examples/web_showcase";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const SHOTS = process.env.SCREENSHOTS ?? "";
const TIMEOUT = 30_000;

function fail(msg) {
  throw new Error(msg);
}

function startLocusta(cmd = BIN, args = ["demo", "--headful", "--web-port", "0", "-u", "8", "-r", "40", "-t", "10m"]) {
  const child = spawn(cmd, args, {
    stdio: ["ignore", "ignore", "pipe"],
    env: { ...process.env, LOCUST_HOST: "" },
  });
  let log = "";
  const url = new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no web UI address; log:\n${log}`)), 60_000);
    child.stderr.on("data", (d) => {
      log += d.toString();
      const m = /Starting web interface at (\S+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`locusta exited early (${code}); log:\n${log}`)));
  });
  return { child, url, log: () => log };
}

async function shot(page, name) {
  if (!SHOTS) return;
  mkdirSync(SHOTS, { recursive: true });
  await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage: false });
}

async function tab(page, name) {
  await page.click(`#tabs button[data-tab="${name}"]`);
  await page.waitForSelector(`#tab-${name}.active`);
}

const numbers = (cells) => cells.map((t) => Number(t.trim()));

async function main() {
  const locusta = startLocusta();
  const url = await locusta.url;
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu"],
  });
  const steps = [];
  const step = (s) => {
    steps.push(s);
    console.log(`ok - ${s}`);
  };
  try {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 }, acceptDownloads: true });
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    await page.goto(url);

    // The start form opens by itself on a fresh run.
    await page.waitForSelector("#start-dialog[open]");
    await page.fill("#f-users", "6");
    await page.fill("#f-rate", "60");
    await shot(page, "start-form");
    await page.click("#start-submit");
    await page.waitForFunction(() => !document.querySelector("#start-dialog").open);
    step("started a test from the form");

    await page.waitForFunction(() => document.querySelector("#nav-users")?.textContent === "6");
    await page.waitForFunction(() => document.querySelectorAll("#stats-table tbody tr").length >= 3);
    const state = await page.textContent("#nav-state");
    if (state !== "RUNNING" && state !== "SPAWNING") fail(`state ${state}`);
    step("rows appear and the navbar shows 6 users");

    // Sort by average response time: biggest first, then smallest first.
    const avgIndex = await page.$$eval("#stats-table thead th", (ths) =>
      ths.findIndex((th) => th.textContent === "Average (ms)"),
    );
    if (avgIndex < 0) fail("no Average column");
    await page.click(`#stats-table thead th:nth-child(${avgIndex + 1})`);
    await page.waitForSelector("#stats-table thead th.sorted-desc");
    await page.waitForTimeout(2000); // one refresh with the new order
    const col = (i) =>
      page.$$eval(`#stats-table tbody tr td:nth-child(${i + 1})`, (tds) => tds.map((td) => td.textContent ?? ""));
    let avg = numbers(await col(avgIndex));
    if (!avg.every((v, i) => i === 0 || avg[i - 1] >= v)) fail(`not descending: ${avg}`);
    await page.click(`#stats-table thead th:nth-child(${avgIndex + 1})`);
    await page.waitForSelector("#stats-table thead th.sorted-asc");
    await page.waitForTimeout(2000);
    avg = numbers(await col(avgIndex));
    if (!avg.every((v, i) => i === 0 || avg[i - 1] <= v)) fail(`not ascending: ${avg}`);
    step("sorting by average response time orders the rows");

    // Search narrows the rows.
    await page.fill("#stats-search", "api/products");
    await page.waitForFunction(() =>
      [...document.querySelectorAll("#stats-table tbody tr td:nth-child(2)")].every((td) =>
        td.textContent?.includes("api/products"),
      ) && document.querySelectorAll("#stats-table tbody tr").length > 0,
    );
    await page.fill("#stats-search", "");
    step("the search box filters rows");
    await page.waitForTimeout(2000);
    await shot(page, "statistics");

    // Min and Max are the exact times (decimals, as the median and average), not whole ms.
    const header = await page.$$eval("#stats-table thead th", (ths) => ths.map((th) => th.textContent));
    const at = (title) => {
      const i = header.findIndex((t) => t.startsWith(title));
      if (i < 0) fail(`no ${title} column in ${header}`);
      return i;
    };
    const [iMedian, iAvg, iMin, iMax] = ["Median", "Average", "Min", "Max"].map(at);
    const rows = await page.$$eval("#stats-table tbody tr, #stats-table tfoot tr", (trs) =>
      trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent ?? "")),
    );
    let decimals = 0;
    for (const r of rows) {
      const [median, avg, min, max] = [iMedian, iAvg, iMin, iMax].map((i) => Number(r[i]));
      if (!(min <= avg && avg <= max)) fail(`row ${r[1]}: min ${min}, average ${avg}, max ${max}`);
      if (median > 0 && max === 0) fail(`row ${r[1]}: max 0 with median ${median}`);
      decimals += [r[iMin], r[iMax]].filter((t) => t.includes(".")).length;
    }
    if (decimals === 0) fail(`no Min/Max cell shows decimals: ${JSON.stringify(rows)}`);
    step("Min <= Average <= Max in every row, with decimals");

    // Charts: wait for a few history points, check uPlot drew them, then reload.
    await tab(page, "charts");
    await page.waitForFunction(
      async () => {
        const h = await (await fetch("./stats/history")).json();
        return h.time.length >= 2;
      },
      null,
      { timeout: 60_000, polling: 1000 },
    );
    await page.waitForTimeout(2000);
    const charts = await page.$$eval(".chart .uplot canvas", (cs) => cs.map((c) => c.width));
    if (charts.length !== 3 || charts.some((w) => w <= 0)) fail(`charts: ${charts}`);
    const drawn = await page.evaluate(() => {
      const c = document.querySelector("#chart-rps canvas");
      const ctx = c.getContext("2d");
      const data = ctx.getImageData(0, 0, c.width, c.height).data;
      let coloured = 0;
      for (let i = 0; i < data.length; i += 4) if (data[i + 3] > 0) coloured++;
      return coloured;
    });
    if (drawn < 100) fail(`the RPS chart looks empty (${drawn} pixels)`);
    // Off the charts, the legend shows the latest values, not uPlot's "--".
    await page.mouse.move(0, 0);
    const legendValues = await page.$$eval(".chart .u-legend .u-value", (vs) => vs.map((v) => v.textContent));
    if (legendValues.length < 6 || legendValues.some((v) => v === "--")) fail(`legend values: ${legendValues}`);
    if (!legendValues.includes("latest")) fail(`legend values: ${legendValues}`);
    await shot(page, "charts");
    const before = await page.evaluate(async () => (await (await fetch("./stats/history")).json()).time.length);
    await page.reload();
    await page.waitForSelector("#tab-charts.active");
    await page.waitForSelector("#chart-users .uplot canvas");
    const legend = await page.$$eval("#chart-rt .u-legend .u-series", (s) => s.length);
    if (legend < 3) fail(`percentile legend has ${legend} entries`);
    const after = await page.evaluate(async () => (await (await fetch("./stats/history")).json()).time.length);
    if (after < before) fail(`history shrank on reload: ${before} -> ${after}`);
    // Per-endpoint selection.
    await page.waitForFunction(() => document.querySelectorAll("#chart-endpoint option").length > 1);
    const opt = await page.$eval("#chart-endpoint option:nth-child(2)", (o) => o.value);
    await page.selectOption("#chart-endpoint", opt);
    await page.waitForFunction(() => document.querySelector("#chart-rps .u-title")?.textContent?.includes("—"));
    await page.selectOption("#chart-percentile", "0.99");
    step("charts draw, survive a reload and switch endpoint and percentile");

    // The HTML report of the run so far: its charts' legends show each series' peak, and it
    // has the final ratio of the users running.
    const reportHtml = await page.evaluate(async () => (await fetch("./stats/report")).text());
    const reportPage = await context.newPage();
    reportPage.on("pageerror", (e) => errors.push(`report: ${e}`));
    await reportPage.setContent(reportHtml);
    await reportPage.waitForSelector("#chart-users .uplot");
    const reportLegend = await reportPage.$$eval(".u-legend .u-value", (vs) => vs.map((v) => v.textContent));
    if (reportLegend.length < 6 || reportLegend.some((v) => v === "--")) fail(`report legend: ${reportLegend}`);
    if (!reportLegend.includes("peak of the run")) fail(`report legend: ${reportLegend}`);
    const finalRatio = await reportPage.textContent("#ratio");
    if (!finalRatio?.includes("Final ratio") || !finalRatio.includes("WebsiteUser")) fail(`report ratio: ${finalRatio}`);
    const endpointCharts = await reportPage.$$eval("#endpoint-charts .uplot", (c) => c.length);
    if (endpointCharts < 1 || endpointCharts > 6) fail(`${endpointCharts} endpoint charts in the report`);
    await reportPage.close();
    step("the HTML report's legends show peaks, its endpoint charts are capped, it has the final ratio");

    for (const t of ["ratio", "logs", "failures", "exceptions", "download"]) {
      const name = ["logs", "failures", "exceptions"].includes(t) ? `${t}-demo` : t;
      await tab(page, t);
      await page.waitForTimeout(1800);
      if (!name.endsWith("-demo")) await shot(page, name);
    }
    const ratio = await page.textContent("#ratio-per-class");
    if (!ratio.includes("ShopUser") || !ratio.includes("WebsiteUser")) fail(`ratio tab: ${ratio}`);
    step("current ratio, logs, failures and exceptions tabs render");

    // Edit the user count mid-run.
    await page.click("#btn-edit");
    await page.waitForSelector("#edit-dialog[open]");
    await page.fill("#e-users", "3");
    await page.fill("#e-rate", "50");
    await page.click("#edit-submit");
    await page.waitForFunction(() => document.querySelector("#nav-users")?.textContent === "3");
    step("edit lowers the user count to 3");

    // Dark theme.
    await tab(page, "stats");
    await page.click("#btn-theme");
    const theme = await page.evaluate(() => document.documentElement.dataset.theme);
    await page.waitForTimeout(500);
    await shot(page, `statistics-${theme}`);
    await page.click("#btn-theme");
    step("theme toggles");

    // Stop, then reset.
    await page.click("#btn-stop");
    await page.waitForFunction(() => document.querySelector("#nav-state")?.textContent === "STOPPED");
    await page.click("#btn-reset");
    await page.waitForFunction(() => {
      const cell = document.querySelector("#stats-table tfoot td:nth-child(3)");
      return cell?.textContent === "0";
    });
    step("stop and reset");

    // Download the requests CSV.
    await tab(page, "download");
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.click('a[href="./stats/requests/csv"]'),
    ]);
    const csv = readFileSync(await download.path(), "utf8");
    if (!csv.startsWith("Type,Name,Request Count,Failure Count,")) fail(`csv: ${csv.slice(0, 80)}`);
    if (!/^Locust_.*_requests\.csv$/.test(download.suggestedFilename())) fail(download.suggestedFilename());
    step("the requests CSV downloads");
    const report = await page.isVisible("#dl-report");
    if (report) {
      const [r] = await Promise.all([page.waitForEvent("download"), page.click("#dl-report a")]);
      const html = readFileSync(await r.path(), "utf8");
      if (!html.includes("<html")) fail("report is not HTML");
      step("the HTML report downloads");
    }

    if (errors.length) fail(`page errors: ${errors.join("\n")}`);
    await page.close();
    await failuresAndExceptions(context, step);
    console.log(`all ${steps.length} steps passed`);
  } finally {
    await browser.close();
    locusta.child.kill("SIGINT");
  }
}

// Failures (HTTP 503s) and exceptions (a task error) show up in their tabs.
async function failuresAndExceptions(context, step) {
  const showcase = startLocusta(SHOWCASE, ["--web-port", "0", "-u", "4", "-r", "40"]);
  try {
    const url = await showcase.url;
    const page = await context.newPage();
    page.setDefaultTimeout(TIMEOUT);
    await page.goto(url);
    await page.waitForSelector("#start-dialog[open]");
    await page.click("#start-submit");
    await tab(page, "failures");
    await page.waitForFunction(() =>
      [...document.querySelectorAll("#failures-table tbody tr")].some((tr) => tr.textContent?.includes("/maintenance")),
    );
    const failure = await page.textContent("#failures-table tbody tr");
    if (!/503/.test(failure)) fail(`failure row: ${failure}`);
    await page.waitForTimeout(1500);
    await shot(page, "failures");
    await tab(page, "exceptions");
    await page.waitForFunction(() => document.querySelectorAll("#exceptions-table tbody tr").length > 0);
    const exc = await page.textContent("#exceptions-table tbody tr");
    if (!exc.includes("price must be positive") || !exc.includes("Shopper.price_check")) fail(`exception row: ${exc}`);
    await shot(page, "exceptions");
    await tab(page, "stats");
    await page.waitForTimeout(1500);
    const fails = await page.textContent("#nav-fail");
    if (fails === "0%") fail("the navbar shows no failures");
    step("failures and exceptions (with their location) appear in their tabs");
    await tab(page, "logs");
    await page.waitForTimeout(1500);
    await shot(page, "logs");
    await page.close();
  } finally {
    showcase.child.kill("SIGINT");
  }
}

main().catch((e) => {
  console.error(`not ok - ${e.stack ?? e}`);
  process.exit(1);
});
