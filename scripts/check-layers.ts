/**
 * Layer and import-loop check for src/ (run by `npm run lint`; see docs/layers.md).
 *
 * Every module of src/ belongs to one layer. A module may import from its own layer or from any layer
 * BELOW it, never from one above ("a back-up import"). Within a layer, imports may cross folders, but
 * neither the import graph of src/ modules nor the graph of its folders (ops/ <-> worker/ counts as a
 * loop even when no single module loop exists) may have a cycle. Type-only imports count too: a type
 * that points up is still a dependency that points up.
 *
 *   rank  layer         modules
 *   ----  ------------  ---------------------------------------------------------------------------
 *   6     entry         main.ts, worker/main.ts, worker/startWorker.ts, ops/cli.ts (the processes),
 *                       telemetry/register.ts (loaded with --import before a process's own code)
 *   5     server        server/ (HTTP: Fastify, Apollo, plugins, IDE, health)
 *   4     schema        schema/, builder.ts (Pothos types; the GraphQL surface)
 *   3     resolvers     resolvers/ (parse arguments, call one domain function)
 *   2     composition   services/ (the composition root), context.ts, loaders/ (the per-request Context)
 *   1     domain        auth/, feed/, social/, flags/, experiments/, features/, ops/, queue/, worker/, catalog/,
 *                       import/, db/seed/ (demo data: written through domain functions, so above them),
 *                       embeddings/ (item embeddings from interactions; pure, imports only leaves),
 *                       evaluation/ (the offline evaluation through the feed: imports feed/, import/, db/seed/),
 *                       privacy/ (a person's export and erasure)
 *   0     leaves        db/, platform/ (logger, metrics, redis, pg pools, tracing API), errors/, validation/,
 *                       config/, random/, generated/, telemetry/ (the OpenTelemetry SDK and instrumentations)
 *
 * A module belongs to the most specific member that matches it (db/seed/x.ts: db/seed/, not db/); the
 * folder graph has one node per member. Tests (*.test.ts) may import anything and src/generated/ is
 * not read: neither is part of the graph.
 *
 * bench/ is checked the same way with a table of its own (BENCH_LAYERS): bench/shared/ at the bottom,
 * one folder per phase above it (a phase imports shared/ and src/, never another phase), run.ts and
 * report.ts on top; no module cycles.
 *
 * Usage: tsx scripts/check-layers.ts [--quiet]   — exits 1 on any cycle or back-up import.
 */
