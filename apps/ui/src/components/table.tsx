import { Component, type ComponentChildren } from 'preact';
import { useMemo, useState } from 'preact/hooks';

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
  /**
   * Rows drawn in blocks of this many, one `<tbody>` each, redrawn only when one of its rows, the columns or the row
   * attributes change: a table growing a block at a time draws each row once (O(rows), not O(rows²)). Not with `grouping`.
   */
  blockSize?: number;
}

/** A `grid` table of `rows`, one cell per column, sortable by the columns that say how. */
export function Table<T>({
  columns,
  rows,
  rowKey,
  rowAttributes,
  sortColumn,
  grouping,
  empty,
  partial,
  blockSize,
  ...props
}: TableProps<T>) {
  // Kept while `columns` is: a block of rows is redrawn when its columns change.
  const shown = useMemo(() => columns.filter((column) => column.shown !== false), [columns]);
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
        {blockSize && !grouping ? (
          blocksOf(ordered, blockSize).map((block, index) => (
            <RowBlock
              key={`block:${index}`}
              rows={block}
              keys={block.map((row) => keyOf.get(row) ?? '')}
              columns={shown}
              attributes={rowAttributes}
            />
          ))
        ) : (
          <tbody>{withGroupHeaders(ordered, shown, (row) => keyOf.get(row) ?? '', rowAttributes, grouping)}</tbody>
        )}
      </table>
      {rows.length === 0 ? empty : null}
    </>
  );
}

function blocksOf<T>(rows: T[], size: number): T[][] {
  const blocks: T[][] = [];
  for (let from = 0; from < rows.length; from += size) blocks.push(rows.slice(from, from + size));
  return blocks;
}

interface BlockProps<T> {
  rows: T[];
  keys: string[];
  columns: Column<T>[];
  attributes?: (row: T) => RowAttributes;
}

const sameItems = <T,>(a: T[], b: T[]) => a.length === b.length && a.every((item, i) => item === b[i]);

/** A block of rows that is redrawn only when it changed; each row still redraws itself when a signal it reads changes. */
class RowBlock<T> extends Component<BlockProps<T>> {
  shouldComponentUpdate(next: BlockProps<T>): boolean {
    const now = this.props;
    return (
      next.columns !== now.columns ||
      next.attributes !== now.attributes ||
      !sameItems(next.rows, now.rows) ||
      !sameItems(next.keys, now.keys)
    );
  }

  render({ rows, keys, columns, attributes }: BlockProps<T>) {
    return (
      <tbody>
        {rows.map((row, i) => (
          <TableRow key={keys[i]} row={row} columns={columns} attributes={attributes} />
        ))}
      </tbody>
    );
  }
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
