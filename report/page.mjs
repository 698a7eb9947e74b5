// The report page: one HTML string with its styles, scripts, data and images inside.
//
// The page's own markup and scripts contain no http(s) address. The inlined library
// bundles do contain some as plain strings (XML namespaces such as the SVG one, and
// the Vega editor link of Vega-Embed's action menu, which the page turns off); none of
// them is ever requested. A Content-Security-Policy without any network source makes
// the browser block a request should one ever be attempted.

const CSP = "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; " +
  "style-src 'unsafe-inline'; img-src data:; font-src data:";

function escapeHtml(value) {
  return String(value).replace(/[&<>"']/g, (c) => ({
    '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
  })[c]);
}

// JSON placed inside a <script> element: "<" is escaped so no "</script>" can end it early.
function scriptJson(value) {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}

function formatNumber(value, digits = 4) {
  if (value === null || value === undefined || Number.isNaN(value)) return 'n/a';
  if (typeof value !== 'number') return escapeHtml(value);
  if (Number.isInteger(value)) return value.toLocaleString('en-US');
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e6)) return value.toExponential(2);
  return value.toFixed(digits);
}

function signed(value, digits = 4) {
  if (typeof value !== 'number' || Number.isNaN(value)) return formatNumber(value, digits);
  return (value > 0 ? '+' : value < 0 ? '−' : '') + formatNumber(Math.abs(value), digits);
}

