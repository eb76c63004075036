// One VLA: its clauses (value against target and warning, attainment), the
// explanation, the state timeline from the evaluation history, each KVI's
// series with its target and warning bands, and the monthly report.
import { get, listAll } from './api.js';
import { formatValue, jsonNumber, number, oneDecimal } from './format.js';
import { slaText, vlaState } from './board.js';
import { MELON, badge, chart, esc, idOf, loading, setTitle, shortEnum, utc } from './ui.js';

const DAY = 86400 * 1000;
const LEVELS = ['NO_DATA', 'BREACHED', 'AT_RISK', 'MET'];
const SERIES_DAYS = 30;
const SERIES_STEP = '43200s';  // two points a day

function clauseRows(status, kvis) {
  return (status.clauses || []).map((c) => {
    const kvi = kvis.get(c.kvi) || {};
    const unit = kvi.unit || '';
    const state = shortEnum(c.state, 'CLAUSE_STATE_');
    return `<tr data-kvi="${esc(c.kvi)}"><th scope="row">${esc(kvi.displayName || idOf(c.kvi))}` +
      `<br><small>${esc(c.kvi)}</small></th><td>${badge(state)}</td>` +
      `<td class="num" data-field="value">${c.hasValue ? esc(formatValue(jsonNumber(c.value), unit)) : '-'}</td>` +
      `<td class="num" data-field="target">${esc(formatValue(jsonNumber(c.target), unit))}</td>` +
      `<td class="num" data-field="warning">${esc(formatValue(jsonNumber(c.warning), unit))}</td>` +
      `<td class="num" data-field="attainment">${c.attainment !== undefined ? esc(number(jsonNumber(c.attainment), 2)) : ''}</td>` +
      `<td class="num" data-field="samples">${esc(c.samples ?? '0')}</td></tr>`;
  }).join('');
}

// vlactl report's period label: "2026-11", "2026-12 (to date)".
function periodLabel(report, period) {
  const start = new Date(period.periodStart);
  const y = start.getUTCFullYear();
  let label = `${y}-${String(start.getUTCMonth() + 1).padStart(2, '0')}`;
  if (report.period === 'CALENDAR_PERIOD_QUARTER') label = `${y}-Q${Math.floor(start.getUTCMonth() / 3) + 1}`;
  if (report.period === 'CALENDAR_PERIOD_YEAR') label = `${y}`;
  return period.complete ? label : `${label} (to date)`;
}

function share(period, state) {
  const s = (period.timeInState || []).find((x) => x.state === `COMPLIANCE_STATE_${state}`);
  return formatValue(jsonNumber(s?.fraction), '%');
}

function reportRows(report) {
  return (report.periods || []).map((p) => {
    const s = p.status || {};
    const state = vlaState(s);
    return `<tr><th scope="row">${esc(periodLabel(report, p))}</th><td>${badge(state)}</td>` +
      `<td class="num">${state === 'NO_DATA' ? '-' : esc(oneDecimal(jsonNumber(s.score)))}</td>` +
      ['MET', 'AT_RISK', 'BREACHED', 'NO_DATA'].map((x) => `<td class="num">${esc(share(p, x))}</td>`).join('') +
      `<td class="num">${esc(formatValue(jsonNumber(p.watermelonFraction), '%'))}</td>` +
      `<td class="num">${esc(formatValue(jsonNumber(p.disputedFraction), '%'))}</td>` +
      `<td class="num">${esc(p.evaluations ?? '0')}</td></tr>`;
  }).join('');
}

function timelineOption(evaluations, now) {
  const points = evaluations.map((e) => [e.evaluateTime, vlaState(e), jsonNumber(e.score)]);
  if (points.length) points.push([new Date(now).toISOString(), points[points.length - 1][1], points[points.length - 1][2]]);
  return {
    grid: { left: 80, right: 48, top: 16, bottom: 32 },
    tooltip: { trigger: 'axis', valueFormatter: (v) => (typeof v === 'number' ? oneDecimal(v) : v) },
    xAxis: { type: 'time' },
    yAxis: [{ type: 'category', data: LEVELS }, { type: 'value', min: 0, max: 100, name: 'score' }],
    series: [
      { name: 'state', type: 'line', step: 'end', data: points.map((p) => [p[0], p[1]]), symbol: 'none' },
      { name: 'score', type: 'line', step: 'end', yAxisIndex: 1, data: points.map((p) => [p[0], p[2]]),
        symbol: 'none', lineStyle: { type: 'dashed' } },
    ],
  };
}

