/**
 * npm run -s token -- --tenant acme [--sub alice] [--access read|edit|full|root] [--ttl 3600]
 * npm run -s token -- --operator [--tenant operator] [--sub operator] [--ttl 3600]
 *
 * Prints only a JWT on stdout, signed with the key in DATA_DIR (made if it
 * does not exist yet), so it works whether or not the server is running.
 * `--operator` adds the operator claim that the operator routes (the global
 * stop) need; only this server's own key makes it count.
 */
import { parseArgs } from "node:util";
import { loadOrCreateSigningKey } from "../src/auth/keys.js";
import { ACCESS_LEVELS, type Access } from "../src/auth/principal.js";
import { signToken } from "../src/auth/tokens.js";
import { ConfigError, loadConfig } from "../src/config.js";
import { TENANT_PATTERN } from "../src/storage/tenant-db.js";

const USAGE = "usage: npm run -s token -- --tenant <slug> [--sub <caller>] [--access read|edit|full|root] [--ttl <seconds>] [--operator]";

function fail(message: string): never {
  process.stderr.write(`token: ${message}\n${USAGE}\n`);
  process.exit(2);
}

async function run(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        tenant: { type: "string" },
        sub: { type: "string" },
        access: { type: "string" },
        ttl: { type: "string", default: "3600" },
        operator: { type: "boolean", default: false },
      },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  const operator = values.operator === true;
  const tenant = values.tenant ?? (operator ? "operator" : undefined);
  if (!tenant) fail("--tenant is required");
  if (!TENANT_PATTERN.test(tenant)) fail(`--tenant must match ${TENANT_PATTERN}`);
  const access = values.access ?? (operator ? "root" : "full");
  if (!(ACCESS_LEVELS as readonly string[]).includes(access)) fail(`--access must be one of ${ACCESS_LEVELS.join(", ")}`);
  const sub = values.sub ?? (operator ? "operator" : "cli");
  if (sub.length === 0 || sub.length > 255) fail("--sub must be 1 to 255 characters");
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const maxTtl = config.auth.maxTokenTtlS;
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > maxTtl) fail(`--ttl must be a whole number of seconds between 1 and ${maxTtl} (AUTH_MAX_TOKEN_TTL_S)`);
  const key = await loadOrCreateSigningKey(config.dataDir, (file) =>
    process.stderr.write(
      `token: made a new signing key at ${file}. A server started with a different DATA_DIR refuses this token (401); mint with the DATA_DIR the server uses.\n`,
    ),
  );
  const token = await signToken(
    key,
    { issuer: config.auth.issuer, audience: config.auth.audience },
    { tenant, sub, access: access as Access, ttlS: ttl, ...(operator ? { operator: true } : {}) },
  );
  process.stdout.write(`${token}\n`);
}

void run();
