// Vega-Lite specifications of the report's figures, built from a report document.
//
// Each builder returns null when the document has no data for its figure, so the
// report leaves the figure out instead of showing an empty frame. The same spec
// is embedded in the HTML (interactive) and exported to SVG and PNG (static).

const WIDTH = 380;
const HEIGHT = 260;

// Shared look of every figure: system sans-serif text, light grid, no frame.
export const THEME = {
  font: 'DejaVu Sans, Helvetica, Arial, sans-serif',
  background: 'white',
  view: { stroke: null },
  axis: {
    labelColor: '#333', titleColor: '#222', gridColor: '#e6e6e6', domainColor: '#888',
    tickColor: '#888', labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal',
  },
  legend: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 'normal' },
  title: { fontSize: 14, fontWeight: 'normal', anchor: 'start', color: '#111' },
  header: { labelFontSize: 12, titleFontSize: 12 },
  range: { category: ['#4c78a8', '#f58518', '#54a24b', '#e45756', '#72b7b2', '#b279a2',
                      '#eeca3b', '#9d755d', '#ff9da6', '#bab0ac'] },
};

const PHASE_SCALE = { domain: ['before', 'after'], range: ['#4c78a8', '#e45756'] };

function base(title, description) {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title, description, config: THEME, width: WIDTH, height: HEIGHT,
  };
}

function hasRows(rows) {
  return Array.isArray(rows) && rows.length > 0;
}

// Genuine and impostor distance histograms, before and after, with the threshold.
function distances(doc) {
  const d = doc.distances;
  if (!d || !hasRows(d.histograms)) return null;
  const spec = base('Genuine and impostor distances',
    'Density of same-identity (genuine) and different-identity (impostor) distances, before and after adding synthetic samples; the rule marks the match threshold.');
  spec.layer = [
    {
      data: { values: d.histograms },
      transform: [{ calculate: "datum.class + ' · ' + datum.phase", as: 'series' },
                  { calculate: '(datum.bin_start + datum.bin_end) / 2', as: 'center' }],
      mark: { type: 'line', interpolate: 'step', strokeWidth: 1.8 },
      encoding: {
        x: { field: 'center', type: 'quantitative', title: `distance (${d.unit})` },
        y: { field: 'density', type: 'quantitative', title: 'density' },
        color: { field: 'class', type: 'nominal', title: 'pairs',
                 scale: { domain: ['genuine', 'impostor'], range: ['#54a24b', '#b279a2'] } },
        strokeDash: { field: 'phase', type: 'nominal', title: 'phase',
                      scale: { domain: ['before', 'after'], range: [[1, 0], [5, 3]] } },
        detail: { field: 'series' },
        tooltip: [{ field: 'phase' }, { field: 'class' }, { field: 'bin_start', format: '.3f' },
                  { field: 'bin_end', format: '.3f' }, { field: 'count' }],
      },
    },
    {
      data: { values: [{ threshold: d.threshold }] },
      mark: { type: 'rule', color: '#222', strokeDash: [2, 2] },
      encoding: { x: { field: 'threshold', type: 'quantitative' } },
    },
    {
      data: { values: [{ threshold: d.threshold, label: `threshold ${d.threshold}` }] },
      mark: { type: 'text', align: 'left', dx: 4, dy: -6, baseline: 'top', fontSize: 11 },
      encoding: { x: { field: 'threshold', type: 'quantitative' }, y: { value: 0 },
                  text: { field: 'label' } },
    },
  ];
  return spec;
}

// Powers of ten spanning `values`, so a log axis gets one labelled tick per decade.
function decades(values) {
  const positive = values.filter((v) => v > 0);
  if (positive.length === 0) return undefined;
  const low = Math.floor(Math.log10(Math.min(...positive)));
  const high = Math.ceil(Math.log10(Math.max(...positive)));
  const ticks = [];
  for (let e = low; e <= high; e++) ticks.push(10 ** e);
  return ticks;
}

function logAxis(title, values) {
  const ticks = decades(values);
  return { title, values: ticks, format: '~g', grid: true };
}

function phaseColor() {
  return { field: 'phase', type: 'nominal', title: 'phase', scale: PHASE_SCALE };
}

// ROC: true accept rate against false accept rate on a log axis.
function roc(doc) {
  const rows = (doc.roc || []).filter((r) => r.far > 0);
  if (!hasRows(rows)) return null;
  const spec = base('ROC', 'Verification: true accept rate against false accept rate (log axis).');
  spec.data = { values: rows };
  spec.mark = { type: 'line', interpolate: 'step-after', strokeWidth: 1.8 };
  spec.encoding = {
    x: { field: 'far', type: 'quantitative', scale: { type: 'log' },
         axis: logAxis('false accept rate (FAR)', rows.map((r) => r.far)) },
    y: { field: 'tar', type: 'quantitative', scale: { domain: [0, 1] }, title: 'true accept rate (TAR)' },
    color: phaseColor(),
    order: { field: 'far' },
    tooltip: [{ field: 'phase' }, { field: 'far', format: '.2e' }, { field: 'tar', format: '.4f' },
              { field: 'threshold', format: '.4f' }],
  };
  return spec;
}

