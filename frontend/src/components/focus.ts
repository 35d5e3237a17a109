// Focus rules of modal dialogs, as pure functions (the DOM side lives in Dialog.tsx).

/** Where Tab (or shift+Tab) moves focus inside a dialog with `count` focusable items, focus now at `current`
 * (-1 when focus is on none of them): wraps at either end so focus never leaves the dialog. Null when there is
 * nothing to focus. */
export function trapTarget(current: number, count: number, backwards: boolean): number | null {
  if (count === 0) return null;
  if (current < 0) return backwards ? count - 1 : 0;
  return backwards ? (current - 1 + count) % count : (current + 1) % count;
}
