/**
 * The node's network identity: an Ed25519 key (its libp2p peer id) kept in the data directory,
 * created on first start with mode 0600. It is not a participant key: it signs nothing of the
 * registry, only the Noise handshakes that authenticate connections.
 *
 * @module
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from "@libp2p/crypto/keys";
import type { PrivateKey } from "@libp2p/interface";

/** File name of the node key inside the data directory. */
export const NODE_KEY_FILE = "node.key";

/**
 * Loads the node key of data directory `dir`, creating it (exclusively, mode 0600) when absent.
 * Throws when the file exists but is not an Ed25519 libp2p private key.
 */
export async function loadNodeKey(dir: string): Promise<PrivateKey> {
  const path = `${dir}/${NODE_KEY_FILE}`;
  let bytes: Uint8Array | undefined;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  if (bytes === undefined) {
    const key = await generateKeyPair("Ed25519");
    await Deno.mkdir(dir, { recursive: true });
    try {
      await Deno.writeFile(path, privateKeyToProtobuf(key), { createNew: true, mode: 0o600 });
      return key;
    } catch (e) {
      // Another process created it first: use theirs.
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
      bytes = await Deno.readFile(path);
    }
  }
  let key: PrivateKey;
  try {
    key = privateKeyFromProtobuf(bytes);
  } catch (e) {
    throw new Error(`${path}: not a node key (${(e as Error).message})`);
  }
  if (key.type !== "Ed25519") throw new Error(`${path}: the node key must be Ed25519`);
  return key;
}