// DET: false reject rate against false accept rate, both on log axes.
function det(doc) {
  const rows = (doc.det || []).filter((r) => r.far > 0 && r.frr > 0);
  if (!hasRows(rows)) return null;
  const spec = base('DET', 'Detection error trade-off: false reject rate against false accept rate, both on log axes.');
  spec.data = { values: rows };
  spec.mark = { type: 'line', strokeWidth: 1.8 };
  spec.encoding = {
    x: { field: 'far', type: 'quantitative', scale: { type: 'log' },
         axis: logAxis('false accept rate (FAR)', rows.map((r) => r.far)) },
    y: { field: 'frr', type: 'quantitative', scale: { type: 'log' },
         axis: logAxis('false reject rate (FRR)', rows.map((r) => r.frr)) },
    color: phaseColor(),
    order: { field: 'far' },
    tooltip: [{ field: 'phase' }, { field: 'far', format: '.2e' }, { field: 'frr', format: '.2e' }],
  };
  return spec;
}

// CMC: identification rate at rank k.
function cmc(doc) {
  if (!hasRows(doc.cmc)) return null;
  const spec = base('CMC', 'Identification: share of probes whose identity is among the k nearest gallery identities.');
  spec.data = { values: doc.cmc };
  spec.mark = { type: 'line', point: true, strokeWidth: 1.8 };
  spec.encoding = {
    x: { field: 'rank', type: 'quantitative', title: 'rank k', axis: { tickMinStep: 1 } },
    y: { field: 'rate', type: 'quantitative', scale: { domain: [0, 1] }, title: 'identification rate' },
    color: phaseColor(),
    tooltip: [{ field: 'phase' }, { field: 'rank' }, { field: 'rate', format: '.4f' }],
  };
  return spec;
}

// 2-D projection coloured by identity, synthetic samples drawn as crosses.
// `withThumbnails` adds the face image to the tooltip (HTML only).
function projection(doc, withThumbnails) {
  const p = doc.projection;
  if (!p || !hasRows(p.points)) return null;
  const identities = new Set(p.points.map((q) => q.identity)).size;
  const methodName = { pca: 'PCA', tsne: 't-SNE' }[p.method] || p.method;
  const axisTitle = (i) => {
    const share = p.explained_variance && p.explained_variance[i];
    const name = p.method === 'pca' ? `PC${i + 1}` : `${methodName} ${i + 1}`;
    return typeof share === 'number' ? `${name} (${(100 * share).toFixed(1)}% of variance)` : name;
  };
  const values = p.points.map((q) => {
    const row = { x: q.x, y: q.y, identity: q.identity, kind: q.kind, file: q.file };
    if (withThumbnails && q.thumbnail_data) row.thumbnail = q.thumbnail_data;
    return row;
  });
  const tooltip = [{ field: 'identity' }, { field: 'kind' }, { field: 'file' }];
  if (withThumbnails) tooltip.push({ field: 'thumbnail', title: 'image' });
  const spec = base(`Embedding projection (${methodName})`, p.note || '');
  spec.width = WIDTH + 120;
  spec.height = HEIGHT + 120;
  spec.data = { values };
  spec.mark = { type: 'point', filled: true, size: 60, opacity: 0.85 };
  spec.encoding = {
    x: { field: 'x', type: 'quantitative', title: axisTitle(0), scale: { zero: false } },
    y: { field: 'y', type: 'quantitative', title: axisTitle(1), scale: { zero: false } },
    color: { field: 'identity', type: 'nominal', title: 'identity',
             legend: identities <= 20 ? { columns: identities > 10 ? 2 : 1 } : null,
             scale: { scheme: identities <= 10 ? 'tableau10' : 'tableau20' } },
    shape: { field: 'kind', type: 'nominal', title: 'sample',
             scale: { domain: ['real', 'synthetic'], range: ['circle', 'cross'] } },
    tooltip,
  };
  return spec;
}

