/**
 * Kubernetes resource quantities (`750m`, `1.5Gi`, `1e3`, `9559630n`) parsed exactly, and percents.
 *
 * The grammar is Kubernetes' own (k8s.io/apimachinery/pkg/api/resource):
 *   <quantity> ::= <sign>? <number> <suffix>
 *   <number>   ::= <digits> | <digits>.<digits> | <digits>. | .<digits>
 *   <suffix>   ::= "" | n | u | m | k | M | G | T | P | E | Ki | Mi | Gi | Ti | Pi | Ei | (e|E)<sign>?<digits>
 *
 * Arithmetic is done on bigints, so `0.1` and `100m` are the same value, and results are exact.
 * Converted values are returned as JavaScript numbers: CPU in nanocores and memory in bytes are
 * exact integers up to Number.MAX_SAFE_INTEGER (9.0e15: 9 million cores, 8 PiB), far above any
 * container; a larger value is an error rather than a silently rounded number. Like Kubernetes
 * (`Quantity.ScaledValue`), a value finer than the unit is rounded up: `0.5` bytes is 1 byte.
 */

export class QuantityError extends Error {
  constructor(
    readonly input: string,
    reason: string,
  ) {
    super(`invalid quantity ${JSON.stringify(input)}: ${reason}`);
    this.name = 'QuantityError';
  }
}

/** An exact decimal value: `coefficient / 10^scale`. */
export interface Quantity {
  readonly coefficient: bigint;
  readonly scale: number;
}

const DECIMAL_SUFFIXES: Readonly<Record<string, number>> = {
  n: -9,
  u: -6,
  m: -3,
  '': 0,
  k: 3,
  M: 6,
  G: 9,
  T: 12,
  P: 15,
  E: 18,
};

const BINARY_SUFFIXES: Readonly<Record<string, bigint>> = {
  Ki: 1n << 10n,
  Mi: 1n << 20n,
  Gi: 1n << 30n,
  Ti: 1n << 40n,
  Pi: 1n << 50n,
  Ei: 1n << 60n,
};

const QUANTITY = /^([+-]?)(\d*)(?:\.(\d*))?(.*)$/;
const EXPONENT = /^[eE]([+-]?\d{1,3})$/;
/** Kubernetes quantities are short; a bound keeps bigint work trivial on hostile input. */
const MAX_INPUT_LENGTH = 64;
const SUFFIX_HINT =
  'expected a number with an optional suffix n, u, m, k, M, G, T, P, E, Ki..Ei or e<exponent>';

function suffixExponent(input: string, suffix: string): { power10: number; binary: bigint } {
  const decimal = DECIMAL_SUFFIXES[suffix];
  if (decimal !== undefined) return { power10: decimal, binary: 1n };
  const binary = BINARY_SUFFIXES[suffix];
  if (binary !== undefined) return { power10: 0, binary };
  const exponent = EXPONENT.exec(suffix);
  if (exponent?.[1] !== undefined) return { power10: Number(exponent[1]), binary: 1n };
  throw new QuantityError(input, `unknown suffix ${JSON.stringify(suffix)}; ${SUFFIX_HINT}`);
}

function inputText(input: string | number): string {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new QuantityError(String(input), 'not a finite number');
    return String(input);
  }
  return input;
}

/** Parses a Kubernetes quantity exactly. Throws QuantityError naming the input. */
export function parseQuantity(input: string | number): Quantity {
  const text = inputText(input);
  if (text === '') throw new QuantityError(text, 'empty');
  if (text.length > MAX_INPUT_LENGTH)
    throw new QuantityError(text, `longer than ${MAX_INPUT_LENGTH} characters`);
  const match = QUANTITY.exec(text);
  const [, sign = '', whole = '', fraction, suffix = ''] = match ?? [];
  if (!match || (whole === '' && (fraction ?? '') === '')) {
    throw new QuantityError(text, SUFFIX_HINT);
  }
  const { power10, binary } = suffixExponent(text, suffix);
  const digits = BigInt(whole + (fraction ?? '') || '0');
  let coefficient = digits * binary * (sign === '-' ? -1n : 1n);
  let scale = (fraction ?? '').length - power10;
  if (scale < 0) {
    coefficient *= 10n ** BigInt(-scale);
    scale = 0;
  }
  return { coefficient, scale };
}

/** The value in whole units (`unitsPerOne` units make 1), rounded up like Kubernetes. */
function toUnits(input: string | number, unitsPerOne: bigint): number {
  const { coefficient, scale } = parseQuantity(input);
  const numerator = coefficient * unitsPerOne;
  const denominator = 10n ** BigInt(scale);
  let units = numerator / denominator;
  if (numerator % denominator !== 0n && numerator > 0n) units += 1n;
  if (units > BigInt(Number.MAX_SAFE_INTEGER) || units < -BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new QuantityError(inputText(input), 'out of range');
  }
  return Number(units);
}

/** CPU as an exact integer number of nanocores (`1` -> 1e9, `250m` -> 2.5e8, `9559630n` -> 9559630). */
export function parseCpuNanocores(input: string | number): number {
  return toUnits(input, 1_000_000_000n);
}

/** CPU in millicores, exact to the nanocore (`9559630n` -> 9.55963). */
export function parseCpuMillicores(input: string | number): number {
  return parseCpuNanocores(input) / 1_000_000;
}

/** Memory as an exact integer number of bytes (`1Ki` -> 1024, `1k` -> 1000, `1.5Gi` -> 1610612736). */
export function parseMemoryBytes(input: string | number): number {
  return toUnits(input, 1n);
}

const PERCENT = /^(\d+(?:\.\d+)?)%$/;

export function isPercent(input: string | number): input is string {
  return typeof input === 'string' && input.endsWith('%');
}

/** `"80%"` -> 80, `"12.5%"` -> 12.5. Throws QuantityError naming the input. */
export function parsePercent(input: string): number {
  const match = PERCENT.exec(input);
  if (!match?.[1]) throw new QuantityError(input, 'expected a percent such as "80%" or "12.5%"');
  return Number(match[1]);
}
