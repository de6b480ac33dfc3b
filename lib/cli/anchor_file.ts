/**
 * Reading trust anchor files from disk (the format is lib/anchor/file.ts, which stays pure).
 *
 * @module
 */
import { AnchorFileError, MAX_ANCHOR_FILE_BYTES, parseAnchorFile } from "../anchor/file.ts";
import type { TrustAnchor } from "../page/mod.ts";

/** Reads and parses an anchor file. */
export async function readAnchorFile(path: string): Promise<TrustAnchor> {
  let bytes: Uint8Array;
  try {
    const info = await Deno.stat(path);
    if (!info.isFile) throw new AnchorFileError(`anchor file ${path}: not a regular file`);
    if (info.size > MAX_ANCHOR_FILE_BYTES) {
      throw new AnchorFileError(`anchor file ${path}: larger than ${MAX_ANCHOR_FILE_BYTES} bytes`);
    }
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (e instanceof AnchorFileError) throw e;
    const why = e instanceof Deno.errors.NotFound
      ? "no such file"
      : e instanceof Deno.errors.PermissionDenied
      ? "permission denied"
      : (e as Error).message.split("\n")[0];
    throw new AnchorFileError(`anchor file ${path}: ${why}`);
  }
  return parseAnchorFile(new TextDecoder().decode(bytes), `anchor file ${path}`);
}