// A sortable table: `columns` are {key, title, digits?, kind?}; cells keep raw values for sorting.
function table(rows, columns, { sortable = false, className = '' } = {}) {
  const head = columns.map((c) => `<th scope="col"${c.numeric === false ? '' : ' class="num"'}>${escapeHtml(c.title)}</th>`).join('');
  const body = rows.map((row) => '<tr>' + columns.map((c) => {
    const value = row[c.key];
    const shown = c.format ? c.format(value, row) : formatNumber(value, c.digits);
    const sortValue = typeof value === 'number' ? ` data-sort="${value}"` : '';
    return `<td${c.numeric === false ? '' : ' class="num"'}${sortValue}>${shown}</td>`;
  }).join('') + '</tr>').join('\n');
  const classes = [sortable ? 'sortable' : '', className].filter(Boolean).join(' ');
  return `<table${classes ? ` class="${classes}"` : ''}><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

const VERDICT_CLASS = { improved: 'good', worse: 'bad', 'no significant change': 'neutral' };

function headlineTable(doc) {
  const rows = doc.headline.map((h) => ({
    ...h,
    interval: [h.ci_low, h.ci_high],
  }));
  return table(rows, [
    { key: 'label', title: 'metric', numeric: false,
      format: (v, r) => `${escapeHtml(v)}<span class="hint">${r.higher_is_better ? 'higher is better' : 'lower is better'}</span>` },
    { key: 'before', title: 'before' },
    { key: 'after', title: 'after' },
    { key: 'difference', title: 'difference', format: (v) => signed(v) },
    { key: 'interval', title: '95% interval of the difference',
      format: (v) => (v.some((x) => x === null || x === undefined) ? 'n/a' : `[${signed(v[0])}, ${signed(v[1])}]`) },
    { key: 'verdict', title: 'verdict', numeric: false,
      format: (v, r) => `<span class="verdict ${VERDICT_CLASS[v] || 'neutral'}">${escapeHtml(v || 'n/a')}</span>` +
        (r.note ? `<span class="hint">${escapeHtml(r.note)}</span>` : '') },
  ], { className: 'headline' });
}

// Every before/after figure of the comparison, folded away under the headline.
function comparisonsTable(doc) {
  if (!Array.isArray(doc.comparisons) || doc.comparisons.length === 0) return '';
  const rows = doc.comparisons.map((c) => ({ ...c, interval: [c.ci_low, c.ci_high] }));
  return `<details class="comparisons"><summary>All ${rows.length} before/after figures</summary>` +
    table(rows, [
      { key: 'key', title: 'figure', numeric: false },
      { key: 'before', title: 'before' },
      { key: 'after', title: 'after' },
      { key: 'difference', title: 'difference', format: (v) => signed(v) },
      { key: 'interval', title: '95% interval',
        format: (v) => (v.some((x) => x === null || x === undefined) ? 'n/a' : `[${signed(v[0])}, ${signed(v[1])}]`) },
      { key: 'verdict', title: 'verdict', numeric: false,
        format: (v) => `<span class="verdict ${VERDICT_CLASS[v] || 'neutral'}">${escapeHtml(v || 'n/a')}</span>` },
    ], { sortable: true }) + '</details>';
}

function figure(fig) {
  const caption = escapeHtml(fig.spec.description || '');
  return `<figure class="figure" data-figure="${fig.name}">
  <div class="chart" id="figure-${fig.name}"></div>
  <figcaption>${caption} <span class="files">figures/${fig.name}.svg · .png · .vl.json</span></figcaption>
</figure>`;
}

function figuresOf(figures, names) {
  const chosen = figures.filter((f) => names.includes(f.name));
  if (chosen.length === 0) return '<p class="empty">No data for these figures in this run.</p>';
  return `<div class="grid">${chosen.map(figure).join('\n')}</div>`;
}

function section(id, title, body, intro = '') {
  return `<section id="${id}"><h2>${escapeHtml(title)}</h2>${intro ? `<p class="intro">${intro}</p>` : ''}${body}</section>`;
}

function spacesSection(doc) {
  if (!Array.isArray(doc.spaces) || doc.spaces.length === 0) return '';
  return table(doc.spaces, [
    { key: 'space', title: 'space', numeric: false },
    { key: 'samples', title: 'samples' },
    { key: 'identities', title: 'identities' },
    { key: 'd_prime', title: 'd′' },
    { key: 'eer', title: 'EER' },
    { key: 'tar_at_far', title: doc.spaces[0].tar_label || 'TAR@FAR' },
    { key: 'rank1', title: 'rank-1' },
    { key: 'silhouette', title: 'silhouette' },
    { key: 'fisher_ratio', title: 'Fisher ratio' },
  ]);
}

function identitySection(doc, figures) {
  const rows = doc.identities || [];
  if (rows.length === 0) return '<p class="empty">No per-identity results in this run.</p>';
  const tableHtml = table(rows, [
    { key: 'identity', title: 'identity', numeric: false, format: (v) => escapeHtml(v) },
    { key: 'real_samples', title: 'real' },
    { key: 'synthetic_samples', title: 'synthetic' },
    { key: 'radius_before', title: 'radius before' },
    { key: 'radius_after', title: 'radius after' },
    { key: 'margin_before', title: 'margin before' },
    { key: 'margin_after', title: 'margin after' },
    { key: 'silhouette_before', title: 'silhouette before' },
    { key: 'silhouette_after', title: 'silhouette after' },
  ], { sortable: true });
  return `${figuresOf(figures, ['identity_margins'])}<div class="scroll">${tableHtml}</div>`;
}

function transformSection(doc, figures) {
  const t = doc.transform_response;
  let crossings = '';
  if (t && Array.isArray(t.crossings) && t.crossings.length > 0) {
    crossings = table(t.crossings, [
      { key: 'family', title: 'transformation family', numeric: false },
      { key: 'strength', title: 'strength where the mean distance crosses the threshold',
        format: (v) => (v === null || v === undefined ? 'not crossed' : formatNumber(v, 2)) },
    ]);
  }
  return figuresOf(figures, ['transform_response']) + crossings;
}

function contactSheets(doc) {
  const sheets = doc.contact_sheets || [];
  if (sheets.length === 0) return '<p class="empty">No contact sheets in this run.</p>';
  return '<div class="sheets">' + sheets.map((s) => `<figure class="sheet">
  <img src="${s.image_data}" alt="${escapeHtml(`original and synthetic variants of ${s.identity}`)}">
  <figcaption><strong>${escapeHtml(s.identity)}</strong> ${escapeHtml(s.caption || '')}</figcaption>
</figure>`).join('\n') + '</div>';
}

function failureSection(doc, figures) {
  const f = doc.failures || {};
  const counts = Array.isArray(f.counts) && f.counts.length > 0
    ? table(f.counts, [
      { key: 'stage', title: 'stage', numeric: false },
      { key: 'reason', title: 'reason', numeric: false },
      { key: 'count', title: 'count' },
    ])
    : '<p class="empty">No failures recorded.</p>';
  return counts + figuresOf(figures, ['failures']);
}

function configSection(doc) {
  const c = doc.config;
  const skip = new Set(['versions', 'timings']);
  const rows = Object.entries(c).filter(([k]) => !skip.has(k))
    .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k.replace(/_/g, ' '))}</th><td>${escapeHtml(typeof v === 'object' ? JSON.stringify(v) : v)}</td></tr>`);
  const versions = Object.entries(c.versions || {})
    .map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`);
  const timings = (c.timings || []).map((t) => ({ ...t }));
  const total = timings.reduce((sum, t) => sum + (t.seconds || 0), 0);
  if (timings.length > 0) timings.push({ stage: 'total', seconds: total });
  return `<div class="columns">
  <div><h3>Run</h3><table class="kv">${rows.join('')}</table></div>
  <div><h3>Versions</h3><table class="kv">${versions.join('')}</table>
  <h3>Timings</h3>${table(timings, [
    { key: 'stage', title: 'stage', numeric: false },
    { key: 'seconds', title: 'seconds', digits: 2 },
  ])}</div>
