/**
 * Zero-shot task files: the lm-eval-style JSONL item format (`{context, choices, gold}` plus
 * optional fields), a loader with errors that name the file, the line and the field, and the
 * registry of the project's own held-out tasks (`lastword`, `nextsent4`, `wncloze4`,
 * `swappairs`, committed under `bench/tasks/`). Any other task name is read as a path, so users
 * can bring real task files in the same format.
 *
 * One item per line:
 *
 * ```json
 * {"id":"nextsent4-0001","context":"…","choices":[" A.", " B.", " C.", " D."],"gold":2}
 * ```
 *
 * - `context` (string): text the choices continue; may be empty (the evaluator then conditions
 *   on the end-of-text token, as lm-eval-harness does).
 * - `choices` (non-empty array of strings): continuations, normally starting with a space.
 * - `gold` (integer): index of the correct choice.
 * - `type` (optional): `"multiple_choice"` (default: the choice with the highest summed
 *   log-probability wins) or `"loglikelihood"` (exactly one choice, the target; `acc` is whether
 *   greedy decoding reproduces it token for token, and the target's perplexity is reported, as
 *   lm-eval-harness does for LAMBADA).
 * - `id`, `category`, `doc` (optional strings): item id, category for breakdowns, source
 *   document id. Other fields are ignored.
 *
 * @module
 */

import { describeValue, jsonlValues } from "./jsonl.ts";

/** How an item is scored. */
export type TaskItemType = "multiple_choice" | "loglikelihood";

/** One zero-shot item. */
export interface TaskItem {
  /** Text the choices continue (may be empty). */
  context: string;
  /** Candidate continuations (one for `loglikelihood` items). */
  choices: string[];
  /** Index of the correct choice. */
  gold: number;
  /** Scoring rule; absent means `"multiple_choice"`. */
  type?: TaskItemType;
  /** Item id. */
  id?: string;
  /** Category for per-category breakdowns (Brown genre, `sotu`, part of speech, …). */
  category?: string;
  /** Id of the document the item was built from. */
  doc?: string;
}

/** Names of the project's own tasks. */
export const TASK_NAMES = ["lastword", "nextsent4", "wncloze4", "swappairs"] as const;
/** A name of one of the project's own tasks. */
export type TaskName = typeof TASK_NAMES[number];

/** Registry entry of a built-in task. */
export interface TaskInfo {
  /** Item file, relative to the repository root. */
  file: string;
  /** What the task is; says "-style" and never claims to be the original benchmark. */
  description: string;
  /** Number of choices every item has. */
  choices: number;
  /** Scoring rule of every item. */
  type: TaskItemType;
}

/** The built-in tasks, built by `scripts/build_tasks.ts` from held-out text and WordNet. */
export const TASK_REGISTRY: Readonly<Record<TaskName, TaskInfo>> = {
  lastword: {
    file: "bench/tasks/lastword.jsonl",
    description: "LAMBADA-style last-word prediction on held-out SOTU and Brown passages " +
      "(context ≥ 60 words ending mid-sentence; the target also occurs earlier in the context). " +
      "acc = greedy exact match of the whole word; ppl = target-word perplexity. Not LAMBADA.",
    choices: 1,
    type: "loglikelihood",
  },
  nextsent4: {
    file: "bench/tasks/nextsent4.jsonl",
    description: "HellaSwag-style true-next-sentence choice on held-out SOTU and Brown text: " +
      "2–4 context sentences, the true next sentence and 3 sentences of other held-out " +
      "documents of the same source within ±15% of its length. Not HellaSwag.",
    choices: 4,
    type: "multiple_choice",
  },
  wncloze4: {
    file: "bench/tasks/wncloze4.jsonl",
    description: "Cloze-style items from WordNet 3.1 example sentences: the blanked lemma of " +
      "the sense the sentence illustrates against 3 same-part-of-speech lemmas of similar " +
      "train-split frequency.",
    choices: 4,
    type: "multiple_choice",
  },
  swappairs: {
    file: "bench/tasks/swappairs.jsonl",
    description: "BLiMP-style minimal pairs from held-out SOTU and Brown sentences: the " +
      "original sentence against the same sentence with two adjacent words swapped. Not BLiMP.",
    choices: 2,
    type: "multiple_choice",
  },
};

/** Whether `name` is one of the built-in task names. */
export function isTaskName(name: string): name is TaskName {
  return (TASK_NAMES as readonly string[]).includes(name);
}

/** A task name or path resolved to a file. */
export interface ResolvedTask {
  /** Registry name, or the file name without `.jsonl` for a user file. */
  name: string;
  /** Path of the JSONL file (absolute, or relative to the working directory). */
  path: string;
  /** Registry description; absent for user files. */
  description?: string;
}

/** Options for {@linkcode resolveTask} and {@linkcode loadTask}. */
export interface TaskLocation {
  /** Repository root that registry files and relative user paths are resolved against. */
  root: string;
}

