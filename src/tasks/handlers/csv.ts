/**
 * A small RFC 4180 CSV reader for data_analysis.
 *
 * - The first record is the header; column names are matched after trimming surrounding spaces.
 * - Fields are comma-separated; a field in double quotes may hold commas, line breaks and doubled
 *   quotes (`""` → `"`). Records end at LF, CRLF or a lone CR; a trailing line break adds nothing.
 * - Blank lines are skipped; a record shorter than the header simply lacks the later cells.
 * - A leading byte-order mark is dropped (spreadsheet exports often start with one).
 * - An unterminated quote, or text after a closing quote, is malformed input: NonRetryableError.
 *
 * The whole text is parsed in one pass: metadata is at most 1 MiB, which parses in milliseconds;
 * the chunked, cancellable work is the per-value processing that follows.
 */
import { NonRetryableError } from "../handler";

/** Every record of `text`, each an array of its fields. */
export function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = "";
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const n = text.length;

  const endRecord = () => {
    record.push(field);
    field = "";
    // A blank line is one empty field: skip it rather than count it as a row of missing values.
    if (!(record.length === 1 && record[0] === "")) records.push(record);
    record = [];
  };

  while (i < n) {
    const ch = text[i];
    if (ch === '"' && field === "") {
      // A quoted field: read up to the closing quote, unescaping doubled quotes.
      const start = i;
      i += 1;
      for (;;) {
        const close = text.indexOf('"', i);
        if (close === -1) throw new NonRetryableError(`Malformed CSV: unterminated quote starting at character ${start}`);
        field += text.slice(i, close);
        if (text[close + 1] === '"') {
          field += '"';
          i = close + 2;
        } else {
          i = close + 1;
          break;
        }
      }
      const next = text[i];
      if (i < n && next !== "," && next !== "\n" && next !== "\r") {
        throw new NonRetryableError(`Malformed CSV: unexpected text after a closing quote at character ${i}`);
      }
    } else if (ch === ",") {
      record.push(field);
      field = "";
      i += 1;
    } else if (ch === "\n" || ch === "\r") {
      endRecord();
      i += ch === "\r" && text[i + 1] === "\n" ? 2 : 1;
    } else {
      // Plain text up to the next delimiter, in one slice rather than a character at a time.
      let end = i;
      while (end < n && text[end] !== "," && text[end] !== "\n" && text[end] !== "\r") end += 1;
      field += text.slice(i, end);
      i = end;
    }
  }
  if (field !== "" || record.length > 0) endRecord();
  return records;
}

/**
 * The cells of column `field` in every data row (header excluded); a row too short to have the
 * column gives undefined. No header, or no such column, is a NonRetryableError.
 */
export function csvColumn(text: string, field: string): { cells: (string | undefined)[]; columns: string[] } {
  const [header, ...rows] = parseCsv(text);
  if (header === undefined) throw new NonRetryableError("metadata.data: the CSV text is empty (no header row)");
  const columns = header.map((name) => name.trim());
  const index = columns.indexOf(field.trim());
  if (index === -1) {
    throw new NonRetryableError(`metadata.field: "${field}" is not a column of the CSV header (columns: ${columns.join(", ")})`);
  }
  return { cells: rows.map((row) => row[index]), columns };
}
