import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';

/** The attributes a row carries for the page's tests and styles (`data-host`, …). */
export type RowAttributes = Record<string, string | number | undefined>;

export interface Column<T> {
  header: ComponentChildren;
  cell: (row: T) => ComponentChildren;
  /** The class of the column's cells. */
  class?: string;
  /** Attributes of a cell beyond its class (`title`, `data-testid`). */
  cellAttributes?: (row: T) => Record<string, string>;
  headerClass?: string;
  /** What the rows sort by when this column's header is clicked. */
  sortBy?: (row: T) => string;
  /** Shown to some keys only: a column whose `shown` is false is left out. */
  shown?: boolean;
}

/** Rows under a header row per group, in group order (`of` gives a row's group). */
export interface Grouping<T> {
  of: (row: T) => string;
  header: (group: string, members: T[]) => ComponentChildren;
}

interface TableProps<T> {
  columns: Column<T>[];
  rows: T[];
  /** A row's key among its siblings; `index` is its place in the rows as given. */
  rowKey: (row: T, index: number) => string;
  rowAttributes?: (row: T) => RowAttributes;
  class?: string;
  /** The header of the column sorted by at first; rows stay in their order without one. */
  sortColumn?: string;
  grouping?: Grouping<T>;
  /** Shown under the table while it has no rows. */
  empty?: ComponentChildren;
  /** Shown above the table: what the rows lack (hosts that did not answer). */
  partial?: ComponentChildren;
}

/** A `grid` table of `rows`, one cell per column, sortable by the columns that say how. */
export function Table<T>({ columns, rows, rowKey, rowAttributes, sortColumn, grouping, empty, partial, ...props }: TableProps<T>) {
  const shown = columns.filter((column) => column.shown !== false);
  const [sortHeader, setSortHeader] = useState(sortColumn);
  const sortBy = shown.find((column) => column.header === sortHeader)?.sortBy;
  const keyOf = new Map(rows.map((row, index) => [row, rowKey(row, index)]));
  const sorted = sortBy ? [...rows].sort((a, b) => sortBy(a).localeCompare(sortBy(b))) : rows;
  const ordered = grouping ? [...sorted].sort((a, b) => grouping.of(a).localeCompare(grouping.of(b))) : sorted;
  return (
    <>
      {partial}
      <table class={['grid', props.class].filter(Boolean).join(' ')}>
        <thead>
          <tr>
            {shown.map((column) =>
              column.sortBy ? (
                <th class="sortable" onClick={() => setSortHeader(String(column.header))}>
                  {column.header}
                </th>
              ) : (
                <th class={column.headerClass}>{column.header}</th>
              ),
            )}
          </tr>
        </thead>
        <tbody>{withGroupHeaders(ordered, shown, (row) => keyOf.get(row) ?? '', rowAttributes, grouping)}</tbody>
      </table>
      {rows.length === 0 ? empty : null}
    </>
  );
}

function withGroupHeaders<T>(
  rows: T[],
  columns: Column<T>[],
  rowKey: (row: T) => string,
  rowAttributes: ((row: T) => RowAttributes) | undefined,
  grouping: Grouping<T> | undefined,
): ComponentChildren[] {
  const body: ComponentChildren[] = [];
  let current: string | undefined;
  for (const row of rows) {
    const group = grouping?.of(row);
    if (grouping && group !== undefined && group !== current) {
      current = group;
      body.push(
        <tr class="group" key={`group:${group}`} data-group={group}>
          <td colSpan={columns.length}>
            {grouping.header(
              group,
              rows.filter((member) => grouping.of(member) === group),
            )}
          </td>
        </tr>,
      );
    }
    body.push(<TableRow key={rowKey(row)} row={row} columns={columns} attributes={rowAttributes} />);
  }
  return body;
}

/**
 * One row, a component of its own: a row whose cells read a signal re-renders alone when that signal
 * changes (the job matrix's thousand rows).
 */
function TableRow<T>({ row, columns, attributes }: { row: T; columns: Column<T>[]; attributes?: (row: T) => RowAttributes }) {
  return (
    <tr {...attributes?.(row)}>
      {columns.map((column) => (
        <td class={column.class} {...column.cellAttributes?.(row)}>
          {column.cell(row)}
        </td>
      ))}
    </tr>
  );
}
