/** Which requests for `/` get the dashboard page rather than the JSON index (src/dashboard/negotiate.ts). */
import { describe, expect, it } from "vitest";
import { prefersHtml } from "../../src/dashboard/negotiate";

describe("prefersHtml", () => {
  it.each([
    ["text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", true],
    ["text/html", true],
    ["TEXT/HTML; charset=utf-8", true],
    ["application/json;q=0.5, text/html", true],
    ["text/html, application/json", true],
  ])("%s → the page", (accept, html) => expect(prefersHtml(accept)).toBe(html));

  it.each([
    [undefined],
    [""],
    ["*/*"],
    ["text/*"],
    ["application/json"],
    ["application/json, text/html;q=0.9"],
    ["text/html;q=0"],
    ["text/html;q=0.5, */*"],
    ["text/html;q=abc"],
  ])("%s → the JSON index", (accept) => expect(prefersHtml(accept)).toBe(false));
});
