/**
 * The Prometheus text exposition format (version 0.0.4), written: `# HELP` and `# TYPE` lines,
 * then samples, label values and help text escaped as the format requires. Only what mprpc
 * exports: counters, gauges and histograms, no timestamps.
 *
 * @module
 */

/** The `Content-Type` of the text format. */
export const EXPOSITION_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

/** A metric family's type, as its `# TYPE` line says. */
export type MetricType = "counter" | "gauge" | "histogram";

/** A sample's labels, in the order written. Values are any text: they are escaped. */
export type Labels = Readonly<Record<string, string>>;

// Help text escapes backslash and newline; label values also escape the double quote.
function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function escapeLabel(value: string): string {
  return escapeHelp(value).replaceAll('"', '\\"');
}

/** A sample value as the format spells it: `+Inf`, `-Inf`, `NaN`, or the number. */
export function formatValue(value: number): string {
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/**
 * Builds one exposition: each family's `# HELP` and `# TYPE` once, then its samples.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { Exposition } from "./exposition.ts";
 * const out = new Exposition();
 * out.family("jobs_total", "counter", "Jobs done.");
 * out.sample("jobs_total", 3, { queue: 'say "hi"\n' });
 * assert.equal(
 *   out.text(),
 *   '# HELP jobs_total Jobs done.\n# TYPE jobs_total counter\njobs_total{queue="say \\"hi\\"\\n"} 3\n',
 * );
 * ```
 */
export class Exposition {
  #text = "";

  /** Starts the family `name`: its help text and type. */
  family(name: string, type: MetricType, help: string): void {
    this.#text += `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
  }

  /** One sample of the current family: `name` (with a suffix, for a histogram), labels, value. */
  sample(name: string, value: number, labels?: Labels): void {
    let line = name;
    if (labels) {
      const pairs = Object.entries(labels).map(([key, text]) => `${key}="${escapeLabel(text)}"`);
      if (pairs.length > 0) line += `{${pairs.join(",")}}`;
    }
    this.#text += `${line} ${formatValue(value)}\n`;
  }

  /** A family of one unlabelled sample. */
  single(name: string, type: MetricType, help: string, value: number): void {
    this.family(name, type, help);
    this.sample(name, value);
  }

  /** The exposition so far. */
  text(): string {
    return this.#text;
  }
}
