/**
 * Progress display for `bench`: a cli-progress bar over the runs of a suite, with one log line per
 * finished run above it. Readable in a pipe too: without a terminal the bar is printed as plain
 * lines every two seconds (`noTTYOutput`), and every finished run still gets its own line.
 *
 * @module
 */

import cliProgress from "cli-progress";
import process from "node:process";
import type { ProgressEvent } from "./runner.ts";

/** Receives runner events and shows them. */
export interface ProgressDisplay {
  /** Handles one runner event. */
  handle(event: ProgressEvent): void;
  /** Flushes pending lines and removes the bar (always call it, e.g. in `finally`). */
  stop(): void;
}

/** Options of {@link createProgressDisplay}. */
export interface ProgressDisplayOptions {
  /** Suite name shown on the bar. */
  title: string;
  /** Number of runs. */
  total: number;
  /**
   * Draw a bar (default true). Without one, only the per-run lines are written, through `write`.
   */
  bar?: boolean;
  /** Where plain lines go when there is no bar (default: stderr). */
  write?: (line: string) => void;
}

function seconds(value: number): string {
  return value < 10 ? `${value.toFixed(2)} s` : `${value.toFixed(1)} s`;
}

/** Formats the one-line summary of a finished or cached run. */
export function describeEvent(event: ProgressEvent): string | undefined {
  switch (event.type) {
    case "cached":
      return `[${event.index + 1}/${event.total}] cached  ${event.run.label} (${event.run.id})`;
    case "finish": {
      const head = `[${event.index + 1}/${event.total}]`;
      const time = seconds(event.result.timings.wallSeconds);
      return event.result.status === "ok"
        ? `${head} ok      ${event.run.label} (${event.run.id}) in ${time}`
        : `${head} FAILED  ${event.run.label} (${event.run.id}) after ${time}: ${
          event.result.error?.message ?? "unknown error"
        }`;
    }
    case "log":
      return event.run ? `  ${event.run.label}: ${event.message}` : `  ${event.message}`;
    case "warning":
      return event.run
        ? `  warning: ${event.run.label}: ${event.message}`
        : `  warning: ${event.message}`;
    default:
      return undefined;
  }
}

/** Creates a progress display for one suite. */
export function createProgressDisplay(options: ProgressDisplayOptions): ProgressDisplay {
  const write = options.write ?? ((line: string) => process.stderr.write(`${line}\n`));
  if (options.bar === false || options.total === 0) {
    return {
      handle(event) {
        const line = describeEvent(event);
        if (line !== undefined) write(line);
      },
      stop() {},
    };
  }
  const multibar = new cliProgress.MultiBar({
    format: `${options.title} {bar} {value}/{total} runs | {status}`,
    stream: process.stderr,
    noTTYOutput: !process.stderr.isTTY,
    notTTYSchedule: 2000,
    hideCursor: false,
    clearOnComplete: false,
    barsize: 24,
  }, cliProgress.Presets.shades_classic);
  const bar = multibar.create(options.total, 0, { status: "starting" });
  return {
    handle(event) {
      const line = describeEvent(event);
      if (line !== undefined) multibar.log(`${line}\n`);
      switch (event.type) {
        case "start":
          bar.update({ status: `running ${event.run.label}` });
          break;
        case "inner":
          bar.update({
            status: `${event.run.label}: ${event.done}/${event.total}${
              event.note ? ` ${event.note}` : ""
            }`,
          });
          break;
        case "cached":
        case "finish":
          bar.increment(1, { status: `done ${event.run.label}` });
          break;
      }
    },
    stop() {
      multibar.update();
      multibar.stop();
    },
  };
}