</div>`;
}

const STYLE = `
:root { --ink: #1d1d1f; --muted: #6b6b70; --rule: #e3e3e6; --accent: #2f5d8a; --paper: #fbfbfa;
  --good: #1b7a3a; --bad: #b3261e; --neutral: #6b6b70; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--paper); color: var(--ink);
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; }
header { background: #fff; border-bottom: 1px solid var(--rule); }
.wrap { max-width: 1180px; margin: 0 auto; padding: 0 28px; }
header .wrap { padding-top: 28px; padding-bottom: 20px; }
h1 { font-size: 26px; font-weight: 600; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 19px; font-weight: 600; margin: 44px 0 10px; padding-bottom: 6px; border-bottom: 1px solid var(--rule); }
h3 { font-size: 15px; font-weight: 600; margin: 18px 0 6px; }
.meta { color: var(--muted); font-size: 13px; }
nav { font-size: 13px; margin-top: 12px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; }
.answer { background: #fff; border: 1px solid var(--rule); border-left: 4px solid var(--accent);
  padding: 16px 20px; margin: 26px 0 10px; font-size: 16px; }
.answer p { margin: 4px 0; }
.notice { background: #fff8e6; border: 1px solid #f0d48a; padding: 10px 16px; margin: 14px 0; font-size: 14px; }
.intro { color: #333; max-width: 820px; }
table { border-collapse: collapse; background: #fff; font-size: 13.5px; margin: 8px 0 12px; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--rule); text-align: left; vertical-align: top; }
thead th { font-weight: 600; color: #333; border-bottom: 2px solid #cfcfd4; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
table.headline { font-size: 15px; width: 100%; }
table.headline td { padding: 9px 12px; }
.hint { display: block; color: var(--muted); font-size: 11.5px; }
.verdict { font-weight: 600; }
.verdict.good { color: var(--good); } .verdict.bad { color: var(--bad); } .verdict.neutral { color: var(--neutral); }
table.sortable thead th { cursor: pointer; user-select: none; }
table.sortable thead th[aria-sort="ascending"]::after { content: " ▲"; font-size: 10px; }
table.sortable thead th[aria-sort="descending"]::after { content: " ▼"; font-size: 10px; }
.scroll { max-height: 520px; overflow: auto; border: 1px solid var(--rule); }
.scroll table { margin: 0; width: 100%; }
.scroll thead th { position: sticky; top: 0; background: #fff; }
.grid { display: flex; flex-wrap: wrap; gap: 18px; }
.figure { margin: 0; background: #fff; border: 1px solid var(--rule); padding: 14px; max-width: 100%; overflow-x: auto; }
.figure figcaption { color: var(--muted); font-size: 12.5px; max-width: 560px; margin-top: 6px; }
.files { display: block; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 11px; color: #999; }
.sheets { display: flex; flex-direction: column; gap: 14px; }
.sheet { margin: 0; background: #fff; border: 1px solid var(--rule); padding: 10px; }
.sheet img { max-width: 100%; image-rendering: auto; display: block; }
.sheet figcaption { font-size: 13px; color: var(--muted); margin-top: 6px; }
.columns { display: grid; grid-template-columns: 1.4fr 1fr; gap: 28px; }
table.kv th { font-weight: 500; color: var(--muted); white-space: nowrap; }
table.kv td { word-break: break-word; font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; }
.empty { color: var(--muted); font-style: italic; }
details.comparisons { margin: 6px 0 0; }
details.comparisons summary { cursor: pointer; color: var(--accent); font-size: 14px; }
footer { color: var(--muted); font-size: 12px; padding: 40px 0 30px; }
#vg-tooltip-element img { max-width: 96px; display: block; }
@media print { .scroll { max-height: none; } nav { display: none; } }
`;

// Runs in the page: embeds every figure, records the outcome on its <figure>, and makes
// tables sortable. A figure that fails to render logs a console error, which the
// browser test treats as a failure.
const PAGE_SCRIPT = `
(function () {
  var figures = JSON.parse(document.getElementById('figure-specs').textContent);
  var pending = figures.map(function (f) {
    var holder = document.querySelector('[data-figure="' + f.name + '"]');
    return vegaEmbed('#figure-' + f.name, f.spec, { renderer: 'svg', actions: false })
      .then(function () { holder.setAttribute('data-rendered', 'true'); })
      .catch(function (error) {
        holder.setAttribute('data-rendered', 'error');
        console.error('figure ' + f.name + ': ' + error);
      });
  });
  Promise.all(pending).then(function () { document.body.setAttribute('data-figures-done', 'true'); });

  function cellValue(row, index) {
    var cell = row.children[index];
    var sort = cell.getAttribute('data-sort');
    return sort !== null ? parseFloat(sort) : cell.textContent.trim().toLowerCase();
  }
  document.querySelectorAll('table.sortable').forEach(function (tableElement) {
    var headers = tableElement.querySelectorAll('thead th');
    headers.forEach(function (th, index) {
      th.addEventListener('click', function () {
        var ascending = th.getAttribute('aria-sort') !== 'ascending';
        headers.forEach(function (other) { other.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
        var body = tableElement.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var x = cellValue(a, index), y = cellValue(b, index);
          var order = x < y ? -1 : x > y ? 1 : 0;
          return ascending ? order : -order;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
})();
`;

export function renderHtml(doc, figures, libraries) {
  const c = doc.config;
  const title = doc.title || 'facespace report';
  const clusters = c.identities_are_clusters
    ? `<div class="notice"><strong>Identities are clusters, not ground truth.</strong> The input photos carry no names, so faces were grouped by Chinese whispers clustering over the graph of face pairs closer than the match threshold (${escapeHtml(c.threshold)}). Every identity-based figure below measures those clusters.</div>`
    : '';
  const specs = figures.map((f) => ({ name: f.name, spec: f.spec }));
  const sections = [
    section('headline', 'Headline', headlineTable(doc) + comparisonsTable(doc),
      'Before: the real gallery alone. After: the real gallery plus its synthetic samples. The difference is after minus before, with a paired bootstrap 95% interval; the verdict says whether that interval excludes zero.'),
    section('distances', 'Distance distributions', figuresOf(figures, ['distances'])),
    section('verification', 'Verification and identification', figuresOf(figures, ['roc', 'det', 'cmc'])),
    section('space', 'Embedding space', figuresOf(figures, ['projection']) + spacesSection(doc),
      escapeHtml((doc.projection && doc.projection.note) || '')),
    section('identities', 'Per identity', identitySection(doc, figures),
      'Click a column title to sort. Radius: mean distance of an identity\u2019s samples to its centroid. Margin: nearest impostor distance minus farthest genuine distance (negative means overlap).'),
    section('transforms', 'Transform response', transformSection(doc, figures)),
    section('contact-sheets', 'Contact sheets', contactSheets(doc),
      'For a few identities: the original face and its synthetic variants.'),
    section('failures', 'Failure accounting', failureSection(doc, figures)),
    section('configuration', 'Configuration', configSection(doc)),
  ];
  const nav = [['headline', 'Headline'], ['distances', 'Distances'], ['verification', 'ROC · DET · CMC'],
    ['space', 'Embedding space'], ['identities', 'Per identity'], ['transforms', 'Transforms'],
    ['contact-sheets', 'Contact sheets'], ['failures', 'Failures'], ['configuration', 'Configuration']]
    .map(([id, label]) => `<a href="#${id}">${label}</a>`).join('');

  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header><div class="wrap">
<h1>${escapeHtml(title)}</h1>
<div class="meta">${escapeHtml(c.dataset || '')} · model ${escapeHtml(c.model_id || 'n/a')} · recipe <code>${escapeHtml(c.recipe || 'n/a')}</code> · seed ${escapeHtml(c.seed ?? 'n/a')} · ${escapeHtml(c.created || '')}</div>
<nav>${nav}</nav>
</div></header>
<main class="wrap">
<div class="answer" id="question-answer"><p><strong>Question.</strong> ${escapeHtml(doc.question)}</p><p><strong>Answer.</strong> ${escapeHtml(doc.answer)}</p></div>
${clusters}
${sections.join('\n')}
<footer>Made by facespace ${escapeHtml((c.versions && c.versions.facespace) || '')}. Every number is in results.json and data/*.csv beside this page; every figure is in figures/ as SVG and PNG.</footer>
</main>
<script type="application/json" id="figure-specs">${scriptJson(specs)}</script>
<script data-library="vega">${libraries.vega}</script>
<script data-library="vega-lite">${libraries.vegaLite}</script>
<script data-library="vega-embed">${libraries.vegaEmbed}</script>
<script>${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
