/**
 * A strict reader of the Prometheus text format (0.0.4), for tests: it refuses what a scraper
 * would, and what mprpc should never write (a sample before its `# TYPE`, a family split in two,
 * a bad name, label or value), and gives the samples back by family.
 */
import assert from "node:assert/strict";

/** One sample line. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A family: its `# TYPE`, `# HELP`, and samples in order. */
export interface Family {
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(["counter", "gauge", "histogram", "summary", "untyped"]);
const ESCAPES: Record<string, string> = { "\\": "\\", '"': '"', n: "\n" };

function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  assert.match(text, /^-?\d+(\.\d+)?(e[+-]?\d+)?$/i, `a sample value: ${text}`);
  return Number(text);
}

// `{a="x",b="y"}` from `at` (the "{") in `line`: the labels and where the text after "}" starts.
function parseLabels(line: string, at: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = at + 1;
  while (line[i] !== "}") {
    const eq = line.indexOf("=", i);
    assert.ok(eq > i, `a label in: ${line}`);
    const name = line.slice(i, eq);
    assert.match(name, LABEL_NAME, `a label name in: ${line}`);
    assert.equal(line[eq + 1], '"', `a quoted label value in: ${line}`);
    let value = "";
    for (i = eq + 2; line[i] !== '"'; i++) {
      assert.ok(i < line.length, `an unterminated label value in: ${line}`);
      if (line[i] === "\\") {
        const escaped = ESCAPES[line[++i]];
        assert.ok(escaped !== undefined, `a bad escape in: ${line}`);
        value += escaped;
      } else {
        value += line[i];
      }
    }
    assert.ok(!(name in labels), `label ${name} twice in: ${line}`);
    labels[name] = value;
    i++;
    if (line[i] === ",") i++;
    else assert.equal(line[i], "}", `"," or "}" after a label in: ${line}`);
  }
  return [labels, i + 1];
}

// The family a sample name belongs to: itself, or a histogram's name without its suffix.
function familyOf(name: string, families: Map<string, Family>): string {
  if (families.has(name)) return name;
  const base = name.replace(/_(bucket|sum|count)$/, "");
  assert.equal(families.get(base)?.type, "histogram", `a sample without a # TYPE: ${name}`);
  return base;
}

/** Parses `text`, failing the test on anything the format does not allow. */
export function parseExposition(text: string): Map<string, Family> {
  assert.ok(text === "" || text.endsWith("\n"), "the text ends with a newline");
  const families = new Map<string, Family>();
  const done = new Set<string>();
  let current: string | undefined;
  const enter = (name: string) => {
    if (current === name) return;
    assert.ok(!done.has(name), `family ${name} is split in two`);
    if (current) done.add(current);
    current = name;
  };
  for (const line of text.split("\n").slice(0, -1)) {
    const comment = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
    if (comment) {
      const [, kind, name, rest] = comment;
      assert.match(name, NAME, `a metric name: ${name}`);
      enter(name);
      const family = families.get(name) ?? { type: "", help: "", samples: [] };
      families.set(name, family);
      assert.equal(family.samples.length, 0, `# ${kind} after samples of ${name}`);
      if (kind === "TYPE") {
        assert.ok(TYPES.has(rest), `a type: ${rest}`);
        family.type = rest;
      } else {
        family.help = rest.replaceAll("\\n", "\n").replaceAll("\\\\", "\\");
      }
      continue;
    }
    assert.ok(!line.startsWith("#") && line !== "", `a stray line: ${JSON.stringify(line)}`);
    const nameEnd = line.search(/[{ ]/);
    const name = line.slice(0, nameEnd);
    assert.match(name, NAME, `a sample name: ${line}`);
    const [labels, after] = line[nameEnd] === "{" ? parseLabels(line, nameEnd) : [{}, nameEnd];
    assert.equal(line[after], " ", `a space before the value: ${line}`);
    const family = familyOf(name, families);
    enter(family);
    families.get(family)!.samples.push({ name, labels, value: parseValue(line.slice(after + 1)) });
  }
  for (const [name, family] of families) assert.ok(family.type, `family ${name} has no # TYPE`);
  return families;
}

/** The samples of `family` named `name` whose labels include `labels`. */
export function samples(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
  family = name,
): Sample[] {
  return (families.get(family)?.samples ?? []).filter((sample) =>
    sample.name === name &&
    Object.entries(labels).every(([key, value]) => sample.labels[key] === value)
  );
}

/** The value of the one sample `name` with exactly `labels`; fails if there is none. */
export function valueOf(
  families: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number {
  const family = familyOf(name, families);
  const found = samples(families, name, labels, family).filter((sample) =>
    Object.keys(sample.labels).length === Object.keys(labels).length
  );
  assert.equal(found.length, 1, `one sample ${name} ${JSON.stringify(labels)}`);
  return found[0].value;
}

/**
 * Checks every histogram of `families`: per series, `le` ascending up to `+Inf`, counts that never
 * fall, the `+Inf` bucket equal to `_count`.
 */
export function checkHistograms(families: Map<string, Family>): void {
  for (const [name, family] of families) {
    if (family.type !== "histogram") continue;
    const series = new Map<string, Sample[]>();
    for (const sample of family.samples) {
      if (sample.name !== `${name}_bucket`) continue;
      const { le, ...rest } = sample.labels;
      assert.ok(le !== undefined, `${name}_bucket without le`);
      const key = JSON.stringify(rest);
      series.set(key, [...series.get(key) ?? [], sample]);
    }
    for (const [key, buckets] of series) {
      const bounds = buckets.map((bucket) => parseValue(bucket.labels.le));
      assert.equal(bounds.at(-1), Infinity, `${name} ${key} ends with le="+Inf"`);
      for (let i = 1; i < buckets.length; i++) {
        assert.ok(bounds[i] > bounds[i - 1], `${name} ${key}: le ascending`);
        assert.ok(buckets[i].value >= buckets[i - 1].value, `${name} ${key}: counts never fall`);
      }
      const labels = JSON.parse(key);
      assert.equal(valueOf(families, `${name}_count`, labels), buckets.at(-1)!.value);
      valueOf(families, `${name}_sum`, labels);
    }
  }
}
