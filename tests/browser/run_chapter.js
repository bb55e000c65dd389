#!/usr/bin/env node
// Opens one notebook in a running JupyterLab with Debian's headless Chromium, runs all its cells
// the way a learner would (Run > Run All Cells), and reports what the page shows as one line of
// JSON on stdout: errors, rendered widgets, plots and circuitsvis views. When the page shows a
// problem, or when asked, it saves a picture of the whole notebook.
//
// Usage: node run_chapter.js --base-url http://127.0.0.1:PORT --token TOKEN --notebook NAME.ipynb
//          --screenshot OUT.png [--always-screenshot] [--details DIR] [--scroll-to-top-first]
//          [--timeout-s 900] [--chromium /usr/bin/chromium]
//
// --screenshot OUT.png is where the picture goes: always with --always-screenshot, otherwise only
// when a cell failed or an output was left undrawn (and a picture of the window when the run
// itself fails). Taking it costs a few seconds of the browser's time per long notebook.
// --details DIR also saves a close-up of every drawn widget, plot and circuitsvis view there.
// --scroll-to-top-first scrolls back to the notebook's first cell before typing into a widget, as a
// learner rereading from the top would: a widget far below must still be there to scroll down to.
//
// Progress goes to stderr; stdout carries only the JSON result (also on failure, with "fatal").

"use strict";

const fs = require("fs");
const os = require("os");
const path = require("path");
const { chromium } = require("playwright-core");

const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

function parseArgs(argv) {
  const args = { timeoutS: 900, chromium: process.env.CHROMIUM || "/usr/bin/chromium", alwaysScreenshot: false,
    scrollToTopFirst: false };
  const rest = [...argv];
  while (rest.length > 0) {
    const key = rest.shift();
    if (key === "--always-screenshot") { args.alwaysScreenshot = true; continue; }
    if (key === "--scroll-to-top-first") { args.scrollToTopFirst = true; continue; }
    const value = rest.shift();
    if (value === undefined) throw new Error(`missing value for ${key}`);
    switch (key) {
      case "--base-url": args.baseUrl = value.replace(/\/$/, ""); break;
      case "--token": args.token = value; break;
      case "--notebook": args.notebook = value; break;
      case "--screenshot": args.screenshot = value; break;
      case "--details": args.details = value; break;
      case "--timeout-s": args.timeoutS = Number(value); break;
      case "--chromium": args.chromium = value; break;
      default: throw new Error(`unknown argument ${key}`);
    }
  }
  for (const needed of ["baseUrl", "token", "notebook", "screenshot"]) {
    if (!args[needed]) throw new Error(`--${needed.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase())} is required`);
  }
  return args;
}

