/**
 * Cuts a streamed answer into sentences so each can be spoken as soon as it is complete: the
 * first sentence goes to text-to-speech while the model is still writing the rest.
 *
 * A sentence ends at `.`, `!`, `?` or `…` (with any closing quotes or brackets) followed by
 * whitespace, or at a line break. Common abbreviations ("Dr.", "e.g.") and decimals ("3.5") do not
 * end one. A run longer than {@link MAX_SENTENCE_CHARS} is cut at its last comma or space, so a
 * model that never stops a sentence still gets spoken in bounded pieces.
 */
export const MAX_SENTENCE_CHARS = 240;

const ABBREVIATIONS = new Set(["mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "vs", "etc", "e.g", "i.e", "no", "approx"]);
const END = /([.!?…]+["'”’)\]]*)(\s+)|\n+/g;

export class SentenceCutter {
  #buffer = "";

  /** Adds streamed text; returns the sentences it completed, trimmed, in order. */
  push(text: string): string[] {
    this.#buffer += text;
    const out: string[] = [];
    let start = 0;
    END.lastIndex = 0;
    for (let m = END.exec(this.#buffer); m; m = END.exec(this.#buffer)) {
      const end = m.index + (m[1]?.length ?? 0);
      const candidate = this.#buffer.slice(start, end);
      if (m[1] && isAbbreviation(candidate)) continue;
      if (candidate.trim()) out.push(candidate.trim());
      start = m.index + m[0].length;
    }
    this.#buffer = this.#buffer.slice(start);
    while (this.#buffer.length > MAX_SENTENCE_CHARS) {
      const head = this.#buffer.slice(0, MAX_SENTENCE_CHARS);
      const cut = Math.max(head.lastIndexOf(", ") + 1, head.lastIndexOf(" "));
      const at = cut > MAX_SENTENCE_CHARS / 2 ? cut : MAX_SENTENCE_CHARS;
      const piece = this.#buffer.slice(0, at).trim();
      if (piece) out.push(piece);
      this.#buffer = this.#buffer.slice(at);
    }
    return out;
  }

  /** The unfinished rest (the answer ended without a final stop), or null. */
  flush(): string | null {
    const rest = this.#buffer.trim();
    this.#buffer = "";
    return rest || null;
  }
}

function isAbbreviation(sentence: string): boolean {
  const word = /(\S+)\.$/.exec(sentence.trimEnd())?.[1]?.toLowerCase();
  if (!word) return false;
  return ABBREVIATIONS.has(word.replace(/^[("'“‘]+/, "")) || /^[a-z]$/i.test(word);
}
