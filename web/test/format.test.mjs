// The dashboard's number formatting (web/src/format.js) against hand-worked
// values and against the C++ it ports (tests/format_value_cli.cc: FormatValue,
// OneDecimal, vlactl's Number and HumanDuration) on thousands of values.
//
//   FORMAT_VALUE_CLI=build/bin/format_value_cli node --test web/test/format.test.mjs
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

import {
  fixed, formatValue, general, humanDuration, jsonNumber, number, oneDecimal,
} from '../src/format.js';

test('hand-worked values', () => {
  // printf rounds exact ties half to even; toFixed would give 0.3 and 2.3.
  assert.equal(fixed(0.25, 1), '0.2');
  assert.equal(fixed(2.25, 1), '2.2');
  assert.equal(fixed(0.75, 1), '0.8');
  assert.equal(fixed(-0.25, 1), '-0.2');
  // 0.35 is 0.34999...: no tie.
  assert.equal(fixed(0.35, 1), '0.3');
  assert.equal(general(12.125, 4), '12.12');
  assert.equal(general(1234567, 4), '1.235e+06');
  assert.equal(general(0.000012345, 4), '1.234e-05');
  assert.equal(general(99995, 4), '1e+05');
  assert.equal(general(-0, 4), '-0');
  assert.equal(oneDecimal(16.66), '16.7');
  assert.equal(oneDecimal(100), '100');
  assert.equal(oneDecimal(-0.04), '-0');

  // The README's demo output.
  assert.equal(formatValue(15.08, 'points'), '15.08 points');
  assert.equal(formatValue(73080, 's'), '20.3 h');
  assert.equal(formatValue(28800, 's'), '8 h');
  assert.equal(formatValue(9732, 's'), '2.7 h');
  assert.equal(formatValue(1.581, 'handoffs'), '1.581 handoffs');
  assert.equal(formatValue(0.067443, 'share'), '0.06744 share');
  assert.equal(formatValue(0.965, '%'), '96.5%');
  assert.equal(formatValue(97, '%'), '97%');
  assert.equal(formatValue(9732, ''), '9732');
  assert.equal(formatValue(42, 's'), '42 s');
  assert.equal(formatValue(720, 's'), '12 min');
  assert.equal(formatValue(794880, 's'), '9.2 d');

  assert.equal(number(0.9648, 3), '0.965');
  assert.equal(number(22.2222, 1), '22.2');
  assert.equal(number(-0.001, 1), '0');
  assert.equal(number(0.5, 0), '0');  // half to even
  assert.equal(number(1.5, 0), '2');
  assert.equal(number(Infinity, 1), 'inf');
  assert.equal(humanDuration(89), '89s');
  assert.equal(humanDuration(90), '1.5m');
  assert.equal(humanDuration(5400), '1.5h');
  assert.equal(humanDuration(36 * 3600), '1.5d');
  assert.equal(humanDuration(NaN), '-');

  assert.equal(jsonNumber('NaN'), NaN);
  assert.equal(jsonNumber('-Infinity'), -Infinity);
  assert.equal(jsonNumber(undefined), 0);
  assert.equal(jsonNumber(2.5), 2.5);
});

// A deterministic generator (mulberry32).
function random(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function sampleValues() {
  const values = [0, -0, 5e-324, 1e-300, 1e21, 1.7976931348623157e308, 0.1, 0.2, 0.3,
    59.95, 59.949999, 60, 89.5, 90, 3599.9, 3600, 5399.99, 86399.99, 86400, 129599.9, 129600,
    9.9995, 99.995, 0.0001, 0.00001, 1e15, 123456789012];
  for (let k = -2000; k <= 2000; ++k) values.push(k / 4, k / 8, k / 20, k / 200);
  const r = random(2026);
  for (let i = 0; i < 3000; ++i) {
    const magnitude = 10 ** (r() * 20 - 8);
    values.push((r() < 0.5 ? -1 : 1) * magnitude);
    values.push(Math.round(r() * 1e6) / 1000);  // three decimals, as in KVI data
  }
  return values;
}

test('equals the C++ on many values', { skip: !process.env.FORMAT_VALUE_CLI }, () => {
  const values = sampleValues();
  const input = values.map((v) => (Object.is(v, -0) ? '-0' : String(v))).join('\n') + '\n';
  const lines = execFileSync(process.env.FORMAT_VALUE_CLI, { input, maxBuffer: 64 << 20 })
    .toString().split('\n');
  let compared = 0;
  values.forEach((v, i) => {
    const ours = [formatValue(v, 's'), formatValue(v, '%'), formatValue(v, ''),
      formatValue(v, 'points'), oneDecimal(v), number(v, 0), number(v, 1), number(v, 2),
      number(v, 3), humanDuration(v)].join('\t');
    assert.equal(ours, lines[i], `value ${v}`);
    ++compared;
  });
  assert.equal(compared, values.length);
  console.log(`# format.js equals the C++ on ${compared} values x 10 functions`);
});
