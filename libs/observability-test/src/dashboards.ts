import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The parts of a Grafana dashboard (schema v38+) these tests read. */
export interface DatasourceRef {
  type?: string;
  uid?: string;
}

export interface Target {
  refId?: string;
  expr?: string;
  datasource?: DatasourceRef;
}

export interface Panel {
  id?: number;
  type?: string;
  title?: string;
  datasource?: DatasourceRef;
  targets?: Target[];
  /** A collapsed row keeps its panels here. */
  panels?: Panel[];
}

export interface TemplateVariable {
  name: string;
  type: string;
  datasource?: DatasourceRef;
  query?: string | { query?: string };
}

export interface Annotation {
  name?: string;
  expr?: string;
  datasource?: DatasourceRef;
}

export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating?: { list: TemplateVariable[] };
  annotations?: { list: Annotation[] };
}

export interface DashboardFile {
  file: string;
  dashboard: Dashboard;
}

/** One PromQL expression of a dashboard, with where it is (for failure messages). */
export interface DashboardQuery {
  where: string;
  expr: string;
  datasource?: DatasourceRef;
  /** For a `label_values(selector, label)` variable: every result must carry this label. */
  label?: string;
}

export function loadDashboards(dir: string): DashboardFile[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((file) => ({ file, dashboard: JSON.parse(readFileSync(join(dir, file), "utf8")) as Dashboard }));
}

/** Every panel, depth first: rows, and the panels nested in collapsed rows. */
export function allPanels(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

const LABEL_VALUES = /^\s*label_values\(\s*(.+?)\s*,\s*([a-zA-Z_]\w*)\s*\)\s*$/;

/** Every PromQL expression of a dashboard: panel targets, annotation queries, label_values() variables. */
export function dashboardQueries({ file, dashboard }: DashboardFile): DashboardQuery[] {
  const queries: DashboardQuery[] = [];
  for (const panel of allPanels(dashboard.panels)) {
    for (const t of panel.targets ?? []) {
      queries.push({ where: `${file} panel ${panel.id} "${panel.title}" ${t.refId}`, expr: t.expr ?? "", datasource: t.datasource ?? panel.datasource });
    }
  }
  for (const a of dashboard.annotations?.list ?? []) {
    if (a.expr !== undefined) queries.push({ where: `${file} annotation "${a.name}"`, expr: a.expr, datasource: a.datasource });
  }
  for (const v of dashboard.templating?.list ?? []) {
    if (v.type !== "query") continue;
    const text = typeof v.query === "string" ? v.query : (v.query?.query ?? "");
    const m = LABEL_VALUES.exec(text);
    if (!m) throw new Error(`${file} variable ${v.name}: only label_values(selector, label) queries are checked, got ${JSON.stringify(text)}`);
    queries.push({ where: `${file} variable $${v.name}`, expr: m[1]!, datasource: v.datasource, label: m[2]! });
  }
  return queries;
}

/**
 * Replaces Grafana's variables ($name, ${name}, ${name:format}, [[name]])
 * with the values given; unknown ones are left for `variablesIn` to find.
 */
export function substituteVariables(expr: string, values: Readonly<Record<string, string>>): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (whole, a?: string, b?: string, c?: string) => values[(a ?? b ?? c)!] ?? whole);
}

/** Variable names still in an expression. */
export function variablesIn(expr: string): string[] {
  return [...expr.matchAll(/\$\{?(\w+)|\[\[(\w+)\]\]/g)].map((m) => (m[1] ?? m[2])!);
}
