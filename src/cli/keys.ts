import { loadConfigFile } from "../config/load.ts";
import { mintKey } from "../policy/api-key.ts";
import { ROLES } from "../policy/rbac.ts";
import { openStore } from "../store/open-store.ts";
import type { ApiKeyRecord, StoreConfig } from "../store/store.ts";
import { parseCommand, usageError } from "./parse.ts";

export const KEYS_HELP = `switchyard keys — manage API keys directly in the configured store (operators, bootstrap)

  switchyard keys generate
      print a new random key without storing it (for SWITCHYARD_BOOTSTRAP_KEY)
  switchyard keys create --config FILE --name NAME --role ROLE [--role ...] [--team T]
                         [--workload W ...] [--model M ...] [--expires ISO-DATE]
      mint a key and print its secret once (roles: ${Object.keys(ROLES).join(", ")})
  switchyard keys list --config FILE [--team T] [--all]
  switchyard keys revoke --config FILE --id KEY_ID
  switchyard keys --help
`;

/** `switchyard keys …`: returns the exit code. Secrets go to stdout once, never to a log. */
export async function keysCommand(
  argv: string[],
  out: NodeJS.WritableStream,
  err: NodeJS.WritableStream,
): Promise<number> {
  const parsed = parseCommand(
    "switchyard keys",
    KEYS_HELP,
    {
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: "string", short: "c" },
        name: { type: "string" },
        role: { type: "string", multiple: true },
        team: { type: "string" },
        workload: { type: "string", multiple: true },
        model: { type: "string", multiple: true },
        expires: { type: "string" },
        id: { type: "string" },
        all: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    },
    { out, err },
  );
  if (typeof parsed === "number") return parsed;
  const { values, positionals } = parsed;
  const [sub] = positionals;
  if (sub === "help") {
    out.write(KEYS_HELP);
    return 0;
  }
  if (sub === "generate") {
    out.write(`${mintKey().secret}\n`);
    return 0;
  }
  if (!sub || !["create", "list", "revoke"].includes(sub)) {
    const message = sub ? `unknown subcommand "${sub.slice(0, 40)}"` : "missing subcommand";
    return usageError("switchyard keys", message, KEYS_HELP, { out, err });
  }
  if (!values.config) {
    err.write("missing --config FILE (the key store is the one the config names)\n");
    return 2;
  }
  const store = await openStore(loadConfigFile(values.config).config.store as StoreConfig);
  try {
    if (sub === "create") {
      const roles = values.role ?? [];
      const unknown = roles.filter((r) => !ROLES[r]);
      if (!values.name || roles.length === 0 || unknown.length > 0) {
        err.write(
          `--name and at least one known --role are required${unknown.length ? ` (unknown: ${unknown.join(", ")})` : ""}\n`,
        );
        return 2;
      }
      const expiresAt = values.expires ? new Date(values.expires) : null;
      if (expiresAt && Number.isNaN(expiresAt.getTime())) {
        err.write(`--expires: "${values.expires}" is not a date\n`);
        return 2;
      }
      const minted = mintKey();
      const record: ApiKeyRecord = {
        id: minted.id,
        prefix: minted.prefix,
        digest: minted.digest,
        name: values.name,
        team: values.team ?? null,
        roles,
        workloads: values.workload ?? ["*"],
        models: values.model ?? ["*"],
        createdAt: new Date(),
        createdBy: null,
        expiresAt,
        revokedAt: null,
      };
      await store.keys.create(record);
      await store.audit.append({
        id: `aud_${crypto.randomUUID()}`,
        time: new Date(),
        requestId: "cli",
        actorKeyId: null,
        action: "keys.create",
        target: record.id,
        outcome: "allowed",
        details: { via: "cli", roles: roles.join(",") },
      });
      err.write(`created ${record.id} (${roles.join(", ")}); the secret below is shown only once:\n`);
      out.write(`${minted.secret}\n`);
      return 0;
    }
    if (sub === "list") {
      const keys = await store.keys.list({
        ...(values.team ? { team: values.team } : {}),
        includeRevoked: values.all ?? false,
      });
      for (const k of keys) {
        const state = k.revokedAt
          ? "revoked"
          : k.expiresAt && k.expiresAt < new Date()
            ? "expired"
            : "active";
        out.write(`${k.id}\t${k.prefix}…\t${k.name}\t${k.team ?? "-"}\t${k.roles.join(",")}\t${state}\n`);
      }
      return 0;
    }
    if (!values.id) {
      err.write("missing --id KEY_ID\n");
      return 2;
    }
    const revoked = await store.keys.revoke(values.id, new Date());
    if (!revoked) {
      err.write(`no active key ${values.id}\n`);
      return 1;
    }
    await store.audit.append({
      id: `aud_${crypto.randomUUID()}`,
      time: new Date(),
      requestId: "cli",
      actorKeyId: null,
      action: "keys.revoke",
      target: values.id,
      outcome: "allowed",
      details: { via: "cli" },
    });
    err.write(`revoked ${values.id}\n`);
    return 0;
  } finally {
    await store.close();
  }
}
