#!/usr/bin/env node
// Writes the report test fixture: a seeded, made-up report document with every section
// filled, and small SVG face placeholders as its images. The numbers are invented for
// rendering tests only and measure nothing.
//
// Usage: node make_fixture.mjs OUT_DIR   (writes OUT_DIR/results.json and OUT_DIR/images/)
import fs from 'node:fs';
import path from 'node:path';

function mulberry32(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = mulberry32(20261204);
const gaussian = () => {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
};
const round = (x, digits = 6) => Number(x.toFixed(digits));

const out = process.argv[2];
if (!out) {
  process.stderr.write('usage: node make_fixture.mjs OUT_DIR\n');
  process.exit(2);
}
fs.mkdirSync(path.join(out, 'images'), { recursive: true });

const identities = ['cluster 1', 'cluster 2', 'cluster 3', 'cluster 4'];
const hues = [210, 20, 130, 290];

// A face placeholder; a synthetic one is darker and has a grey bar over the mouth, as
// a transformed face differs from its source.
function faceSvg(hue, variant, synthetic = false) {
  const tilt = (variant % 5) * 6 - 12;
  const lightness = synthetic ? 48 : 62;
  const occluder = synthetic ? '<rect x="14" y="29" width="20" height="7" fill="#888"/>' : '';
  return `<svg xmlns="http://www.w3.org/2000/svg" width="48" height="48" viewBox="0 0 48 48">` +
    `<rect width="48" height="48" fill="hsl(${hue},30%,85%)"/>` +
    `<g transform="rotate(${tilt} 24 24)"><ellipse cx="24" cy="25" rx="14" ry="17" fill="hsl(${hue},45%,${lightness}%)"/>` +
    `<circle cx="19" cy="21" r="2" fill="#222"/><circle cx="29" cy="21" r="2" fill="#222"/>` +
    `<path d="M18 32 Q24 36 30 32" stroke="#222" fill="none" stroke-width="1.5"/>${occluder}</g></svg>`;
}

const points = [];
identities.forEach((identity, i) => {
  const cx = Math.cos((i / identities.length) * 2 * Math.PI) * 0.5;
  const cy = Math.sin((i / identities.length) * 2 * Math.PI) * 0.5;
  for (let k = 0; k < 6; k++) {
    const file = `images/face_${i}_${k}.svg`;
    const source = `bald_guys.jpg#face${i * 6 + k}`;
    fs.writeFileSync(path.join(out, file), faceSvg(hues[i], k));
    points.push({ x: round(cx + 0.08 * gaussian()), y: round(cy + 0.08 * gaussian()), identity,
                  kind: 'real', file: source, thumbnail: file });
    for (let s = 0; s < 2; s++) {
      const syntheticFile = `images/synthetic_${i}_${k}_${s}.svg`;
      fs.writeFileSync(path.join(out, syntheticFile), faceSvg(hues[i], k + s + 1, true));
      points.push({ x: round(cx + 0.14 * gaussian()), y: round(cy + 0.14 * gaussian()), identity,
                    kind: 'synthetic', file: `synthetic from sample ${i * 6 + k + 1} (${source})`,
                    thumbnail: syntheticFile });
    }
  }
});

function histogram(phase, kind, mean, sd) {
  const rows = [];
  const edges = Array.from({ length: 31 }, (_, b) => b * 0.04);
  let total = 0;
  const weights = edges.slice(0, -1).map((start) => {
    const center = start + 0.02;
    const w = Math.exp(-0.5 * ((center - mean) / sd) ** 2);
    total += w;
    return w;
  });
  weights.forEach((w, b) => {
    const count = Math.round((w / total) * (kind === 'genuine' ? 60 : 216));
    rows.push({ phase, class: kind, bin_start: round(edges[b]), bin_end: round(edges[b + 1]),
                count, density: round(w / total / 0.04) });
  });
  return rows;
}

function rocRows(phase, shift) {
  const rows = [];
  for (let e = -4; e <= 0; e += 0.25) {
    const far = 10 ** e;
    const tar = Math.min(1, 0.55 + shift + 0.11 * (e + 4));
    rows.push({ phase, far: round(far, 8), tar: round(tar), threshold: round(0.3 + 0.07 * (e + 4)) });
  }
  return rows;
}

const roc = [...rocRows('before', 0), ...rocRows('after', 0.04)];
const doc = {
  format: 'facespace-report',
  format_version: 1,
  title: 'facespace report: fixture',
  question: 'Does adding synthetic samples made with the recipe "rotate(-15,15) gamma(0.6,1.6)" change how well the real probes are recognised?',
  answer: 'Made-up fixture data: d′ rose from 3.10 to 3.42 and rank-1 stayed at 0.958, so this document only exercises the renderer.',
  config: {
    dataset: '/usr/share/doc/libdlib19.1/examples/faces/bald_guys.jpg',
    input_kind: 'photos',
    identities_are_clusters: true,
    model_id: 'dlib_resnet_v1 (fixture)',
    recipe: 'rotate(-15,15) gamma(0.6,1.6)',
    per_image: 2,
    seed: 7,
    metric: 'l2',
    threshold: 0.6,
    store: 'out/store',
    created: '2026-12-04T20:00:00Z',
    command: 'facespace experiment --out out',
    versions: { facespace: '0.1.0', dlib: '19.24', opencv: '4.6.0', faiss: '1.7.3', vega: '6.4.0', 'vega-lite': '6.4.2' },
    timings: [{ stage: 'ingest', seconds: 3.2 }, { stage: 'compare', seconds: 4.1 },
              { stage: 'analyze', seconds: 0.4 }, { stage: 'report', seconds: 1.3 }],
  },
  headline: [
    { key: 'd_prime', label: 'd′', higher_is_better: true, before: 3.1, after: 3.42, difference: 0.32, ci_low: 0.05, ci_high: 0.61, verdict: 'improved' },
    { key: 'eer', label: 'EER', higher_is_better: false, before: 0.062, after: 0.055, difference: -0.007, ci_low: -0.02, ci_high: 0.006, verdict: 'no significant change' },
    { key: 'tar_at_far', label: 'TAR@FAR=1e-2', higher_is_better: true, before: 0.88, after: 0.9, difference: 0.02, ci_low: -0.01, ci_high: 0.05, verdict: 'no significant change' },
    { key: 'rank1', label: 'rank-1', higher_is_better: true, before: 0.958, after: 0.958, difference: 0, ci_low: 0, ci_high: 0, verdict: 'no significant change' },
    { key: 'silhouette', label: 'silhouette', higher_is_better: true, before: 0.41, after: 0.36, difference: -0.05, ci_low: -0.08, ci_high: -0.02, verdict: 'worse' },
    { key: 'fisher_ratio', label: 'Fisher ratio', higher_is_better: true, before: 2.7, after: 2.4, difference: -0.3, ci_low: -0.5, ci_high: null, verdict: 'n/a', note: 'interval not available' },
  ],
  comparisons: [
    { key: 'gallery.d_prime', higher_is_better: true, before: 3.1, after: 3.42, difference: 0.32, ci_low: 0.05, ci_high: 0.61, verdict: 'improved' },
    { key: 'probes.sample.rank1', higher_is_better: true, before: 0.958, after: 0.958, difference: 0, ci_low: 0, ci_high: 0, verdict: 'no significant change' },
    { key: 'robustness.pose.sample.rank1', higher_is_better: true, before: 0.81, after: 0.88, difference: 0.07, ci_low: 0.01, ci_high: 0.12, verdict: 'improved' },
    { key: 'probes.contamination', higher_is_better: false, before: 0, after: 0.04, difference: 0.04, ci_low: 0, ci_high: 0.08, verdict: 'no significant change' },
  ],
  distances: {
    threshold: 0.6,
    unit: 'plain L2',
    histograms: [...histogram('before', 'genuine', 0.38, 0.07), ...histogram('before', 'impostor', 0.82, 0.08),
                 ...histogram('after', 'genuine', 0.36, 0.06), ...histogram('after', 'impostor', 0.83, 0.08)],
  },
  roc,
  det: roc.map((r) => ({ phase: r.phase, far: r.far, frr: round(Math.max(1e-4, 1 - r.tar)) })),
  cmc: [1, 2, 3, 4].flatMap((rank) => [
    { phase: 'before', rank, rate: round(Math.min(1, 0.958 + 0.014 * (rank - 1))) },
    { phase: 'after', rank, rate: round(Math.min(1, 0.958 + 0.02 * (rank - 1))) }]),
  projection: {
    method: 'pca',
    fitted_on: 'real',
    explained_variance: [0.31, 0.22],
    note: 'PCA fitted on the real samples; synthetic samples are projected on the same axes.',
    points,
  },
  spaces: ['real', 'synthetic', 'all'].map((space, i) => ({
    space, samples: [24, 48, 72][i], identities: 4, d_prime: [3.1, 2.8, 3.0][i], eer: [0.06, 0.08, 0.07][i],
    tar_label: 'TAR@FAR=1e-2', tar_at_far: [0.88, 0.84, 0.86][i], rank1: [0.96, 0.93, 0.95][i],
    silhouette: [0.41, 0.33, 0.36][i], fisher_ratio: [2.7, 2.1, 2.4][i] })),
  identities: identities.map((identity, i) => ({
    identity, real_samples: 6, synthetic_samples: 12,
    radius_before: round(0.3 + 0.02 * i), radius_after: round(0.33 + 0.02 * i),
    margin_before: round(0.05 - 0.03 * i), margin_after: round(0.07 - 0.035 * i),
    silhouette_before: round(0.45 - 0.04 * i), silhouette_after: round(0.4 - 0.04 * i) })),
  transform_response: {
    threshold: 0.6,
    unit: 'plain L2',
    curves: ['rotate', 'gamma', 'blur', 'occlude_lower'].flatMap((family, f) =>
      [0, 0.25, 0.5, 0.75, 1].map((strength) => ({
        family, strength, parameter: strength * [15, 0.6, 1.5, 0.5][f],
        mean: round(0.05 + strength * (0.25 + 0.12 * f)), p95: round(0.09 + strength * (0.33 + 0.15 * f)) }))),
    crossings: [{ family: 'rotate', strength: null }, { family: 'gamma', strength: null },
                { family: 'blur', strength: 0.93 }, { family: 'occlude_lower', strength: 0.71 }],
  },
  contact_sheets: identities.slice(0, 2).map((identity, i) => ({
    identity, image: `images/face_${i}_0.svg`, caption: 'original, then 2 synthetic variants' })),
  failures: {
    counts: [{ stage: 'detect', reason: 'no face', count: 0 }, { stage: 'decode', reason: 'decode error', count: 0 },
             { stage: 'detect', reason: 'fallback box', count: 1 }, { stage: 'augment', reason: 'face lost', count: 3 }],
    synthetic: ['rotate', 'gamma'].flatMap((transform) => ['low', 'mid', 'high'].map((bucket, b) => ({
      transform, bucket, attempts: 16, lost: transform === 'rotate' ? b : 0 }))),
  },
};

fs.writeFileSync(path.join(out, 'results.json'), JSON.stringify(doc, null, 1) + '\n');
process.stdout.write(`${path.join(out, 'results.json')}\n`);