// Distance from a source embedding to its transformed versions as strength grows.
function transformResponse(doc) {
  const t = doc.transform_response;
  if (!t || !hasRows(t.curves)) return null;
  const rows = [];
  for (const c of t.curves) {
    rows.push({ family: c.family, strength: c.strength, statistic: 'mean', distance: c.mean });
    rows.push({ family: c.family, strength: c.strength, statistic: '95th percentile', distance: c.p95 });
  }
  const families = [...new Set(t.curves.map((c) => c.family))];
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
    title: 'Transform response',
    description: 'Distance between a source embedding and its transformed versions as the transformation strength grows (0: no change, 1: the strongest setting the presets use); the dashed rule is the threshold of the curves.',
    config: THEME,
    data: { values: rows },
    facet: { field: 'family', type: 'nominal', title: null, sort: families },
    columns: Math.min(4, families.length),
    spec: {
      width: 160, height: 140,
      layer: [
        {
          mark: { type: 'line', point: { size: 20 }, strokeWidth: 1.6 },
          encoding: {
            x: { field: 'strength', type: 'quantitative', title: 'strength' },
            y: { field: 'distance', type: 'quantitative', title: `distance (${t.unit || 'plain L2'})` },
            color: { field: 'statistic', type: 'nominal', title: null,
                     scale: { domain: ['mean', '95th percentile'], range: ['#4c78a8', '#f58518'] } },
            tooltip: [{ field: 'family' }, { field: 'statistic' }, { field: 'strength', format: '.2f' },
                      { field: 'distance', format: '.4f' }],
          },
        },
        {
          transform: [{ aggregate: [{ op: 'count', as: 'n' }], groupby: [] },
                      { calculate: String(Number(t.threshold)), as: 'threshold' }],
          mark: { type: 'rule', color: '#222', strokeDash: [2, 2] },
          encoding: { y: { field: 'threshold', type: 'quantitative' } },
        },
      ],
    },
    resolve: { scale: { x: 'independent' } },
  };
}

// Share of synthetic images in which the face was lost, per transformation and strength bucket.
function failures(doc) {
  const rows = ((doc.failures && doc.failures.synthetic) || []).filter((r) => r.attempts > 0)
    .map((r) => ({ ...r, rate: r.lost / r.attempts }));
  if (!hasRows(rows)) return null;
  const spec = base('Faces lost in synthetic images',
    'Share of synthetic images in which no face was found again, per transformation and strength bucket.');
  spec.data = { values: rows };
  spec.mark = { type: 'bar' };
  spec.encoding = {
    y: { field: 'transform', type: 'nominal', title: null },
    yOffset: { field: 'bucket', type: 'ordinal' },
    x: { field: 'rate', type: 'quantitative', title: 'share of images without a face',
         scale: { domain: [0, 1] }, axis: { format: '%' } },
    color: { field: 'bucket', type: 'ordinal', title: 'strength', scale: { scheme: 'blues' } },
    tooltip: [{ field: 'transform' }, { field: 'bucket' }, { field: 'attempts' }, { field: 'lost' },
              { field: 'rate', format: '.1%' }],
  };
  spec.height = Math.max(120, 26 * new Set(rows.map((r) => r.transform)).size);
  return spec;
}

// Per-identity margin before against after; points above the diagonal improved.
function identityMargins(doc) {
  const rows = (doc.identities || []).filter(
    (r) => Number.isFinite(r.margin_before) && Number.isFinite(r.margin_after));
  if (!hasRows(rows)) return null;
  const lo = Math.min(...rows.map((r) => Math.min(r.margin_before, r.margin_after)));
  const hi = Math.max(...rows.map((r) => Math.max(r.margin_before, r.margin_after)));
  const spec = base('Per-identity margin',
    'Margin (nearest impostor minus farthest genuine distance) of each identity before and after; points above the diagonal gained margin.');
  spec.width = 360;
  spec.height = 360;
  spec.layer = [
    {
      data: { values: [{ a: lo, b: lo }, { a: hi, b: hi }] },
      mark: { type: 'line', color: '#aaa', strokeDash: [3, 3] },
      encoding: { x: { field: 'a', type: 'quantitative' }, y: { field: 'b', type: 'quantitative' } },
    },
    {
      data: { values: rows },
      mark: { type: 'point', filled: true, size: 50, color: '#4c78a8' },
      encoding: {
        x: { field: 'margin_before', type: 'quantitative', title: 'margin before', scale: { zero: false } },
        y: { field: 'margin_after', type: 'quantitative', title: 'margin after', scale: { zero: false } },
        tooltip: [{ field: 'identity' }, { field: 'margin_before', format: '.4f' },
                  { field: 'margin_after', format: '.4f' }],
      },
    },
  ];
  return spec;
}

// Returns [{name, title, spec}] for every figure the document has data for.
// The HTML variant carries face thumbnails in the projection's tooltips.
export function buildFigures(doc, { forHtml = false } = {}) {
  const builders = [
    ['distances', distances],
    ['roc', roc],
    ['det', det],
    ['cmc', cmc],
    ['projection', (d) => projection(d, forHtml)],
    ['identity_margins', identityMargins],
    ['transform_response', transformResponse],
    ['failures', failures],
  ];
  const figures = [];
  for (const [name, build] of builders) {
    const spec = build(doc);
    if (spec) figures.push({ name, title: spec.title, spec });
  }
  return figures;
}
