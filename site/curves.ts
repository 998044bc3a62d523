/**
 * Training curves of the embedded model and its drafting heads, read from `loss_curve.json`
 * files next to the weights. A curve file is an array of points with a numeric `step` (or an
 * object holding such an array); every numeric field whose name contains "loss" becomes a series
 * (`trainLoss`, `valLoss`, per-head losses, ...). Missing files are normal (training may not have
 * finished); unreadable ones are reported as warnings, never as build failures, because they are
 * not results.
 *
 * @module
 */

/** One point of a long-form curve: a series' value at a step. */
export interface CurvePoint {
  /** Optimiser step. */
  step: number;
  /** Series name (`trainLoss`, `valLoss`, ...). */
  series: string;
  /** Loss value. */
  value: number;
}

/** A training curve found on disk. */
export interface TrainingCurve {
  /** What was trained (`sparsespec-tiny`, `sparsespec-tiny / medusa`). */
  title: string;
  /** The file, relative to the repository root. */
  file: string;
  /** Long-form points. */
  points: CurvePoint[];
  /** Number of logged steps. */
  steps: number;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function pointsArray(value: unknown): Record<string, unknown>[] | null {
  const isPoints = (v: unknown): v is Record<string, unknown>[] =>
    Array.isArray(v) && v.every((p) => isRecord(p) && typeof p.step === "number");
  if (isPoints(value)) return value;
  if (isRecord(value)) {
    for (const v of Object.values(value)) {
      if (Array.isArray(v) && v.length > 0 && isPoints(v)) return v;
    }
  }
  return null;
}

/**
 * Turns parsed curve JSON into long-form points; returns an error sentence when the shape is not
 * a curve.
 */
export function parseCurve(value: unknown): CurvePoint[] | { error: string } {
  const rows = pointsArray(value);
  if (!rows) {
    return { error: 'expected an array of points like {"step": 100, "trainLoss": 3.2, ...}' };
  }
  const points: CurvePoint[] = [];
  for (const row of rows) {
    for (const [key, v] of Object.entries(row)) {
      if (!/loss/i.test(key)) continue;
      if (typeof v === "number" && Number.isFinite(v)) {
        points.push({ step: row.step as number, series: key, value: v });
      } else if (Array.isArray(v)) {
        v.forEach((x, i) => {
          if (typeof x === "number" && Number.isFinite(x)) {
            points.push({ step: row.step as number, series: `${key}[${i}]`, value: x });
          }
        });
      }
    }
  }
  return points;
}

function join(root: string, path: string): string {
  return path.startsWith("/") ? path : `${root}/${path}`;
}

async function readCurve(
  root: string,
  rel: string,
  title: string,
  warn: (msg: string) => void,
): Promise<TrainingCurve | null> {
  let text: string;
  try {
    text = await Deno.readTextFile(join(root, rel));
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) warn(`${rel}: cannot read (${error})`);
    return null;
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    warn(`${rel}: not JSON (${error instanceof Error ? error.message : error}); curve skipped`);
    return null;
  }
  const points = parseCurve(parsed);
  if ("error" in points) {
    warn(`${rel}: ${points.error}; curve skipped`);
    return null;
  }
  return { title, file: rel, points, steps: new Set(points.map((p) => p.step)).size };
}

async function subfolders(dir: string): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isDirectory && !entry.name.startsWith(".")) out.push(entry.name);
    }
  } catch {
    // no folder: no curves
  }
  return out.sort();
}

/** Options of {@link loadTrainingCurves}. */
export interface LoadCurvesOptions {
  /** Repository root. */
  root: string;
  /** Model folders (relative to root), by model name. */
  models: ReadonlyMap<string, string>;
  /** Receives one line per unreadable curve file. */
  warn?: (message: string) => void;
}

/**
 * Reads `<model>/loss_curve.json` and `<model>/<heads>/loss_curve.json` (one level down: medusa,
 * amphista, ...) for every model folder. Absent files are skipped silently.
 */
export async function loadTrainingCurves(options: LoadCurvesOptions): Promise<TrainingCurve[]> {
  const warn = options.warn ?? (() => {});
  const curves: TrainingCurve[] = [];
  for (const [name, path] of options.models) {
    const dir = path.replace(/\/+$/, "");
    const model = await readCurve(options.root, `${dir}/loss_curve.json`, name, warn);
    if (model) curves.push(model);
    for (const sub of await subfolders(join(options.root, dir))) {
      const heads = await readCurve(
        options.root,
        `${dir}/${sub}/loss_curve.json`,
        `${name} / ${sub}`,
        warn,
      );
      if (heads) curves.push(heads);
    }
  }
  return curves;
}
