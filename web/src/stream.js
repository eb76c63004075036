// Value streams: the list, and one stream's flow map over the last 30 days
// (GetValueStreamFlow): teams, the seams between them with their handoffs
// and the mean wait after a handoff, custody time active against waiting.
import { get, listAll } from './api.js';
import { humanDuration, jsonNumber, number } from './format.js';
import { chart, esc, idOf, loading, setTitle } from './ui.js';

export function renderStreams(main, app) {
  loading(main, 'the value streams');
  let closed = false;
  Promise.all([listAll('/v1/valueStreams', 'valueStreams'), listAll('/v1/teams', 'teams')])
    .then(([streams, teams]) => {
      if (closed) return;
      const teamNames = new Map(teams.map((t) => [t.name, t.displayName || idOf(t.name)]));
      main.innerHTML = '<h1>Value streams</h1><ul class="streams">' +
        streams.map((s) => `<li><a href="#/stream/${esc(idOf(s.name))}">${esc(s.displayName || idOf(s.name))}</a>` +
          ` <span class="note">${esc(teamNames.get(s.consumer) || idOf(s.consumer))} ← ` +
          `${esc((s.providers || []).map((p) => teamNames.get(p) || idOf(p)).join(', '))}</span></li>`).join('') +
        '</ul>';
      setTitle(main, 'Value streams');
      main.dataset.ready = 'streams';
    }).catch(app.failed);
  return () => {
    closed = true;
  };
}

// Teams in stage order (the stream's stages, then its consumer and providers,
// then any other team seen in the flow).
function teamOrder(stream, flow) {
  const order = [];
  const add = (t) => {
    if (t && !order.includes(t)) order.push(t);
  };
  for (const s of stream.stages || []) add(s.team);
  add(stream.consumer);
  for (const p of stream.providers || []) add(p);
  for (const t of flow.teams || []) add(t.team);
  for (const s of flow.seams || []) {
    add(s.fromTeam);
    add(s.toTeam);
  }
  return order;
}

// `width` x `height`: the chart's size, so that the ellipse the teams sit on
// is drawn round and unstretched.
function mapOption(order, flow, label, width, height) {
  const side = width < 600 ? 60 : 110;
  const aspect = Math.max(0.5, (width - 2 * side) / Math.max(100, height - 90));
  const maxHandoffs = Math.max(1, ...(flow.seams || []).map((s) => Number(s.handoffs || 0)));
  const held = new Map((flow.teams || []).map((t) => [t.team, Number(t.items || 0)]));
  return {
    tooltip: {},
    series: [{
      type: 'graph',
      layout: 'none',  // on an ellipse, in stage order, clockwise from the left
      roam: false,
      left: side,
      right: side,
      top: 40,
      bottom: 50,
      edgeSymbol: ['none', 'arrow'],
      edgeSymbolSize: 10,
      label: { show: true, position: 'bottom', fontSize: 13, formatter: (p) => p.data.caption },
      edgeLabel: {
        show: true, fontSize: 12, color: '#1b1f24', backgroundColor: 'rgba(255,255,255,0.85)', padding: 2,
        formatter: (p) => p.data.text,
      },
      data: order.map((t, i) => ({
        name: t,
        caption: `${label(t)}\n${held.get(t) || 0} items`,
        x: -aspect * Math.cos((2 * Math.PI * i) / order.length),
        y: -Math.sin((2 * Math.PI * i) / order.length),
        symbolSize: 22 + 20 * Math.sqrt((held.get(t) || 0) / Math.max(1, ...held.values())),
        tooltip: { formatter: `${label(t)}: held ${held.get(t) || 0} items` },
      })),
      links: (flow.seams || []).map((s) => ({
        source: s.fromTeam,
        target: s.toTeam,
        text: `${s.handoffs} · wait ${humanDuration(jsonNumber(s.meanWaitSeconds))}`,
        lineStyle: { width: 1 + 7 * (Number(s.handoffs) / maxHandoffs), curveness: 0.2, opacity: 0.7 },
        tooltip: {
          formatter: `${label(s.fromTeam)} → ${label(s.toTeam)}: ${s.handoffs} handoffs, ` +
            `mean wait after handoff ${humanDuration(jsonNumber(s.meanWaitSeconds))}`,
        },
      })),
    }],
  };
}

