// Numbers written the way vlactl writes them, so that the page and the
// terminal agree to the digit: ports of common/format_value.cc (FormatValue,
// OneDecimal) and clients/vlactl/output.cc (Number, HumanDuration).
//
// printf rounds the exact binary value half to even ("%.1f" of 0.25 is
// "0.2"), where JavaScript's toFixed and toPrecision round exact ties away
// from zero ("0.3"): so the digits are computed here from the exact decimal
// expansion of the double, as glibc does. web/test/format.test.mjs compares
// every function with the C++ on thousands of values.

// The exact decimal expansion of a finite x >= 0: `digits` (no leading
// zero; "0" for zero) and `point`, the number of digits before the decimal
// point (x = 0.DIGITS * 10^point).
function exactDecimal(x) {
  if (x === 0) return { digits: '0', point: 1 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exponent;
  if (biased === 0) {
    exponent = -1074;
  } else {
    mantissa |= 1n << 52n;
    exponent = biased - 1075;
  }
  // x = mantissa * 2^exponent
  if (exponent >= 0) {
    const digits = (mantissa << BigInt(exponent)).toString();
    return { digits, point: digits.length };
  }
  // mantissa * 2^-k = mantissa * 5^k / 10^k
  const k = -exponent;
  const digits = (mantissa * 5n ** BigInt(k)).toString();
  return { digits, point: digits.length - k };
}

// The first `keep` digits of `digits` as an integer, rounded half to even
// on what follows (keep may be <= 0: then 0 or 1).
function roundedPrefix(digits, keep) {
  if (keep < 0) return 0n;
  if (keep >= digits.length) return BigInt(digits + '0'.repeat(keep - digits.length));
  let kept = keep === 0 ? 0n : BigInt(digits.slice(0, keep));
  const rest = digits.slice(keep);
  if (rest.length === 0) return kept;
  const first = rest.charCodeAt(0) - 48;
  const beyondHalf = /[1-9]/.test(rest.slice(1));
  if (first > 5 || (first === 5 && (beyondHalf || kept % 2n === 1n))) {
    kept += 1n;
  }
  return kept;
}

function nonFinite(x) {
  if (Number.isNaN(x)) return 'nan';
  return x < 0 ? '-inf' : 'inf';
}

function isNegative(x) {
  return x < 0 || Object.is(x, -0);
}

// printf("%.<precision>f", x).
export function fixed(x, precision) {
  if (!Number.isFinite(x)) return nonFinite(x);
  const { digits, point } = exactDecimal(Math.abs(x));
  const scaled = roundedPrefix(digits, point + precision).toString();
  const padded = scaled.padStart(precision + 1, '0');
  const whole = padded.slice(0, padded.length - precision);
  const fraction = padded.slice(padded.length - precision);
  return (isNegative(x) ? '-' : '') + whole + (precision > 0 ? '.' + fraction : '');
}

// printf("%.<precision>g", x).
export function general(x, precision = 6) {
  if (!Number.isFinite(x)) return nonFinite(x);
  const p = precision === 0 ? 1 : precision;
  const sign = isNegative(x) ? '-' : '';
  const { digits, point } = exactDecimal(Math.abs(x));
  let exp;
  let mantissa;
  if (digits === '0') {
    exp = 0;
    mantissa = '0'.repeat(p);
  } else {
    mantissa = roundedPrefix(digits, p).toString();
    exp = point - 1;
    if (mantissa.length > p) {  // 9.9995 -> 10.00
      mantissa = mantissa.slice(0, p);
      exp += 1;
    }
  }
  const stripZeros = (s) => (s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s);
  if (exp < p && exp >= -4) {
    return stripZeros(fixed(x, p - 1 - exp));
  }
  const body = stripZeros(mantissa.length > 1 ? `${mantissa[0]}.${mantissa.slice(1)}` : mantissa);
  const e = Math.abs(exp).toString().padStart(2, '0');
  return `${sign}${body}e${exp < 0 ? '-' : '+'}${e}`;
}

// One decimal without a trailing ".0": "16.7", "100" (scores).
export function oneDecimal(value) {
  const s = fixed(value, 1);
  return s.endsWith('.0') ? s.slice(0, -2) : s;
}

// A KVI value in its unit: seconds as "9.2 d", "3.5 h", "12 min", "42 s";
// "%" as a percentage (fractions of magnitude <= 1 scaled by 100); any other
// unit as 4 significant digits and the unit; no unit: the number alone.
export function formatValue(value, unit) {
  if (unit === 's') {
    const a = Math.abs(value);
    if (a >= 86400) return `${oneDecimal(value / 86400)} d`;
    if (a >= 3600) return `${oneDecimal(value / 3600)} h`;
    if (a >= 60) return `${oneDecimal(value / 60)} min`;
    return `${oneDecimal(value)} s`;
  }
  if (unit === '%') {
    return `${oneDecimal(Math.abs(value) <= 1 ? value * 100 : value)}%`;
  }
  const s = general(value, 4);
  return unit ? `${s} ${unit}` : s;
}

// vlactl's Number: `digits` decimals without trailing zeros, never "-0".
export function number(value, digits = 2) {
  if (!Number.isFinite(value)) return nonFinite(value);
  let s = fixed(value, digits);
  if (s.includes('.')) s = s.replace(/0+$/, '').replace(/\.$/, '');
  return s === '-0' ? '0' : s;
}

// vlactl's HumanDuration: "42s", "12.5m", "3.2h", "4.1d".
export function humanDuration(seconds) {
  if (!Number.isFinite(seconds)) return '-';
  const s = Math.abs(seconds);
  if (s < 90) return `${number(seconds, 0)}s`;
  if (s < 90 * 60) return `${number(seconds / 60, 1)}m`;
  if (s < 36 * 3600) return `${number(seconds / 3600, 1)}h`;
  return `${number(seconds / 86400, 1)}d`;
}

// A proto3 JSON double: a number, or "NaN" / "Infinity" / "-Infinity".
export function jsonNumber(v) {
  if (v === undefined || v === null) return 0;
  return typeof v === 'number' ? v : Number(v);
}
