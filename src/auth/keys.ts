/**
 * The service's own signing key pair, made on first start and kept in
 * DATA_DIR/keys (private key file mode 0600). The public half is published at
 * /.well-known/jwks.json. The token command reads the same file, so it works
 * whether or not the server is running.
 */
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type JWK } from "jose";

export const SIGNING_ALG = "EdDSA";

export interface SigningKey {
  readonly kid: string;
  readonly alg: typeof SIGNING_ALG;
  readonly privateKey: Awaited<ReturnType<typeof importJWK>>;
  readonly publicJwk: JWK;
}

function keyFile(dataDir: string): string {
  return path.join(dataDir, "keys", "signing-key.jwk.json");
}

async function fromJwk(privateJwk: JWK): Promise<SigningKey> {
  const { d: _d, ...pub } = privateJwk;
  const kid = privateJwk.kid ?? (await calculateJwkThumbprint(pub));
  const privateKey = await importJWK(privateJwk, SIGNING_ALG);
  return { kid, alg: SIGNING_ALG, privateKey, publicJwk: { ...pub, kid, alg: SIGNING_ALG, use: "sig" } };
}

/**
 * Loads the key pair, creating it atomically if absent; a concurrent creator
 * wins and both end with the same key. `onCreate` hears when this call made a
 * new key (the token command warns: a server on another DATA_DIR refuses it).
 */
export async function loadOrCreateSigningKey(dataDir: string, onCreate?: (file: string) => void): Promise<SigningKey> {
  const file = keyFile(dataDir);
  try {
    return await fromJwk(JSON.parse(readFileSync(file, "utf8")) as JWK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const { privateKey } = await generateKeyPair(SIGNING_ALG, { crv: "Ed25519", extractable: true });
  const jwk = await exportJWK(privateKey);
  const { d: _d, ...pub } = jwk;
  jwk.kid = await calculateJwkThumbprint(pub);
  try {
    writeFileSync(file, JSON.stringify(jwk), { flag: "wx", mode: 0o600 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    return fromJwk(JSON.parse(readFileSync(file, "utf8")) as JWK);
  }
  chmodSync(file, 0o600);
  onCreate?.(file);
  return fromJwk(jwk);
}
