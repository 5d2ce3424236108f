import { chmodSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import type { ApiKeyRecord, KeyStore } from "../store/store.ts";
import type { Logger } from "../telemetry/logger.ts";
import { digestOf, keyIdOf, mintKey } from "./api-key.ts";

const adminRecord = (id: string, digest: string, prefix: string, name: string): ApiKeyRecord => ({
  id,
  prefix,
  digest,
  name,
  team: null,
  roles: ["admin"],
  workloads: ["*"],
  models: ["*"],
  createdAt: new Date(),
  createdBy: null,
  expiresAt: null,
  revokedAt: null,
});

/**
 * The first admin key, three ways (docs/access.md):
 * 1. SWITCHYARD_BOOTSTRAP_KEY holds a key the operator generated (`switchyard keys generate`);
 *    it is registered as an admin key if not already known. Idempotent on every start.
 * 2. `auth.bootstrapKeyFile`: when the store has no key at all, mint one and write it to that
 *    file (mode 0600) — never to a log. Used by the bundled example config.
 * 3. The CLI: `switchyard keys create --config FILE --role admin --name NAME`.
 */
export async function bootstrapAdminKey(
  keys: KeyStore,
  options: { envKey: string | undefined; keyFile: string | undefined },
  logger: Logger,
): Promise<void> {
  if (options.envKey) {
    const id = keyIdOf(options.envKey);
    if (!id)
      throw new Error(
        "SWITCHYARD_BOOTSTRAP_KEY is not a Switchyard key (generate one: switchyard keys generate)",
      );
    if (!(await keys.get(id))) {
      await keys.create(
        adminRecord(id, digestOf(options.envKey), options.envKey.slice(0, 12), "bootstrap (env)"),
      );
      logger.warn({ keyId: id }, `bootstrap admin key ${id} registered from SWITCHYARD_BOOTSTRAP_KEY`);
    }
  }
  if (options.keyFile && (await keys.count()) === 0) {
    const minted = mintKey();
    await keys.create(adminRecord(minted.id, minted.digest, minted.prefix, "bootstrap (file)"));
    mkdirSync(dirname(options.keyFile), { recursive: true });
    writeFileSync(options.keyFile, `${minted.secret}\n`, { mode: 0o600 });
    chmodSync(options.keyFile, 0o600);
    logger.warn(
      { keyId: minted.id, file: options.keyFile },
      `first admin key ${minted.id} written to ${options.keyFile} (mode 0600): save it, then delete the file`,
    );
  } else if (options.keyFile && existsSync(options.keyFile)) {
    logger.info(
      { file: options.keyFile },
      `admin key file ${options.keyFile} is still present: delete it once saved`,
    );
  }
}
