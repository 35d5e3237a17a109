// The draft of an editor page, kept in this browser (localStorage, on every change) and on the server (PUT
// /api/assignments/<id>/draft/, debounced), so work survives a reload, a crash or a move to another browser.
// On open the server's copy wins when it is newer than this browser's. Each payload carries `savedAt`, the
// writing client's clock, which is what "newer" compares.
import { useEffect, useRef, useState } from "react";
import { api } from "./api";

export const SERVER_SAVE_MS = 800;

export interface Stamped {
  savedAt?: number; // ms since epoch, from the client that wrote it
}

/** This browser's copy of a draft, or null when there is none or it does not parse (`parse` says what is valid). */
export function readDraft<P extends Stamped>(key: string, parse: (raw: unknown) => P | null): P | null {
  try {
    return parse(JSON.parse(localStorage.getItem(key) || "null"));
  } catch {
    return null;
  }
}

/** Is the server's copy the one to use: there is no local copy, or the server's was written later. */
export function serverWins(server: Stamped, local: Stamped | null): boolean {
  return !local || (server.savedAt ?? 0) > (local.savedAt ?? 0);
}

interface Options<P extends Stamped> {
  assignmentId: number;
  storageKey: string;
  /** The payload when `raw` is a valid draft, else null. */
  parse: (raw: unknown) => P | null;
  /** Called on open with the server's draft when it is newer than the local one (and nothing was typed yet). */
  onRestore: (payload: P) => void;
  /** False: the draft stays in this browser only (no server restore, no server save). */
  serverSync?: boolean;
  /** The state shown while a server save is pending. */
  savingLabel?: string;
}

export interface Draft<P> {
  /** Where the server copy stands, in words ("" before anything happened). */
  serverState: string;
  /** Keep `payload` (stamped now) in this browser at once and on the server after a pause in typing. */
  save: (payload: Omit<P, "savedAt">) => void;
  /** Drop a pending server save (before submitting). */
  cancel: () => void;
}

export function useDraft<P extends Stamped>({
  assignmentId,
  storageKey,
  parse,
  onRestore,
  serverSync = true,
  savingLabel = "saving to the server",
}: Options<P>): Draft<P> {
  const [serverState, setServerState] = useState("");
  const timer = useRef<number | undefined>(undefined);
  const dirty = useRef(false);
  // The latest callbacks, so the open effect runs once per assignment and not on every render.
  const latest = useRef({ parse, onRestore });
  latest.current = { parse, onRestore };

  useEffect(() => {
    let cancelled = false;
    if (!serverSync) return;
    api<{ payload: P; updated_at: string }>("GET", `/api/assignments/${assignmentId}/draft/`).then(
      (d) => {
        if (cancelled || dirty.current) return;
        const { parse, onRestore } = latest.current;
        const fromServer = parse(d.payload);
        if (fromServer && serverWins(fromServer, readDraft(storageKey, parse))) onRestore(fromServer);
        setServerState("draft restored from the server");
      },
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [assignmentId, storageKey, serverSync]);

  useEffect(() => () => window.clearTimeout(timer.current), []);

  const save = (fields: Omit<P, "savedAt">) => {
    dirty.current = true;
    const payload = { ...fields, savedAt: Date.now() };
    localStorage.setItem(storageKey, JSON.stringify(payload));
    window.clearTimeout(timer.current);
    if (!serverSync) return;
    setServerState(savingLabel);
    timer.current = window.setTimeout(async () => {
      try {
        await api("PUT", `/api/assignments/${assignmentId}/draft/`, { payload });
        setServerState(`saved to the server at ${new Date().toLocaleTimeString()}`);
      } catch (e) {
        setServerState("not saved to the server (kept in this browser): " + (e instanceof Error ? e.message : e));
      }
    }, SERVER_SAVE_MS);
  };

  return { serverState, save, cancel: () => window.clearTimeout(timer.current) };
}
