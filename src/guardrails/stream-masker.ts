import { type Detector, type Finding, maskText } from "./detectors.ts";

export type MaskerOutput = { text: string; findings: Finding[] };

/**
 * Masks (or blocks on) findings in streamed text with a bounded look-behind window, so that the
 * concatenated output equals `maskText(whole, detector.find(whole))` and no raw matched text is ever
 * released, however the stream is chunked.
 *
 * Why it is exact: a finding starting before `detector.settledBefore(buffer)` cannot change with later
 * text (its rule reads at most `maxLength` chars from its start, look-ahead included), so text is
 * released up to that point, or up to the start of a finding that straddles it (which may still grow).
 *
 * TTFT cost: at most `detector.maxMatchLength` chars are held back (more only while a merged run of
 * overlapping findings straddles the cut), usually far fewer. With all built-in kinds and no secret
 * prefix in the tail: 65 chars (an IBAN's bound; an e-mail holds 64 without an "@" in sight, 129
 * after one). Anchored secret rules hold back only from where their prefix ("sk-", "eyJ",
 * "-----BEGIN ", …) appears, up to their own bound: 212 for an OpenAI key, 1927 for a JWT, 4209 for
 * a PEM private key (= maxMatchLength with `secret`). Deny rules hold back their `maxLength` + 1
 * (default 257), topics twice their longest keyword + 2. At ~4 chars a token, 65 chars ≈ 16 tokens.
 *
 * `block`: once a finding is final, push returns the text before it and the findings, and the masker
 * releases nothing more (later calls return empty output); the caller ends the stream.
 */
export class StreamMasker {
  readonly #detector: Detector;
  readonly #mode: "mask" | "block";
  /** Unreleased text plus up to `maxMatchLength` released chars kept as look-behind context. */
  #buf = "";
  /** Stream offset of `#buf[0]`. */
  #bufStart = 0;
  /** Stream offset of the first unreleased char. */
  #released = 0;
  #stopped = false;

  constructor(detector: Detector, mode: "mask" | "block") {
    this.#detector = detector;
    this.#mode = mode;
  }

  push(chunk: string): MaskerOutput {
    if (this.#stopped) return { text: "", findings: [] };
    this.#buf += chunk;
    return this.#release(false);
  }

  /** End of stream: everything left is final. */
  flush(): MaskerOutput {
    if (this.#stopped) return { text: "", findings: [] };
    const out = this.#release(true);
    this.#stopped = true;
    return out;
  }

  #release(end: boolean): MaskerOutput {
    const buf = this.#buf;
    const from = this.#released - this.#bufStart;
    let settled = end ? buf.length : this.#detector.settledBefore(buf, from);
    // Never split a surrogate pair across outputs (a lone half would not survive UTF-8 encoding).
    if (!end && settled > from && isHighSurrogate(buf.charCodeAt(settled - 1))) settled--;
    const found = this.#detector.find(buf, from);
    let cut = settled;
    const final: Finding[] = [];
    for (const f of found) {
      if (f.start >= settled) break;
      if (f.end > settled) {
        cut = f.start; // may still grow: hold it whole
        if (this.#mode === "block") final.push(f); // its start and rule are final already
        break;
      }
      final.push(f);
    }
    const abs = (f: Finding): Finding => ({
      rule: f.rule,
      start: f.start + this.#bufStart,
      end: f.end + this.#bufStart,
    });
    if (this.#mode === "block" && final.length > 0) {
      this.#stopped = true;
      const text = buf.slice(from, final[0]!.start);
      this.#buf = "";
      return { text, findings: final.map(abs) };
    }
    const local = final.map((f) => ({ rule: f.rule, start: f.start - from, end: f.end - from }));
    const text = maskText(buf.slice(from, cut), local);
    this.#released = this.#bufStart + cut;
    // Keep `maxMatchLength` released chars as look-behind context (the longest look-behind is 2).
    const keepFrom = Math.max(0, cut - this.#detector.maxMatchLength);
    this.#buf = buf.slice(keepFrom);
    this.#bufStart += keepFrom;
    return { text, findings: final.map(abs) };
  }
}

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;
