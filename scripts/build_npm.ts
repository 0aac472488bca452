/**
 * Builds the npm package into `npm/`: ES modules and `.d.ts` for Node 20+, compiled with the
 * TypeScript compiler API. A transformer rewrites every module specifier properly (no text
 * substitution): `./x.ts` → `./x.js`, `npm:name@range/sub` → `name/sub`, and the Deno platform
 * module → the Node one. Unmappable specifiers and type errors fail the build.
 *
 *   deno task build:npm          the package
 *   deno task build:npm --dev    and, beside it, the tests and load tools (for Node runs)
 *
 * @module
 */
// deno-lint-ignore-file no-import-prefix -- a build tool, not part of the library
import ts from "npm:typescript@5.9.3";

const ROOT = new URL("..", import.meta.url);
const OUT = new URL("npm/", ROOT);
const path = (url: URL) => decodeURIComponent(url.pathname);
/**
 * Modules the package is built from: the API, the worker entries loaded by URL, and the command
 * line (the package's `mprpc` command).
 */
const ENTRIES = ["mod.ts", "src/pool/worker_main.ts", "src/client/sync_worker.ts", "cli.ts"];
/** The command line, as compiled: the `bin` of the package. */
const BIN = "esm/cli.js";
/** With --dev: the suite and the load tools, compiled beside the package (never packed). */
const TESTS = "tests/";
const BENCH = [
  "bench/halves.ts",
  "bench/lean_client.ts",
  "bench/rpc_client.ts",
  "bench/pool.ts",
  "bench/sync.ts",
];
const BENCH_SERVERS = "bench/servers/";
/** Deno-only: they run the examples, Deno scripts, which the package does not ship. */
const DENO_ONLY_TESTS = ["e2e/example_test.ts", "e2e/typed_example_test.ts"];
/** Files the compiled tests read at run time. */
const TEST_ASSETS = ["tests/interop/python/peer.py", "tests/fixtures/", "examples/haproxy.cfg"];
/** A `name.deno.ts` module has a `name.node.ts` twin (the platform seams), which Node gets. */
const DENO_SUFFIX = ".deno.ts";
const NODE_SUFFIX = ".node.ts";

/** `specifier` with a Deno implementation module swapped for its Node twin. */
function nodeTwin(specifier: string): string {
  return specifier.endsWith(DENO_SUFFIX)
    ? specifier.slice(0, -DENO_SUFFIX.length) + NODE_SUFFIX
    : specifier;
}

interface NpmSpecifier {
  name: string;
  range: string;
  subpath: string;
}

function parseNpm(specifier: string): NpmSpecifier {
  const match = /^npm:(@[^/@]+\/[^/@]+|[^/@]+)@([^/]+)(\/.*)?$/.exec(specifier);
  if (!match) throw new Error(`cannot map '${specifier}': npm: specifiers need a version range`);
  return { name: match[1], range: match[2], subpath: match[3] ?? "" };
}

/** Package names the build depends on (bare names are valid in emitted declarations). */
const dependencyNames = new Set<string>();

/** The Node specifier for a Deno one, or an error naming the file. */
function mapSpecifier(specifier: string, file: string): string {
  const bare = /^(@[^/]+\/[^/]+|[^./][^/]*)/.exec(specifier)?.[1];
  if (bare && dependencyNames.has(bare)) return specifier;
  if (specifier.startsWith("npm:")) {
    const { name, subpath } = parseNpm(specifier);
    return name + subpath;
  }
  if (specifier.startsWith("node:")) return specifier;
  if ((specifier.startsWith("./") || specifier.startsWith("../")) && specifier.endsWith(".ts")) {
    return nodeTwin(specifier).slice(0, -".ts".length) + ".js";
  }
  throw new Error(`${file}: cannot map module specifier '${specifier}' for Node`);
}

/** Every source file `entries` reach, and the npm packages they import. */
function walk(entries: string[]): { files: string[]; dependencies: Map<string, string> } {
  const files = new Set<string>();
  const dependencies = new Map<string, string>();
  const queue = entries.map((entry) => path(new URL(entry, ROOT)));
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    const { importedFiles } = ts.preProcessFile(Deno.readTextFileSync(file), true, true);
    for (const { fileName } of importedFiles) {
      mapSpecifier(fileName, file);
      if (fileName.startsWith("npm:")) {
        const { name, range } = parseNpm(fileName);
        const known = dependencies.get(name);
        if (known && known !== range) {
          throw new Error(`${name} is imported as ${known} and ${range}`);
        }
        dependencies.set(name, range);
        dependencyNames.add(name);
      } else if (fileName.startsWith(".")) {
        queue.push(path(new URL(nodeTwin(fileName), `file://${file}`)));
      }
    }
  }
  return { files: [...files], dependencies };
}

