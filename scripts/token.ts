/**
 * npm run -s token -- --tenant acme [--sub alice] [--access read|edit|full|root] [--ttl 3600]
 *
 * Prints only a JWT on stdout, signed with the key in DATA_DIR (made if it
 * does not exist yet), so it works whether or not the server is running.
 */
import { parseArgs } from "node:util";
import { loadOrCreateSigningKey } from "../src/auth/keys.js";
import { ACCESS_LEVELS, type Access } from "../src/auth/principal.js";
import { signToken } from "../src/auth/tokens.js";
import { ConfigError, loadConfig } from "../src/config.js";
import { TENANT_PATTERN } from "../src/storage/tenant-db.js";

function fail(message: string): never {
  process.stderr.write(`token: ${message}\nusage: npm run -s token -- --tenant <slug> [--sub <caller>] [--access read|edit|full|root] [--ttl <seconds>]\n`);
  process.exit(2);
}

async function run(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        tenant: { type: "string" },
        sub: { type: "string", default: "cli" },
        access: { type: "string", default: "full" },
        ttl: { type: "string", default: "3600" },
      },
      strict: true,
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  const tenant = values.tenant;
  if (!tenant) fail("--tenant is required");
  if (!TENANT_PATTERN.test(tenant)) fail(`--tenant must match ${TENANT_PATTERN}`);
  if (!(ACCESS_LEVELS as readonly string[]).includes(values.access!)) fail(`--access must be one of ${ACCESS_LEVELS.join(", ")}`);
  const ttl = Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > 366 * 86_400) fail("--ttl must be a whole number of seconds between 1 and 31622400");
  const sub = values.sub!;
  if (sub.length === 0 || sub.length > 255) fail("--sub must be 1 to 255 characters");
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message);
    throw err;
  }
  const key = await loadOrCreateSigningKey(config.dataDir);
  const token = await signToken(key, { issuer: config.auth.issuer, audience: config.auth.audience }, { tenant, sub, access: values.access as Access, ttlS: ttl });
  process.stdout.write(`${token}\n`);
}

void run();
