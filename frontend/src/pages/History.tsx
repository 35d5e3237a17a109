import { useEffect, useState } from "react";
import { api } from "../api";
import { Link } from "../router";

interface Brief {
  id: number;
  status: string;
  kind: string;
  project_id: number;
  task_id: number;
  leased_at: string;
  finished_at: string | null;
}

export function HistoryPage() {
  const [rows, setRows] = useState<Brief[] | null>(null);
  useEffect(() => {
    api<{ results: Brief[] }>("GET", "/api/assignments/").then((d) => setRows(d.results));
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
            <th>Finished</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.id}>
              <td>{r.id}</td>
              <td>{r.kind}</td>
              <td>{r.project_id}</td>
              <td>{r.task_id}</td>
              <td>
                <span className={"badge " + r.status}>{r.status}</span>
              </td>
              <td>{r.finished_at ? new Date(r.finished_at).toLocaleString() : "—"}</td>
              <td>
                {r.status === "submitted" && r.kind !== "prompt" && <Link to={`/revise/${r.id}`}>Revise</Link>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
