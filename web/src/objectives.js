// Objectives: each joint OKR's progress against the expected progress (its
// pace), the key results' statuses and check-ins, kept live by
// WatchObjectiveStatuses; a check-in form for the manual key results.
import { get, listAll, post, watch } from './api.js';
import { formatValue, jsonNumber, number } from './format.js';
import { badge, chart, esc, idOf, loading, setTitle, shortEnum, tone } from './ui.js';

// vlactl status's objective SCORE: "5.1 RED".
export function objectiveScore(status) {
  return `${number(100 * jsonNumber(status.score), 1)} ${shortEnum(status.color, 'COLOR_')}`;
}

function percent(fraction) {
  return `${number(100 * fraction, 1)}%`;
}

const COLOURS = { good: '#2f7d4a', warn: '#c98a00', bad: '#b23b3b', none: '#8a939c' };

function paceOption(objective, status) {
  const krs = status.keyResults || [];
  const labels = [...krs.map((k) => k.id), 'objective'];
  const values = [...krs.map((k) => 100 * jsonNumber(k.progress)), 100 * jsonNumber(status.score)];
  const expected = 100 * jsonNumber(status.expectedProgress);
  return {
    grid: { left: 120, right: 40, top: 34, bottom: 28 },
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v) => `${number(v, 1)}%` },
    xAxis: { type: 'value', min: 0, max: 100, axisLabel: { formatter: '{value}%' } },
    yAxis: { type: 'category', data: labels, inverse: true },
    series: [{
      name: 'progress',
      type: 'bar',
      // Coloured by each key result's status (and the objective's colour).
      data: values.map((v, i) => ({
        value: v,
        itemStyle: { color: COLOURS[tone(i < krs.length ? shortEnum(krs[i].status, 'OKR_STATUS_') : shortEnum(status.color, 'COLOR_'))] },
      })),
      label: { show: true, position: 'right', formatter: (p) => `${number(p.value, 1)}%` },
      markLine: {
        silent: true,
        symbol: 'none',
        label: { position: 'end' },
        data: [{ xAxis: expected, label: { formatter: `expected ${number(expected, 1)}%` } }],
        lineStyle: { type: 'dashed', color: '#333' },
      },
    }],
  };
}

function keyResultRows(objective, status, kvis) {
  const defs = new Map((objective.keyResults || []).map((k) => [k.id, k]));
  return (status.keyResults || []).map((k) => {
    const def = defs.get(k.id) || {};
    const unit = def.kvi ? (kvis.get(def.kvi)?.unit || '') : '';
    const state = shortEnum(k.status, 'OKR_STATUS_');
    return `<tr data-kr="${esc(k.id)}"><th scope="row">${esc(k.id)}</th><td>${esc(def.description || '')}</td>` +
      `<td class="num" data-field="current">${k.hasValue ? esc(formatValue(jsonNumber(k.currentValue), unit)) : '-'}</td>` +
      `<td class="num" data-field="progress">${esc(percent(jsonNumber(k.progress)))}</td>` +
      `<td>${badge(state)}</td>` +
      `<td class="num">${def.kvi ? `<small>${esc(def.kvi)}</small>` : `check-ins, confidence ${esc(number(jsonNumber(k.confidence), 2))}`}</td></tr>`;
  }).join('');
}

function checkInForm(objective) {
  const manual = (objective.keyResults || []).filter((k) => !k.kvi);
  if (!manual.length) return '';
  const id = idOf(objective.name);
  const teams = [...new Set([objective.lead, ...(objective.owners || [])].filter(Boolean))];
  return `<details class="checkin"><summary>Check in a manual key result</summary>` +
    `<form data-objective="${esc(objective.name)}">` +
    `<label>Key result <select name="keyResultId">${manual.map((k) => `<option value="${esc(k.id)}">${esc(k.id)}</option>`).join('')}</select></label>` +
    `<label>Value <input name="value" type="number" step="any" required inputmode="decimal"></label>` +
    `<label>Confidence <input name="confidence" type="number" min="0" max="1" step="0.05" value="0.7" required></label>` +
    `<label>Team <select name="team">${teams.map((t) => `<option value="${esc(t)}">${esc(idOf(t))}</option>`).join('')}</select></label>` +
    `<label class="wide">Note <input name="note" maxlength="4000"></label>` +
    `<button type="submit">Check in</button> <span class="result" id="checkin-${esc(id)}" role="status"></span>` +
    '</form></details>';
}

