/**
 * Number and text formatting for the site: fixed, readable precision per kind of quantity, and a
 * dash for anything missing. Pure functions.
 *
 * @module
 */

/** What every formatter prints for a missing value. */
export const MISSING = "—";

/** Formats a number with `digits` decimals, or {@link MISSING}. */
export function fixed(value: number | null | undefined, digits = 2): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return MISSING;
  return value.toFixed(digits);
}

/** Formats a number with 4 significant digits (integers unchanged), or {@link MISSING}. */
export function sig(value: number | null | undefined, digits = 4): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return MISSING;
  if (Number.isInteger(value)) return String(value);
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return value.toExponential(2);
  return String(Number(value.toPrecision(digits)));
}

/** Formats a fraction as a percentage (`0.5` → `50.0%`), or {@link MISSING}. */
export function percent(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return MISSING;
  return `${(value * 100).toFixed(digits)}%`;
}

/** Formats a relative change with its sign (`0.123` → `+12.3%`), or {@link MISSING}. */
export function signedPercent(value: number | null | undefined, digits = 1): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return MISSING;
  const text = `${(value * 100).toFixed(digits)}%`;
  return value > 0 ? `+${text}` : value === 0 ? `±${text}` : text.replace("-", "−");
}

/** Formats seconds as `12.3 s`, `4 min 05 s` or `1 h 02 min`, or {@link MISSING}. */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return MISSING;
  if (seconds < 60) return `${seconds < 10 ? seconds.toFixed(2) : seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  if (s < 3600) return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, "0")} s`;
  return `${Math.floor(s / 3600)} h ${String(Math.floor((s % 3600) / 60)).padStart(2, "0")} min`;
}

/** Formats a byte count as `812 B`, `3.4 KiB` or `1.2 MiB`. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

/** Formats any JSON leaf for a key/value table (strings as is, numbers with {@link sig}). */
export function leaf(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return MISSING;
  if (typeof value === "number") return sig(value, 6);
  if (typeof value === "boolean") return value ? "true" : "false";
  if (typeof value === "string") return value;
  if (Array.isArray(value) && value.every((v) => typeof v === "number")) {
    return `[${value.map((v) => sig(v, 6)).join(", ")}]`;
  }
  return JSON.stringify(value);
}
