// The board: every VLA as a card (state, score, the linked SLA against the
// VLA's state, watermelon, disputed co-measurements), filtered by value
// stream, team and state, kept live by WatchVlaStatuses (no polling).
import { listAll, get, watch } from './api.js';
import { jsonNumber, number, oneDecimal } from './format.js';
import { MELON, badge, esc, idOf, loading, setTitle, shortEnum } from './ui.js';

const STATES = ['BREACHED', 'AT_RISK', 'NO_DATA', 'MET'];

// vlactl's SLA column: "met 0.965", "missed 0.9", "-" without an SLA value.
export function slaText(status) {
  const value = jsonNumber(status.slaValue);
  if (!status.slaMet && value === 0) return '-';
  return `${status.slaMet ? 'met' : 'missed'} ${number(value, 3)}`;
}

export function vlaState(status) {
  return shortEnum(status.state, 'COMPLIANCE_STATE_');
}

function disputedKvis(status, kvis) {
  return (status.clauses || [])
    .filter((c) => c.state === 'CLAUSE_STATE_DISPUTED')
    .map((c) => kvis.get(c.kvi)?.displayName || idOf(c.kvi));
}

function cardHtml(vla, status, ctx) {
  const id = idOf(vla.name);
  const state = vlaState(status);
  const melon = status.watermelon;
  const disputed = disputedKvis(status, ctx.kvis);
  const stream = ctx.streams.get(vla.valueStream);
  const teams = [vla.consumer, ...(vla.providers || [])]
    .map((t) => ctx.teams.get(t)?.displayName || idOf(t));
  return `<article class="card tone-${state.toLowerCase()}${melon ? ' watermelon' : ''}"` +
    ` id="card-${esc(id)}" role="listitem" data-vla="${esc(vla.name)}" data-state="${state}"` +
    ` data-watermelon="${melon}" data-disputed="${!!status.disputed}"` +
    ` aria-labelledby="name-${esc(id)}">` +
    `<h2 id="name-${esc(id)}"><a href="#/vla/${esc(id)}">${esc(vla.displayName || id)}</a></h2>` +
    `<p class="status">${badge(state)} <span class="score">score <b data-field="score">` +
    `${oneDecimal(jsonNumber(status.score))}</b></span></p>` +
    (melon ? `<p class="melon" data-field="watermelon">${MELON} ` +
      `<strong>Watermelon</strong>: the SLA is met, the value is ${state}</p>` : '') +
    '<dl>' +
    `<dt>SLA</dt><dd data-field="sla">${esc(slaText(status))}</dd>` +
    `<dt>Value stream</dt><dd><a href="#/stream/${esc(idOf(vla.valueStream))}">` +
    `${esc(stream?.displayName || idOf(vla.valueStream))}</a></dd>` +
    `<dt>Teams</dt><dd>${esc(teams.join(', '))}</dd>` +
    '</dl>' +
    (disputed.length ? `<p class="disputed" data-field="disputed"><span aria-hidden="true">◆</span> ` +
      `Disputed: ${esc(disputed.join(', '))}</p>` : '') +
    '</article>';
}

function matches(vla, status, filters) {
  if (filters.stream && vla.valueStream !== filters.stream) return false;
  if (filters.team && vla.consumer !== filters.team &&
      !(vla.providers || []).includes(filters.team)) return false;
  if (filters.state === 'WATERMELON') return !!status.watermelon;
  if (filters.state === 'DISPUTED') return !!status.disputed;
  return !filters.state || vlaState(status) === filters.state;
}

function options(map, selected) {
  return [...map.values()]
    .sort((a, b) => (a.displayName || a.name).localeCompare(b.displayName || b.name))
    .map((x) => `<option value="${esc(x.name)}"${x.name === selected ? ' selected' : ''}>` +
      `${esc(x.displayName || idOf(x.name))}</option>`).join('');
}

