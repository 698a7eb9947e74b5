#!/usr/bin/env node
// Renders a facespace report document (results.json) into a report folder:
//   report.html            one self-contained page: Vega, Vega-Lite, Vega-Embed, styles and
//                          images are inlined, so it opens offline with no network request
//   figures/NAME.svg|png   every figure for papers (SVG from Vega's node API, PNG from resvg)
//   figures/NAME.vl.json   the Vega-Lite specification behind each figure
//   data/NAME.csv          every table and curve of the document as CSV
//
// Usage: node render.mjs RESULTS_JSON OUT_DIR
// Exit status 0 on success, 1 on a failure (message on stderr), 2 on bad usage.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import * as vega from 'vega';
import * as vegaLite from 'vega-lite';
import { Resvg } from '@resvg/resvg-js';

import { buildFigures } from './figures.mjs';
import { renderHtml } from './page.mjs';

export const FORMAT = 'facespace-report';
export const FORMAT_VERSION = 1;

const rendererDir = path.dirname(fileURLToPath(import.meta.url));

class RenderError extends Error {}

// Reads and checks the report document; image paths in it are relative to its folder.
export function readDocument(file) {
  let doc;
  try {
    doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new RenderError(`${file}: cannot read the report document: ${error.message}`);
  }
  if (doc.format !== FORMAT) {
    throw new RenderError(`${file}: format is ${JSON.stringify(doc.format)}, expected "${FORMAT}"`);
  }
  if (doc.format_version !== FORMAT_VERSION) {
    throw new RenderError(`${file}: format_version is ${doc.format_version}, this renderer reads ${FORMAT_VERSION}`);
  }
  for (const key of ['question', 'answer', 'config', 'headline']) {
    if (doc[key] === undefined) throw new RenderError(`${file}: missing required field "${key}"`);
  }
  return doc;
}

const IMAGE_TYPES = { '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.svg': 'image/svg+xml' };

// Returns the image at `relative` (beside the document) as a data URI.
function dataUri(baseDir, relative) {
  const file = path.resolve(baseDir, relative);
  const type = IMAGE_TYPES[path.extname(file).toLowerCase()];
  if (!type) throw new RenderError(`${file}: unsupported image type (use PNG, JPEG or SVG)`);
  let bytes;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw new RenderError(`${file}: cannot read image: ${error.message}`);
  }
  return `data:${type};base64,${bytes.toString('base64')}`;
}

// Replaces image paths by data URIs so the page carries its own images.
function inlineImages(doc, baseDir) {
  const copy = structuredClone(doc);
  for (const point of (copy.projection && copy.projection.points) || []) {
    if (point.thumbnail) point.thumbnail_data = dataUri(baseDir, point.thumbnail);
  }
  for (const sheet of copy.contact_sheets || []) {
    sheet.image_data = dataUri(baseDir, sheet.image);
  }
  return copy;
}

