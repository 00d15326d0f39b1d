export interface Column {
  header: string;
  /** Numbers read best right-aligned; text is left-aligned. */
  align?: "left" | "right";
}

const GAP = "  ";

/** Decorates a body cell after its width is measured (e.g. ANSI colour); row and column count from 0. */
export type CellPaint = (cell: string, row: number, column: number) => string;

/**
 * An aligned plain-text table: a header line, then one line per row, columns
 * two spaces apart, no trailing spaces. With no rows it is the header alone.
 */
export function formatTable(columns: readonly Column[], rows: readonly (readonly string[])[], paint?: CellPaint): string {
  const widths = columns.map((c, i) => Math.max(c.header.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[], row: number) =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? "";
        const pad = " ".repeat(widths[i]! - cell.length);
        const shown = paint && row >= 0 ? paint(cell, row, i) : cell;
        return c.align === "right" ? pad + shown : shown + pad;
      })
      .join(GAP)
      .trimEnd();
  return [line(columns.map((c) => c.header), -1), ...rows.map(line)].join("\n");
}

/** "name:  value" lines with the values aligned, for one record. */
export function formatFields(fields: readonly (readonly [name: string, value: string])[]): string {
  const width = Math.max(0, ...fields.map(([name]) => name.length + 1));
  return fields.map(([name, value]) => `${`${name}:`.padEnd(width)}${GAP}${value}`.trimEnd()).join("\n");
}
