import { useEffect, useState } from "react";
import { api } from "../api";
import { type HistoryRow, reviewNote } from "../history";
import { Link } from "../router";

export function HistoryPage() {
  const [rows, setRows] = useState<HistoryRow[] | null>(null);
  useEffect(() => {
    api<{ results: HistoryRow[] }>("GET", "/api/assignments/").then((d) => setRows(d.results));
  }, []);
  if (!rows) return <p>Loading…</p>;
  return (
    <section>
      <h1>My past contributions</h1>
      <table className="table">
        <thead>
          <tr>
            <th>Assignment</th>
            <th>Kind</th>
            <th>Project</th>
            <th>Task</th>
            <th>Status</th>
            <th>Review</th>
            <th>Finished</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => {
            const note = reviewNote(r);
            return (
              <tr key={r.id} data-assignment={r.id}>
                <td>{r.id}</td>
                <td>{r.kind}</td>
                <td>{r.project_id}</td>
                <td>{r.task_id}</td>
                <td>
                  <span className={"badge " + r.status}>{r.status}</span>
                </td>
                <td>
                  {note ? <span className={"badge review-" + note.tone}>{note.label}</span> : "—"}
                  {/* The reviewer's comment is plain text: a React text node, never parsed as HTML or markdown. */}
                  {note?.comment && <p className="review-comment">{note.comment}</p>}
                </td>
                <td>{r.finished_at ? new Date(r.finished_at).toLocaleString() : "—"}</td>
                <td>{r.can_revise && <Link to={`/revise/${r.id}`}>Revise</Link>}</td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