function sectionHtml(objective, status, kvis) {
  const id = idOf(objective.name);
  const state = shortEnum(status.status, 'OKR_STATUS_');
  const period = `${(objective.periodStart || '').slice(0, 10)} .. ${(objective.periodEnd || '').slice(0, 10)}`;
  return `<section class="objective" id="objective-${esc(id)}" data-objective="${esc(objective.name)}"` +
    ` data-state="${state}" aria-labelledby="objective-h-${esc(id)}">` +
    `<h2 id="objective-h-${esc(id)}">${esc(objective.displayName || id)}</h2>` +
    `<p>${badge(state)} <span class="score">score <b data-field="score">${esc(objectiveScore(status))}</b></span>` +
    ` · expected by now <b data-field="expected">${esc(percent(jsonNumber(status.expectedProgress)))}</b>` +
    ` · ${esc(period)}</p>` +
    `<div class="chart pace" id="pace-${esc(id)}"></div>` +
    '<div class="table-wrap"><table class="krs"><thead><tr><th scope="col">Key result</th><th scope="col">Description</th>' +
    '<th scope="col">Current</th><th scope="col">Progress</th><th scope="col">Status</th><th scope="col">Source</th></tr></thead>' +
    `<tbody>${keyResultRows(objective, status, kvis)}</tbody></table></div>` +
    checkInForm(objective) + '</section>';
}

export function renderObjectives(main, app) {
  loading(main, 'the objectives');
  const objectives = new Map();
  const statuses = new Map();
  const charts = new Map();
  let kvis = new Map();
  let defined = false;
  let snapshotDone = false;
  let drawn = false;
  let closed = false;

  const drawOne = (name) => {
    const objective = objectives.get(name);
    const status = statuses.get(name);
    const old = main.querySelector(`section[data-objective="${CSS.escape(name)}"]`);
    charts.get(name)?.dispose();
    charts.delete(name);
    if (!objective || !status) {
      old?.remove();
      return;
    }
    const holder = document.createElement('div');
    holder.innerHTML = sectionHtml(objective, status, kvis);
    const section = holder.firstChild;
    if (old) {
      // Keep an open check-in form (and what is typed in it) as it is.
      const form = old.querySelector('details.checkin');
      const fresh = section.querySelector('details.checkin');
      if (form && fresh) fresh.replaceWith(form);
      old.replaceWith(section);
      section.dataset.changedAt = String(Date.now());
    } else {
      main.querySelector('.objectives').append(section);
    }
    charts.set(name, chart(section.querySelector('.chart.pace'), paceOption(objective, status)));
  };

  const draw = () => {
    main.innerHTML = '<h1>Objectives</h1>' +
      '<p class="note">Progress of each key result and of the objective against the progress expected by now ' +
      '(the elapsed share of its period): bars to the left of the dashed line are behind pace.</p>' +
      '<div class="objectives"></div>';
    drawn = true;
    for (const name of statuses.keys()) drawOne(name);
    main.querySelector('.objectives').addEventListener('submit', onSubmit);
    setTitle(main, 'Objectives');
    main.dataset.ready = 'objectives';
  };

  const ready = () => {
    if (!drawn && defined && snapshotDone) draw();
  };

  async function onSubmit(e) {
    e.preventDefault();
    const form = e.target;
    const objective = form.dataset.objective;
    const result = form.querySelector('.result');
    const data = new FormData(form);
    result.textContent = 'Saving…';
    try {
      await post(`/v1/${objective}:checkIn`, {
        keyResultId: data.get('keyResultId'),
        value: Number(data.get('value')),
        confidence: Number(data.get('confidence')),
        team: data.get('team'),
        note: data.get('note') || '',
      });
      result.textContent = 'Checked in.';
      form.querySelector('input[name=value]').value = '';
    } catch (err) {
      result.textContent = `Not saved: ${err.message}`;
    }
  }

  const stream = watch('/v1/objectiveStatuses:watch', {}, {
    onOpen() {
      snapshotDone = snapshotDone && drawn;
    },
    async onMessage(message) {
      for (const event of message.events || []) {
        if (event.snapshotComplete) {
          snapshotDone = true;
          ready();
          continue;
        }
        const status = event.status;
        if (!status) continue;
        statuses.set(status.objective, status);
        if (!drawn) continue;
        if (!objectives.has(status.objective)) {
          objectives.set(status.objective, await get(`/v1/${status.objective}`));
          if (closed) return;
        }
        drawOne(status.objective);
      }
    },
    onState: app.setLive,
  });

  Promise.all([listAll('/v1/objectives', 'objectives'), listAll('/v1/kvis', 'kvis')])
    .then(([list, kviList]) => {
      for (const o of list) objectives.set(o.name, o);
      kvis = new Map(kviList.map((k) => [k.name, k]));
      defined = true;
      ready();
    }).catch(app.failed);

  return () => {
    closed = true;
    stream.close();
    for (const c of charts.values()) c.dispose();
  };
}