function custodyOption(flow, label) {
  const teams = flow.teams || [];
  const hours = (s) => jsonNumber(s) / 3600;
  return {
    legend: { top: 0 },
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v) => humanDuration(v * 3600) },
    grid: { left: 140, right: 24, top: 32, bottom: 32 },
    xAxis: { type: 'value', axisLabel: { formatter: (v) => humanDuration(v * 3600) } },
    yAxis: { type: 'category', data: teams.map((t) => label(t.team)), inverse: true },
    series: [
      { name: 'active', type: 'bar', stack: 'custody', data: teams.map((t) => hours(t.activeSeconds)),
        itemStyle: { color: '#2f7d4a' } },
      { name: 'waiting', type: 'bar', stack: 'custody', data: teams.map((t) => hours(t.waitSeconds)),
        itemStyle: { color: '#c9a227', decal: { symbol: 'rect', dashArrayX: [1, 0], dashArrayY: [2, 3], rotation: 0.8 } } },
    ],
  };
}

// vlactl flow's WAIT SHARE.
function waitShare(t) {
  const active = jsonNumber(t.activeSeconds);
  const wait = jsonNumber(t.waitSeconds);
  return active + wait > 0 ? `${number((100 * wait) / (active + wait), 0)}%` : '-';
}

export function renderStream(main, app, id) {
  loading(main, `valueStreams/${id}`);
  const name = `valueStreams/${id}`;
  const charts = [];
  let closed = false;
  Promise.all([get(`/v1/${name}`), get(`/v1/${name}/flow`), listAll('/v1/teams', 'teams')])
    .then(([stream, flow, teams]) => {
      if (closed) return;
      const names = new Map(teams.map((t) => [t.name, t.displayName || idOf(t.name)]));
      const label = (t) => names.get(t) || idOf(t);
      const seams = flow.seams || [];
      main.innerHTML =
        `<h1>${esc(stream.displayName || id)}</h1>` +
        `<p class="subtitle">${esc(name)} · ${esc(flow.windowStart?.slice(0, 16).replace('T', ' '))} .. ` +
        `${esc(flow.windowEnd?.slice(0, 16).replace('T', ' '))} UTC</p>` +
        '<dl class="figures">' +
        `<div><dt>Resolved items</dt><dd data-field="resolved">${esc(flow.resolvedItems ?? '0')}</dd></div>` +
        `<div><dt>Ping-pong items</dt><dd data-field="pingpong">${esc(flow.pingPongItems ?? '0')}</dd></div>` +
        `<div><dt>Flow efficiency</dt><dd data-field="efficiency">${esc(number(100 * jsonNumber(flow.flowEfficiency), 1))}%</dd></div>` +
        '</dl>' +
        '<section aria-labelledby="map-h"><h2 id="map-h">Flow map</h2>' +
        '<p class="note">Arrows: handoffs between teams (width: how many), labelled with the count and the ' +
        'mean wait after the handoff before work resumed: the seams where time leaks.</p>' +
        '<div class="chart map" id="map"></div>' +
        (seams.length ? '<div class="table-wrap"><table class="seams"><thead><tr><th scope="col">From</th><th scope="col">To</th>' +
          '<th scope="col">Handoffs</th><th scope="col">Mean wait after handoff</th></tr></thead><tbody>' +
          seams.map((s) => `<tr><td>${esc(label(s.fromTeam))}</td><td>${esc(label(s.toTeam))}</td>` +
            `<td class="num">${esc(s.handoffs ?? '0')}</td><td class="num">${esc(humanDuration(jsonNumber(s.meanWaitSeconds)))}</td></tr>`).join('') +
          '</tbody></table></div>' : '<p>No handoffs between teams in the window.</p>') +
        '</section>' +
        '<section aria-labelledby="custody-h"><h2 id="custody-h">Custody: active against waiting</h2>' +
        '<div class="chart custody" id="custody"></div>' +
        '<div class="table-wrap"><table class="teams"><thead><tr><th scope="col">Team</th><th scope="col">Items</th>' +
        '<th scope="col">Active</th><th scope="col">Waiting</th><th scope="col">Wait share</th></tr></thead><tbody>' +
        (flow.teams || []).map((t) => `<tr><td>${esc(label(t.team))}</td><td class="num">${esc(t.items ?? '0')}</td>` +
          `<td class="num">${esc(humanDuration(jsonNumber(t.activeSeconds)))}</td>` +
          `<td class="num">${esc(humanDuration(jsonNumber(t.waitSeconds)))}</td>` +
          `<td class="num">${esc(waitShare(t))}</td></tr>`).join('') +
        '</tbody></table></div></section>';
      setTitle(main, stream.displayName || id);
      const map = main.querySelector('#map');
      charts.push(chart(map, mapOption(teamOrder(stream, flow), flow, label, map.clientWidth, map.clientHeight)));
      charts.push(chart(main.querySelector('#custody'), custodyOption(flow, label)));
      main.dataset.ready = 'stream';
    }).catch(app.failed);
  return () => {
    closed = true;
    for (const c of charts) c.dispose();
  };
}
