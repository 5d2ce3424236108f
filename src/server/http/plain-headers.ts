/**
 * A Headers look-alike on a Map, for the hot paths. The WHATWG Headers class
 * validates every name and value on every call (about 5 % of a call's CPU
 * here, with ~20 header operations per call). Here names are lower-cased and
 * values kept as given: they come from Node's parser or from our own code,
 * and Node checks them again when it writes them. Iteration is in sorted
 * name order, as Headers does; values appended under one name are joined
 * with ", ".
 */
export class PlainHeaders implements Headers {
  readonly #map = new Map<string, string>();

  append(name: string, value: string): void {
    const key = name.toLowerCase();
    const old = this.#map.get(key);
    this.#map.set(key, old === undefined ? value : `${old}, ${value}`);
  }

  delete(name: string): void {
    this.#map.delete(name.toLowerCase());
  }

  get(name: string): string | null {
    return this.#map.get(name.toLowerCase()) ?? null;
  }

  getSetCookie(): string[] {
    const value = this.#map.get("set-cookie");
    return value === undefined ? [] : [value];
  }

  has(name: string): boolean {
    return this.#map.has(name.toLowerCase());
  }

  set(name: string, value: string): void {
    this.#map.set(name.toLowerCase(), value);
  }

  forEach(callback: (value: string, key: string, parent: Headers) => void, thisArg?: unknown): void {
    // No generator here: this is the hot iteration (writing headers and trailers out).
    for (const key of this.#sortedKeys()) callback.call(thisArg, this.#map.get(key) as string, key, this);
  }

  *entries(): Generator<[string, string], undefined, unknown> {
    for (const key of this.#sortedKeys()) yield [key, this.#map.get(key) as string];
  }

  #sortedKeys(): string[] {
    const keys = [...this.#map.keys()];
    if (keys.length > 1) keys.sort();
    return keys;
  }

  *keys(): Generator<string, undefined, unknown> {
    for (const [key] of this.entries()) yield key;
  }

  *values(): Generator<string, undefined, unknown> {
    for (const [, value] of this.entries()) yield value;
  }

  [Symbol.iterator](): Generator<[string, string], undefined, unknown> {
    return this.entries();
  }
}
