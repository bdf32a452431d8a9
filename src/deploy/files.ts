/** A generated file, and the YAML writer every YAML file goes through (a real serializer, never text pasted together). */
import { Document } from "yaml";

export interface GeneratedFile {
  /** Relative to the output folder, `/`-separated. */
  path: string;
  content: string;
}

/** `value` as YAML, with `comment` (why, not what) as the file's leading comment. */
export function yamlFile(path: string, value: unknown, comment?: string): GeneratedFile {
  const doc = new Document(value);
  if (comment) doc.commentBefore = comment.replace(/^/gm, " ");
  return { path, content: doc.toString({ lineWidth: 0 }) };
}
