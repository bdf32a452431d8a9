/**
 * Turns zod failures and unreadable bodies into problems: malformed JSON is 400, a body of the
 * wrong media type 415, well-formed input that breaks the schema 422 with every failing field.
 */
import type { z } from "zod";
import { parseClientJson } from "../lib/json-text";
import { AppError, type FieldError } from "../lib/problem";

export function fieldErrors(error: z.ZodError, prefix?: string): FieldError[] {
  const at = (path: PropertyKey[]) => [prefix, ...path.map(String)].filter(Boolean).join(".") || "(root)";
  return error.issues.flatMap((issue) =>
    // An unknown key is reported at the key itself, so a client can see which field to drop.
    issue.code === "unrecognized_keys"
      ? issue.keys.map((key) => ({ path: at([...issue.path, key]), message: "unknown field" }))
      : [{ path: at(issue.path), message: issue.message }],
  );
}

export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = fieldErrors(result.error, where === "body" ? undefined : where);
  const first = errors[0];
  throw new AppError("validation_failed", `Invalid ${where}: ${first?.path}: ${first?.message}`, { errors });
}

/**
 * Reads a JSON body. An absent content type is read as JSON (many scripts omit it); any other
 * declared type is 415, so a form post never reaches a handler as a half-parsed object. Depth and
 * duplicate member names are checked here, once, for every route (src/lib/json-text.ts).
 */
export async function readJsonBody(req: Request, required: boolean): Promise<unknown> {
  // Read bytes, not text: decoding is ours, so a non-JSON body is refused without being decoded.
  const bytes = await req.arrayBuffer();
  let text: string;
  try {
    // Fatal: bytes that are not UTF-8 are refused, not replaced by U+FFFD and stored changed.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw new AppError("malformed_request", "The body is not valid UTF-8.");
  }
  if (text.trim() === "") {
    if (required) throw new AppError("malformed_request", "A JSON request body is required.");
    return undefined;
  }
  const type = req.headers.get("content-type");
  if (type && !/^application\/([\w.+-]+\+)?json\b/i.test(type)) {
    throw new AppError("unsupported_media_type", `Expected application/json, got ${type.split(";")[0]}.`);
  }
  return parseClientJson(text);
}