/**
 * Resolves a built-in task name (`lastword`, …) or a path to a JSONL file. A string is read as
 * a path when it contains `/` or ends in `.jsonl`; relative paths resolve against `root`.
 *
 * @throws Error for an unknown name that does not look like a path, listing the known names
 */
export function resolveTask(nameOrPath: string, opts: TaskLocation): ResolvedTask {
  if (isTaskName(nameOrPath)) {
    const info = TASK_REGISTRY[nameOrPath];
    return {
      name: nameOrPath,
      path: `${opts.root}/${info.file}`,
      description: info.description,
    };
  }
  if (nameOrPath.includes("/") || nameOrPath.endsWith(".jsonl")) {
    const path = nameOrPath.startsWith("/") ? nameOrPath : `${opts.root}/${nameOrPath}`;
    const base = nameOrPath.split("/").pop()!.replace(/\.jsonl$/, "");
    return { name: base, path };
  }
  throw new Error(
    `unknown zero-shot task "${nameOrPath}": use one of ${TASK_NAMES.join(", ")}, or a path ` +
      `to an lm-eval-style JSONL file (a name containing "/" or ending in ".jsonl")`,
  );
}

/**
 * Parses one JSONL item; `where` is `file:line` for messages.
 *
 * @throws Error naming `where`, the field and the fix
 */
export function parseTaskItem(value: unknown, where: string): TaskItem {
  const bad = (field: string, want: string, got: unknown): never => {
    throw new Error(
      `${where}: field "${field}": expected ${want}, got ${describeValue(got)}; ` +
        `fix the item (format: {"context": string, "choices": [string, ...], "gold": integer})`,
    );
  };
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return bad("(line)", "a JSON object", value);
  }
  const o = value as Record<string, unknown>;
  if (typeof o.context !== "string") bad("context", "a string", o.context);
  if (!Array.isArray(o.choices) || o.choices.length === 0) {
    bad("choices", "a non-empty array of strings", o.choices);
  }
  const choices = o.choices as unknown[];
  choices.forEach((c, i) => {
    if (typeof c !== "string" || c.length === 0) bad(`choices[${i}]`, "a non-empty string", c);
  });
  if (!Number.isInteger(o.gold) || (o.gold as number) < 0 || (o.gold as number) >= choices.length) {
    bad("gold", `an integer index into "choices" (0..${choices.length - 1})`, o.gold);
  }
  const item: TaskItem = {
    context: o.context as string,
    choices: choices as string[],
    gold: o.gold as number,
  };
  if (o.type !== undefined) {
    if (o.type !== "multiple_choice" && o.type !== "loglikelihood") {
      bad("type", '"multiple_choice" or "loglikelihood"', o.type);
    }
    if (o.type === "loglikelihood" && choices.length !== 1) {
      bad("choices", 'exactly one target continuation for type "loglikelihood"', o.choices);
    }
    item.type = o.type as TaskItemType;
  }
  for (const key of ["id", "category", "doc"] as const) {
    if (o[key] === undefined) continue;
    if (typeof o[key] !== "string") bad(key, "a string when present", o[key]);
    item[key] = o[key] as string;
  }
  return item;
}

/**
 * Parses a whole JSONL text; blank lines are skipped.
 *
 * @param text File contents.
 * @param path File name used in error messages.
 * @throws Error naming the file, the 1-based line and the field
 */
export function parseTaskJsonl(text: string, path: string): TaskItem[] {
  const items: TaskItem[] = [];
  const expected = 'each line must be one JSON object {"context", "choices", "gold"}';
  for (const { value, line } of jsonlValues(text, path, expected)) {
    items.push(parseTaskItem(value, `${path}:${line}`));
  }
  if (items.length === 0) {
    throw new Error(`${path}: no items; expected one JSON object per line`);
  }
  return items;
}

/** A loaded task. */
export interface LoadedTask extends ResolvedTask {
  /** The items (the first `limit` when a limit was given). */
  items: TaskItem[];
}

/** Options for {@linkcode loadTask}. */
export interface LoadTaskOptions extends TaskLocation {
  /** Keep only the first `limit` items. */
  limit?: number;
}

/**
 * Loads a built-in task by name or a user task file by path.
 *
 * @throws Error naming the file when it cannot be read, or file, line and field for a bad item
 */
export async function loadTask(nameOrPath: string, opts: LoadTaskOptions): Promise<LoadedTask> {
  const resolved = resolveTask(nameOrPath, opts);
  let text: string;
  try {
    text = await Deno.readTextFile(resolved.path);
  } catch (e) {
    const hint = isTaskName(nameOrPath)
      ? "run `bin/deno run -A scripts/build_tasks.ts` to rebuild the committed task files"
      : "check the path";
    throw new Error(`${resolved.path}: cannot read task file (${(e as Error).message}); ${hint}`);
  }
  const items = parseTaskJsonl(text, resolved.path);
  return { ...resolved, items: opts.limit === undefined ? items : items.slice(0, opts.limit) };
}