export function renderBoard(main, app) {
  loading(main, 'the board');
  const filters = {
    stream: app.query.get('stream') || '',
    team: app.query.get('team') || '',
    state: app.query.get('state') || '',
  };
  const ctx = { vlas: new Map(), streams: new Map(), teams: new Map(), kvis: new Map() };
  const statuses = new Map();  // VLA name -> latest status
  let defined = false;
  let snapshotDone = false;
  let drawn = false;
  let seen = new Set();
  let cards = null;
  let closed = false;

  const summary = () => {
    const counts = Object.fromEntries(STATES.map((s) => [s, 0]));
    let shown = 0;
    let melons = 0;
    for (const [name, status] of statuses) {
      const vla = ctx.vlas.get(name);
      if (!vla || !matches(vla, status, filters)) continue;
      ++shown;
      counts[vlaState(status)] = (counts[vlaState(status)] || 0) + 1;
      if (status.watermelon) ++melons;
    }
    const parts = STATES.filter((s) => counts[s]).map((s) => `${counts[s]} ${s}`);
    if (melons) parts.push(`${melons} watermelon${melons > 1 ? 's' : ''}`);
    main.querySelector('#summary').textContent =
      `${shown} of ${statuses.size} VLAs shown${parts.length ? `: ${parts.join(' · ')}` : ''}`;
  };

  const applyFilters = () => {
    for (const card of cards.children) {
      const name = card.dataset.vla;
      card.hidden = !matches(ctx.vlas.get(name), statuses.get(name), filters);
    }
    summary();
  };

  const draw = () => {
    const names = [...statuses.keys()].filter((n) => ctx.vlas.has(n));
    names.sort((a, b) => (ctx.vlas.get(a).displayName || a).localeCompare(ctx.vlas.get(b).displayName || b));
    const inactive = [...ctx.vlas.values()].filter((v) => !statuses.has(v.name)).length;
    main.innerHTML = '<h1>Board</h1>' +
      '<form class="filters" aria-label="Filters">' +
      `<label>Value stream <select name="stream"><option value="">All</option>${options(ctx.streams, filters.stream)}</select></label>` +
      `<label>Team <select name="team"><option value="">All</option>${options(ctx.teams, filters.team)}</select></label>` +
      '<label>State <select name="state"><option value="">All</option>' +
      [...STATES, 'WATERMELON', 'DISPUTED'].map((s) =>
        `<option value="${s}"${s === filters.state ? ' selected' : ''}>${s}</option>`).join('') +
      '</select></label></form>' +
      '<p id="summary" class="summary" role="status" aria-live="polite"></p>' +
      `<div class="cards" role="list">${names.map((n) => cardHtml(ctx.vlas.get(n), statuses.get(n), ctx)).join('')}</div>` +
      (inactive ? `<p class="note">${inactive} VLA${inactive > 1 ? 's are' : ' is'} not ACTIVE ` +
        '(draft or retired): not evaluated, not shown.</p>' : '');
    cards = main.querySelector('.cards');
    main.querySelector('.filters').addEventListener('change', (e) => {
      filters[e.target.name] = e.target.value;
      const q = new URLSearchParams(Object.entries(filters).filter(([, v]) => v));
      history.replaceState(null, '', `#/${q.toString() ? `?${q}` : ''}`);
      applyFilters();
    });
    applyFilters();
    drawn = true;
    setTitle(main, 'Board');
    main.dataset.ready = 'board';
    // For the browser test's timing (web/test/dashboard.test.mjs): built, then
    // on screen (after the next frame).
    document.body.dataset.boardBuiltMs = String(Math.round(performance.now()));
    requestAnimationFrame(() => setTimeout(() => {
      document.body.dataset.boardDrawnMs = String(Math.round(performance.now()));
    }));
  };

  const update = (name) => {
    const vla = ctx.vlas.get(name);
    const status = statuses.get(name);
    const old = main.querySelector(`[data-vla="${CSS.escape(name)}"]`);
    if (!status) {
      if (old) old.remove();
      summary();
      return;
    }
    const holder = document.createElement('div');
    holder.innerHTML = cardHtml(vla, status, ctx);
    const card = holder.firstChild;
    card.hidden = !matches(vla, status, filters);
    card.classList.add('changed');
    card.dataset.changedAt = String(Date.now());
    if (old) old.replaceWith(card);
    else cards.append(card);
    summary();
  };

  const ready = () => {
    if (!drawn && defined && snapshotDone) draw();
  };

  const apply = async (event) => {
    if (event.snapshotComplete) {
      for (const name of [...statuses.keys()]) {
        if (!seen.has(name)) {
          statuses.delete(name);
          if (drawn) update(name);
        }
      }
      snapshotDone = true;
      performance.mark('board-snapshot');
      ready();
      return;
    }
    const status = event.status || {};
    const name = status.vla;
    if (event.removed) {
      statuses.delete(name);
      if (drawn) update(name);
      return;
    }
    statuses.set(name, status);
    seen.add(name);
    if (!drawn) return;
    if (!ctx.vlas.has(name)) {  // created after the page loaded
      ctx.vlas.set(name, await get(`/v1/${name}`));
      if (closed) return;
    }
    update(name);
  };

  const stream = watch('/v1/vlaStatuses:watch', {}, {
    onOpen() {
      seen = new Set();
    },
    onMessage(message) {
      for (const event of message.events || []) apply(event);
    },
    onState: app.setLive,
  });

  Promise.all([
    listAll('/v1/vlas', 'vlas'), listAll('/v1/valueStreams', 'valueStreams'),
    listAll('/v1/teams', 'teams'), listAll('/v1/kvis', 'kvis'),
  ]).then(([vlas, streams, teams, kvis]) => {
    for (const v of vlas) ctx.vlas.set(v.name, v);
    for (const s of streams) ctx.streams.set(s.name, s);
    for (const t of teams) ctx.teams.set(t.name, t);
    for (const k of kvis) ctx.kvis.set(k.name, k);
    defined = true;
    performance.mark('board-definitions');
    ready();
  }).catch(app.failed);

  return () => {
    closed = true;
    stream.close();
  };
}