// A KVI's series with bands: beyond the warning, between warning and target,
// at or beyond the target (by the KVI's direction).
function seriesOption(series, clause, kvi) {
  const unit = kvi.unit || '';
  const target = jsonNumber(clause.target);
  const warning = jsonNumber(clause.warning);
  const data = (series.points || []).map((p) => [p.windowEnd, p.hasValue ? jsonNumber(p.value) : null]);
  const values = data.map((d) => d[1]).filter((v) => v !== null).concat([target, warning]);
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  const pad = (hi - lo) * 0.15 || Math.abs(hi) * 0.15 || 1;
  lo -= pad;
  hi += pad;
  const higher = kvi.direction !== 'DIRECTION_LOWER_IS_BETTER';
  const bands = higher
    ? [[lo, warning, 'bad'], [warning, target, 'warn'], [target, hi, 'good']]
    : [[hi, warning, 'bad'], [warning, target, 'warn'], [target, lo, 'good']];
  const colours = { bad: 'rgba(200,40,40,0.10)', warn: 'rgba(230,160,0,0.14)', good: 'rgba(30,140,60,0.10)' };
  return {
    grid: { left: 72, right: 24, top: 24, bottom: 32 },
    tooltip: { trigger: 'axis', valueFormatter: (v) => (v === null || v === undefined ? '-' : formatValue(v, unit)) },
    xAxis: { type: 'time' },
    yAxis: {
      type: 'value', min: lo, max: hi,
      axisLabel: { formatter: (v) => formatValue(v, unit), showMinLabel: false, showMaxLabel: false },
    },
    series: [{
      name: kvi.displayName || idOf(clause.kvi),
      type: 'line',
      data,
      connectNulls: false,
      symbolSize: 4,
      markArea: {
        silent: true,
        data: bands.map(([a, b, t]) => [{ yAxis: a, itemStyle: { color: colours[t] } }, { yAxis: b }]),
      },
      markLine: {
        silent: true,
        symbol: 'none',
        label: { position: 'insideStartTop' },
        data: [
          { yAxis: target, name: 'target', label: { formatter: `target ${formatValue(target, unit)}` } },
          { yAxis: warning, name: 'warning', label: { formatter: `warning ${formatValue(warning, unit)}` }, lineStyle: { type: 'dotted' } },
        ],
      },
    }],
  };
}

export function renderVla(main, app, id) {
  loading(main, `vlas/${id}`);
  const name = `vlas/${id}`;
  const charts = [];
  let closed = false;
  const now = Date.now();
  const start = new Date(now - SERIES_DAYS * DAY).toISOString();
  const end = new Date(now).toISOString();

  (async () => {
    const [vla, status, kviList, evaluations, report] = await Promise.all([
      get(`/v1/${name}`), get(`/v1/${name}/status`), listAll('/v1/kvis', 'kvis'),
      listAll(`/v1/${name}/evaluations`, 'evaluations', { startTime: start, endTime: end }),
      get(`/v1/${name}/report`),
    ]);
    const kvis = new Map(kviList.map((k) => [k.name, k]));
    const clauses = status.clauses || [];
    const series = await Promise.all(clauses.map((c) =>
      get(`/v1/${c.kvi}/series`, { startTime: start, endTime: end, step: SERIES_STEP })));
    if (closed) return;
    const state = vlaState(status);
    main.innerHTML =
      `<h1>${esc(vla.displayName || id)}</h1>` +
      `<p class="subtitle">${esc(name)} · revision ${esc(status.vlaRevision)} · evaluated ${esc(utc(status.evaluateTime))}</p>` +
      `<section class="headline tone-${state.toLowerCase()}${status.watermelon ? ' watermelon' : ''}" aria-label="Status">` +
      `<p>${badge(state)} <span class="score">score <b data-field="score">${oneDecimal(jsonNumber(status.score))}</b></span>` +
      ` · SLA <span data-field="sla">${esc(slaText(status))}</span></p>` +
      (status.watermelon ? `<p class="melon">${MELON} <strong>Watermelon</strong>: ` +
        'the SLA is met, the value is not</p>' : '') +
      (status.disputed ? '<p class="disputed"><span aria-hidden="true">◆</span> A co-measured KVI is disputed</p>' : '') +
      `<p class="explanation" data-field="explanation">${esc(status.explanation || '')}</p></section>` +
      '<section aria-labelledby="clauses-h"><h2 id="clauses-h">Clauses</h2><div class="table-wrap"><table class="clauses">' +
      '<thead><tr><th scope="col">KVI</th><th scope="col">State</th><th scope="col">Value</th><th scope="col">Target</th>' +
      '<th scope="col">Warning</th><th scope="col">Attainment</th><th scope="col">Samples</th></tr></thead>' +
      `<tbody>${clauseRows(status, kvis)}</tbody></table></div></section>` +
      '<section aria-labelledby="timeline-h"><h2 id="timeline-h">State timeline</h2>' +
      `<p class="note">${evaluations.length} evaluations published in the last ${SERIES_DAYS} days (state and score).</p>` +
      '<div class="chart timeline" id="timeline"></div></section>' +
      `<section aria-labelledby="series-h"><h2 id="series-h">KVIs over the last ${SERIES_DAYS} days</h2>` +
      '<p class="note">Green: at or beyond the target; amber: between target and warning; red: beyond the warning.</p>' +
      '<div class="series-grid">' +
      clauses.map((c, i) => `<figure><figcaption>${esc(kvis.get(c.kvi)?.displayName || idOf(c.kvi))}</figcaption>` +
        `<div class="chart" id="series-${i}"></div></figure>`).join('') + '</div></section>' +
      '<section aria-labelledby="report-h"><h2 id="report-h">Monthly report (UTC)</h2><div class="table-wrap"><table class="report">' +
      '<thead><tr><th scope="col">Period</th><th scope="col">State</th><th scope="col">Score</th><th scope="col">Met</th>' +
      '<th scope="col">At risk</th><th scope="col">Breached</th><th scope="col">No data</th><th scope="col">Watermelon</th>' +
      '<th scope="col">Disputed</th><th scope="col">Evaluations</th></tr></thead>' +
      `<tbody>${reportRows(report)}</tbody></table></div></section>`;
    setTitle(main, vla.displayName || id);
    charts.push(chart(main.querySelector('#timeline'), timelineOption(evaluations, now)));
    clauses.forEach((c, i) => {
      charts.push(chart(main.querySelector(`#series-${i}`), seriesOption(series[i], c, kvis.get(c.kvi) || {})));
    });
    main.dataset.ready = 'vla';
  })().catch(app.failed);

  return () => {
    closed = true;
    for (const c of charts) c.dispose();
  };
}