import { readdirSync, readFileSync, existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = path.join(root, 'src');
const generatedDir = path.join(srcDir, 'generated');

interface Layer {
  readonly name: string;
  readonly rank: number;
  /** Paths relative to src/: a folder ends with '/', a file does not. */
  readonly members: readonly string[];
}

export const LAYERS: readonly Layer[] = [
  {
    name: 'entry',
    rank: 6,
    members: ['main.ts', 'worker/main.ts', 'worker/startWorker.ts', 'ops/cli.ts', 'telemetry/register.ts'],
  },
  { name: 'server', rank: 5, members: ['server/'] },
  { name: 'schema', rank: 4, members: ['schema/', 'builder.ts'] },
  { name: 'resolvers', rank: 3, members: ['resolvers/'] },
  { name: 'composition', rank: 2, members: ['services/', 'context.ts', 'loaders/'] },
  {
    name: 'domain',
    rank: 1,
    members: [
      'auth/',
      'feed/',
      'social/',
      'flags/',
      'experiments/',
      'features/',
      'ops/',
      'queue/',
      'worker/',
      'catalog/',
      'import/',
      'db/seed/',
      'embeddings/',
      'evaluation/',
      'privacy/',
    ],
  },
  {
    name: 'leaves',
    rank: 0,
    members: ['db/', 'platform/', 'errors/', 'validation/', 'config/', 'random/', 'generated/', 'telemetry/'],
  },
];

const matches = (rel: string, member: string): boolean =>
  member.endsWith('/') ? rel.startsWith(member) : rel === member;

/** The most specific member a module belongs to (db/seed/ wins over db/), with its layer. */
function memberOf(
  rel: string,
  layers: readonly Layer[] = LAYERS,
): { member: string; layer: Layer } | undefined {
  let best: { member: string; layer: Layer } | undefined;
  for (const layer of layers) {
    for (const member of layer.members) {
      if (matches(rel, member) && (!best || member.length > best.member.length)) best = { member, layer };
    }
  }
  return best;
}

const layerOf = (rel: string): Layer | undefined => memberOf(rel)?.layer;

function listSources(dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir)) {
    const full = path.join(dir, entry);
    if (full === generatedDir) continue; // generated code (Prisma, Pothos types) is a leaf we do not police
    if (entry === 'node_modules') continue; // the bench peer's own packages (bench/peer/)
    if (statSync(full).isDirectory()) out.push(...listSources(full));
    else if (entry.endsWith('.ts') && !entry.endsWith('.test.ts') && !entry.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** Module specifiers of static imports, re-exports, `import()` and `import x = require()`. */
function specifiersOf(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier) {
      if (ts.isStringLiteral(node.moduleSpecifier)) found.push(node.moduleSpecifier.text);
    } else if (
      ts.isCallExpression(node) &&
      node.expression.kind === ts.SyntaxKind.ImportKeyword &&
      node.arguments[0] &&
      ts.isStringLiteralLike(node.arguments[0])
    ) {
      found.push(node.arguments[0].text);
    } else if (ts.isImportTypeNode(node)) {
      const arg = node.argument;
      if (ts.isLiteralTypeNode(arg) && ts.isStringLiteral(arg.literal)) found.push(arg.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Resolves a relative specifier to a file under src/ (NodeNext style: './x.js' means './x.ts'). */
function resolveLocal(from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = path.resolve(path.dirname(from), specifier);
  const candidates = [
    base.replace(/\.js$/, '.ts'),
    base.replace(/\.mjs$/, '.mts'),
    `${base}.ts`,
    path.join(base, 'index.ts'),
    base,
  ];
  return candidates.find((candidate) => existsSync(candidate) && statSync(candidate).isFile());
}

const rel = (file: string): string => path.relative(srcDir, file).split(path.sep).join('/');

const files = listSources(srcDir).sort();
const graph = new Map<string, string[]>();
for (const file of files) {
  const targets = new Set<string>();
  for (const specifier of specifiersOf(file)) {
    const target = resolveLocal(file, specifier);
    if (target && target.startsWith(srcDir) && !target.endsWith('.test.ts')) targets.add(rel(target));
  }
  graph.set(rel(file), [...targets].sort());
}

// Layer violations.
const violations: string[] = [];
const unassigned = new Set<string>();
for (const [from, targets] of graph) {
  const fromLayer = layerOf(from);
  if (!fromLayer) unassigned.add(from);
  for (const to of targets) {
    const toLayer = layerOf(to);
    if (!toLayer) unassigned.add(to);
    if (fromLayer && toLayer && toLayer.rank > fromLayer.rank) {
      violations.push(`${from} (${fromLayer.name}) -> ${to} (${toLayer.name})`);
    }
  }
}

// Cycles: strongly connected components (Tarjan), then one shortest loop per component for the message.
function stronglyConnected(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const indexOf = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const strong = (node: string): void => {
    indexOf.set(node, index);
    low.set(node, index);
    index += 1;
    stack.push(node);
    onStack.add(node);
    for (const next of graph.get(node) ?? []) {
      if (!indexOf.has(next)) {
        strong(next);
        low.set(node, Math.min(low.get(node)!, low.get(next)!));
      } else if (onStack.has(next)) {
        low.set(node, Math.min(low.get(node)!, indexOf.get(next)!));
      }
    }
    if (low.get(node) === indexOf.get(node)) {
      const component: string[] = [];
      let member: string | undefined;
      do {
        member = stack.pop()!;
        onStack.delete(member);
        component.push(member);
      } while (member !== node);
      const selfLoop = (graph.get(node) ?? []).includes(node);
      if (component.length > 1 || selfLoop) components.push(component.sort());
    }
  };
  for (const node of graph.keys()) if (!indexOf.has(node)) strong(node);
  return components;
}

/** Shortest path from `start` back to itself inside one component (breadth-first). */
function shortestLoop(
  graph: ReadonlyMap<string, readonly string[]>,
  start: string,
  members: ReadonlySet<string>,
): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const next of graph.get(node) ?? []) {
      if (!members.has(next)) continue;
      if (next === start) {
        const loop = [node];
        while (loop[0] !== start) loop.unshift(previous.get(loop[0]!)!);
        return [...loop, start];
      }
      if (!previous.has(next)) {
        previous.set(next, node);
        queue.push(next);
      }
    }
  }
  return [start];
}

const components = stronglyConnected(graph);
const cycles = components.map((component) => shortestLoop(graph, component[0]!, new Set(component)));

// Folder loops: the same over the members of the layer table (a folder, or a root file).
const folderOf = (file: string): string => memberOf(file)?.member ?? file;
const folderGraph = new Map<string, string[]>();
for (const [from, targets] of graph) {
  const edges = folderGraph.get(folderOf(from)) ?? [];
  for (const to of targets) if (folderOf(to) !== folderOf(from)) edges.push(folderOf(to));
  folderGraph.set(folderOf(from), [...new Set(edges)].sort());
}
const folderComponents = stronglyConnected(folderGraph).filter((component) => component.length > 1);
const folderCycles = folderComponents.map((component) =>
  shortestLoop(folderGraph, component[0]!, new Set(component)),
);
/** The module imports behind one folder edge, for the message. */
const edgesBetween = (fromFolder: string, toFolder: string): string[] =>
  [...graph].flatMap(([from, targets]) =>
    folderOf(from) === fromFolder
      ? targets.filter((to) => folderOf(to) === toFolder).map((to) => `${from} -> ${to}`)
      : [],
  );

const quiet = process.argv.includes('--quiet');
const edgeCount = [...graph.values()].reduce((sum, targets) => sum + targets.length, 0);
if (!quiet) console.log(`check-layers: ${graph.size} modules, ${edgeCount} imports inside src/`);
for (const file of [...unassigned].sort())
  console.log(`no layer: ${file} (add it to LAYERS in scripts/check-layers.ts)`);
if (cycles.length > 0) {
  console.log(`${cycles.length} import cycle(s) (strongly connected groups; one loop shown each):`);
  components.forEach((component, i) => {
    console.log(`  ${cycles[i]!.join(' -> ')}`);
    if (component.length > cycles[i]!.length - 1)
      console.log(`    group of ${component.length}: ${component.join(', ')}`);
  });
}
if (folderCycles.length > 0) {
  console.log(`${folderCycles.length} folder cycle(s):`);
  folderCycles.forEach((loop, i) => {
    console.log(`  ${loop.join(' -> ')}   (group: ${folderComponents[i]!.join(', ')})`);
    for (let i = 0; i + 1 < loop.length; i += 1) {
      for (const edge of edgesBetween(loop[i]!, loop[i + 1]!)) console.log(`    ${edge}`);
    }
  });
  // Every pair of folders that import each other directly, the plainest loop to fix.
  for (const [from, targets] of folderGraph) {
    for (const to of targets) {
      if (from < to && (folderGraph.get(to) ?? []).includes(from)) console.log(`  mutual: ${from} <-> ${to}`);
    }
  }
}
if (violations.length > 0) {
  console.log(`${violations.length} back-up import(s) (a lower layer importing a higher one):`);
  for (const violation of violations) console.log(`  ${violation}`);
}
// bench/: the same checks over its own table. Imports of src/ are allowed and not part of this graph.
const benchDir = path.join(root, 'bench');
export const BENCH_LAYERS: readonly Layer[] = [
  {
    name: 'entry',
    rank: 2,
    members: ['run.ts', 'report.ts', 'compare.ts', 'topology.ts', 'eventLogGc.ts', 'tracingOverhead.ts'],
  },
  {
    name: 'phase',
    rank: 1,
    members: [
      'feed/',
      'features/',
      'likes/',
      'workers/',
      'validation/',
      'embedded/',
      'reads/',
      'scale/',
      'topology/',
    ],
  },
  { name: 'shared', rank: 0, members: ['shared/'] },
];
const benchRel = (file: string): string => path.relative(benchDir, file).split(path.sep).join('/');
const benchGraph = new Map<string, string[]>();
for (const file of listSources(benchDir).sort()) {
  const targets = new Set<string>();
  for (const specifier of specifiersOf(file)) {
    const target = resolveLocal(file, specifier);
    if (target && target.startsWith(benchDir + path.sep)) targets.add(benchRel(target));
  }
  benchGraph.set(benchRel(file), [...targets].sort());
}
const benchProblems: string[] = [];
for (const [from, targets] of benchGraph) {
  const fromMember = memberOf(from, BENCH_LAYERS);
  if (!fromMember) benchProblems.push(`no bench layer: bench/${from} (add it to BENCH_LAYERS)`);
  for (const to of targets) {
    const toMember = memberOf(to, BENCH_LAYERS);
    if (!fromMember || !toMember) continue;
    if (toMember.layer.rank > fromMember.layer.rank) {
      benchProblems.push(
        `back-up import: bench/${from} (${fromMember.layer.name}) -> bench/${to} (${toMember.layer.name})`,
      );
    } else if (fromMember.layer.name === 'phase' && toMember.layer.name === 'phase') {
      if (fromMember.member !== toMember.member)
        benchProblems.push(`phase imports another phase: bench/${from} -> bench/${to}`);
    }
  }
}
const benchComponents = stronglyConnected(benchGraph);
for (const component of benchComponents) {
  const loop = shortestLoop(benchGraph, component[0]!, new Set(component));
  benchProblems.push(`import cycle: ${loop.map((file) => `bench/${file}`).join(' -> ')}`);
}
const benchEdges = [...benchGraph.values()].reduce((sum, targets) => sum + targets.length, 0);
if (!quiet) console.log(`check-layers: ${benchGraph.size} modules, ${benchEdges} imports inside bench/`);
for (const problem of benchProblems) console.log(problem);

const failures = cycles.length + folderCycles.length + violations.length + unassigned.size;
if (failures + benchProblems.length > 0) process.exit(1);
if (!quiet) console.log('check-layers: no cycles (modules or folders), no back-up imports');
