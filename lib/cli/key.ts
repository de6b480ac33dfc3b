/**
 * `djdns key new|show`: a participant's Ed25519 signing key in a file.
 *
 * The key file (docs/TOOLS.md §1) is one JSON object on one line:
 *
 * ```json
 * {"type":"djdns-key","v":1,"algorithm":"ed25519","public":"<64 hex>","secret":"<64 hex>"}
 * ```
 *
 * `secret` is the RFC 8032 32-byte seed, `public` the raw public key derived from it (checked on
 * every read, so a damaged file is refused rather than signing with another key). The file is
 * created with mode 0600 and never overwritten; a key file that its group or others may read,
 * write or execute is refused, as ssh refuses an unprotected private key.
 *
 * @module
 */
import { generateKeyPair, isValidPublicKey, publicKeyOf } from "../crypto/mod.ts";
import { InputError } from "./pagedata.ts";
import { parseCommandLine, UsageError } from "./usage.ts";

/** Help of `djdns key`. */
export const KEY_HELP = `Usage: djdns key new --out FILE
       djdns key show FILE

A participant's (moderator's) Ed25519 signing key.

Commands:
  new --out FILE           create a fresh key in FILE (mode 0600; an existing FILE is never
                           overwritten) and print its public key last
  show FILE                print the public key of the key in FILE

The key file is one JSON object: {"type":"djdns-key","v":1,"algorithm":"ed25519",
"public":HEX,"secret":HEX} (see docs/TOOLS.md). A key file readable by group or others is
refused, as ssh refuses an unprotected private key: run 'chmod 600 FILE'.

Options:
  --out FILE               new: where to write the key
  -h, --help               show this help`;

/** A participant key read from a key file. */
export interface ParticipantKey {
  /** 32-byte Ed25519 seed. */
  readonly secretKey: Uint8Array;
  /** Public key, 64 lowercase hex digits. */
  readonly publicHex: string;
}

const HEX64 = /^[0-9a-f]{64}$/;
/** Largest key file read: a key file is about 200 bytes. */
const MAX_KEY_FILE_BYTES = 4096;

/** The file form of a key (one line, newline-terminated). */
export function encodeKeyFile(secretKey: Uint8Array): string {
  const pub = publicKeyOf(secretKey).toHex();
  return JSON.stringify({
    type: "djdns-key",
    v: 1,
    algorithm: "ed25519",
    public: pub,
    secret: secretKey.toHex(),
  }) + "\n";
}

/** Parses the text of a key file; `file` names it in errors. Throws {@linkcode InputError}. */
export function parseKeyFile(text: string, file: string): ParticipantKey {
  let o: Record<string, unknown>;
  try {
    o = JSON.parse(text);
  } catch {
    throw new InputError(`key file ${file}: not a djdns key file (not JSON)`);
  }
  if (
    o === null || typeof o !== "object" || o.type !== "djdns-key" || o.v !== 1 ||
    o.algorithm !== "ed25519"
  ) {
    throw new InputError(`key file ${file}: not a djdns Ed25519 key file (version 1)`);
  }
  if (typeof o.secret !== "string" || !HEX64.test(o.secret)) {
    throw new InputError(`key file ${file}: 'secret' must be 64 lowercase hex digits`);
  }
  const secretKey = Uint8Array.fromHex(o.secret);
  const publicHex = publicKeyOf(secretKey).toHex();
  if (o.public !== publicHex) {
    throw new InputError(`key file ${file}: 'public' is not the public key of 'secret'`);
  }
  return { secretKey, publicHex };
}

/**
 * Reads a key file, refusing one that is not a regular file, that group or others may access
 * (mode & 0o077), or that is malformed. Throws {@linkcode InputError} with one line.
 */
export async function readKeyFile(file: string): Promise<ParticipantKey> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(file);
  } catch (e) {
    throw new InputError(`key file ${file}: ${describeFsError(e)}`);
  }
  if (!info.isFile) throw new InputError(`key file ${file}: not a regular file`);
  if (info.mode !== null && (info.mode & 0o077) !== 0) {
    const mode = (info.mode & 0o777).toString(8).padStart(4, "0");
    throw new InputError(
      `key file ${file}: permissions ${mode} are too open (group or others may read it); ` +
        `this key is refused: run 'chmod 600 ${file}'`,
    );
  }
  if (info.size > MAX_KEY_FILE_BYTES) {
    throw new InputError(`key file ${file}: not a djdns key file (${info.size} bytes)`);
  }
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new InputError(`key file ${file}: ${describeFsError(e)}`);
  }
  return parseKeyFile(text, file);
}

/** One line for a file system error (no stack, no Deno prefix). */
export function describeFsError(e: unknown): string {
  if (e instanceof Deno.errors.NotFound) return "no such file";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.AlreadyExists) return "already exists";
  if (e instanceof Deno.errors.IsADirectory) return "is a directory";
  const msg = e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0].replace(/, (open|stat|read|write) '.*'$/, "");
}

/** Writes a new key to `file` (mode 0600, never overwriting); returns its public key (hex). */
export async function writeNewKey(file: string): Promise<string> {
  const { secretKey, publicKey } = generateKeyPair();
  if (!isValidPublicKey(publicKey)) throw new Error("generated an invalid key (cannot happen)");
  let f: Deno.FsFile;
  try {
    f = await Deno.open(file, { write: true, createNew: true, mode: 0o600 });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new InputError(`${file} already exists; a key file is never overwritten`);
    }
    throw new InputError(`${file}: ${describeFsError(e)}`);
  }
  try {
    // createNew honours the umask, which can only remove bits; make the mode exact anyway.
    await Deno.chmod(file, 0o600);
    const bytes = new TextEncoder().encode(encodeKeyFile(secretKey));
    for (let at = 0; at < bytes.length;) at += await f.write(bytes.subarray(at));
    await f.sync();
  } catch (e) {
    f.close();
    await Deno.remove(file).catch(() => {});
    throw new InputError(`${file}: ${describeFsError(e)}`);
  }
  f.close();
  return publicKey.toHex();
}

/** Runs `djdns key …`; returns the exit status. */
export async function keyMain(args: string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(args, {
    out: { type: "string" },
    help: { type: "boolean", short: "h" },
  });
  if (values.help) {
    console.log(KEY_HELP);
    return 0;
  }
  const [command, ...rest] = positionals;
  if (command === undefined) throw new UsageError("missing command: new or show");
  if (command === "new") {
    if (rest.length > 0) throw new UsageError(`unexpected argument '${rest[0]}'`);
    const out = values.out as string | undefined;
    if (!out) throw new UsageError("key new needs --out FILE");
    try {
      const pub = await writeNewKey(out);
      console.error(`wrote a new Ed25519 key to ${out} (mode 0600); its public key:`);
      console.log(pub);
      return 0;
    } catch (e) {
      if (e instanceof InputError) {
        console.error(`djdns: ${e.message}`);
        return 1;
      }
      throw e;
    }
  }
  if (command === "show") {
    if (values.out !== undefined) throw new UsageError("--out applies to 'key new' only");
    if (rest.length !== 1) throw new UsageError("key show needs one FILE");
    try {
      console.log((await readKeyFile(rest[0])).publicHex);
      return 0;
    } catch (e) {
      if (e instanceof InputError) {
        console.error(`djdns: ${e.message}`);
        return 1;
      }
      throw e;
    }
  }
  throw new UsageError(`unknown key command '${command}' (new or show)`);
}
