import { useEffect, useState } from "react";
import { api, ApiError } from "../api";
import { type HistoryRow, historyWhen, kindLabel, reviewNote, snippetText } from "../history";
import { Link } from "../router";

/** The labeler's own work, newest first: what each task was about, what became of it, and why a skip. Every text
 * from the server (snippets, skip reasons, review comments) is a React text node, never parsed as HTML. */
export function HistoryPage() {
  const [rows, setRows] = useState<HistoryRow[] | null>(null);
  const [error, setError] = useState("");
  useEffect(() => {
    api<{ results: HistoryRow[] }>("GET", "/api/assignments/").then(
      (d) => setRows(d.results),
      (e) => setError(e instanceof ApiError ? e.message : String(e)),
    );
  }, []);
  if (error) return <p className="error">{error}</p>;
  if (!rows) return <p>Loading…</p>;
  return (
    <section>
      <h1>My past contributions</h1>
      {rows.length === 0 && <p>Nothing yet: the tasks you submit or skip will be listed here.</p>}
      {rows.length > 0 && (
        <table className="table history">
          <thead>
            <tr>
              <th scope="col">Task</th>
              <th scope="col">Project</th>
              <th scope="col">Status</th>
              <th scope="col">Review</th>
              <th scope="col">When</th>
              <th scope="col">
                <span className="sr-only">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r) => {
              const note = reviewNote(r);
              const when = historyWhen(r);
              return (
                <tr key={r.id} data-assignment={r.id} data-status={r.status}>
                  <td>
                    <span className="badge kind">{kindLabel(r.kind)}</span>{" "}
                    <span className="history-snippet" title={`Task ${r.task_id}, assignment ${r.id}`}>
                      {snippetText(r)}
                    </span>
                  </td>
                  <td>{r.project_name}</td>
                  <td>
                    <span className={"badge " + r.status}>{r.status}</span>
                    {r.skip_reason && (
                      <p className="review-comment skip-reason">
                        <span className="muted">Reason: </span>
                        {r.skip_reason}
                      </p>
                    )}
                  </td>
                  <td>
                    {note ? <span className={"badge review-" + note.tone}>{note.label}</span> : "—"}
                    {note?.comment && <p className="review-comment">{note.comment}</p>}
                  </td>
                  <td>
                    {when.label} <time dateTime={when.iso}>{new Date(when.iso).toLocaleString()}</time>
                  </td>
                  <td>{r.can_revise && <Link to={`/revise/${r.id}`}>Revise</Link>}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
    </section>
  );
}
