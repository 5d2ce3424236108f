/** Exponentially weighted moving average; `value` is undefined until the first sample. */
export class Ewma {
  value: number | undefined;
  readonly #alpha: number;

  constructor(alpha = 0.3) {
    this.#alpha = alpha;
  }

  update(sample: number): void {
    this.value = this.value === undefined ? sample : this.value + this.#alpha * (sample - this.value);
  }
}