function writePackageJson(dependencies: Map<string, string>): void {
  const deno = JSON.parse(Deno.readTextFileSync(new URL("deno.json", ROOT)));
  const pkg = {
    name: "mprpc",
    version: deno.version,
    description: "MPRPC, the MessagePack RPC protocol of pymprpc: server, async and sync clients",
    license: "MIT",
    type: "module",
    main: "./esm/mod.js",
    types: "./esm/mod.d.ts",
    exports: { ".": { types: "./esm/mod.d.ts", import: "./esm/mod.js" } },
    bin: { mprpc: `./${BIN}` },
    files: ["esm", "!esm/tests", "!esm/bench", "README.md", "LICENSE"],
    engines: { node: ">=20.6" },
    dependencies: Object.fromEntries([...dependencies].sort()),
  };
  Deno.writeTextFileSync(new URL("package.json", OUT), JSON.stringify(pkg, null, 2) + "\n");
}

function npmInstall(testDependencies: string[]): void {
  const run = (args: string[]) => {
    const { code } = new Deno.Command("npm", {
      args,
      cwd: path(OUT),
      stdout: "inherit",
      stderr: "inherit",
    })
      .outputSync();
    if (code !== 0) throw new Error(`npm ${args.join(" ")} failed`);
  };
  run(["install", "--no-audit", "--no-fund", "--ignore-scripts"]);
  // For checking and testing only; not dependencies of the package.
  const extra = ["@types/node@^20.19.0", ...testDependencies];
  run(["install", "--no-save", "--no-audit", "--no-fund", "--ignore-scripts", ...extra]);
}

/** Rewrites module specifiers in JS and declaration output. */
function rewriteSpecifiers(program: ts.Program): ts.TransformerFactory<ts.SourceFile | ts.Bundle> {
  const known = new Set(program.getSourceFiles().map((file) => file.fileName));
  return (context) => (root) => {
    const { factory } = context;
    const file = ts.isSourceFile(root) ? root.fileName : "bundle";
    const literal = (node: ts.StringLiteral) =>
      factory.createStringLiteral(mapSpecifier(node.text, file));
    const visit = (node: ts.Node): ts.Node => {
      if (
        (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier &&
        ts.isStringLiteral(node.moduleSpecifier)
      ) {
        return ts.isImportDeclaration(node)
          ? factory.updateImportDeclaration(
            node,
            node.modifiers,
            node.importClause,
            literal(node.moduleSpecifier),
            node.attributes,
          )
          : factory.updateExportDeclaration(
            node,
            node.modifiers,
            node.isTypeOnly,
            node.exportClause,
            literal(node.moduleSpecifier),
            node.attributes,
          );
      }
      if (
        ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword &&
        node.arguments.length > 0 && ts.isStringLiteral(node.arguments[0])
      ) {
        const [first, ...rest] = node.arguments;
        return factory.updateCallExpression(node, node.expression, node.typeArguments, [
          literal(first as ts.StringLiteral),
          ...rest,
        ]);
      }
      if (
        ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) &&
        ts.isStringLiteral(node.argument.literal)
      ) {
        return factory.updateImportTypeNode(
          node,
          factory.updateLiteralTypeNode(node.argument, literal(node.argument.literal)),
          node.attributes,
          node.qualifier,
          node.typeArguments,
          node.isTypeOf,
        );
      }
      // new URL("./worker_main.ts", import.meta.url): a module loaded by URL (a worker entry).
      if (
        ts.isNewExpression(node) && ts.isIdentifier(node.expression) &&
        node.expression.text === "URL" &&
        node.arguments?.length === 2 && ts.isStringLiteral(node.arguments[0]) &&
        node.arguments[0].text.endsWith(".ts") &&
        ts.isPropertyAccessExpression(node.arguments[1]) &&
        ts.isMetaProperty(node.arguments[1].expression)
      ) {
        const target = path(new URL(node.arguments[0].text, `file://${file}`));
        if (!known.has(target)) {
          throw new Error(`${file}: ${node.arguments[0].text} is not in the build`);
        }
        return factory.updateNewExpression(node, node.expression, node.typeArguments, [
          literal(node.arguments[0]),
          node.arguments[1],
        ]);
      }
      return ts.visitEachChild(node, visit, context);
    };
    return ts.visitNode(root, visit) as ts.SourceFile;
  };
}

