/**
 * One owner per data directory: an exclusive, non-blocking `flock` on `DIR/LOCK`.
 *
 * SQLite's own locks only say "database is locked" at the first write and say nothing about who
 * holds them; a lock file held for the life of the store fails at open, with a clear message.
 * The kernel drops the lock when the owner dies (even by SIGKILL), so there is no stale lock to
 * clean up. The owner's pid is written into the file only to make the message helpful.
 *
 * @module
 */
import { StoreError } from "./errors.ts";

/** A held data-directory lock. */
export interface DirLock {
  /** Releases the lock; idempotent. */
  release(): void;
}

/** File name of the lock inside the data directory. */
export const LOCK_FILE = "LOCK";

function isReadOnlyFs(e: unknown): boolean {
  return e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable ||
    (e as { code?: string })?.code === "EROFS" || /read-only file system/i.test(String(e));
}

/**
 * Takes the exclusive lock of `dir`, or throws a {@linkcode StoreError} with code `locked` (another
 * process owns it) or `read-only` (the lock file cannot be created or opened for writing).
 */
export function lockDataDir(dir: string): DirLock {
  const path = `${dir}/${LOCK_FILE}`;
  let file: Deno.FsFile;
  try {
    file = Deno.openSync(path, { read: true, write: true, create: true });
  } catch (e) {
    if (isReadOnlyFs(e)) {
      throw new StoreError(
        "read-only",
        `data directory ${dir} is not writable (${
          e instanceof Error ? e.message : e
        }); djdns needs a writable --data directory`,
        { cause: e },
      );
    }
    throw new StoreError("io", `cannot open lock file ${path}: ${e}`, { cause: e });
  }
  let locked = false;
  try {
    locked = file.tryLockSync(true);
  } catch (e) {
    file.close();
    throw new StoreError("io", `cannot lock ${path}: ${e}`, { cause: e });
  }
  if (!locked) {
    let owner = "";
    try {
      const text = Deno.readTextFileSync(path).trim();
      if (/^\d+$/.test(text)) owner = ` (pid ${text})`;
    } catch { /* the pid is only a hint */ }
    file.close();
    throw new StoreError(
      "locked",
      `data directory ${dir} is in use by another djdns process${owner}; stop it or use another --data directory`,
    );
  }
  try {
    file.truncateSync(0);
    file.writeSync(new TextEncoder().encode(`${Deno.pid}\n`));
  } catch { /* a full disk must not stop the owner from reading its data */ }
  let released = false;
  return {
    release() {
      if (released) return;
      released = true;
      try {
        file.unlockSync();
      } finally {
        file.close();
      }
    },
  };
}
