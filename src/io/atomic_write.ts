/**
 * Atomic file writes: the data goes to a uniquely named temporary file in the target's folder
 * (same file system, so the rename is atomic), then a rename over the target. Readers see the old
 * or the new file, never a partial one; concurrent writers never share a temporary file.
 *
 * @module
 */

/**
 * Writes `data` (text or bytes) to `file` atomically, creating the folder if needed. On failure
 * the temporary file is removed and the error rethrown; the target is left as it was.
 *
 * @param file target path.
 * @param data text (UTF-8) or bytes.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const slash = file.lastIndexOf("/");
  const dir = slash < 0 ? "." : file.slice(0, slash) || "/";
  const base = file.slice(slash + 1);
  await Deno.mkdir(dir, { recursive: true });
  const temp = `${dir}/.${base}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  try {
    if (typeof data === "string") await Deno.writeTextFile(temp, data);
    else await Deno.writeFile(temp, data);
    await Deno.rename(temp, file);
  } catch (error) {
    await Deno.remove(temp).catch(() => {});
    throw error;
  }
}
