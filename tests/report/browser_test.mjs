#!/usr/bin/env node
// Opens a facespace report in headless Chromium and checks it the way a reader sees it:
// no console error, no uncaught exception, no network request (only file:, data: and
// blob: URLs may load), every figure rendered with drawn marks, every image decoded,
// every section present, and the projection's tooltip shows a face on hover, a synthetic
// point's face differing from that of its source.
// Saves a full-page screenshot.
//
// Usage: node browser_test.mjs REPORT_HTML SCREENSHOT_PNG [--min-figures N]
// Exit status: 0 pass, 1 fail, 77 skipped (Chromium or playwright-core not installed).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

const SKIP = 77;
const CHROMIUM = process.env.FACESPACE_CHROMIUM || '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
];
const SECTIONS = ['question-answer', 'headline', 'distances', 'verification', 'space',
                  'identities', 'transforms', 'contact-sheets', 'failures', 'configuration'];

function parseArguments(argv) {
  const positional = [];
  let minFigures = 1;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--min-figures') minFigures = Number(argv[++i]);
    else positional.push(argv[i]);
  }
  if (positional.length !== 2 || !Number.isInteger(minFigures)) {
    process.stderr.write('usage: node browser_test.mjs REPORT_HTML SCREENSHOT_PNG [--min-figures N]\n');
    process.exit(2);
  }
  return { report: path.resolve(positional[0]), screenshot: path.resolve(positional[1]), minFigures };
}

// playwright-core comes from the report renderer's node_modules; the test never downloads a browser.
function loadPlaywright() {
  const reportDir = process.env.FACESPACE_REPORT_DIR ||
    path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'report');
  try {
    return createRequire(path.join(reportDir, 'package.json'))('playwright-core');
  } catch {
    return null;
  }
}

const failures = [];
function check(condition, message) {
  if (!condition) failures.push(message);
}

async function main() {
  const { report, screenshot, minFigures } = parseArguments(process.argv.slice(2));
  if (!fs.existsSync(CHROMIUM)) {
    console.log(`SKIP: ${CHROMIUM} not found (install Debian's chromium package)`);
    return SKIP;
  }
  const playwright = loadPlaywright();
  if (!playwright) {
    console.log('SKIP: playwright-core not installed (run "npm ci" in report/)');
    return SKIP;
  }
  if (!fs.existsSync(report)) {
    console.error(`FAIL: ${report}: report not found`);
    return 1;
  }

  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'facespace-chromium-'));
  const context = await playwright.chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width: 1280, height: 900 },
  });
  try {
    const page = context.pages()[0] || await context.newPage();
    const requests = [];
    page.on('request', (request) => {
      const url = request.url();
      if (!/^(file|data|blob|about):/.test(url)) requests.push(url);
    });
    page.on('console', (message) => {
      if (message.type() === 'error') failures.push(`console error: ${message.text()}`);
    });
    page.on('pageerror', (error) => failures.push(`uncaught exception: ${error.message}`));

    await page.goto(pathToFileURL(report).href, { waitUntil: 'load', timeout: 60000 });
    await page.waitForSelector('body[data-figures-done="true"]', { timeout: 60000 });

    const figures = await page.$$eval('[data-figure]', (elements) => elements.map((element) => {
      const svg = element.querySelector('svg');
      const box = svg ? svg.getBoundingClientRect() : { width: 0, height: 0 };
      const marks = svg ? svg.querySelectorAll('g[class*="mark-"] path, g[class*="mark-"] line, g[class*="mark-"] rect').length : 0;
      return { name: element.getAttribute('data-figure'), state: element.getAttribute('data-rendered'),
               width: box.width, height: box.height, marks };
    }));
    check(figures.length >= minFigures, `expected at least ${minFigures} figures, found ${figures.length}`);
    for (const figure of figures) {
      check(figure.state === 'true', `figure ${figure.name}: not rendered (state ${figure.state})`);
      check(figure.width > 50 && figure.height > 50, `figure ${figure.name}: empty drawing area ${figure.width}x${figure.height}`);
      check(figure.marks > 0, `figure ${figure.name}: no marks drawn`);
    }

    for (const id of SECTIONS) {
      check(await page.$(`#${id}`) !== null, `section #${id} missing`);
    }
    const images = await page.$$eval('img', (elements) => elements.map((img) => ({
      alt: img.alt, ok: img.complete && img.naturalWidth > 0 })));
    for (const image of images) check(image.ok, `image "${image.alt}" did not load`);

    await checkProjectionTooltip(page);
    await checkSyntheticThumbnail(page);
    await checkSortableTable(page);

    await page.screenshot({ path: screenshot, fullPage: true });
    check(requests.length === 0, `network requests: ${requests.join(', ')}`);
    console.log(`figures: ${figures.map((f) => `${f.name} (${f.marks} marks)`).join(', ')}`);
    console.log(`screenshot: ${screenshot}`);
  } finally {
    await context.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }

  if (failures.length > 0) {
    for (const failure of failures) console.error(`FAIL: ${failure}`);
    return 1;
  }
  console.log('PASS: report renders offline with every figure and no console error');
  return 0;
}