function compile(files: string[]): void {
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ["lib.es2024.d.ts"],
    types: ["node"],
    typeRoots: [path(new URL("node_modules/@types", OUT))],
    strict: true,
    skipLibCheck: true,
    declaration: true,
    allowImportingTsExtensions: true,
    rewriteRelativeImportExtensions: true,
    verbatimModuleSyntax: true,
    rootDir: path(ROOT),
    outDir: path(new URL("esm", OUT)),
  };
  const host = ts.createCompilerHost(options);
  const fromPackage = path(new URL("index.ts", OUT));
  host.resolveModuleNameLiterals = (literals, containingFile) =>
    literals.map(({ text }) => {
      if (text.startsWith("npm:")) {
        const { name, subpath } = parseNpm(text);
        const resolved = ts.resolveModuleName(name + subpath, fromPackage, options, host);
        // An untyped package: leave it unresolved, so its ambient declaration in types/ applies.
        const typed = resolved.resolvedModule?.extension.startsWith(".d.");
        return typed ? resolved : { resolvedModule: undefined };
      }
      return ts.resolveModuleName(nodeTwin(text), containingFile, options, host);
    });
  const ambient = [...Deno.readDirSync(new URL("types/", ROOT))].map((entry) =>
    path(new URL(`types/${entry.name}`, ROOT))
  );
  const program = ts.createProgram([...files, ...ambient], options, host);
  const transformer = rewriteSpecifiers(program);
  const result = program.emit(undefined, undefined, undefined, false, {
    before: [transformer as ts.TransformerFactory<ts.SourceFile>],
    afterDeclarations: [transformer],
  });
  const diagnostics = [...ts.getPreEmitDiagnostics(program), ...result.diagnostics];
  if (diagnostics.length > 0) {
    const text = ts.formatDiagnosticsWithColorAndContext(diagnostics, {
      getCanonicalFileName: (f) => f,
      getCurrentDirectory: () => path(ROOT),
      getNewLine: () => "\n",
    });
    throw new Error(`the npm build does not type-check:\n${text}`);
  }
}

/** The tests, their fixtures (loaded by URL) and the load tools, when building with --dev. */
function devEntries(): string[] {
  const tests = testFiles(TESTS).filter((file) =>
    file.endsWith("_test.ts") && !DENO_ONLY_TESTS.some((name) => file === TESTS + name)
  );
  const fixtures = testFiles(`${TESTS}fixtures/`).filter((file) => file.endsWith(".ts"));
  const servers = [...Deno.readDirSync(new URL(BENCH_SERVERS, ROOT))]
    .map((entry) => BENCH_SERVERS + entry.name);
  return [...tests, ...fixtures, ...BENCH, ...servers];
}

/** Every file under the folder `dir` (relative to the root, ending in `/`), recursively. */
function testFiles(dir: string): string[] {
  return [...Deno.readDirSync(new URL(dir, ROOT))].flatMap((entry) =>
    entry.isDirectory ? testFiles(`${dir}${entry.name}/`) : entry.isFile ? [dir + entry.name] : []
  );
}

// The compiled command line, runnable as a program by npm's `mprpc` link (cli.ts itself is run
// by `deno run`, so its source has no `#!` line).
async function makeBin(): Promise<void> {
  const bin = new URL(BIN, OUT);
  await Deno.writeTextFile(bin, "#!/usr/bin/env node\n" + await Deno.readTextFile(bin));
  await Deno.chmod(bin, 0o755);
}

async function copyTestAssets(): Promise<void> {
  for (const asset of TEST_ASSETS) {
    const from = new URL(asset, ROOT);
    const to = new URL(`esm/${asset}`, OUT);
    if (asset.endsWith("/")) {
      for (const entry of Deno.readDirSync(from)) {
        if (!entry.name.endsWith(".ts")) {
          await Deno.copyFile(new URL(entry.name, from), new URL(entry.name, to));
        }
      }
    } else {
      await Deno.mkdir(new URL(".", to), { recursive: true });
      await Deno.copyFile(from, to);
    }
  }
}

if (import.meta.main) {
  const dev = Deno.args.includes("--dev");
  const { files, dependencies } = walk(ENTRIES);
  const suite = dev ? walk([...ENTRIES, ...devEntries()]) : { files, dependencies };
  const testDependencies = [...suite.dependencies]
    .filter(([name]) => !dependencies.has(name))
    .map(([name, range]) => `${name}@${range}`);
  await Deno.remove(new URL("esm", OUT), { recursive: true }).catch(() => {});
  await Deno.mkdir(OUT, { recursive: true });
  writePackageJson(dependencies);
  npmInstall(testDependencies);
  compile(suite.files);
  await makeBin();
  if (dev) await copyTestAssets();
  // Node users get a README of their own (docs/npm_readme.md), not the Deno one.
  for (const [from, to] of [["docs/npm_readme.md", "README.md"], ["LICENSE", "LICENSE"]]) {
    await Deno.copyFile(new URL(from, ROOT), new URL(to, OUT));
  }
  console.log(
    `built npm/ from ${files.length} modules${
      dev ? `, and ${suite.files.length - files.length} test and bench modules` : ""
    }`,
  );
}
