import { describe, expect, it } from "vitest";
import { NonRetryableError } from "../../src/tasks/handler";
import { csvColumn, parseCsv } from "../../src/tasks/handlers/csv";

describe("parseCsv", () => {
  it("reads a header and rows, ignoring a trailing line break", () => {
    expect(parseCsv("a,b\n1,2\n3,4\n")).toEqual([
      ["a", "b"],
      ["1", "2"],
      ["3", "4"],
    ]);
  });

  it("handles CRLF, lone CR and blank lines", () => {
    expect(parseCsv("a,b\r\n1,2\r\n\r\n3,4\r5,6")).toEqual([
      ["a", "b"],
      ["1", "2"],
      ["3", "4"],
      ["5", "6"],
    ]);
  });

  it("keeps commas, line breaks and doubled quotes inside quoted fields", () => {
    const text = 'name,note,v\r\n"Smith, J","said ""hi""\r\nthen left",3\n"",x,4';
    expect(parseCsv(text)).toEqual([
      ["name", "note", "v"],
      ["Smith, J", 'said "hi"\r\nthen left', "3"],
      ["", "x", "4"],
    ]);
  });

  it("keeps empty fields and drops a byte-order mark", () => {
    expect(parseCsv("\uFEFFa,b,c\n,,\n1,,3")).toEqual([
      ["a", "b", "c"],
      ["", "", ""],
      ["1", "", "3"],
    ]);
  });

  it("refuses an unterminated quote or text after a closing quote", () => {
    expect(() => parseCsv('a\n"open')).toThrow(NonRetryableError);
    expect(() => parseCsv('a\n"x"y,1')).toThrow(/after a closing quote/);
  });
});

describe("csvColumn", () => {
  it("returns the named column's cells, matching trimmed header names", () => {
    const { cells, columns } = csvColumn("id, price \n1,10\n2\n3,30", "price");
    expect(columns).toEqual(["id", "price"]);
    expect(cells).toEqual(["10", undefined, "30"]);
  });

  it("refuses a missing column, naming the field and the columns", () => {
    expect(() => csvColumn("a,b\n1,2", "c")).toThrow(NonRetryableError);
    expect(() => csvColumn("a,b\n1,2", "c")).toThrow('metadata.field: "c" is not a column of the CSV header (columns: a, b)');
  });

  it("refuses empty text", () => {
    expect(() => csvColumn("", "a")).toThrow(/no header row/);
  });
});