function csvCell(value) {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'object' ? JSON.stringify(value) : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

// Leading columns of each CSV table, in reading order; other keys follow. The
// document's objects may come with their keys sorted (nlohmann::json sorts them).
const COLUMN_ORDER = {
  headline: ['key', 'label', 'higher_is_better', 'before', 'after', 'difference', 'ci_low', 'ci_high', 'verdict', 'note'],
  comparisons: ['key', 'higher_is_better', 'before', 'after', 'difference', 'ci_low', 'ci_high', 'verdict'],
  spaces: ['space', 'samples', 'identities', 'd_prime', 'eer', 'tar_label', 'tar_at_far', 'rank1', 'silhouette', 'fisher_ratio'],
  identities: ['identity', 'real_samples', 'synthetic_samples', 'radius_before', 'radius_after',
               'margin_before', 'margin_after', 'silhouette_before', 'silhouette_after'],
  distance_histograms: ['phase', 'class', 'bin_start', 'bin_end', 'count', 'density'],
  roc: ['phase', 'far', 'tar', 'threshold'],
  det: ['phase', 'far', 'frr', 'threshold'],
  cmc: ['phase', 'rank', 'rate'],
  projection: ['identity', 'kind', 'x', 'y', 'file', 'thumbnail'],
  transform_response: ['family', 'strength', 'parameter', 'mean', 'p95'],
  transform_crossings: ['family', 'strength'],
  failures: ['stage', 'reason', 'count'],
  synthetic_failures: ['transform', 'bucket', 'attempts', 'lost'],
  timings: ['stage', 'seconds'],
};

// Writes rows (objects) as CSV; the header is `leading` then any other keys in order of appearance.
function writeCsv(file, rows, leading = []) {
  const present = new Set(rows.flatMap((row) => Object.keys(row)));
  const columns = leading.filter((key) => present.has(key));
  for (const row of rows) for (const key of Object.keys(row)) if (!columns.includes(key)) columns.push(key);
  const lines = [columns.map(csvCell).join(',')];
  for (const row of rows) lines.push(columns.map((c) => csvCell(row[c])).join(','));
  fs.writeFileSync(file, lines.join('\n') + '\n');
}

// The tables of the document that go to data/*.csv, as [name, rows].
function tables(doc) {
  const list = [
    ['headline', doc.headline],
    ['comparisons', doc.comparisons],
    ['spaces', doc.spaces],
    ['identities', doc.identities],
    ['distance_histograms', doc.distances && doc.distances.histograms],
    ['roc', doc.roc],
    ['det', doc.det],
    ['cmc', doc.cmc],
    ['projection', doc.projection && doc.projection.points],
    ['transform_response', doc.transform_response && doc.transform_response.curves],
    ['transform_crossings', doc.transform_response && doc.transform_response.crossings],
    ['failures', doc.failures && doc.failures.counts],
    ['synthetic_failures', doc.failures && doc.failures.synthetic],
    ['timings', doc.config && doc.config.timings],
  ];
  return list.filter(([, rows]) => Array.isArray(rows) && rows.length > 0);
}

// Renders one Vega-Lite spec to SVG text with Vega's headless view.
async function toSvg(spec) {
  const compiled = vegaLite.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

function toPng(svg) {
  const resvg = new Resvg(svg, {
    fitTo: { mode: 'zoom', value: 2 },
    background: 'white',
    font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans', sansSerifFamily: 'DejaVu Sans' },
  });
  return resvg.render().asPng();
}

function libraryScript(relative) {
  const file = path.join(rendererDir, 'node_modules', relative);
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (error) {
    throw new RenderError(`${file}: missing; run "npm ci" in ${rendererDir} (scripts/setup.sh does this)`);
  }
}

// Versions of the plotting libraries, for the report's configuration table.
function libraryVersions() {
  const versions = {};
  for (const name of ['vega', 'vega-lite', 'vega-embed', '@resvg/resvg-js']) {
    try {
      versions[name] = JSON.parse(fs.readFileSync(path.join(rendererDir, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      versions[name] = 'unknown';
    }
  }
  return versions;
}

export async function render(resultsFile, outDir) {
  const doc = readDocument(resultsFile);
  const baseDir = path.dirname(path.resolve(resultsFile));
  const inlined = inlineImages(doc, baseDir);
  inlined.config.versions = { ...(inlined.config.versions || {}), ...libraryVersions() };
  const figuresDir = path.join(outDir, 'figures');
  const dataDir = path.join(outDir, 'data');
  fs.mkdirSync(figuresDir, { recursive: true });
  fs.mkdirSync(dataDir, { recursive: true });

  for (const [name, rows] of tables(doc)) writeCsv(path.join(dataDir, `${name}.csv`), rows, COLUMN_ORDER[name]);

  const staticFigures = buildFigures(doc);
  for (const figure of staticFigures) {
    const svg = await toSvg(figure.spec);
    fs.writeFileSync(path.join(figuresDir, `${figure.name}.vl.json`), JSON.stringify(figure.spec, null, 1));
    fs.writeFileSync(path.join(figuresDir, `${figure.name}.svg`), svg);
    fs.writeFileSync(path.join(figuresDir, `${figure.name}.png`), toPng(svg));
  }

  const htmlFigures = buildFigures(inlined, { forHtml: true });
  for (const figure of htmlFigures) delete figure.spec.$schema;
  const html = renderHtml(inlined, htmlFigures, {
    vega: libraryScript('vega/build/vega.min.js'),
    vegaLite: libraryScript('vega-lite/build/vega-lite.min.js'),
    vegaEmbed: libraryScript('vega-embed/build/vega-embed.min.js'),
  });
  const htmlFile = path.join(outDir, 'report.html');
  fs.writeFileSync(htmlFile, html);
  return { html: htmlFile, figures: staticFigures.map((f) => f.name) };
}

async function main(argv) {
  if (argv.length !== 2) {
    process.stderr.write('usage: node render.mjs RESULTS_JSON OUT_DIR\n');
    return 2;
  }
  try {
    const result = await render(argv[0], argv[1]);
    process.stdout.write(`${result.html}\n`);
    return 0;
  } catch (error) {
    const message = error instanceof RenderError ? error.message : (error.stack || String(error));
    process.stderr.write(`render: error: ${message}\n`);
    return 1;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
