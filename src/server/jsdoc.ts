/**
 * Documentation of a module's exports, read from the JSDoc comments in its source, for
 * `system.methodHelp`.
 *
 * @module
 */

const DOC_BEFORE_EXPORT =
  /\/\*\*((?:[^*]|\*(?!\/))*)\*\/\s*export\s+(?:default\s+)?(?:async\s+)?(?:function\s*\*?\s*|(?:const|let|var)\s+)([A-Za-z_$][\w$]*)/g;

// The comment's text without its `*` margins, up to the first block tag (`@param`, `@example`…).
function clean(comment: string): string {
  const lines = comment.split("\n").map((line) => line.replace(/^\s*\*?\s?/, "").trimEnd());
  const untilTags = lines.findIndex((line) => line.startsWith("@"));
  return lines.slice(0, untilTags === -1 ? undefined : untilTags).join("\n").trim();
}

/**
 * The JSDoc text of each documented export in `source`, by export name.
 *
 * @example
 * ```ts
 * import { exportDocs } from "./jsdoc.ts";
 * const docs = exportDocs("/** Adds two numbers. *\/\nexport function add(a, b) { return a + b; }");
 * console.log(docs.get("add")); // "Adds two numbers."
 * ```
 */
export function exportDocs(source: string): Map<string, string> {
  const docs = new Map<string, string>();
  for (const [, comment, name] of source.matchAll(DOC_BEFORE_EXPORT)) {
    docs.set(name, clean(comment));
  }
  return docs;
}
