import { inspect } from "node:util";

const REDACTED = "[redacted]";

/**
 * A secret value (provider API key, ...). It prints, serialises and inspects
 * as "[redacted]" so it cannot reach a log line, an error or the admin API by
 * accident; only `reveal()` gives the value, at the point of use.
 */
export class Secret {
  readonly #value: string;
  /** Name of the environment variable it came from, safe to show. */
  readonly source: string;

  constructor(value: string, source: string) {
    this.#value = value;
    this.source = source;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
