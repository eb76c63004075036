// Small helpers shared by the pages: escaping, names, states, times, charts.
import { BarChart, GraphChart, LineChart } from 'echarts/charts';
import {
  AriaComponent, GridComponent, LegendComponent, MarkAreaComponent, MarkLineComponent,
  TooltipComponent,
} from 'echarts/components';
import * as echarts from 'echarts/core';
import { SVGRenderer } from 'echarts/renderers';

echarts.use([BarChart, GraphChart, LineChart, AriaComponent, GridComponent, LegendComponent,
  MarkAreaComponent, MarkLineComponent, TooltipComponent, SVGRenderer]);

const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function esc(value) {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

// "vlas/incident" -> "incident".
export function idOf(name) {
  return String(name || '').slice(String(name || '').indexOf('/') + 1);
}

// "COMPLIANCE_STATE_AT_RISK" -> "AT_RISK", as vlactl prints enum values.
export function shortEnum(value, prefix) {
  const v = String(value || '');
  return v.startsWith(prefix) ? v.slice(prefix.length) : v;
}

// Each state has a shape as well as a colour: the text says it too.
const SHAPES = {
  MET: '✔', ON_TRACK: '✔', ACHIEVED: '✔', GREEN: '✔', AGREED: '✔',
  AT_RISK: '▲', YELLOW: '▲', DISPUTED: '◆',
  BREACHED: '✖', OFF_TRACK: '✖', MISSED: '✖', RED: '✖',
  NO_DATA: '○', NOT_STARTED: '○', NOT_COMEASURED: '○', ONE_SIDED: '◐',
};

const TONES = {
  MET: 'good', ON_TRACK: 'good', ACHIEVED: 'good', GREEN: 'good', AGREED: 'good',
  AT_RISK: 'warn', YELLOW: 'warn', DISPUTED: 'warn', ONE_SIDED: 'warn',
  BREACHED: 'bad', OFF_TRACK: 'bad', MISSED: 'bad', RED: 'bad',
};

export function tone(state) {
  return TONES[state] || 'none';
}

// A state as a badge: shape, then the word (vlactl's spelling).
export function badge(state) {
  return `<span class="badge ${tone(state)}" data-state="${esc(state)}">` +
    `<span class="shape" aria-hidden="true">${SHAPES[state] || '•'}</span> ${esc(state)}</span>`;
}

// RFC 3339 -> "2026-12-03 15:43 UTC" (vlactl writes UTC too).
export function utc(time) {
  if (!time) return '-';
  const d = new Date(time);
  if (Number.isNaN(d.getTime())) return '-';
  return `${d.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

export function setTitle(main, text) {
  document.title = `${text} · VLA dashboard`;
  const h1 = main.querySelector('h1');
  if (h1) {
    h1.tabIndex = -1;
    h1.focus({ preventScroll: true });
  }
}

// A chart in `element`, resized with it; dispose() when the page goes.
export function chart(element, option) {
  const c = echarts.init(element, null, { renderer: 'svg' });
  c.setOption({ aria: { enabled: true }, animation: false, ...option });
  const observer = new ResizeObserver(() => c.resize());
  observer.observe(element);
  return {
    instance: c,
    dispose() {
      observer.disconnect();
      c.dispose();
    },
  };
}

// A watermelon slice (green rind, red flesh), beside the word.
export const MELON = '<svg class="melon-icon" aria-hidden="true" viewBox="0 0 24 14" width="24" height="14">' +
  '<path d="M1 1a11 11 0 0 0 22 0z" fill="#2e8b3e"/><path d="M3.5 1a8.5 8.5 0 0 0 17 0z" fill="#e0393e"/>' +
  '<circle cx="9" cy="5" r="1" fill="#222"/><circle cx="12" cy="8" r="1" fill="#222"/>' +
  '<circle cx="15" cy="5" r="1" fill="#222"/></svg>';

export function loading(main, what) {
  main.innerHTML = `<p class="loading" role="status">Loading ${esc(what)}…</p>`;
}

export function failed(main, error) {
  main.innerHTML = `<div class="error" role="alert"><h1>Could not load this page</h1>` +
    `<p>${esc(error.message || error)}</p></div>`;
}
