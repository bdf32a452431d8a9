/** The live transcript: lines from the socket, and the ones spoken before this page joined. */
import { byId, el } from "./dom";
import { event, nameOf, state } from "./call-state";
import { getWithToken } from "./api";
import type { TranscriptAnswer, TranscriptLine } from "./protocol";

const seenLines = new Set<string>();

function transcriptItem(l: TranscriptLine): HTMLLIElement {
  const li = el("li");
  li.append(el("span", "who", `${nameOf(l.participant_id)}:`), el("span", "text", l.text));
  return li;
}

/** Lines arrive in order (append one item); only an earlier line (loaded after live ones) redraws. */
export function addLine(line: TranscriptLine): void {
  const key = `${line.at}|${line.participant_id}|${line.source}|${line.text}`;
  if (seenLines.has(key)) return;
  seenLines.add(key);
  const last = state.transcript[state.transcript.length - 1];
  state.transcript.push(line);
  const list = byId("transcript", HTMLElement);
  if (!last || last.at <= line.at) return list.append(transcriptItem(line));
  state.transcript.sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0));
  list.replaceChildren(...state.transcript.map(transcriptItem));
}

/** DELETE …/transcript erased it: forget what this page shows too. */
export function clearTranscript(): void {
  state.transcript = [];
  seenLines.clear();
  byId("transcript", HTMLElement).replaceChildren();
}

/** The lines from before we joined (or while we were reconnecting); without them the page still works. */
export async function loadTranscript(): Promise<void> {
  try {
    const res = await getWithToken("transcript");
    if (!res.ok) return event("transcript_unavailable", res.status);
    const body = (await res.json()) as TranscriptAnswer;
    body.transcript.forEach((line) => addLine(line));
    event("transcript_loaded", body.transcript.length);
  } catch (err) {
    event("transcript_unavailable", String(err));
  }
}