// Hovers the first projection point and expects the tooltip to show a decoded face image.
async function checkProjectionTooltip(page) {
  const point = await page.$('[data-figure="projection"] g[class*="mark-symbol"] path');
  if (!point) return;
  await point.hover({ force: true });
  try {
    await page.waitForSelector('#vg-tooltip-element.visible img', { timeout: 5000 });
  } catch {
    failures.push('projection: hovering a point shows no face image in the tooltip');
    return;
  }
  const loaded = await page.$eval('#vg-tooltip-element.visible img', (img) => img.complete && img.naturalWidth > 0);
  check(loaded, 'projection: tooltip image did not decode');
  await page.mouse.move(0, 0);
}

// Shows the tooltip of one projection point by sending the pointer event Vega listens
// for to that point's own element, so overlapping points do not matter. Returns the
// tooltip image's address, or null when the tooltip shows no decoded image.
async function tooltipImageOf(page, point) {
  await point.dispatchEvent('pointermove');
  try {
    await page.waitForSelector('#vg-tooltip-element.visible img', { timeout: 5000 });
  } catch {
    return null;
  }
  const image = await page.$eval('#vg-tooltip-element.visible img',
    (img) => (img.complete && img.naturalWidth > 0 ? img.src : null));
  await point.dispatchEvent('mouseout');
  return image;
}

// Finds a synthetic projection point and the real point it was made from, and expects
// each tooltip to show a decoded face of its own: the two images must differ.
async function checkSyntheticThumbnail(page) {
  const points = await page.$$('[data-figure="projection"] g[class*="mark-symbol"] path');
  if (points.length === 0) return;
  const labels = await Promise.all(points.map((point) => point.getAttribute('aria-label')));
  const made = /kind: synthetic; file: synthetic from sample \d+ \((.*?)\)(;|$)/;
  const synthetic = labels.findIndex((label) => label && made.test(label));
  if (synthetic < 0) return;
  const sourceFile = labels[synthetic].match(made)[1];
  const real = labels.findIndex((label) => label && label.includes(`kind: real; file: ${sourceFile}`));
  if (real < 0) {
    failures.push(`projection: no real point for the source ${sourceFile} of a synthetic point`);
    return;
  }
  const syntheticImage = await tooltipImageOf(page, points[synthetic]);
  const realImage = await tooltipImageOf(page, points[real]);
  check(syntheticImage !== null, 'projection: a synthetic point shows no decoded face in its tooltip');
  check(realImage !== null, 'projection: a real point shows no decoded face in its tooltip');
  check(syntheticImage === null || syntheticImage !== realImage,
    `projection: the synthetic point made from ${sourceFile} shows its source's face, not its own`);
}

// Sorts the per-identity table by its first numeric column and checks the order.
async function checkSortableTable(page) {
  const header = await page.$('#identities table.sortable thead th:nth-child(4)');
  if (!header) return;
  await header.click();
  const values = await page.$$eval('#identities table.sortable tbody tr td:nth-child(4)',
    (cells) => cells.map((cell) => parseFloat(cell.getAttribute('data-sort'))));
  const sorted = [...values].sort((a, b) => a - b);
  check(JSON.stringify(values) === JSON.stringify(sorted), 'identity table: clicking a column title did not sort ascending');
}

process.exitCode = await main();