function log(message) {
  process.stderr.write(`[browser ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const secondsSince = (started) => ((Date.now() - started) / 1000).toFixed(1);

// Runs in the page: everything the test asserts on, read from the notebook model (what the kernel
// sent) and from the DOM (what the learner sees), output by output.
//
// Selectors, checked against JupyterLab 4.6: every output is a `.jp-OutputArea-child` (prompt +
// `.jp-OutputArea-output`) in the same order as the cell's model outputs. Text, HTML and image
// outputs carry `data-mime-type`; the ipywidgets and plotly renderers do not, so they are
// recognised by what they draw: `.jupyter-widgets` elements, and `.js-plotly-plot` with its
// `.main-svg`. A circuitsvis view is `div[id^="circuits-vis-"]`, which its inlined script fills
// with React elements (the script itself sits inside that div: it does not count as drawn).
function inspectPage() {
  const app = window.jupyterapp;
  const panel = app.shell.currentWidget;
  const cells = panel.content.widgets;
  const visible = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0;
  };
  const anyVisible = (root, selector) => [...root.querySelectorAll(selector)].some(visible);
  const result = {
    cells: cells.length,
    codeCells: 0,
    executedCells: 0,
    runningCells: 0,
    errorOutputs: [],        // outputs of type "error" in the notebook model
    tracebacksInPage: 0,     // rendered outputs whose text shows a Python traceback
    widgetOutputs: 0,        // outputs of mime type application/vnd.jupyter.widget-view+json
    widgetsRendered: 0,      // ...drawn as a visible .jupyter-widgets element
    widgetFailures: [],      // ...not drawn: shown as text (no widget manager) or an error message
    plotlyOutputs: 0,        // outputs of mime type application/vnd.plotly.v1+json
    plotlyRendered: 0,       // ...drawn as .js-plotly-plot with a visible .main-svg
    plotlyFailures: [],
    imageOutputs: 0,         // image/png, image/jpeg or image/svg+xml outputs (matplotlib)
    imagesRendered: 0,
    circuitsvisViews: 0,     // div[id^="circuits-vis-"] in HTML outputs
    circuitsvisRendered: 0,  // ...filled by React with visible elements
    circuitsvisFailures: [],
    kernelStatus: panel.sessionContext.session?.kernel?.status ?? "none",
  };
  cells.forEach((cell, index) => {
    if (cell.model.type !== "code") return;
    result.codeCells += 1;
    if (cell.model.executionCount !== null) result.executedCells += 1;
    const prompt = cell.node.querySelector(".jp-InputArea-prompt");
    if (prompt && prompt.textContent.includes("*")) result.runningCells += 1;
    const outputs = cell.model.outputs;
    const children = cell.outputArea ? [...cell.outputArea.node.children].filter((n) => n.classList.contains("jp-OutputArea-child")) : [];
    for (let i = 0; i < outputs.length; i++) {
      const json = outputs.get(i).toJSON();
      const node = children[i] || document.createElement("div");
      const text = (node.innerText || "").trim();
      const data = json.data || {};
      if (json.output_type === "error") {
        result.errorOutputs.push({ cell: index, ename: json.ename, evalue: String(json.evalue).slice(0, 300) });
      }
      if (/Traceback \(most recent call last\)/.test(text)) result.tracebacksInPage += 1;
      if (data["application/vnd.jupyter.widget-view+json"]) {
        result.widgetOutputs += 1;
        if (anyVisible(node, ".jupyter-widgets")) { result.widgetsRendered += 1; node.dataset.courseView = "widget"; }
        else result.widgetFailures.push({ cell: index, shown: text.slice(0, 160) });
      } else if (data["application/vnd.plotly.v1+json"]) {
        result.plotlyOutputs += 1;
        if (node.querySelector(".js-plotly-plot") && anyVisible(node, ".main-svg")) { result.plotlyRendered += 1; node.dataset.courseView = "plotly"; }
        else result.plotlyFailures.push({ cell: index, shown: text.slice(0, 160) });
      } else if (data["image/png"] || data["image/jpeg"] || data["image/svg+xml"]) {
        result.imageOutputs += 1;
        const drawn = [...node.querySelectorAll("img, svg")].some((el) => visible(el) && (el.tagName !== "IMG" || (el.complete && el.naturalWidth > 0)));
        if (drawn) { result.imagesRendered += 1; node.dataset.courseView = "image"; }
      }
      for (const view of node.querySelectorAll('div[id^="circuits-vis-"]')) {
        result.circuitsvisViews += 1;
        const drawn = [...view.children].some((child) => child.tagName !== "SCRIPT" && visible(child));
        if (drawn) { result.circuitsvisRendered += 1; view.dataset.courseView = "circuitsvis"; }
        else result.circuitsvisFailures.push({ cell: index, id: view.id });
      }
    }
  });
  // A widget whose model the page cannot find says so in place of the widget.
  result.widgetErrorMessages = (panel.node.innerText.match(/Error displaying widget[^\n]*/g) || []).slice(0, 10);
  return result;
}

async function openNotebook(page, args) {
  // A workspace of its own per notebook, so no tab of an earlier run is restored next to it.
  const workspace = "check-" + path.basename(args.notebook, ".ipynb").replace(/[^A-Za-z0-9_-]/g, "_");
  const url = `${args.baseUrl}/lab/workspaces/${workspace}/tree/${encodeURI(args.notebook)}?reset&token=${args.token}`;
  log(`opening ${args.notebook}`);
  await page.goto(url, { waitUntil: "domcontentloaded", timeout: 120000 });
  await page.waitForFunction(() => window.jupyterapp && window.jupyterapp.shell, null, { timeout: 120000 });
  await page.waitForFunction(
    (name) => {
      const widget = window.jupyterapp.shell.currentWidget;
      return widget && widget.context && widget.context.path.endsWith(name) && widget.content &&
        widget.content.widgets && widget.content.widgets.length > 0;
    },
    path.basename(args.notebook),
    { timeout: 120000, polling: 500 },
  );
  await page.evaluate(async () => {
    const app = window.jupyterapp;
    const panel = app.shell.currentWidget;
    await panel.context.ready;
    await panel.sessionContext.ready;
    app.shell.collapseLeft();
    app.shell.collapseRight();
  });
  await page.waitForFunction(
    () => window.jupyterapp.shell.currentWidget.sessionContext.session?.kernel?.status === "idle",
    null, { timeout: 120000, polling: 500 },
  );
  log("kernel ready");
}

async function runAllCells(page, args) {
  const started = Date.now();
  log("Run > Run All Cells");
  // The same command as the menu item; its promise settles once every cell has run (or one failed).
  const done = page.evaluate(() => window.jupyterapp.commands.execute("notebook:run-all-cells").then((ok) => ({ ok })));
  let finished = null;
  done.then((value) => { finished = value; }, (error) => { finished = { ok: false, error: String(error) }; });
  let lastReport = 0;
  while (finished === null) {
    if (Date.now() - started > args.timeoutS * 1000) {
      throw new Error(`cells still running after ${args.timeoutS} s`);
    }
    await sleep(1000);
    if (Date.now() - lastReport > 15000) {
      lastReport = Date.now();
      const state = await page.evaluate(() => {
        const cells = window.jupyterapp.shell.currentWidget.content.widgets.filter((c) => c.model.type === "code");
        return { code: cells.length, executed: cells.filter((c) => c.model.executionCount !== null).length };
      });
      log(`running: ${state.executed}/${state.code} code cells executed after ${Math.round((Date.now() - started) / 1000)} s`);
    }
  }
  // Wait for the kernel to go idle and no prompt to show [*].
  await page.waitForFunction(() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const busy = [...panel.node.querySelectorAll(".jp-InputArea-prompt")].some((p) => p.textContent.includes("*"));
    return !busy && panel.sessionContext.session?.kernel?.status === "idle";
  }, null, { timeout: 120000, polling: 500 });
  return { ok: finished.ok, error: finished.error, runSeconds: (Date.now() - started) / 1000 };
}

// Widgets, plotly and circuitsvis draw asynchronously after the kernel is done: wait until every
// output the kernel produced is drawn, or until the counts stop changing for a while.
async function waitForRendering(page) {
  let previous = "";
  let stableSince = Date.now();
  const deadline = Date.now() + 60000;
  let state = null;
  while (Date.now() < deadline) {
    state = await page.evaluate(inspectPage);
    const complete = state.widgetsRendered >= state.widgetOutputs &&
      state.plotlyRendered >= state.plotlyOutputs &&
      state.imagesRendered >= state.imageOutputs &&
      state.circuitsvisRendered >= state.circuitsvisViews;
    const key = JSON.stringify([state.widgetsRendered, state.plotlyRendered, state.imagesRendered, state.circuitsvisRendered]);
    if (key !== previous) { previous = key; stableSince = Date.now(); }
    if (complete || Date.now() - stableSince > 15000) break;
    await sleep(1000);
  }
  await sleep(1500); // let the last plot finish its transitions before the screenshot
  return page.evaluate(inspectPage);
}

async function screenshot(page, file, detailsDir) {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  // The notebook scrolls inside a fixed-height panel: make the window as tall as the notebook so
  // that one picture shows every cell (capped, to stay within what Chromium can capture).
  const height = await page.evaluate(() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const scroller = panel.node.querySelector(".jp-WindowedPanel-outer") || panel.content.node;
    const chrome = window.innerHeight - scroller.clientHeight;
    const cells = panel.content.widgets;
    const last = cells[cells.length - 1].node.getBoundingClientRect();
    const contentBottom = last.bottom - scroller.getBoundingClientRect().top + scroller.scrollTop;
    return Math.ceil(Math.min(scroller.scrollHeight, contentBottom + 40) + chrome);
  });
  const viewport = page.viewportSize();
  const capped = Math.min(Math.max(height, viewport.height), 60000);
  const resized = Date.now();
  await page.setViewportSize({ width: viewport.width, height: capped });
  await sleep(2000); // plotly and widgets resize with the window
  log(`window made ${capped} px tall in ${secondsSince(resized)} s`);
  await scrollToTop(page);
  let phase = Date.now();
  await page.screenshot({ path: file, fullPage: true, timeout: 120000 });
  log(`full-page screenshot taken in ${secondsSince(phase)} s`);
  phase = Date.now();
  const details = [];
  if (detailsDir) {
    fs.mkdirSync(detailsDir, { recursive: true });
    const counts = {};
    const views = page.locator("[data-course-view]");
    const n = await views.count();
    for (let i = 0; i < n; i++) {
      const view = views.nth(i);
      const kind = await view.getAttribute("data-course-view");
      counts[kind] = (counts[kind] || 0) + 1;
      const out = path.join(detailsDir, `${kind}-${counts[kind]}.png`);
      try {
        await view.screenshot({ path: out, timeout: 30000 });
        details.push(out);
      } catch (error) {
        log(`no close-up of ${kind} ${counts[kind]}: ${error}`);
      }
    }
    log(`${details.length} close-ups taken in ${secondsSince(phase)} s`);
  }
  await page.setViewportSize(viewport);
  return { path: file, height: capped, truncated: capped < height, details };
}

async function scrollToTop(page) {
  await page.evaluate(() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const scroller = panel.node.querySelector(".jp-WindowedPanel-outer") || panel.content.node;
    scroller.scrollTop = 0;
  });
}

// What the test would fail on, in a few words (the test itself asserts on the numbers).
function problemsShown(r) {
  const problems = [];
  if (!r.run || !r.run.ok) problems.push("Run All Cells did not complete");
  if (r.errorOutputs.length || r.tracebacksInPage) problems.push("error outputs");
  if (r.widgetsRendered < r.widgetOutputs || r.widgetFailures.length || r.widgetErrorMessages.length) problems.push("widgets not drawn");
  if (r.plotlyRendered < r.plotlyOutputs || r.plotlyFailures.length) problems.push("plots not drawn");
  if (r.imagesRendered < r.imageOutputs) problems.push("images not drawn");
  if (r.circuitsvisRendered < r.circuitsvisViews || r.circuitsvisFailures.length) problems.push("circuitsvis views empty");
  if (r.widgetInteraction && r.widgetInteraction.tried && !r.widgetInteraction.changed) problems.push("typing into a widget changed nothing");
  return problems;
}

// Types into the first text box of the first drawn widget and waits for the widget's output to
// change: proves that the widgets talk to the kernel, not only that they are drawn.
async function tryWidgetInteraction(page) {
  const input = page.locator('[data-course-view="widget"] .jupyter-widgets textarea, [data-course-view="widget"] .jupyter-widgets input[type="text"]').first();
  if ((await input.count()) === 0) return { tried: false };
  const area = input.locator('xpath=ancestor::div[contains(concat(" ", normalize-space(@class), " "), " jp-OutputArea-child ")][1]');
  const textOf = () => area.evaluate((node) => {
    const copy = node.cloneNode(true);
    copy.querySelectorAll("input, textarea").forEach((el) => el.remove());
    return copy.textContent;
  });
  const before = await textOf();
  const typed = "Hello from the browser test";
  await input.fill(typed);
  await input.press("Enter");
  await input.press("Tab"); // a Text widget with continuous_update=False sends its value on blur or Enter
  const deadline = Date.now() + 30000;
  let after = before;
  while (Date.now() < deadline) {
    await sleep(500);
    after = await textOf();
    if (after !== before) break;
  }
  return { tried: true, typed, changed: after !== before, after: after.slice(0, 300) };
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  const result = { notebook: args.notebook, fatal: null, consoleErrors: [], pageErrors: [] };
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "course-chromium-"));
  let context = null;
  const started = Date.now();
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: args.chromium,
      headless: true,
      args: CHROMIUM_FLAGS,
      viewport: { width: 1280, height: 1000 },
      timeout: 120000,
    });
    const page = context.pages()[0] || (await context.newPage());
    page.setDefaultTimeout(120000);
    page.on("console", (msg) => {
      if (msg.type() === "error" && result.consoleErrors.length < 30) result.consoleErrors.push(msg.text().slice(0, 300));
    });
    page.on("pageerror", (error) => {
      if (result.pageErrors.length < 30) result.pageErrors.push(String(error).slice(0, 300));
    });
    await openNotebook(page, args);
    result.run = await runAllCells(page, args);
    log(`cells done in ${result.run.runSeconds.toFixed(1)} s; waiting for outputs to draw`);
    const drawing = Date.now();
    Object.assign(result, await waitForRendering(page));
    log(`outputs drawn after ${secondsSince(drawing)} s`);
    if (args.scrollToTopFirst) {
      await scrollToTop(page);
      await sleep(1000); // a windowed notebook detaches the cells that left the window
      log("scrolled to the top");
    }
    result.widgetInteraction = await tryWidgetInteraction(page);
    log(`widget interaction: ${JSON.stringify(result.widgetInteraction).slice(0, 200)}`);
    result.problems = problemsShown(result);
    if (args.alwaysScreenshot || args.details || result.problems.length > 0) {
      result.screenshot = await screenshot(page, args.screenshot, args.details);
      log(`screenshot ${args.screenshot} (${result.screenshot.height} px tall)${result.problems.length ? ": " + result.problems.join("; ") : ""}`);
    }
    // Shut the kernel down, so that the server does not keep a model in memory per chapter.
    await page.evaluate(() => window.jupyterapp.shell.currentWidget.sessionContext.shutdown()).catch(() => {});
  } catch (error) {
    result.fatal = String(error && error.stack ? error.stack : error).slice(0, 2000);
    log(`failed: ${result.fatal}`);
    if (context) {
      const page = context.pages()[0];
      if (page) {
        await page.screenshot({ path: args.screenshot.replace(/\.png$/, "") + "-failure.png" }).catch(() => {});
      }
    }
  } finally {
    if (context) await context.close().catch(() => {});
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
  result.totalSeconds = (Date.now() - started) / 1000;
  process.stdout.write(JSON.stringify(result) + "\n");
  process.exit(result.fatal ? 1 : 0);
}

main().catch((error) => {
  process.stdout.write(JSON.stringify({ fatal: String(error) }) + "\n");
  process.exit(1);
});
