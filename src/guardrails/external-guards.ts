import type { GuardrailConfig } from "../config/policy-schema.ts";
import { createExternalGuard, type ExternalGuard } from "./external-guard.ts";

type External = NonNullable<GuardrailConfig["external"]>;

/**
 * One client per external guardrail service (url, deadline and allowed reasons), kept across config
 * reloads so a reload does not open new connections; all closed at shutdown.
 */
export class ExternalGuards {
  readonly #clients = new Map<string, ExternalGuard>();

  readonly get = (external: External): ExternalGuard => {
    const key = JSON.stringify([external.url, external.timeoutMs, external.reasons ?? null]);
    let client = this.#clients.get(key);
    if (!client) {
      client = createExternalGuard({
        url: external.url,
        timeoutMs: external.timeoutMs,
        ...(external.reasons ? { reasons: external.reasons } : {}),
      });
      this.#clients.set(key, client);
    }
    return client;
  };

  close(): void {
    for (const client of this.#clients.values()) client.close();
    this.#clients.clear();
  }
}
