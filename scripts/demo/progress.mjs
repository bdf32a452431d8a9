// The terminal progress bar of the demo's task step: redrawn in place on a terminal, one plain
// line per change when the output is a file or a pipe (a log, CI, the tests).
// Plain JavaScript with JSDoc types: node scripts import it as it is and TypeScript checks it.

const WIDTH = 30;

/**
 * @param {number} percent 0–100
 * @returns {string} e.g. "[#########.....................]  30%"
 */
export function bar(percent) {
  const p = Math.max(0, Math.min(100, Math.round(percent)));
  const filled = Math.round((p / 100) * WIDTH);
  return `[${"#".repeat(filled)}${".".repeat(WIDTH - filled)}] ${String(p).padStart(3)}%`;
}

/**
 * @param {NodeJS.WriteStream} out
 * @returns {{ update: (percent: number, message: string) => void, done: () => void }}
 */
export function progressBar(out) {
  const live = out.isTTY === true;
  let last = "";
  return {
    update(percent, message) {
      const line = `    ${bar(percent)} ${message}`;
      if (line === last) return;
      last = line;
      if (live) out.write(`\r\x1b[2K${line.slice(0, (out.columns || 100) - 1)}`);
      else out.write(`${line}\n`);
    },
    done() {
      if (live && last !== "") out.write("\n");
    },
  };
}
